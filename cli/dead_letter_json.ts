/**
 * A dead letter as JSON, the one shape `troupe dlq --json` prints and the dashboard's
 * `/api/dead-letters` answers.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import type { DeadLetter } from "../mod.ts";

/** Bytes as JSON: UTF-8 text when they are valid UTF-8, else base64. */
export interface BytesJson {
  /** The text, or the base64 of the bytes. */
  readonly text: string;
  /** How `text` holds the bytes. */
  readonly encoding: "utf8" | "base64";
}

/** A {@linkcode DeadLetter} as JSON. */
export interface DeadLetterJson {
  /** `partition:offset` in the dead-letter topic. */
  readonly id: string;
  /** The dead-letter topic. */
  readonly topic: string;
  /** Partition in the dead-letter topic. */
  readonly partition: number;
  /** Offset in the dead-letter topic. */
  readonly offset: number;
  /** When it was dead-lettered, ISO 8601. */
  readonly deadLetteredAt: string;
  /** Where the message came from. */
  readonly original: DeadLetter["original"];
  /** Why it was dead-lettered. */
  readonly reason: string | null;
  /** The last error. */
  readonly error: string | null;
  /** Attempts made. */
  readonly attempts: number | null;
  /** The original's key. */
  readonly key: BytesJson | null;
  /** The original's value. */
  readonly value: BytesJson | null;
  /** The original's headers; repeated names keep every value. */
  readonly headers: Record<string, BytesJson | BytesJson[]>;
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Bytes as JSON text.
 *
 * @example
 * ```ts
 * import { bytesJson } from "./dead_letter_json.ts";
 * console.log(bytesJson(new TextEncoder().encode("hi"))); // { text: "hi", encoding: "utf8" }
 * ```
 */
export function bytesJson(bytes: Uint8Array | null): BytesJson | null {
  if (bytes === null) return null;
  try {
    return { text: strictUtf8.decode(bytes), encoding: "utf8" };
  } catch {
    return {
      text: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64"),
      encoding: "base64",
    };
  }
}

/**
 * A dead letter as JSON.
 *
 * @example
 * ```ts ignore
 * console.log(JSON.stringify(deadLetterJson(letter)));
 * ```
 */
export function deadLetterJson(letter: DeadLetter): DeadLetterJson {
  const headers: Record<string, BytesJson | BytesJson[]> = {};
  for (const [name, value] of Object.entries(letter.headers)) {
    headers[name] = Array.isArray(value)
      ? value.map((item) => bytesJson(item)!)
      : bytesJson(value as Uint8Array)!;
  }
  return {
    id: letter.id,
    topic: letter.topic,
    partition: letter.partition,
    offset: letter.offset,
    deadLetteredAt: new Date(letter.deadLetteredAt).toISOString(),
    original: letter.original,
    reason: letter.reason,
    error: letter.error,
    attempts: letter.attempts,
    key: bytesJson(letter.key),
    value: bytesJson(letter.value),
    headers,
  };
}
