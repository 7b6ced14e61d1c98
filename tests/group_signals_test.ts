import assert from "node:assert/strict";
import { classifyKafkaError } from "../kafka/errors.ts";
import { createProcessor, type ProcessorEvent } from "../mod.ts";
import { createTopic, produce, testBrokers, uniqueName, waitFor } from "./_helpers.ts";

Deno.test("classifyKafkaError: every code that means the group moved on is a rebalance", () => {
  for (
    const type of [
      "REBALANCE_IN_PROGRESS",
      "ILLEGAL_GENERATION",
      "UNKNOWN_MEMBER_ID",
      "NOT_COORDINATOR_FOR_GROUP",
      "FENCED_INSTANCE_ID",
    ]
  ) {
    const error = Object.assign(new Error(type), { name: "KafkaJSProtocolError", type });
    assert.equal(classifyKafkaError(error), "rebalance", type);
    // Also when wrapped, as KafkaJS's retrier does.
    assert.equal(classifyKafkaError(new Error("retries", { cause: error })), "rebalance", type);
  }
  const sasl = Object.assign(new Error("bad password"), { type: "SASL_AUTHENTICATION_FAILED" });
  assert.equal(classifyKafkaError(sasl), "fatal");
  const mixed = Object.assign(new Error("assigners"), { type: "INCONSISTENT_GROUP_PROTOCOL" });
  assert.equal(classifyKafkaError(mixed), "fatal");
  assert.equal(classifyKafkaError(new Error("connect ECONNREFUSED 127.0.0.1:9")), "connection");
  const refused = Object.assign(new Error("too large"), { type: "MESSAGE_TOO_LARGE" });
  assert.equal(classifyKafkaError(refused), "other");
  const looped: Error & { cause?: unknown } = new Error("loop");
  looped.cause = looped;
  assert.equal(classifyKafkaError(looped), "other");
});

Deno.test("status(): a stopping processor's partitions show that their fetching is paused", async () => {
  const topic = uniqueName("status-stopping");
  await createTopic(topic, 2);
  const inHand = Promise.withResolvers<void>();
  const release = Promise.withResolvers<void>();
  const processor = createProcessor({
    brokers: testBrokers(),
    groupId: uniqueName("status-stopping-group"),
    topics: topic,
    fromBeginning: true,
    handler: async () => {
      inHand.resolve();
      await release.promise;
    },
  });
  const stopping = Promise.withResolvers<void>();
  processor.on("stopping", () => stopping.resolve());
  try {
    await processor.start();
    await produce(topic, 2, 2);
    await inHand.promise;
    const stopped = processor.stop();
    await stopping.promise;
    const rows = processor.status().partitions;
    assert.equal(rows.length, 2);
    for (const row of rows) {
      assert.equal(row.paused, true, `${row.topic}[${row.partition}] is paused`);
      assert.equal(row.pausedBy.stopping, true);
      assert.equal(row.phase, "stopping");
    }
    release.resolve();
    await stopped;
  } finally {
    release.resolve();
    await processor.stop();
  }
});

Deno.test("a member the group forgot (frozen past its session) holds its actors and says so before it re-joins", async () => {
  const topic = uniqueName("forgotten");
  await createTopic(topic, 2);
  const worker = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "tests/fixtures/worker.ts",
      JSON.stringify({
        mode: "events",
        brokers: testBrokers(),
        topic,
        groupId: uniqueName("forgotten-group"),
        log: "/dev/null",
      }),
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const events: ProcessorEvent["type"][] = [];
  const reading = (async () => {
    const lines = worker.stdout.pipeThrough(new TextDecoderStream());
    let rest = "";
    for await (const chunk of lines) {
      const parts = (rest + chunk).split("\n");
      rest = parts.pop()!;
      for (const line of parts) if (line) events.push(JSON.parse(line).type);
    }
  })();
  let producing = true;
  const producer = (async () => {
    // Records keep arriving, so the first thing the thawed member does is handle a batch.
    while (producing) {
      await produce(topic, 20, 2);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  })();
  try {
    await waitFor(() => events.includes("joined"), "the worker joined", 60_000);
    await waitFor(() => events.includes("offsets-committed"), "the worker committed", 30_000);
    Deno.kill(worker.pid, "SIGSTOP");
    // The worker's session timeout is 6 s: the coordinator forgets it meanwhile.
    await new Promise((resolve) => setTimeout(resolve, 10_000));
    const thawedAt = events.length;
    Deno.kill(worker.pid, "SIGCONT");
    await waitFor(
      () => events.slice(thawedAt).includes("joined"),
      "the worker re-joined",
      60_000,
    );
    const after = events.slice(thawedAt);
    const rejoined = after.indexOf("joined");
    assert.ok(
      after.slice(0, rejoined).includes("rebalancing"),
      `a rebalancing event before the re-join; got ${after.slice(0, rejoined + 1).join(", ")}`,
    );
  } finally {
    producing = false;
    await producer;
    try {
      Deno.kill(worker.pid, "SIGCONT");
      worker.kill("SIGTERM");
    } catch {
      // Already gone.
    }
    await worker.status;
    await reading;
  }
});
