import assert from "node:assert/strict";
import { createProcessor, PROCESSOR_DEFAULTS } from "../mod.ts";
import { createTopic, produce, testBrokers, uniqueName, waitFor } from "./_helpers.ts";

Deno.test("processor: a record larger than maxBytesPerPartition still arrives, in order with its neighbours", async () => {
  const topic = uniqueName("fetch-size");
  await createTopic(topic, 1);
  // Three times the default fetch size per partition: the broker returns at least one batch
  // whatever the limit, so the smaller default costs nothing but memory.
  const big = "x".repeat(3 * PROCESSOR_DEFAULTS.consumer.maxBytesPerPartition);
  await produce(topic, 5, 1, (i) => ({
    partition: 0,
    key: `k${i}`,
    value: i === 2 ? big : `small ${i}`,
  }), 1);
  const seen: { offset: number; size: number }[] = [];
  const processor = createProcessor({
    brokers: testBrokers(),
    groupId: uniqueName("fetch-size-group"),
    topics: topic,
    fromBeginning: true,
    handler: (message) => {
      seen.push({ offset: message.offset, size: message.rawValue?.length ?? 0 });
    },
  });
  await processor.start();
  try {
    await waitFor(() => seen.length >= 5, "all 5 records handled");
  } finally {
    await processor.stop();
  }
  assert.deepEqual(seen.map((record) => record.offset), [0, 1, 2, 3, 4]);
  assert.equal(seen[2].size, big.length);
});

Deno.test("processor: by default a partition is fetched again while its actor works through a batch", async () => {
  const topic = uniqueName("fetch-ahead");
  await createTopic(topic, 1);
  // 1,500 records of about 100 bytes: more than one default fetch of a partition (128 KiB) and
  // fewer than the default mailbox capacity. A capacity below one batch paused the partition
  // after the first fetch; now the second batch is fetched while the first is still in hand.
  await produce(topic, 1_500, 1, (i) => ({ partition: 0, key: `k${i}`, value: "v".repeat(100) }));
  const release = Promise.withResolvers<void>();
  const processor = createProcessor({
    brokers: testBrokers(),
    groupId: uniqueName("fetch-ahead-group"),
    topics: topic,
    fromBeginning: true,
    handler: () => release.promise, // holds the first message: nothing leaves the mailbox
  });
  await processor.start();
  try {
    await waitFor(
      // The message in hand is counted in flight, not in the mailbox.
      () => processor.status().partitions[0]?.mailboxSize === 1_499,
      "all 1,500 records fetched while the first is in hand",
    );
    const [partition] = processor.status().partitions;
    assert.equal(partition.pausedBy.backpressure, false);
  } finally {
    release.resolve();
    await processor.stop();
  }
});
