/**
 * The seam between the engine and the Kafka client that feeds it, in both directions: what
 * the fetcher hands the engine ({@linkcode FetchSink}), what the engine may ask of the fetcher
 * ({@linkcode FetchSession}), and what the fetcher tells the processor about its group
 * ({@linkcode FetcherObserver}). `consumer_loop.ts` implements the fetcher side with KafkaJS;
 * another client would implement the same three, and nothing else in the engine would change.
 *
 * @module
 */

import { NotReadyToCommit } from "../kafka/errors.ts";
import type { ReceivedMessage } from "../kafka/message.ts";
import type { SubscriptionChange, SubscriptionSnapshot } from "../kafka/subscription.ts";
import type { TopicPartitionOffset } from "./events.ts";

/** A member's partitions, by topic. */
export type Assignment = Readonly<Record<string, readonly number[]>>;

/** An offset to commit (the next one to read), with the metadata to store beside it. */
export interface CommitOffset extends TopicPartitionOffset {
  /** Completions beyond the offset (see `completions.ts`), or `null`. */
  readonly metadata: string | null;
}

export { NotReadyToCommit };

/**
 * What the engine may ask of the fetcher during one group membership (from one join to the
 * next). Pauses and seeks are idempotent requests, re-applied by the engine after every join;
 * a commit through a session that has ended rejects with {@linkcode NotReadyToCommit}, so work
 * acknowledged under an old membership can never be committed under a new one.
 */
export interface FetchSession {
  /** Stop fetching a partition. */
  pause(topic: string, partition: number): void;
  /** Fetch a partition again. */
  resume(topic: string, partition: number): void;
  /** Fetch a partition from `offset` next. */
  seek(topic: string, partition: number, offset: number): void;
  /** Commits offsets with their metadata; rejects when the broker refuses. */
  commit(offsets: readonly CommitOffset[]): Promise<void>;
  /**
   * False while a commit would be refused with {@linkcode NotReadyToCommit}: the membership
   * ended, or the fetcher needs a batch of it first (a restarted KafkaJS consumer).
   */
  readonly readyToCommit: boolean;
}

/**
 * The session before the first join: there is nothing to pause or seek yet (the engine
 * re-applies both once joined), and nothing can be committed.
 */
export const NOT_JOINED: FetchSession = Object.freeze({
  pause() {},
  resume() {},
  seek() {},
  commit: () => Promise.reject(new NotReadyToCommit()),
  readyToCommit: false,
});

/**
 * What the fetcher hands the engine: assignments with their session, batches of fetched
 * messages, and the signals around a rebalance. None of it is awaited by the fetcher except
 * `drainForRebalance`.
 *
 * @typeParam K Decoded key type.
 * @typeParam V Decoded value type.
 */
export interface FetchSink<K, V> {
  /** A (re-)join: the member's partitions now, and the session to control them with. */
  assigned(assignment: Assignment, session: FetchSession): void;
  /**
   * A fetched batch of one partition, in offset order, aborted transactions already dropped.
   * `highWatermark` is the partition's end offset as of the fetch.
   */
  delivered(
    topic: string,
    partition: number,
    messages: readonly ReceivedMessage<K, V>[],
    highWatermark: number,
  ): void;
  /**
   * A rebalance was signalled and the group waits for this member: finish what is in hand
   * (at most `drainMs`) and commit, while the partitions are still ours.
   */
  drainForRebalance(drainMs: number): Promise<void>;
  /** A rebalance began without waiting for us: hold, and commit what can be, best effort. */
  rebalanceStarted(): void;
  /** The membership is gone until the fetcher re-joins (its client crashed): hold. */
  membershipLost(): void;
  /**
   * A subscribed topic was deleted: its partitions are nobody's any more; drop them (what is in
   * hand may finish) and commit nothing for them.
   */
  topicDeleted(topic: string): void;
}

/** What the fetcher tells the processor about its group and its connection. */
export interface FetcherObserver {
  /** While true, every batch and heartbeat is reported through `alive()`. */
  readonly watching: boolean;
  /** The member joined (or re-joined) its group with this assignment. */
  joined(memberId: string | null, assignment: Assignment): void;
  /** The client crashed; `restarting` says whether it is being restarted. */
  crashed(error: unknown, restarting: boolean): void;
  /** Kafka answered (a batch or a heartbeat); called only while `watching`. */
  alive(): void;
  /** What the subscription covers changed; `partitions` counts each topic added. */
  subscriptionChanged(change: SubscriptionChange, partitions: SubscriptionSnapshot): void;
}
