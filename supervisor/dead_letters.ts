/**
 * Dead letters: the record a message that cannot be processed becomes, its provenance
 * headers, and the producer that sends it.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import type { ConnectionOptions } from "../kafka/client.ts";
import { DecodeError } from "../kafka/codec.ts";
import { describeError } from "../kafka/errors.ts";
import type { ReceivedMessage } from "../kafka/message.ts";
import { createProducer, type Producer } from "../kafka/producer.ts";
import type { ProcessorEvent } from "./events.ts";

const log = getLogger(["troupe", "supervisor"]);

/**
 * The headers troupe adds to a dead-letter record.
 *
 * @example
 * ```ts
 * import { DEAD_LETTER_HEADERS } from "./dead_letters.ts";
 * console.log(DEAD_LETTER_HEADERS.offset); // "troupe.dlq.offset"
 * ```
 */
export const DEAD_LETTER_HEADERS = {
  topic: "troupe.dlq.topic",
  partition: "troupe.dlq.partition",
  offset: "troupe.dlq.offset",
  timestamp: "troupe.dlq.timestamp",
  attempts: "troupe.dlq.attempts",
  error: "troupe.dlq.error",
  reason: "troupe.dlq.reason",
} as const;

/** Why a message was dead-lettered. */
export type DeadLetterReason = "retries-exhausted" | "decode-error" | "not-retriable";

/** A record for a dead-letter topic: the original's key, value and headers, plus troupe's. */
export interface DeadLetterRecord {
  /** The dead-letter topic. */
  readonly topic: string;
  /** The original's key bytes. */
  readonly key: Uint8Array | null;
  /** The original's value bytes. */
  readonly value: Uint8Array | null;
  /** The original's headers and troupe's ({@linkcode DEAD_LETTER_HEADERS}). */
  readonly headers: Record<string, string | Uint8Array | (string | Uint8Array)[]>;
}

/**
 * Builds the dead-letter record of `message`: its key, value and headers unchanged, and the
 * provenance headers of {@linkcode DEAD_LETTER_HEADERS}.
 *
 * @example
 * ```ts ignore
 * const record = deadLetterRecord(message, "orders.dlq", error, 3, "retries-exhausted");
 * ```
 */
export function deadLetterRecord(
  message: ReceivedMessage<unknown, unknown>,
  deadLetterTopic: string,
  error: unknown,
  attempts: number,
  reason: DeadLetterReason,
): DeadLetterRecord {
  const raw = message.raw;
  const headers: DeadLetterRecord["headers"] = {};
  for (const [name, value] of Object.entries(raw.headers ?? {})) {
    if (value !== undefined) headers[name] = value as DeadLetterRecord["headers"][string];
  }
  headers[DEAD_LETTER_HEADERS.topic] = message.topic;
  headers[DEAD_LETTER_HEADERS.partition] = String(message.partition);
  headers[DEAD_LETTER_HEADERS.offset] = String(message.offset);
  headers[DEAD_LETTER_HEADERS.timestamp] = String(message.timestamp);
  headers[DEAD_LETTER_HEADERS.attempts] = String(attempts);
  headers[DEAD_LETTER_HEADERS.error] = describeError(error);
  headers[DEAD_LETTER_HEADERS.reason] = reason;
  return { topic: deadLetterTopic, key: raw.key, value: raw.value, headers };
}

/**
 * Sends dead letters through one producer, made on first use (most processors never need
 * one), and reports each.
 *
 * @example
 * ```ts ignore
 * const deadLetters = new DeadLetters(connection, emit);
 * await deadLetters.send(message, "orders.dlq", error, 3, isRetriable);
 * ```
 */
export class DeadLetters {
  #connection: ConnectionOptions & { clientId: string };
  #emit: (event: ProcessorEvent) => void;
  #producer: Producer<Uint8Array, Uint8Array> | undefined;

  /**
   * Creates the sender; nothing connects before the first dead letter.
   *
   * @param connection How to reach Kafka.
   * @param emit Receives a `dead-lettered` event per record sent.
   */
  constructor(
    connection: ConnectionOptions & { clientId: string },
    emit: (event: ProcessorEvent) => void,
  ) {
    this.#connection = connection;
    this.#emit = emit;
  }

  /**
   * Hands a message that cannot be processed to `deadLetterTopic`. Resolves with why, once
   * the broker acknowledged the record (`acknowledged` is called then, before the event);
   * rejects otherwise (the message then stays uncommitted).
   */
  async send(
    message: ReceivedMessage<unknown, unknown>,
    deadLetterTopic: string,
    error: unknown,
    attempts: number,
    retriable: (error: unknown) => boolean,
    acknowledged?: () => void,
  ): Promise<DeadLetterReason> {
    const reason: DeadLetterReason = error instanceof DecodeError
      ? "decode-error"
      : retriable(error)
      ? "retries-exhausted"
      : "not-retriable";
    this.#producer ??= createProducer({
      ...this.#connection,
      clientId: `${this.#connection.clientId}-dead-letters`,
      keyCodec: "bytes",
      valueCodec: "bytes",
    });
    await this.#producer.send(deadLetterRecord(message, deadLetterTopic, error, attempts, reason));
    acknowledged?.();
    const { topic, partition, offset } = message;
    log.warn(
      "dead-lettered {topic}[{partition}]@{offset} to {deadLetterTopic} ({reason}): {error}",
      { topic, partition, offset, deadLetterTopic, reason, error: describeError(error) },
    );
    this.#emit({
      type: "dead-lettered",
      topic,
      partition,
      offset,
      deadLetterTopic,
      attempts,
      reason,
      error,
    });
    return reason;
  }

  /** Flushes and closes the producer, if one was made. */
  async close(): Promise<void> {
    await this.#producer?.close().catch(() => {});
  }
}
