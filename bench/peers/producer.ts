/**
 * The producer peers: raw KafkaJS `sendBatch` and troupe's `createProducer`, sending the same
 * records (100-byte values, keys from 1,000 distinct ones, `acks: all`).
 *
 * - `--client kafkajs`: one idempotent KafkaJS producer (the same delivery guarantee troupe's
 *   producer gives by default), `--tasks` loops each awaiting `sendBatch` of `--chunk`
 *   records. KafkaJS allows one request in flight per broker for an idempotent producer;
 *   a few loops keep the next batch encoded and queued while one is on the wire.
 * - `--client troupe`: one `createProducer` (defaults: idempotent, acks all, 5 ms linger)
 *   shared by `--tasks` concurrent tasks (50), each awaiting `sendAll` of `--chunk` records
 *   (100) at a time: like 50 request handlers that each publish a small batch, so up to
 *   5,000 records are outstanding and the producer gathers them into requests itself.
 *   (Awaiting every single `send` would cap each task at one record per linger period:
 *   a latency pattern, not a throughput one.)
 * - `--client troupe --rate R --duration-ms D`: the latency run's load: R records per second,
 *   paced every 10 ms, for D ms, each record stamped with the time of its `send` call so that
 *   the latency measured includes the producer's linger. Reports the send-to-acknowledgement
 *   percentiles of the records sent after `--warmup-ms`.
 *
 * Throughput is timed from the first send to the last acknowledgement; connecting is not
 * counted.
 *
 * @module
 */

import { Kafka, logLevel, type Message } from "kafkajs";
import { Buffer } from "node:buffer";
import { createProducer } from "../../mod.ts";
import {
  delay,
  finish,
  fixKafkaJsTimerWarning,
  flags,
  numberFlag,
  stderrLogCreator,
  stringFlag,
} from "../lib/peer.ts";

fixKafkaJsTimerWarning();
const args = flags([
  "brokers",
  "topic",
  "client",
  "messages",
  "tasks",
  "chunk",
  "rate",
  "duration-ms",
  "record-size",
  "keys",
  "warmup-ms",
]);
const brokers = stringFlag(args, "brokers");
const topic = stringFlag(args, "topic");
const client = stringFlag(args, "client");
const recordSize = numberFlag(args, "record-size", 100);
const keys = numberFlag(args, "keys", 1000);

// One value for every record, as Kafka's ProducerPerformance does: random uppercase letters.
const value = new Uint8Array(recordSize).map(() => 65 + Math.floor(Math.random() * 26));
const keyOf = (i: number) => String(i % keys);

/** Splits `count` records over `tasks` tasks; task t gets every record i with i % tasks == t. */
function share(count: number, tasks: number, task: number): number[] {
  const mine: number[] = [];
  for (let i = task; i < count; i += tasks) mine.push(i);
  return mine;
}

async function kafkajsThroughput(messages: number, tasks: number, chunk: number) {
  const kafka = new Kafka({
    brokers: brokers.split(","),
    clientId: "bench-kafkajs-producer",
    logLevel: logLevel.ERROR,
    logCreator: stderrLogCreator,
  });
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const buffer = Buffer.from(value);
  const started = performance.now();
  await Promise.all(Array.from({ length: tasks }, async (_, task) => {
    const mine = share(messages, tasks, task);
    for (let i = 0; i < mine.length; i += chunk) {
      const batch: Message[] = mine.slice(i, i + chunk).map((n) => ({
        key: keyOf(n),
        value: buffer,
      }));
      await producer.sendBatch({ acks: -1, topicMessages: [{ topic, messages: batch }] });
    }
  }));
  const elapsedMs = performance.now() - started;
  await producer.disconnect();
  return { handled: messages, elapsedMs };
}

async function troupeThroughput(messages: number, tasks: number, chunk: number) {
  const producer = createProducer({ brokers, clientId: "bench-troupe-producer" });
  await producer.connect();
  const started = performance.now();
  await Promise.all(Array.from({ length: tasks }, async (_, task) => {
    const mine = share(messages, tasks, task);
    for (let i = 0; i < mine.length; i += chunk) {
      await producer.sendAll(
        mine.slice(i, i + chunk).map((n) => ({ topic, key: keyOf(n), value })),
      );
    }
  }));
  const elapsedMs = performance.now() - started;
  await producer.close();
  return { handled: messages, elapsedMs };
}

async function troupeSteady(rate: number, durationMs: number, warmupMs: number) {
  const producer = createProducer({ brokers, clientId: "bench-troupe-load" });
  await producer.connect();
  const total = Math.round(rate * durationMs / 1000);
  const sends: Promise<unknown>[] = [];
  let failed = 0;
  let sent = 0;
  // Send-to-acknowledgement times: how much of the end-to-end latency is the producer's.
  const acks: number[] = [];
  const started = performance.now();
  // Catch up to the schedule every 10 ms: the rate stays steady even when a tick is late.
  while (sent < total) {
    const due = Math.min(total, Math.floor((performance.now() - started) * rate / 1000));
    for (; sent < due; sent++) {
      const timestamp = Date.now();
      const warm = performance.now() - started >= warmupMs;
      sends.push(
        producer.send({ topic, key: keyOf(sent), value, timestamp }).then(
          () => warm && acks.push(Date.now() - timestamp),
          () => failed++,
        ),
      );
    }
    await delay(10);
  }
  await Promise.all(sends);
  const elapsedMs = performance.now() - started;
  await producer.close();
  acks.sort((a, b) => a - b);
  const at = (q: number) => acks[Math.min(acks.length - 1, Math.floor(q * acks.length))];
  return { handled: total - failed, failed, elapsedMs, ackP50Ms: at(0.5), ackP99Ms: at(0.99) };
}

let result: Record<string, unknown>;
if (args.rate !== undefined) {
  if (client !== "troupe") throw new Error("--rate is for --client troupe");
  result = await troupeSteady(
    numberFlag(args, "rate"),
    numberFlag(args, "duration-ms"),
    numberFlag(args, "warmup-ms", 0),
  );
} else {
  const messages = numberFlag(args, "messages");
  if (client === "kafkajs") {
    result = await kafkajsThroughput(
      messages,
      numberFlag(args, "tasks", 4),
      numberFlag(args, "chunk", 1000),
    );
  } else if (client === "troupe") {
    result = await troupeThroughput(
      messages,
      numberFlag(args, "tasks", 50),
      numberFlag(args, "chunk", 100),
    );
  } else {
    throw new Error(`unknown --client ${client}`);
  }
}
await finish(result);
