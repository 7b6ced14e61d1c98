/**
 * Shared helpers of troupe's own tests (not part of the public API).
 *
 * @module
 */

import { Kafka, logLevel } from "kafkajs";
import { fixKafkaJsTimerWarning } from "../kafka/timer_warning.ts";

/** The broker `deno task test` started (or the one in `KAFKA_BROKERS`). */
export function testBrokers(): string[] {
  const brokers = Deno.env.get("KAFKA_BROKERS");
  if (!brokers) {
    throw new Error("KAFKA_BROKERS is not set: run the suite with `deno task test`");
  }
  return brokers.split(",").map((broker) => broker.trim()).filter(Boolean);
}

/** A name no other test (or earlier run) uses. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${crypto.randomUUID().slice(0, 8)}`;
}

/** A quiet KafkaJS client for test fixtures. */
export function kafkaClient(brokers: string[] = testBrokers()): Kafka {
  fixKafkaJsTimerWarning(); // as troupe's own clients do: no warning in the tests' output
  return new Kafka({ brokers, clientId: "troupe-tests", logLevel: logLevel.NOTHING });
}

/** Waits until `condition()` is true, polling; fails with `message` after `timeoutMs`. */
export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  message: string,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${message}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Creates a topic and waits until it has a leader for each partition. */
export async function createTopic(
  topic: string,
  numPartitions: number,
  brokers: string[] = testBrokers(),
  configEntries: { name: string; value: string }[] = [],
): Promise<void> {
  const admin = kafkaClient(brokers).admin();
  await admin.connect();
  try {
    try {
      await admin.createTopics({
        topics: [{ topic, numPartitions, replicationFactor: 1, configEntries }],
        waitForLeaders: true,
      });
    } catch (error) {
      // Under load the broker can answer KafkaJS's wait for leaders before its metadata knows
      // the new topic (UNKNOWN_TOPIC_OR_PARTITION, which KafkaJS does not retry): wait here.
      if ((error as { type?: string }).type !== "UNKNOWN_TOPIC_OR_PARTITION") throw error;
      await waitFor(
        async () => {
          try {
            const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
            return topics[0]?.partitions.every((p) => p.leader >= 0) ?? false;
          } catch {
            return false;
          }
        },
        `topic ${topic} to have leaders`,
        15_000,
      );
    }
  } finally {
    await admin.disconnect();
  }
}

/** True when a process with this pid exists and its command line mentions `needle`. */
export function processMentions(pid: number, needle: string): boolean {
  try {
    return Deno.readTextFileSync(`/proc/${pid}/cmdline`).includes(needle);
  } catch {
    return false;
  }
}

/** Grows a topic to `count` partitions. */
export async function addPartitions(topic: string, count: number): Promise<void> {
  const admin = kafkaClient().admin();
  await admin.connect();
  try {
    await admin.createPartitions({ topicPartitions: [{ topic, count }] });
  } finally {
    await admin.disconnect();
  }
}

/** A message to produce in a test: explicit partition so tests know where it lands. */
export interface TestRecord {
  partition: number;
  key: string;
  value: string;
  timestamp?: string;
  headers?: Record<string, string>;
}

/**
 * Produces `count` records to `topic`, `count / partitions` to each partition, as
 * `{ partition: i % partitions, key: "key-<i>", value: JSON {id: i} }` unless `make` says
 * otherwise. Returns what it produced.
 */
export async function produce(
  topic: string,
  count: number,
  partitions: number,
  make: (i: number) => TestRecord = (i) => ({
    partition: i % partitions,
    key: `key-${i}`,
    value: JSON.stringify({ id: i }),
  }),
  recordsPerSend = 1000,
): Promise<TestRecord[]> {
  const records = Array.from({ length: count }, (_, i) => make(i));
  // Idempotent: under load a timed-out request is retried, and must not be written twice.
  const producer = kafkaClient().producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  try {
    const sends: Promise<unknown>[] = [];
    for (let start = 0; start < records.length; start += recordsPerSend) {
      sends.push(producer.send({ topic, messages: records.slice(start, start + recordsPerSend) }));
      if (sends.length >= 8) await Promise.all(sends.splice(0));
    }
    await Promise.all(sends);
  } finally {
    await producer.disconnect();
  }
  return records;
}

/** The group's committed offset per partition (-1 when none). */
export async function committedOffsets(
  groupId: string,
  topic: string,
): Promise<Map<number, number>> {
  const admin = kafkaClient().admin();
  await admin.connect();
  try {
    const [entry] = await admin.fetchOffsets({ groupId, topics: [topic] });
    return new Map(entry.partitions.map((p) => [p.partition, Number(p.offset)]));
  } finally {
    await admin.disconnect();
  }
}

/** The end offset (high watermark) per partition. */
export async function endOffsets(topic: string): Promise<Map<number, number>> {
  const admin = kafkaClient().admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    return new Map(offsets.map((p) => [p.partition, Number(p.high)]));
  } finally {
    await admin.disconnect();
  }
}

/** Resolves after `ms`. Only for pacing a load, never for waiting on a condition. */
export function pace(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Every record of `topic` as Kafka's own Java console consumer sees it with
 * `isolation.level=read_committed` (KafkaJS's read-committed filtering can let records of
 * aborted transactions through): one string per record value.
 */
export async function readCommittedValues(topic: string, timeoutMs = 10_000): Promise<string[]> {
  const lib = `${
    Deno.env.get("TROUPE_CACHE_DIR") ?? `${Deno.env.get("HOME")}/.cache/troupe`
  }/kafka-3.9.1/lib`;
  const output = await new Deno.Command("java", {
    args: [
      "-Xmx256m",
      "-cp",
      `${lib}/*`,
      "org.apache.kafka.tools.consumer.ConsoleConsumer",
      "--bootstrap-server",
      testBrokers().join(","),
      "--topic",
      topic,
      "--from-beginning",
      "--isolation-level",
      "read_committed",
      "--timeout-ms",
      String(timeoutMs),
    ],
    stdout: "piped",
    stderr: "null",
  }).output();
  return new TextDecoder().decode(output.stdout).split("\n").filter((line) => line !== "");
}

/** A record read back by {@linkcode readRecords}, as plain strings. */
export interface StoredRecord {
  partition: number;
  offset: number;
  key: string | null;
  value: string | null;
  headers: Record<string, string>;
}

/**
 * Reads the first `expected` records of `topic` back with a plain KafkaJS consumer (a fresh
 * group, from the beginning); fails after 30 s with how many it got.
 */
export async function readRecords(topic: string, expected: number): Promise<StoredRecord[]> {
  const records: StoredRecord[] = [];
  const consumer = kafkaClient().consumer({
    groupId: uniqueName("read-back"),
    maxWaitTimeInMs: 100,
  });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const all = Promise.withResolvers<void>();
  await consumer.run({
    eachMessage: ({ partition, message }) => {
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(message.headers ?? {})) {
        headers[name] = String(value);
      }
      records.push({
        partition,
        offset: Number(message.offset),
        key: message.key?.toString() ?? null,
        value: message.value?.toString() ?? null,
        headers,
      });
      if (records.length >= expected) all.resolve();
      return Promise.resolve();
    },
  });
  const timer = setTimeout(
    () => all.reject(new Error(`read ${records.length} of ${expected} from ${topic}`)),
    30_000,
  );
  try {
    await all.promise;
  } finally {
    clearTimeout(timer);
    await consumer.disconnect();
  }
  return records;
}
