/**
 * One run of an in-memory KafkaJS consumer: KafkaJS's runner and consumer group together
 * (join and sync, the fetch loop, heartbeats, commits, recovery from rebalances and crashes).
 *
 * @module
 */

import type {
  ConsumerRunConfig,
  EachBatchPayload,
  Offsets,
  OffsetsByTopicPartition,
  TopicPartitions,
} from "kafkajs";
import type { Assignment } from "./assignment.ts";
import { MemoryBatch } from "./batch.ts";
import { errorType, isRebalancing } from "./errors.ts";
import { CONSUMER_EVENTS } from "./events.ts";
import type { CrashTarget, Faults } from "./faults.ts";
import type { GroupCoordinator, OffsetCommitTopic } from "./group.ts";
import { KafkaJSNonRetriableError, KafkaJSNumberOfRetriesExceeded } from "./kafkajs_errors.ts";
import type { PartitionLog, TopicLog } from "./log.ts";
import { PauseState } from "./pauses.ts";

/** What a consumer needs from its cluster. */
export interface ConsumerCluster {
  /** The cluster's faults. */
  readonly faults: Faults;
  /** Throws the error every request gets once the cluster stopped. */
  checkOpen(): void;
  /** A topic, if it exists. */
  topic(name: string): TopicLog | undefined;
  /** Every topic's name. */
  topicNames(): string[];
  /** A topic, created if the cluster creates topics on first use; else throws. */
  ensureTopic(name: string): TopicLog;
  /** A group's coordinator, created on first use. */
  group(groupId: string): GroupCoordinator;
  /** Lists a running consumer as a target of crash faults; returns the function that unlists it. */
  track(target: CrashTarget): () => void;
}

/** The client settings a consumer inherits from its `Kafka` client. */
export interface ClientSettings {
  /** The client id. */
  readonly clientId: string;
  /** KafkaJS's first retry delay, ms: how long a crashed consumer waits before restarting. */
  readonly initialRetryTime: number | undefined;
}

/** Offsets of -2 and -1 are KafkaJS's "earliest" and "latest" for `seek`. */
export const EARLIEST = -2;
/** See {@linkcode EARLIEST}. */
export const LATEST = -1;

const key = (topic: string, partition: number) => `${topic}\u0000${partition}`;

/** The consumer settings a run uses. */
export interface RunnerConfig {
  groupId: string;
  rebalanceTimeout: number;
  heartbeatInterval: number;
  maxBytesPerPartition: number;
  maxBytes: number;
  maxWaitTimeInMs: number;
}

/** What a runner is made of. */
export interface RunnerOptions {
  cluster: ConsumerCluster;
  client: ClientSettings;
  config: RunnerConfig;
  /** The assignment protocols the consumer offers, preferred first. */
  protocols: readonly string[];
  runConfig: ConsumerRunConfig;
  topics: string[];
  fromBeginning: (topic: string) => boolean;
  emit: (name: string, payload: unknown) => void;
  onCrash: (error: unknown) => Promise<void>;
}

/**
 * One run of a consumer, from `run` (or a restart) to `stop` or a crash: KafkaJS's runner and
 * consumer group together. Fetch positions, pauses and seeks live here, so a restart forgets
 * them as KafkaJS's new consumer group does.
 *
 * @example
 * ```ts ignore
 * const runner = new Runner({ cluster, client, config, protocols: ["RoundRobinAssigner"], runConfig, topics: ["orders"],
 *   fromBeginning: () => true, emit, onCrash });
 * await runner.start(); // joined; consuming in the background
 * await runner.stop(); // after the batch in hand; left the group
 * ```
 */
export class Runner implements CrashTarget {
  readonly groupId: string;
  memberId: string | null = null;
  readonly pauses: PauseState = new PauseState();
  running = false;
  #options: RunnerOptions;
  #generationId = -1;
  /** Member and generation of the last sync: what commits carry (KafkaJS's offset manager). */
  #session: { memberId: string; generationId: number } | undefined;
  #assignment: Assignment = {};
  #positions = new Map<string, number>();
  #seeks = new Map<string, number>();
  #lastHeartbeat = Date.now();
  #stopped = false;
  /** True while a JoinGroup or SyncGroup of this runner is in flight. */
  #joining = false;
  #crashWith: Error | undefined;
  #loop: Promise<void> = Promise.resolve();
  #waiter: { wake: () => void; onActivity: boolean } | undefined;
  #untrack: (() => void) | undefined;

  constructor(options: RunnerOptions) {
    this.#options = options;
    this.groupId = options.config.groupId;
  }

  /** Joins, then consumes in the background. A failed join is a crash. */
  async start(): Promise<void> {
    try {
      this.#options.cluster.checkOpen();
      await this.#joinAndSync();
    } catch (error) {
      if (this.#stopped) return;
      return this.#options.onCrash(this.#crashError(error));
    }
    if (this.#stopped) return;
    this.running = true;
    this.#untrack = this.#options.cluster.track(this);
    this.#loop = this.#consume();
  }

  /** Stops consuming (after the batch in hand) and leaves the group. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.running = false;
    this.wake("stop");
    // KafkaJS would wait for a join in flight (up to the rebalance timeout) before leaving;
    // leaving first cancels it, which ends the same way, sooner.
    if (this.#joining && this.memberId) {
      this.#options.cluster.group(this.groupId).leave(this.memberId);
    }
    await this.#loop;
    this.#untrack?.();
    const memberId = this.memberId;
    this.memberId = null;
    if (memberId) this.#options.cluster.group(this.groupId).leave(memberId);
  }

  crash(error: Error): boolean {
    if (!this.running) return false;
    this.#crashWith = error;
    this.wake("stop");
    return true;
  }

  /** Ends a fetch's wait: any wait on "stop", a wait for data also on "activity". */
  wake(reason: "activity" | "stop"): void {
    const waiter = this.#waiter;
    if (waiter && (reason === "stop" || waiter.onActivity)) waiter.wake();
  }

  seek(topic: string, partition: number, offset: number): void {
    this.#seeks.set(key(topic, partition), offset);
    this.wake("activity");
  }

  pausedPartitions(): TopicPartitions[] {
    return Object.entries(this.#assignment)
      .map(([topic, partitions]) => ({
        topic,
        partitions: partitions.filter((partition) => this.pauses.isPaused(topic, partition)),
      }))
      .filter(({ partitions }) => partitions.length > 0);
  }

  /** Commits under the member and generation of the last sync. */
  async commit(topics: OffsetCommitTopic[]): Promise<void> {
    await Promise.resolve();
    const session = this.#session;
    if (!session || topics.length === 0) return;
    const { cluster, emit } = this.#options;
    cluster.checkOpen();
    const injected = cluster.faults.takeCommitFailure(this.groupId);
    if (injected) throw injected;
    cluster.group(this.groupId).commit(session.memberId, session.generationId, topics);
    emit(CONSUMER_EVENTS.COMMIT_OFFSETS, {
      groupId: this.groupId,
      memberId: session.memberId,
      groupGenerationId: session.generationId,
      topics,
    });
  }

  /** KafkaJS's shared heartbeat: sent only when `heartbeatInterval` passed since the last one. */
  async heartbeat(): Promise<void> {
    await Promise.resolve();
    const memberId = this.memberId;
    if (!memberId || Date.now() < this.#lastHeartbeat + this.#options.config.heartbeatInterval) {
      return;
    }
    this.#options.cluster.checkOpen();
    this.#options.cluster.group(this.groupId).heartbeat(memberId, this.#generationId);
    this.#options.emit(CONSUMER_EVENTS.HEARTBEAT, {
      groupId: this.groupId,
      memberId,
      groupGenerationId: this.#generationId,
    });
    this.#lastHeartbeat = Date.now();
  }

  /** JoinGroup then SyncGroup, again while the group answers "rebalancing"; emits GROUP_JOIN. */
  async #joinAndSync(): Promise<void> {
    const started = Date.now();
    const { cluster, client, config, topics, protocols } = this.#options;
    while (true) {
      // KafkaJS looks the coordinator up (a request of its own) before every JoinGroup, so
      // requests issued when the rebalance was signalled (a last commit) reach it first.
      await new Promise((resolve) => setTimeout(resolve, 0));
      if (this.#stopped) throw new KafkaJSNonRetriableError("the consumer is stopping");
      cluster.checkOpen();
      const group = cluster.group(this.groupId);
      try {
        const join = group.join({
          memberId: this.memberId ?? "",
          clientId: client.clientId,
          topics,
          rebalanceTimeout: config.rebalanceTimeout,
          protocols,
        });
        this.memberId = join.memberId;
        this.#joining = true;
        const joined = await join.response;
        this.#generationId = joined.generationId;
        const assignment = await group.sync(joined.memberId, joined.generationId);
        this.#joining = false;
        // As KafkaJS does, ignore partitions of topics this member did not subscribe to.
        const mine: Assignment = {};
        for (const [topic, partitions] of Object.entries(assignment)) {
          if (topics.includes(topic)) mine[topic] = [...partitions].sort((a, b) => a - b);
        }
        this.#assignment = mine;
        this.#session = { memberId: joined.memberId, generationId: joined.generationId };
        this.#positions.clear();
        this.#options.emit(CONSUMER_EVENTS.GROUP_JOIN, {
          groupId: this.groupId,
          memberId: joined.memberId,
          leaderId: joined.leaderId,
          isLeader: joined.leaderId === joined.memberId,
          memberAssignment: structuredClone(mine),
          groupProtocol: joined.protocol,
          duration: Date.now() - started,
        });
        return;
      } catch (error) {
        this.#joining = false;
        if (isRebalancing(error)) continue;
        if (errorType(error) === "UNKNOWN_MEMBER_ID") {
          this.memberId = null;
          continue;
        }
        throw error;
      }
    }
  }

  /** The fetch loop: KafkaJS's `scheduleFetchManager` with its recovery from rebalances. */
  async #consume(): Promise<void> {
    while (this.running) {
      try {
        await this.#fetchAndProcess();
      } catch (error) {
        if (!this.running) break;
        try {
          if (isRebalancing(error)) {
            this.#options.emit(CONSUMER_EVENTS.REBALANCING, {
              groupId: this.groupId,
              memberId: this.memberId,
            });
            await this.#joinAndSync();
            continue;
          }
          if (errorType(error) === "UNKNOWN_MEMBER_ID") {
            this.memberId = null;
            await this.#joinAndSync();
            continue;
          }
          throw error;
        } catch (fatal) {
          if (!this.running) break;
          this.running = false;
          // Not awaited: the crash handling stops this runner, which waits for this loop.
          void this.#options.onCrash(this.#crashError(fatal));
          break;
        }
      }
    }
  }

  async #fetchAndProcess(): Promise<void> {
    this.#throwIfCrashed();
    const batches = await this.#fetch();
    this.#throwIfCrashed();
    if (batches.length === 0) {
      await this.heartbeat();
      return;
    }
    // Every batch of the fetch is handled even when one fails; the first failure is thrown.
    let failure: { error: unknown } | undefined;
    for (const batch of batches) {
      try {
        await this.#handleBatch(batch);
      } catch (error) {
        failure ??= { error };
      }
    }
    if (failure) throw failure.error;
  }

  /**
   * What KafkaJS's retrier makes of an error it gives up on: a retriable one becomes
   * `KafkaJSNumberOfRetriesExceeded` (the consumer restarts), others stay as they are (it
   * does not). KafkaJS retries a few times first; the in-memory consumer gives up at once.
   */
  #crashError(error: unknown): unknown {
    const name = (error as Error | null)?.name;
    if (name === "KafkaJSNumberOfRetriesExceeded" || !isRetriable(error)) return error;
    return new KafkaJSNumberOfRetriesExceeded(error as Error, {
      retryCount: 0,
      retryTime: this.#options.client.initialRetryTime ?? 300,
    });
  }

  #throwIfCrashed(): void {
    const error = this.#crashWith;
    if (error) {
      this.#crashWith = undefined;
      throw error;
    }
  }

  async #handleBatch(batch: MemoryBatch): Promise<void> {
    if (!this.running) return;
    if (batch.isEmpty()) {
      await this.heartbeat();
      return;
    }
    await this.#options.runConfig.eachBatch!(this.#payload(batch));
    if (this.#options.runConfig.eachBatchAutoResolve ?? true) {
      this.#positions.set(key(batch.topic, batch.partition), Number(batch.lastOffset()) + 1);
    }
    await this.heartbeat();
  }

  #payload(batch: MemoryBatch): EachBatchPayload {
    const { topic, partition } = batch;
    const slot = key(topic, partition);
    return {
      batch,
      resolveOffset: (offset) => void this.#positions.set(slot, Number(offset) + 1),
      heartbeat: () => this.heartbeat(),
      pause: () => {
        this.pauses.pause([{ topic, partitions: [partition] }]);
        return () => {
          this.pauses.resume([{ topic, partitions: [partition] }]);
          this.wake("activity");
        };
      },
      commitOffsetsIfNecessary: async (offsets?: Offsets) => {
        // Without offsets, KafkaJS commits only when auto-commit is on, which it is not here.
        if (offsets) await this.commit(offsets.topics);
      },
      uncommittedOffsets: () => this.#uncommitted(),
      isRunning: () => this.running,
      isStale: () => this.#seeks.has(slot),
    };
  }

  #uncommitted(): OffsetsByTopicPartition {
    const group = this.#options.cluster.group(this.groupId);
    const topics = Object.entries(this.#assignment).map(([topic, partitions]) => ({
      topic,
      partitions: partitions.flatMap((partition) => {
        const position = this.#positions.get(key(topic, partition));
        if (position === undefined || position === group.committed(topic, partition)?.offset) {
          return [];
        }
        return [{ partition, offset: String(position) }];
      }),
    }));
    return { topics: topics.filter(({ partitions }) => partitions.length > 0) };
  }

  /** One fetch: waits (at most `maxWaitTimeInMs`) for data on the unpaused partitions. */
  async #fetch(): Promise<MemoryBatch[]> {
    if (!this.running) return [];
    const { cluster, config } = this.#options;
    cluster.checkOpen();
    const assigned: PartitionLog[] = [];
    for (const [topic, partitions] of Object.entries(this.#assignment)) {
      const log = cluster.topic(topic);
      for (const partition of partitions) {
        const partitionLog = log?.partitions[partition];
        if (partitionLog) assigned.push(partitionLog);
      }
    }
    for (const log of assigned) this.#resolvePosition(log);
    const active = assigned.filter((log) => !this.pauses.isPaused(log.topic, log.partition));
    if (active.length === 0) {
      await this.#wait(config.maxWaitTimeInMs, [], true);
      return [];
    }
    let batches = this.#read(active);
    if (batches.every((batch) => batch.isEmpty())) {
      // Kafka holds a fetch until data arrives (minBytes) or maxWaitTime passes.
      await this.#wait(config.maxWaitTimeInMs, active, true);
      if (!this.running) return [];
      batches = this.#read(active);
    }
    const delay = cluster.faults.fetchDelay(this.groupId);
    if (delay > 0) await this.#wait(delay, [], false);
    return batches.filter(({ topic, partition }) =>
      !this.#seeks.has(key(topic, partition)) && !this.pauses.isPaused(topic, partition)
    );
  }

  /** Applies a pending seek, else sets a missing position from the committed offset. */
  #resolvePosition(log: PartitionLog): void {
    const slot = key(log.topic, log.partition);
    const seek = this.#seeks.get(slot);
    if (seek !== undefined) {
      this.#seeks.delete(slot);
      this.#positions.set(
        slot,
        seek === EARLIEST ? log.logStartOffset : seek === LATEST ? log.highWatermark : seek,
      );
    }
    let position = this.#positions.get(slot);
    if (position === undefined) {
      position = this.#options.cluster.group(this.groupId).committed(log.topic, log.partition)
        ?.offset;
    }
    // No commit yet, or out of range (OFFSET_OUT_OF_RANGE): the subscription's default offset.
    if (position === undefined || position < log.logStartOffset || position > log.highWatermark) {
      position = this.#options.fromBeginning(log.topic) ? log.logStartOffset : log.highWatermark;
    }
    this.#positions.set(slot, position);
  }

  #read(active: readonly PartitionLog[]): MemoryBatch[] {
    const { maxBytes, maxBytesPerPartition } = this.#options.config;
    let budget = maxBytes;
    return active.map((log) => {
      const from = this.#positions.get(key(log.topic, log.partition))!;
      const records = budget > 0 ? log.read(from, Math.min(maxBytesPerPartition, budget)) : [];
      for (const record of records) budget -= record.size;
      return new MemoryBatch(log.topic, log.partition, records, log.highWatermark);
    });
  }

  /** Waits `ms`, or less: for data on `logs`, a stop or crash, or (if `onActivity`) a resume or seek. */
  #wait(ms: number, logs: readonly PartitionLog[], onActivity: boolean): Promise<void> {
    if (!this.running) return Promise.resolve();
    return new Promise((resolve) => {
      let done = false;
      const unsubscribe: (() => void)[] = [];
      const wake = () => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        for (const off of unsubscribe) off();
        if (this.#waiter === waiter) this.#waiter = undefined;
        resolve();
      };
      const timer = setTimeout(wake, ms);
      for (const log of logs) unsubscribe.push(log.onAppend(wake));
      const waiter = { wake, onActivity };
      this.#waiter = waiter;
    });
  }
}

/** KafkaJS's retrier's test: not marked non-retriable, and not a programming error. */
function isRetriable(error: unknown): boolean {
  const { name, retriable } = (error ?? {}) as { name?: string; retriable?: boolean };
  return retriable !== false &&
    !["RangeError", "ReferenceError", "SyntaxError", "TypeError"].includes(name ?? "");
}
