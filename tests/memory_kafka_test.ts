// The in-memory Kafka of troupe/testing: that it emulates what troupe needs from KafkaJS, and
// that users can test handlers and supervision on it. It proves nothing about Kafka itself:
// the other suites do that against a real broker.
import assert from "node:assert/strict";
import {
  createProcessor,
  KafkaConnectionError,
  type Message,
  type Processor,
  type ProcessorEvent,
  type ProcessorOptions,
} from "../mod.ts";
import { createKafkaClient } from "../kafka/client.ts";
import { GroupCoordinator } from "../testing/memory/group.ts";
import { type MemoryKafka, startMemoryKafka } from "../testing/mod.ts";
import { waitFor } from "./_helpers.ts";

/** Produces `perPartition` records to each partition, record i with header `i` and timestamp i. */
function fill(kafka: MemoryKafka, topic: string, partitions: number, perPartition: number) {
  kafka.createTopic(topic, partitions);
  for (let partition = 0; partition < partitions; partition++) {
    kafka.produce(
      topic,
      Array.from({ length: perPartition }, (_, i) => ({
        partition,
        value: `${partition}:${i}`,
        headers: { i: String(i) },
        timestamp: i,
      })),
    );
  }
}

function processorOn(
  kafka: MemoryKafka,
  groupId: string,
  handler: ProcessorOptions["handler"],
  extra: Partial<ProcessorOptions> = {},
): Processor {
  return createProcessor({
    brokers: kafka.brokers,
    groupId,
    topics: "orders",
    fromBeginning: true,
    handler,
    commitIntervalMs: 20,
    restart: { backoff: { initialMs: 5, maxMs: 20 } },
    // Rebalances surface at the next heartbeat: keep them quick.
    consumer: { heartbeatInterval: 20, maxWaitTimeInMs: 20 },
    ...extra,
  });
}

/** Offsets each partition's handler completed, in completion order. */
function recorder() {
  const seen = new Map<number, number[]>();
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

function events(processor: Processor): ProcessorEvent[] {
  const log: ProcessorEvent[] = [];
  processor.on("*", (event) => log.push(event));
  return log;
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

Deno.test("in-memory: every message is processed once, in order, and the end offsets committed", async () => {
  await using kafka = startMemoryKafka();
  fill(kafka, "orders", 3, 200);
  const { seen, record } = recorder();
  const wrong: unknown[] = [];
  const processor = processorOn(kafka, "billing", (message) => {
    const i = String(message.offset);
    const value = new TextDecoder().decode(message.rawValue!);
    if (
      value !== `${message.partition}:${i}` || message.headers.i !== i ||
      message.timestamp !== message.offset
    ) {
      wrong.push(message);
    }
    record(message);
  });
  await processor.start();
  await waitFor(() => processor.status().totals.processed === 600, "600 processed");
  await processor.stop();
  await processor.done;

  assert.deepEqual(wrong, [], "values, headers and timestamps as produced");
  for (const partition of range(3)) assert.deepEqual(seen.get(partition), range(200));
  assert.deepEqual(kafka.committed("billing", "orders"), [200, 200, 200]);
  assert.deepEqual(kafka.endOffsets("orders"), [200, 200, 200]);
  assert.equal(kafka.group("billing").state, "Empty", "the member left the group");
});

Deno.test("in-memory: a crashing handler is restarted at the failed message; nothing is skipped", async () => {
  await using kafka = startMemoryKafka();
  fill(kafka, "orders", 2, 100);
  const { seen, record } = recorder();
  let failuresLeft = 2;
  const processor = processorOn(kafka, "billing", (message) => {
    if (message.partition === 1 && message.offset === 40 && failuresLeft-- > 0) {
      throw new Error("payment gateway timed out");
    }
    record(message);
  });
  const restarts: number[] = [];
  processor.on("actor-restarted", (event) => restarts.push(event.offset));
  await processor.start();
  await waitFor(() => processor.status().totals.processed === 200, "200 processed");
  await processor.stop();

  assert.deepEqual(restarts, [40, 40]);
  assert.deepEqual(seen.get(0), range(100));
  assert.deepEqual(seen.get(1), range(100));
  assert.deepEqual(kafka.committed("billing", "orders"), [100, 100]);
});

Deno.test("in-memory: an injected rebalance of a two-processor group loses nothing", async () => {
  await using kafka = startMemoryKafka();
  fill(kafka, "orders", 4, 300);
  const by = new Map<string, string[]>();
  const handler = (name: string) => async (message: Message<string, Uint8Array>) => {
    await new Promise((resolve) => setTimeout(resolve, 1));
    const key = `${message.partition}:${message.offset}`;
    by.set(key, [...(by.get(key) ?? []), name]);
  };
  const a = processorOn(kafka, "billing", handler("a"));
  const b = processorOn(kafka, "billing", handler("b"));
  const aEvents = events(a);
  const bEvents = events(b);
  await a.start();
  await b.start();
  assert.deepEqual(
    kafka.group("billing").members.map((member) => member.assignment),
    [{ orders: [0, 1] }, { orders: [2, 3] }],
    "sticky: the first member keeps half of what it had, the second takes the rest",
  );
  await waitFor(() => by.size >= 300, "a quarter processed");

  const before = kafka.group("billing").generationId;
  const generation = await kafka.faults.rebalance("billing");
  assert.equal(generation, before + 1);
  for (const log of [aEvents, bEvents]) {
    const types = log.map((event) => event.type);
    const rebalanced = types.lastIndexOf("rebalancing");
    assert.ok(rebalanced >= 0, `rebalancing reported: ${types}`);
    assert.ok(types.indexOf("joined", rebalanced) > rebalanced, "then joined again");
  }

  await waitFor(() => by.size === 1200, "all 1,200 processed");
  await a.stop();
  await b.stop();
  for (const partition of range(4)) {
    for (const offset of range(300)) assert.ok(by.has(`${partition}:${offset}`), "none lost");
  }
  assert.deepEqual(kafka.committed("billing", "orders"), kafka.endOffsets("orders"));
});

Deno.test("in-memory: injected commit failures are survived; rebalance-type ones are reported as such", async () => {
  await using kafka = startMemoryKafka();
  fill(kafka, "orders", 2, 50);
  kafka.faults.failCommits(2, { groupId: "billing", type: "REBALANCE_IN_PROGRESS" });
  kafka.faults.failCommits(1, { groupId: "billing", type: "REQUEST_TIMED_OUT" });
  const processor = processorOn(kafka, "billing", () => {});
  const failures: { type?: string; rebalance: boolean }[] = [];
  processor.on("commit-failed", (event) => {
    failures.push({ type: (event.error as { type?: string }).type, rebalance: event.rebalance });
  });
  await processor.start();
  await waitFor(
    () => kafka.committed("billing", "orders").every((offset) => offset === 50),
    "committed = end",
  );
  await processor.stop();

  assert.deepEqual(failures, [
    { type: "REBALANCE_IN_PROGRESS", rebalance: true },
    { type: "REBALANCE_IN_PROGRESS", rebalance: true },
    { type: "REQUEST_TIMED_OUT", rebalance: false },
  ]);
  assert.equal(processor.status().totals.processed, 100);
});

Deno.test("in-memory: a consumer crash KafkaJS restarts loses nothing; one it does not fails the processor", async () => {
  await using kafka = startMemoryKafka();
  fill(kafka, "orders", 2, 200);
  const processed = new Set<string>();
  const processor = processorOn(kafka, "billing", async (message) => {
    await new Promise((resolve) => setTimeout(resolve, 0));
    processed.add(`${message.partition}:${message.offset}`);
  });
  const log = events(processor);
  await processor.start();
  await waitFor(() => processed.size >= 100, "some processed");
  assert.equal(kafka.faults.crashConsumer({ groupId: "billing", restartAfterMs: 10 }), 1);
  await waitFor(() => processed.size === 400, "all 400 processed");
  const crash = log.find((event) => event.type === "consumer-crashed");
  assert.ok(crash?.type === "consumer-crashed" && crash.restarting);
  assert.equal(log.filter((event) => event.type === "joined").length, 2, "joined again");
  await waitFor(
    () => kafka.committed("billing", "orders").every((offset) => offset === 200),
    "committed = end",
  );

  assert.equal(kafka.faults.crashConsumer({ groupId: "billing", restart: false }), 1);
  const error = await processor.done.then(() => assert.fail("done resolved"), (error) => error);
  assert.ok(error instanceof KafkaConnectionError, String(error));
  assert.equal(processor.status().state, "failed");
});

Deno.test("in-memory KafkaJS consumer: a member joining fails the other's heartbeat, which re-joins", async () => {
  await using kafka = startMemoryKafka();
  kafka.createTopic("orders", 2);
  kafka.produce("orders", [{ partition: 0, value: "a" }, { partition: 1, value: "b" }]);
  const client = createKafkaClient({ brokers: kafka.brokers });
  // Every heartbeat() reaches the coordinator; an idle fetch waits long enough not to send one.
  const settings = { groupId: "g", heartbeatInterval: 0, maxWaitTimeInMs: 5_000 };
  const first = client.consumer(settings);
  const order: string[] = [];
  first.on(first.events.GROUP_JOIN, (event) => {
    order.push(`join ${JSON.stringify(event.payload.memberAssignment)}`);
  });
  first.on(first.events.REBALANCING, () => order.push("rebalancing"));
  const heartbeatErrors: { type?: string }[] = [];
  let batches = 0;
  await first.connect();
  await first.subscribe({ topics: [/^ord/], fromBeginning: true });
  await first.run({
    autoCommit: false,
    eachBatch: async (payload) => {
      batches++;
      try {
        await payload.heartbeat();
      } catch (error) {
        heartbeatErrors.push(error as { type?: string });
        throw error;
      }
    },
  });
  assert.deepEqual(order, ['join {"orders":[0,1]}'], "GROUP_JOIN fired before run resolved");
  await waitFor(() => batches === 2, "both partitions fetched");
  const generation = kafka.group("g").generationId;

  const second = client.consumer(settings);
  await second.connect();
  await second.subscribe({ topic: "orders", fromBeginning: true });
  const joining = second.run({ autoCommit: false, eachBatch: async () => {} });
  await waitFor(() => kafka.group("g").state === "PreparingRebalance", "the second joining");
  kafka.produce("orders", { partition: 0, value: "c" }); // a batch for the first to heartbeat in
  await joining;

  assert.deepEqual(order, ['join {"orders":[0,1]}', "rebalancing", 'join {"orders":[0]}']);
  assert.deepEqual(heartbeatErrors.map((error) => error.type), ["REBALANCE_IN_PROGRESS"]);
  assert.equal(kafka.group("g").generationId, generation + 1);
  await first.disconnect();
  await second.disconnect();
  assert.equal(kafka.group("g").state, "Empty");
});

Deno.test("in-memory group coordinator: commits are fenced by generation", async () => {
  let members = 0;
  const group = new GroupCoordinator("g", {
    partitionsOf: () => 2,
    newMemberId: (clientId) => `${clientId}-${++members}`,
  });
  const request = {
    memberId: "",
    clientId: "c",
    topics: ["orders"],
    rebalanceTimeout: 1_000,
    protocols: ["RoundRobinAssigner"],
  };
  const offsets = (offset: number) => [{ topic: "orders", partitions: [{ partition: 0, offset }] }];
  const type = (expected: string) => (error: { type?: string }) => error.type === expected;

  const a = group.join(request);
  const first = (await a.response).generationId;
  assert.deepEqual(await group.sync(a.memberId, first), { orders: [0, 1] });
  group.commit(a.memberId, first, offsets(1));

  const b = group.join(request); // a new member: the group prepares a rebalance
  assert.throws(() => group.heartbeat(a.memberId, first), type("REBALANCE_IN_PROGRESS"));
  group.commit(a.memberId, first, offsets(2)); // still its generation: a last commit is accepted
  const rejoined = group.join({ ...request, memberId: a.memberId });
  const [joinedA, joinedB] = await Promise.all([rejoined.response, b.response]);
  assert.equal(joinedA.generationId, first + 1);
  assert.equal(joinedB.leaderId, a.memberId);

  assert.throws(() => group.commit(a.memberId, first, offsets(3)), type("ILLEGAL_GENERATION"));
  assert.throws(
    () => group.commit(b.memberId, first + 1, offsets(3)),
    type("REBALANCE_IN_PROGRESS"),
    "before the leader synced",
  );
  const followerSync = group.sync(b.memberId, first + 1); // waits for the leader's
  assert.deepEqual(await group.sync(a.memberId, first + 1), { orders: [0] });
  assert.deepEqual(await followerSync, { orders: [1] });
  group.commit(b.memberId, first + 1, offsets(3));
  assert.throws(() => group.commit("nobody", first + 1, offsets(4)), type("UNKNOWN_MEMBER_ID"));
  assert.deepEqual(group.committed("orders", 0), { offset: 3, metadata: null });
  group.leave(a.memberId);
  group.leave(b.memberId);
  assert.equal(group.state, "Empty");
});

Deno.test("the demo runs on the in-memory Kafka when Java is not on PATH", async () => {
  const emptyPath = await Deno.makeTempDir({ prefix: "troupe-no-java-" });
  try {
    const env: Record<string, string> = { PATH: emptyPath, NO_COLOR: "1" };
    for (const name of ["HOME", "DENO_DIR", "XDG_CACHE_HOME", "TROUPE_CACHE_DIR"]) {
      const value = Deno.env.get(name);
      if (value !== undefined) env[name] = value;
    }
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "main.ts", "demo", "--messages", "2000"],
      cwd: new URL("..", import.meta.url).pathname,
      clearEnv: true, // no KAFKA_BROKERS either
      env,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stdout = new TextDecoder().decode(output.stdout);
    const stderr = new TextDecoder().decode(output.stderr);
    assert.equal(output.code, 0, `${stdout}\n${stderr}`);
    assert.match(stdout, /Java\/Maven not found: running the demo on troupe's in-memory Kafka/);
    assert.match(stdout, /processed +2000/);
    assert.match(stdout, /Nothing was lost/);
  } finally {
    await Deno.remove(emptyPath, { recursive: true });
  }
});

Deno.test("in-memory: round robin when asked; members with different assigners cannot share a group", async () => {
  await using kafka = startMemoryKafka();
  fill(kafka, "orders", 4, 10);
  const roundRobin = () =>
    createProcessor({
      brokers: kafka.brokers,
      groupId: "billing",
      topics: "orders",
      partitionAssigner: "round-robin",
      consumer: { heartbeatInterval: 20 },
      handler: () => {},
    });
  const a = roundRobin();
  const b = roundRobin();
  await a.start();
  await b.start();
  assert.deepEqual(
    kafka.group("billing").members.map((member) => member.assignment),
    [{ orders: [0, 2] }, { orders: [1, 3] }],
    "round robin over the members, in the order they joined",
  );
  const sticky = createProcessor({
    brokers: kafka.brokers,
    groupId: "billing",
    topics: "orders",
    connectTimeoutMs: 2_000,
    handler: () => {},
  });
  await assert.rejects(() => sticky.start(), /different partition assigners/);
  await Promise.all([a.stop(), b.stop(), sticky.stop().catch(() => {})]);
});
