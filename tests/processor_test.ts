import assert from "node:assert/strict";
import {
  createProcessor,
  EscalationError,
  type Message,
  type Processor,
  type ProcessorOptions,
} from "../mod.ts";
import {
  committedOffsets,
  createTopic,
  endOffsets,
  produce,
  testBrokers,
  uniqueName,
  waitFor,
} from "./_helpers.ts";

type Seen = Map<number, number[]>;

/** Records, per partition, the offsets a handler completed, in completion order. */
function recorder(seen: Seen = new Map()) {
  return {
    seen,
    record(message: Message<string, Uint8Array>) {
      let offsets = seen.get(message.partition);
      if (!offsets) seen.set(message.partition, offsets = []);
      offsets.push(message.offset);
    },
    get total() {
      let total = 0;
      for (const offsets of seen.values()) total += offsets.length;
      return total;
    },
  };
}

function processorFor(
  topic: string,
  groupId: string,
  handler: ProcessorOptions["handler"],
  extra: Partial<ProcessorOptions> = {},
): Processor {
  return createProcessor({
    brokers: testBrokers(),
    groupId,
    topics: topic,
    fromBeginning: true,
    handler,
    commitIntervalMs: 200,
    restart: { backoff: { initialMs: 10, maxMs: 50 } },
    ...extra,
  });
}

function assertInOrderExactlyOnce(seen: Seen, perPartition: Map<number, number>) {
  for (const [partition, count] of perPartition) {
    const offsets = seen.get(partition) ?? [];
    assert.equal(offsets.length, count, `partition ${partition}: ${offsets.length} of ${count}`);
    offsets.forEach((offset, index) =>
      assert.equal(offset, index, `partition ${partition}: offset ${offset} at position ${index}`)
    );
  }
}

Deno.test("6 partitions x 5,000 messages: each processed once, in order; committed = end", async () => {
  const topic = uniqueName("spine-clean");
  const groupId = uniqueName("spine-clean-group");
  await createTopic(topic, 6);
  await produce(topic, 30_000, 6);
  const { seen, record } = recorder();
  let count = 0;
  const processor = processorFor(topic, groupId, (message) => {
    record(message);
    count++;
  });
  await processor.start();
  await waitFor(() => count >= 30_000, "30,000 processed", 60_000);
  await processor.stop();
  await processor.done;

  assertInOrderExactlyOnce(seen, new Map([0, 1, 2, 3, 4, 5].map((p) => [p, 5000])));
  assert.deepEqual(await committedOffsets(groupId, topic), await endOffsets(topic));
  assert.equal(processor.status().state, "stopped");
});

Deno.test("a handler that throws twice on one message: two restarts, then it is processed", async () => {
  const topic = uniqueName("spine-restart");
  const groupId = uniqueName("spine-restart-group");
  await createTopic(topic, 2);
  await produce(topic, 200, 2);
  const { seen, record } = recorder();
  let failuresLeft = 2;
  const restarts: number[] = [];
  const processor = processorFor(topic, groupId, (message) => {
    if (message.partition === 1 && message.offset === 40 && failuresLeft > 0) {
      failuresLeft--;
      throw new Error("flaky downstream");
    }
    record(message);
  });
  processor.on("actor-restarted", (event) => restarts.push(event.offset));
  await processor.start();
  await waitFor(
    () => (seen.get(0)?.length ?? 0) === 100 && (seen.get(1)?.length ?? 0) === 100,
    "all 200",
  );
  await processor.stop();

  assert.deepEqual(restarts, [40, 40]);
  assertInOrderExactlyOnce(seen, new Map([[0, 100], [1, 100]]));
  const status = processor.status();
  assert.equal(status.state, "stopped");
  assert.deepEqual(await committedOffsets(groupId, topic), new Map([[0, 100], [1, 100]]));
});

Deno.test("a handler that always throws on one message escalates; committed offset = that offset", async () => {
  const topic = uniqueName("spine-escalate");
  const groupId = uniqueName("spine-escalate-group");
  await createTopic(topic, 2);
  await produce(topic, 200, 2);
  const processor = processorFor(topic, groupId, (message) => {
    if (message.partition === 1 && message.offset === 57) throw new Error("poison pill");
  }, { restart: { maxRestarts: 2, withinMs: 60_000, backoff: { initialMs: 10, maxMs: 20 } } });
  const crashes: (number | null)[] = [];
  processor.on("actor-crashed", (event) => crashes.push(event.restartInMs));
  await processor.start();
  const error = await processor.done.then(() => assert.fail("done resolved"), (error) => error);

  assert.ok(error instanceof EscalationError, String(error));
  assert.equal(error.topic, topic);
  assert.equal(error.partition, 1);
  assert.equal(error.offset, 57);
  assert.match(error.message, new RegExp(`${topic}\\[1\\]`));
  assert.match(error.message, /offset 57/);
  assert.match(error.message, /poison pill/);
  assert.equal(crashes.length, 3, "two restarts, then the third crash escalates");
  assert.equal(crashes.at(-1), null);
  assert.equal(processor.status().state, "failed");
  assert.equal((await committedOffsets(groupId, topic)).get(1), 57);
});

Deno.test("backpressure: a full mailbox pauses its partition, a drained one resumes it", async () => {
  const topic = uniqueName("spine-backpressure");
  const groupId = uniqueName("spine-backpressure-group");
  await createTopic(topic, 1);
  // 25 records per producer batch, and a fetch limit below one batch: each fetch brings
  // exactly one batch of 25, so the documented bound is capacity - 1 + 25.
  await produce(topic, 2000, 1, undefined, 25);
  const capacity = 50;
  let processed = 0;
  let largestMailbox = 0;
  const events: string[] = [];
  let processor: Processor | undefined = undefined;
  processor = processorFor(topic, groupId, async () => {
    const size = processor!.status().partitions[0]?.mailboxSize ?? 0;
    largestMailbox = Math.max(largestMailbox, size);
    await new Promise((resolve) => setTimeout(resolve, 1));
    processed++;
  }, { mailboxCapacity: capacity, consumer: { maxBytesPerPartition: 1024 } });
  processor.on("partition-paused", (event) => events.push(`paused:${event.reason}`));
  processor.on("partition-resumed", (event) => events.push(`resumed:${event.reason}`));
  await processor.start();
  await waitFor(() => processed === 2000, "2,000 processed", 60_000);
  await processor.stop();

  assert.ok(events.filter((e) => e === "paused:backpressure").length >= 5, events.join());
  assert.ok(events.filter((e) => e === "resumed:backpressure").length >= 5, events.join());
  assert.ok(largestMailbox >= capacity - 1, `the mailbox filled up (largest ${largestMailbox})`);
  assert.ok(largestMailbox <= capacity - 1 + 25, `largest mailbox ${largestMailbox} > bound`);
  assert.deepEqual(await committedOffsets(groupId, topic), new Map([[0, 2000]]));
});

Deno.test("two processors share a group; one stops mid-stream, the other takes over, nothing lost", async () => {
  const topic = uniqueName("spine-handover");
  const groupId = uniqueName("spine-handover-group");
  await createTopic(topic, 6);
  await produce(topic, 6000, 6);
  const by = new Map<string, string[]>(); // "partition:offset" -> processors, in order
  const slow = (name: string) => async (message: Message<string, Uint8Array>) => {
    await new Promise((resolve) => setTimeout(resolve, 1));
    const key = `${message.partition}:${message.offset}`;
    by.set(key, [...(by.get(key) ?? []), name]);
  };
  const a = processorFor(topic, groupId, slow("a"));
  const b = processorFor(topic, groupId, slow("b"));
  const committedByA = new Map<number, number>();
  a.on("offsets-committed", (event) => {
    for (const { partition, offset } of event.offsets) committedByA.set(partition, offset);
  });
  await a.start();
  await b.start();
  await waitFor(
    () =>
      a.status().partitions.length > 0 && b.status().partitions.length > 0 &&
      a.status().partitions.length + b.status().partitions.length === 6,
    "the six partitions split between the two",
  );
  await waitFor(() => by.size >= 2000, "a third processed");
  await a.stop();
  await waitFor(() => by.size === 6000, "all 6,000 processed", 60_000);
  await b.stop();

  let duplicates = 0;
  for (let partition = 0; partition < 6; partition++) {
    for (let offset = 0; offset < 1000; offset++) {
      const processors = by.get(`${partition}:${offset}`);
      assert.ok(processors, `lost ${partition}:${offset}`);
      if (processors.length > 1) {
        duplicates++;
        assert.deepEqual(processors, ["a", "b"], `${partition}:${offset} by ${processors}`);
        const window = committedByA.get(partition) ?? 0;
        assert.ok(offset >= window, `duplicate ${partition}:${offset} below a's commit ${window}`);
      }
    }
  }
  console.log(`handover: ${duplicates} duplicate(s) of 6,000`);
  assert.deepEqual(await committedOffsets(groupId, topic), await endOffsets(topic));
});

Deno.test("a handler slower than the session timeout does not get the member kicked out", async () => {
  const topic = uniqueName("spine-slow");
  const groupId = uniqueName("spine-slow-group");
  await createTopic(topic, 1);
  await produce(topic, 3, 1);
  let processed = 0;
  const processor = processorFor(topic, groupId, async (message) => {
    if (message.offset === 0) await new Promise((resolve) => setTimeout(resolve, 8_000));
    processed++;
  }, { consumer: { sessionTimeout: 6_000, heartbeatInterval: 1_000, rebalanceTimeout: 10_000 } });
  let joins = 0;
  let rebalances = 0;
  processor.on("joined", () => joins++);
  processor.on("rebalancing", () => rebalances++);
  await processor.start();
  const member = processor.status().memberId;
  await waitFor(() => processed === 3, "3 processed", 30_000);
  await processor.stop();
  assert.equal(joins, 1);
  assert.equal(rebalances, 0);
  assert.equal(processor.status().memberId, member);
});

Deno.test("graceful stop under load, then a new processor continues from the committed offsets", async () => {
  const topic = uniqueName("spine-resume");
  const groupId = uniqueName("spine-resume-group");
  await createTopic(topic, 3);
  await produce(topic, 9000, 3);
  const first = recorder();
  const one = processorFor(topic, groupId, async (message) => {
    await new Promise((resolve) => setTimeout(resolve, 0));
    first.record(message);
  });
  await one.start();
  await waitFor(() => first.total >= 3000, "a third processed");
  await one.stop();
  const committed = await committedOffsets(groupId, topic);
  for (const [partition, offsets] of first.seen) {
    assert.equal(committed.get(partition), offsets.at(-1)! + 1, `partition ${partition}`);
  }

  const second = recorder();
  const two = processorFor(topic, groupId, (message) => second.record(message));
  await two.start();
  await waitFor(() => first.total + second.total >= 9000, "the rest processed", 60_000);
  await two.stop();

  for (let partition = 0; partition < 3; partition++) {
    const before = first.seen.get(partition) ?? [];
    const after = second.seen.get(partition) ?? [];
    assert.equal(
      after[0],
      committed.get(partition) ?? 0,
      `partition ${partition} resumes at the commit`,
    );
    assert.deepEqual([...before, ...after], Array.from({ length: 3000 }, (_, i) => i));
  }
});
