/**
 * What a processor tells its listeners, and the errors it fails with.
 *
 * @module
 */

import { describeError } from "../kafka/errors.ts";

/** A topic-partition. */
export interface TopicPartition {
  /** Topic name. */
  readonly topic: string;
  /** Partition number. */
  readonly partition: number;
}

/** An offset of a topic-partition: for commits, the next offset the group reads. */
export interface TopicPartitionOffset extends TopicPartition {
  /** The offset. */
  readonly offset: number;
}

/** Why offsets were committed. */
export type CommitReason = "interval" | "rebalance" | "revoke" | "stop" | "escalation" | "manual";

/** Why a partition's fetching is paused. */
export type PauseReason = "backpressure" | "user";

/**
 * Everything a processor reports, as a discriminated union on `type`. Subscribe with
 * `processor.on(type, listener)`. None is emitted per message.
 */
export type ProcessorEvent =
  | {
    readonly type: "joined";
    readonly memberId: string | null;
    readonly assignment: TopicPartition[];
  }
  /** A rebalance began; every actor is on hold (finishing its message in hand). */
  | { readonly type: "rebalancing" }
  /** A stop began; every actor is on hold (finishing its message in hand). */
  | { readonly type: "stopping" }
  | ({ readonly type: "partition-assigned"; readonly epoch: number } & TopicPartition)
  | (
    & { readonly type: "partition-revoked"; readonly epoch: number; readonly dropped: number }
    & TopicPartition
  )
  | ({ readonly type: "actor-started"; readonly epoch: number } & TopicPartition)
  | ({
    readonly type: "actor-crashed";
    readonly offset: number;
    readonly error: unknown;
    /** Restarts within the restart-intensity window, this one excluded. */
    readonly restartsInWindow: number;
    /** Delay before the restart, or `null` when the crash escalates instead. */
    readonly restartInMs: number | null;
  } & TopicPartition)
  | ({
    readonly type: "dead-lettered";
    readonly offset: number;
    readonly deadLetterTopic: string;
    readonly attempts: number;
    /** Why: retries exhausted, the key or value could not be decoded, or the error is not retriable. */
    readonly reason: "retries-exhausted" | "decode-error" | "not-retriable";
    readonly error: unknown;
  } & TopicPartition)
  | (
    & { readonly type: "actor-restarted"; readonly offset: number; readonly restarts: number }
    & TopicPartition
  )
  | ({ readonly type: "actor-stopped"; readonly epoch: number } & TopicPartition)
  | (
    & { readonly type: "partition-seeked"; readonly offset: number; readonly epoch: number }
    & TopicPartition
  )
  | ({ readonly type: "partition-paused"; readonly reason: PauseReason } & TopicPartition)
  | ({ readonly type: "partition-resumed"; readonly reason: PauseReason } & TopicPartition)
  | {
    readonly type: "offsets-committed";
    readonly reason: CommitReason;
    readonly offsets: TopicPartitionOffset[];
    readonly durationMs: number;
  }
  | {
    readonly type: "commit-failed";
    readonly reason: CommitReason;
    readonly error: unknown;
    /** True when the broker refused because the group is rebalancing (not a data problem). */
    readonly rebalance: boolean;
  }
  | { readonly type: "consumer-crashed"; readonly error: unknown; readonly restarting: boolean }
  /** The subscription covers a topic it did not (created, re-created, or newly matching). */
  | { readonly type: "topic-added"; readonly topic: string; readonly partitions: number }
  /** A subscribed topic was deleted: its partitions are dropped, nothing is committed for it. */
  | { readonly type: "topic-deleted"; readonly topic: string }
  /** A subscribed topic gained partitions; the group re-balances to take them. */
  | {
    readonly type: "partitions-added";
    readonly topic: string;
    readonly from: number;
    readonly to: number;
  }
  /** Kafka stopped answering (a commit or the consumer failed on the connection). */
  | { readonly type: "connection-lost"; readonly error: unknown }
  /** Kafka answers again (a fetch, a commit or a join succeeded) after `downMs`. */
  | { readonly type: "connection-restored"; readonly downMs: number }
  | { readonly type: "processor-stopped" }
  | { readonly type: "processor-failed"; readonly error: Error };

/** The `type` of every {@linkcode ProcessorEvent}. */
export type ProcessorEventType = ProcessorEvent["type"];

/** The event of one `type`. */
export type ProcessorEventOf<T extends ProcessorEventType> = Extract<ProcessorEvent, { type: T }>;

/**
 * The restart intensity of a partition's actor was exceeded: it crashed more than
 * `maxRestarts` times within `withinMs`. The processor committed what was processed, stopped
 * and left the group; its `done` promise rejects with this error.
 *
 * @example
 * ```ts ignore
 * processor.done.catch((error) => {
 *   if (error instanceof EscalationError) {
 *     console.error(`stuck at ${error.topic}[${error.partition}]@${error.offset}`, error.cause);
 *   }
 * });
 * ```
 */
export class EscalationError extends Error {
  /** Topic of the failing partition. */
  readonly topic: string;
  /** The failing partition. */
  readonly partition: number;
  /** Offset of the message the actor kept failing on (the partition's committed offset). */
  readonly offset: number;
  /** Restarts within the window when it gave up. */
  readonly restarts: number;

  /**
   * Creates the error.
   *
   * @param where The failing message's topic, partition and offset.
   * @param restarts Restarts within the window.
   * @param withinMs The window.
   * @param cause The handler's last error.
   */
  constructor(where: TopicPartitionOffset, restarts: number, withinMs: number, cause: unknown) {
    super(
      `the actor of ${where.topic}[${where.partition}] crashed ${restarts + 1} times within ` +
        `${withinMs} ms at offset ${where.offset}; the processor gave up. Last handler error: ` +
        describeError(cause),
      { cause },
    );
    this.name = "EscalationError";
    this.topic = where.topic;
    this.partition = where.partition;
    this.offset = where.offset;
    this.restarts = restarts;
  }
}
