/**
 * Reading a dead-letter topic back: each record with the provenance troupe's headers give
 * it, chosen by id, reason, error text or offset range.
 *
 * @module
 */

import type { ConnectionOptions } from "../kafka/client.ts";
import { readTopic, type StoredRecord } from "../kafka/topic_reader.ts";
import { DEAD_LETTER_HEADERS } from "./dead_letters.ts";

/** A record of a dead-letter topic, read back with its provenance. */
export interface DeadLetter {
  /** `partition:offset` of the record in the dead-letter topic: how to name it. */
  readonly id: string;
  /** The dead-letter topic. */
  readonly topic: string;
  /** Its partition in the dead-letter topic. */
  readonly partition: number;
  /** Its offset in the dead-letter topic. */
  readonly offset: number;
  /** When it was dead-lettered (the record's timestamp), ms since the epoch. */
  readonly deadLetteredAt: number;
  /** Where the message was read from, or `null` fields when the headers do not say. */
  readonly original: {
    readonly topic: string | null;
    readonly partition: number | null;
    readonly offset: number | null;
    /** The original record's timestamp, ms since the epoch. */
    readonly timestamp: number | null;
  };
  /** Why: `retries-exhausted`, `decode-error`, `not-retriable`; `null` when not said. */
  readonly reason: string | null;
  /** The last error, `Name: message`. */
  readonly error: string | null;
  /** Attempts made before it was dead-lettered. */
  readonly attempts: number | null;
  /** The original's key bytes. */
  readonly key: Uint8Array | null;
  /** The original's value bytes. */
  readonly value: Uint8Array | null;
  /** The original's headers (troupe's `troupe.dlq.*` headers taken out), as bytes. */
  readonly headers: Readonly<Record<string, Uint8Array | readonly Uint8Array[]>>;
}

/** Which dead letters to choose. Every given criterion must hold; none chooses all. */
export interface DeadLetterFilter {
  /** Only these (`partition:offset` in the dead-letter topic). Default: any. */
  readonly ids?: readonly string[];
  /** Only this reason (e.g. `not-retriable`). Default: any. */
  readonly reason?: string;
  /** Only those whose error contains this text, ignoring case. Default: any. */
  readonly errorIncludes?: string;
  /** Only this partition of the dead-letter topic. Default: every partition. */
  readonly partition?: number;
  /** Only offsets from `from` to `to`, both included, of the dead-letter topic. Default: all. */
  readonly offsets?: { readonly from: number; readonly to: number };
}

/** What {@linkcode listDeadLetters} reads. */
export interface ListDeadLettersOptions {
  /** The dead-letter topic. Required. */
  topic: string;
  /** Which dead letters. Default: all. */
  filter?: DeadLetterFilter;
  /**
   * Read only the last `last` records of each partition (before filtering by reason or error).
   * Default: every record.
   */
  last?: number;
  /** Gives up after this long, ms. Default: 30 000. */
  timeoutMs?: number;
}

/**
 * Parses a dead letter's id, `partition:offset`.
 *
 * @example
 * ```ts
 * import { parseDeadLetterId } from "./dead_letter_reading.ts";
 * console.log(parseDeadLetterId("2:41")); // { partition: 2, offset: 41 }
 * ```
 *
 * @throws {TypeError} naming the id when it is not two non-negative integers.
 */
export function parseDeadLetterId(id: string): { partition: number; offset: number } {
  const match = /^\s*(\d{1,9}):(\d{1,15})\s*$/.exec(id);
  if (!match) {
    throw new TypeError(
      `"${id}" is not a dead letter id: expected PARTITION:OFFSET of the dead-letter topic, e.g. 0:42`,
    );
  }
  return { partition: Number(match[1]), offset: Number(match[2]) };
}

/**
 * Reads a dead-letter topic's records (as of now: records that arrive meanwhile are not
 * read) and returns those the filter chooses, by partition then offset. Nothing is
 * committed; only the partitions and offsets the filter can choose are read.
 *
 * @example
 * ```ts ignore
 * import { listDeadLetters } from "@troupe/troupe";
 *
 * const letters = await listDeadLetters({ brokers: ["127.0.0.1:9092"] }, {
 *   topic: "orders.dlq",
 *   filter: { reason: "not-retriable" },
 * });
 * for (const letter of letters) console.log(letter.id, letter.original.offset, letter.error);
 * ```
 *
 * @throws {TopicError} `unknown-topic` when the topic does not exist.
 * @throws {TypeError} for a malformed id in the filter.
 */
export async function listDeadLetters(
  connection: ConnectionOptions,
  options: ListDeadLettersOptions,
): Promise<DeadLetter[]> {
  const filter = options.filter ?? {};
  const wanted = wantedRange(filter);
  const records = await readTopic(connection, {
    topic: options.topic,
    timeoutMs: options.timeoutMs,
    range: (partition, beginning, end) => {
      const start = options.last === undefined
        ? beginning
        : Math.max(beginning, end - options.last);
      const stop = end;
      const range = wanted(partition);
      if (range === null) return null;
      return { partition, start: Math.max(start, range.start), end: Math.min(stop, range.end) };
    },
  });
  const ids = filter.ids ? new Set(filter.ids.map(normalizeId)) : null;
  const errorText = filter.errorIncludes?.toLowerCase();
  const chosen: DeadLetter[] = [];
  for (const record of records) {
    const letter = deadLetterOf(options.topic, record);
    if (ids && !ids.has(letter.id)) continue;
    if (filter.reason !== undefined && letter.reason !== filter.reason) continue;
    if (errorText !== undefined && !(letter.error ?? "").toLowerCase().includes(errorText)) {
      continue;
    }
    chosen.push(letter);
  }
  return chosen;
}

/** The offsets of a partition the filter can choose from, or `null` for none of them. */
function wantedRange(
  filter: DeadLetterFilter,
): (partition: number) => { start: number; end: number } | null {
  const ids = filter.ids?.map(parseDeadLetterId);
  return (partition) => {
    if (filter.partition !== undefined && partition !== filter.partition) return null;
    let start = filter.offsets?.from ?? 0;
    let end = filter.offsets ? filter.offsets.to + 1 : Number.MAX_SAFE_INTEGER;
    if (ids) {
      const mine = ids.filter((id) => id.partition === partition).map((id) => id.offset);
      if (mine.length === 0) return null;
      start = Math.max(start, Math.min(...mine));
      end = Math.min(end, Math.max(...mine) + 1);
    }
    return start < end ? { start, end } : null;
  };
}

function normalizeId(id: string): string {
  const { partition, offset } = parseDeadLetterId(id);
  return `${partition}:${offset}`;
}

const utf8 = new TextDecoder();

/** The first value of a header as text, or `null`. */
function headerText(
  headers: StoredRecord["headers"],
  name: string,
): string | null {
  const value = headers[name];
  if (value === undefined) return null;
  const first = Array.isArray(value) ? value[0] : value as Uint8Array;
  return first === undefined ? null : utf8.decode(first);
}

function integerOrNull(text: string | null): number | null {
  if (text === null || !/^-?\d+$/.test(text.trim())) return null;
  return Number(text);
}

const TROUPE_HEADERS = new Set<string>(Object.values(DEAD_LETTER_HEADERS));

/**
 * A record of a dead-letter topic as a {@linkcode DeadLetter}.
 *
 * @example
 * ```ts ignore
 * const letter = deadLetterOf("orders.dlq", record);
 * console.log(letter.original.topic, letter.reason);
 * ```
 */
export function deadLetterOf(topic: string, record: StoredRecord): DeadLetter {
  const headers: Record<string, Uint8Array | readonly Uint8Array[]> = {};
  for (const [name, value] of Object.entries(record.headers)) {
    if (!TROUPE_HEADERS.has(name)) headers[name] = value;
  }
  const read = (name: string) => headerText(record.headers, name);
  return {
    id: `${record.partition}:${record.offset}`,
    topic,
    partition: record.partition,
    offset: record.offset,
    deadLetteredAt: record.timestamp,
    original: {
      topic: read(DEAD_LETTER_HEADERS.topic),
      partition: integerOrNull(read(DEAD_LETTER_HEADERS.partition)),
      offset: integerOrNull(read(DEAD_LETTER_HEADERS.offset)),
      timestamp: integerOrNull(read(DEAD_LETTER_HEADERS.timestamp)),
    },
    reason: read(DEAD_LETTER_HEADERS.reason),
    error: read(DEAD_LETTER_HEADERS.error),
    attempts: integerOrNull(read(DEAD_LETTER_HEADERS.attempts)),
    key: record.key,
    value: record.value,
    headers,
  };
}
