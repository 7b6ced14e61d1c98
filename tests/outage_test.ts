import assert from "node:assert/strict";
import { createAdmin, createProcessor, createProducer } from "../mod.ts";
import { startLocalKafka } from "../testing/mod.ts";
import { waitFor } from "./_helpers.ts";

Deno.test("a broker outage mid-stream: the processor keeps running, shows it, resumes, loses nothing", async () => {
  // A broker of its own: this test takes it down.
  await using kafka = await startLocalKafka();
  const topic = "outage";
  const groupId = "outage-group";
  await using admin = createAdmin({ brokers: kafka.brokers });
  await admin.createTopics([{ topic, partitions: 2 }]);
  const producer = createProducer({ brokers: kafka.brokers, valueCodec: "string" });
  await producer.sendAll(
    Array.from({ length: 3000 }, (_, i) => ({ topic, partition: i % 2, value: `before ${i}` })),
  );

  const seen = new Set<string>();
  const events: string[] = [];
  const processor = createProcessor({
    brokers: kafka.brokers,
    groupId,
    topics: topic,
    fromBeginning: true,
    commitIntervalMs: 200,
    connectTimeoutMs: 60_000,
    // Small mailboxes and fetches: most of the backlog is still in Kafka when it goes down.
    mailboxCapacity: 100,
    consumer: { maxBytesPerPartition: 16_384 },
    handler: async (message) => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      seen.add(`${message.partition}:${message.offset}`);
    },
  });
  for (
    const type of ["connection-lost", "connection-restored", "consumer-crashed", "joined"] as const
  ) {
    processor.on(type, () => void events.push(type));
  }
  await processor.start();
  await waitFor(() => seen.size >= 500, "500 processed before the outage");

  await kafka.down();
  await waitFor(
    () => !processor.status().connection.connected,
    "the outage shows in status()",
    60_000,
  );
  assert.equal(processor.status().state, "running");
  assert.ok(processor.status().connection.lastError);
  await new Promise((resolve) => setTimeout(resolve, 5_000)); // the outage itself lasts a while
  await kafka.up();

  await waitFor(() => seen.size === 3000, "the backlog after the outage", 120_000);
  await producer.sendAll(
    Array.from({ length: 200 }, (_, i) => ({ topic, partition: i % 2, value: `after ${i}` })),
  );
  await waitFor(() => seen.size === 3200, "new messages after the outage", 60_000);
  await waitFor(() => processor.status().connection.connected, "connected again");
  await producer.close();
  await processor.stop();

  assert.equal(processor.status().state, "stopped");
  assert.ok(events.includes("connection-lost"), events.join());
  assert.ok(events.includes("connection-restored"), events.join());
  const committed = await admin.committedOffsets(groupId, [topic]);
  assert.deepEqual(committed.map((row) => row.offset), [1600, 1600]);
});

Deno.test("maxUncommitted: while Kafka is away, a partition stops that far beyond its last commit", async () => {
  await using kafka = await startLocalKafka();
  const topic = "outage-bound";
  const groupId = "outage-bound-group";
  await using admin = createAdmin({ brokers: kafka.brokers });
  await admin.createTopics([{ topic, partitions: 2 }]);
  const producer = createProducer({ brokers: kafka.brokers, valueCodec: "string" });
  await producer.sendAll(
    Array.from({ length: 6000 }, (_, i) => ({ topic, partition: i % 2, value: `${i}` })),
  );
  await producer.close();
  const seen = new Set<string>();
  const processor = createProcessor({
    brokers: kafka.brokers,
    groupId,
    topics: topic,
    fromBeginning: true,
    commitIntervalMs: 200,
    connectTimeoutMs: 60_000,
    maxUncommitted: 100,
    // Large mailboxes, filled by one fetch: without the bound, the whole backlog would be
    // processed while Kafka is away, and redone after a crash.
    mailboxCapacity: 5_000,
    handler: async (message) => {
      await new Promise((resolve) => setTimeout(resolve, 2));
      seen.add(`${message.partition}:${message.offset}`);
    },
  });
  await processor.start();
  try {
    await waitFor(() => seen.size >= 500, "500 processed before the outage");
    await kafka.down();
    await waitFor(
      () => processor.status().partitions.every((p) => p.actor === "held" && p.inFlight === 0),
      "both actors wait",
      60_000,
    );
    for (const partition of processor.status().partitions) {
      const beyond = (partition.processedOffset ?? -1) + 1 - (partition.committedOffset ?? 0);
      assert.ok(beyond <= 100, `${partition.partition}: ${beyond} processed beyond the commit`);
      assert.ok(partition.mailboxSize > 1_000, "the rest waits in the mailbox");
    }
    await kafka.up();
    await waitFor(() => seen.size === 6000, "the backlog after the outage", 120_000);
    await waitFor(
      async () => {
        const committed = await admin.committedOffsets(groupId, [topic]);
        return committed.every((row) => row.offset === 3000);
      },
      "all committed",
      30_000,
    );
  } finally {
    await processor.stop();
  }
});
