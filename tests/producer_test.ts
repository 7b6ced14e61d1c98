import assert from "node:assert/strict";
import {
  ConfigError,
  createProducer,
  json,
  ProduceError,
  PRODUCER_DEFAULTS,
  ProducerClosedError,
} from "../mod.ts";
import { addPartitions, createTopic, readRecords, testBrokers, uniqueName } from "./_helpers.ts";

/** Reads every record of `topic` back: "partition:offset" -> { key, value }. */
async function readBack(topic: string, expected: number) {
  return new Map(
    (await readRecords(topic, expected)).map((
      record,
    ) => [`${record.partition}:${record.offset}`, record]),
  );
}

Deno.test("producer: 10,000 records from 50 concurrent tasks, each found once at its reported offset", async () => {
  const topic = uniqueName("producer-concurrent");
  await createTopic(topic, 4);
  const producer = createProducer({
    brokers: testBrokers(),
    valueCodec: json<{ task: number; n: number }>(),
  });
  const reported = new Map<string, string>();
  await Promise.all(Array.from({ length: 50 }, async (_, task) => {
    for (let n = 0; n < 200; n++) {
      const key = `task-${task}-${n}`;
      const { partition, offset } = await producer.send({ topic, key, value: { task, n } });
      assert.ok(
        !reported.has(`${partition}:${offset}`),
        `two records reported at ${partition}:${offset}`,
      );
      reported.set(`${partition}:${offset}`, key);
    }
  }));
  await producer.close();

  const stored = await readBack(topic, 10_000);
  assert.equal(stored.size, 10_000);
  for (const [where, key] of reported) {
    const record = stored.get(where);
    assert.ok(record, `nothing stored at ${where}`);
    assert.equal(record.key, key, `at ${where}`);
    const [, task, n] = key.split("-");
    assert.deepEqual(JSON.parse(record.value!), { task: Number(task), n: Number(n) });
  }
});

Deno.test("producer: sendAll resolves each record's place in order; a bad record fails the call, not its neighbours", async () => {
  const topic = uniqueName("producer-send-all");
  await createTopic(topic, 3);
  const producer = createProducer({
    brokers: testBrokers(),
    valueCodec: "string",
    maxRecordBytes: 1_000,
    // A buffer smaller than a call: sendAll waits for room part-way and keeps the order.
    bufferRecords: 50,
  });
  const records = Array.from(
    { length: 400 },
    (_, i) => ({ topic, key: `k${i % 7}`, value: `v${i}` }),
  );
  const placed = await producer.sendAll(records);
  assert.equal(placed.length, 400);
  const stored = await readBack(topic, 400);
  placed.forEach(({ partition, offset }, i) => {
    assert.equal(stored.get(`${partition}:${offset}`)?.value, `v${i}`, `record ${i}`);
  });

  // The middle one is over maxRecordBytes: the call rejects with its error, the others go.
  const mixed = producer.sendAll([
    { topic, key: "a", value: "before" },
    { topic, key: "b", value: "x".repeat(2_000) },
    { topic, key: "c", value: "after" },
  ]);
  const refused = assert.rejects(
    mixed,
    (error) => error instanceof ProduceError && error.code === "MESSAGE_TOO_LARGE",
  );
  await producer.flush(); // queued at once: flush covers them
  await refused;
  const after = await readBack(topic, 402);
  assert.equal(after.size, 402);
  assert.deepEqual(
    [...after.values()].map((record) => record.value).filter((value) => !value?.startsWith("v"))
      .sort(),
    ["after", "before"],
  );
  assert.deepEqual(await producer.sendAll([]), []);
  await producer.close();
  await assert.rejects(producer.sendAll([{ topic, value: "late" }]), ProducerClosedError);
});

Deno.test("producer: records reaching batchBytes go at once, without waiting out the linger", async () => {
  const topic = uniqueName("producer-batch-bytes");
  await createTopic(topic, 2);
  // A linger longer than the test may take: only a full batch can send these.
  const producer = createProducer({
    brokers: testBrokers(),
    valueCodec: "string",
    lingerMs: 600_000,
    batchBytes: 1_000,
  });
  const placed = await producer.sendAll(
    Array.from({ length: 20 }, (_, i) => ({ topic, key: `k${i}`, value: "v".repeat(100) })),
  );
  assert.equal(placed.length, 20);
  await producer.close();
  assert.equal((await readBack(topic, 20)).size, 20);
});

Deno.test("producer: flush waits for every send; close flushes and refuses later sends", async () => {
  const topic = uniqueName("producer-flush");
  await createTopic(topic, 2);
  const producer = createProducer({ brokers: testBrokers(), valueCodec: "string", lingerMs: 50 });
  let acknowledged = 0;
  const sends = Array.from(
    { length: 300 },
    (_, i) => producer.send({ topic, key: `k${i}`, value: `v${i}` }).then(() => acknowledged++),
  );
  await producer.flush();
  assert.equal(acknowledged, 300, "flush resolved before every send was acknowledged");
  await Promise.all(sends);

  const late = producer.send({ topic, value: "during close" });
  await producer.close();
  await late; // sent before close: delivered
  await assert.rejects(producer.send({ topic, value: "after close" }), ProducerClosedError);
  const stored = await readBack(topic, 301);
  assert.equal(stored.size, 301);
});

Deno.test("producer: a record larger than the topic accepts fails clearly; its neighbours are delivered", async () => {
  const topic = uniqueName("producer-too-large");
  await createTopic(topic, 1, testBrokers(), [{ name: "max.message.bytes", value: "2000" }]);
  const producer = createProducer({ brokers: testBrokers(), valueCodec: "string", lingerMs: 20 });
  try {
    const small = [0, 1, 2].map((i) => producer.send({ topic, value: `small ${i}` }));
    const big = producer.send({ topic, value: "x".repeat(10_000) });
    const error = await big.then(
      () => assert.fail("the big record was accepted"),
      (error) => error,
    );
    assert.ok(error instanceof ProduceError, String(error));
    assert.equal(error.code, "MESSAGE_TOO_LARGE");
    assert.equal(error.topic, topic);
    assert.match(error.message, /larger than the broker accepts/);
    const offsets = (await Promise.all(small)).map((metadata) => metadata.offset).sort();
    assert.deepEqual(offsets, [0, 1, 2]);
  } finally {
    await producer.close();
  }
});

Deno.test("producer: a partition created after it started is found; a missing one fails naming it, its neighbours delivered", async () => {
  const topic = uniqueName("producer-grown");
  await createTopic(topic, 2);
  const producer = createProducer({
    brokers: testBrokers(),
    valueCodec: "string",
    lingerMs: 20,
    clientRetry: { initialRetryTime: 50, retries: 4 }, // how long a missing partition is sought
  });
  try {
    // The producer learns the topic's metadata: two partitions.
    assert.equal((await producer.send({ topic, partition: 1, value: "before" })).offset, 0);
    await addPartitions(topic, 4);
    const grown = await producer.send({ topic, partition: 3, value: "to a new partition" });
    assert.deepEqual([grown.partition, grown.offset], [3, 0]);

    const neighbours = [0, 1, 2].map((partition) =>
      producer.send({ topic, partition, value: "neighbour" })
    );
    const missing = producer.send({ topic, partition: 9, value: "nowhere" });
    const error = await missing.then(
      () => assert.fail("a record to partition 9 was accepted"),
      (e) => e,
    );
    assert.ok(error instanceof ProduceError, String(error));
    assert.equal(error.code, "UNKNOWN_TOPIC_OR_PARTITION");
    assert.equal(error.topic, topic);
    assert.equal(error.partition, 9);
    assert.match(error.message, new RegExp(`partition 9 of ${topic} does not exist`));
    const delivered = await Promise.all(neighbours);
    assert.deepEqual(delivered.map((m) => m.partition), [0, 1, 2]);
  } finally {
    await producer.close();
  }
});

Deno.test("producer: a record over maxRecordBytes fails at once, before any connection", async () => {
  const producer = createProducer({
    brokers: "127.0.0.1:1",
    valueCodec: "string",
    maxRecordBytes: 100,
  });
  const error = await producer.send({ topic: "t", value: "x".repeat(200) }).then(
    () => assert.fail("sent"),
    (error) => error,
  );
  assert.ok(error instanceof ProduceError, String(error));
  assert.equal(error.code, "MESSAGE_TOO_LARGE");
  assert.match(error.message, /larger than maxRecordBytes \(100\)/);
  await producer.close();
});

Deno.test("producer: invalid options are refused before connecting, naming the option", () => {
  const refused = (options: Record<string, unknown>, option: string) =>
    assert.throws(
      () => createProducer({ brokers: "127.0.0.1:9", ...options } as never),
      (error: unknown) => error instanceof ConfigError && error.option === option,
      `${JSON.stringify(options)} should be refused as ${option}`,
    );
  refused({ brokers: "nowhere" }, "brokers");
  refused({ acks: 1 }, "acks");
  refused({ acks: "some" }, "acks");
  refused({ compression: "zstd" }, "compression");
  refused({ lingerMs: -1 }, "lingerMs");
  refused({ maxInFlight: 0 }, "maxInFlight");
  refused({ batchBytes: 0 }, "batchBytes");
  refused({ idempotent: "yes" }, "idempotent");
  refused({ valueCodec: "yaml" }, "valueCodec");
  assert.equal(PRODUCER_DEFAULTS.acks, "all");
  // The defaults make a producer without connecting.
  createProducer({ brokers: "127.0.0.1:9" });
});
