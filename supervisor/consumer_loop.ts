/**
 * The consumer loop: the KafkaJS consumer that feeds the supervisor's mailboxes.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import type { Consumer, EachBatchPayload, Kafka, KafkaMessage } from "kafkajs";
import { sleep } from "../actors/backoff.ts";
import { createKafkaClient } from "../kafka/client.ts";
import { describeError, KafkaConnectionError } from "../kafka/errors.ts";
import type { ResolvedProcessorOptions } from "./options.ts";
import {
  type CommitOffset,
  type FetchControl,
  NotReadyToCommit,
  type Supervisor,
} from "./supervisor.ts";

const log = getLogger(["troupe", "consumer"]);

/** What the loop reports to the processor. */
export interface ConsumerLoopEvents {
  /** The member joined (or re-joined) the group with this assignment. */
  joined(memberId: string | null, assignment: Record<string, number[]>): void;
  /** The KafkaJS consumer crashed; `restarting` says whether KafkaJS restarts it. */
  crashed(error: unknown, restarting: boolean): void;
  /** Kafka answered (a batch or a heartbeat); called only while `watched` is set. */
  alive(): void;
}

type CommitFunction = EachBatchPayload["commitOffsetsIfNecessary"];

/** Errors no retry can fix: the processor fails instead of restarting its consumer. */
function isFatal(error: unknown): boolean {
  for (let cause = error; cause instanceof Error; cause = (cause as { cause?: unknown }).cause) {
    const type = String((cause as { type?: unknown }).type ?? "");
    if (
      /AUTHENTICATION|AUTHORIZATION|SASL|UNSUPPORTED|INVALID_GROUP_ID|INVALID_SESSION_TIMEOUT/
        .test(type) ||
      /SASL|NotImplemented|Authentication/.test(cause.name)
    ) return true;
    if (cause === (cause as { cause?: unknown }).cause) break;
  }
  return false;
}

const isRebalancing = (error: unknown) => {
  const type = (error as { type?: unknown } | null)?.type;
  return type === "REBALANCE_IN_PROGRESS" || type === "ILLEGAL_GENERATION" ||
    type === "NOT_COORDINATOR_FOR_GROUP";
};

/**
 * Runs the KafkaJS consumer of a processor. It never runs user code and never waits on a
 * slow partition: each fetched batch goes straight into its partition's mailbox, and a full
 * mailbox pauses that partition's fetching instead of blocking the loop, so heartbeats keep
 * flowing however long handlers take.
 *
 * KafkaJS has no hook before partitions are revoked; two signals stand in for it. When the
 * heartbeat inside a batch reports a rebalance, the loop holds KafkaJS's re-join until the
 * actors finished their messages in hand and the processed offsets are committed. When
 * KafkaJS's own heartbeat sees it first, only a best-effort commit is possible.
 *
 * Commits go through the `commitOffsetsIfNecessary` of the latest batch, without KafkaJS's
 * retry loop: a retry could run after the group moved on, under the new generation, and
 * commit a partition this member no longer owns (kafkajs#1046).
 *
 * @example
 * ```ts ignore
 * const loop = new ConsumerLoop(kafka, resolvedOptions, events);
 * loop.attach(supervisor);
 * await loop.start();
 * ```
 */
export class ConsumerLoop<K, V> implements FetchControl {
  #kafka: Kafka;
  #options: ResolvedProcessorOptions<K, V>;
  #events: ConsumerLoopEvents;
  #supervisor: Supervisor<K, V> | undefined;
  #consumer: Consumer | undefined;
  #commit: CommitFunction | undefined;
  /** Set when a batch already held the re-join and committed; KafkaJS's event follows. */
  #drained = false;
  #memberId: string | null = null;
  /** Seeks not yet seen to take effect, by partition. */
  #seeks = new Map<string, { topic: string; partition: number; offset: number }>();
  #lastHeartbeat = 0;
  #subscribed: string[] = [];
  #refreshTimer: ReturnType<typeof setInterval> | undefined;
  #refreshing = false;
  #relaunching = false;

  /**
   * Creates the loop; nothing connects before {@linkcode ConsumerLoop.start}.
   *
   * @param kafka The KafkaJS client.
   * @param options The processor's resolved options.
   * @param events Receives group events.
   */
  constructor(kafka: Kafka, options: ResolvedProcessorOptions<K, V>, events: ConsumerLoopEvents) {
    this.#kafka = kafka;
    this.#options = options;
    this.#events = events;
  }

  /** Connects the supervisor that receives batches and assignments. */
  attach(supervisor: Supervisor<K, V>): void {
    this.#supervisor = supervisor;
  }

  /** The member id in the group, once joined. */
  get memberId(): string | null {
    return this.#memberId;
  }

  /**
   * Reaches the brokers (for at most `connectTimeoutMs`), subscribes, and resolves once the
   * member joined its group.
   *
   * @throws {KafkaConnectionError} when Kafka cannot be reached in time or the consumer fails.
   */
  async start(): Promise<void> {
    const options = this.#options;
    await this.#waitForBrokers();

    const settings = options.consumer;
    const consumer = this.#kafka.consumer({
      groupId: options.groupId,
      sessionTimeout: settings.sessionTimeout,
      rebalanceTimeout: settings.rebalanceTimeout,
      heartbeatInterval: settings.heartbeatInterval,
      maxBytesPerPartition: settings.maxBytesPerPartition,
      maxBytes: settings.maxBytes,
      minBytes: settings.minBytes,
      maxWaitTimeInMs: settings.maxWaitTimeInMs,
      readUncommitted: settings.readUncommitted,
      rackId: settings.rackId,
      metadataMaxAge: settings.metadataMaxAge,
    });
    this.#consumer = consumer;

    const joined = Promise.withResolvers<void>();
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      this.#memberId = payload.memberId;
      this.#drained = false;
      this.#lastHeartbeat = Date.now();
      this.#supervisor?.assign(payload.memberAssignment);
      for (const { topic, partition, offset } of this.#seeks.values()) {
        if (payload.memberAssignment[topic]?.includes(partition)) {
          this.#applySeek(topic, partition, offset);
        } else this.#seeks.delete(`${topic}\u0000${partition}`);
      }
      this.#events.joined(payload.memberId, payload.memberAssignment);
      joined.resolve();
    });
    consumer.on(consumer.events.HEARTBEAT, () => {
      this.#lastHeartbeat = Date.now();
      if (this.watched) this.#events.alive();
    });
    consumer.on(consumer.events.REBALANCING, () => {
      this.#lastHeartbeat = 0; // a re-join does not heartbeat; do not mistake it for an outage
      // When the loop itself held the re-join (see eachBatch), the commit already happened.
      if (this.#drained) this.#drained = false;
      else this.#supervisor?.rebalanceStarted();
    });
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      this.#commit = undefined;
      // KafkaJS gives up for good on some errors that only mean "the broker is away" (e.g.
      // "Failed to find group coordinator" while it shuts down): troupe restarts those itself.
      // Only what no retry can fix (credentials, permissions, versions) ends the processor.
      const fatal = !payload.restart && isFatal(payload.error);
      if (!fatal) this.#supervisor?.consumerRestarting();
      this.#events.crashed(payload.error, !fatal);
      if (fatal) {
        joined.reject(new KafkaConnectionError("the Kafka consumer failed", payload.error));
      } else if (!payload.restart) {
        void this.#relaunch(consumer);
      }
    });

    try {
      await consumer.connect();
      this.#subscribed = await this.#matchingTopics();
      await this.#run(consumer, this.#subscribed);
      const limit = options.connectTimeoutMs + settings.rebalanceTimeout;
      const timer = setTimeout(
        () =>
          joined.reject(
            new KafkaConnectionError(`did not join group "${options.groupId}" within ${limit} ms`),
          ),
        limit,
      );
      try {
        await joined.promise;
      } finally {
        clearTimeout(timer);
      }
      if (options.topics.some((topic) => topic instanceof RegExp)) {
        this.#refreshTimer = setInterval(() => void this.#refreshTopics(), options.topicRefreshMs);
      }
    } catch (error) {
      await consumer.disconnect().catch(() => {});
      this.#consumer = undefined;
      if (error instanceof KafkaConnectionError) throw error;
      throw new KafkaConnectionError("could not start the Kafka consumer", error);
    }
  }

  /**
   * Runs the KafkaJS consumer again after it crashed without restarting itself, with backoff,
   * for as long as the processor runs.
   */
  async #relaunch(consumer: Consumer): Promise<void> {
    if (this.#relaunching) return;
    this.#relaunching = true;
    try {
      for (let delay = 1_000; this.#consumer === consumer; delay = Math.min(delay * 2, 10_000)) {
        await sleep(delay);
        if (this.#consumer !== consumer) return;
        try {
          await consumer.connect();
          await this.#run(consumer, this.#subscribed);
          return;
        } catch (error) {
          log.warn("restarting the Kafka consumer failed; trying again in {delay} ms: {error}", {
            delay,
            error: describeError(error),
          });
        }
      }
    } finally {
      this.#relaunching = false;
    }
  }

  /** Subscribes (by name) and runs the KafkaJS consumer. */
  async #run(consumer: Consumer, topics: string[]): Promise<void> {
    await consumer.subscribe({ topics, fromBeginning: this.#options.fromBeginning });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: true,
      partitionsConsumedConcurrently: 1,
      eachBatch: (payload) => this.#eachBatch(payload),
    });
  }

  /**
   * The topic names the subscription covers now. KafkaJS resolves a RegExp once, when it
   * subscribes; troupe resolves it itself, now and every `topicRefreshMs`, so that topics
   * created later are picked up. Internal topics (`__*`) never match.
   */
  async #matchingTopics(): Promise<string[]> {
    const patterns = this.#options.topics;
    const names = new Set(patterns.filter((topic): topic is string => typeof topic === "string"));
    if (names.size < patterns.length) {
      const admin = this.#kafka.admin();
      await admin.connect();
      try {
        for (const topic of await admin.listTopics()) {
          if (topic.startsWith("__")) continue;
          if (patterns.some((pattern) => pattern instanceof RegExp && pattern.test(topic))) {
            names.add(topic);
          }
        }
      } finally {
        await admin.disconnect().catch(() => {});
      }
    }
    return [...names].sort();
  }

  /**
   * Re-subscribes when the set of matching topics changed: the actors finish their messages
   * in hand and offsets are committed, the member leaves and re-joins with the new topics.
   * Retained partitions keep their actors, as after any rebalance.
   */
  async #refreshTopics(): Promise<void> {
    const consumer = this.#consumer;
    if (!consumer || this.#refreshing) return;
    this.#refreshing = true;
    try {
      const topics = await this.#matchingTopics();
      if (
        topics.join("\u0000") === this.#subscribed.join("\u0000") || this.#consumer !== consumer
      ) return;
      log.info("subscription now matches {count} topic(s): {topics}", {
        count: topics.length,
        topics,
      });
      const settings = this.#options.consumer;
      await this.#supervisor?.prepareForRebalance(
        Math.min(settings.rebalanceTimeout / 2, this.#options.shutdownTimeoutMs),
      );
      if (this.#consumer !== consumer) return;
      this.#commit = undefined;
      await consumer.stop();
      // Stopped now: the consumer must run again, or the processor would sit idle while
      // looking healthy. Retry until `connectTimeoutMs`, then fail for good.
      const deadline = Date.now() + this.#options.connectTimeoutMs;
      for (let delay = 250;; delay = Math.min(delay * 2, 5_000)) {
        try {
          await this.#run(consumer, topics);
          this.#subscribed = topics;
          return;
        } catch (error) {
          if (this.#consumer !== consumer) return;
          if (Date.now() + delay > deadline) {
            this.#events.crashed(error, false);
            return;
          }
          log.warn("could not subscribe to {topics}; retrying in {delay} ms: {error}", {
            topics,
            delay,
            error: describeError(error),
          });
          await sleep(delay);
        }
      }
    } catch (error) {
      log.warn("could not refresh the topic subscription: {error}", {
        error: describeError(error),
      });
    } finally {
      this.#refreshing = false;
    }
  }

  /** Leaves the group and disconnects. Commit first: KafkaJS refuses commits afterwards. */
  async stop(): Promise<void> {
    clearInterval(this.#refreshTimer);
    this.#refreshTimer = undefined;
    const consumer = this.#consumer;
    this.#consumer = undefined;
    this.#commit = undefined;
    if (consumer) await consumer.disconnect();
  }

  pause(topic: string, partition: number): void {
    try {
      this.#consumer?.pause([{ topic, partitions: [partition] }]);
    } catch {
      // Between a crash and the re-join there is no group to pause in; the supervisor
      // re-applies its pauses on the next assignment.
    }
  }

  resume(topic: string, partition: number): void {
    try {
      this.#consumer?.resume([{ topic, partitions: [partition] }]);
    } catch {
      // See pause().
    }
  }

  seek(topic: string, partition: number, offset: number): void {
    // Remembered until a batch of the partition shows it took effect: KafkaJS refuses seeks
    // while its group is down (a crash, a re-subscription) and forgets them when it restarts.
    this.#seeks.set(`${topic}\u0000${partition}`, { topic, partition, offset });
    this.#applySeek(topic, partition, offset);
  }

  #applySeek(topic: string, partition: number, offset: number): void {
    try {
      this.#consumer?.seek({ topic, partition, offset: String(offset) });
    } catch {
      // No group right now: applied again after the next join.
    }
  }

  async commit(offsets: CommitOffset[]): Promise<void> {
    const commit = this.#commit;
    if (!commit) throw new NotReadyToCommit();
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
    await commit({
      topics: [...byTopic].map(([topic, partitions]) => ({ topic, partitions })),
    });
  }

  /** While true, every batch and heartbeat is reported through `events.alive()`. */
  watched = false;

  /**
   * How long since the group coordinator last acknowledged a heartbeat, ms; 0 while no group
   * membership is expected to heartbeat (not joined yet, or re-joining after a rebalance).
   */
  silentFor(): number {
    return this.#lastHeartbeat === 0 ? 0 : Date.now() - this.#lastHeartbeat;
  }

  async #eachBatch(payload: EachBatchPayload): Promise<void> {
    this.#commit = payload.commitOffsetsIfNecessary;
    if (this.watched) this.#events.alive();
    if (!payload.isStale()) {
      const { batch } = payload;
      if (this.#seeks.size > 0) this.#seeks.delete(`${batch.topic}\u0000${batch.partition}`);
      // Reading committed records, troupe filters aborted transactions itself, from the
      // records as the broker sent them (see Supervisor.deliver).
      const unfiltered = this.#options.consumer.readUncommitted
        ? undefined
        : (batch as { messagesWithinOffset?: KafkaMessage[] }).messagesWithinOffset;
      this.#supervisor?.deliver(
        batch.topic,
        batch.partition,
        batch.messages,
        batch.highWatermark,
        unfiltered,
      );
    }
    try {
      await payload.heartbeat();
    } catch (error) {
      // Only the first batch drains: KafkaJS goes on with the other batches of this fetch,
      // each of which heartbeats and fails again.
      if (isRebalancing(error) && this.#supervisor && !this.#drained) {
        // KafkaJS re-joins only after this batch returns: our one chance to finish the
        // messages in hand and commit while the partitions are still ours.
        const settings = this.#options.consumer;
        const drainMs = Math.min(settings.rebalanceTimeout / 2, this.#options.shutdownTimeoutMs);
        await this.#supervisor.prepareForRebalance(drainMs);
        this.#drained = true;
      }
      throw error;
    }
  }

  /** Tries an admin connection until it works or `connectTimeoutMs` passes. */
  async #waitForBrokers(): Promise<void> {
    const { connectTimeoutMs, connection } = this.#options;
    const deadline = Date.now() + connectTimeoutMs;
    let delay = 200;
    let lastError: unknown;
    // A client of its own: KafkaJS's connect retries follow the client's settings, and here
    // the deadline, not KafkaJS, decides how long to keep trying.
    const probe = createKafkaClient({ ...connection, clientRetry: { retries: 0 } });
    while (true) {
      const admin = probe.admin();
      try {
        await admin.connect();
        return;
      } catch (error) {
        lastError = error;
        const type = (error as { type?: string }).type ?? "";
        if (/SASL|AUTHENTICATION|AUTHORIZATION/.test(type)) break;
      } finally {
        await admin.disconnect().catch(() => {});
      }
      if (Date.now() + delay > deadline) break;
      await sleep(delay);
      delay = Math.min(delay * 2, 2_000);
    }
    log.error("cannot reach Kafka at {brokers}: {error}", {
      brokers: connection.brokers.join(","),
      error: describeError(lastError),
    });
    throw new KafkaConnectionError(
      `could not reach Kafka at ${connection.brokers.join(",")} within ${connectTimeoutMs} ms`,
      lastError,
    );
  }
}
