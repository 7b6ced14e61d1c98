/**
 * The message a handler receives.
 *
 * @module
 */

import { type Codec, DecodeError } from "./codec.ts";

/** Header values as Kafka carries them: UTF-8 decoded, several values for a repeated name. */
export type Headers = Readonly<Record<string, string | string[]>>;

/**
 * A record read from Kafka, as a handler sees it.
 *
 * `key` and `value` are decoded by the processor's codecs when first read; a value that
 * cannot be decoded throws a {@linkcode DecodeError} there, in the handler.
 *
 * @example
 * ```ts ignore
 * const handler = (message: Message<string, { id: number }>) => {
 *   console.log(message.topic, message.partition, message.offset, message.value?.id);
 * };
 * ```
 *
 * @typeParam K Decoded key type.
 * @typeParam V Decoded value type.
 */
export interface Message<K = string, V = Uint8Array> {
  /** Topic it was read from. */
  readonly topic: string;
  /** Partition it was read from. */
  readonly partition: number;
  /** Its offset in the partition. */
  readonly offset: number;
  /** Decoded key, or `null` when the record has none. Throws {@linkcode DecodeError}. */
  readonly key: K | null;
  /** Decoded value, or `null` for a tombstone. Throws {@linkcode DecodeError}. */
  readonly value: V | null;
  /** The key's bytes, undecoded. */
  readonly rawKey: Uint8Array | null;
  /** The value's bytes, undecoded. */
  readonly rawValue: Uint8Array | null;
  /** Headers, decoded as UTF-8. */
  readonly headers: Headers;
  /** Record timestamp, ms since the epoch. */
  readonly timestamp: number;
}

/** Header values as records carry them: bytes or text, several for a repeated name. */
export type RawHeaders = Readonly<
  Record<string, Uint8Array | string | readonly (Uint8Array | string)[] | undefined>
>;

/**
 * A record as a Kafka client fetched it, before decoding: the shape troupe's engine reads.
 * A KafkaJS `KafkaMessage` has it, so the consumer loop wraps KafkaJS's records as they are,
 * without copying them.
 */
export interface RawRecord {
  /** Key bytes, or `null`. */
  readonly key: Uint8Array | null;
  /** Value bytes, or `null` for a tombstone. */
  readonly value: Uint8Array | null;
  /** Timestamp, ms since the epoch, as a decimal string. */
  readonly timestamp: string;
  /** Headers, if any. */
  readonly headers?: RawHeaders;
}

/** The codecs a partition decodes with. */
export interface MessageCodecs<K, V> {
  /** Decodes keys. */
  readonly key: Codec<K>;
  /** Decodes values. */
  readonly value: Codec<V>;
}

const NOT_DECODED = Symbol("not decoded");
const utf8 = new TextDecoder();

function headerText(value: Uint8Array | string): string {
  return typeof value === "string" ? value : utf8.decode(value);
}

/**
 * A {@linkcode Message} over a fetched {@linkcode RawRecord}, decoding lazily: a handler that
 * never reads `value` never pays for decoding it.
 *
 * @example
 * ```ts
 * import { string } from "./codec.ts";
 * import { ReceivedMessage } from "./message.ts";
 *
 * const bytes = new TextEncoder().encode("hello");
 * const record = { key: null, value: bytes, timestamp: "1700000000000" };
 * const message = new ReceivedMessage("greetings", 0, 42, record, { key: string(), value: string() });
 * console.log(message.value); // "hello"
 * ```
 */
export class ReceivedMessage<K, V> implements Message<K, V> {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  #raw: RawRecord;
  #codecs: MessageCodecs<K, V>;
  #key: K | null | typeof NOT_DECODED = NOT_DECODED;
  #value: V | null | typeof NOT_DECODED = NOT_DECODED;

  /**
   * Wraps a fetched record.
   *
   * @param topic Its topic.
   * @param partition Its partition.
   * @param offset Its offset, already parsed.
   * @param raw The record as the client fetched it.
   * @param codecs The partition's codecs.
   */
  constructor(
    topic: string,
    partition: number,
    offset: number,
    raw: RawRecord,
    codecs: MessageCodecs<K, V>,
  ) {
    this.topic = topic;
    this.partition = partition;
    this.offset = offset;
    this.#raw = raw;
    this.#codecs = codecs;
  }

  get key(): K | null {
    const cached = this.#key;
    if (cached !== NOT_DECODED) return cached;
    return this.#key = this.#decode("key", this.#codecs.key, this.#raw.key);
  }

  get value(): V | null {
    const cached = this.#value;
    if (cached !== NOT_DECODED) return cached;
    return this.#value = this.#decode("value", this.#codecs.value, this.#raw.value);
  }

  get rawKey(): Uint8Array | null {
    return this.#raw.key;
  }

  get rawValue(): Uint8Array | null {
    return this.#raw.value;
  }

  get headers(): Headers {
    const raw = this.#raw.headers;
    const headers: Record<string, string | string[]> = {};
    if (!raw) return headers;
    for (const name in raw) {
      const value = raw[name];
      if (value === undefined) continue;
      headers[name] = typeof value === "string" || value instanceof Uint8Array
        ? headerText(value)
        : value.map(headerText);
    }
    return headers;
  }

  get timestamp(): number {
    return Number(this.#raw.timestamp);
  }

  /** The record underneath (for forwarding it unchanged, e.g. to a dead-letter topic). */
  get raw(): RawRecord {
    return this.#raw;
  }

  #decode<T>(field: "key" | "value", codec: Codec<T>, bytes: Uint8Array | null): T | null {
    if (bytes === null) return null;
    try {
      return codec.decode(bytes);
    } catch (error) {
      throw new DecodeError(field, {
        topic: this.topic,
        partition: this.partition,
        offset: this.offset,
        codec: codec.name,
      }, error);
    }
  }

  /** A plain-object view, for logs and `console.log`. */
  toJSON(): Record<string, unknown> {
    return {
      topic: this.topic,
      partition: this.partition,
      offset: this.offset,
      timestamp: this.timestamp,
      key: this.rawKey === null ? null : utf8.decode(this.rawKey),
      size: this.rawValue?.length ?? 0,
    };
  }
}
