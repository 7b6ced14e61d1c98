import assert from "node:assert/strict";
import {
  ConfigError,
  createProcessor,
  KafkaConnectionError,
  type ProcessorOptions,
} from "../mod.ts";

const valid: ProcessorOptions = {
  brokers: ["127.0.0.1:9092"],
  groupId: "group",
  topics: ["orders"],
  handler: () => {},
};

Deno.test("createProcessor refuses invalid options before connecting, naming the option", () => {
  const cases: [Partial<Record<keyof ProcessorOptions, unknown>>, string][] = [
    [{ brokers: [] }, "brokers"],
    [{ brokers: "localhost" }, "brokers"],
    [{ brokers: ["host:99999"] }, "brokers"],
    [{ groupId: "" }, "groupId"],
    [{ topics: [] }, "topics"],
    [{ topics: [""] }, "topics"],
    [{ topics: [42] }, "topics"],
    [{ handler: "nope" }, "handler"],
    [{ mailboxCapacity: 0 }, "mailboxCapacity"],
    [{ mailboxCapacity: 1.5 }, "mailboxCapacity"],
    [{ mailboxCapacity: 10, mailboxLowWatermark: 10 }, "mailboxLowWatermark"],
    [{ commitIntervalMs: 0 }, "commitIntervalMs"],
    [{ restart: { maxRestarts: -1 } }, "restart.maxRestarts"],
    [{ restart: { backoff: { jitter: 3 } } }, "restart.backoff"],
    [{ retry: { maxAttempts: 0 } }, "retry.maxAttempts"],
    [{ consumer: { sessionTimeout: 3000, heartbeatInterval: 3000 } }, "consumer.heartbeatInterval"],
    [{ valueCodec: "yaml" }, "valueCodec"],
    [{ fromBeginning: "yes" }, "fromBeginning"],
  ];
  for (const [override, option] of cases) {
    assert.throws(
      () => createProcessor({ ...valid, ...override } as ProcessorOptions),
      (error: unknown) => error instanceof ConfigError && error.option === option,
      `${JSON.stringify(override)} should be refused as ${option}`,
    );
  }
});

Deno.test("createProcessor accepts a comma-separated broker list, a RegExp and defaults", async () => {
  const processor = createProcessor({
    ...valid,
    brokers: "127.0.0.1:9092, 127.0.0.1:9093",
    topics: /^orders-/,
  });
  assert.equal(processor.status().state, "idle");
  await processor.stop();
  assert.equal(processor.status().state, "stopped");
  await processor.done;
});

Deno.test("start() against an unreachable broker fails clearly within connectTimeoutMs", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close(); // nothing listens there now
  const processor = createProcessor({
    ...valid,
    brokers: [`127.0.0.1:${port}`],
    connectTimeoutMs: 1500,
  });
  const started = Date.now();
  const error = await processor.start().then(() => assert.fail("started"), (error) => error);
  const elapsed = Date.now() - started;
  assert.ok(error instanceof KafkaConnectionError, String(error));
  assert.match(
    error.message,
    new RegExp(`could not reach Kafka at 127\\.0\\.0\\.1:${port} within 1500 ms`),
  );
  assert.match(error.message, /ECONNREFUSED|Connection error/);
  assert.ok(elapsed < 15_000, `gave up after ${elapsed} ms`);
  await assert.rejects(processor.done, KafkaConnectionError);
  assert.equal(processor.status().state, "failed");
});
