/**
 * One assigned partition: its phase, mailbox, actor, offsets, fetch pauses and counters.
 *
 * @module
 */

import { Mailbox } from "../actors/mailbox.ts";
import type { ActorState, SupervisedActor } from "../actors/supervised_actor.ts";
import { describeError } from "../kafka/errors.ts";
import type { ReceivedMessage } from "../kafka/message.ts";
import type { ProcessorEvent, TopicPartition } from "./events.ts";
import { OffsetTracker } from "./offset_tracker.ts";
import { type RestartPolicy, RestartSupervision } from "./restarts.ts";
import type { FetchSession } from "./seam.ts";

/**
 * Where a partition is in its life with this member:
 *
 * - `initializing`: its actor waits to start (for a revoked predecessor to finish, or for the
 *   committer to say where it starts);
 * - `running`: its actor takes messages;
 * - `restarting`: its actor crashed; a restart is pending;
 * - `seeking`: moved to another offset; the new actor waits for the old one to stop;
 * - `stopping`: the processor stops; what is in hand finishes and is committed;
 * - `revoked`: no longer ours (or stopped): nothing it does counts any more.
 */
export type PartitionPhase =
  | "initializing"
  | "running"
  | "restarting"
  | "seeking"
  | "stopping"
  | "revoked";

/**
 * Why a partition's fetching is paused: its mailbox is full (`backpressure`), a user paused
 * it, its committer is reading where it starts (`initializing`), or the processor stops.
 */
export type FetchPause = "backpressure" | "user" | "initializing" | "stopping";

/** A snapshot of one assigned partition, as `processor.status()` shows it. */
export interface PartitionStatus extends TopicPartition {
  /** Where the partition is in its life with this member. */
  readonly phase: PartitionPhase;
  /** Assignment epoch of its current actor. */
  readonly epoch: number;
  /** Its actor's state. */
  readonly actor: ActorState;
  /** Highest offset processed since it was assigned, or `null`. */
  readonly processedOffset: number | null;
  /** Offset the group last committed for it (the next to read), or `null` if none yet. */
  readonly committedOffset: number | null;
  /** Messages waiting in its mailbox, the one in hand included. */
  readonly mailboxSize: number;
  /** True when its fetching is paused, for any reason. */
  readonly paused: boolean;
  /** Why it is paused: each reason that holds now. */
  readonly pausedBy: { readonly [reason in FetchPause]: boolean };
  /** Messages processed since it was assigned. */
  readonly processed: number;
  /** Failed handler attempts since it was assigned (each retry's failure counts). */
  readonly failed: number;
  /** Retries scheduled since it was assigned. */
  readonly retried: number;
  /** Messages handed to the dead-letter topic since it was assigned. */
  readonly deadLettered: number;
  /** Messages skipped because a previous owner had completed them (key/unordered modes). */
  readonly skipped: number;
  /** Messages being processed right now. */
  readonly inFlight: number;
  /** The partition's end offset as of the last fetch, or `null` before one. */
  readonly highWatermark: number | null;
  /** Messages between the processed position and the high watermark, or `null`. */
  readonly lag: number | null;
  /** Times its actor was restarted since it was assigned. */
  readonly restarts: number;
  /** The last handler error, or `null`. */
  readonly lastError: string | null;
}

/** Counters of a partition since it was assigned. */
export interface PartitionCounters {
  processed: number;
  failed: number;
  retried: number;
  deadLettered: number;
  skipped: number;
  restarts: number;
}

/** What a partition is made with. */
export interface PartitionSetup {
  readonly topic: string;
  readonly partition: number;
  readonly epoch: number;
  readonly mailboxCapacity: number;
  readonly mailboxLowWatermark: number;
  readonly restart: RestartPolicy;
  /** The current fetch session (it changes with every join). */
  readonly session: () => FetchSession;
  readonly emit: (event: ProcessorEvent) => void;
}

/** A stand-in until the table gives the partition its actor. */
const NO_ACTOR: SupervisedActor = Object.freeze({
  state: "idle" as const,
  inFlight: 0,
  buffered: 0,
  start() {},
  hold: () => Promise.resolve(),
  release() {},
  restart() {},
  stop: () => Promise.resolve(),
});

/**
 * One assigned partition. Its epoch changes when it is re-created or moved (a seek): reports
 * carry the epoch of the actor that made them, and {@linkcode Partition.current} and
 * {@linkcode Partition.owns} are the guards that say whether such a report still counts.
 *
 * @example
 * ```ts ignore
 * const partition = new Partition(setup);
 * partition.actor = pipeline.actorFor(partition, partition.epoch, reports);
 * partition.deliver(messages, highWatermark);
 * ```
 *
 * @typeParam K Decoded key type.
 * @typeParam V Decoded value type.
 */
export class Partition<K, V> implements TopicPartition {
  readonly topic: string;
  readonly partition: number;
  /** `topic` and `partition` as one map key. */
  readonly key: string;
  readonly mailbox: Mailbox<ReceivedMessage<K, V>>;
  readonly supervision: RestartSupervision;
  readonly counters: PartitionCounters = {
    processed: 0,
    failed: 0,
    retried: 0,
    deadLettered: 0,
    skipped: 0,
    restarts: 0,
  };
  phase: PartitionPhase = "initializing";
  actor: SupervisedActor = NO_ACTOR;
  tracker: OffsetTracker;
  /** Offsets a previous owner completed beyond the committed offset: skip them. */
  skip: Set<number> | null = null;
  /** First offset delivered under the current epoch (where an aborted transaction rewinds to). */
  firstOffset = -1;
  /** Lowest offset accepted from a fetch: everything below was already taken. */
  nextOffset = -1;
  highWatermark = -1;
  lastError: unknown = undefined;
  /** Its actor is held until a commit covers what it processed (see `maxUncommitted`). */
  awaitingCommit = false;
  /** Aborted when the message in hand overstays a shutdown, revocation or seek deadline. */
  abort: AbortController = new AbortController();
  #epoch: number;
  #pauses = new Set<FetchPause>();
  #session: () => FetchSession;
  #emit: (event: ProcessorEvent) => void;

  /**
   * Creates a partition in `initializing`, without an actor.
   *
   * @param setup Where it is, its mailbox's size, its restart policy, and the table's session
   *   and events.
   */
  constructor(setup: PartitionSetup) {
    this.topic = setup.topic;
    this.partition = setup.partition;
    this.key = partitionKey(setup.topic, setup.partition);
    this.#epoch = setup.epoch;
    this.#session = setup.session;
    this.#emit = setup.emit;
    this.tracker = new OffsetTracker(setup.epoch);
    this.supervision = new RestartSupervision(setup.restart);
    this.mailbox = new Mailbox({
      capacity: setup.mailboxCapacity,
      lowWatermark: setup.mailboxLowWatermark,
      onLowWatermark: () => {
        if (this.resume("backpressure") && this.phase !== "revoked") {
          this.#emit({ type: "partition-resumed", ...this.#where(), reason: "backpressure" });
        }
      },
    });
  }

  /** The epoch whose reports count. */
  get epoch(): number {
    return this.#epoch;
  }

  /** True while work done under `epoch` still counts: the partition is ours and unmoved. */
  current(epoch: number): boolean {
    return epoch === this.#epoch && this.phase !== "revoked";
  }

  /**
   * True while the supervisor may still act for `epoch` (start, restart or rewind its actor):
   * the partition is {@linkcode Partition.current} and the processor is not stopping.
   */
  owns(epoch: number): boolean {
    return this.current(epoch) && this.phase !== "stopping";
  }

  /**
   * Moves to a new epoch starting at `offset` (a seek): a fresh tracker and backoff, an empty
   * mailbox, no skips, no backpressure. The caller gives it a new actor.
   */
  moveTo(epoch: number, offset: number): void {
    this.#epoch = epoch;
    this.tracker = new OffsetTracker(epoch, this.tracker.committed, offset);
    this.supervision.cancel();
    this.supervision.progressed();
    this.mailbox.clear();
    this.skip = null; // what a previous owner completed is for its position, not this one
    this.awaitingCommit = false;
    this.nextOffset = offset;
    this.abort = new AbortController();
    this.resume("backpressure");
  }

  /**
   * Puts fetched messages in the mailbox, skipping offsets already taken (KafkaJS fetches
   * retained partitions again from the committed offset after a rebalance), and pauses the
   * partition's fetching when the mailbox is full.
   */
  deliver(messages: readonly ReceivedMessage<K, V>[], highWatermark: number): void {
    if (this.phase === "revoked" || this.phase === "stopping") return;
    this.highWatermark = highWatermark;
    if (this.#pauses.has("backpressure")) {
      // Fetched through the pause (see fetchOnce): the mailbox is full, take none of it, and
      // fetch from the first message not taken once it drained.
      const session = this.#session();
      if (this.nextOffset >= 0) session.seek(this.topic, this.partition, this.nextOffset);
      session.pause(this.topic, this.partition);
      return;
    }
    if (messages.length === 0) return;
    const mailbox = this.mailbox;
    let next = this.nextOffset;
    if (this.firstOffset < 0) this.firstOffset = messages[0].offset;
    for (let i = 0; i < messages.length; i++) {
      const message = messages[i];
      if (message.offset < next) continue;
      mailbox.push(message);
      next = message.offset + 1;
    }
    this.nextOffset = next;
    if (mailbox.full && this.pause("backpressure")) {
      this.#emit({ type: "partition-paused", ...this.#where(), reason: "backpressure" });
    }
  }

  /** Adds a reason to pause fetching; returns true when it was not there. */
  pause(reason: FetchPause): boolean {
    if (this.#pauses.has(reason)) return false;
    this.#pauses.add(reason);
    if (this.#pauses.size === 1) this.#session().pause(this.topic, this.partition);
    return true;
  }

  /** Removes a reason to pause fetching; returns true when it was there. */
  resume(reason: FetchPause): boolean {
    if (!this.#pauses.delete(reason)) return false;
    if (this.#pauses.size === 0 && this.phase !== "revoked") {
      this.#session().resume(this.topic, this.partition);
    }
    return true;
  }

  /** True when its fetching is not paused. */
  get fetching(): boolean {
    return this.#pauses.size === 0;
  }

  /** True when `reason` is the only one that pauses its fetching. */
  pausedOnlyBy(reason: FetchPause): boolean {
    return this.#pauses.size === 1 && this.#pauses.has(reason);
  }

  /**
   * Lets one batch through a backpressure pause, for a fetcher that needs a batch before it
   * can commit; {@linkcode Partition.deliver} takes none of it and pauses again.
   */
  fetchOnce(): void {
    this.#session().resume(this.topic, this.partition);
  }

  /** True when `reason` pauses its fetching now. */
  pausedBy(reason: FetchPause): boolean {
    return this.#pauses.has(reason);
  }

  /** Tells a new session (after a join) whether to fetch this partition. */
  reapplyPause(session: FetchSession): void {
    if (this.#pauses.size > 0) session.pause(this.topic, this.partition);
    else session.resume(this.topic, this.partition);
  }

  /** A snapshot for `processor.status()`. */
  status(): PartitionStatus {
    const { tracker, counters, actor } = this;
    const position = tracker.lastProcessed >= 0 ? tracker.lastProcessed + 1 : tracker.committed;
    const pauses = this.#pauses;
    return {
      topic: this.topic,
      partition: this.partition,
      phase: this.phase,
      epoch: this.#epoch,
      actor: actor.state,
      processedOffset: tracker.lastProcessed >= 0 ? tracker.lastProcessed : null,
      committedOffset: tracker.committed >= 0 ? tracker.committed : null,
      mailboxSize: this.mailbox.size + actor.buffered - actor.inFlight,
      paused: pauses.size > 0,
      pausedBy: {
        backpressure: pauses.has("backpressure"),
        user: pauses.has("user"),
        initializing: pauses.has("initializing"),
        stopping: pauses.has("stopping"),
      },
      ...counters,
      inFlight: actor.inFlight,
      highWatermark: this.highWatermark >= 0 ? this.highWatermark : null,
      lag: this.highWatermark >= 0 && position >= 0
        ? Math.max(0, this.highWatermark - position)
        : null,
      lastError: this.lastError === undefined ? null : describeError(this.lastError),
    };
  }

  #where(): TopicPartition {
    return { topic: this.topic, partition: this.partition };
  }
}

/**
 * One string for a topic-partition, for maps.
 *
 * @example
 * ```ts
 * import { partitionKey } from "./partition.ts";
 * console.log(partitionKey("orders", 3) === partitionKey("orders", 3)); // true
 * ```
 */
export function partitionKey(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}
