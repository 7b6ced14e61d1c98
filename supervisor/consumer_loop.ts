/**
 * The consumer loop: the KafkaJS consumer that feeds the engine, the fetcher side of the seam.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import type { Batch, Consumer, EachBatchPayload, Kafka } from "kafkajs";
import { retry, sleep } from "../actors/backoff.ts";
import { dropAbortedRecords } from "../kafka/aborted_transactions.ts";
import { RECONNECT_BACKOFF, waitForBrokers } from "../kafka/broker_probe.ts";
import { createKafkaClient } from "../kafka/client.ts";
import { classifyKafkaError, describeError, KafkaConnectionError } from "../kafka/errors.ts";
import { type MessageCodecs, ReceivedMessage } from "../kafka/message.ts";
import { matchingTopics } from "../kafka/subscription.ts";
import type { ResolvedProcessorOptions } from "./resolve_options.ts";
import {
  type Assignment,
  type CommitOffset,
  type FetcherObserver,
  type FetchSession,
  type FetchSink,
  NotReadyToCommit,
} from "./seam.ts";

const log = getLogger(["troupe", "consumer"]);

type CommitFunction = EachBatchPayload["commitOffsetsIfNecessary"];

/**
 * One group membership, from a join to the next: pauses and seeks go to the consumer, and
 * commits through the `commitOffsetsIfNecessary` of the membership's latest batch, without
 * KafkaJS's retry loop: a retry could run after the group moved on, under the new generation,
 * and commit a partition this member no longer owns (kafkajs#1046).
 */
class MembershipSession implements FetchSession {
  #consumer: Consumer;
  #seek: (topic: string, partition: number, offset: number) => void;
  /** The latest batch's commit, until the membership ends or the consumer crashes. */
  commitWith: CommitFunction | undefined;
  ended = false;

  constructor(
    consumer: Consumer,
    seek: (topic: string, partition: number, offset: number) => void,
  ) {
    this.#consumer = consumer;
    this.#seek = seek;
  }

  pause(topic: string, partition: number): void {
    try {
      this.#consumer.pause([{ topic, partitions: [partition] }]);
    } catch {
      // Between a crash and the re-join there is no group to pause in; the engine re-applies
      // its pauses on the next assignment.
    }
  }

  resume(topic: string, partition: number): void {
    try {
      this.#consumer.resume([{ topic, partitions: [partition] }]);
    } catch {
      // See pause().
    }
  }

  seek(topic: string, partition: number, offset: number): void {
    this.#seek(topic, partition, offset);
  }

  async commit(offsets: readonly CommitOffset[]): Promise<void> {
    const commit = this.commitWith;
    if (this.ended || !commit) throw new NotReadyToCommit();
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
    await commit({ topics: [...byTopic].map(([topic, partitions]) => ({ topic, partitions })) });
  }
}

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
  /** Set when a batch already drained for the rebalance KafkaJS's event then announces. */
  #drained = false;
  #memberId: string | null = null;
  /** Seeks not yet seen to take effect, by partition. */
  #seeks = new Map<string, { topic: string; partition: number; offset: number }>();
  #lastHeartbeat = 0;
  #subscribed: string[] = [];
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
    await waitForBrokers(options.connection, options.connectTimeoutMs);
    const settings = options.consumer;
    const consumer = this.#kafka.consumer({ groupId: options.groupId, ...settings });
    this.#consumer = consumer;
    const joined = Promise.withResolvers<void>();
    this.#listen(consumer, joined);
    try {
      await consumer.connect();
      this.#subscribed = await matchingTopics(this.#kafka, this.#options.topics);
      await this.#run(consumer, this.#subscribed);
      const limit = options.connectTimeoutMs + settings.rebalanceTimeout;
      const timer = setTimeout(
        () =>
          joined.reject(
            new KafkaConnectionError(`did not join group "${options.groupId}" within ${limit} ms`),
          ),
        limit,
      );
      await joined.promise.finally(() => clearTimeout(timer));
      if (options.topics.some((topic) => topic instanceof RegExp)) {
        this.#refreshTimer = setInterval(() => this.#refreshTopics(), options.topicRefreshMs);
      }
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

  /** Subscribes to KafkaJS's group events; `joined` settles with the first join or a fatal crash. */
  #listen(consumer: Consumer, joined: PromiseWithResolvers<void>): void {
    const { events } = consumer;
    consumer.on(events.GROUP_JOIN, ({ payload }) => {
      this.#memberId = payload.memberId;
      this.#drained = false;
      this.#lastHeartbeat = Date.now();
      this.#endSession();
      const session = new MembershipSession(consumer, (t, p, o) => this.#seek(t, p, o));
      this.#session = session;
      this.#sink.assigned(payload.memberAssignment, session);
      this.#reapplySeeks(payload.memberAssignment);
      this.#observer.joined(payload.memberId, payload.memberAssignment);
      joined.resolve();
    });
    consumer.on(events.HEARTBEAT, () => {
      this.#lastHeartbeat = Date.now();
      if (this.#observer.watching) this.#observer.alive();
    });
    consumer.on(events.REBALANCING, () => this.#rebalanceSignalled());
    consumer.on(events.CRASH, ({ payload }) => {
      if (this.#session) this.#session.commitWith = undefined;
      // KafkaJS gives up for good on some errors that only mean "the broker is away" (e.g.
      // "Failed to find group coordinator" while it shuts down): troupe restarts those itself.
      // Only what no retry can fix (credentials, permissions, versions) ends the processor.
      const fatal = !payload.restart && classifyKafkaError(payload.error) === "fatal";
      if (!fatal) this.#sink.membershipLost();
      this.#observer.crashed(payload.error, !fatal);
      if (fatal) {
        joined.reject(new KafkaConnectionError("the Kafka consumer failed", payload.error));
      } else if (!payload.restart) {
        this.#relaunching ??= this.#relaunch(consumer).finally(() => this.#relaunching = undefined);
      }
    });
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
      await this.#run(consumer, this.#subscribed);
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

  #refreshTopics(): void {
    this.#refreshing ??= this.#resubscribeIfChanged()
      .catch((error) =>
        log.warn("could not refresh the topic subscription: {error}", {
          error: describeError(error),
        })
      )
      .finally(() => this.#refreshing = undefined);
  }

  /**
   * Re-subscribes when the set of matching topics changed: the engine drains and commits, the
   * member leaves and re-joins with the new topics. Retained partitions keep their actors, as
   * after any rebalance.
   */
  async #resubscribeIfChanged(): Promise<void> {
    const consumer = this.#consumer;
    if (!consumer) return;
    const topics = await matchingTopics(this.#kafka, this.#options.topics);
    const unchanged = topics.join("\u0000") === this.#subscribed.join("\u0000");
    if (unchanged || this.#consumer !== consumer) return;
    log.info("subscription now matches {count} topic(s): {topics}", {
      count: topics.length,
      topics,
    });
    await this.#sink.drainForRebalance(this.#drainMs());
    if (this.#consumer !== consumer) return;
    if (this.#session) this.#session.commitWith = undefined;
    await consumer.stop();
    // Stopped now: the consumer must run again, or the processor would sit idle while looking
    // healthy. Retry until `connectTimeoutMs`, then fail for good.
    await retry(() => this.#run(consumer, topics), {
      backoff: RECONNECT_BACKOFF,
      deadline: Date.now() + this.#options.connectTimeoutMs,
      retriable: () => this.#consumer === consumer,
      onRetry: (error, _attempt, delay) =>
        log.warn("could not subscribe to {topics}; retrying in {delay} ms: {error}", {
          topics,
          delay,
          error: describeError(error),
        }),
    }).then(() => this.#subscribed = topics, (error) => {
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
    if (this.#session) this.#session.commitWith = payload.commitOffsetsIfNecessary;
    if (this.#observer.watching) this.#observer.alive();
    if (!payload.isStale()) {
      const { batch } = payload;
      if (this.#seeks.size > 0) this.#seeks.delete(`${batch.topic}\u0000${batch.partition}`);
      this.#sink.delivered(
        batch.topic,
        batch.partition,
        this.#messagesOf(batch),
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

  /**
   * A batch's records as troupe's messages. Reading committed records, troupe also drops what
   * KafkaJS let through of aborted transactions, from the records as the broker sent them.
   */
  #messagesOf(batch: Batch): ReceivedMessage<K, V>[] {
    let records = batch.messages;
    if (!this.#options.consumer.readUncommitted) {
      const unfiltered = (batch as { messagesWithinOffset?: Batch["messages"] })
        .messagesWithinOffset;
      if (unfiltered !== undefined && unfiltered.length !== records.length) {
        records = dropAbortedRecords(records, unfiltered) as Batch["messages"];
      }
    }
    const { topic, partition } = batch;
    const codecs = this.#codecs;
    const messages = new Array<ReceivedMessage<K, V>>(records.length);
    for (let i = 0; i < records.length; i++) {
      const record = records[i];
      messages[i] = new ReceivedMessage(topic, partition, Number(record.offset), record, codecs);
    }
    return messages;
  }
}
