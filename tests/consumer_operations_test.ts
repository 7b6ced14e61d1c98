import assert from "node:assert/strict";
import {
  createAdmin,
  createConsumer,
  createProcessor,
  DecodeError,
  json,
  type Message,
} from "../mod.ts";
import { createTopic, produce, testBrokers, uniqueName, waitFor } from "./_helpers.ts";

Deno.test("admin: topics, partitions, offsets, committed offsets, lag and groups match what was produced", async () => {
  const topic = uniqueName("ops-admin");
  const groupId = uniqueName("ops-admin-group");
  await createTopic(topic, 3);
  await produce(topic, 90, 3); // 30 per partition
  await using admin = createAdmin({ brokers: testBrokers() });

  assert.deepEqual((await admin.listTopics()).find((t) => t.topic === topic), {
    topic,
    partitions: 3,
  });
  const partitions = await admin.partitions(topic);
  assert.deepEqual(partitions.map((p) => p.partition), [0, 1, 2]);
  assert.ok(partitions.every((p) => p.leader >= 0 && p.isr.includes(p.leader)));
  assert.deepEqual(
    await admin.offsets(topic),
    [0, 1, 2].map((partition) => ({ partition, beginning: 0, end: 30 })),
  );

  // Process exactly 10 per partition (the 11th of each waits until the stop aborts it), then
  // look at the group while it runs.
  const counts = new Map<number, number>();
  const processor = createProcessor({
    brokers: testBrokers(),
    groupId,
    topics: topic,
    fromBeginning: true,
    commitIntervalMs: 100,
    shutdownTimeoutMs: 100,
    handler: async (message, context) => {
      if (message.offset >= 10) {
        await new Promise((_, reject) => context.signal.addEventListener("abort", reject));
      }
      counts.set(message.partition, (counts.get(message.partition) ?? 0) + 1);
    },
  });
  await processor.start();
  await waitFor(async () => {
    const rows = await admin.committedOffsets(groupId, [topic]);
    return rows.length === 3 && rows.every((row) => row.offset === 10);
  }, "10 per partition committed");
  const group = await admin.describeGroup(groupId);
  assert.equal(group.state, "Stable");
  assert.equal(group.members.length, 1);
  assert.deepEqual(group.members[0].assignment, { [topic]: [0, 1, 2] });
  assert.ok((await admin.listGroups()).includes(groupId));
  await processor.stop();
  assert.deepEqual([...counts.values()], [10, 10, 10]);

  const committed = await admin.committedOffsets(groupId, [topic]);
  assert.deepEqual(committed.map((row) => [row.partition, row.offset]), [[0, 10], [1, 10], [
    2,
    10,
  ]]);
  const lag = await admin.lag(groupId, [topic]);
  assert.deepEqual(lag.map((row) => [row.partition, row.committed, row.end, row.lag]), [
    [0, 10, 30, 20],
    [1, 10, 30, 20],
    [2, 10, 30, 20],
  ]);
});

Deno.test("seek to an offset while running: the partition's actor resets and continues from there", async () => {
  const topic = uniqueName("ops-seek");
  const groupId = uniqueName("ops-seek-group");
  await createTopic(topic, 1);
  await produce(topic, 200, 1);
  const order: number[] = [];
  let seeked = false;
  const seeks: number[] = [];
  const processor = createProcessor({
    brokers: testBrokers(),
    groupId,
    topics: topic,
    fromBeginning: true,
    commitIntervalMs: 100,
    handler: (message) => {
      order.push(message.offset);
      if (message.offset === 150 && !seeked) {
        seeked = true;
        processor.seek({ topic, partition: 0, offset: 50 });
      }
    },
  });
  processor.on("partition-seeked", (event) => seeks.push(event.offset));
  await processor.start();
  await waitFor(() => order.at(-1) === 199 && seeked, "reprocessed to the end");
  await processor.stop();

  const seekAt = order.indexOf(150);
  assert.deepEqual(order.slice(0, seekAt + 1), Array.from({ length: 151 }, (_, i) => i));
  assert.deepEqual(order.slice(seekAt + 1), Array.from({ length: 150 }, (_, i) => 50 + i));
  assert.deepEqual(seeks, [50]);
  await using admin = createAdmin({ brokers: testBrokers() });
  assert.equal((await admin.committedOffsets(groupId, [topic]))[0].offset, 200);
});

Deno.test("seek to a timestamp while running", async () => {
  const topic = uniqueName("ops-seek-time");
  await createTopic(topic, 1);
  const base = Date.now() - 3_600_000;
  await produce(
    topic,
    100,
    1,
    (i) => ({ partition: 0, key: `k${i}`, value: `v${i}`, timestamp: String(base + i * 1000) }),
  );
  const order: number[] = [];
  const processor = createProcessor({
    brokers: testBrokers(),
    groupId: uniqueName("ops-seek-time-group"),
    topics: topic,
    fromBeginning: true,
    handler: (message) => void order.push(message.offset),
  });
  await processor.start();
  await waitFor(() => order.length === 100, "first pass");
  const chosen = await processor.seekToTimestamp({ topic, timestamp: base + 60_000 });
  assert.deepEqual(chosen, [{ topic, partition: 0, offset: 60 }]);
  await waitFor(() => order.length === 140, "second pass from offset 60");
  await processor.stop();
  assert.deepEqual(order.slice(100), Array.from({ length: 40 }, (_, i) => 60 + i));
});

Deno.test("a RegExp subscription picks up a topic created after start", async () => {
  const prefix = uniqueName("ops-regex");
  await createTopic(`${prefix}-a`, 1);
  await produce(`${prefix}-a`, 10, 1);
  const seen = new Map<string, number>();
  const processor = createProcessor({
    brokers: testBrokers(),
    groupId: uniqueName("ops-regex-group"),
    topics: new RegExp(`^${prefix}-`),
    fromBeginning: true,
    topicRefreshMs: 300,
    handler: (message) => void seen.set(message.topic, (seen.get(message.topic) ?? 0) + 1),
  });
  await processor.start();
  await waitFor(() => seen.get(`${prefix}-a`) === 10, "the first topic");
  await createTopic(`${prefix}-b`, 2);
  await produce(`${prefix}-b`, 20, 2);
  await waitFor(() => seen.get(`${prefix}-b`) === 20, "the topic created later", 30_000);
  assert.deepEqual(
    processor.assignment(),
    [[`${prefix}-a`, 0], [`${prefix}-b`, 0], [`${prefix}-b`, 1]].map(([topic, partition]) => ({
      topic,
      partition,
    })),
  );
  await processor.stop();
  assert.equal(seen.get(`${prefix}-a`), 10, "nothing of the first topic processed twice");
});

Deno.test("pause and resume a partition: seen in status() and in the order of processing", async () => {
  const topic = uniqueName("ops-pause");
  await createTopic(topic, 2);
  await produce(topic, 400, 2);
  const order: string[] = [];
  const processor = createProcessor({
    brokers: testBrokers(),
    groupId: uniqueName("ops-pause-group"),
    topics: topic,
    fromBeginning: true,
    handler: (message) => void order.push(`${message.partition}:${message.offset}`),
  });
  processor.pause({ topic, partition: 0 });
  await processor.start();
  await waitFor(() => order.length === 200, "partition 1 done");
  const paused = processor.status().partitions.find((row) => row.partition === 0)!;
  assert.equal(paused.paused, true);
  assert.deepEqual(paused.pausedBy, {
    backpressure: false,
    user: true,
    initializing: false,
    stopping: false,
  });
  assert.equal(paused.processed, 0);
  assert.ok(order.every((entry) => entry.startsWith("1:")), "nothing of partition 0 while paused");
  processor.resume({ topic, partition: 0 });
  await waitFor(() => order.length === 400, "partition 0 after resume");
  assert.equal(processor.status().partitions.find((row) => row.partition === 0)!.paused, false);
  await processor.stop();
  assert.deepEqual(order.slice(200), Array.from({ length: 200 }, (_, i) => `0:${i}`));
});

Deno.test("poll-style consumer: iterate, commit explicitly, and a new one resumes at the commit", async () => {
  const topic = uniqueName("ops-iterator");
  const groupId = uniqueName("ops-iterator-group");
  await createTopic(topic, 3);
  await produce(topic, 60, 3);
  const first: Message<string, { id: number }>[] = [];
  {
    await using consumer = createConsumer({
      brokers: testBrokers(),
      groupId,
      topics: topic,
      fromBeginning: true,
      valueCodec: json<{ id: number }>(),
    });
    for await (const message of consumer) {
      first.push(message);
      if (first.length === 25) await consumer.commit();
      if (first.length === 30) break; // 26..30 handled but never committed
    }
  }
  await using admin = createAdmin({ brokers: testBrokers() });
  const committed = new Map(
    (await admin.committedOffsets(groupId, [topic])).map((row) => [row.partition, row.offset ?? 0]),
  );
  const firstCommitted = first.slice(0, 25);
  for (const partition of [0, 1, 2]) {
    const mine = firstCommitted.filter((m) => m.partition === partition).map((m) => m.offset);
    assert.equal(
      committed.get(partition),
      mine.length ? Math.max(...mine) + 1 : 0,
      `partition ${partition}`,
    );
  }

  // A partition the first consumer committed nothing for starts at its beginning too.
  const second = createConsumer({
    brokers: testBrokers(),
    groupId,
    topics: topic,
    fromBeginning: true,
    valueCodec: json<{ id: number }>(),
  });
  const rest: Message<string, { id: number }>[] = [];
  const expected = 60 - [...committed.values()].reduce((a, b) => a + b, 0);
  await waitFor(
    async () => {
      rest.push(...await second.poll({ timeoutMs: 1000 }));
      return rest.length >= expected;
    },
    `the ${expected} uncommitted messages (committed ${
      JSON.stringify([...committed])
    }, got ${rest.length})`,
  );
  await second.commit();
  await second.close();
  for (const partition of [0, 1, 2]) {
    const offsets = rest.filter((m) => m.partition === partition).map((m) => m.offset);
    assert.deepEqual(
      offsets,
      Array.from(
        { length: 20 - committed.get(partition)! },
        (_, i) => committed.get(partition)! + i,
      ),
    );
  }
  assert.deepEqual((await admin.lag(groupId, [topic])).map((row) => row.lag), [0, 0, 0]);
});

Deno.test("a value that fails to decode reaches the handler as a DecodeError; the loop goes on", async () => {
  const topic = uniqueName("ops-codec");
  await createTopic(topic, 1);
  await produce(
    topic,
    5,
    1,
    (i) => ({ partition: 0, key: `k${i}`, value: i === 2 ? "{not json" : JSON.stringify({ i }) }),
  );
  const values: unknown[] = [];
  const errors: DecodeError[] = [];
  const processor = createProcessor({
    brokers: testBrokers(),
    groupId: uniqueName("ops-codec-group"),
    topics: topic,
    fromBeginning: true,
    valueCodec: json<{ i: number }>(),
    handler: (message) => {
      try {
        values.push(message.value?.i);
      } catch (error) {
        if (!(error instanceof DecodeError)) throw error;
        errors.push(error);
        assert.equal(message.key, "k2", "the key still decodes");
      }
    },
  });
  await processor.start();
  await waitFor(() => values.length + errors.length === 5, "all five seen");
  await processor.stop();
  assert.deepEqual(values, [0, 1, 3, 4]);
  assert.equal(errors.length, 1);
  assert.equal(errors[0].field, "value");
  assert.equal(errors[0].offset, 2);
  assert.equal(errors[0].codec, "json");
  assert.match(errors[0].message, /cannot decode the value of .*\[0\]@2 as json/);
});
