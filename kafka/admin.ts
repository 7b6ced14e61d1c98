/**
 * `createAdmin`: topics, partitions, offsets, consumer groups and lag.
 *
 * @module
 */

import type { Admin as KafkaJsAdmin } from "kafkajs";
import { type ConnectionOptions, createKafkaClient } from "./client.ts";
import { KafkaConnectionError } from "./errors.ts";

/** A topic and how many partitions it has. */
export interface TopicInfo {
  /** Topic name. */
  readonly topic: string;
  /** Number of partitions. */
  readonly partitions: number;
}

/** A partition's leader and replicas. */
export interface PartitionInfo {
  /** Partition number. */
  readonly partition: number;
  /** Broker id of the leader (-1 when none). */
  readonly leader: number;
  /** Broker ids of the replicas. */
  readonly replicas: readonly number[];
  /** Broker ids of the in-sync replicas. */
  readonly isr: readonly number[];
}

/** A partition's first and next offsets. */
export interface PartitionOffsets {
  /** Partition number. */
  readonly partition: number;
  /** First offset still stored (the beginning). */
  readonly beginning: number;
  /** Offset the next record will get (the end, or high watermark). */
  readonly end: number;
}

/** A consumer group's committed offset for a partition. */
export interface CommittedOffset {
  /** Topic name. */
  readonly topic: string;
  /** Partition number. */
  readonly partition: number;
  /** The committed offset (the next to read), or `null` when the group committed none. */
  readonly offset: number | null;
  /** The metadata stored with the commit, or `null`. */
  readonly metadata: string | null;
}

/** How far a consumer group is behind on a partition. */
export interface PartitionLag {
  /** Topic name. */
  readonly topic: string;
  /** Partition number. */
  readonly partition: number;
  /** The committed offset, or `null` when none. */
  readonly committed: number | null;
  /** The end offset. */
  readonly end: number;
  /** `end - committed` (from the beginning when nothing is committed). */
  readonly lag: number;
}

/** A member of a consumer group and the partitions it holds. */
export interface GroupMember {
  /** Member id. */
  readonly memberId: string;
  /** Client id. */
  readonly clientId: string;
  /** Client host. */
  readonly host: string;
  /** Assigned partitions, by topic. */
  readonly assignment: Readonly<Record<string, readonly number[]>>;
}

/** What to create. */
export interface NewTopic {
  /** Topic name. */
  topic: string;
  /** Number of partitions. Default: the broker's `num.partitions`. */
  partitions?: number;
  /** Replication factor. Default: the broker's `default.replication.factor`. */
  replicationFactor?: number;
  /** Topic configuration, e.g. `{"retention.ms": "60000"}`. */
  config?: Record<string, string>;
}

/**
 * Kafka administration: what kafka-python's consumer and admin client let a script ask.
 * Create it with {@linkcode createAdmin}; it connects on first use and `close()` ends it.
 */
export interface Admin extends AsyncDisposable {
  /** Every topic (internal ones excluded) with its partition count, sorted by name. */
  listTopics(): Promise<TopicInfo[]>;
  /** The partitions of a topic. */
  partitions(topic: string): Promise<PartitionInfo[]>;
  /** Beginning and end offsets of each partition of a topic. */
  offsets(topic: string): Promise<PartitionOffsets[]>;
  /**
   * For each partition of a topic, the first offset whose timestamp is at or after
   * `timestamp` (ms since the epoch); the end offset when there is none.
   */
  offsetsForTimestamp(
    topic: string,
    timestamp: number,
  ): Promise<{ partition: number; offset: number }[]>;
  /** A group's committed offsets, for the given topics or every topic it committed to. */
  committedOffsets(groupId: string, topics?: readonly string[]): Promise<CommittedOffset[]>;
  /** A group's lag per partition, for the given topics or every topic it committed to. */
  lag(groupId: string, topics?: readonly string[]): Promise<PartitionLag[]>;
  /** Consumer groups known to the cluster. */
  listGroups(): Promise<string[]>;
  /** A group's state and members with their assignments. */
  describeGroup(groupId: string): Promise<{ state: string; members: GroupMember[] }>;
  /** Creates topics; resolves false for those that already existed. */
  createTopics(topics: readonly NewTopic[]): Promise<boolean>;
  /** Deletes topics. */
  deleteTopics(topics: readonly string[]): Promise<void>;
  /** Disconnects. */
  close(): Promise<void>;
}

/**
 * Creates an admin client.
 *
 * @example Lag of a group
 * ```ts ignore
 * import { createAdmin } from "@troupe/troupe";
 *
 * await using admin = createAdmin({ brokers: ["127.0.0.1:9092"] });
 * for (const row of await admin.lag("billing")) {
 *   console.log(`${row.topic}[${row.partition}] lag ${row.lag}`);
 * }
 * ```
 */
export function createAdmin(options: ConnectionOptions): Admin {
  const kafka = createKafkaClient(options);
  const client: KafkaJsAdmin = kafka.admin();
  let connected: Promise<void> | undefined;
  const ready = async (): Promise<KafkaJsAdmin> => {
    connected ??= client.connect().catch((error) => {
      connected = undefined;
      throw new KafkaConnectionError("the admin client could not connect", error);
    });
    await connected;
    return client;
  };

  const offsets = async (topic: string): Promise<PartitionOffsets[]> => {
    const rows = await (await ready()).fetchTopicOffsets(topic);
    return rows.map((row) => ({
      partition: row.partition,
      beginning: Number(row.low),
      end: Number(row.high),
    }))
      .sort((a, b) => a.partition - b.partition);
  };

  const committedOffsets = async (groupId: string, topics?: readonly string[]) => {
    const entries = await (await ready()).fetchOffsets({
      groupId,
      topics: topics ? [...topics] : undefined,
    });
    const rows: CommittedOffset[] = [];
    for (const { topic, partitions } of entries) {
      for (const { partition, offset, metadata } of partitions) {
        const value = Number(offset);
        rows.push({
          topic,
          partition,
          offset: value >= 0 ? value : null,
          metadata: metadata ?? null,
        });
      }
    }
    return rows.sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
  };

  const admin: Admin = {
    async listTopics() {
      const { topics } = await (await ready()).fetchTopicMetadata();
      return topics.filter((topic) => !topic.name.startsWith("__"))
        .map((topic) => ({ topic: topic.name, partitions: topic.partitions.length }))
        .sort((a, b) => a.topic.localeCompare(b.topic));
    },
    async partitions(topic) {
      const { topics } = await (await ready()).fetchTopicMetadata({ topics: [topic] });
      return (topics[0]?.partitions ?? []).map((p) => ({
        partition: p.partitionId,
        leader: p.leader,
        replicas: p.replicas,
        isr: p.isr,
      })).sort((a, b) => a.partition - b.partition);
    },
    offsets,
    async offsetsForTimestamp(topic, timestamp) {
      const rows = await (await ready()).fetchTopicOffsetsByTimestamp(topic, timestamp);
      return rows.map((row) => ({ partition: row.partition, offset: Number(row.offset) }))
        .sort((a, b) => a.partition - b.partition);
    },
    committedOffsets,
    async lag(groupId, topics) {
      const committed = await committedOffsets(groupId, topics);
      const ends = new Map<string, Map<number, PartitionOffsets>>();
      for (const topic of new Set(committed.map((row) => row.topic))) {
        ends.set(topic, new Map((await offsets(topic)).map((row) => [row.partition, row])));
      }
      return committed.map((row) => {
        const range = ends.get(row.topic)?.get(row.partition);
        const end = range?.end ?? 0;
        const from = row.offset ?? range?.beginning ?? 0;
        return {
          topic: row.topic,
          partition: row.partition,
          committed: row.offset,
          end,
          lag: Math.max(0, end - from),
        };
      });
    },
    async listGroups() {
      const { groups } = await (await ready()).listGroups();
      return groups.map((group) => group.groupId).sort();
    },
    async describeGroup(groupId) {
      const { groups } = await (await ready()).describeGroups([groupId]);
      const group = groups[0];
      const members = (group?.members ?? []).map((member) => ({
        memberId: member.memberId,
        clientId: member.clientId,
        host: member.clientHost,
        assignment: decodeAssignment(member.memberAssignment),
      }));
      return { state: group?.state ?? "Dead", members };
    },
    async createTopics(topics) {
      return await (await ready()).createTopics({
        waitForLeaders: true,
        topics: topics.map((topic) => ({
          topic: topic.topic,
          numPartitions: topic.partitions,
          replicationFactor: topic.replicationFactor,
          configEntries: Object.entries(topic.config ?? {}).map(([name, value]) => ({
            name,
            value,
          })),
        })),
      });
    },
    async deleteTopics(topics) {
      await (await ready()).deleteTopics({ topics: [...topics] });
    },
    async close() {
      if (connected) {
        connected = undefined;
        await client.disconnect();
      }
    },
    [Symbol.asyncDispose]() {
      return admin.close();
    },
  };
  return admin;
}

/** Decodes a consumer protocol assignment (version, [topic, [partition]], user data). */
function decodeAssignment(bytes: Uint8Array | null | undefined): Record<string, number[]> {
  const assignment: Record<string, number[]> = {};
  if (!bytes || bytes.length < 6) return assignment;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 2; // version
  const topics = view.getInt32(at);
  at += 4;
  const text = new TextDecoder();
  for (let t = 0; t < topics && at < bytes.length; t++) {
    const length = view.getInt16(at);
    at += 2;
    const topic = text.decode(bytes.subarray(at, at + length));
    at += length;
    const count = view.getInt32(at);
    at += 4;
    const partitions: number[] = [];
    for (let p = 0; p < count; p++, at += 4) partitions.push(view.getInt32(at));
    assignment[topic] = partitions.sort((a, b) => a - b);
  }
  return assignment;
}
