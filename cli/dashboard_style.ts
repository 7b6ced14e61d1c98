/**
 * The dashboard's style sheet: light and dark by the system's preference, a table that turns
 * into one card per partition on a phone-sized screen, and partitions with a problem in red.
 *
 * @module
 */

/**
 * The style sheet served at `GET /dashboard.css`.
 *
 * @example
 * ```ts
 * import { DASHBOARD_CSS } from "./dashboard_style.ts";
 * console.log(DASHBOARD_CSS.includes("prefers-color-scheme: dark")); // true
 * ```
 */
export const DASHBOARD_CSS = String.raw`
:root {
  --bg: #f7f7f8; --fg: #1d1d22; --muted: #6a6a75; --card: #ffffff; --line: #dcdce2;
  --accent: #2f6fde; --ok: #1f8a4c; --warn: #b86e00; --bad: #c62828; --bad-bg: #fdecec;
  --warn-bg: #fff4e0; --chart-fill: rgba(47, 111, 222, 0.15);
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color-scheme: light dark;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #16161a; --fg: #e7e7ec; --muted: #9a9aa6; --card: #202027; --line: #34343d;
    --accent: #7aa7ff; --ok: #4cc47f; --warn: #f0a640; --bad: #ff6b6b; --bad-bg: #3a1d20;
    --warn-bg: #3a2c14; --chart-fill: rgba(122, 167, 255, 0.18);
  }
}
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg); font-size: 15px; }
header { display: flex; flex-wrap: wrap; gap: 8px 16px; align-items: center; justify-content: space-between;
  padding: 12px 16px; background: var(--card); border-bottom: 1px solid var(--line); }
h1 { font-size: 20px; margin: 0; }
h2 { font-size: 16px; margin: 20px 0 8px; }
main { padding: 8px 16px 32px; max-width: 1400px; margin: 0 auto; }
.muted { color: var(--muted); font-weight: normal; }
.small { font-size: 12px; word-break: break-all; }
.badges { display: flex; flex-wrap: wrap; gap: 6px; }
.badge { border: 1px solid var(--line); border-radius: 999px; padding: 2px 10px; font-size: 13px; background: var(--bg); }
.badge.ok { color: var(--ok); border-color: var(--ok); }
.badge.warn { color: var(--warn); border-color: var(--warn); }
.badge.bad { color: var(--bad); border-color: var(--bad); }
.summary { display: grid; grid-template-columns: repeat(auto-fit, minmax(120px, 1fr)); gap: 8px; margin: 12px 0; }
.summary > div { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 8px 12px; }
.summary .label { display: block; color: var(--muted); font-size: 12px; }
.summary strong { font-size: 20px; font-variant-numeric: tabular-nums; }
.summary strong.small { font-size: 12px; font-weight: normal; display: block; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.alert { background: var(--bad-bg); color: var(--bad); border: 1px solid var(--bad); border-radius: 8px; padding: 8px 12px; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(260px, 1fr)); gap: 8px; }
figure { margin: 0; background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 8px 12px; }
figcaption { font-size: 13px; margin-bottom: 4px; }
svg { width: 100%; height: 90px; display: block; }
svg polyline { fill: none; stroke: var(--accent); stroke-width: 1.5; vector-effect: non-scaling-stroke; }
svg polygon { fill: var(--chart-fill); stroke: none; }
.scroll { overflow-x: auto; }
table { width: 100%; border-collapse: collapse; background: var(--card); border: 1px solid var(--line); border-radius: 8px; }
th, td { padding: 6px 8px; border-bottom: 1px solid var(--line); text-align: left; font-size: 14px; vertical-align: top; }
th { color: var(--muted); font-weight: 600; font-size: 12px; white-space: nowrap; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.error { max-width: 360px; overflow-wrap: anywhere; font-size: 13px; }
tr.problem td { background: var(--bad-bg); }
tr.problem td:first-child { box-shadow: inset 4px 0 0 var(--bad); }
tr.paused td:first-child { box-shadow: inset 4px 0 0 var(--warn); }
.actor-crashed, .actor-retrying { color: var(--bad); font-weight: 600; }
.meter { display: inline-block; width: 60px; height: 8px; background: var(--line); border-radius: 4px; overflow: hidden; vertical-align: middle; margin-left: 4px; }
.meter > span { display: block; height: 100%; background: var(--accent); }
.meter.full > span { background: var(--warn); }
#events { list-style: none; padding: 0; margin: 0; background: var(--card); border: 1px solid var(--line); border-radius: 8px; max-height: 320px; overflow-y: auto; }
#events li { padding: 4px 10px; border-bottom: 1px solid var(--line); font-size: 13px; }
#events li.problem { color: var(--bad); }
#events time { color: var(--muted); margin-right: 8px; font-variant-numeric: tabular-nums; }
form { display: flex; flex-wrap: wrap; gap: 6px 8px; align-items: center; margin: 8px 0; }
input, button { font: inherit; padding: 4px 8px; border-radius: 6px; border: 1px solid var(--line); background: var(--card); color: var(--fg); }
button { cursor: pointer; border-color: var(--accent); color: var(--accent); }
button:disabled { opacity: 0.5; cursor: default; }
#dlq-rows tr { cursor: pointer; }
#dlq-table { min-width: 760px; }
#dlq-rows tr.chosen td { background: var(--warn-bg); }
pre { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 8px 12px; overflow-x: auto; white-space: pre-wrap; overflow-wrap: anywhere; }
.refused { color: var(--bad); }
.done { color: var(--ok); }
body:not(.controls) .control-only, body:not(.controls) .control-cell { display: none; }
@media (max-width: 640px) {
  #partitions thead { display: none; }
  #partitions, #partitions tbody, #partitions tr, #partitions td { display: block; width: 100%; }
  #partitions tr { border-bottom: 2px solid var(--line); padding: 4px 0; }
  #partitions td { border: none; padding: 2px 8px; text-align: right; }
  #partitions td::before { content: attr(data-label); float: left; color: var(--muted); font-size: 12px; }
  #partitions td.error { max-width: none; }
  .summary strong { font-size: 17px; }
}
`;
