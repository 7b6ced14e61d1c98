/**
 * Codecs: how keys and values turn into bytes and back.
 *
 * @module
 */

/**
 * Turns values of type `T` into bytes for Kafka and back. A `null` key or value (a Kafka
 * tombstone) never reaches a codec: it stays `null`.
 *
 * @example A codec of your own
 * ```ts
 * import type { Codec } from "./codec.ts";
 *
 * const upper: Codec<string> = {
 *   name: "upper",
 *   encode: (text) => text.toUpperCase(),
 *   decode: (bytes) => new TextDecoder().decode(bytes).toUpperCase(),
 * };
 * ```
 *
 * @typeParam T The decoded type.
 */
export interface Codec<T> {
  /** A short name for logs and errors, e.g. `"json"`. */
  readonly name: string;
  /** Encodes a value; strings are sent as UTF-8. */
  encode(value: T): Uint8Array | string;
  /** Decodes bytes; throws when they are malformed. */
  decode(bytes: Uint8Array): T;
}

/** The built-in codecs, by name. */
export type CodecName = "json" | "string" | "bytes";

/** A codec given by name or as an object, as options accept it. */
export type CodecSpec = CodecName | Codec<unknown>;

/**
 * The type a codec spec decodes to: `"string"` gives `string`, `"bytes"` gives `Uint8Array`,
 * `"json"` gives `unknown` (use `json<T>()` for a typed JSON codec), a codec object its own
 * type.
 */
export type Decoded<C> = C extends Codec<infer T> ? T
  : C extends "string" ? string
  : C extends "bytes" ? Uint8Array
  : C extends "json" ? unknown
  : never;

const decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * JSON text in UTF-8. Decoding fails on invalid UTF-8 or invalid JSON. The type parameter
 * is a promise you make about the data, not a check.
 *
 * @example
 * ```ts
 * import { json } from "./codec.ts";
 * const codec = json<{ id: number }>();
 * console.log(codec.decode(new TextEncoder().encode('{"id":1}')).id); // 1
 * ```
 */
export function json<T = unknown>(): Codec<T> {
  return {
    name: "json",
    encode: (value) => JSON.stringify(value),
    decode: (bytes) => JSON.parse(decoder.decode(bytes)) as T,
  };
}

/**
 * UTF-8 text. Decoding fails on invalid UTF-8.
 *
 * @example
 * ```ts
 * import { string } from "./codec.ts";
 * console.log(string().decode(new Uint8Array([104, 105]))); // "hi"
 * ```
 */
export function string(): Codec<string> {
  return {
    name: "string",
    encode: (value) => value,
    decode: (bytes) => decoder.decode(bytes),
  };
}

/**
 * Raw bytes, untouched. Never fails.
 *
 * @example
 * ```ts
 * import { bytes } from "./codec.ts";
 * console.log(bytes().decode(new Uint8Array([1, 2])).length); // 2
 * ```
 */
export function bytes(): Codec<Uint8Array> {
  return { name: "bytes", encode: (value) => value, decode: (value) => value };
}

/**
 * A codec given by name or as an object.
 *
 * @example
 * ```ts
 * import { resolveCodec } from "./codec.ts";
 * console.log(resolveCodec("json", "valueCodec").name); // "json"
 * ```
 *
 * @throws {TypeError} naming `option` when `codec` is neither.
 */
export function resolveCodec<C extends CodecSpec>(codec: C, option: string): Codec<Decoded<C>> {
  if (codec === "json") return json() as Codec<Decoded<C>>;
  if (codec === "string") return string() as Codec<Decoded<C>>;
  if (codec === "bytes") return bytes() as Codec<Decoded<C>>;
  if (
    codec !== null && typeof codec === "object" && typeof codec.decode === "function" &&
    typeof codec.encode === "function"
  ) {
    return codec as Codec<Decoded<C>>;
  }
  throw new TypeError(
    `${option} must be "json", "string", "bytes" or a codec object with encode() and ` +
      `decode(), got ${JSON.stringify(codec)}`,
  );
}

/**
 * A key or value that its codec could not decode. Thrown when the handler reads
 * `message.key` or `message.value`, so the handler sees it (and a dead-letter topic can
 * take the message); it never reaches the consumer loop.
 *
 * @example
 * ```ts ignore
 * import { DecodeError } from "./codec.ts";
 * // in a handler:
 * try {
 *   use(message.value);
 * } catch (error) {
 *   if (error instanceof DecodeError) console.error(error.field, error.offset);
 * }
 * ```
 */
export class DecodeError extends Error {
  /** Which part failed. */
  readonly field: "key" | "value";
  /** Topic of the message. */
  readonly topic: string;
  /** Partition of the message. */
  readonly partition: number;
  /** Offset of the message. */
  readonly offset: number;
  /** Name of the codec that failed. */
  readonly codec: string;

  /**
   * Creates the error.
   *
   * @param field Which part failed.
   * @param where Topic, partition and offset of the message, and the codec's name.
   * @param cause The codec's own error.
   */
  constructor(
    field: "key" | "value",
    where: { topic: string; partition: number; offset: number; codec: string },
    cause: unknown,
  ) {
    super(
      `cannot decode the ${field} of ${where.topic}[${where.partition}]@${where.offset} as ` +
        `${where.codec}: ${cause instanceof Error ? cause.message : String(cause)}`,
      { cause },
    );
    this.name = "DecodeError";
    this.field = field;
    this.topic = where.topic;
    this.partition = where.partition;
    this.offset = where.offset;
    this.codec = where.codec;
  }
}
