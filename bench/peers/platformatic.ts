/**
 * The `@platformatic/kafka` peers: the JavaScript client people now pick instead of KafkaJS,
 * configured the way its own README says for throughput, on the same records as the others.
 *
 * - `--mode noop`: a consumer stream read in flowing mode (`'data'` events), doing nothing with
 *   each message, from the earliest offset, with a fresh group. The fetch settings are the ones
 *   every consumer of the benchmark gets (1 MiB per partition, 10 MiB per request, `minBytes` 1);
 *   `highWaterMark` is raised from its 1,024 messages, which its README names as the knob that
 *   trades memory for throughput, and auto-commit is off, as in its own benchmarks. Timed from
 *   its first message (the group joined, a fetch in) to the N-th.
 * - `--mode produce`: one idempotent producer (`acks` all, the guarantee troupe's producer gives;
 *   it then allows one request in flight, as KafkaJS does), `--tasks` loops each awaiting `send`
 *   of `--chunk` records, as the raw KafkaJS producer peer does. Timed from the first send to the
 *   last acknowledgement, after connecting.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import {
  Consumer,
  MessagesStreamModes,
  ProduceAcks,
  Producer,
  stringSerializers,
} from "@platformatic/kafka";
import {
  finish,
  fixKafkaJsTimerWarning,
  flags,
  numberFlag,
  send,
  stringFlag,
} from "../lib/peer.ts";

fixKafkaJsTimerWarning();
const args = flags([
  "brokers",
  "topic",
  "group",
  "messages",
  "mode",
  "tasks",
  "chunk",
  "record-size",
  "keys",
  "high-water-mark",
  "timeout-ms",
]);
const brokers = stringFlag(args, "brokers").split(",");
const topic = stringFlag(args, "topic");
const messages = numberFlag(args, "messages");
const mode = stringFlag(args, "mode");

/** The consumer's in-memory buffer, messages: its README's throughput knob (default 1,024). */
const HIGH_WATER_MARK = 16_384;

async function noop(): Promise<Record<string, unknown>> {
  const consumer = new Consumer({
    clientId: "bench-platformatic",
    groupId: stringFlag(args, "group"),
    bootstrapBrokers: brokers,
    minBytes: 1,
    maxBytes: 10_485_760,
    maxBytesPerPartition: 1_048_576,
    maxWaitTime: 500,
    highWaterMark: numberFlag(args, "high-water-mark", HIGH_WATER_MARK),
    autocommit: false,
  });
  const startedAt = performance.now();
  let joinedAt: number | undefined;
  let finishedAt: number | undefined;
  let handled = 0;
  const done = Promise.withResolvers<void>();
  consumer.on("consumer:group:join", () => {
    if (joinedAt !== undefined) return;
    joinedAt = performance.now();
    send({ type: "joined" });
  });
  const stream = await consumer.consume({
    topics: [topic],
    mode: MessagesStreamModes.EARLIEST,
  });
  // The steady state starts with the first message: the group is joined, a fetch is in.
  let firstAt: number | undefined;
  stream.on("data", () => {
    if (firstAt === undefined) firstAt = performance.now();
    if (++handled === messages) {
      finishedAt = performance.now();
      done.resolve();
    }
  });
  stream.on("error", (error) => done.reject(error));
  const timer = setTimeout(() => done.resolve(), numberFlag(args, "timeout-ms", 300_000));
  await done.promise;
  clearTimeout(timer);
  const end = finishedAt ?? performance.now();
  const from = joinedAt ?? startedAt;
  const steadyFrom = firstAt ?? from;
  return {
    handled: Math.min(handled, messages) - (firstAt ? 1 : 0),
    elapsedMs: end - steadyFrom,
    joinMs: from - startedAt,
    firstBatchMs: steadyFrom - from,
    timedOut: finishedAt === undefined,
  };
}

async function produce(): Promise<Record<string, unknown>> {
  const tasks = numberFlag(args, "tasks", 4);
  const chunk = numberFlag(args, "chunk", 1000);
  const keys = numberFlag(args, "keys", 1000);
  // One value for every record, as the other producer peers send.
  const value = Buffer.from(
    new Uint8Array(numberFlag(args, "record-size", 100)).map(() =>
      65 + Math.floor(Math.random() * 26)
    ),
  );
  const producer = new Producer({
    clientId: "bench-platformatic-producer",
    bootstrapBrokers: brokers,
    idempotent: true,
    acks: ProduceAcks.ALL,
    serializers: { key: stringSerializers.key },
  });
  // Connecting is not timed: one send before the clock starts fetches metadata and the
  // producer id, as the other peers' connect() does.
  await producer.send({ messages: [{ topic, key: "warm-up", value }] });
  const started = performance.now();
  await Promise.all(Array.from({ length: tasks }, async (_, task) => {
    for (let start = task * chunk; start < messages; start += tasks * chunk) {
      const batch = [];
      for (let i = start; i < Math.min(messages, start + chunk); i++) {
        batch.push({ topic, key: String(i % keys), value });
      }
      await producer.send({ messages: batch });
    }
  }));
  const elapsedMs = performance.now() - started;
  await producer.close();
  return { handled: messages, elapsedMs };
}

if (mode === "noop") await finish(await noop());
else if (mode === "produce") await finish(await produce());
else throw new Error(`unknown --mode ${mode}`);
