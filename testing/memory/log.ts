/**
 * The in-memory cluster's storage: topics made of partitions, each an append-only log of
 * records with offsets, timestamps and headers.
 *
 * @module
 */

/** Header values as stored: bytes, several for a repeated name. */
export type StoredHeaders = Readonly<Record<string, Uint8Array | readonly Uint8Array[]>>;

/** A record as a producer hands it to a partition. */
export interface RecordInput {
  /** Key bytes, or `null`. */
  readonly key: Uint8Array | null;
  /** Value bytes, or `null` (a tombstone). */
  readonly value: Uint8Array | null;
  /** Headers. */
  readonly headers: StoredHeaders;
  /** Create time, ms since the epoch. */
  readonly timestamp: number;
}

/** A record in a partition's log. */
export interface StoredRecord extends RecordInput {
  /** Its offset. */
  readonly offset: number;
  /** Its size as fetch limits count it: key, value and headers, plus a fixed overhead. */
  readonly size: number;
}

/** Per-record bytes besides key, value and headers, roughly what Kafka's record format adds. */
const RECORD_OVERHEAD = 20;

/**
 * The size a record counts for against `maxBytes` limits (and `max.message.bytes`).
 *
 * @example
 * ```ts
 * import { recordSize } from "./log.ts";
 * console.log(recordSize({ key: null, value: new Uint8Array(10), headers: {}, timestamp: 0 })); // 30
 * ```
 */
export function recordSize(record: RecordInput): number {
  let size = RECORD_OVERHEAD + (record.key?.length ?? 0) + (record.value?.length ?? 0);
  for (const [name, value] of Object.entries(record.headers)) {
    const values: readonly Uint8Array[] = value instanceof Uint8Array ? [value] : value;
    for (const bytes of values) size += name.length + bytes.length;
  }
  return size;
}

/**
 * One partition: an append-only log whose offsets start at 0 and never have gaps (nothing is
 * compacted, deleted or transactional). Appends notify the fetches waiting on it, so a
 * consumer waits for data instead of polling for it.
 *
 * @example
 * ```ts
 * import { PartitionLog } from "./log.ts";
 * const log = new PartitionLog("orders", 0);
 * log.append([{ key: null, value: new Uint8Array([1]), headers: {}, timestamp: 0 }]); // 0
 * console.log(log.highWatermark, log.read(0, 1024).length); // 1 1
 * ```
 */
export class PartitionLog {
  /** Its topic. */
  readonly topic: string;
  /** Its partition number. */
  readonly partition: number;
  #records: StoredRecord[] = [];
  #listeners = new Set<() => void>();

  /**
   * Creates an empty partition.
   *
   * @param topic Its topic.
   * @param partition Its number.
   */
  constructor(topic: string, partition: number) {
    this.topic = topic;
    this.partition = partition;
  }

  /** The first offset stored: always 0, since nothing is ever removed. */
  get logStartOffset(): number {
    return 0;
  }

  /** The offset the next record will get (every record is committed at once: no replicas). */
  get highWatermark(): number {
    return this.#records.length;
  }

  /** Appends records in order; returns the offset of the first. Wakes waiting fetches. */
  append(records: readonly RecordInput[]): number {
    const base = this.#records.length;
    for (const record of records) {
      this.#records.push({ ...record, offset: this.#records.length, size: recordSize(record) });
    }
    if (records.length > 0) {
      for (const listener of [...this.#listeners]) listener();
    }
    return base;
  }

  /**
   * Records from `offset` on, up to `maxBytes` in all, but at least one when there is one
   * (as Kafka returns the first batch even when it exceeds the limit).
   */
  read(offset: number, maxBytes: number): StoredRecord[] {
    const records: StoredRecord[] = [];
    let bytes = 0;
    for (let at = Math.max(offset, 0); at < this.#records.length; at++) {
      const record = this.#records[at];
      if (records.length > 0 && bytes + record.size > maxBytes) break;
      records.push(record);
      bytes += record.size;
    }
    return records;
  }

  /** Every record, oldest first. */
  records(): readonly StoredRecord[] {
    return this.#records;
  }

  /** The first offset whose timestamp is at or after `timestamp`; the high watermark if none. */
  offsetForTimestamp(timestamp: number): number {
    const found = this.#records.find((record) => record.timestamp >= timestamp);
    return found?.offset ?? this.highWatermark;
  }

  /** Calls `listener` after every append until the returned function is called. */
  onAppend(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => void this.#listeners.delete(listener);
  }
}

/**
 * A topic: a fixed number of partitions and its configuration entries.
 *
 * @example
 * ```ts
 * import { TopicLog } from "./log.ts";
 * const topic = new TopicLog("orders", 3, {});
 * console.log(topic.partitions.length); // 3
 * ```
 */
export class TopicLog {
  /** Its name. */
  readonly name: string;
  /** Its partitions, indexed by number. */
  readonly partitions: readonly PartitionLog[];
  /** Its configuration entries (e.g. `max.message.bytes`), as given when it was created. */
  readonly config: Readonly<Record<string, string>>;

  /**
   * Creates a topic of empty partitions.
   *
   * @param name Its name.
   * @param partitions How many partitions.
   * @param config Configuration entries.
   */
  constructor(name: string, partitions: number, config: Readonly<Record<string, string>>) {
    this.name = name;
    this.partitions = Array.from({ length: partitions }, (_, i) => new PartitionLog(name, i));
    this.config = config;
  }
}
