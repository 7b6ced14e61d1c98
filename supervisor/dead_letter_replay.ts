/**
 * Replaying dead letters: the chosen records of a dead-letter topic produced again, to their
 * original topic or another, marked as replayed, each original at most once per replay.
 *
 * @module
 */

import type { ConnectionOptions } from "../kafka/client.ts";
import { createProducer } from "../kafka/producer.ts";
import { type DeadLetter, type DeadLetterFilter, listDeadLetters } from "./dead_letter_reading.ts";

/**
 * The headers a replayed record carries (beside the original's own headers; troupe's
 * `troupe.dlq.*` headers are not carried over).
 *
 * @example
 * ```ts
 * import { REPLAY_HEADERS } from "./dead_letter_replay.ts";
 * console.log(REPLAY_HEADERS.of); // "troupe.replay.of"
 * ```
 */
export const REPLAY_HEADERS = {
  /** The dead letter it comes from: `<dead-letter topic>:<partition>:<offset>`. */
  of: "troupe.replay.of",
  /** The replay that sent it (one id per `replayDeadLetters` call). */
  id: "troupe.replay.id",
} as const;

/** What {@linkcode replayDeadLetters} replays. */
export interface ReplayDeadLettersOptions {
  /** The dead-letter topic. Required. */
  topic: string;
  /** Which dead letters. Default: all (an empty filter chooses every one). */
  filter?: DeadLetterFilter;
  /** Topic to send them to. Default: each one's original topic (and original partition). */
  to?: string;
  /** Only say what would be sent; send nothing. Default: false. */
  dryRun?: boolean;
  /** Gives up reading after this long, ms. Default: 30 000. */
  timeoutMs?: number;
}

/** One dead letter a replay sends (or would send). */
export interface ReplayedRecord {
  /** The dead letter's id in its topic (`partition:offset`). */
  readonly id: string;
  /** Topic it goes to. */
  readonly to: string;
  /** Partition it goes to; `null` when the producer chooses (by key). */
  readonly partition: number | null;
  /** The dead letter. */
  readonly deadLetter: DeadLetter;
}

/** What a replay did. */
export interface ReplayResult {
  /** This replay's id, in every record's {@linkcode REPLAY_HEADERS}.id. */
  readonly replayId: string;
  /** True for a dry run: nothing was sent. */
  readonly dryRun: boolean;
  /** The records sent (or that would be), in dead-letter order. */
  readonly records: readonly ReplayedRecord[];
  /**
   * Ids of chosen dead letters left out because an earlier one in the same replay is the
   * same original message (a message can be dead-lettered twice: at least once delivery).
   */
  readonly duplicates: readonly string[];
  /** Ids of chosen dead letters that name no original topic, when no `to` was given. */
  readonly unroutable: readonly string[];
}

/**
 * Replays the dead letters the filter chooses: each goes to `to` (else its original topic,
 * in its original partition) with its original key, value and headers and the
 * {@linkcode REPLAY_HEADERS}. The dead-letter topic is read as of the start of the replay,
 * so records sent meanwhile (a replayed record dead-lettered again) are not replayed by it;
 * an original dead-lettered twice is sent once; the producer is idempotent, so its retries
 * cannot duplicate a record. Resolves once the broker acknowledged every record.
 *
 * @example
 * ```ts ignore
 * import { replayDeadLetters } from "@troupe/troupe";
 *
 * const result = await replayDeadLetters({ brokers: ["127.0.0.1:9092"] }, {
 *   topic: "orders.dlq",
 *   filter: { errorIncludes: "timeout" },
 *   dryRun: true,
 * });
 * for (const record of result.records) console.log(record.id, "->", record.to);
 * ```
 *
 * @throws {TopicError} `unknown-topic` when the dead-letter topic does not exist.
 * @throws {TypeError} for a malformed id in the filter.
 */
export async function replayDeadLetters(
  connection: ConnectionOptions,
  options: ReplayDeadLettersOptions,
): Promise<ReplayResult> {
  const letters = await listDeadLetters(connection, {
    topic: options.topic,
    filter: options.filter,
    timeoutMs: options.timeoutMs,
  });
  const replayId = crypto.randomUUID();
  const records: ReplayedRecord[] = [];
  const duplicates: string[] = [];
  const unroutable: string[] = [];
  const seen = new Set<string>();
  for (const letter of letters) {
    const { original } = letter;
    const identity = original.topic !== null && original.partition !== null &&
        original.offset !== null
      ? `${original.topic}\u0000${original.partition}\u0000${original.offset}`
      : `dead-letter\u0000${letter.id}`;
    if (seen.has(identity)) {
      duplicates.push(letter.id);
      continue;
    }
    seen.add(identity);
    const to = options.to ?? original.topic;
    if (to === null) {
      unroutable.push(letter.id);
      continue;
    }
    const samePartition = options.to === undefined || options.to === original.topic;
    records.push({
      id: letter.id,
      to,
      partition: samePartition ? original.partition : null,
      deadLetter: letter,
    });
  }
  const dryRun = options.dryRun ?? false;
  if (!dryRun && records.length > 0) {
    await using producer = createProducer({
      ...connection,
      clientId: `${connection.clientId ?? "troupe"}-replay`,
      keyCodec: "bytes",
      valueCodec: "bytes",
    });
    await producer.sendAll(records.map((record) => ({
      topic: record.to,
      partition: record.partition ?? undefined,
      key: record.deadLetter.key,
      value: record.deadLetter.value,
      headers: {
        ...record.deadLetter.headers as Record<string, Uint8Array | Uint8Array[]>,
        [REPLAY_HEADERS.of]: `${options.topic}:${record.id}`,
        [REPLAY_HEADERS.id]: replayId,
      },
    })));
  }
  return { replayId, dryRun, records, duplicates, unroutable };
}
