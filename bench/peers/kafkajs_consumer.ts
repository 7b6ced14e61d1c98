/**
 * The raw KafkaJS peer: what a user who picks KafkaJS instead of troupe would write.
 *
 * - `--mode eachbatch`: a no-op `eachBatch` (counts the batch, does nothing else).
 * - `--mode eachmessage`: `eachMessage` awaiting a `--delay-ms` timer per message, with
 *   `partitionsConsumedConcurrently: 12` (one message in flight per partition).
 *
 * Reads `--topic` from the beginning with the fresh `--group` until `--messages` were
 * handled. Timed in the steady state: from the first batch in (after KafkaJS's GROUP_JOIN) to
 * the last message handled, counting the messages after that first batch, so connecting,
 * joining and the first fetch are not counted (`joinMs`, `firstBatchMs` say what they took).
 *
 * @module
 */

import { Kafka, logLevel } from "kafkajs";
import {
  delay,
  finish,
  fixKafkaJsTimerWarning,
  flags,
  numberFlag,
  send,
  stderrLogCreator,
  stringFlag,
} from "../lib/peer.ts";

fixKafkaJsTimerWarning();
const args = flags(["brokers", "topic", "group", "messages", "mode", "delay-ms", "timeout-ms"]);
const topic = stringFlag(args, "topic");
const messages = numberFlag(args, "messages");
const mode = stringFlag(args, "mode");
const delayMs = numberFlag(args, "delay-ms", 5);
const timeoutMs = numberFlag(args, "timeout-ms", 300_000);
if (mode !== "eachbatch" && mode !== "eachmessage") throw new Error(`unknown --mode ${mode}`);

const kafka = new Kafka({
  brokers: stringFlag(args, "brokers").split(","),
  clientId: "bench-kafkajs",
  logLevel: logLevel.ERROR,
  logCreator: stderrLogCreator,
});
const consumer = kafka.consumer({ groupId: stringFlag(args, "group") });

const startedAt = performance.now();
let joinedAt: number | undefined;
let finishedAt: number | undefined;
let handled = 0;
const done = Promise.withResolvers<void>();
consumer.on(consumer.events.GROUP_JOIN, () => {
  if (joinedAt === undefined) {
    joinedAt = performance.now();
    send({ type: "joined" });
  }
});
/** The steady state starts once the first batch is in; that batch is not counted. */
let firstAt: number | undefined;
let firstCount = 0;
const count = (n: number) => {
  if (firstAt === undefined) {
    firstAt = performance.now();
    firstCount = n;
  }
  handled += n;
  if (handled >= messages && finishedAt === undefined) {
    finishedAt = performance.now();
    done.resolve();
  }
};

await consumer.connect();
await consumer.subscribe({ topics: [topic], fromBeginning: true });
if (mode === "eachbatch") {
  await consumer.run({
    eachBatch: ({ batch }) => {
      count(batch.messages.length);
      return Promise.resolve();
    },
  });
} else {
  await consumer.run({
    partitionsConsumedConcurrently: 12,
    eachMessage: async () => {
      await delay(delayMs);
      count(1);
    },
  });
}

const timer = setTimeout(() => done.resolve(), timeoutMs);
await done.promise;
clearTimeout(timer);
const end = finishedAt ?? performance.now();
const from = joinedAt ?? startedAt;
const steadyFrom = firstAt ?? from;
await finish({
  handled: Math.min(handled, messages) - firstCount,
  elapsedMs: end - steadyFrom,
  joinMs: from - startedAt,
  firstBatchMs: steadyFrom - from,
  timedOut: finishedAt === undefined,
}, finishedAt === undefined ? 3 : 0);
