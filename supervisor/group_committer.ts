/**
 * Group commits: processed offsets go to the consumer group, with the completions beyond the
 * commit point in the commit's metadata (key and unordered modes).
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { classifyKafkaError, describeError } from "../kafka/errors.ts";
import { decodeCompletions, encodeCompletions } from "./completions.ts";
import type {
  CommitReport,
  CommittedOffsetsReader,
  OffsetCommitter,
  StartPoint,
} from "./committer.ts";
import type { CommitReason } from "./events.ts";
import type { OffsetTracker } from "./offset_tracker.ts";
import type { Partition } from "./partition.ts";
import { type CommitOffset, type FetchSession, NotReadyToCommit } from "./seam.ts";

const log = getLogger(["troupe", "supervisor"]);

/**
 * Reads where a partition starts from the group, and the completions a previous owner
 * recorded beyond it. Metadata that is missing, foreign or corrupt falls back to the committed
 * offset alone, with a warning.
 *
 * @example
 * ```ts ignore
 * const start = await readStartPoint(committedOffsets, partition, false);
 * ```
 */
export async function readStartPoint(
  committedOffsets: CommittedOffsetsReader,
  where: { topic: string; partition: number },
  seek: boolean,
): Promise<StartPoint | null> {
  const { topic, partition } = where;
  const row = (await committedOffsets(topic)).find((entry) => entry.partition === partition);
  if (!row || row.offset === null) return null;
  let skip: Set<number> | null = null;
  try {
    const completed = decodeCompletions(row.metadata, row.offset);
    if (completed.size > 0) {
      skip = completed;
      log.info(
        "{topic}[{partition}]: {count} offset(s) past {offset} were completed before; skipping them",
        { topic, partition, count: completed.size, offset: row.offset },
      );
    }
  } catch (error) {
    log.warn(
      "{topic}[{partition}]: ignoring offset metadata ({error}); starting at the committed offset {offset}",
      { topic, partition, error: describeError(error), offset: row.offset },
    );
  }
  return { offset: row.offset, skip, seek };
}

/**
 * Commits processed offsets to the consumer group through the fetcher's session: for each
 * partition whose commit point moved, the offset after its highest contiguous processed one.
 * Key and unordered modes also record the offsets completed beyond that point in the
 * commit's metadata, and read them back when a partition is assigned, so its new owner skips
 * that work.
 *
 * @example
 * ```ts ignore
 * const committer = new GroupCommitter({ lanes: true, metadataMaxBytes: 4096, committedOffsets });
 * const report = await committer.commit(partitions, session, "interval");
 * ```
 */
export class GroupCommitter<K, V> implements OffsetCommitter<K, V> {
  readonly startsFromCommitted: boolean;
  #lanes: boolean;
  #metadataMaxBytes: number;
  #committedOffsets: CommittedOffsetsReader;

  /**
   * Creates the committer.
   *
   * @param options `lanes`: messages complete out of order (key or unordered mode), so
   *   completions go in the metadata; `metadataMaxBytes`: the broker's limit on it;
   *   `committedOffsets`: reads the group's offsets and metadata.
   */
  constructor(
    options: {
      readonly lanes: boolean;
      readonly metadataMaxBytes: number;
      readonly committedOffsets: CommittedOffsetsReader;
    },
  ) {
    this.#lanes = options.lanes;
    this.#metadataMaxBytes = options.metadataMaxBytes;
    this.#committedOffsets = options.committedOffsets;
    this.startsFromCommitted = options.lanes;
  }

  start(partition: Partition<K, V>): Promise<StartPoint | null> {
    if (!this.#lanes) return Promise.resolve(null);
    return readStartPoint(this.#committedOffsets, partition, false);
  }

  async commit(
    partitions: readonly Partition<K, V>[],
    session: FetchSession,
    reason: CommitReason,
  ): Promise<CommitReport | null> {
    const pending: { tracker: OffsetTracker; offset: CommitOffset; processed: number }[] = [];
    for (const partition of partitions) {
      const tracker = partition.tracker;
      if (!tracker.needsCommit) continue;
      const point = tracker.commitPoint;
      const metadata = this.#lanes
        ? encodeCompletions(point, tracker.completedBeyond(), this.#metadataMaxBytes) ?? null
        : null;
      const { topic, partition: number } = partition;
      pending.push({
        tracker,
        offset: { topic, partition: number, offset: point, metadata },
        processed: tracker.processedCount,
      });
    }
    if (pending.length === 0) return null;
    const offsets = pending.map((entry) => entry.offset);
    const started = performance.now();
    try {
      await session.commit(offsets);
    } catch (error) {
      if (error instanceof NotReadyToCommit) {
        // Between a (re-)join and the first batch there is no way to commit yet; the points
        // stay dirty and go out with the next commit.
        log.debug("commit ({reason}) deferred: {error}", { reason, error: error.message });
        return null;
      }
      const rebalance = classifyKafkaError(error) === "rebalance";
      const message = rebalance
        ? "commit ({reason}) refused while the group rebalances: {error}"
        : "commit ({reason}) failed, will retry: {error}";
      log[rebalance ? "info" : "warn"](message, { reason, error: describeError(error) });
      return { committed: [], failures: [error], rewinds: [], durationMs: 0 };
    }
    for (const { tracker, offset, processed } of pending) {
      tracker.markCommitted(offset.offset, processed);
    }
    return {
      committed: offsets.map(({ topic, partition, offset }) => ({ topic, partition, offset })),
      failures: [],
      rewinds: [],
      durationMs: performance.now() - started,
    };
  }

  processed(): boolean {
    return false;
  }

  afterCrash(): Promise<number | null> {
    return Promise.resolve(null);
  }

  discard(): Promise<void> {
    return Promise.resolve();
  }

  release(): Promise<void> {
    return Promise.resolve();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
