/**
 * One KafkaJS group membership as the engine controls it: pauses, seeks and commits from one
 * join to the next.
 *
 * @module
 */

import type { Consumer, EachBatchPayload } from "kafkajs";
import { NotReadyToCommit } from "./errors.ts";

/** A batch's `commitOffsetsIfNecessary`: it commits through its run's consumer group. */
export type CommitFunction = EachBatchPayload["commitOffsetsIfNecessary"];

/** An offset to commit, with its metadata. */
interface Commit {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly metadata: string | null;
}

/**
 * One group membership, from a join to the next: pauses go to the consumer, seeks to the
 * loop (which remembers them), and commits through a batch's `commitOffsetsIfNecessary` of the
 * same KafkaJS run (it commits under the run's current membership, so a re-joined session need
 * not wait for a batch), without KafkaJS's retry loop: a retry could run after the group moved
 * on, under the new generation, and commit a partition this member no longer owns
 * (kafkajs#1046). Once ended, it commits nothing.
 *
 * @example
 * ```ts ignore
 * const session = new MembershipSession(consumer, (topic, partition, offset) => seek(...));
 * session.commitWith = payload.commitOffsetsIfNecessary; // in eachBatch
 * await session.commit([{ topic: "orders", partition: 0, offset: 42, metadata: null }]);
 * ```
 */
export class MembershipSession {
  #consumer: Consumer;
  #seek: (topic: string, partition: number, offset: number) => void;
  /** The run's latest batch's commit, until the membership ends or the run does. */
  commitWith: CommitFunction | undefined;
  /** True once the next join (or a stop) ended the membership. */
  ended = false;

  /**
   * Creates the session of a membership that just began.
   *
   * @param consumer The KafkaJS consumer.
   * @param seek How the loop moves a partition's next fetch.
   */
  constructor(
    consumer: Consumer,
    seek: (topic: string, partition: number, offset: number) => void,
  ) {
    this.#consumer = consumer;
    this.#seek = seek;
  }

  /** False while {@linkcode MembershipSession.commit} would refuse. */
  get readyToCommit(): boolean {
    return !this.ended && this.commitWith !== undefined;
  }

  /** Stops fetching a partition. */
  pause(topic: string, partition: number): void {
    try {
      this.#consumer.pause([{ topic, partitions: [partition] }]);
    } catch {
      // Between a crash and the re-join there is no group to pause in; the engine re-applies
      // its pauses on the next assignment.
    }
  }

  /** Fetches a partition again. */
  resume(topic: string, partition: number): void {
    try {
      this.#consumer.resume([{ topic, partitions: [partition] }]);
    } catch {
      // See pause().
    }
  }

  /** Fetches a partition from `offset` next. */
  seek(topic: string, partition: number, offset: number): void {
    this.#seek(topic, partition, offset);
  }

  /**
   * Commits offsets with their metadata.
   *
   * @throws {NotReadyToCommit} when the membership ended or has fetched nothing yet.
   */
  async commit(offsets: readonly Commit[]): Promise<void> {
    const commit = this.commitWith;
    if (this.ended || !commit) throw new NotReadyToCommit();
    // KafkaJS passes `metadata` through to the OffsetCommit request; its types omit it.
    const byTopic = new Map<
      string,
      { partition: number; offset: string; metadata: string | null }[]
    >();
    for (const { topic, partition, offset, metadata } of offsets) {
      let partitions = byTopic.get(topic);
      if (!partitions) byTopic.set(topic, partitions = []);
      partitions.push({ partition, offset: String(offset), metadata });
    }
    await commit({ topics: [...byTopic].map(([topic, partitions]) => ({ topic, partitions })) });
  }
}
