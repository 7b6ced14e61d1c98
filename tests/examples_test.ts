import assert from "node:assert/strict";
import { testBrokers } from "./_helpers.ts";

/** Runs an example as a user would (against the test broker) and returns its output. */
async function runExample(file: string): Promise<string> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `examples/${file}`],
    env: { KAFKA_BROKERS: testBrokers().join(",") },
    stdout: "piped",
    stderr: "piped",
    // An example that hangs fails its test (killed) rather than the whole run.
    signal: AbortSignal.timeout(120_000),
  }).output();
  const text = new TextDecoder().decode(output.stdout);
  assert.equal(
    output.code,
    0,
    `${file} exited ${output.code}:\n${text}\n${new TextDecoder().decode(output.stderr)}`,
  );
  return text;
}

Deno.test("example: the concurrent producer stores every record it sent", async () => {
  const out = await runExample("concurrent_producer.ts");
  assert.match(out, /^1000 records stored in .* \(1000 sent\)$/m);
  assert.equal(out.match(/^task \d: sent 200 records/gm)?.length, 5);
});

Deno.test("example: the pooled consumer drops nothing and commits everything", async () => {
  const out = await runExample("pooled_consumer.ts");
  assert.match(out, /^processed 200 of 200 jobs, at most [2-5] at once, dropped 0$/m);
  assert.match(out, /^uncommitted after stop: 0$/m);
});

Deno.test("example: the consumer operations tour", async () => {
  const out = await runExample("consumer_operations.ts");
  assert.match(out, /^offsets: 0: 0\.\.20, 1: 0\.\.20$/m);
  assert.match(out, /^while partition 1 is paused: (0@\d+ ?)+$/m);
  assert.match(out, /seeked partition 0 to offset 2 and partition 1 to offset 17 \(by timestamp\)/);
  assert.match(out, /^committed .*\[1\] = \d+$/m);
});

Deno.test("example: the JSON pipeline routes every task, reports the malformed one", async () => {
  const out = await runExample("json_pipeline.ts");
  assert.match(out, /^malformed: task-bad: cannot decode the value/m);
  assert.match(out, /^read 100 results from .*; 0 wrong$/m);
});
