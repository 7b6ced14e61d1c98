/**
 * What troupe's producer layer costs per record, without a broker: the same 50-task
 * `sendAll` load as the benchmark's producer row, through `createProducer` over a stub
 * KafkaJS client whose `sendBatch` partitions the records (KafkaJS's default partitioner, as
 * the real one) and answers at once, against the same records handed straight to the stub's
 * `sendBatch` in chunks of 1,000. The difference is troupe's own work (queueing, per-record
 * promises, placement, settling), measured in one process, so the machine's load moves it
 * much less than the end-to-end figures.
 *
 * ```sh
 * deno run --allow-env bench/producer_overhead.ts [records] [rounds]
 * ```
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { type Kafka, type Message, Partitioners } from "kafkajs";
import { registerMemoryCluster } from "../kafka/client.ts";
import { createProducer } from "../mod.ts";

const PARTITIONS = 12;
const KEYS = 1_000;
const partitionMetadata = Array.from({ length: PARTITIONS }, (_, partitionId) => ({
  partitionId,
  leader: 0,
  replicas: [0],
  isr: [0],
  offlineReplicas: [],
  partitionErrorCode: 0,
}));

type SendBatch = (request: {
  topicMessages: { topic: string; messages: Message[] }[];
}) => Promise<Record<string, unknown>[]>;

/** A KafkaJS producer that partitions like KafkaJS and acknowledges at once. */
function stubProducer(createPartitioner = Partitioners.DefaultPartitioner) {
  const partitioner = createPartitioner();
  const next = new Array<number>(PARTITIONS).fill(0);
  const sendBatch: SendBatch = async ({ topicMessages }) => {
    const results: Record<string, unknown>[] = [];
    for (const { topic, messages } of topicMessages) {
      const counts = new Map<number, number>();
      for (const message of messages) {
        const partition = message.partition ??
          partitioner({ topic, partitionMetadata, message });
        counts.set(partition, (counts.get(partition) ?? 0) + 1);
      }
      for (const [partition, count] of counts) {
        results.push({
          topicName: topic,
          partition,
          errorCode: 0,
          baseOffset: String(next[partition]),
          logAppendTime: "-1",
          logStartOffset: "0",
        });
        next[partition] += count;
      }
    }
    await Promise.resolve(); // the answer comes back in a later task, as a network one does
    return results;
  };
  return {
    connect: () => Promise.resolve(),
    disconnect: () => Promise.resolve(),
    sendBatch,
  };
}

const stubKafka = {
  producer: (config: { createPartitioner?: typeof Partitioners.DefaultPartitioner }) =>
    stubProducer(config.createPartitioner),
} as unknown as Kafka;

const value = new Uint8Array(100).fill(65);
const buffer = Buffer.from(value);
const keyOf = (i: number) => String(i % KEYS);

async function raw(records: number): Promise<number> {
  const producer = stubProducer();
  const started = performance.now();
  await Promise.all(Array.from({ length: 4 }, async (_, task) => {
    for (let start = task * 1000; start < records; start += 4000) {
      const messages: Message[] = [];
      for (let i = start; i < Math.min(records, start + 1000); i++) {
        messages.push({ key: keyOf(i), value: buffer });
      }
      await producer.sendBatch({ topicMessages: [{ topic: "t", messages }] });
    }
  }));
  return performance.now() - started;
}

async function troupe(records: number): Promise<number> {
  const unregister = registerMemoryCluster("producer-overhead", () => stubKafka);
  const producer = createProducer({ brokers: "memory://producer-overhead" });
  await producer.connect();
  const started = performance.now();
  await Promise.all(Array.from({ length: 50 }, async (_, task) => {
    const mine: number[] = [];
    for (let i = task; i < records; i += 50) mine.push(i);
    for (let i = 0; i < mine.length; i += 100) {
      await producer.sendAll(
        mine.slice(i, i + 100).map((n) => ({ topic: "t", key: keyOf(n), value })),
      );
    }
  }));
  const elapsed = performance.now() - started;
  await producer.close();
  unregister();
  return elapsed;
}

if (import.meta.main) {
  const records = Number(Deno.args[0] ?? 300_000);
  const rounds = Number(Deno.args[1] ?? 5);
  const times = { raw: [] as number[], troupe: [] as number[] };
  for (let round = 0; round < rounds; round++) {
    times.raw.push(await raw(records));
    times.troupe.push(await troupe(records));
  }
  const median = (list: number[]) => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)];
  const perRecord = (ms: number) => (ms * 1000 / records).toFixed(2);
  const r = median(times.raw);
  const t = median(times.troupe);
  console.log(
    `${records} records, median of ${rounds} rounds (linger waits included in troupe's):\n` +
      `  stub sendBatch alone (partitioning):   ${perRecord(r)} us/record\n` +
      `  through createProducer, 50 tasks:      ${perRecord(t)} us/record\n` +
      `  troupe's layer:                        ${perRecord(t - r)} us/record`,
  );
}
