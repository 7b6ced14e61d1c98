/**
 * How processed work becomes durable: the one contract of the two committers (group offset
 * commits, `group_committer.ts`; transactions, `transactional_committer.ts`), and the schedule
 * that runs their commits one at a time.
 *
 * @module
 */

import { classifyKafkaError } from "../kafka/errors.ts";
import type { CommitReason, ProcessorEvent, TopicPartitionOffset } from "./events.ts";
import type { Partition } from "./partition.ts";
import type { FetchSession } from "./seam.ts";

/** Where a newly assigned partition starts, as its committer found it. */
export interface StartPoint {
  /** The group's committed offset: the next to read. */
  readonly offset: number;
  /** Offsets beyond it that a previous owner completed: skip them, or `null`. */
  readonly skip: Set<number> | null;
  /** True when fetching must be moved there before anything is read. */
  readonly seek: boolean;
}

/** What one round of commits achieved. */
export interface CommitReport {
  /** The offsets the broker acknowledged. */
  readonly committed: readonly TopicPartitionOffset[];
  /** Why the others failed (each a commit that will be tried again, or was rewound). */
  readonly failures: readonly unknown[];
  /**
   * Partitions whose uncommitted work was lost with a failed commit (a transaction), and the
   * offset they must be processed again from.
   */
  readonly rewinds: readonly TopicPartitionOffset[];
  /** How long the round took, ms. */
  readonly durationMs: number;
}

/** The group's committed offset and metadata of each partition of a topic. */
export type CommittedOffsetsReader = (
  topic: string,
) => Promise<{ partition: number; offset: number | null; metadata: string | null }[]>;

/**
 * How a partition's processed work becomes durable, and what that means around it: where a
 * new owner starts, what a crash or a seek throws away, what a departing partition releases.
 * A round of commits reports what happened; it never throws.
 *
 * @typeParam K Decoded key type.
 * @typeParam V Decoded value type.
 */
export interface OffsetCommitter<K, V> {
  /** True when a new partition must wait for {@linkcode OffsetCommitter.start} before fetching. */
  readonly startsFromCommitted: boolean;
  /** Reads where a new partition starts (and, for transactions, fences its previous owner). */
  start(partition: Partition<K, V>): Promise<StartPoint | null>;
  /** Commits the commit points that moved; `null` when there was nothing to commit yet. */
  commit(
    partitions: readonly Partition<K, V>[],
    session: FetchSession,
    reason: CommitReason,
  ): Promise<CommitReport | null>;
  /** A message of the partition was processed: true when its work should be committed now. */
  processed(partition: Partition<K, V>): boolean;
  /**
   * After a crash: where the partition must be processed again from, when its uncommitted work
   * was thrown away, or `null` to retry in place.
   */
  afterCrash(partition: Partition<K, V>): Promise<number | null>;
  /** A seek moved the partition: throw away its uncommitted work. */
  discard(partition: Partition<K, V>): Promise<void>;
  /** The partition left this member: release what it holds. */
  release(partition: Partition<K, V>): Promise<void>;
  /** Releases everything. */
  close(): Promise<void>;
}

/**
 * Runs commit rounds one after another and reports them as events. At most one round waits
 * behind the running one: a waiting round takes the commit points current when it starts, so
 * piling up more would only repeat it, and a slow broker must not turn interval ticks into a
 * queue.
 *
 * @example
 * ```ts ignore
 * const schedule = new CommitSchedule(emit);
 * await schedule.run("interval", () => committer.commit(partitions, session, "interval"));
 * ```
 */
export class CommitSchedule {
  #emit: (event: ProcessorEvent) => void;
  #chain: Promise<void> = Promise.resolve();
  #waiting: Promise<CommitReport | null> | undefined;

  /**
   * Creates an idle schedule.
   *
   * @param emit Receives `offsets-committed` and `commit-failed` events.
   */
  constructor(emit: (event: ProcessorEvent) => void) {
    this.#emit = emit;
  }

  /** Runs `round` after the running one; resolves with its report once it ran. */
  run(
    reason: CommitReason,
    round: () => Promise<CommitReport | null>,
  ): Promise<CommitReport | null> {
    if (this.#waiting) return this.#waiting;
    const next = this.#chain.then(async () => {
      this.#waiting = undefined;
      const report = await round();
      if (report) this.#report(reason, report);
      return report;
    });
    this.#waiting = next;
    this.#chain = next.then(() => {}, () => {});
    return next;
  }

  #report(reason: CommitReason, report: CommitReport): void {
    if (report.committed.length > 0) {
      this.#emit({
        type: "offsets-committed",
        reason,
        offsets: [...report.committed],
        durationMs: report.durationMs,
      });
    }
    for (const error of report.failures) {
      this.#emit({
        type: "commit-failed",
        reason,
        error,
        rebalance: classifyKafkaError(error) === "rebalance",
      });
    }
  }
}
