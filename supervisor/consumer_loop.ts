/**
 * The consumer loop: the KafkaJS consumer that feeds the engine, the fetcher side of the seam.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { type Consumer, type EachBatchPayload, type Kafka, PartitionAssigners } from "kafkajs";
import { retry, sleep } from "../actors/backoff.ts";
import { messagesOf } from "../kafka/batch_messages.ts";
import { RECONNECT_BACKOFF, waitForBrokers, whileUnreachable } from "../kafka/broker_probe.ts";
import { createKafkaClient } from "../kafka/client.ts";
import { classifyKafkaError, describeError, KafkaConnectionError } from "../kafka/errors.ts";
import { type CommitFunction, MembershipSession } from "../kafka/membership_session.ts";
import type { MessageCodecs } from "../kafka/message.ts";
import { type OwnedPartitions, STICKY_ASSIGNER, stickyAssigner } from "../kafka/sticky_assigner.ts";
import {
  isUnchanged,
  missingTopics,
  readSubscription,
  subscriptionChange,
  type SubscriptionSnapshot,
} from "../kafka/subscription.ts";
import type { ResolvedProcessorOptions } from "./resolve_options.ts";
import type { Assignment, FetcherObserver, FetchSink } from "./seam.ts";

const log = getLogger(["troupe", "consumer"]);

/**
 * Runs the KafkaJS consumer of a processor and hands what it fetches to the engine (a
 * {@linkcode FetchSink}). It never runs user code and never waits on a slow partition: each
 * fetched batch goes straight into its partition's mailbox, and a full mailbox pauses that
 * partition's fetching instead of blocking the loop, so heartbeats keep flowing however long
 * handlers take.
 *
 * KafkaJS has no hook before partitions are revoked; two signals stand in for it. When the
 * heartbeat inside a batch reports that the group moved on, the loop holds KafkaJS's re-join
 * until the engine drained and committed. When KafkaJS's own heartbeat sees it first, only a
 * best-effort commit is possible.
 *
 * Every `topicRefreshMs` it reads what the subscription covers: a topic created (or matching
 * a RegExp) or deleted makes it subscribe again, with a new KafkaJS consumer (a KafkaJS
 * consumer never forgets a topic); partitions added make the group's leader re-join, so that
 * the group spreads them.
 *
 * @example
 * ```ts ignore
 * const loop = new ConsumerLoop(resolvedOptions, partitionTable, processorObserver);
 * await loop.start();
 * ```
 */
export class ConsumerLoop<K, V> {
  #options: ResolvedProcessorOptions<K, V>;
  #sink: FetchSink<K, V>;
  #observer: FetcherObserver;
  #kafka: Kafka;
  #codecs: MessageCodecs<K, V>;
  /** The running KafkaJS consumer, between `start` and `stop`. */
  #consumer: Consumer | undefined;
  #session: MembershipSession | undefined;
  /**
   * The commit of the running KafkaJS consumer (a batch's `commitOffsetsIfNecessary`), until
   * that run ends. KafkaJS hands it out only with a batch, but it commits through the run's
   * consumer group under whatever membership the run holds now: a re-joined session takes it
   * at once, instead of waiting for a batch its full mailboxes may not fetch for seconds.
   */
  #commitWith: CommitFunction | undefined;
  /** Set when a batch already drained for the rebalance KafkaJS's event then announces. */
  #drained = false;
  #memberId: string | null = null;
  #leader = false;
  /** What this member owns, as the sticky assigner tells the group's leader. */
  #owned: OwnedPartitions = { generation: -1, assignment: {} };
  /** Seeks not yet seen to take effect, by partition. */
  #seeks = new Map<string, { topic: string; partition: number; offset: number }>();
  #lastHeartbeat = 0;
  #subscription: SubscriptionSnapshot = new Map();
  #refreshTimer: ReturnType<typeof setInterval> | undefined;
  #refreshing: Promise<void> | undefined;
  #relaunching: Promise<void> | undefined;

  /**
   * Creates the loop; nothing connects before {@linkcode ConsumerLoop.start}.
   *
   * @param options The processor's resolved options.
   * @param sink The engine, which receives assignments and batches.
   * @param observer The processor, which hears of joins, crashes and signs of life.
   */
  constructor(
    options: ResolvedProcessorOptions<K, V>,
    sink: FetchSink<K, V>,
    observer: FetcherObserver,
  ) {
    this.#options = options;
    this.#sink = sink;
    this.#observer = observer;
    this.#kafka = createKafkaClient(
      options.connection,
      (namespace, message) => this.#kafkaJsSaid(namespace, message),
    );
    this.#codecs = { key: options.keyCodec, value: options.valueCodec };
  }

  /** The member id in the group, once joined. */
  get memberId(): string | null {
    return this.#memberId;
  }

  /**
   * How long since the group coordinator last acknowledged a heartbeat, ms; 0 while no group
   * membership is expected to heartbeat (not joined yet, or re-joining after a rebalance).
   */
  silentFor(): number {
    return this.#lastHeartbeat === 0 ? 0 : Date.now() - this.#lastHeartbeat;
  }

  /**
   * Reaches the brokers (for at most `connectTimeoutMs`), subscribes, and resolves once the
   * member joined its group.
   *
   * @throws {KafkaConnectionError} when Kafka cannot be reached in time or the consumer fails.
   */
  async start(): Promise<void> {
    const options = this.#options;
    const deadline = Date.now() + options.connectTimeoutMs;
    await waitForBrokers(options.connection, options.connectTimeoutMs);
    const subscription = () => readSubscription(this.#kafka, options.topics);
    this.#subscription = await whileUnreachable(subscription, deadline);
    for (const topic of missingTopics(options.topics, this.#subscription)) {
      log.warn("topic {topic} does not exist (yet); it is read once it does", { topic });
    }
    const joined = Promise.withResolvers<void>();
    const consumer = this.#newConsumer(joined);
    try {
      await whileUnreachable(() => consumer.connect(), deadline);
      await this.#run(consumer);
      const limit = options.connectTimeoutMs + options.consumer.rebalanceTimeout;
      const timer = setTimeout(
        () =>
          joined.reject(
            new KafkaConnectionError(`did not join group "${options.groupId}" within ${limit} ms`),
          ),
        limit,
      );
      await joined.promise.finally(() => clearTimeout(timer));
      this.#refreshTimer = setInterval(() => this.#refresh(), options.topicRefreshMs);
    } catch (error) {
      await consumer.disconnect().catch(() => {});
      this.#consumer = undefined;
      if (error instanceof KafkaConnectionError) throw error;
      throw new KafkaConnectionError("could not start the Kafka consumer", error);
    }
  }

  /** Leaves the group and disconnects. Commit first: KafkaJS refuses commits afterwards. */
  async stop(): Promise<void> {
    clearInterval(this.#refreshTimer);
    this.#refreshTimer = undefined;
    const consumer = this.#consumer;
    this.#consumer = undefined;
    this.#endSession();
    if (consumer) await consumer.disconnect();
  }

  /** A KafkaJS consumer of the group, listened to; it becomes the running one. */
  #newConsumer(joined?: PromiseWithResolvers<void>): Consumer {
    const options = this.#options;
    const assigner = options.partitionAssigner === "sticky"
      ? stickyAssigner(() => this.#owned)
      : PartitionAssigners.roundRobin;
    const consumer = this.#kafka.consumer({
      groupId: options.groupId,
      ...options.consumer,
      partitionAssigners: [assigner],
      // A deleted topic must stay deleted: troupe follows what exists (see #refresh).
      allowAutoTopicCreation: false,
    });
    this.#consumer = consumer;
    this.#runEnded();
    this.#listen(consumer, joined);
    return consumer;
  }

  /** Subscribes to KafkaJS's group events; `joined` settles with the first join or a fatal crash. */
  #listen(consumer: Consumer, joined?: PromiseWithResolvers<void>): void {
    const { events } = consumer;
    const current = () => this.#consumer === consumer;
    consumer.on(events.GROUP_JOIN, ({ payload }) => {
      if (!current()) return;
      this.#joined(consumer, payload.memberId, payload.isLeader, payload.memberAssignment);
      joined?.resolve();
    });
    consumer.on(events.HEARTBEAT, ({ payload }) => {
      if (!current()) return;
      this.#lastHeartbeat = Date.now();
      const generation = (payload as { groupGenerationId?: number }).groupGenerationId;
      if (typeof generation === "number") this.#owned = { ...this.#owned, generation };
      if (this.#observer.watching) this.#observer.alive();
    });
    consumer.on(events.REBALANCING, () => {
      if (current()) this.#rebalanceSignalled();
    });
    consumer.on(events.CRASH, ({ payload }) => {
      if (!current()) return;
      this.#runEnded();
      // KafkaJS gives up for good on some errors that only mean "the broker is away" (e.g.
      // "Failed to find group coordinator" while it shuts down): troupe restarts those itself.
      // Only what no retry can fix (credentials, permissions, versions) ends the processor.
      const fatal = !payload.restart && classifyKafkaError(payload.error) === "fatal";
      if (!fatal) this.#sink.membershipLost();
      this.#observer.crashed(payload.error, !fatal);
      if (fatal) {
        joined?.reject(this.#failure(payload.error));
      } else if (!payload.restart) {
        this.#relaunching ??= this.#relaunch(consumer).finally(() => this.#relaunching = undefined);
      }
    });
  }

  #joined(consumer: Consumer, memberId: string, leader: boolean, assignment: Assignment): void {
    this.#memberId = memberId;
    this.#leader = leader;
    this.#owned = { generation: this.#owned.generation, assignment };
    this.#drained = false;
    this.#lastHeartbeat = Date.now();
    this.#endSession();
    const session = new MembershipSession(consumer, (t, p, o) => this.#seek(t, p, o));
    session.commitWith = this.#commitWith;
    this.#session = session;
    this.#sink.assigned(assignment, session);
    this.#reapplySeeks(assignment);
    this.#observer.joined(memberId, assignment);
  }

  /** Why the consumer failed for good, in words an operator can act on. */
  #failure(error: unknown): KafkaConnectionError {
    if ((error as { type?: unknown }).type === "INCONSISTENT_GROUP_PROTOCOL") {
      const mine = this.#options.partitionAssigner === "sticky" ? STICKY_ASSIGNER : "round robin";
      return new KafkaConnectionError(
        `the members of group "${this.#options.groupId}" use different partition assigners ` +
          `(this one: ${mine}); give every member the same partitionAssigner`,
        error,
      );
    }
    return new KafkaConnectionError("the Kafka consumer failed", error);
  }

  /** KafkaJS is about to re-join its group. */
  #rebalanceSignalled(): void {
    this.#lastHeartbeat = 0; // a re-join does not heartbeat; do not mistake it for an outage
    // When a batch held the re-join (see #eachBatch), the drain and commit already happened.
    if (this.#drained) this.#drained = false;
    else this.#sink.rebalanceStarted();
  }

  /**
   * When its own heartbeat finds that the coordinator forgot this member (a session that
   * expired while the process was frozen or cut off), KafkaJS re-joins without its REBALANCING
   * event; its log line is the only sign.
   */
  #kafkaJsSaid(namespace: string, message: string): void {
    if (
      namespace === "Runner" && message.startsWith("The coordinator is not aware of this member")
    ) {
      this.#rebalanceSignalled();
    }
  }

  /**
   * The KafkaJS run ended (a crash, a stop): its commit goes with it, since the next run has
   * another consumer group (and member) of its own.
   */
  #runEnded(): void {
    this.#commitWith = undefined;
    if (this.#session) this.#session.commitWith = undefined;
  }

  #endSession(): void {
    if (this.#session) this.#session.ended = true;
    this.#session = undefined;
  }

  /**
   * Runs the KafkaJS consumer again after it crashed without restarting itself, with backoff,
   * for as long as the processor runs.
   */
  async #relaunch(consumer: Consumer): Promise<void> {
    await sleep(RECONNECT_BACKOFF.initialMs);
    await retry(async () => {
      if (this.#consumer !== consumer) return;
      await consumer.connect();
      await this.#run(consumer);
    }, {
      backoff: RECONNECT_BACKOFF,
      retriable: () => this.#consumer === consumer,
      onRetry: (error, _attempt, delay) =>
        log.warn("restarting the Kafka consumer failed; trying again in {delay} ms: {error}", {
          delay,
          error: describeError(error),
        }),
    }).catch(() => {}); // stopped meanwhile
  }

  /** Subscribes to the topics that exist now and runs the KafkaJS consumer. */
  async #run(consumer: Consumer): Promise<void> {
    const topics = [...this.#subscription.keys()];
    await consumer.subscribe({ topics, fromBeginning: this.#options.fromBeginning });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: true,
      partitionsConsumedConcurrently: 1,
      eachBatch: (payload) => this.#eachBatch(payload),
    });
  }

  #refresh(): void {
    this.#refreshing ??= this.#followSubscription()
      .catch((error) =>
        log.warn("could not refresh the topic subscription: {error}", {
          error: describeError(error),
        })
      )
      .finally(() => this.#refreshing = undefined);
  }

  /**
   * Reads what the subscription covers now. Topics created or deleted: subscribe again (a
   * deleted topic's partitions are dropped first, committing nothing). Partitions added: the
   * leader re-joins, and its assignment spreads them.
   */
  async #followSubscription(): Promise<void> {
    const consumer = this.#consumer;
    if (!consumer) return;
    const now = await readSubscription(this.#kafka, this.#options.topics);
    const change = subscriptionChange(this.#subscription, now);
    if (isUnchanged(change) || this.#consumer !== consumer) return;
    this.#subscription = now;
    this.#observer.subscriptionChanged(change, now);
    for (const topic of change.deleted) this.#sink.topicDeleted(topic);
    if (change.added.length > 0 || change.deleted.length > 0) {
      log.info("subscription now covers {count} topic(s): {topics}", {
        count: now.size,
        topics: [...now.keys()],
      });
      await this.#resubscribe(consumer);
    } else if (this.#leader) {
      await this.#sink.drainForRebalance(this.#drainMs());
      if (this.#consumer !== consumer) return;
      this.#runEnded();
      await consumer.stop();
      await this.#restartUntilDeadline(() => this.#run(consumer));
    }
  }

  /**
   * Subscribes again, with a new KafkaJS consumer: the engine drains and commits, the old
   * consumer leaves the group, the new one joins with the new topics. Retained partitions keep
   * their actors, as after any rebalance.
   */
  async #resubscribe(consumer: Consumer): Promise<void> {
    await this.#sink.drainForRebalance(this.#drainMs());
    if (this.#consumer !== consumer) return;
    this.#endSession();
    const next = this.#newConsumer();
    await consumer.disconnect().catch(() => {});
    await this.#restartUntilDeadline(async () => {
      await next.connect();
      await this.#run(next);
    });
  }

  /**
   * The consumer must run again, or the processor would sit idle while looking healthy. Retry
   * until `connectTimeoutMs`, then fail for good.
   */
  async #restartUntilDeadline(run: () => Promise<void>): Promise<void> {
    const consumer = this.#consumer;
    await retry(run, {
      backoff: RECONNECT_BACKOFF,
      deadline: Date.now() + this.#options.connectTimeoutMs,
      retriable: () => this.#consumer === consumer,
      onRetry: (error, _attempt, delay) =>
        log.warn("could not subscribe again; retrying in {delay} ms: {error}", {
          delay,
          error: describeError(error),
        }),
    }).catch((error) => {
      if (this.#consumer === consumer) this.#observer.crashed(error, false);
    });
  }

  /** How long a rebalance may wait for the messages in hand. */
  #drainMs(): number {
    return Math.min(this.#options.consumer.rebalanceTimeout / 2, this.#options.shutdownTimeoutMs);
  }

  /**
   * Moves a partition's next fetch. Remembered until a batch of the partition shows it took
   * effect: KafkaJS refuses seeks while its group is down (a crash, a re-subscription) and
   * forgets them when it restarts.
   */
  #seek(topic: string, partition: number, offset: number): void {
    this.#seeks.set(`${topic}\u0000${partition}`, { topic, partition, offset });
    this.#applySeek(topic, partition, offset);
  }

  #reapplySeeks(assignment: Assignment): void {
    for (const [key, { topic, partition, offset }] of this.#seeks) {
      if (assignment[topic]?.includes(partition)) this.#applySeek(topic, partition, offset);
      else this.#seeks.delete(key);
    }
  }

  #applySeek(topic: string, partition: number, offset: number): void {
    try {
      this.#consumer?.seek({ topic, partition, offset: String(offset) });
    } catch {
      // No group right now: applied again after the next join.
    }
  }

  async #eachBatch(payload: EachBatchPayload): Promise<void> {
    this.#commitWith = payload.commitOffsetsIfNecessary;
    if (this.#session) this.#session.commitWith = payload.commitOffsetsIfNecessary;
    if (this.#observer.watching) this.#observer.alive();
    if (!payload.isStale()) {
      const { batch } = payload;
      if (this.#seeks.size > 0) this.#seeks.delete(`${batch.topic}\u0000${batch.partition}`);
      this.#sink.delivered(
        batch.topic,
        batch.partition,
        messagesOf(batch, this.#codecs, this.#options.consumer.readUncommitted),
        Number(batch.highWatermark),
      );
    }
    try {
      await payload.heartbeat();
    } catch (error) {
      // Only the first batch drains: KafkaJS goes on with the other batches of this fetch,
      // each of which heartbeats and fails again. KafkaJS re-joins only after this batch
      // returns: our one chance to finish the messages in hand and commit while the
      // partitions are still ours.
      if (classifyKafkaError(error) === "rebalance" && !this.#drained) {
        await this.#sink.drainForRebalance(this.#drainMs());
        this.#drained = true;
      }
      throw error;
    }
  }
}
