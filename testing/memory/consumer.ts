/**
 * A KafkaJS consumer over the in-memory cluster: the part of KafkaJS's `Consumer` that troupe
 * drives, with the same events, errors and ordering. Each run is a {@linkcode Runner}.
 *
 * @module
 */

import type {
  ConsumerConfig,
  ConsumerRunConfig,
  ConsumerSubscribeTopic,
  ConsumerSubscribeTopics,
  GroupDescription,
  TopicPartitionOffset,
  TopicPartitionOffsetAndMetadata,
  TopicPartitions,
} from "kafkajs";
import { PartitionAssigners } from "kafkajs";
import { groupDescription } from "./admin.ts";
import { unsupported } from "./errors.ts";
import { CONSUMER_EVENTS, Emitter } from "./events.ts";
import type { OffsetCommitTopic } from "./group.ts";
import { KafkaJSNonRetriableError } from "./kafkajs_errors.ts";
import { type ClientSettings, type ConsumerCluster, EARLIEST, LATEST, Runner } from "./runner.ts";

export { CONSUMER_EVENTS } from "./events.ts";
export type { ClientSettings, ConsumerCluster } from "./runner.ts";

type ConsumerRetry = ConsumerConfig["retry"];

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
  /** The names of its partition assigners: the protocols it offers its group. */
  #protocols: string[];
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
    // An assigner is a factory of KafkaJS's; its name is all the group needs of it (the
    // in-memory coordinator assigns by itself, as the protocol the members agree on says).
    this.#protocols = (config.partitionAssigners ?? [PartitionAssigners.roundRobin]).map(
      (assigner) =>
        assigner({
          cluster: undefined as never,
          groupId: config.groupId,
          logger: undefined as never,
        }).name,
    );
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
      protocols: this.#protocols,
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

function rootCause(error: unknown): { retriable?: boolean } {
  let current = error as { cause?: unknown; retriable?: boolean } | null;
  while (current?.cause) current = current.cause as typeof current;
  return current ?? {};
}
