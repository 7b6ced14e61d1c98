/**
 * A KafkaJS consumer over the in-memory cluster: the part of KafkaJS's `Consumer` (and of its
 * runner and consumer group) that troupe drives, with the same events, errors and ordering.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import type {
  Batch,
  ConsumerConfig,
  ConsumerRunConfig,
  ConsumerSubscribeTopic,
  ConsumerSubscribeTopics,
  EachBatchPayload,
  GroupDescription,
  IHeaders,
  KafkaMessage,
  Offsets,
  OffsetsByTopicPartition,
  TopicPartitionOffset,
  TopicPartitionOffsetAndMetadata,
  TopicPartitions,
} from "kafkajs";
import { KafkaJSNonRetriableError, KafkaJSNumberOfRetriesExceeded } from "./kafkajs_errors.ts";
import { groupDescription } from "./admin.ts";
import type { Assignment } from "./assignment.ts";
import { errorType, isRebalancing, unsupported } from "./errors.ts";
import { Emitter } from "./events.ts";
import type { CrashTarget, Faults } from "./faults.ts";
import type { GroupCoordinator, OffsetCommitTopic } from "./group.ts";
import type { PartitionLog, StoredRecord, TopicLog } from "./log.ts";

/** The consumer event names, as KafkaJS's `consumer.events` has them. */
export const CONSUMER_EVENTS = {
  HEARTBEAT: "consumer.heartbeat",
  COMMIT_OFFSETS: "consumer.commit_offsets",
  GROUP_JOIN: "consumer.group_join",
  FETCH_START: "consumer.fetch_start",
  FETCH: "consumer.fetch",
  START_BATCH_PROCESS: "consumer.start_batch_process",
  END_BATCH_PROCESS: "consumer.end_batch_process",
  CONNECT: "consumer.connect",
  DISCONNECT: "consumer.disconnect",
  STOP: "consumer.stop",
  CRASH: "consumer.crash",
  REBALANCING: "consumer.rebalancing",
  RECEIVED_UNSUBSCRIBED_TOPICS: "consumer.received_unsubscribed_topics",
  REQUEST: "consumer.network.request",
  REQUEST_TIMEOUT: "consumer.network.request_timeout",
  REQUEST_QUEUE_SIZE: "consumer.network.request_queue_size",
} as const;

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

type ConsumerRetry = ConsumerConfig["retry"];

/** Offsets of -2 and -1 are KafkaJS's "earliest" and "latest" for `seek`. */
const EARLIEST = -2;
const LATEST = -1;

const key = (topic: string, partition: number) => `${topic}\u0000${partition}`;

/**
 * A KafkaJS consumer over the in-memory cluster.
 *
 * Emulated as KafkaJS 2.2.4 does it: `run` resolves once the first join completed (after the
 * `GROUP_JOIN` event); each fetch asks for every assigned, unpaused partition from its
 * position and hands the non-empty batches to `eachBatch` one after another; `heartbeat()`
 * (in a batch, after each batch, and after an empty fetch) is sent at most every
 * `heartbeatInterval` and fails with the group's error when a rebalance is under way; the
 * consumer then emits `REBALANCING`, re-joins, and emits `GROUP_JOIN` with its new
 * assignment, fetching every partition again from the committed offset. Commits carry the
 * generation of the last join. A crash leaves the group, emits `CRASH`, and restarts after a
 * delay when the error is retriable. Pauses survive rebalances but not a restart.
 *
 * Not emulated: `eachMessage`, `autoCommit: true`, `partitionsConsumedConcurrently` above 1,
 * and the retries KafkaJS makes before crashing.
 *
 * @example
 * ```ts ignore
 * const consumer = kafka.consumer({ groupId: "billing" });
 * await consumer.connect();
 * await consumer.subscribe({ topics: ["orders"], fromBeginning: true });
 * await consumer.run({ autoCommit: false, eachBatch: async ({ batch }) => {} });
 * ```
 */
export class MemoryConsumer {
  /** The event names, for `on`. */
  readonly events: typeof CONSUMER_EVENTS = CONSUMER_EVENTS;
  #cluster: ConsumerCluster;
  #client: ClientSettings;
  #config: Required<
    Pick<
      ConsumerConfig,
      | "groupId"
      | "sessionTimeout"
      | "rebalanceTimeout"
      | "heartbeatInterval"
      | "maxBytesPerPartition"
      | "maxBytes"
      | "maxWaitTimeInMs"
    >
  >;
  #retry: ConsumerRetry;
  #emitter = new Emitter(Object.values(CONSUMER_EVENTS));
  #subscriptions = new Map<string, { fromBeginning: boolean }>();
  #runConfig: ConsumerRunConfig | undefined;
  #runner: Runner | null = null;
  #stopping: Promise<void> | undefined;
  #restartTimer: ReturnType<typeof setTimeout> | undefined;

  /**
   * Creates a consumer; nothing happens before `connect` and `run`.
   *
   * @throws {KafkaJSNonRetriableError} for a missing group id or a heartbeat interval not
   * below the session timeout, as KafkaJS does.
   */
  constructor(cluster: ConsumerCluster, client: ClientSettings, config: ConsumerConfig) {
    if (!config?.groupId) {
      throw new KafkaJSNonRetriableError("Consumer groupId must be a non-empty string.");
    }
    this.#cluster = cluster;
    this.#client = client;
    this.#config = {
      groupId: config.groupId,
      sessionTimeout: config.sessionTimeout ?? 30_000,
      rebalanceTimeout: config.rebalanceTimeout ?? 60_000,
      heartbeatInterval: config.heartbeatInterval ?? 3_000,
      maxBytesPerPartition: config.maxBytesPerPartition ?? 1_048_576,
      maxBytes: config.maxBytes ?? 10_485_760,
      maxWaitTimeInMs: config.maxWaitTimeInMs ?? 5_000,
    };
    this.#retry = config.retry;
    if (this.#config.heartbeatInterval >= this.#config.sessionTimeout) {
      throw new KafkaJSNonRetriableError(
        `Consumer heartbeatInterval (${this.#config.heartbeatInterval}) must be lower than ` +
          `sessionTimeout (${this.#config.sessionTimeout}).`,
      );
    }
  }

  /** Reaches the cluster. */
  connect(): Promise<void> {
    try {
      this.#cluster.checkOpen();
    } catch (error) {
      return Promise.reject(error);
    }
    this.#emitter.emit(CONSUMER_EVENTS.CONNECT, undefined);
    return Promise.resolve();
  }

  /** Stops (leaving the group) and disconnects. */
  async disconnect(): Promise<void> {
    await this.stop();
    this.#emitter.emit(CONSUMER_EVENTS.DISCONNECT, undefined);
  }

  /** Stops consuming and leaves the group; a pending restart is cancelled. */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      try {
        const runner = this.#runner;
        if (runner) {
          await runner.stop();
          this.#runner = null;
          this.#emitter.emit(CONSUMER_EVENTS.STOP, undefined);
        }
        clearTimeout(this.#restartTimer);
        this.#restartTimer = undefined;
      } finally {
        this.#stopping = undefined;
      }
    })();
    return this.#stopping;
  }

  /**
   * Subscribes to topics (names or RegExps, matched against the topics that exist now).
   * Named topics that do not exist are created when the cluster creates topics on first use.
   */
  subscribe(subscription: ConsumerSubscribeTopics | ConsumerSubscribeTopic): Promise<void> {
    try {
      if (this.#runner) {
        throw new KafkaJSNonRetriableError("Cannot subscribe to topic while consumer is running");
      }
      const list = "topics" in subscription ? subscription.topics : [subscription.topic];
      if (!Array.isArray(list)) {
        throw new KafkaJSNonRetriableError('Argument "topics" must be an array');
      }
      const fromBeginning = subscription.fromBeginning ?? false;
      for (const entry of list) {
        if (entry instanceof RegExp) {
          for (const name of this.#cluster.topicNames()) {
            if (entry.test(name)) this.#subscriptions.set(name, { fromBeginning });
          }
        } else if (typeof entry === "string" && entry) {
          this.#cluster.ensureTopic(entry);
          this.#subscriptions.set(entry, { fromBeginning });
        } else {
          throw new KafkaJSNonRetriableError(
            `Invalid topic ${entry} (${typeof entry}), the topic name has to be a String or a RegExp`,
          );
        }
      }
      return Promise.resolve();
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Joins the group and starts consuming; resolves after the first `GROUP_JOIN` (or after a
   * crash while joining, reported through `CRASH`).
   *
   * @throws {KafkaJSNonRetriableError} for settings the in-memory consumer does not emulate.
   */
  async run(config: ConsumerRunConfig = {}): Promise<void> {
    if (this.#runner) return; // KafkaJS only warns
    if (config.eachMessage || !config.eachBatch) {
      throw unsupported("consumer.run without eachBatch");
    }
    if (config.autoCommit !== false) throw unsupported("consumer.run with autoCommit");
    if ((config.partitionsConsumedConcurrently ?? 1) !== 1) {
      throw unsupported("partitionsConsumedConcurrently other than 1");
    }
    this.#runConfig = config;
    await this.#start();
  }

  /** Commits offsets under the current generation. */
  async commitOffsets(topicPartitions: TopicPartitionOffsetAndMetadata[]): Promise<void> {
    const runner = this.#requireRunner();
    const byTopic = new Map<string, OffsetCommitTopic["partitions"][number][]>();
    for (const { topic, partition, offset, metadata } of topicPartitions) {
      if (!topic) throw new KafkaJSNonRetriableError(`Invalid topic ${topic}`);
      if (!(Number(offset) >= 0)) {
        throw new KafkaJSNonRetriableError("Offset must not be a negative number");
      }
      let partitions = byTopic.get(topic);
      if (!partitions) byTopic.set(topic, partitions = []);
      partitions.push({ partition, offset, metadata: metadata ?? null });
    }
    await runner.commit([...byTopic].map(([topic, partitions]) => ({ topic, partitions })));
  }

  /** Moves a partition's fetch position; the batches fetched before it are stale. */
  seek({ topic, partition, offset }: TopicPartitionOffset): void {
    const value = Number(offset);
    if (!Number.isInteger(value) || (value < 0 && value !== EARLIEST && value !== LATEST)) {
      throw new KafkaJSNonRetriableError(`Invalid offset, expected a long received ${offset}`);
    }
    this.#requireRunner().seek(topic, partition, value);
  }

  /** The group as the coordinator describes it. */
  describeGroup(): Promise<GroupDescription> {
    const group = this.#cluster.group(this.#config.groupId);
    return Promise.resolve(groupDescription(this.#config.groupId, group));
  }

  /** Stops fetching partitions (all of a topic's when `partitions` is absent). */
  pause(topics: Array<{ topic: string; partitions?: number[] }>): void {
    validateTopicPartitions(topics, "pause");
    this.#requireRunner().pauses.pause(topics);
  }

  /** The assigned partitions that are paused. */
  paused(): TopicPartitions[] {
    return this.#runner?.pausedPartitions() ?? [];
  }

  /** Fetches paused partitions again. */
  resume(topics: Array<{ topic: string; partitions?: number[] }>): void {
    validateTopicPartitions(topics, "resume");
    const runner = this.#requireRunner();
    runner.pauses.resume(topics);
    runner.wake("activity");
  }

  /** Subscribes to an instrumentation event; returns the function that unsubscribes. */
  on(eventName: string, listener: (event: never) => unknown): () => void {
    return this.#emitter.on(eventName, listener as (event: unknown) => unknown);
  }

  /** Not emulated. */
  logger(): never {
    throw unsupported("consumer.logger");
  }

  #requireRunner(): Runner {
    if (!this.#runner) {
      throw new KafkaJSNonRetriableError(
        "Consumer group was not initialized, consumer#run must be called first",
      );
    }
    return this.#runner;
  }

  async #start(): Promise<void> {
    const runner = new Runner({
      cluster: this.#cluster,
      client: this.#client,
      config: this.#config,
      runConfig: this.#runConfig!,
      topics: [...this.#subscriptions.keys()],
      fromBeginning: (topic) => this.#subscriptions.get(topic)?.fromBeginning ?? false,
      emit: (name, payload) => this.#emitter.emit(name, payload),
      onCrash: (error) => this.#onCrash(error),
    });
    this.#runner = runner;
    await runner.start();
  }

  /** KafkaJS's `onCrash`: leave and disconnect, report, and restart if the error allows. */
  async #onCrash(error: unknown): Promise<void> {
    await this.disconnect().catch(() => {});
    let restart = (error as Error).name === "KafkaJSNumberOfRetriesExceeded" ||
      rootCause(error).retriable === true;
    const restartOnFailure = this.#retry?.restartOnFailure;
    if (restart && restartOnFailure) {
      restart = await restartOnFailure(error as Error).catch(() => true);
    }
    this.#emitter.emit(CONSUMER_EVENTS.CRASH, {
      error,
      groupId: this.#config.groupId,
      restart,
    });
    if (!restart) return;
    const retryTime = (error as { retryTime?: number }).retryTime ||
      this.#retry?.initialRetryTime || this.#client.initialRetryTime || 300;
    this.#restartTimer = setTimeout(() => {
      this.#restartTimer = undefined;
      void this.#start();
    }, retryTime);
  }
}

/** The consumer settings a run uses. */
interface RunnerConfig {
  groupId: string;
  rebalanceTimeout: number;
  heartbeatInterval: number;
  maxBytesPerPartition: number;
  maxBytes: number;
  maxWaitTimeInMs: number;
}

/** What a runner is made of. */
interface RunnerOptions {
  cluster: ConsumerCluster;
  client: ClientSettings;
  config: RunnerConfig;
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
 */
class Runner implements CrashTarget {
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
    const { cluster, client, config, topics } = this.#options;
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

/** KafkaJS's subscription state: which partitions are paused, per topic or one by one. */
class PauseState {
  #topics = new Map<string, { all: boolean; paused: Set<number>; resumed: Set<number> }>();

  pause(topics: readonly { topic: string; partitions?: number[] }[]): void {
    for (const { topic, partitions } of topics) {
      const state = this.#state(topic);
      if (partitions === undefined) {
        state.paused.clear();
        state.resumed.clear();
        state.all = true;
      } else {
        for (const partition of partitions) {
          state.paused.add(partition);
          state.resumed.delete(partition);
        }
        state.all = false;
      }
    }
  }

  resume(topics: readonly { topic: string; partitions?: number[] }[]): void {
    for (const { topic, partitions } of topics) {
      const state = this.#state(topic);
      if (partitions === undefined) {
        state.paused.clear();
        state.resumed.clear();
        state.all = false;
      } else {
        for (const partition of partitions) {
          state.paused.delete(partition);
          if (state.all) state.resumed.add(partition);
        }
      }
    }
  }

  isPaused(topic: string, partition: number): boolean {
    const state = this.#topics.get(topic);
    if (!state) return false;
    return (state.all && !state.resumed.has(partition)) || state.paused.has(partition);
  }

  #state(topic: string) {
    let state = this.#topics.get(topic);
    if (!state) {
      this.#topics.set(topic, state = { all: false, paused: new Set(), resumed: new Set() });
    }
    return state;
  }
}

/** The records of one partition from one fetch, shaped like KafkaJS's `Batch`. */
class MemoryBatch implements Batch {
  readonly topic: string;
  readonly partition: number;
  readonly highWatermark: string;
  readonly messages: KafkaMessage[];
  #highWatermark: number;

  constructor(
    topic: string,
    partition: number,
    records: readonly StoredRecord[],
    highWatermark: number,
  ) {
    this.topic = topic;
    this.partition = partition;
    this.#highWatermark = highWatermark;
    this.highWatermark = String(highWatermark);
    this.messages = records.map(toKafkaMessage);
  }

  isEmpty(): boolean {
    return this.messages.length === 0;
  }

  firstOffset(): string | null {
    return this.messages[0]?.offset ?? null;
  }

  lastOffset(): string {
    return this.messages.at(-1)?.offset ?? String(this.#highWatermark - 1);
  }

  offsetLag(): string {
    return String(this.#highWatermark - 1 - Number(this.lastOffset()));
  }

  offsetLagLow(): string {
    const first = this.firstOffset();
    return first === null ? "0" : String(this.#highWatermark - 1 - Number(first));
  }
}

/** A stored record as KafkaJS decodes it: fresh Buffers, so a handler cannot alter the log. */
function toKafkaMessage(record: StoredRecord): KafkaMessage {
  const headers: IHeaders = {};
  for (const [name, value] of Object.entries(record.headers)) {
    headers[name] = value instanceof Uint8Array
      ? Buffer.from(value)
      : value.map((bytes) => Buffer.from(bytes));
  }
  return {
    key: record.key === null ? null : Buffer.from(record.key),
    value: record.value === null ? null : Buffer.from(record.value),
    timestamp: String(record.timestamp),
    attributes: 0,
    offset: String(record.offset),
    headers,
  };
}

function validateTopicPartitions(
  topics: readonly { topic: string; partitions?: number[] }[],
  what: string,
): void {
  for (const entry of topics) {
    if (!entry?.topic) {
      throw new KafkaJSNonRetriableError(`Invalid topic ${entry?.topic ?? entry}`);
    }
    if (
      entry.partitions !== undefined &&
      (!Array.isArray(entry.partitions) || entry.partitions.some((p) => !Number.isInteger(p)))
    ) {
      throw new KafkaJSNonRetriableError(
        `Array of valid partitions required to ${what} specific partitions instead of ${entry.partitions}`,
      );
    }
  }
}

/** KafkaJS's retrier's test: not marked non-retriable, and not a programming error. */
function isRetriable(error: unknown): boolean {
  const { name, retriable } = (error ?? {}) as { name?: string; retriable?: boolean };
  return retriable !== false &&
    !["RangeError", "ReferenceError", "SyntaxError", "TypeError"].includes(name ?? "");
}

function rootCause(error: unknown): { retriable?: boolean } {
  let current = error as { cause?: unknown; retriable?: boolean } | null;
  while (current?.cause) current = current.cause as typeof current;
  return current ?? {};
}
