import assert from "node:assert/strict";
import {
  createProcessor,
  type Processor,
  type ProcessorEvent,
  type ProcessorOptions,
} from "../mod.ts";
import {
  addPartitions,
  createTopic,
  kafkaClient,
  produce,
  testBrokers,
  uniqueName,
  waitFor,
} from "./_helpers.ts";

function member(
  topics: ProcessorOptions["topics"],
  groupId: string,
  handler: ProcessorOptions["handler"] = () => {},
  extra: Partial<ProcessorOptions> = {},
): Processor {
  return createProcessor({
    brokers: testBrokers(),
    groupId,
    topics,
    fromBeginning: true,
    handler,
    commitIntervalMs: 200,
    restart: { backoff: { initialMs: 10, maxMs: 50 } },
    ...extra,
  });
}

/** A member's partitions of `topic`, from its status. */
function owned(processor: Processor, topic: string): number[] {
  return processor.status().partitions.filter((p) => p.topic === topic).map((p) => p.partition);
}

/** Waits until the members' partitions of `topic` cover `count` partitions, each once. */
async function settled(members: Processor[], topic: string, count: number): Promise<void> {
  await waitFor(() => {
    const all = members.flatMap((m) => owned(m, topic));
    return all.length === count && new Set(all).size === count &&
      members.every((m) => m.status().state === "running");
  }, `${count} partitions of ${topic} spread over ${members.length} member(s)`);
}

function events<T extends ProcessorEvent["type"]>(processor: Processor, type: T) {
  const seen: Extract<ProcessorEvent, { type: T }>[] = [];
  processor.on(type, (event) => seen.push(event));
  return seen;
}

Deno.test("sticky: partitions stay with their members as members join and leave; balanced", async () => {
  const topic = uniqueName("sticky");
  const groupId = uniqueName("sticky-group");
  await createTopic(topic, 6);
  const a = member(topic, groupId);
  const b = member(topic, groupId);
  const c = member(topic, groupId);
  try {
    await a.start();
    await settled([a], topic, 6);
    await b.start();
    await settled([a, b], topic, 6);
    const aWithTwo = owned(a, topic);
    assert.deepEqual([aWithTwo.length, owned(b, topic).length], [3, 3]);

    await c.start();
    await settled([a, b, c], topic, 6);
    const withThree = [owned(a, topic), owned(b, topic), owned(c, topic)];
    assert.deepEqual(withThree.map((p) => p.length), [2, 2, 2]);
    for (const p of withThree[0]) assert.ok(aWithTwo.includes(p), `a kept ${p}`);
    const bWithTwo = [0, 1, 2, 3, 4, 5].filter((p) => !aWithTwo.includes(p));
    for (const p of withThree[1]) assert.ok(bWithTwo.includes(p), `b kept ${p}`);

    await b.stop();
    await settled([a, c], topic, 6);
    assert.deepEqual([owned(a, topic).length, owned(c, topic).length], [3, 3]);
    for (const p of withThree[0]) assert.ok(owned(a, topic).includes(p), `a still has ${p}`);
    for (const p of withThree[2]) assert.ok(owned(c, topic).includes(p), `c still has ${p}`);
  } finally {
    await Promise.all([a.stop(), b.stop(), c.stop()]);
  }
});

Deno.test("sticky: a kept partition keeps its actor and what it processed is not handled again", async () => {
  const topic = uniqueName("sticky-kept");
  const groupId = uniqueName("sticky-kept-group");
  await createTopic(topic, 2);
  await produce(topic, 400, 2);
  const handled = new Map<string, number>();
  const count = (message: { partition: number; offset: number }) => {
    const key = `${message.partition}:${message.offset}`;
    handled.set(key, (handled.get(key) ?? 0) + 1);
  };
  // Nothing is committed: a member that kept a partition would be handed it again from the
  // start, unless it skips what it already did.
  const a = member(topic, groupId, count, { autoCommit: false });
  const b = member(topic, groupId, count, { autoCommit: false });
  const started = events(a, "actor-started");
  try {
    await a.start();
    await waitFor(() => handled.size === 400, "a handled all 400");
    await b.start();
    await settled([a, b], topic, 2);
    const kept = owned(a, topic);
    assert.equal(kept.length, 1);
    await produce(topic, 400, 2);
    await waitFor(() => handled.size === 800, "the next 400 handled");
    await waitFor(() => a.status().partitions[0]?.processedOffset === 399, "a caught up");
    for (const [key, times] of handled) {
      const [partition] = key.split(":").map(Number);
      if (partition === kept[0]) assert.equal(times, 1, `${key} handled ${times} times`);
    }
    assert.equal(started.length, 2, "a's kept partition was not restarted");
  } finally {
    await Promise.all([a.stop(), b.stop()]);
  }
});

Deno.test("partitions added to a subscribed topic are consumed within topicRefreshMs", async () => {
  const topic = uniqueName("grow");
  const groupId = uniqueName("grow-group");
  await createTopic(topic, 2);
  const seen = new Set<string>();
  const a = member(topic, groupId, (m) => void seen.add(`${m.partition}:${m.offset}`), {
    topicRefreshMs: 500,
  });
  const added = events(a, "partitions-added");
  try {
    await a.start();
    await settled([a], topic, 2);
    await addPartitions(topic, 4);
    await produce(topic, 400, 4);
    await waitFor(() => seen.size === 400, "the 400 records of all four partitions");
    await waitFor(() => added.length > 0, "partitions-added");
    assert.deepEqual(added.map(({ topic, from, to }) => ({ topic, from, to })), [
      { topic, from: 2, to: 4 },
    ]);
    await settled([a], topic, 4);
  } finally {
    await a.stop();
  }
});

Deno.test("a deleted topic: an event, its partitions dropped, the other topic goes on; re-created, it is read again", async () => {
  const doomed = uniqueName("doomed");
  const kept = uniqueName("kept");
  const groupId = uniqueName("deleted-group");
  await createTopic(doomed, 2);
  await createTopic(kept, 2);
  await produce(doomed, 100, 2);
  await produce(kept, 100, 2);
  const seen = new Map<string, Set<string>>([[doomed, new Set()], [kept, new Set()]]);
  const a = member(
    [doomed, kept],
    groupId,
    (m) => void seen.get(m.topic)!.add(m.value!.toString()),
    {
      topicRefreshMs: 500,
    },
  );
  const deleted = events(a, "topic-deleted");
  const added = events(a, "topic-added");
  try {
    await a.start();
    await waitFor(
      () => seen.get(doomed)!.size === 100 && seen.get(kept)!.size === 100,
      "both read",
    );
    const admin = kafkaClient().admin();
    await admin.connect();
    try {
      await admin.deleteTopics({ topics: [doomed] });
      await waitFor(() => deleted.length === 1, "topic-deleted");
      assert.equal(deleted[0].topic, doomed);
      await settled([a], kept, 2);
      assert.deepEqual(owned(a, doomed), []);
      assert.equal(a.status().state, "running");
      await produce(kept, 100, 2, (i) => ({ partition: i % 2, key: `k${i}`, value: `after-${i}` }));
      await waitFor(() => seen.get(kept)!.size === 200, "the other topic goes on");

      // Re-created under the same name: read from the beginning (fromBeginning: true).
      await createTopic(doomed, 1);
      await produce(doomed, 50, 1, (i) => ({ partition: 0, key: `k${i}`, value: `again-${i}` }));
      await waitFor(
        () => [...seen.get(doomed)!].filter((v) => v.startsWith("again-")).length === 50,
        "the re-created topic read from its beginning",
      );
      assert.ok(
        added.some((event) => event.topic === doomed),
        "topic-added for the re-created topic",
      );
    } finally {
      await admin.disconnect();
    }
  } finally {
    await a.stop();
  }
});

Deno.test("a group whose members use different partition assigners: a clear error, not a fallback", async () => {
  const topic = uniqueName("mixed");
  const groupId = uniqueName("mixed-group");
  await createTopic(topic, 2);
  const sticky = member(topic, groupId);
  const roundRobin = member(topic, groupId, () => {}, {
    partitionAssigner: "round-robin",
    connectTimeoutMs: 10_000,
  });
  try {
    await sticky.start();
    await assert.rejects(
      () => roundRobin.start(),
      (error: Error) => {
        assert.match(error.message, /different partition assigners/);
        assert.match(error.message, /partitionAssigner/);
        return true;
      },
    );
    assert.equal(sticky.status().state, "running");
  } finally {
    await Promise.all([sticky.stop(), roundRobin.stop().catch(() => {})]);
  }
});
