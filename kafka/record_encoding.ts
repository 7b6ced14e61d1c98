/**
 * A troupe record as the bytes a KafkaJS producer sends: {@linkcode encodeRecord} and its
 * size.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import type { Message as KafkaJsMessage } from "kafkajs";
import type { Codec } from "./codec.ts";

/** A record to produce. */
export interface ProducerRecord<K = string, V = Uint8Array> {
  /** Target topic. */
  topic: string;
  /** Key, encoded by the key codec; records with the same key go to the same partition. */
  key?: K | null;
  /** Value, encoded by the value codec; `null` is a tombstone. */
  value: V | null;
  /** Explicit partition. Default: by key hash, or round robin without a key. */
  partition?: number;
  /** Headers. */
  headers?: Record<string, string | Uint8Array | (string | Uint8Array)[]>;
  /** Timestamp, ms since the epoch. Default: now. */
  timestamp?: number;
}

/** Bytes as KafkaJS takes them, without copying. */
function toBuffer(value: Uint8Array | string): Buffer | string {
  if (typeof value === "string" || Buffer.isBuffer(value)) return value;
  return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}

/**
 * Encodes a record into a KafkaJS message with the given codecs.
 *
 * @example
 * ```ts
 * import { encodeRecord } from "./record_encoding.ts";
 * import { json, string } from "./codec.ts";
 * const message = encodeRecord({ topic: "t", key: "k", value: { n: 1 } }, string(), json());
 * console.log(String(message.value)); // {"n":1}
 * ```
 *
 * @throws {TypeError} when the record has no topic or no value.
 */
export function encodeRecord<K, V>(
  record: ProducerRecord<K, V>,
  keyCodec: Codec<K>,
  valueCodec: Codec<V>,
): KafkaJsMessage {
  if (
    record === null || typeof record !== "object" || typeof record.topic !== "string" ||
    !record.topic
  ) {
    throw new TypeError(`a record needs a non-empty topic, got ${JSON.stringify(record)}`);
  }
  if (record.value === undefined) {
    throw new TypeError(`a record for ${record.topic} needs a value (null for a tombstone)`);
  }
  const message: KafkaJsMessage = {
    key: record.key === undefined || record.key === null
      ? null
      : toBuffer(keyCodec.encode(record.key)),
    value: record.value === null ? null : toBuffer(valueCodec.encode(record.value)),
  };
  if (record.partition !== undefined) message.partition = record.partition;
  if (record.headers !== undefined) {
    const headers: Record<string, Buffer | string | (Buffer | string)[]> = {};
    for (const [name, value] of Object.entries(record.headers)) {
      headers[name] = Array.isArray(value) ? value.map(toBuffer) : toBuffer(value);
    }
    message.headers = headers;
  }
  if (record.timestamp !== undefined) message.timestamp = String(record.timestamp);
  return message;
}

/** Bytes of a key, value or header value; a string counts 3 bytes a character, at most. */
function byteLength(value: Buffer | string | null | undefined): number {
  if (value === null || value === undefined) return 0;
  return typeof value === "string" ? value.length * 3 : value.length;
}

/**
 * An upper bound of an encoded message's size: key, value, header names and values.
 *
 * @example
 * ```ts
 * import { encodedSize } from "./record_encoding.ts";
 * console.log(encodedSize({ key: null, value: new Uint8Array(10) as never })); // 10
 * ```
 */
export function encodedSize(message: KafkaJsMessage): number {
  let size = byteLength(message.key as Buffer | string | null) +
    byteLength(message.value as Buffer | string | null);
  const headers = message.headers;
  if (headers === undefined) return size;
  for (const name in headers) {
    size += name.length;
    const value = headers[name];
    if (Array.isArray(value)) {
      for (const item of value) size += byteLength(item as Buffer | string);
    } else {
      size += byteLength(value as Buffer | string);
    }
  }
  return size;
}
