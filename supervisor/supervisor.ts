/**
 * The supervisor: one actor per assigned partition, their restarts, and the offsets that
 * may be committed because they were really processed.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import type { KafkaMessage } from "kafkajs";
import { Buffer } from "node:buffer";
import { Actor, type ActorState } from "../actors/actor.ts";
import { LaneActor } from "../actors/lane_actor.ts";
import { Limiter } from "../actors/limiter.ts";
import { backoffDelay, sleep } from "../actors/backoff.ts";
import { Mailbox } from "../actors/mailbox.ts";
import { RestartIntensity } from "../actors/restart_intensity.ts";
import { DecodeError } from "../kafka/codec.ts";
import { type MessageCodecs, ReceivedMessage } from "../kafka/message.ts";
import { describeError } from "../kafka/errors.ts";
import {
  type CommitReason,
  EscalationError,
  type ProcessorEvent,
  type TopicPartition,
  type TopicPartitionOffset,
} from "./events.ts";
import { Histogram, type HistogramSnapshot } from "./histogram.ts";
import { OffsetTracker } from "./offset_tracker.ts";
import { MessageContext, type OutputSender } from "./handler_context.ts";
import type { EncodedOutput, PartitionTransactions } from "./transactions.ts";
import { decodeCompletions, encodeCompletions, maxCompletionSpan } from "./completions.ts";
import type { OutputRecord, ResolvedProcessorOptions } from "./options.ts";

const log = getLogger(["troupe", "supervisor"]);
const handlerLog = getLogger(["troupe", "handler"]);

/** What the supervisor needs from the consumer loop. */
export interface FetchControl {
  /** Stop fetching a partition. */
  pause(topic: string, partition: number): void;
  /** Fetch a partition again. */
  resume(topic: string, partition: number): void;
  /** Fetch a partition from `offset` next. */
  seek(topic: string, partition: number, offset: number): void;
  /**
   * Commit offsets (the next offset to read, per partition), with optional metadata; rejects
   * when the broker refuses.
   */
  commit(offsets: CommitOffset[]): Promise<void>;
}

/** An offset to commit, with the metadata to store beside it. */
export interface CommitOffset extends TopicPartitionOffset {
  /** Completions beyond the offset (see `completions.ts`), or `null`. */
  readonly metadata: string | null;
}

/** Sending a message's outputs into its partition's transaction failed: abort and rewind. */
class TransactionFailure extends Error {
  constructor(cause: unknown) {
    super(`the partition's transaction failed: ${describeError(cause)}`, { cause });
    this.name = "TransactionFailure";
  }
}

/** A KafkaJS record with the fields KafkaJS's types leave out. */
type KafkaMessageWithContext = KafkaMessage & {
  isControlRecord?: boolean;
  batchContext?: { producerId?: string; inTransaction?: boolean };
};

/** A supervised actor, whichever kind: one message at a time, or several in lanes. */
interface SupervisedActor<M> {
  readonly state: ActorState;
  readonly inFlight: number;
  start(): void;
  hold(): Promise<void>;
  release(): void;
  restart(): void;
  stop(): Promise<void>;
}

/** A snapshot of one assigned partition, as `processor.status()` shows it. */
export interface PartitionStatus extends TopicPartition {
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
  /** True when its fetching is paused. */
  readonly paused: boolean;
  /** Why it is paused: its mailbox is full, or a user paused it. */
  readonly pausedBy: { readonly backpressure: boolean; readonly user: boolean };
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

/** One assigned partition: its mailbox, its actor, and the offsets it processed. */
interface Slot<K, V> {
  readonly topic: string;
  readonly partition: number;
  epoch: number;
  readonly mailbox: Mailbox<ReceivedMessage<K, V>>;
  actor: SupervisedActor<ReceivedMessage<K, V>>;
  /** Messages an actor took out of the mailbox and has not finished (lane actors only). */
  buffered: () => number;
  tracker: OffsetTracker;
  /** Offsets a previous owner completed beyond the committed offset: skip them. */
  skip: Set<number> | null;
  /** Waiting for the committed offset and its metadata before fetching (lane actors). */
  initializing: boolean;
  skipped: number;
  /** Exactly-once: the partition's transactions. */
  readonly transactions: PartitionTransactions | null;
  /** First offset delivered under the current epoch (where an aborted transaction rewinds to). */
  firstOffset: number;
  /** Lowest offset accepted from a fetch: everything below was already taken. */
  nextOffset: number;
  backpressured: boolean;
  userPaused: boolean;
  closing: boolean;
  readonly intensity: RestartIntensity;
  /** Crashes since the last message processed: drives the restart backoff. */
  consecutiveCrashes: number;
  restarts: number;
  processed: number;
  failed: number;
  retried: number;
  deadLettered: number;
  highWatermark: number;
  lastError: unknown;
  restartTimer: ReturnType<typeof setTimeout> | undefined;
  /** Aborted when the message in hand overstays a shutdown or revocation deadline. */
  abort: AbortController;
}

/**
 * Thrown by {@linkcode FetchControl.commit} when it cannot commit yet (no batch fetched under
 * the current group membership): not a failure, the commit is simply deferred.
 */
export class NotReadyToCommit extends Error {
  /** Creates the error. */
  constructor() {
    super("no fetch under the current group membership yet");
    this.name = "NotReadyToCommit";
  }
}

/** Called when the supervisor gives up (restart intensity exceeded). */
export type EscalationHandler = (error: EscalationError) => void;

/** A record for a dead-letter topic: the original's key, value and headers, plus ours. */
export interface DeadLetterRecord {
  readonly topic: string;
  readonly key: Uint8Array | null;
  readonly value: Uint8Array | null;
  readonly headers: Record<string, string | Uint8Array | (string | Uint8Array)[]>;
}

/** Produces a dead-letter record; resolves once the broker acknowledged it. */
export type DeadLetterSender = (record: DeadLetterRecord) => Promise<unknown>;

/** What the supervisor is given to work with. */
export interface SupervisorServices {
  /** Pause, resume, seek and commit, provided by the consumer loop. */
  readonly control: FetchControl;
  /** Receives lifecycle events. */
  readonly emit: (event: ProcessorEvent) => void;
  /** Called once when the restart intensity of an actor is exceeded. */
  readonly onEscalation: EscalationHandler;
  /** Produces dead-letter records (needed when `deadLetter` is set). */
  readonly sendDeadLetter?: DeadLetterSender;
  /**
   * The group's committed offsets and metadata for a topic (needed by `"key"` and
   * `"unordered"` ordering to skip what a previous owner completed).
   */
  readonly committedOffsets?: (
    topic: string,
  ) => Promise<{ partition: number; offset: number | null; metadata: string | null }[]>;
  /** Produces output records at least once (needed with `output`). */
  readonly sendOutputs?: OutputSender;
  /** The transactions of an input partition (needed with `exactlyOnce`). */
  readonly transactions?: (topic: string, partition: number) => PartitionTransactions;
  /** Encodes an output record for a transaction (needed with `exactlyOnce`). */
  readonly encodeOutput?: (record: OutputRecord) => EncodedOutput;
}

/** The headers troupe adds to a dead-letter record. */
export const DEAD_LETTER_HEADERS = {
  topic: "troupe.dlq.topic",
  partition: "troupe.dlq.partition",
  offset: "troupe.dlq.offset",
  timestamp: "troupe.dlq.timestamp",
  attempts: "troupe.dlq.attempts",
  error: "troupe.dlq.error",
  reason: "troupe.dlq.reason",
} as const;

/**
 * Owns one actor per assigned topic-partition and everything around it: spawning on
 * assignment, stopping on revocation, restarts with backoff and restart intensity, the
 * backpressure pauses, and committing the offsets the actors really processed.
 *
 * It knows nothing of KafkaJS: the consumer loop calls `assign`, `deliver` and the rebalance
 * hooks, and gives it a {@linkcode FetchControl}.
 *
 * @example
 * ```ts ignore
 * const supervisor = new Supervisor(resolvedOptions, fetchControl, emit, onEscalation);
 * supervisor.assign({ orders: [0, 1] });
 * supervisor.deliver("orders", 0, batch.messages);
 * await supervisor.commit("interval");
 * ```
 */
export class Supervisor<K, V> {
  #options: ResolvedProcessorOptions<K, V>;
  #control: FetchControl;
  #emit: (event: ProcessorEvent) => void;
  #onEscalation: EscalationHandler;
  #codecs: MessageCodecs<K, V>;
  #slots = new Map<string, Map<number, Slot<K, V>>>();
  /** Actors of revoked partitions still finishing their message in hand. */
  #leaving = new Map<string, Promise<void>>();
  #userPaused = new Set<string>();
  #epoch = 0;
  #stopping = false;
  /** From a rebalance's start to the next assignment: actors started meanwhile are held. */
  #rebalanceUnderWay = false;
  #commitChain: Promise<void> = Promise.resolve();
  #commitWaiting: Promise<void> | undefined;
  #histogram: Histogram | undefined;
  #sendDeadLetter: DeadLetterSender | undefined;
  #services: SupervisorServices;
  #limiter: Limiter | undefined;

  /**
   * Creates a supervisor with no partitions.
   *
   * @param options The processor's resolved options.
   * @param services What it works with: fetch control, events, escalation, dead letters.
   */
  constructor(options: ResolvedProcessorOptions<K, V>, services: SupervisorServices) {
    this.#options = options;
    this.#services = services;
    this.#control = services.control;
    this.#emit = services.emit;
    this.#onEscalation = services.onEscalation;
    this.#sendDeadLetter = services.sendDeadLetter;
    this.#codecs = { key: options.keyCodec, value: options.valueCodec };
    if (options.measureProcessingTime) this.#histogram = new Histogram();
    if (options.maxInFlight !== null) this.#limiter = new Limiter(options.maxInFlight);
  }

  /** Processing times of every attempt, in ms, when `measureProcessingTime` is on. */
  processingTime(): HistogramSnapshot | null {
    return this.#histogram?.snapshot() ?? null;
  }

  /** The partitions currently assigned, in no particular order. */
  assigned(): TopicPartition[] {
    const assigned: TopicPartition[] = [];
    for (const [topic, partitions] of this.#slots) {
      for (const partition of partitions.keys()) assigned.push({ topic, partition });
    }
    return assigned;
  }

  /**
   * Applies a new assignment (the group's, after every join): revoked partitions' actors stop
   * (the message in hand may finish, queued ones are dropped), retained ones carry on,
   * new ones get an actor. Fetch pauses are re-applied, since a restarted KafkaJS consumer
   * forgets them.
   */
  assign(assignment: Readonly<Record<string, readonly number[]>>): void {
    this.#rebalanceUnderWay = false;
    const wanted = new Map<string, Set<number>>();
    for (const [topic, partitions] of Object.entries(assignment)) {
      wanted.set(topic, new Set(partitions));
    }
    for (const slot of this.#allSlots()) {
      if (!wanted.get(slot.topic)?.has(slot.partition)) this.#revoke(slot);
    }
    for (const [topic, partitions] of wanted) {
      for (const partition of partitions) {
        const slot = this.#slot(topic, partition);
        if (slot) {
          if (!this.#stopping && !slot.userPaused) slot.actor.release();
        } else if (!this.#stopping) {
          this.#spawn(topic, partition);
        }
      }
    }
    for (const slot of this.#allSlots()) this.#applyPause(slot);
  }

  /**
   * Puts a fetched batch in its partition's mailbox, skipping offsets already taken (KafkaJS
   * fetches retained partitions again from the committed offset after a rebalance), and
   * pauses the partition's fetching when its mailbox is full.
   */
  deliver(
    topic: string,
    partition: number,
    messages: readonly KafkaMessage[],
    highWatermark: string,
    unfiltered?: readonly KafkaMessage[],
  ): void {
    const slot = this.#slots.get(topic)?.get(partition);
    if (slot === undefined || slot.closing) return;
    slot.highWatermark = Number(highWatermark);
    if (unfiltered !== undefined && unfiltered.length !== messages.length) {
      messages = this.#dropAborted(messages, unfiltered);
    }
    if (messages.length === 0) return;
    const { mailbox } = slot;
    const codecs = this.#codecs;
    let next = slot.nextOffset;
    if (slot.firstOffset < 0) slot.firstOffset = Number(messages[0].offset);
    for (let i = 0; i < messages.length; i++) {
      const raw = messages[i];
      const offset = Number(raw.offset);
      if (offset < next) continue;
      mailbox.push(new ReceivedMessage(topic, partition, offset, raw, codecs));
      next = offset + 1;
    }
    slot.nextOffset = next;
    if (!slot.backpressured && mailbox.full) {
      slot.backpressured = true;
      this.#applyPause(slot);
      this.#emit({ type: "partition-paused", topic, partition, reason: "backpressure" });
    }
  }

  /**
   * Drops, from what KafkaJS delivers, the records that the batch itself shows to belong to
   * aborted transactions. KafkaJS's filter steps through the broker's aborted-transaction
   * list one entry per record, so when a fetch starts inside several interleaved aborted
   * transactions it lets some of their records through. The markers in the batch cannot lie:
   * a transactional record is aborted when the first marker of its producer after it is an
   * abort. (A record whose marker is in a later fetch keeps KafkaJS's verdict: KafkaJS skips
   * batches it filtered empty, so troupe never sees those markers.)
   */
  #dropAborted(
    delivered: readonly KafkaMessage[],
    unfiltered: readonly KafkaMessage[],
  ): KafkaMessage[] {
    const markers = new Map<string, { offset: number; abort: boolean }[]>();
    for (const raw of unfiltered) {
      const record = raw as KafkaMessageWithContext;
      if (!record.isControlRecord) continue;
      const producerId = record.batchContext?.producerId ?? "";
      // A control record's key: version (int16), then type (int16): 0 aborts, 1 commits.
      const abort = !(raw.key && raw.key.length >= 4 && raw.key[3] === 1);
      let list = markers.get(producerId);
      if (!list) markers.set(producerId, list = []);
      list.push({ offset: Number(raw.offset), abort });
    }
    if (markers.size === 0) return delivered as KafkaMessage[];
    return delivered.filter((raw) => {
      const context = (raw as KafkaMessageWithContext).batchContext;
      if (!context?.inTransaction) return true;
      const offset = Number(raw.offset);
      const next = markers.get(context.producerId ?? "")?.find((marker) => marker.offset > offset);
      return next === undefined || !next.abort;
    });
  }

  /**
   * A rebalance was signalled and the group waits for us: stop every actor from taking new
   * messages, let the messages in hand finish (at most `drainMs`), and commit what was
   * processed while this member still owns its partitions.
   */
  async prepareForRebalance(drainMs: number): Promise<void> {
    const idle = Promise.all(this.#allSlots().map((slot) => slot.actor.hold()));
    this.#rebalancing();
    await raceTimeout(idle, drainMs);
    await this.commit("rebalance");
  }

  /**
   * A rebalance began without waiting for us (KafkaJS does not await listeners): hold every
   * actor and commit what was processed so far, best effort.
   */
  rebalanceStarted(): void {
    for (const slot of this.#allSlots()) void slot.actor.hold();
    this.#rebalancing();
    void this.commit("rebalance");
  }

  /** Announces a rebalance once every actor is on hold (listeners may rely on that). */
  #rebalancing(): void {
    this.#rebalanceUnderWay = true;
    log.info("group {groupId} is rebalancing: holding {count} actor(s)", {
      groupId: this.#options.groupId,
      count: this.#allSlots().length,
    });
    this.#emit({ type: "rebalancing" });
  }

  /** The KafkaJS consumer restarted after a crash and left the group: hold until it rejoins. */
  consumerRestarting(): void {
    this.#rebalanceUnderWay = true;
    for (const slot of this.#allSlots()) void slot.actor.hold();
  }

  /** Pauses a partition on a user's request, alongside the supervisor's own pauses. */
  pause(topic: string, partition: number): void {
    const key = partitionKey(topic, partition);
    if (this.#userPaused.has(key)) return;
    this.#userPaused.add(key);
    const slot = this.#slot(topic, partition);
    if (slot) {
      slot.userPaused = true;
      this.#applyPause(slot);
      void slot.actor.hold();
    }
    this.#emit({ type: "partition-paused", topic, partition, reason: "user" });
  }

  /** Undoes {@linkcode Supervisor.pause}. */
  resume(topic: string, partition: number): void {
    const key = partitionKey(topic, partition);
    if (!this.#userPaused.delete(key)) return;
    const slot = this.#slot(topic, partition);
    if (slot) {
      slot.userPaused = false;
      this.#applyPause(slot);
      if (!this.#stopping) slot.actor.release();
    }
    this.#emit({ type: "partition-resumed", topic, partition, reason: "user" });
  }

  /**
   * Commits, for every partition whose commit point moved, the offset after its highest
   * contiguous processed one. Commits run one after another; a refusal because the group is
   * rebalancing is reported, not thrown.
   */
  commit(reason: CommitReason): Promise<void> {
    if (!this.#options.autoCommit && reason !== "manual") return Promise.resolve();
    // One commit runs at a time, and at most one waits behind it: a waiting commit takes the
    // commit points current when it starts, so piling up more would only repeat it (and a
    // slow broker must not turn interval ticks into a queue).
    if (this.#commitWaiting) return this.#commitWaiting;
    const next = this.#commitChain.then(() => {
      this.#commitWaiting = undefined;
      return this.#commitNow(reason);
    });
    this.#commitWaiting = next;
    this.#commitChain = next.catch(() => {});
    return next;
  }

  /**
   * Graceful stop: no actor takes a new message, those in hand get `deadlineMs` to finish
   * (then their abort signal fires), processed offsets are committed, actors end.
   */
  async stop(deadlineMs: number, reason: CommitReason = "stop"): Promise<void> {
    this.#stopping = true;
    const slots = this.#allSlots();
    for (const slot of slots) {
      clearTimeout(slot.restartTimer);
      slot.restartTimer = undefined;
      this.#control.pause(slot.topic, slot.partition);
    }
    const idle = Promise.all(slots.map((slot) => slot.actor.hold()));
    this.#emit({ type: "stopping" });
    if (!(await raceTimeout(idle, deadlineMs))) {
      const busy = slots.filter((slot) => slot.actor.inFlight > 0);
      log.warn("{count} message(s) still in hand after {deadlineMs} ms; aborting them", {
        count: busy.length,
        deadlineMs,
      });
      for (const slot of busy) slot.abort.abort();
    }
    await this.commit(reason);
    for (const slot of slots) {
      slot.closing = true;
      void slot.actor.stop().then(() => this.#actorStopped(slot, slot.epoch));
    }
  }

  /** A snapshot of every assigned partition, sorted by topic then partition. */
  status(): PartitionStatus[] {
    const rows: PartitionStatus[] = [];
    for (const slot of this.#allSlots()) {
      const tracker = slot.tracker;
      const position = tracker.lastProcessed >= 0 ? tracker.lastProcessed + 1 : tracker.committed;
      rows.push({
        topic: slot.topic,
        partition: slot.partition,
        epoch: slot.epoch,
        actor: slot.actor.state,
        processedOffset: tracker.lastProcessed >= 0 ? tracker.lastProcessed : null,
        committedOffset: tracker.committed >= 0 ? tracker.committed : null,
        mailboxSize: slot.mailbox.size + slot.buffered() - slot.actor.inFlight,
        paused: slot.backpressured || slot.userPaused,
        pausedBy: { backpressure: slot.backpressured, user: slot.userPaused },
        processed: slot.processed,
        failed: slot.failed,
        retried: slot.retried,
        deadLettered: slot.deadLettered,
        skipped: slot.skipped,
        inFlight: slot.actor.inFlight,
        highWatermark: slot.highWatermark >= 0 ? slot.highWatermark : null,
        lag: slot.highWatermark >= 0 && position >= 0
          ? Math.max(0, slot.highWatermark - position)
          : null,
        restarts: slot.restarts,
        lastError: slot.lastError === undefined ? null : describeError(slot.lastError),
      });
    }
    return rows.sort((a, b) =>
      a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition
    );
  }

  #slot(topic: string, partition: number): Slot<K, V> | undefined {
    return this.#slots.get(topic)?.get(partition);
  }

  #allSlots(): Slot<K, V>[] {
    const slots: Slot<K, V>[] = [];
    for (const partitions of this.#slots.values()) slots.push(...partitions.values());
    return slots;
  }

  #applyPause(slot: Slot<K, V>): void {
    if (slot.backpressured || slot.userPaused || slot.initializing || this.#stopping) {
      this.#control.pause(slot.topic, slot.partition);
    } else {
      this.#control.resume(slot.topic, slot.partition);
    }
  }

  #spawn(topic: string, partition: number): void {
    const epoch = ++this.#epoch;
    const options = this.#options;
    const userPaused = this.#userPaused.has(partitionKey(topic, partition));
    const mailbox = new Mailbox<ReceivedMessage<K, V>>({
      capacity: options.mailboxCapacity,
      lowWatermark: options.mailboxLowWatermark,
      onLowWatermark: () => {
        if (!slot.backpressured) return;
        slot.backpressured = false;
        if (slot.closing) return;
        this.#applyPause(slot);
        this.#emit({ type: "partition-resumed", topic, partition, reason: "backpressure" });
      },
    });
    const slot: Slot<K, V> = {
      topic,
      partition,
      epoch,
      mailbox,
      actor: undefined as unknown as SupervisedActor<ReceivedMessage<K, V>>,
      buffered: () => 0,
      tracker: new OffsetTracker(epoch),
      skip: null,
      initializing: (options.ordering !== "partition" || options.exactlyOnce !== null) &&
        this.#services.committedOffsets !== undefined,
      skipped: 0,
      transactions: options.exactlyOnce ? this.#services.transactions!(topic, partition) : null,
      firstOffset: -1,
      nextOffset: -1,
      backpressured: false,
      userPaused,
      closing: false,
      intensity: new RestartIntensity(options.restart),
      consecutiveCrashes: 0,
      restarts: 0,
      processed: 0,
      failed: 0,
      retried: 0,
      deadLettered: 0,
      highWatermark: -1,
      lastError: undefined,
      restartTimer: undefined,
      abort: new AbortController(),
    };
    slot.actor = this.#newActor(slot, epoch);
    let partitions = this.#slots.get(topic);
    if (!partitions) this.#slots.set(topic, partitions = new Map());
    partitions.set(partition, slot);
    this.#emit({ type: "partition-assigned", topic, partition, epoch });

    // No message is processed by two live actors: wait for a revoked predecessor to finish.
    // Lane actors also wait for what a previous owner recorded (see #initialize).
    const leaving = this.#leaving.get(partitionKey(topic, partition));
    if (leaving || slot.initializing) {
      void Promise.all([leaving, slot.initializing ? this.#initialize(slot) : undefined])
        .then(() => this.#startActor(slot, epoch));
    } else {
      this.#startActor(slot, epoch);
    }
  }

  /**
   * Reads a new partition's committed offset and the completions beyond it that its previous
   * owner recorded, so those are skipped. Fetching waits meanwhile. Metadata that is missing,
   * foreign or corrupt falls back to the committed offset alone, with a warning.
   */
  async #initialize(slot: Slot<K, V>): Promise<void> {
    const { topic, partition, epoch } = slot;
    try {
      // Exactly once: fence the previous owner first (its open transaction is completed or
      // aborted), then read the offset it committed, and start exactly there.
      await slot.transactions?.prepare();
      const committed = await this.#services.committedOffsets!(topic);
      const row = committed.find((entry) => entry.partition === partition);
      if (row && row.offset !== null && slot.epoch === epoch) {
        slot.tracker = new OffsetTracker(epoch, row.offset);
        if (slot.transactions) {
          this.#control.seek(topic, partition, row.offset);
          slot.nextOffset = row.offset;
        }
        try {
          const skip = decodeCompletions(row.metadata, row.offset);
          if (skip.size > 0) {
            slot.skip = skip;
            log.info(
              "{topic}[{partition}]: {count} offset(s) past {offset} were completed before; skipping them",
              {
                topic,
                partition,
                count: skip.size,
                offset: row.offset,
              },
            );
          }
        } catch (error) {
          log.warn(
            "{topic}[{partition}]: ignoring offset metadata ({error}); starting at the committed offset {offset}",
            {
              topic,
              partition,
              error: describeError(error),
              offset: row.offset,
            },
          );
        }
      }
    } catch (error) {
      log.warn(
        "{topic}[{partition}]: could not read its committed offset ({error}); completions recorded by a previous owner will be processed again",
        {
          topic,
          partition,
          error: describeError(error),
        },
      );
    } finally {
      slot.initializing = false;
      // Whatever happened meanwhile (a seek bumps the epoch), the pause taken for the
      // initialization must be lifted.
      if (!slot.closing) this.#applyPause(slot);
    }
  }

  #startActor(slot: Slot<K, V>, epoch: number): void {
    if (slot.closing || slot.epoch !== epoch) return;
    if (slot.userPaused || this.#stopping || this.#rebalanceUnderWay) void slot.actor.hold();
    slot.actor.start();
    this.#emit({ type: "actor-started", topic: slot.topic, partition: slot.partition, epoch });
  }

  /**
   * Moves an assigned partition to `offset` while running: its actor is reset (the message
   * in hand may finish, but no longer counts), queued messages are dropped, and a new actor
   * continues from `offset`, which the next commit records.
   *
   * @throws {Error} when the partition is not assigned to this processor.
   */
  seek(topic: string, partition: number, offset: number): void {
    const slot = this.#slot(topic, partition);
    if (!slot || slot.closing) {
      throw new Error(`cannot seek ${topic}[${partition}]: it is not assigned to this processor`);
    }
    if (!Number.isInteger(offset) || offset < 0) {
      throw new RangeError(
        `cannot seek ${topic}[${partition}] to ${offset}: offsets are integers >= 0`,
      );
    }
    // First what can fail, so that a failure leaves the partition as it was.
    this.#control.seek(topic, partition, offset);
    const previous = slot.actor;
    const previousAbort = slot.abort;
    clearTimeout(slot.restartTimer);
    slot.restartTimer = undefined;
    const epoch = ++this.#epoch;
    slot.epoch = epoch;
    slot.tracker = new OffsetTracker(epoch, slot.tracker.committed, offset);
    slot.consecutiveCrashes = 0;
    slot.mailbox.clear();
    slot.skip = null; // what a previous owner completed is for its position, not this one
    slot.nextOffset = offset;
    slot.abort = new AbortController();
    slot.actor = this.#newActor(slot, epoch);
    if (slot.backpressured) {
      slot.backpressured = false;
      this.#applyPause(slot);
    }
    const deadline = setTimeout(() => previousAbort.abort(), this.#options.shutdownTimeoutMs);
    const transactions = slot.transactions;
    void previous.stop()
      // Exactly once: what is not committed yet is abandoned with the old position.
      .then(() => transactions?.run(() => transactions.abort()))
      .catch((error) =>
        log.warn("{topic}[{partition}]: aborting the open transaction at a seek failed: {error}", {
          topic,
          partition,
          error: describeError(error),
        })
      )
      .then(() => {
        clearTimeout(deadline);
        this.#startActor(slot, epoch);
      });
    this.#emit({ type: "partition-seeked", topic, partition, offset, epoch });
  }

  #newActor(slot: Slot<K, V>, epoch: number): SupervisedActor<ReceivedMessage<K, V>> {
    const options = this.#options;
    const { handler } = options;
    const retry = options.retryByTopic.get(slot.topic) ?? options.retry;
    const deadLetterTopic = options.deadLetter?.(slot.topic);
    // One context per message in flight: a partition actor has one, a lane actor `concurrency`.
    const transactions = slot.transactions;
    const encode = this.#services.encodeOutput;
    const sender: OutputSender | undefined = options.output === null
      ? undefined
      : transactions
      ? (records) => transactions.send(records.map((record) => encode!(record)))
      : this.#services.sendOutputs;
    const contexts = Array.from(
      { length: options.concurrency },
      () =>
        new MessageContext(
          slot.topic,
          slot.partition,
          slot.abort.signal,
          handlerLog,
          sender,
          transactions !== null,
        ),
    );
    const run = options.output === null
      ? (message: ReceivedMessage<K, V>, context: MessageContext) => handler(message, context)
      : transactions === null
      ? async (message: ReceivedMessage<K, V>, context: MessageContext) => {
        // A message is done once its outputs are acknowledged.
        await context.finish(await handler(message, context));
      }
      : (message: ReceivedMessage<K, V>, context: MessageContext) =>
        // Under the partition's lock: a message's outputs and the commits never interleave.
        transactions.run(async () => {
          // An actor replaced by a seek or a rewind must not write into the transaction.
          if (slot.epoch !== epoch || slot.closing) return;
          const result = await handler(message, context);
          try {
            await context.finish(result);
          } catch (error) {
            throw new TransactionFailure(error);
          }
          transactions.messages++;
        });
    const hooks = {
      mailbox: slot.mailbox,
      processed: (message: ReceivedMessage<K, V>) => {
        if (slot.tracker.complete(epoch, message.offset)) {
          slot.processed++;
          slot.consecutiveCrashes = 0;
        }
        if (transactions && transactions.messages >= options.exactlyOnce!.maxMessages) {
          void this.commit("interval");
        }
      },
      crashed: (message: ReceivedMessage<K, V>, error: unknown) =>
        this.#crashed(slot, epoch, message.offset, error),
      // A failed transaction is not the message's fault: no retry in place, no dead letter;
      // the crash aborts and rewinds (see #crashed).
      retry: transactions === null ? retry : {
        ...retry,
        retriable: (error: unknown) =>
          !(error instanceof TransactionFailure) && retry.retriable(error),
      },
      exhausted: deadLetterTopic === undefined || deadLetterTopic === slot.topic
        ? undefined
        : (message: ReceivedMessage<K, V>, error: unknown, attempts: number) => {
          if (error instanceof TransactionFailure) throw error;
          return this.#deadLetter(
            slot,
            epoch,
            deadLetterTopic,
            message,
            error,
            attempts,
            retry.retriable,
          );
        },
      failed: () => void slot.failed++,
      retrying: () => void slot.retried++,
      timed: this.#histogram ? (ms: number) => this.#histogram!.observe(ms) : undefined,
    };
    if (options.ordering === "partition") {
      const context = contexts[0];
      return new Actor<ReceivedMessage<K, V>>({
        ...hooks,
        process: (message, attempt) => {
          context.begin(attempt);
          return run(message, context);
        },
      });
    }
    const maxSpan = maxCompletionSpan(options.offsetMetadataMaxBytes);
    const actor = new LaneActor<ReceivedMessage<K, V>>({
      ...hooks,
      laneOf: options.ordering === "key" ? laneKey : undefined,
      concurrency: options.concurrency,
      maxBuffered: options.mailboxCapacity,
      limiter: this.#limiter,
      // Completions beyond the commit point must fit in the commit's metadata: past that
      // span, take nothing new until the commit point moves.
      canTake: () => slot.tracker.span < maxSpan,
      taken: (message) => {
        slot.tracker.begin(message.offset);
        if (slot.skip === null || !slot.skip.delete(message.offset)) return false;
        if (slot.skip.size === 0) slot.skip = null;
        slot.tracker.complete(epoch, message.offset);
        slot.skipped++;
        return true;
      },
      process: (message, attempt, worker) => {
        const context = contexts[worker];
        context.begin(attempt);
        return run(message, context);
      },
    });
    slot.buffered = () => actor.buffered;
    return actor;
  }

  /**
   * Hands a message that cannot be processed to its dead-letter topic. Returns once the
   * broker acknowledged the record; throws otherwise, and the actor crashes: the message
   * stays uncommitted and is tried again after the restart.
   */
  async #deadLetter(
    slot: Slot<K, V>,
    epoch: number,
    deadLetterTopic: string,
    message: ReceivedMessage<K, V>,
    error: unknown,
    attempts: number,
    retriable: (error: unknown) => boolean,
  ): Promise<void> {
    const send = this.#sendDeadLetter;
    if (!send) throw new Error("no dead-letter producer was given to the supervisor");
    const raw = message.raw;
    const headers: DeadLetterRecord["headers"] = {};
    for (const [name, value] of Object.entries(raw.headers ?? {})) {
      if (value !== undefined) headers[name] = value;
    }
    const reason = error instanceof DecodeError
      ? "decode-error"
      : retriable(error)
      ? "retries-exhausted"
      : "not-retriable";
    headers[DEAD_LETTER_HEADERS.topic] = message.topic;
    headers[DEAD_LETTER_HEADERS.partition] = String(message.partition);
    headers[DEAD_LETTER_HEADERS.offset] = String(message.offset);
    headers[DEAD_LETTER_HEADERS.timestamp] = String(message.timestamp);
    headers[DEAD_LETTER_HEADERS.attempts] = String(attempts);
    headers[DEAD_LETTER_HEADERS.error] = describeError(error);
    headers[DEAD_LETTER_HEADERS.reason] = reason;
    await send({ topic: deadLetterTopic, key: raw.key, value: raw.value, headers });
    if (slot.epoch === epoch) slot.deadLettered++;
    log.warn(
      "dead-lettered {topic}[{partition}]@{offset} to {deadLetterTopic} ({reason}): {error}",
      {
        topic: message.topic,
        partition: message.partition,
        offset: message.offset,
        deadLetterTopic,
        reason,
        error: describeError(error),
      },
    );
    this.#emit({
      type: "dead-lettered",
      topic: message.topic,
      partition: message.partition,
      offset: message.offset,
      deadLetterTopic,
      attempts,
      reason,
      error,
    });
  }

  #crashed(slot: Slot<K, V>, epoch: number, offset: number, error: unknown): void {
    if (slot.epoch !== epoch || slot.closing || this.#stopping) return;
    const { topic, partition } = slot;
    slot.lastError = error;
    const restartsInWindow = slot.intensity.count();
    if (!slot.intensity.allow()) {
      log.error(
        "actor of {topic}[{partition}] exceeded its restart intensity at offset {offset}: {error}",
        { topic, partition, offset, error: describeError(error) },
      );
      this.#emit({
        type: "actor-crashed",
        topic,
        partition,
        offset,
        error,
        restartsInWindow,
        restartInMs: null,
      });
      this.#onEscalation(
        new EscalationError(
          { topic, partition, offset },
          restartsInWindow,
          this.#options.restart.withinMs,
          error,
        ),
      );
      return;
    }
    const delay = backoffDelay(++slot.consecutiveCrashes, this.#options.restart.backoff);
    log.warn(
      "actor of {topic}[{partition}] crashed at offset {offset}; restarting in {delay} ms: {error}",
      { topic, partition, offset, delay, error: describeError(error) },
    );
    this.#emit({
      type: "actor-crashed",
      topic,
      partition,
      offset,
      error,
      restartsInWindow,
      restartInMs: delay,
    });
    // A restart already pending (another lane crashed) restarts this lane too.
    if (slot.restartTimer !== undefined) return;
    slot.restartTimer = setTimeout(() => {
      slot.restartTimer = undefined;
      if (slot.epoch !== epoch || slot.closing || this.#stopping) return;
      slot.restarts++;
      const transactions = slot.transactions;
      if (transactions) {
        // The open transaction holds the outputs of messages processed since the last
        // commit: abort it, and process them again from there.
        const rewind = slot.tracker.committed >= 0 ? slot.tracker.committed : slot.firstOffset;
        void transactions.run(() => transactions.abort()).catch(() => {}).then(() => {
          if (slot.epoch !== epoch || slot.closing || this.#stopping) return;
          if (rewind >= 0) this.seek(topic, partition, rewind);
          else slot.actor.restart();
          this.#emit({
            type: "actor-restarted",
            topic,
            partition,
            offset: rewind,
            restarts: slot.restarts,
          });
        }).catch((error) =>
          log.error("{topic}[{partition}]: restart after a transaction abort failed: {error}", {
            topic,
            partition,
            error: describeError(error),
          })
        );
        return;
      }
      slot.actor.restart();
      this.#emit({ type: "actor-restarted", topic, partition, offset, restarts: slot.restarts });
    }, delay);
  }

  #revoke(slot: Slot<K, V>): void {
    const { topic, partition, epoch } = slot;
    this.#slots.get(topic)?.delete(partition);
    if (this.#slots.get(topic)?.size === 0) this.#slots.delete(topic);
    slot.closing = true;
    clearTimeout(slot.restartTimer);
    slot.restartTimer = undefined;
    const dropped = slot.mailbox.clear();
    const key = partitionKey(topic, partition);
    const deadline = setTimeout(() => slot.abort.abort(), this.#options.shutdownTimeoutMs);
    const stopped = slot.actor.stop().then(async () => {
      clearTimeout(deadline);
      // A transaction left open is aborted: the next owner starts from the last commit.
      await slot.transactions?.close();
      this.#actorStopped(slot, epoch);
    });
    // Revoked again before an earlier actor of it finished: the next one waits for both.
    const earlier = this.#leaving.get(key);
    const leaving: Promise<void> = (earlier ? Promise.all([earlier, stopped]) : stopped).then(
      () => {
        if (this.#leaving.get(key) === leaving) this.#leaving.delete(key);
      },
    );
    this.#leaving.set(key, leaving);
    this.#emit({ type: "partition-revoked", topic, partition, epoch, dropped });
  }

  /**
   * Commits a partition's open transaction with its commit point. Runs under the partition's
   * lock, so the point read is consistent with the outputs in the transaction.
   */
  #commitTransaction(slot: Slot<K, V>, reason: CommitReason): Promise<TopicPartitionOffset | null> {
    const transactions = slot.transactions!;
    return transactions.run(async () => {
      const tracker = slot.tracker;
      const point = tracker.commitPoint;
      if (point < 0) return null;
      const processed = tracker.processedCount;
      try {
        await transactions.commit(point);
      } catch (error) {
        // Whether the transaction committed is unknown (a new producer has settled it since):
        // ask the group. If it did not, its outputs are gone with it: process the messages
        // again from the offset the group has (unless the partition is leaving).
        let rewind = tracker.committed >= 0 ? tracker.committed : slot.firstOffset;
        try {
          const row = (await this.#services.committedOffsets?.(slot.topic))
            ?.find((entry) => entry.partition === slot.partition);
          if (row?.offset === point) {
            tracker.markCommitted(point, processed);
            return { topic: slot.topic, partition: slot.partition, offset: point };
          }
          if (row?.offset !== null && row?.offset !== undefined) rewind = row.offset;
        } catch {
          // Keep the last offset this processor saw committed.
        }
        log.warn(
          "transaction of {topic}[{partition}] ({reason}) failed and was aborted; resuming at {rewind}: {error}",
          {
            topic: slot.topic,
            partition: slot.partition,
            reason,
            rewind,
            error: describeError(error),
          },
        );
        this.#emit({ type: "commit-failed", reason, error, rebalance: isRebalanceError(error) });
        if (!slot.closing && !this.#stopping && rewind >= 0) {
          this.seek(slot.topic, slot.partition, rewind);
        }
        return null;
      }
      tracker.markCommitted(point, processed);
      return { topic: slot.topic, partition: slot.partition, offset: point };
    });
  }

  /** Closes what the partitions hold open (transactional producers). */
  async close(): Promise<void> {
    await Promise.all(this.#allSlots().map((slot) => slot.transactions?.close()));
  }

  #actorStopped(slot: Slot<K, V>, epoch: number): void {
    this.#emit({ type: "actor-stopped", topic: slot.topic, partition: slot.partition, epoch });
  }

  async #commitNow(reason: CommitReason): Promise<void> {
    const pending: { tracker: OffsetTracker; offset: CommitOffset; processed: number }[] = [];
    const lanes = this.#options.ordering !== "partition";
    const transactional: Promise<TopicPartitionOffset | null>[] = [];
    for (const slot of this.#allSlots()) {
      const tracker = slot.tracker;
      if (slot.transactions) {
        if (tracker.needsCommit || slot.transactions.open) {
          transactional.push(this.#commitTransaction(slot, reason));
        }
        continue;
      }
      if (!tracker.needsCommit) continue;
      const point = tracker.commitPoint;
      const metadata = lanes
        ? encodeCompletions(
          point,
          tracker.completedBeyond(),
          this.#options.offsetMetadataMaxBytes,
        ) ?? null
        : null;
      pending.push({
        tracker,
        offset: { topic: slot.topic, partition: slot.partition, offset: point, metadata },
        processed: tracker.processedCount,
      });
    }
    if (transactional.length > 0) {
      const started = performance.now();
      const committed = (await Promise.all(transactional)).filter((offset) => offset !== null);
      if (committed.length > 0) {
        this.#emit({
          type: "offsets-committed",
          reason,
          offsets: committed,
          durationMs: performance.now() - started,
        });
      }
    }
    if (pending.length === 0) return;
    const offsets = pending.map((entry) => entry.offset);
    const started = performance.now();
    try {
      await this.#control.commit(offsets);
    } catch (error) {
      if (error instanceof NotReadyToCommit) {
        // Between a (re-)join and the first batch there is no way to commit yet; the points
        // stay dirty and go out with the next commit.
        log.debug("commit ({reason}) deferred: {error}", { reason, error: error.message });
        return;
      }
      const rebalance = isRebalanceError(error);
      if (rebalance) {
        log.info("commit ({reason}) refused while the group rebalances: {error}", {
          reason,
          error: describeError(error),
        });
      } else {
        log.warn("commit ({reason}) failed, will retry: {error}", {
          reason,
          error: describeError(error),
        });
      }
      this.#emit({ type: "commit-failed", reason, error, rebalance });
      return;
    }
    for (const { tracker, offset, processed } of pending) {
      tracker.markCommitted(offset.offset, processed);
    }
    this.#emit({
      type: "offsets-committed",
      reason,
      offsets: offsets.map(({ topic, partition, offset }) => ({ topic, partition, offset })),
      durationMs: performance.now() - started,
    });
  }
}

/** A message's lane in key mode: its key's bytes as a string; every key-less message shares `null`. */
function laneKey(message: ReceivedMessage<unknown, unknown>): string | null {
  const key = message.rawKey;
  return key === null
    ? null
    : Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString("latin1");
}

function partitionKey(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}

/** Resolves true if `promise` settles within `ms`, false otherwise. */
async function raceTimeout(promise: Promise<unknown>, ms: number): Promise<boolean> {
  const timeout = new AbortController();
  const expired = sleep(ms, timeout.signal).then(() => false);
  try {
    return await Promise.race([promise.then(() => true), expired]);
  } finally {
    timeout.abort();
  }
}

const REBALANCE_ERRORS = new Set([
  "REBALANCE_IN_PROGRESS",
  "ILLEGAL_GENERATION",
  "UNKNOWN_MEMBER_ID",
  "NOT_COORDINATOR_FOR_GROUP",
  "FENCED_INSTANCE_ID",
]);

/**
 * True for the broker's answers that mean "the group moved on": a rebalance, not data loss.
 *
 * @example
 * ```ts
 * import { isRebalanceError } from "./supervisor.ts";
 * console.log(isRebalanceError({ type: "ILLEGAL_GENERATION" })); // true
 * ```
 */
export function isRebalanceError(error: unknown): boolean {
  return error !== null && typeof error === "object" &&
    REBALANCE_ERRORS.has(String((error as { type?: unknown }).type));
}
