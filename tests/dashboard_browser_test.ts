/**
 * The dashboard as a person sees it: `troupe run --metrics-port` against the real broker,
 * its page in headless Chromium (Debian's `chromium`), and what the page shows and does.
 */

import assert from "node:assert/strict";
import { fixKafkaJsTimerWarning } from "../kafka/timer_warning.ts";
import { Browser, type Page } from "./_browser.ts";
import { metricsPort, removeHandler, type RunningCli, spawnTroupe, writeHandler } from "./_cli.ts";
import {
  createTopic,
  endOffsets,
  produce,
  readRecords,
  testBrokers,
  uniqueName,
  waitFor,
} from "./_helpers.ts";

fixKafkaJsTimerWarning(); // the fixtures' own KafkaJS clients

const TOKEN = `dashboard-test-${crypto.randomUUID()}`;

/** A handler that fails once on "crash" and always on "poison" unless it is a replay. */
const HANDLER = `
let crashed = false;
const text = new TextDecoder();
export default (message) => {
  const value = text.decode(message.rawValue);
  if (value === "crash" && !crashed) {
    crashed = true;
    throw new Error("boom: the crash the page must show");
  }
  if (value === "poison" && message.headers["troupe.replay.of"] === undefined) {
    throw new Error("poison: cannot bill this order");
  }
};
`;

/** Starts `troupe run` with the dashboard; resolves with the process and its page's URL. */
async function runWithDashboard(
  handler: string,
  topic: string,
  extra: string[],
): Promise<{ cli: RunningCli; url: string }> {
  const cli = spawnTroupe([
    "run",
    "--handler",
    handler,
    "--topic",
    topic,
    "--group",
    uniqueName("dashboard"),
    "--from-beginning",
    "--metrics-port",
    "0",
    "--metrics-host",
    "127.0.0.1",
    "--view",
    "off",
    "--log-format",
    "json",
    ...extra,
  ], { env: { KAFKA_BROKERS: testBrokers().join(","), TROUPE_CONTROL_TOKEN: TOKEN } });
  return { cli, url: `http://127.0.0.1:${await metricsPort(cli)}/` };
}

/** The number a cell of the page shows, e.g. "1,200" as 1200. */
function shown(page: Page, selector: string): Promise<number> {
  return page.evaluate<number>(
    `Number((document.querySelector(${
      JSON.stringify(selector)
    })?.textContent ?? "").replace(/,/g, ""))`,
  );
}

const row = (topic: string, partition: number) =>
  `#partitions tr[data-partition="${topic}:${partition}"]`;

Deno.test("dashboard in Chromium: rows per partition, live numbers, a crash on its partition, pause with the token only", async () => {
  const topic = uniqueName("dash-live");
  await createTopic(topic, 2);
  const handler = await writeHandler(HANDLER);
  await using browser = await Browser.launch();
  try {
    const { cli, url } = await runWithDashboard(handler, topic, ["--dead-letter", "off"]);
    await using _cli = cli;
    const page = await browser.open(url);
    await page.waitFor(
      `document.querySelectorAll("#partitions tbody tr").length === 2`,
      "a row per assigned partition",
    );
    assert.equal(await page.evaluate(`document.querySelector("#state").textContent`), "running");

    // Numbers move as messages are processed, without reloading the page.
    await produce(topic, 40, 2);
    await page.waitFor(
      `Number(document.querySelector("#processed-total").textContent.replace(/,/g, "")) >= 40`,
      "40 processed",
    );
    await produce(topic, 60, 2);
    await page.waitFor(
      `Number(document.querySelector("#processed-total").textContent.replace(/,/g, "")) >= 100`,
      "100 processed",
    );
    assert.equal(
      (await shown(page, `${row(topic, 0)} [data-field="processed"]`)) +
        (await shown(page, `${row(topic, 1)} [data-field="processed"]`)),
      100,
    );

    // A crash shows on its partition: in red, its restart counted, its error, and the event.
    await produce(topic, 1, 2, () => ({ partition: 1, key: "k", value: "crash" }));
    await page.waitFor(
      `document.querySelector('${row(topic, 1)}').classList.contains("problem")`,
      "partition 1 marked",
    );
    await page.waitFor(
      `document.querySelector('${row(topic, 1)} [data-field="restarts"]').textContent === "1"`,
      "the restart",
    );
    assert.match(
      await page.evaluate<string>(
        `document.querySelector('${row(topic, 1)} [data-field="last-error"]').textContent`,
      ),
      /boom: the crash the page must show/,
    );
    assert.equal(
      await page.evaluate(
        `document.querySelector('${row(topic, 0)}').classList.contains("problem")`,
      ),
      false,
      "the other partition does not stand out",
    );
    await page.waitFor(
      `[...document.querySelectorAll("#events li")].some((li) => li.dataset.type === "actor-crashed" && li.textContent.includes("${topic} [1]"))`,
      "the crash in the events",
    );

    // Pausing from the page without the token is refused and changes nothing.
    await page.click(`${row(topic, 0)} button.control`);
    await page.waitFor(
      `document.querySelector("#control-message").textContent.startsWith("refused (403)")`,
      "the refusal",
    );
    const before = await (await fetch(`${url}status`)).json();
    assert.equal(before.partitions[0].pausedBy.user, false);

    // With the token typed in, it pauses the partition.
    await page.type("#token", TOKEN);
    await page.click("#token-form button");
    await page.click(`${row(topic, 0)} button.control`);
    await page.waitFor(
      `document.querySelector('${
        row(topic, 0)
      } [data-field="fetch"]').textContent.includes("user")`,
      "paused by the user",
    );
    const after = await (await fetch(`${url}status`)).json();
    assert.equal(after.partitions[0].pausedBy.user, true);

    // The token is nowhere the page or /status can show, nor in the logs.
    for (const path of ["", "dashboard.js", "dashboard.css", "status"]) {
      assert.ok(!(await (await fetch(url + path)).text()).includes(TOKEN), path);
    }
    assert.ok(!(await page.evaluate<string>("document.documentElement.outerHTML")).includes(TOKEN));
    assert.ok(!cli.stderr().includes(TOKEN));
    await page.close();
  } finally {
    await removeHandler(handler);
  }
});

Deno.test("dashboard in Chromium: a dead letter listed, its replay refused without the token, replayed with it", async () => {
  const topic = uniqueName("dash-dlq");
  const deadLetters = `${topic}.dlq`;
  await Promise.all([createTopic(topic, 2), createTopic(deadLetters, 1)]);
  const handler = await writeHandler(HANDLER);
  await using browser = await Browser.launch();
  try {
    const { cli, url } = await runWithDashboard(handler, topic, ["--dead-letter", deadLetters]);
    await using _cli = cli;
    const page = await browser.open(url, { width: 390, height: 844, mobile: true, dark: true });
    await page.waitFor(`document.querySelectorAll("#partitions tbody tr").length === 2`, "rows");
    await produce(topic, 3, 2, (i) => ({
      partition: 0,
      key: `order-${i}`,
      value: i === 1 ? "poison" : `order ${i}`,
      headers: { "x-origin": "dashboard-test" },
    }));

    // Listed on the page, the topic offered by the processor's options.
    assert.equal(await page.evaluate(`document.querySelector("#dlq-topic").value`), deadLetters);
    await page.waitFor(
      `[...document.querySelectorAll("#events li")].some((li) => li.dataset.type === "dead-lettered")`,
      "the dead letter event",
    );
    await page.click("#dlq-load");
    await page.waitFor(
      `document.querySelectorAll("#dlq-rows tr").length === 1`,
      "one dead letter listed",
    );
    const cells = await page.evaluate<string[]>(
      `[...document.querySelectorAll("#dlq-rows tr td")].map((td) => td.textContent)`,
    );
    assert.equal(cells[1], "0:0");
    assert.equal(cells[2], `${topic} [0] @1`);
    assert.equal(cells[3], "retries-exhausted");
    assert.match(cells[6], /poison: cannot bill this order/);
    await page.click("#dlq-rows tr");
    assert.match(
      await page.evaluate<string>(`document.querySelector("#dlq-detail").textContent`),
      /value {9}poison[\s\S]*x-origin: dashboard-test/,
    );

    // Replay without the token: refused, nothing produced.
    const ends = await endOffsets(topic);
    await page.click("#dlq-rows input.pick");
    await page.click("#dlq-replay");
    await page.waitFor(
      `document.querySelector("#dlq-result").textContent.startsWith("refused (403)")`,
      "the refusal",
    );
    assert.deepEqual(await endOffsets(topic), ends);

    // With the token: replayed to its partition, marked, and processed this time.
    await page.type("#token", TOKEN);
    await page.click("#token-form button");
    await page.click("#dlq-replay");
    await page.waitFor(
      `document.querySelector("#dlq-result").textContent.startsWith("replayed 1")`,
      "the replay",
    );
    const replayed = (await readRecords(topic, 4)).find((record) =>
      record.headers["troupe.replay.of"] !== undefined
    );
    assert.ok(replayed);
    assert.equal(replayed.partition, 0);
    assert.equal(replayed.value, "poison");
    assert.equal(replayed.headers["troupe.replay.of"], `${deadLetters}:0:0`);
    assert.equal(replayed.headers["x-origin"], "dashboard-test");
    assert.equal(replayed.headers["troupe.dlq.error"], undefined);
    await waitFor(async () => {
      const status = await (await fetch(`${url}status`)).json();
      return status.partitions[0].processedOffset === 3 && status.partitions[0].deadLettered === 1;
    }, "the replayed record processed, not dead-lettered again");
    await page.close();
  } finally {
    await removeHandler(handler);
  }
});
