/**
 * The partition table: the partitions assigned to this member, each with its actor, from
 * assignment to revocation; the engine side of the seam with the fetcher.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { settlesWithin } from "../actors/deadline.ts";
import { describeError } from "../kafka/errors.ts";
import type { ReceivedMessage } from "../kafka/message.ts";
import { CommitSchedule, type OffsetCommitter } from "./committer.ts";
import { CrashResponse } from "./crash_response.ts";
import { Departures } from "./departures.ts";
import type { CommitReason, EscalationError, ProcessorEvent, TopicPartition } from "./events.ts";
import { OffsetTracker } from "./offset_tracker.ts";
import { Partition, partitionKey, type PartitionStatus } from "./partition.ts";
import type { Pipeline } from "./pipeline.ts";
import type { ResolvedProcessorOptions } from "./resolve_options.ts";
import { type Assignment, type FetchSession, type FetchSink, NOT_JOINED } from "./seam.ts";

const log = getLogger(["troupe", "supervisor"]);

/**
 * Where the table is: `running`; `rebalancing` (from a rebalance's start to the next
 * assignment: every actor is held, and actors started meanwhile are held too); `stopping`.
 */
type TablePhase = "running" | "rebalancing" | "stopping";

/** What the table works with. */
export interface PartitionTableServices<K, V> {
  /** Builds each partition's actor. */
  readonly pipeline: Pipeline<K, V>;
  /** Makes processed work durable. */
  readonly committer: OffsetCommitter<K, V>;
  /** Receives lifecycle events. */
  readonly emit: (event: ProcessorEvent) => void;
  /** Called when an actor's restart intensity is exceeded. */
  readonly escalate: (error: EscalationError) => void;
}

/**
 * Owns one {@linkcode Partition} per assigned topic-partition: spawns its actor on assignment
 * (after a revoked predecessor finished, and once the committer said where it starts), stops it
 * on revocation, restarts it after a crash as its supervision says, moves it on a seek, pauses
 * its fetching for the reasons that hold, and commits what the actors really processed.
 *
 * @example
 * ```ts ignore
 * const table = new PartitionTable(resolvedOptions, { pipeline, committer, emit, escalate });
 * const loop = new ConsumerLoop(resolvedOptions, table, observer);
 * await loop.start(); // the loop hands the table its assignments and batches
 * await table.commit("interval");
 * ```
 */
export class PartitionTable<K, V> implements FetchSink<K, V> {
  #options: ResolvedProcessorOptions<K, V>;
  #pipeline: Pipeline<K, V>;
  #committer: OffsetCommitter<K, V>;
  #emit: (event: ProcessorEvent) => void;
  #crashes: CrashResponse<K, V>;
  #commits: CommitSchedule;
  #partitions = new Map<string, Partition<K, V>>();
  #departures = new Departures();
  #userPaused = new Set<string>();
  #epoch = 0;
  #phase: TablePhase = "running";
  #session: FetchSession = NOT_JOINED;

  /**
   * Creates an empty table.
   *
   * @param options The processor's resolved options.
   * @param services The pipeline, the committer, events and escalation.
   */
  constructor(options: ResolvedProcessorOptions<K, V>, services: PartitionTableServices<K, V>) {
    this.#options = options;
    this.#pipeline = services.pipeline;
    this.#committer = services.committer;
    this.#emit = services.emit;
    this.#crashes = new CrashResponse({
      withinMs: options.restart.withinMs,
      committer: services.committer,
      emit: services.emit,
      escalate: services.escalate,
      seek: (topic, partition, offset) => this.seek(topic, partition, offset),
    });
    this.#commits = new CommitSchedule(services.emit);
  }

  /** The partitions assigned now, sorted by topic, then partition. */
  assignment(): TopicPartition[] {
    return this.#sorted().map(({ topic, partition }) => ({ topic, partition }));
  }

  /** A snapshot of every assigned partition, sorted by topic, then partition. */
  status(): PartitionStatus[] {
    return this.#sorted().map((partition) => partition.status());
  }

  /**
   * Applies a new assignment (the group's, after every join): revoked partitions' actors stop
   * (the message in hand may finish, queued ones are dropped), retained ones carry on, new ones
   * get an actor. Fetch pauses are re-applied to the new session, since a restarted KafkaJS
   * consumer forgets them.
   */
  assigned(assignment: Assignment, session: FetchSession): void {
    this.#session = session;
    if (this.#phase === "rebalancing") this.#phase = "running";
    const wanted = new Set<string>();
    for (const [topic, partitions] of Object.entries(assignment)) {
      for (const partition of partitions) wanted.add(partitionKey(topic, partition));
    }
    for (const partition of this.#partitions.values()) {
      if (!wanted.has(partition.key)) this.#revoke(partition);
    }
    const refetched: Partition<K, V>[] = [];
    for (const [topic, partitions] of Object.entries(assignment)) {
      for (const number of partitions) {
        const partition = this.#partitions.get(partitionKey(topic, number));
        if (this.#phase === "stopping") continue;
        if (!partition) {
          this.#spawn(topic, number);
          continue;
        }
        // Kept: KafkaJS would fetch it again from the committed offset, though what this
        // member already took is in its mailbox or done. Fetching goes on from the last
        // message taken, which comes again (and is skipped): after a restarted KafkaJS run
        // re-joins, a batch must arrive, since KafkaJS hands out the means to commit only with
        // a batch (a re-join within one run commits at once).
        if (partition.nextOffset > 0) {
          session.seek(topic, number, partition.nextOffset - 1);
          refetched.push(partition);
        }
        if (!partition.pausedBy("user") && !partition.awaitingCommit) partition.actor.release();
      }
    }
    for (const partition of this.#partitions.values()) partition.reapplyPause(session);
    if (!session.readyToCommit) this.#fetchForCommit(refetched);
  }

  /**
   * A restarted KafkaJS consumer can commit only once a batch came (KafkaJS skips empty ones).
   * A kept partition fetches from its last message taken, so it brings one, unless all are
   * paused: then none would come until a mailbox drains, and what was processed meanwhile
   * (all the work done while Kafka was away) stays uncommitted, redone if the process dies.
   * One of them paused only for backpressure fetches one batch, which it does not take.
   */
  #fetchForCommit(refetched: readonly Partition<K, V>[]): void {
    let candidate: Partition<K, V> | undefined;
    for (const partition of refetched) {
      if (partition.fetching) return; // it brings a batch
      if (!candidate && partition.pausedOnlyBy("backpressure")) candidate = partition;
    }
    candidate?.fetchOnce();
  }

  delivered(
    topic: string,
    partition: number,
    messages: readonly ReceivedMessage<K, V>[],
    highWatermark: number,
  ): void {
    this.#partitions.get(partitionKey(topic, partition))?.deliver(messages, highWatermark);
  }

  async drainForRebalance(drainMs: number): Promise<void> {
    const idle = Promise.all(this.#all().map((partition) => partition.actor.hold()));
    this.#rebalancing();
    await settlesWithin(idle, drainMs);
    await this.commit("rebalance");
  }

  rebalanceStarted(): void {
    for (const partition of this.#partitions.values()) void partition.actor.hold();
    this.#rebalancing();
    void this.commit("rebalance");
  }

  topicDeleted(topic: string): void {
    for (const partition of this.#all()) {
      if (partition.topic === topic) this.#revoke(partition);
    }
  }

  membershipLost(): void {
    if (this.#phase === "running") this.#phase = "rebalancing";
    for (const partition of this.#partitions.values()) void partition.actor.hold();
  }

  /** Announces a rebalance once every actor is on hold (listeners may rely on that). */
  #rebalancing(): void {
    if (this.#phase === "running") this.#phase = "rebalancing";
    log.info("group {groupId} is rebalancing: holding {count} actor(s)", {
      groupId: this.#options.groupId,
      count: this.#partitions.size,
    });
    this.#emit({ type: "rebalancing" });
  }

  /** Pauses a partition on a user's request, alongside troupe's own pauses; survives rebalances. */
  pause(topic: string, partition: number): void {
    const key = partitionKey(topic, partition);
    if (this.#userPaused.has(key)) return;
    this.#userPaused.add(key);
    const found = this.#partitions.get(key);
    if (found) {
      found.pause("user");
      void found.actor.hold();
    }
    this.#emit({ type: "partition-paused", topic, partition, reason: "user" });
  }

  /** Undoes {@linkcode PartitionTable.pause}. */
  resume(topic: string, partition: number): void {
    const key = partitionKey(topic, partition);
    if (!this.#userPaused.delete(key)) return;
    const found = this.#partitions.get(key);
    if (found) {
      found.resume("user");
      if (this.#phase !== "stopping" && !found.awaitingCommit) found.actor.release();
    }
    this.#emit({ type: "partition-resumed", topic, partition, reason: "user" });
  }

  /**
   * Commits, for every partition whose commit point moved, what its actor processed. A
   * refusal (a rebalance, an outage) is reported in a `commit-failed` event, not thrown.
   */
  async commit(reason: CommitReason): Promise<void> {
    if (!this.#options.autoCommit && reason !== "manual") return;
    await this.#commits.run(reason, async () => {
      const report = await this.#committer.commit(this.#all(), this.#session, reason);
      // A lost transaction: its messages are processed again from where the group is.
      for (const { topic, partition, offset } of report?.rewinds ?? []) {
        const found = this.#partitions.get(partitionKey(topic, partition));
        if (found?.owns(found.epoch)) this.seek(topic, partition, offset);
      }
      return report;
    });
    this.#releaseCommitted();
  }

  /** Releases the actors that waited for a commit, once one covered their work. */
  #releaseCommitted(): void {
    for (const partition of this.#partitions.values()) {
      if (!partition.awaitingCommit) continue;
      if (partition.tracker.uncommitted >= this.#options.maxUncommitted) continue;
      partition.awaitingCommit = false;
      const open = this.#phase === "running" && partition.phase === "running";
      if (open && !partition.pausedBy("user")) partition.actor.release();
    }
  }

  /**
   * A partition processed `maxUncommitted` messages its commits do not cover (Kafka is away,
   * or refuses): its actor waits, since whatever it does now a crash would have redone, and
   * a commit starts at once.
   */
  #awaitCommit(partition: Partition<K, V>): void {
    partition.awaitingCommit = true;
    void partition.actor.hold();
    void this.commit("interval");
  }

  /**
   * Moves an assigned partition to `offset` while running: its actor is replaced (the message
   * in hand may finish, but no longer counts), queued messages are dropped, and the new actor
   * continues from `offset`, which the next commit records.
   *
   * @throws {Error} when the partition is not assigned to this processor.
   * @throws {RangeError} when `offset` is not an integer >= 0.
   */
  seek(topic: string, partition: number, offset: number): void {
    const found = this.#partitions.get(partitionKey(topic, partition));
    if (!found || found.phase === "revoked") {
      throw new Error(`cannot seek ${topic}[${partition}]: it is not assigned to this processor`);
    }
    if (!Number.isInteger(offset) || offset < 0) {
      throw new RangeError(
        `cannot seek ${topic}[${partition}] to ${offset}: offsets are integers >= 0`,
      );
    }
    // First what can fail, so that a failure leaves the partition as it was.
    this.#session.seek(topic, partition, offset);
    const previous = found.actor;
    const previousAbort = found.abort;
    const epoch = ++this.#epoch;
    found.moveTo(epoch, offset);
    if (found.phase !== "stopping") found.phase = "seeking";
    found.actor = this.#actorFor(found, epoch);
    const deadline = setTimeout(() => previousAbort.abort(), this.#options.shutdownTimeoutMs);
    // Exactly once: what is not committed yet is abandoned with the old position.
    void previous.stop()
      .then(() => this.#committer.discard(found))
      .then(() => {
        clearTimeout(deadline);
        this.#startActor(found, epoch);
      });
    this.#emit({ type: "partition-seeked", topic, partition, offset, epoch });
  }

  /**
   * Graceful stop: no actor takes a new message, those in hand get `deadlineMs` to finish
   * (then their abort signal fires), processed offsets are committed, actors end.
   */
  async stop(deadlineMs: number, reason: CommitReason = "stop"): Promise<void> {
    this.#phase = "stopping";
    const partitions = this.#all();
    for (const partition of partitions) {
      partition.supervision.cancel();
      partition.phase = "stopping";
      partition.pause("stopping");
    }
    const idle = Promise.all(partitions.map((partition) => partition.actor.hold()));
    this.#emit({ type: "stopping" });
    if (!(await settlesWithin(idle, deadlineMs))) {
      const busy = partitions.filter((partition) => partition.actor.inFlight > 0);
      log.warn("{count} message(s) still in hand after {deadlineMs} ms; aborting them", {
        count: busy.length,
        deadlineMs,
      });
      for (const partition of busy) partition.abort.abort();
    }
    await this.commit(reason);
    for (const partition of partitions) {
      partition.phase = "revoked";
      const { topic, partition: number, epoch } = partition;
      void partition.actor.stop().then(() =>
        this.#emit({ type: "actor-stopped", topic, partition: number, epoch })
      );
    }
  }

  /** Releases what the committer holds open (transactional producers). */
  close(): Promise<void> {
    return this.#committer.close();
  }

  #all(): Partition<K, V>[] {
    return [...this.#partitions.values()];
  }

  #sorted(): Partition<K, V>[] {
    return this.#all().sort((a, b) =>
      a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition
    );
  }

  #spawn(topic: string, number: number): void {
    const epoch = ++this.#epoch;
    const options = this.#options;
    const partition = new Partition<K, V>({
      topic,
      partition: number,
      epoch,
      mailboxCapacity: options.mailboxCapacity,
      mailboxLowWatermark: options.mailboxLowWatermark,
      restart: options.restart,
      session: () => this.#session,
      emit: this.#emit,
    });
    if (this.#userPaused.has(partition.key)) partition.pause("user");
    partition.actor = this.#actorFor(partition, epoch);
    this.#partitions.set(partition.key, partition);
    this.#emit({ type: "partition-assigned", topic, partition: number, epoch });
    // No message is processed by two live actors: wait for a revoked predecessor to finish.
    // The committer may also need to say where the partition starts (see #initialize).
    const leaving = this.#departures.gone(partition.key);
    const initializing = this.#committer.startsFromCommitted;
    if (!leaving && !initializing) return this.#startActor(partition, epoch);
    if (initializing) partition.pause("initializing");
    void Promise.all([leaving, initializing ? this.#initialize(partition, epoch) : undefined])
      .then(() => this.#startActor(partition, epoch));
  }

  /** Asks the committer where a new partition starts; fetching waits meanwhile. */
  async #initialize(partition: Partition<K, V>, epoch: number): Promise<void> {
    const { topic, partition: number } = partition;
    try {
      const start = await this.#committer.start(partition);
      if (start && partition.current(epoch)) {
        partition.tracker = new OffsetTracker(epoch, start.offset);
        partition.skip = start.skip;
        if (start.seek) {
          this.#session.seek(topic, number, start.offset);
          partition.nextOffset = start.offset;
        }
      }
    } catch (error) {
      log.warn(
        "{topic}[{partition}]: could not read its committed offset ({error}); completions recorded by a previous owner will be processed again",
        { topic, partition: number, error: describeError(error) },
      );
    } finally {
      // Whatever happened meanwhile (a seek moves the epoch), the pause taken for the
      // initialization must be lifted.
      partition.resume("initializing");
    }
  }

  #startActor(partition: Partition<K, V>, epoch: number): void {
    if (!partition.owns(epoch)) return;
    partition.phase = "running";
    if (partition.pausedBy("user") || this.#phase !== "running") void partition.actor.hold();
    partition.actor.start();
    const { topic, partition: number } = partition;
    this.#emit({ type: "actor-started", topic, partition: number, epoch });
  }

  #actorFor(partition: Partition<K, V>, epoch: number) {
    return this.#pipeline.actorFor(partition, epoch, {
      processed: (message) => {
        if (partition.tracker.complete(epoch, message.offset)) {
          partition.counters.processed++;
          partition.supervision.progressed();
        }
        if (this.#committer.processed(partition)) void this.commit("interval");
        else if (
          partition.tracker.uncommitted >= this.#options.maxUncommitted &&
          !partition.awaitingCommit && this.#options.autoCommit
        ) this.#awaitCommit(partition);
      },
      crashed: (message, error) => this.#crashes.crashed(partition, epoch, message.offset, error),
    });
  }

  #revoke(partition: Partition<K, V>): void {
    const { topic, partition: number, epoch, key } = partition;
    this.#partitions.delete(key);
    partition.phase = "revoked";
    partition.supervision.cancel();
    const dropped = partition.mailbox.clear();
    const deadline = setTimeout(() => partition.abort.abort(), this.#options.shutdownTimeoutMs);
    const stopped = partition.actor.stop().then(async () => {
      clearTimeout(deadline);
      await this.#committer.release(partition);
      this.#emit({ type: "actor-stopped", topic, partition: number, epoch });
    });
    this.#departures.leaving(key, stopped);
    this.#emit({ type: "partition-revoked", topic, partition: number, epoch, dropped });
  }
}
