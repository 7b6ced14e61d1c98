/**
 * What one fetch returns for one partition, shaped like KafkaJS's `Batch`.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import type { Batch, IHeaders, KafkaMessage } from "kafkajs";
import type { StoredRecord } from "./log.ts";

/**
 * The records of one partition from one fetch, shaped like KafkaJS's `Batch`: offsets and
 * the high watermark as decimal strings, each message with its own copies of the bytes.
 *
 * @example
 * ```ts
 * import { MemoryBatch } from "./batch.ts";
 * const record = { offset: 7, key: null, value: null, headers: {}, timestamp: 0, size: 20 };
 * const batch = new MemoryBatch("orders", 0, [record], 10);
 * console.log(batch.lastOffset(), batch.offsetLag()); // "7" "2"
 * ```
 */
export class MemoryBatch implements Batch {
  readonly topic: string;
  readonly partition: number;
  readonly highWatermark: string;
  readonly messages: KafkaMessage[];
  #highWatermark: number;

  constructor(
    topic: string,
    partition: number,
    records: readonly StoredRecord[],
    highWatermark: number,
  ) {
    this.topic = topic;
    this.partition = partition;
    this.#highWatermark = highWatermark;
    this.highWatermark = String(highWatermark);
    this.messages = records.map(toKafkaMessage);
  }

  isEmpty(): boolean {
    return this.messages.length === 0;
  }

  firstOffset(): string | null {
    return this.messages[0]?.offset ?? null;
  }

  lastOffset(): string {
    return this.messages.at(-1)?.offset ?? String(this.#highWatermark - 1);
  }

  offsetLag(): string {
    return String(this.#highWatermark - 1 - Number(this.lastOffset()));
  }

  offsetLagLow(): string {
    const first = this.firstOffset();
    return first === null ? "0" : String(this.#highWatermark - 1 - Number(first));
  }
}

/** A stored record as KafkaJS decodes it: fresh Buffers, so a handler cannot alter the log. */
function toKafkaMessage(record: StoredRecord): KafkaMessage {
  const headers: IHeaders = {};
  for (const [name, value] of Object.entries(record.headers)) {
    headers[name] = value instanceof Uint8Array
      ? Buffer.from(value)
      : value.map((bytes) => Buffer.from(bytes));
  }
  return {
    key: record.key === null ? null : Buffer.from(record.key),
    value: record.value === null ? null : Buffer.from(record.value),
    timestamp: String(record.timestamp),
    attributes: 0,
    offset: String(record.offset),
    headers,
  };
}
