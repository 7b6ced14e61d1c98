/**
 * The in-memory cluster: its topics, groups, faults and running consumers, and the KafkaJS
 * clients `memory://` broker addresses resolve to.
 *
 * @module
 */

import type { ConsumerConfig, Kafka, ProducerConfig } from "kafkajs";
import type { ConnectionOptions } from "../../kafka/client.ts";
import { MemoryAdmin } from "./admin.ts";
import { MemoryConsumer } from "./consumer.ts";
import { protocolError, unsupported } from "./errors.ts";
import { KafkaJSNonRetriableError } from "./kafkajs_errors.ts";
import { type CrashTarget, Faults } from "./faults.ts";
import { GroupCoordinator } from "./group.ts";
import { TopicLog } from "./log.ts";
import { MemoryProducer } from "./producer.ts";

/** How a cluster behaves where Kafka's broker settings would decide. */
export interface ClusterSettings {
  /** The cluster's name (`memory://<name>`). */
  readonly name: string;
  /** Partitions of a topic created without a count (Kafka's `num.partitions`). */
  readonly defaultPartitions: number;
  /** Create topics on first produce or subscribe (Kafka's `auto.create.topics.enable`). */
  readonly autoCreateTopics: boolean;
  /** Largest record accepted, bytes (Kafka's `max.message.bytes`), unless a topic says otherwise. */
  readonly maxMessageBytes: number;
  /** The clock record timestamps come from. */
  readonly now: () => number;
}

/** Kafka's rule for topic names. */
const LEGAL_TOPIC = /^[a-zA-Z0-9._-]{1,249}$/;

/**
 * One in-memory Kafka cluster. Every client made by {@linkcode MemoryCluster.client} works on
 * the same topics and groups, so a producer's records reach a processor's consumer as through
 * a broker, synchronously and in order.
 *
 * @example
 * ```ts ignore
 * const cluster = new MemoryCluster({ name: "t", defaultPartitions: 1, autoCreateTopics: true,
 *   maxMessageBytes: 1_048_588, now: Date.now });
 * const kafka = cluster.client({ brokers: ["memory://t"] });
 * ```
 */
export class MemoryCluster {
  /** The cluster's name. */
  readonly name: string;
  /** Its injected faults. */
  readonly faults: Faults;
  #settings: ClusterSettings;
  #topics = new Map<string, TopicLog>();
  #groups = new Map<string, GroupCoordinator>();
  #consumers = new Set<CrashTarget>();
  #members = 0;
  #stopped: Error | undefined;

  /**
   * Creates an empty cluster.
   *
   * @param settings How it behaves.
   */
  constructor(settings: ClusterSettings) {
    this.name = settings.name;
    this.#settings = settings;
    this.faults = new Faults({
      rebalance: (groupId) => this.rebalance(groupId),
      consumers: () => this.#consumers,
    });
  }

  /** A KafkaJS client of this cluster (what `createKafkaClient` returns for `memory://`). */
  client(options: ConnectionOptions): Kafka {
    const settings = {
      clientId: options.clientId ?? "troupe",
      initialRetryTime: options.clientRetry?.initialRetryTime,
    };
    const client = {
      producer: (config?: ProducerConfig) => new MemoryProducer(this, config),
      consumer: (config: ConsumerConfig) => new MemoryConsumer(this, settings, config),
      admin: () => new MemoryAdmin(this),
      logger: () => {
        throw unsupported("kafka.logger");
      },
    };
    // Only the calls troupe makes are emulated; the rest of KafkaJS's surface is absent.
    return client as unknown as Kafka;
  }

  /** Throws the error every request gets once the cluster stopped. */
  checkOpen(): void {
    if (this.#stopped) throw this.#stopped;
  }

  /** True once stopped. */
  get stopped(): boolean {
    return this.#stopped !== undefined;
  }

  /** A topic, if it exists. */
  topic(name: string): TopicLog | undefined {
    return this.#topics.get(name);
  }

  /** Every topic's name, sorted. */
  topicNames(): string[] {
    return [...this.#topics.keys()].sort();
  }

  /**
   * Creates a topic; false when it exists.
   *
   * @throws {KafkaJSProtocolError} `INVALID_TOPIC_EXCEPTION` or `INVALID_PARTITIONS`.
   */
  createTopic(
    name: string,
    partitions: number = this.#settings.defaultPartitions,
    config: Record<string, string> = {},
  ): boolean {
    this.checkOpen();
    if (typeof name !== "string" || !LEGAL_TOPIC.test(name) || name === "." || name === "..") {
      throw protocolError("INVALID_TOPIC_EXCEPTION", JSON.stringify(name));
    }
    if (!Number.isInteger(partitions) || partitions < 1) {
      throw protocolError("INVALID_PARTITIONS", `${name}: ${partitions}`);
    }
    if (this.#topics.has(name)) return false;
    this.#topics.set(name, new TopicLog(name, partitions, { ...config }));
    return true;
  }

  /**
   * A topic, created with the default partition count if the cluster creates topics on first
   * use.
   *
   * @throws {KafkaJSProtocolError} `UNKNOWN_TOPIC_OR_PARTITION` when it does not exist and is
   * not created.
   */
  ensureTopic(name: string): TopicLog {
    const existing = this.#topics.get(name);
    if (existing) return existing;
    if (!this.#settings.autoCreateTopics) throw protocolError("UNKNOWN_TOPIC_OR_PARTITION", name);
    this.createTopic(name);
    return this.#topics.get(name)!;
  }

  /** Deletes a topic and the offsets groups committed for it. */
  deleteTopic(name: string): void {
    this.#topics.delete(name);
    for (const group of this.#groups.values()) group.forgetTopic(name);
  }

  /** Kafka's `max.message.bytes` for a topic. */
  maxMessageBytes(topic: TopicLog): number {
    const configured = Number(topic.config["max.message.bytes"]);
    return Number.isFinite(configured) && configured > 0
      ? configured
      : this.#settings.maxMessageBytes;
  }

  /** The time a record without a timestamp gets. */
  now(): number {
    return this.#settings.now();
  }

  /** A group's coordinator, created on first use. */
  group(groupId: string): GroupCoordinator {
    let group = this.#groups.get(groupId);
    if (!group) {
      group = new GroupCoordinator(groupId, {
        partitionsOf: (topic) => this.#topics.get(topic)?.partitions.length ?? 0,
        newMemberId: (clientId) => `${clientId}-${String(++this.#members).padStart(6, "0")}`,
      });
      if (this.#stopped) group.close(this.#stopped);
      this.#groups.set(groupId, group);
    }
    return group;
  }

  /** A group's coordinator, if the group exists. */
  findGroup(groupId: string): GroupCoordinator | undefined {
    return this.#groups.get(groupId);
  }

  /** The ids of the groups with members or committed offsets, sorted. */
  groupIds(): string[] {
    return [...this.#groups.values()].filter((group) => !group.isEmpty)
      .map((group) => group.groupId).sort();
  }

  /** Forgets a group. */
  deleteGroup(groupId: string): void {
    this.#groups.delete(groupId);
  }

  /** Lists a running consumer as a crash target; returns the function that unlists it. */
  track(target: CrashTarget): () => void {
    this.#consumers.add(target);
    return () => void this.#consumers.delete(target);
  }

  /**
   * Forces a group to rebalance; resolves with the new generation once every member has its
   * assignment.
   */
  rebalance(groupId: string): Promise<number> {
    const group = this.#groups.get(groupId);
    if (!group) {
      return Promise.reject(new TypeError(`the in-memory cluster has no group "${groupId}"`));
    }
    return group.rebalance();
  }

  /**
   * Stops the cluster for good: every request fails from now on, running consumers crash
   * without restarting (`CRASH` with `restart: false`), and pending joins and forced
   * rebalances are rejected.
   */
  stop(): void {
    if (this.#stopped) return;
    const error = new KafkaJSNonRetriableError(
      `Connection error: the in-memory Kafka cluster memory://${this.name} was stopped`,
    );
    this.#stopped = error;
    for (const group of this.#groups.values()) group.close(error);
    for (const consumer of [...this.#consumers]) consumer.crash(error);
  }
}
