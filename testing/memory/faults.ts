/**
 * Fault injection for tests on the in-memory cluster: forced rebalances, failing commits,
 * crashing consumers and slow fetches.
 *
 * @module
 */

import {
  KafkaJSConnectionError,
  KafkaJSNonRetriableError,
  KafkaJSNumberOfRetriesExceeded,
  type KafkaJSProtocolError,
} from "./kafkajs_errors.ts";
import { protocolError } from "./errors.ts";

/** Options of {@linkcode MemoryKafkaFaults.failCommits}. */
export interface FailCommitsOptions {
  /**
   * The broker error type the commits fail with, e.g. `"REBALANCE_IN_PROGRESS"`,
   * `"ILLEGAL_GENERATION"` (both mean "the group moved on"), or `"REQUEST_TIMED_OUT"`,
   * `"GROUP_COORDINATOR_NOT_AVAILABLE"`, `"UNKNOWN"` (other failures). Default:
   * `"REBALANCE_IN_PROGRESS"`.
   */
  type?: string;
  /** Only commits of this group fail. Default: any group's. */
  groupId?: string;
}

/** Options of {@linkcode MemoryKafkaFaults.crashConsumer}. */
export interface CrashConsumerOptions {
  /** Only consumers of this group crash. Default: every running consumer. */
  groupId?: string;
  /** Only the consumer with this member id crashes. Default: any member. */
  memberId?: string;
  /**
   * True for a crash KafkaJS recovers from by itself (its retries ran out on a retriable
   * error: it leaves the group, reports `CRASH` with `restart: true`, and starts again after
   * `restartAfterMs`); false for one nothing recovers from (an authorization error: KafkaJS
   * reports `restart: false` and stays down, and a troupe processor fails). Default: true.
   */
  restart?: boolean;
  /** Delay before KafkaJS restarts the consumer, ms. Default: 300 (KafkaJS's first retry time). */
  restartAfterMs?: number;
}

/** Options of {@linkcode MemoryKafkaFaults.delayFetches}. */
export interface DelayFetchesOptions {
  /** Only fetches of this group's consumers are delayed. Default: every consumer's. */
  groupId?: string;
}

/**
 * Faults to inject into an in-memory cluster, through `MemoryKafka.faults`. Each acts the
 * way the KafkaJS consumer would see it from a real broker, so the code under test takes the
 * same paths. A handler crash needs no fault: make the handler throw.
 */
export interface MemoryKafkaFaults {
  /**
   * Forces a rebalance of a group, as when a member joins or leaves: each member's next
   * heartbeat fails with `REBALANCE_IN_PROGRESS` (a troupe processor reports `rebalancing`),
   * it re-joins, and gets its partitions of the next generation (`joined`). Resolves with the
   * new generation id once every member has its assignment.
   *
   * Members notice at their next heartbeat, which KafkaJS sends at most every
   * `heartbeatInterval` (troupe's `consumer.heartbeatInterval`, 3 s by default: lower it to
   * speed tests up).
   */
  rebalance(groupId: string): Promise<number>;
  /** Makes the next `count` offset commits fail with a broker error; nothing is stored. */
  failCommits(count: number, options?: FailCommitsOptions): void;
  /**
   * Crashes the KafkaJS consumers of a group (or every running one): at their next fetch,
   * they fail as KafkaJS does when its retries run out, with a `CRASH` event. Returns how
   * many consumers will crash.
   */
  crashConsumer(options?: CrashConsumerOptions): number;
  /** Delays every fetch's answer by `ms` (0 to stop), as a slow or distant broker would. */
  delayFetches(ms: number, options?: DelayFetchesOptions): void;
  /** Removes every pending fault (commit failures not yet consumed, fetch delays). */
  clear(): void;
}

/** A consumer a crash can be injected into. */
export interface CrashTarget {
  /** Its group. */
  readonly groupId: string;
  /** Its member id, once it joined. */
  readonly memberId: string | null;
  /** Makes it crash with `error` at its next fetch; false when it is not running. */
  crash(error: Error): boolean;
}

/** What the faults need from their cluster. */
export interface FaultContext {
  /** Forces a rebalance of a group. */
  rebalance(groupId: string): Promise<number>;
  /** The consumers currently running. */
  consumers(): Iterable<CrashTarget>;
}

interface CommitFailure {
  remaining: number;
  readonly type: string;
  readonly groupId: string | undefined;
}

/**
 * The faults of one cluster, and what the cluster's clients ask of them.
 *
 * @example
 * ```ts
 * import { Faults } from "./faults.ts";
 * const faults = new Faults({ rebalance: () => Promise.resolve(1), consumers: () => [] });
 * faults.failCommits(1, { type: "ILLEGAL_GENERATION" });
 * console.log(faults.takeCommitFailure("billing")?.type); // "ILLEGAL_GENERATION"
 * console.log(faults.takeCommitFailure("billing")); // undefined
 * ```
 */
export class Faults implements MemoryKafkaFaults {
  #context: FaultContext;
  #commitFailures: CommitFailure[] = [];
  #fetchDelays = new Map<string | undefined, number>();

  /**
   * Creates the faults of a cluster.
   *
   * @param context What they act on.
   */
  constructor(context: FaultContext) {
    this.#context = context;
  }

  rebalance(groupId: string): Promise<number> {
    return this.#context.rebalance(groupId);
  }

  failCommits(count: number, options: FailCommitsOptions = {}): void {
    if (!Number.isInteger(count) || count < 0) {
      throw new TypeError(`failCommits: count must be an integer >= 0, got ${count}`);
    }
    if (count === 0) return;
    this.#commitFailures.push({
      remaining: count,
      type: options.type ?? "REBALANCE_IN_PROGRESS",
      groupId: options.groupId,
    });
  }

  crashConsumer(options: CrashConsumerOptions = {}): number {
    const restart = options.restart ?? true;
    const restartAfterMs = options.restartAfterMs ?? 300;
    let crashed = 0;
    for (const consumer of this.#context.consumers()) {
      if (options.groupId !== undefined && consumer.groupId !== options.groupId) continue;
      if (options.memberId !== undefined && consumer.memberId !== options.memberId) continue;
      if (consumer.crash(crashError(restart, restartAfterMs))) crashed++;
    }
    return crashed;
  }

  delayFetches(ms: number, options: DelayFetchesOptions = {}): void {
    if (!(ms >= 0)) throw new TypeError(`delayFetches: ms must be >= 0, got ${ms}`);
    if (ms === 0) this.#fetchDelays.delete(options.groupId);
    else this.#fetchDelays.set(options.groupId, ms);
  }

  clear(): void {
    this.#commitFailures = [];
    this.#fetchDelays.clear();
  }

  /** The error the next commit of `groupId` must fail with, if one was injected (consumes it). */
  takeCommitFailure(groupId: string): KafkaJSProtocolError | undefined {
    const index = this.#commitFailures.findIndex((failure) =>
      failure.groupId === undefined || failure.groupId === groupId
    );
    if (index < 0) return undefined;
    const failure = this.#commitFailures[index];
    if (--failure.remaining === 0) this.#commitFailures.splice(index, 1);
    return protocolError(failure.type, "injected by faults.failCommits");
  }

  /** How long a fetch of `groupId` is delayed, ms. */
  fetchDelay(groupId: string): number {
    return this.#fetchDelays.get(groupId) ?? this.#fetchDelays.get(undefined) ?? 0;
  }
}

/** The error KafkaJS crashes with: its retries ran out (it restarts), or a non-retriable one. */
function crashError(restart: boolean, restartAfterMs: number): Error {
  if (!restart) {
    // No retry fixes a refusal: troupe restarts a consumer KafkaJS gave up on only when the
    // cause could pass (a broker away), so this one fails the processor.
    const error = new KafkaJSNonRetriableError(
      "Not authorized to access group (injected by faults.crashConsumer)",
    );
    Object.assign(error, { type: "GROUP_AUTHORIZATION_FAILED" });
    return error;
  }
  const cause = new KafkaJSConnectionError(
    "Connection error: the broker went away (injected by faults.crashConsumer)",
  );
  return new KafkaJSNumberOfRetriesExceeded(cause, {
    retryCount: 5,
    retryTime: restartAfterMs,
  });
}
