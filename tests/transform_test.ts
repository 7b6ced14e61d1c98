import assert from "node:assert/strict";
import { createAdmin, createConsumer, createProcessor, json } from "../mod.ts";
import { decodeCompletions } from "../supervisor/completions.ts";
import {
  committedOffsets,
  createTopic,
  endOffsets,
  produce,
  readCommittedValues,
  testBrokers,
  uniqueName,
  waitFor,
} from "./_helpers.ts";

/** Starts the fixture worker; kill it with `kill("SIGKILL")`. */
function startWorker(config: Record<string, unknown>): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "tests/fixtures/worker.ts",
      JSON.stringify({ brokers: testBrokers(), ...config }),
    ],
    stdin: "null",
    stdout: "null",
    stderr: "inherit",
  }).spawn();
}

async function committedTotal(groupId: string, topic: string): Promise<number> {
  let total = 0;
  for (const offset of (await committedOffsets(groupId, topic)).values()) {
    total += Math.max(0, offset);
  }
  return total;
}

/** Every output record of `topic` that a read_committed reader sees: input -> copies. */
async function readOutputs(topic: string, expected: number): Promise<Map<string, number>> {
  const copies = new Map<string, number>();
  let total = 0;
  await using reader = createConsumer({
    brokers: testBrokers(),
    groupId: uniqueName("output-reader"),
    topics: topic,
    fromBeginning: true,
    valueCodec: json<{ input: string }>(),
  });
  const deadline = Date.now() + 60_000;
  while (copies.size < expected && Date.now() < deadline) {
    for (const message of await reader.poll({ timeoutMs: 1000 })) {
      copies.set(message.value!.input, (copies.get(message.value!.input) ?? 0) + 1);
      total++;
    }
  }
  // A little more, to catch duplicates arriving late.
  for (const message of await reader.poll({ timeoutMs: 1500 })) {
    copies.set(message.value!.input, (copies.get(message.value!.input) ?? 0) + 1);
    total++;
  }
  return copies;
}

Deno.test("transform: the handler returns and sends outputs; the input commits after their acks", async () => {
  const topic = uniqueName("transform-in");
  const output = uniqueName("transform-out");
  const audit = uniqueName("transform-audit");
  const groupId = uniqueName("transform-group");
  await createTopic(topic, 2);
  await createTopic(output, 2);
  await createTopic(audit, 1);
  await produce(topic, 200, 2);
  let done = 0;
  const processor = createProcessor({
    brokers: testBrokers(),
    groupId,
    topics: topic,
    fromBeginning: true,
    valueCodec: json<{ id: number }>(),
    output: true,
    handler: async (message, context) => {
      await context.send({ topic: audit, value: { seen: message.value!.id } });
      done++;
      return {
        topic: output,
        key: message.key,
        value: { input: `${message.partition}:${message.offset}` },
      };
    },
  });
  await processor.start();
  await waitFor(() => done === 200, "200 handled");
  await processor.stop();
  const outputs = await readOutputs(output, 200);
  assert.equal(outputs.size, 200);
  await using admin = createAdmin({ brokers: testBrokers() });
  assert.equal((await admin.offsets(audit))[0].end, 200);
  assert.deepEqual(await committedOffsets(groupId, topic), await endOffsets(topic));
});

for (const mode of ["transform", "exactly-once"] as const) {
  Deno.test(`${mode}: kill -9 three times mid-stream; outputs ${mode === "transform" ? "at least" : "exactly"} once`, async () => {
    const topic = uniqueName(`${mode}-kill-in`);
    const output = uniqueName(`${mode}-kill-out`);
    const groupId = uniqueName(`${mode}-kill-group`);
    const log = await Deno.makeTempFile({ prefix: "troupe-worker-" });
    await createTopic(topic, 3);
    await createTopic(output, 3);
    await produce(topic, 3000, 3);
    const config = { mode, topic, groupId, log, output };
    let worker = startWorker(config);
    try {
      for (const share of [0.2, 0.45, 0.7]) {
        await waitFor(
          async () => (await committedTotal(groupId, topic)) >= 3000 * share,
          `${share * 100}% committed`,
          90_000,
        );
        worker.kill("SIGKILL");
        await worker.status;
        worker = startWorker(config);
      }
      await waitFor(
        async () => (await committedTotal(groupId, topic)) === 3000,
        "everything committed",
        120_000,
      );
      worker.kill("SIGTERM");
      await worker.status;
    } finally {
      try {
        worker.kill("SIGKILL");
      } catch {
        // Already gone.
      }
      await worker.status;
      await Deno.remove(log);
    }
    // Kafka's own read_committed consumer is the judge (see readCommittedValues).
    const outputs = new Map<string, number>();
    for (const value of await readCommittedValues(output, 4000)) {
      const { input } = JSON.parse(value) as { input: string };
      outputs.set(input, (outputs.get(input) ?? 0) + 1);
    }
    const missing = [];
    for (let partition = 0; partition < 3; partition++) {
      for (let offset = 0; offset < 1000; offset++) {
        if (!outputs.has(`${partition}:${offset}`)) missing.push(`${partition}:${offset}`);
      }
    }
    assert.deepEqual(missing, [], "inputs without output");
    const duplicated = [...outputs].filter(([, copies]) => copies > 1);
    if (mode === "exactly-once") {
      assert.deepEqual(duplicated, [], "inputs whose output a read_committed reader saw twice");
      // troupe's own reader must agree (KafkaJS's filter alone lets aborted records through).
      const seenByTroupe = await readOutputs(output, 3000);
      assert.equal(seenByTroupe.size, 3000, "inputs whose output troupe's reader missed");
      assert.deepEqual(
        [...seenByTroupe].filter(([, copies]) => copies > 1),
        [],
        "seen twice by troupe",
      );
    }
    console.log(`${mode}: ${outputs.size} inputs, ${duplicated.length} with more than one output`);
  });
}

Deno.test("key mode, kill -9: the next owner skips what the metadata records as done, runs the rest", async () => {
  const topic = uniqueName("key-kill");
  const groupId = uniqueName("key-kill-group");
  const log = await Deno.makeTempFile({ prefix: "troupe-worker-" });
  await createTopic(topic, 1);
  await produce(
    topic,
    400,
    1,
    (i) => ({ partition: 0, key: i === 50 ? "stuck" : `key-${i % 9}`, value: String(i) }),
  );
  const worker = startWorker({ mode: "key", topic, groupId, log });
  let completed = new Set<number>();
  let committedAt = -1;
  try {
    await using admin = createAdmin({ brokers: testBrokers() });
    await waitFor(
      async () => {
        const [row] = await admin.committedOffsets(groupId, [topic]);
        if (row?.offset === null || row?.offset === undefined) return false;
        committedAt = row.offset;
        completed = decodeCompletions(row.metadata, row.offset);
        return committedAt === 50 && completed.size === 349;
      },
      "the worker recorded every completion past the stuck offset",
      60_000,
    );
  } finally {
    worker.kill("SIGKILL");
    await worker.status;
  }

  const ran: number[] = [];
  const processor = createProcessor({
    brokers: testBrokers(),
    groupId,
    topics: topic,
    ordering: "key",
    handler: (message) => void ran.push(message.offset),
  });
  await processor.start();
  await waitFor(() => ran.length === 1, "the one message not completed before", 60_000);
  await waitFor(
    async () => (await committedOffsets(groupId, topic)).get(0) === 400,
    "committed to the end",
  );
  await processor.stop();
  await Deno.remove(log);
  assert.deepEqual(ran, [50], "only the stuck message ran again");
  assert.equal(
    processor.status().partitions[0].skipped,
    349,
    "skipped as recorded in the metadata",
  );
});

Deno.test("exactly-once: outputs of a failed attempt never reach the transaction", async () => {
  const topic = uniqueName("eos-retry-in");
  const output = uniqueName("eos-retry-out");
  await createTopic(topic, 1);
  await createTopic(output, 1);
  await produce(topic, 20, 1);
  const done = new Set<number>();
  let crashesLeft = 3; // offset 9 fails its three attempts once: the actor crashes, then succeeds
  const processor = createProcessor({
    brokers: testBrokers(),
    groupId: uniqueName("eos-retry-group"),
    topics: topic,
    fromBeginning: true,
    exactlyOnce: true,
    retry: { maxAttempts: 3, backoff: { initialMs: 5, maxMs: 10 } },
    restart: { backoff: { initialMs: 5, maxMs: 10 } },
    handler: async (message, context) => {
      await context.send({
        topic: output,
        key: message.key,
        value: { input: `${message.offset}`, sent: true },
      });
      if (message.offset === 5 && context.attempt < 2) throw new Error("fails after sending");
      if (message.offset === 9 && crashesLeft-- > 0) {
        throw new Error("fails every retry: the actor crashes");
      }
      done.add(message.offset);
      return {
        topic: output,
        key: message.key,
        value: { input: `${message.offset}`, sent: false },
      };
    },
  });
  await processor.start();
  await waitFor(() => done.size === 20, "all 20 done");
  await processor.stop();
  const copies = new Map<string, number>();
  for (const value of await readCommittedValues(output, 4000)) {
    const record = JSON.parse(value) as { input: string; sent: boolean };
    const key = `${record.input}:${record.sent}`;
    copies.set(key, (copies.get(key) ?? 0) + 1);
  }
  assert.equal(copies.size, 40, "a sent and a returned output per input");
  assert.deepEqual([...copies].filter(([, n]) => n !== 1), [], "outputs seen more than once");
});
