import assert from "node:assert/strict";
import { createProcessor, type Processor } from "../mod.ts";
import {
  committedOffsets,
  createTopic,
  pace,
  produce,
  testBrokers,
  uniqueName,
  waitFor,
} from "./_helpers.ts";

function member(topic: string, groupId: string, extra: Record<string, unknown> = {}): Processor {
  return createProcessor({
    brokers: testBrokers(),
    groupId,
    topics: topic,
    fromBeginning: true,
    commitIntervalMs: 200,
    // A small mailbox, filled at once by the first fetch, stays paused for backpressure for a
    // long time: its partition fetches nothing meanwhile.
    mailboxCapacity: 50,
    handler: () => pace(5),
    ...extra,
  });
}

Deno.test("after a re-join, a member commits what it processes though its full mailboxes fetch nothing", async () => {
  const topic = uniqueName("commit-rejoin");
  const groupId = uniqueName("commit-rejoin-group");
  await createTopic(topic, 2);
  await produce(topic, 4_000, 2);
  const a = member(topic, groupId);
  const b = member(topic, groupId, { handler: () => {} });
  try {
    await a.start();
    await waitFor(
      () => a.status().partitions.filter((p) => p.pausedBy.backpressure).length === 2,
      "both of a's mailboxes full",
    );
    await b.start(); // a re-joins and keeps one partition
    await waitFor(() => a.status().partitions.length === 1, "a kept one partition");
    const kept = a.status().partitions[0];
    const processedAtJoin = kept.processedOffset ?? -1;
    // Its mailbox holds hundreds of messages: it stays paused, so no batch of it comes.
    assert.ok(kept.pausedBy.backpressure && kept.mailboxSize > 200, JSON.stringify(kept));
    await waitFor(
      async () =>
        ((await committedOffsets(groupId, topic)).get(kept.partition) ?? -1) > processedAtJoin + 50,
      "a commits work done after its re-join",
      10_000,
    );
    assert.ok(a.status().partitions[0].pausedBy.backpressure, "still paused: no batch came");
  } finally {
    await Promise.all([a.stop(), b.stop()]);
  }
});

Deno.test("a restarted KafkaJS consumer commits at once though every mailbox is full", async () => {
  const prefix = uniqueName("commit-restart");
  const groupId = uniqueName("commit-restart-group");
  const first = `${prefix}-a`;
  await createTopic(first, 1);
  await produce(first, 4_000, 1);
  const a = member(first, groupId, {
    topics: new RegExp(`^${prefix}-`),
    topicRefreshMs: 300,
  });
  const joins: number[] = [];
  a.on("joined", () => joins.push(Date.now()));
  try {
    await a.start();
    await waitFor(
      () => a.status().partitions[0]?.pausedBy.backpressure === true,
      "a's mailbox full",
    );
    // A topic the RegExp matches: the loop subscribes again with a new KafkaJS consumer, whose
    // first batch is the only way it can commit. The new topic is empty: no batch of it.
    await createTopic(`${prefix}-b`, 1);
    await waitFor(() => a.status().partitions.length === 2, "a subscribed to the new topic");
    const kept = a.status().partitions.find((p) => p.topic === first)!;
    const processedAtJoin = kept.processedOffset ?? -1;
    assert.ok(kept.pausedBy.backpressure && kept.mailboxSize > 200, JSON.stringify(kept));
    await waitFor(
      async () => ((await committedOffsets(groupId, first)).get(0) ?? -1) > processedAtJoin + 50,
      "a commits work done after its new consumer joined",
      10_000,
    );
    const now = a.status().partitions.find((p) => p.topic === first)!;
    assert.ok(
      now.pausedBy.backpressure,
      "still paused: the batch fetched for the commit was not taken",
    );
    assert.ok(joins.length >= 2, `joined ${joins.length} time(s)`);
  } finally {
    await a.stop();
  }
});
