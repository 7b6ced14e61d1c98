import assert from "node:assert/strict";
import { createAdmin, createProcessor } from "../mod.ts";
import { decodeCompletions } from "../supervisor/completions.ts";
import {
  committedOffsets,
  createTopic,
  endOffsets,
  produce,
  testBrokers,
  uniqueName,
  waitFor,
} from "./_helpers.ts";

Deno.test("key mode: per-key order holds, many keys run at once, committed offsets reach the end", async () => {
  const topic = uniqueName("key-order");
  const groupId = uniqueName("key-order-group");
  await createTopic(topic, 1);
  await produce(topic, 2000, 1, (i) => ({ partition: 0, key: `key-${i % 100}`, value: String(i) }));
  const byKey = new Map<string, number[]>();
  let inFlight = 0;
  let maxInFlight = 0;
  let done = 0;
  const processor = createProcessor({
    brokers: testBrokers(),
    groupId,
    topics: topic,
    fromBeginning: true,
    ordering: "key",
    concurrency: 32,
    handler: async (message) => {
      maxInFlight = Math.max(maxInFlight, ++inFlight);
      await new Promise((resolve) => setTimeout(resolve, 1 + Math.random() * 9));
      inFlight--;
      const list = byKey.get(message.key!) ?? [];
      list.push(message.offset);
      byKey.set(message.key!, list);
      done++;
    },
  });
  await processor.start();
  await waitFor(() => done === 2000, "2,000 processed", 60_000);
  await processor.stop();

  assert.equal(byKey.size, 100);
  for (const [key, offsets] of byKey) {
    assert.equal(offsets.length, 20, key);
    assert.deepEqual(
      offsets,
      [...offsets].sort((a, b) => a - b),
      `${key} out of order: ${offsets}`,
    );
  }
  assert.ok(maxInFlight > 1, `max in flight ${maxInFlight}`);
  assert.ok(maxInFlight <= 32, `max in flight ${maxInFlight} above the concurrency`);
  assert.deepEqual(await committedOffsets(groupId, topic), await endOffsets(topic));
});

Deno.test("key mode: a stuck key does not stop the others; its completions go in the commit metadata", async () => {
  const topic = uniqueName("key-stuck");
  const groupId = uniqueName("key-stuck-group");
  await createTopic(topic, 1);
  await produce(
    topic,
    300,
    1,
    (i) => ({ partition: 0, key: i === 10 ? "stuck" : `key-${i % 7}`, value: String(i) }),
  );
  const gate = Promise.withResolvers<void>();
  const processed = new Set<number>();
  const processor = createProcessor({
    brokers: testBrokers(),
    groupId,
    topics: topic,
    fromBeginning: true,
    ordering: "key",
    concurrency: 8,
    commitIntervalMs: 100,
    handler: async (message) => {
      if (message.key === "stuck") await gate.promise;
      processed.add(message.offset);
    },
  });
  await processor.start();
  await waitFor(() => processed.size === 299, "every other key done");
  await using admin = createAdmin({ brokers: testBrokers() });
  let row = (await admin.committedOffsets(groupId, [topic]))[0];
  await waitFor(async () => {
    row = (await admin.committedOffsets(groupId, [topic]))[0];
    return row.offset === 10 && decodeCompletions(row.metadata, 10).size === 289;
  }, "commit point held at the stuck offset, completions beyond it recorded");
  assert.deepEqual(
    [...decodeCompletions(row.metadata, 10)].sort((a, b) => a - b),
    Array.from({ length: 289 }, (_, i) => 11 + i),
  );
  gate.resolve();
  await waitFor(() => processed.size === 300, "the stuck key done");
  await processor.stop();
  assert.deepEqual(await committedOffsets(groupId, topic), new Map([[0, 300]]));
});

Deno.test("key mode: when completions would not fit the metadata, the actor waits (backpressure), nothing lost", async () => {
  const topic = uniqueName("key-overflow");
  const groupId = uniqueName("key-overflow-group");
  await createTopic(topic, 1);
  await produce(
    topic,
    1500,
    1,
    (i) => ({ partition: 0, key: i === 0 ? "stuck" : `key-${i % 50}`, value: String(i) }),
  );
  const gate = Promise.withResolvers<void>();
  let processed = 0;
  let stuckAt = -1;
  let highest = -1;
  const processor = createProcessor({
    brokers: testBrokers(),
    groupId,
    topics: topic,
    fromBeginning: true,
    ordering: "key",
    concurrency: 16,
    commitIntervalMs: 100,
    offsetMetadataMaxBytes: 64, // room for completions over 240 offsets (maxCompletionSpan)
    mailboxCapacity: 1_000, // below the backlog: a mailbox the capped actor stops draining fills
    handler: async (message) => {
      if (message.key === "stuck") {
        stuckAt = message.offset;
        await gate.promise;
      }
      highest = Math.max(highest, message.offset);
      processed++;
    },
  });
  await processor.start();
  await waitFor(() => stuckAt >= 0 && highest > stuckAt + 200, "work beyond the stuck offset");
  // It stops short of the backlog: the span past the stuck offset is capped, fetching pauses.
  await waitFor(() => processor.status().partitions[0].paused, "fetching paused by backpressure");
  assert.ok(
    highest - stuckAt <= 240,
    `reached ${highest - stuckAt} offsets past a stuck one, room for 240`,
  );
  await using admin = createAdmin({ brokers: testBrokers() });
  await waitFor(async () => {
    const [row] = await admin.committedOffsets(groupId, [topic]);
    return row.offset === stuckAt && row.metadata !== null && row.metadata.length <= 64;
  }, "the metadata stays within its limit");
  gate.resolve();
  await waitFor(() => processed === 1500, "everything after the release", 60_000);
  await processor.stop();
  assert.deepEqual(await committedOffsets(groupId, topic), new Map([[0, 1500]]));
});

Deno.test("unordered mode: up to `concurrency` in flight, every message once, global cap honoured", async () => {
  const topic = uniqueName("unordered");
  await createTopic(topic, 3);
  await produce(topic, 600, 3);
  let inFlight = 0;
  let maxInFlight = 0;
  const seen = new Set<string>();
  const processor = createProcessor({
    brokers: testBrokers(),
    groupId: uniqueName("unordered-group"),
    topics: topic,
    fromBeginning: true,
    ordering: "unordered",
    concurrency: 10,
    maxInFlight: 12,
    handler: async (message) => {
      maxInFlight = Math.max(maxInFlight, ++inFlight);
      await new Promise((resolve) => setTimeout(resolve, 2));
      inFlight--;
      seen.add(`${message.partition}:${message.offset}`);
    },
  });
  await processor.start();
  await waitFor(() => seen.size === 600, "600 processed");
  await processor.stop();
  assert.ok(maxInFlight > 10, `max in flight ${maxInFlight}: more than one partition's worth`);
  assert.ok(maxInFlight <= 12, `max in flight ${maxInFlight} above the global cap`);
});
