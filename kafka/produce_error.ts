/**
 * Why a record was not produced: {@linkcode ProduceError} and {@linkcode ProducerClosedError},
 * and how a client's failure becomes one.
 *
 * @module
 */

import { DeadlineError } from "../actors/deadline.ts";
import { classifyKafkaError, describeError } from "./errors.ts";

/**
 * A send to a producer that was closed (or is closing).
 *
 * @example
 * ```ts
 * import { ProducerClosedError } from "./produce_error.ts";
 * console.log(new ProducerClosedError().name); // "ProducerClosedError"
 * ```
 */
export class ProducerClosedError extends Error {
  /** Creates the error. */
  constructor() {
    super("the producer is closed: create a new one to send more records");
    this.name = "ProducerClosedError";
  }
}

/**
 * The broker refused a record, or it could not be delivered in time. `topic`, `partition`
 * and `code` say which and why; `cause` is the client's error.
 *
 * @example
 * ```ts ignore
 * try {
 *   await producer.send({ topic: "t", value: hugeValue });
 * } catch (error) {
 *   if (error instanceof ProduceError && error.code === "MESSAGE_TOO_LARGE") shrink();
 * }
 * ```
 */
export class ProduceError extends Error {
  /** Topic of the record. */
  readonly topic: string;
  /** Partition of the record, when it was chosen before the failure. */
  readonly partition: number | undefined;
  /**
   * The broker's error code name (e.g. `MESSAGE_TOO_LARGE`, `UNKNOWN_TOPIC_OR_PARTITION`), or
   * `DELIVERY_TIMEOUT`, or `UNKNOWN`.
   */
  readonly code: string;

  /**
   * Creates the error.
   *
   * @param topic Topic of the record.
   * @param code Error code name.
   * @param message What happened.
   * @param details The client's error (`cause`) and the record's partition, when known.
   */
  constructor(
    topic: string,
    code: string,
    message: string,
    details: { cause?: unknown; partition?: number } = {},
  ) {
    super(message, { cause: details.cause });
    this.name = "ProduceError";
    this.topic = topic;
    this.partition = details.partition;
    this.code = code;
  }
}

/** Error codes after which a batch is sent again one record at a time. */
export const SPLITTABLE_CODES: ReadonlySet<string> = new Set([
  "MESSAGE_TOO_LARGE",
  "RECORD_LIST_TOO_LARGE",
]);

/**
 * Broker answers that pass by themselves: a partition's leader moving (an election after a
 * broker died, a controlled shutdown), too few in-sync replicas for a while, a request that
 * timed out. Kafka's own producer retries them within its delivery timeout; so does troupe's.
 */
const TRANSIENT_CODES: ReadonlySet<string> = new Set([
  "LEADER_NOT_AVAILABLE",
  "NOT_LEADER_FOR_PARTITION",
  "NOT_LEADER_OR_FOLLOWER",
  "NOT_ENOUGH_REPLICAS",
  "NOT_ENOUGH_REPLICAS_AFTER_APPEND",
  "REQUEST_TIMED_OUT",
  "NETWORK_EXCEPTION",
  "KAFKA_STORAGE_ERROR",
]);

/**
 * Whether a failed send is worth sending again: the brokers could not be reached, or answered
 * with a code that passes by itself (see above). A refusal of the record itself is not.
 *
 * @example
 * ```ts
 * import { isTransientProduceFailure } from "./produce_error.ts";
 * console.log(isTransientProduceFailure({ type: "LEADER_NOT_AVAILABLE" })); // true
 * console.log(isTransientProduceFailure({ type: "MESSAGE_TOO_LARGE" })); // false
 * ```
 */
export function isTransientProduceFailure(error: unknown): boolean {
  return TRANSIENT_CODES.has(produceErrorCode(error)) ||
    classifyKafkaError(error) === "connection";
}

/**
 * The error code name of a client failure: its `type`, or its cause's, or
 * `DELIVERY_TIMEOUT` for a missed deadline.
 *
 * @example
 * ```ts
 * import { produceErrorCode } from "./produce_error.ts";
 * console.log(produceErrorCode({ type: "NOT_LEADER_FOR_PARTITION" })); // "NOT_LEADER_FOR_PARTITION"
 * console.log(produceErrorCode(new Error("?"))); // "UNKNOWN"
 * ```
 */
export function produceErrorCode(error: unknown): string {
  if (error instanceof DeadlineError) return "DELIVERY_TIMEOUT";
  const type = (error as { type?: unknown } | null)?.type;
  if (typeof type === "string") return type;
  const cause = (error as { cause?: unknown } | null)?.cause;
  if (cause) return produceErrorCode(cause);
  return "UNKNOWN";
}

/**
 * The {@linkcode ProduceError} a record gets when its send failed with `error`.
 *
 * @param topic The record's topic.
 * @param bytes The record's size (key and value), for the message.
 * @param error The client's error.
 *
 * @example
 * ```ts
 * import { produceErrorOf } from "./produce_error.ts";
 * const error = produceErrorOf("orders", 2_000_000, { type: "MESSAGE_TOO_LARGE" });
 * console.log(error.code); // "MESSAGE_TOO_LARGE"
 * ```
 */
export function produceErrorOf(topic: string, bytes: number, error: unknown): ProduceError {
  const code = produceErrorCode(error);
  if (SPLITTABLE_CODES.has(code)) {
    return new ProduceError(
      topic,
      code,
      `a record of ${bytes} bytes for ${topic} is larger than the broker accepts ` +
        `(${code}: see the broker's message.max.bytes and the topic's max.message.bytes)`,
      { cause: error },
    );
  }
  if (code === "DELIVERY_TIMEOUT") {
    return new ProduceError(
      topic,
      code,
      `a record for ${topic} was not acknowledged in time`,
      { cause: error },
    );
  }
  return new ProduceError(
    topic,
    code,
    `the broker refused a record for ${topic}: ${describeError(error)}`,
    { cause: error },
  );
}
