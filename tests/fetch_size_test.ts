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
