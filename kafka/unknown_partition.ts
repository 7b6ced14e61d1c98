/**
 * A record addressed to a partition its producer's metadata does not know: the signal that
 * makes KafkaJS refresh its metadata and try again, and how troupe finds it afterwards.
 *
 * @module
 */

import { causes } from "./errors.ts";

/**
 * Thrown by troupe's partitioner for a record whose partition is not in the producer's
 * metadata, before anything is sent. KafkaJS treats its `type` as stale metadata: it refreshes
 * the metadata and retries the send (within its retry budget), so a partition created after
 * the producer started is found. Raw KafkaJS instead drops such a record and resolves the send
 * as if it had been written.
 *
 * @example
 * ```ts
 * import { UnknownPartitionError } from "./unknown_partition.ts";
 *
 * const error = new UnknownPartitionError("orders", 7, 6);
 * console.log(error.type, error.retriable); // "UNKNOWN_TOPIC_OR_PARTITION" true
 * ```
 */
export class UnknownPartitionError extends Error {
  /** The broker error code KafkaJS reads as stale metadata. */
  readonly type = "UNKNOWN_TOPIC_OR_PARTITION";
  /** KafkaJS retries what is retriable. */
  readonly retriable = true;
  /** The record's topic. */
  readonly topic: string;
  /** The partition the record asked for. */
  readonly partition: number;
  /** How many partitions the metadata knows of the topic. */
  readonly known: number;

  /**
   * Creates the error.
   *
   * @param topic The record's topic.
   * @param partition The partition it asked for.
   * @param known Partitions of the topic in the metadata.
   */
  constructor(topic: string, partition: number, known: number) {
    super(
      `partition ${partition} of ${topic} does not exist (the topic has ${known} partition(s))`,
    );
    this.name = "UnknownPartitionError";
    this.topic = topic;
    this.partition = partition;
    this.known = known;
  }
}

/**
 * The {@linkcode UnknownPartitionError} in `error` or its causes (KafkaJS wraps the last one
 * when its retries run out), if any.
 *
 * @example
 * ```ts
 * import { UnknownPartitionError, unknownPartitionIn } from "./unknown_partition.ts";
 *
 * const cause = new UnknownPartitionError("orders", 7, 6);
 * console.log(unknownPartitionIn(new Error("retries exhausted", { cause }))?.partition); // 7
 * ```
 */
export function unknownPartitionIn(error: unknown): UnknownPartitionError | undefined {
  for (const cause of causes(error)) {
    if (cause instanceof UnknownPartitionError) return cause;
  }
  return undefined;
}
