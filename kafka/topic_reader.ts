/**
 * `readTopic`: the records of a topic between given offsets, read once, as they are stored
 * (bytes), without committing anything: what inspecting a dead-letter topic needs.
 *
 * @module
 */

import type { Consumer as KafkaJsConsumer, IHeaders } from "kafkajs";
import { createAdmin } from "./admin.ts";
import { type ConnectionOptions, createKafkaClient } from "./client.ts";

/** A record as it is stored: bytes, and headers with each value as bytes. */
export interface StoredRecord {
  /** Its partition. */
  readonly partition: number;
  /** Its offset. */
  readonly offset: number;
  /** Key bytes, or `null`. */
  readonly key: Uint8Array | null;
  /** Value bytes, or `null` for a tombstone. */
  readonly value: Uint8Array | null;
  /** Headers; a name given several times keeps its values in order. */
  readonly headers: Readonly<Record<string, Uint8Array | readonly Uint8Array[]>>;
  /** Timestamp, ms since the epoch. */
  readonly timestamp: number;
}

/** Which offsets of a partition to read: from `start` (inclusive) to `end` (exclusive). */
export interface OffsetRange {
  /** Partition number. */
  readonly partition: number;
  /** First offset to read. */
  readonly start: number;
  /** Offset after the last one to read. */
  readonly end: number;
}

/** What {@linkcode readTopic} reads. */
export interface ReadTopicOptions {
  /** The topic. Required. */
  topic: string;
  /**
   * Chooses the range of each partition, given its beginning and end offsets as of the start
   * of the read (so records produced during the read are not read). Return `null` to skip
   * the partition. Default: every partition, from its beginning to its end.
   */
  range?: (partition: number, beginning: number, end: number) => OffsetRange | null;
  /** Gives up after this long, ms. Default: 30 000. */
  timeoutMs?: number;
}

/** How long a read may take by default, ms. */
const DEFAULT_TIMEOUT_MS = 30_000;

/**
 * Reads the records of `topic` in the chosen ranges, sorted by partition then offset.
 * Nothing is committed: it reads through a consumer group of its own (`<clientId>-reader-<random>`)
 * that it leaves when done.
 *
 * @example
 * ```ts ignore
 * const records = await readTopic({ brokers: ["127.0.0.1:9092"] }, { topic: "orders.dlq" });
 * for (const record of records) console.log(record.partition, record.offset);
 * ```
 *
 * @throws {TopicError} `unknown-topic` when the topic does not exist.
 * @throws {Error} when the ranges were not read within `timeoutMs`.
 */
export async function readTopic(
  connection: ConnectionOptions,
  options: ReadTopicOptions,
): Promise<StoredRecord[]> {
  const { topic } = options;
  const ranges: OffsetRange[] = [];
  const idle: number[] = [];
  {
    await using admin = createAdmin(connection);
    for (const row of await admin.describeTopic(topic)) {
      const range = options.range
        ? options.range(row.partition, row.beginning, row.end)
        : { partition: row.partition, start: row.beginning, end: row.end };
      if (range === null) {
        idle.push(row.partition);
        continue;
      }
      const start = Math.max(range.start, row.beginning);
      const end = Math.min(range.end, row.end);
      if (start < end) ranges.push({ partition: row.partition, start, end });
      else idle.push(row.partition);
    }
  }
  if (ranges.length === 0) return [];
  return await new RangeReader(connection, topic, ranges, idle).read(
    options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
  );
}

/** One read of some ranges of a topic through a consumer of its own. */
class RangeReader {
  readonly #topic: string;
  readonly #ranges: Map<number, OffsetRange>;
  readonly #idle: readonly number[];
  readonly #pending: Set<number>;
  readonly #records: StoredRecord[] = [];
  readonly #consumer: KafkaJsConsumer;
  readonly #finished = Promise.withResolvers<void>();

  constructor(
    connection: ConnectionOptions,
    topic: string,
    ranges: readonly OffsetRange[],
    idle: readonly number[],
  ) {
    this.#topic = topic;
    this.#idle = idle;
    this.#ranges = new Map(ranges.map((range) => [range.partition, range]));
    this.#pending = new Set(this.#ranges.keys());
    const clientId = connection.clientId ?? "troupe";
    this.#consumer = createKafkaClient({ ...connection, clientId }).consumer({
      groupId: `${clientId}-reader-${crypto.randomUUID().slice(0, 12)}`,
      // A read is short: answer soon when a partition has nothing more.
      maxWaitTimeInMs: 250,
      retry: { retries: 3 },
    });
  }

  async read(timeoutMs: number): Promise<StoredRecord[]> {
    const consumer = this.#consumer;
    const timer = setTimeout(() => {
      const left = [...this.#pending].sort((a, b) => a - b).join(", ");
      this.#finished.reject(
        new Error(
          `could not read ${this.#topic} within ${timeoutMs} ms (partitions ${left} unfinished)`,
        ),
      );
    }, timeoutMs);
    try {
      await consumer.connect();
      await consumer.subscribe({ topics: [this.#topic], fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        eachBatch: ({ batch }) => {
          this.#take(batch.partition, batch.messages);
          return Promise.resolve();
        },
      });
      // A fresh group starts every partition at its beginning: move each to its range, and
      // leave the partitions there is nothing to read from paused.
      for (const range of this.#ranges.values()) {
        consumer.seek({ topic: this.#topic, partition: range.partition, offset: `${range.start}` });
      }
      if (this.#idle.length > 0) {
        consumer.pause([{ topic: this.#topic, partitions: [...this.#idle] }]);
      }
      await this.#finished.promise;
    } finally {
      clearTimeout(timer);
      await consumer.disconnect().catch(() => {});
    }
    return this.#records.sort((a, b) => a.partition - b.partition || a.offset - b.offset);
  }

  /** Keeps what falls in the partition's range; a partition is done at its range's end. */
  #take(
    partition: number,
    messages: readonly {
      offset: string;
      key: Uint8Array | null;
      value: Uint8Array | null;
      timestamp: string;
      headers?: IHeaders;
    }[],
  ): void {
    const range = this.#ranges.get(partition);
    if (!range || !this.#pending.has(partition)) return;
    let last = -1;
    for (const message of messages) {
      const offset = Number(message.offset);
      last = offset;
      if (offset < range.start || offset >= range.end) continue;
      this.#records.push({
        partition,
        offset,
        key: message.key,
        value: message.value,
        headers: headerBytes(message.headers),
        timestamp: Number(message.timestamp),
      });
    }
    if (last >= range.end - 1) {
      this.#pending.delete(partition);
      this.#consumer.pause([{ topic: this.#topic, partitions: [partition] }]);
      if (this.#pending.size === 0) this.#finished.resolve();
    }
  }
}

/** KafkaJS's headers (Buffers or strings, single or repeated) as bytes. */
function headerBytes(headers: IHeaders | undefined): Record<string, Uint8Array | Uint8Array[]> {
  const out: Record<string, Uint8Array | Uint8Array[]> = {};
  const encoder = new TextEncoder();
  const bytes = (value: unknown) =>
    typeof value === "string" ? encoder.encode(value) : value as Uint8Array;
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (value === undefined) continue;
    out[name] = Array.isArray(value) ? value.map(bytes) : bytes(value);
  }
  return out;
}
