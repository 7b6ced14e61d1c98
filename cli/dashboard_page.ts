/**
 * The dashboard's HTML: the skeleton its script fills in. No external URL, no inline script
 * or style (the page is served with a Content-Security-Policy that forbids both), and no
 * secret: the control token is typed into the page, never written into it.
 *
 * @module
 */

/**
 * The page served at `GET /`. Its style is `/dashboard.css`, its script `/dashboard.js`.
 *
 * @example
 * ```ts
 * import { DASHBOARD_HTML } from "./dashboard_page.ts";
 * console.log(DASHBOARD_HTML.includes('src="dashboard.js"')); // true
 * ```
 */
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>troupe</title>
<link rel="stylesheet" href="dashboard.css">
<script src="dashboard.js" defer></script>
</head>
<body>
<header>
  <h1>troupe <span id="group" class="muted">…</span></h1>
  <div class="badges">
    <span id="state" class="badge">connecting</span>
    <span id="kafka" class="badge">Kafka ?</span>
    <span id="feed" class="badge">page: connecting</span>
    <span id="mode" class="badge">read-only</span>
  </div>
</header>
<main>
  <section class="summary" aria-label="Totals">
    <div><span class="label">processed</span><strong id="processed-total">–</strong></div>
    <div><span class="label">msgs/s</span><strong id="rate">–</strong></div>
    <div><span class="label">lag</span><strong id="lag-total">–</strong></div>
    <div><span class="label">partitions</span><strong id="partition-count">–</strong></div>
    <div><span class="label">restarts</span><strong id="restarts-total">–</strong></div>
    <div><span class="label">member</span><strong id="member" class="small">–</strong></div>
  </section>
  <p id="processor-error" class="alert" hidden></p>
  <section class="charts">
    <figure><figcaption>Throughput, msgs/s <span id="rate-max" class="muted"></span></figcaption>
      <svg id="chart-rate" viewBox="0 0 300 80" preserveAspectRatio="none" role="img" aria-label="throughput over the last minutes"></svg></figure>
    <figure><figcaption>Lag, messages <span id="lag-max" class="muted"></span></figcaption>
      <svg id="chart-lag" viewBox="0 0 300 80" preserveAspectRatio="none" role="img" aria-label="lag over the last minutes"></svg></figure>
  </section>
  <section id="controls" hidden>
    <form id="token-form" autocomplete="off">
      <label for="token">Control token</label>
      <input id="token" type="password" autocomplete="off" spellcheck="false">
      <button type="submit">Use</button>
      <span id="token-state" class="muted">not set: controls will be refused</span>
    </form>
    <p id="control-message" role="status"></p>
  </section>
  <section>
    <h2>Partitions</h2>
    <div class="scroll">
    <table id="partitions">
      <thead><tr>
        <th>partition</th><th>actor</th><th class="num">processed</th><th class="num">offset</th>
        <th class="num">committed</th><th class="num">lag</th><th>mailbox</th><th>fetch</th>
        <th class="num">in flight</th><th class="num">restarts</th><th>last error</th><th class="control-cell"></th>
      </tr></thead>
      <tbody></tbody>
    </table>
    </div>
    <p id="no-partitions" class="muted">No partition assigned.</p>
  </section>
  <section>
    <h2>Recent events</h2>
    <ol id="events"></ol>
  </section>
  <section id="dead-letters" hidden>
    <h2>Dead letters</h2>
    <form id="dlq-form">
      <label for="dlq-topic">Topic</label>
      <input id="dlq-topic" list="dlq-topics" spellcheck="false" required>
      <datalist id="dlq-topics"></datalist>
      <button id="dlq-load" type="submit">Load</button>
      <span id="dlq-state" class="muted"></span>
    </form>
    <div class="scroll">
    <table id="dlq-table">
      <thead><tr><th><input id="dlq-all" type="checkbox" aria-label="choose all"></th><th>id</th><th>original</th><th>reason</th>
        <th class="num">attempts</th><th>dead-lettered</th><th>error</th></tr></thead>
      <tbody id="dlq-rows"></tbody>
    </table>
    </div>
    <pre id="dlq-detail" hidden></pre>
    <form id="dlq-replay-form" class="control-only">
      <label for="dlq-to">Replay to</label>
      <input id="dlq-to" placeholder="original topic" spellcheck="false">
      <label><input id="dlq-dry-run" type="checkbox"> dry run</label>
      <button id="dlq-replay" type="submit">Replay chosen</button>
    </form>
    <p id="dlq-result" role="status"></p>
  </section>
</main>
</body>
</html>
`;
