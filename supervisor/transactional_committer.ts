/**
 * Transactional commits (exactly once): each input partition's outputs and its input offset go
 * to Kafka in one transaction of the partition's own transactional producer.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { describeError } from "../kafka/errors.ts";
import { PartitionTransactions } from "../kafka/partition_transactions.ts";
import type { ProducerRecord } from "../kafka/producer.ts";
import type { CommitReport, OffsetCommitter, StartPoint } from "./committer.ts";
import type { CommittedOffsetsReader } from "./committer.ts";
import type { CommitReason, TopicPartitionOffset } from "./events.ts";
import { readStartPoint } from "./group_committer.ts";
import { type OutputPath, TransactionFailure } from "./output_path.ts";
import type { Partition } from "./partition.ts";
import type { ResolvedProcessorOptions } from "./resolve_options.ts";

const log = getLogger(["troupe", "supervisor"]);

/** One partition's commit: its offset, or why it failed and where it resumes. */
type PartitionCommit =
  | { readonly committed: TopicPartitionOffset }
  | { readonly failure: unknown; readonly rewind: TopicPartitionOffset | null }
  | null;

/**
 * Commits each partition's open transaction together with its commit point, so that a
 * message's outputs and its input offset become visible together or not at all. A new owner
 * of a partition first fences the previous one (its transactional id is the partition's) and
 * starts exactly at the offset the group has; a crash aborts the open transaction and the
 * partition is processed again from its last commit.
 *
 * @example
 * ```ts ignore
 * const committer = new TransactionalCommitter(resolvedOptions, committedOffsets);
 * const outputs = committer.outputPath(partition, partition.epoch);
 * ```
 */
export class TransactionalCommitter<K, V> implements OffsetCommitter<K, V> {
  readonly startsFromCommitted = true;
  #options: ResolvedProcessorOptions<K, V>;
  #committedOffsets: CommittedOffsetsReader;
  #transactions = new Map<Partition<K, V>, PartitionTransactions>();

  /**
   * Creates the committer.
   *
   * @param options The processor's resolved options (with `exactlyOnce` and `output` set).
   * @param committedOffsets Reads the group's offsets.
   */
  constructor(options: ResolvedProcessorOptions<K, V>, committedOffsets: CommittedOffsetsReader) {
    this.#options = options;
    this.#committedOffsets = committedOffsets;
  }

  /** The partition's transactions, made with its first use. */
  #of(partition: Partition<K, V>): PartitionTransactions {
    let transactions = this.#transactions.get(partition);
    if (!transactions) {
      const { connection, groupId, exactlyOnce, output } = this.#options;
      const { topic, partition: number } = partition;
      transactions = new PartitionTransactions({
        connection,
        transactionalId: `${exactlyOnce!.transactionalIdPrefix}-${topic}-${number}`,
        groupId,
        topic,
        partition: number,
        keyCodec: output!.keyCodec,
        valueCodec: output!.valueCodec,
      });
      this.#transactions.set(partition, transactions);
    }
    return transactions;
  }

  async start(partition: Partition<K, V>): Promise<StartPoint | null> {
    // Fence the previous owner first (its open transaction is completed or aborted), then read
    // the offset it committed, and start exactly there.
    await this.#of(partition).prepare();
    return await readStartPoint(this.#committedOffsets, partition, true);
  }

  /**
   * Where the outputs of the partition's messages go: into its open transaction, held until
   * an attempt succeeds, each attempt under the partition's lock. An actor of an older epoch
   * (replaced by a seek or a rewind) does not write into the transaction.
   */
  outputPath(partition: Partition<K, V>, epoch: number): OutputPath {
    const transactions = this.#of(partition);
    return {
      deferred: true,
      send: (records) =>
        transactions.send(records as readonly ProducerRecord<unknown, unknown>[]).catch(
          (error) => {
            throw new TransactionFailure(error);
          },
        ),
      run: <T>(attempt: () => Promise<T>, succeeded: () => void) =>
        transactions.run(async () => {
          if (!partition.current(epoch)) return undefined as T;
          const result = await attempt();
          transactions.messages++;
          succeeded();
          return result;
        }),
    };
  }

  processed(partition: Partition<K, V>): boolean {
    const transactions = this.#transactions.get(partition);
    return transactions !== undefined &&
      transactions.messages >= this.#options.exactlyOnce!.maxMessages;
  }

  async commit(
    partitions: readonly Partition<K, V>[],
    _session: unknown,
    reason: CommitReason,
  ): Promise<CommitReport | null> {
    const started = performance.now();
    const rounds: Promise<PartitionCommit>[] = [];
    for (const partition of partitions) {
      const transactions = this.#transactions.get(partition);
      if (transactions && (partition.tracker.needsCommit || transactions.open)) {
        rounds.push(this.#commitOne(partition, transactions, reason));
      }
    }
    if (rounds.length === 0) return null;
    const committed: TopicPartitionOffset[] = [];
    const failures: unknown[] = [];
    const rewinds: TopicPartitionOffset[] = [];
    for (const result of await Promise.all(rounds)) {
      if (result === null) continue;
      if ("committed" in result) committed.push(result.committed);
      else {
        failures.push(result.failure);
        if (result.rewind) rewinds.push(result.rewind);
      }
    }
    return { committed, failures, rewinds, durationMs: performance.now() - started };
  }

  /**
   * Commits a partition's open transaction with its commit point, under the partition's lock,
   * so the point read is consistent with the outputs in the transaction.
   */
  #commitOne(
    partition: Partition<K, V>,
    transactions: PartitionTransactions,
    reason: CommitReason,
  ): Promise<PartitionCommit> {
    const { topic, partition: number } = partition;
    return transactions.run(async () => {
      const tracker = partition.tracker;
      const point = tracker.commitPoint;
      if (point < 0) return null;
      const processed = tracker.processedCount;
      try {
        await transactions.commit(point);
      } catch (error) {
        // Whether the transaction committed is unknown (a new producer has settled it since):
        // ask the group. If it did not, its outputs are gone with it: process the messages
        // again from the offset the group has.
        const grouped = await this.#groupOffset(partition);
        if (grouped === point) {
          tracker.markCommitted(point, processed);
          return { committed: { topic, partition: number, offset: point } };
        }
        const rewind = grouped ??
          (tracker.committed >= 0 ? tracker.committed : partition.firstOffset);
        log.warn(
          "transaction of {topic}[{partition}] ({reason}) failed and was aborted; resuming at {rewind}: {error}",
          { topic, partition: number, reason, rewind, error: describeError(error) },
        );
        return {
          failure: error,
          rewind: rewind >= 0 ? { topic, partition: number, offset: rewind } : null,
        };
      }
      tracker.markCommitted(point, processed);
      return { committed: { topic, partition: number, offset: point } };
    });
  }

  /** The offset the group has for the partition, or `null` when it has none or cannot say. */
  async #groupOffset(partition: Partition<K, V>): Promise<number | null> {
    try {
      const row = (await this.#committedOffsets(partition.topic))
        .find((entry) => entry.partition === partition.partition);
      return row?.offset ?? null;
    } catch {
      return null; // keep the last offset this processor saw committed
    }
  }

  async afterCrash(partition: Partition<K, V>): Promise<number | null> {
    // The open transaction holds the outputs of messages processed since the last commit:
    // abort it, and process them again from there.
    const tracker = partition.tracker;
    const rewind = tracker.committed >= 0 ? tracker.committed : partition.firstOffset;
    const transactions = this.#transactions.get(partition);
    if (transactions) await transactions.run(() => transactions.abort()).catch(() => {});
    return rewind >= 0 ? rewind : null;
  }

  async discard(partition: Partition<K, V>): Promise<void> {
    const transactions = this.#transactions.get(partition);
    if (!transactions) return;
    await transactions.run(() => transactions.abort()).catch((error) =>
      log.warn("{topic}[{partition}]: aborting the open transaction at a seek failed: {error}", {
        topic: partition.topic,
        partition: partition.partition,
        error: describeError(error),
      })
    );
  }

  async release(partition: Partition<K, V>): Promise<void> {
    // A transaction left open is aborted: the next owner starts from the last commit.
    await this.#transactions.get(partition)?.close();
    this.#transactions.delete(partition);
  }

  async close(): Promise<void> {
    await Promise.all([...this.#transactions.values()].map((transactions) => transactions.close()));
    this.#transactions.clear();
  }
}
