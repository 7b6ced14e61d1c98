/**
 * A KafkaJS admin client over the in-memory cluster: the calls troupe's `createAdmin` makes,
 * and a few more a test may want.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import {
  AssignerProtocol,
  type GroupDescription,
  type GroupDescriptions,
  type ITopicConfig,
  type ITopicMetadata,
  type SeekEntry,
} from "kafkajs";
import { protocolError, unsupported } from "./errors.ts";
import { KafkaJSNonRetriableError } from "./kafkajs_errors.ts";
import { Emitter } from "./events.ts";
import type { GroupCoordinator, OffsetCommitTopic } from "./group.ts";
import type { TopicLog } from "./log.ts";

/** What an admin client needs from its cluster. */
export interface AdminCluster {
  /** Throws the error every request gets once the cluster stopped. */
  checkOpen(): void;
  /** The cluster's name, reported as its cluster id. */
  readonly name: string;
  /** A topic, if it exists. */
  topic(name: string): TopicLog | undefined;
  /** Every topic's name, sorted. */
  topicNames(): string[];
  /** Creates a topic; false when it exists. */
  createTopic(name: string, partitions?: number, config?: Record<string, string>): boolean;
  /** Deletes a topic (and the offsets groups committed for it). */
  deleteTopic(name: string): void;
  /** A group's coordinator, if the group exists. */
  findGroup(groupId: string): GroupCoordinator | undefined;
  /** Every group's id. */
  groupIds(): string[];
  /** A group's coordinator, created on first use. */
  group(groupId: string): GroupCoordinator;
  /** Forgets a group. */
  deleteGroup(groupId: string): void;
}

/** The admin event names, as KafkaJS's `admin.events` has them. */
const ADMIN_EVENTS = {
  CONNECT: "admin.connect",
  DISCONNECT: "admin.disconnect",
  REQUEST: "admin.network.request",
  REQUEST_TIMEOUT: "admin.network.request_timeout",
  REQUEST_QUEUE_SIZE: "admin.network.request_queue_size",
} as const;

/** The one (pretend) broker: id, and the host and port metadata report. */
const BROKER = { nodeId: 0, host: "memory", port: 0 } as const;

/**
 * A KafkaJS `GroupDescription` of a group, with its members' assignments encoded in the
 * consumer protocol (as a broker returns them).
 *
 * @example
 * ```ts ignore
 * const { state, members } = groupDescription("billing", cluster.findGroup("billing"));
 * ```
 */
export function groupDescription(
  groupId: string,
  group: GroupCoordinator | undefined,
): GroupDescription {
  if (!group || group.isEmpty) {
    return { groupId, members: [], protocol: "", protocolType: "", state: "Dead" };
  }
  const members = group.members().map((member) => ({
    memberId: member.memberId,
    clientId: member.clientId,
    clientHost: "/memory",
    memberMetadata: AssignerProtocol.MemberMetadata.encode({
      version: 0,
      topics: [...member.topics],
      userData: Buffer.alloc(0),
    }),
    memberAssignment: AssignerProtocol.MemberAssignment.encode({
      version: 0,
      assignment: member.assignment,
      userData: Buffer.alloc(0),
    }),
  }));
  return {
    groupId,
    members,
    protocol: members.length > 0 ? "RoundRobinAssigner" : "",
    protocolType: "consumer",
    state: group.state,
  };
}

/**
 * A KafkaJS admin client over the in-memory cluster. Calls it does not emulate throw a
 * `KafkaJSNonRetriableError` saying so.
 *
 * @example
 * ```ts ignore
 * const admin = kafka.admin();
 * await admin.connect();
 * await admin.createTopics({ topics: [{ topic: "orders", numPartitions: 3 }] });
 * console.log(await admin.fetchTopicOffsets("orders"));
 * ```
 */
export class MemoryAdmin {
  /** The event names, for `on`. */
  readonly events: typeof ADMIN_EVENTS = ADMIN_EVENTS;
  #cluster: AdminCluster;
  #emitter = new Emitter(Object.values(ADMIN_EVENTS));

  /**
   * Creates an admin client of `cluster`.
   *
   * @param cluster The cluster.
   */
  constructor(cluster: AdminCluster) {
    this.#cluster = cluster;
  }

  /** Reaches the cluster. */
  connect(): Promise<void> {
    return this.#call(() => this.#emitter.emit(ADMIN_EVENTS.CONNECT, undefined));
  }

  /** Disconnects. */
  disconnect(): Promise<void> {
    this.#emitter.emit(ADMIN_EVENTS.DISCONNECT, undefined);
    return Promise.resolve();
  }

  /** The topics' names. */
  listTopics(): Promise<string[]> {
    return this.#call(() => this.#cluster.topicNames());
  }

  /** Creates topics; resolves false when some already existed. */
  createTopics(
    options: { topics: ITopicConfig[]; validateOnly?: boolean; waitForLeaders?: boolean },
  ): Promise<boolean> {
    return this.#call(() => {
      if (!Array.isArray(options?.topics)) {
        throw new KafkaJSNonRetriableError(`Invalid topics array ${options?.topics}`);
      }
      let created = true;
      for (const { topic, numPartitions, configEntries } of options.topics) {
        if (options.validateOnly) continue;
        const config = Object.fromEntries(
          (configEntries ?? []).map(({ name, value }) => [name, value]),
        );
        const partitions = numPartitions === undefined || numPartitions === -1
          ? undefined
          : numPartitions;
        if (!this.#cluster.createTopic(topic, partitions, config)) created = false;
      }
      return created;
    });
  }

  /** Deletes topics. */
  deleteTopics(options: { topics: string[]; timeout?: number }): Promise<void> {
    return this.#call(() => {
      for (const topic of options.topics) {
        if (!this.#cluster.topic(topic)) throw protocolError("UNKNOWN_TOPIC_OR_PARTITION", topic);
      }
      for (const topic of options.topics) this.#cluster.deleteTopic(topic);
    });
  }

  /** Partitions of topics (of every topic without `topics`). */
  fetchTopicMetadata(options?: { topics: string[] }): Promise<{ topics: ITopicMetadata[] }> {
    return this.#call(() => ({
      topics: (options?.topics ?? this.#cluster.topicNames()).map((name) => {
        const topic = this.#requireTopic(name);
        return {
          name,
          partitions: topic.partitions.map((log) => ({
            partitionErrorCode: 0,
            partitionId: log.partition,
            leader: BROKER.nodeId,
            replicas: [BROKER.nodeId],
            isr: [BROKER.nodeId],
            offlineReplicas: [],
          })),
        };
      }),
    }));
  }

  /** Each partition's first (`low`) and next (`high`, `offset`) offsets. */
  fetchTopicOffsets(topic: string): Promise<Array<SeekEntry & { high: string; low: string }>> {
    return this.#call(() =>
      this.#requireTopic(topic).partitions.map((log) => ({
        partition: log.partition,
        offset: String(log.highWatermark),
        high: String(log.highWatermark),
        low: String(log.logStartOffset),
      }))
    );
  }

  /** Each partition's first offset at or after `timestamp` (the end without one). */
  fetchTopicOffsetsByTimestamp(topic: string, timestamp?: number): Promise<Array<SeekEntry>> {
    return this.#call(() =>
      this.#requireTopic(topic).partitions.map((log) => ({
        partition: log.partition,
        offset: String(
          timestamp === undefined ? log.highWatermark : log.offsetForTimestamp(timestamp),
        ),
      }))
    );
  }

  /**
   * A group's committed offsets (`"-1"` where it committed none) for `topics`, or for every
   * topic it committed to.
   */
  fetchOffsets(options: { groupId: string; topics?: string[]; resolveOffsets?: boolean }): Promise<
    Array<{
      topic: string;
      partitions: Array<SeekEntry & { metadata: string | null }>;
    }>
  > {
    return this.#call(() => {
      if (!options?.groupId) {
        throw new KafkaJSNonRetriableError(`Invalid groupId ${options?.groupId}`);
      }
      const group = this.#cluster.findGroup(options.groupId);
      const topics = options.topics ?? group?.committedTopics() ?? [];
      return topics.map((topic) => ({
        topic,
        partitions: this.#requireTopic(topic).partitions.map((log) => {
          const committed = group?.committed(topic, log.partition);
          const offset = committed?.offset ??
            (options.resolveOffsets ? log.highWatermark : -1);
          return {
            partition: log.partition,
            offset: String(offset),
            metadata: committed?.metadata ?? null,
          };
        }),
      }));
    });
  }

  /** Sets a group's committed offsets; the group must have no members. */
  setOffsets(
    options: { groupId: string; topic: string; partitions: SeekEntry[] },
  ): Promise<void> {
    return this.#call(() => {
      const group = this.#cluster.group(options.groupId);
      if (group.state !== "Empty") {
        throw new KafkaJSNonRetriableError(
          `The consumer group must have no running instances, current state: ${group.state}`,
        );
      }
      const topics: OffsetCommitTopic[] = [{
        topic: options.topic,
        partitions: options.partitions.map(({ partition, offset }) => ({ partition, offset })),
      }];
      group.commit("", -1, topics);
    });
  }

  /** Sets a group's committed offsets to the beginning (`earliest`) or the end of a topic. */
  async resetOffsets(
    options: { groupId: string; topic: string; earliest?: boolean },
  ): Promise<void> {
    const partitions = (await this.fetchTopicOffsets(options.topic)).map((row) => ({
      partition: row.partition,
      offset: options.earliest ? row.low : row.high,
    }));
    await this.setOffsets({ groupId: options.groupId, topic: options.topic, partitions });
  }

  /** The groups the cluster knows (with members or committed offsets). */
  listGroups(): Promise<{ groups: { groupId: string; protocolType: string }[] }> {
    return this.#call(() => ({
      groups: this.#cluster.groupIds().map((groupId) => ({ groupId, protocolType: "consumer" })),
    }));
  }

  /** Groups' states and members. */
  describeGroups(groupIds: string[]): Promise<GroupDescriptions> {
    return this.#call(() => ({
      groups: groupIds.map((groupId) =>
        groupDescription(groupId, this.#cluster.findGroup(groupId))
      ),
    }));
  }

  /** Deletes groups without members. */
  deleteGroups(groupIds: string[]): Promise<{ groupId: string; errorCode: number }[]> {
    return this.#call(() =>
      groupIds.map((groupId) => {
        const group = this.#cluster.findGroup(groupId);
        if (!group || group.isEmpty) throw protocolError("GROUP_ID_NOT_FOUND", groupId);
        if (group.state !== "Empty") throw protocolError("NON_EMPTY_GROUP", groupId);
        this.#cluster.deleteGroup(groupId);
        return { groupId, errorCode: 0 };
      })
    );
  }

  /** The one broker, as controller. */
  describeCluster(): Promise<{
    brokers: { nodeId: number; host: string; port: number }[];
    controller: number | null;
    clusterId: string;
  }> {
    return this.#call(() => ({
      brokers: [{ ...BROKER }],
      controller: BROKER.nodeId,
      clusterId: this.#cluster.name,
    }));
  }

  /** Subscribes to an instrumentation event; returns the function that unsubscribes. */
  on(eventName: string, listener: (event: never) => unknown): () => void {
    return this.#emitter.on(eventName, listener as (event: unknown) => unknown);
  }

  /** Not emulated. */
  createPartitions(): Promise<never> {
    return Promise.reject(unsupported("admin.createPartitions"));
  }

  /** Not emulated. */
  describeConfigs(): Promise<never> {
    return Promise.reject(unsupported("admin.describeConfigs"));
  }

  /** Not emulated. */
  alterConfigs(): Promise<never> {
    return Promise.reject(unsupported("admin.alterConfigs"));
  }

  /** Not emulated. */
  deleteTopicRecords(): Promise<never> {
    return Promise.reject(unsupported("admin.deleteTopicRecords"));
  }

  /** Not emulated. */
  logger(): never {
    throw unsupported("admin.logger");
  }

  #requireTopic(name: string): TopicLog {
    const topic = this.#cluster.topic(name);
    if (!topic) throw protocolError("UNKNOWN_TOPIC_OR_PARTITION", name);
    return topic;
  }

  /** Runs a request: asynchronously, and failing once the cluster stopped. */
  async #call<T>(request: () => T): Promise<T> {
    await Promise.resolve();
    this.#cluster.checkOpen();
    return request();
  }
}
