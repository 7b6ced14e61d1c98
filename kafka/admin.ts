/**
 * `createAdmin`: topics, partitions, offsets, consumer groups and lag.
 *
 * @module
 */

import type { Admin as KafkaJsAdmin, ITopicConfig } from "kafkajs";
import type {
  Admin,
  CommittedOffset,
  GroupMember,
  NewTopic,
  PartitionInfo,
  PartitionLag,
  PartitionOffsets,
  TopicInfo,
} from "./admin_types.ts";
import { resolveBackoff, retry } from "../actors/backoff.ts";
import { type ConnectionOptions, createKafkaClient } from "./client.ts";
import { KafkaConnectionError } from "./errors.ts";
import { TopicError } from "./topic_error.ts";

/** How long a new topic may take to have a leader for every partition, ms. */
const LEADER_WAIT_MS = 30_000;
const LEADER_WAIT_BACKOFF = resolveBackoff({ initialMs: 50, maxMs: 500, jitter: 0 });

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
  return new KafkaAdmin(createKafkaClient(options).admin());
}

/** The broker's error code for a topic it does not have. */
const UNKNOWN_TOPIC = "UNKNOWN_TOPIC_OR_PARTITION";

/** {@linkcode Admin} over a KafkaJS admin client that connects on first use. */
class KafkaAdmin implements Admin {
  readonly #client: KafkaJsAdmin;
  #connected: Promise<void> | undefined;

  constructor(client: KafkaJsAdmin) {
    this.#client = client;
  }

  async listTopics(): Promise<TopicInfo[]> {
    const { topics } = await (await this.#ready()).fetchTopicMetadata();
    return topics.filter((topic) => !topic.name.startsWith("__"))
      .map((topic) => ({ topic: topic.name, partitions: topic.partitions.length }))
      .sort((a, b) => a.topic.localeCompare(b.topic));
  }

  async partitions(topic: string): Promise<PartitionInfo[]> {
    const client = await this.#ready();
    let topics;
    try {
      ({ topics } = await client.fetchTopicMetadata({ topics: [topic] }));
    } catch (error) {
      if (kafkaCodeOf(error) === UNKNOWN_TOPIC) throw unknownTopic(topic, error);
      throw error;
    }
    return (topics[0]?.partitions ?? []).map((p) => ({
      partition: p.partitionId,
      leader: p.leader,
      replicas: p.replicas,
      isr: p.isr,
    })).sort((a, b) => a.partition - b.partition);
  }

  async offsets(topic: string): Promise<PartitionOffsets[]> {
    const rows = await (await this.#ready()).fetchTopicOffsets(topic);
    return rows.map((row) => ({
      partition: row.partition,
      beginning: Number(row.low),
      end: Number(row.high),
    })).sort((a, b) => a.partition - b.partition);
  }

  async offsetsForTimestamp(
    topic: string,
    timestamp: number,
  ): Promise<{ partition: number; offset: number }[]> {
    const rows = await (await this.#ready()).fetchTopicOffsetsByTimestamp(topic, timestamp);
    return rows.map((row) => ({ partition: row.partition, offset: Number(row.offset) }))
      .sort((a, b) => a.partition - b.partition);
  }

  async committedOffsets(groupId: string, topics?: readonly string[]): Promise<CommittedOffset[]> {
    const entries = await (await this.#ready()).fetchOffsets({
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
  }

  async lag(groupId: string, topics?: readonly string[]): Promise<PartitionLag[]> {
    const committed = await this.committedOffsets(groupId, topics);
    const ends = new Map<string, Map<number, PartitionOffsets>>();
    for (const topic of new Set(committed.map((row) => row.topic))) {
      ends.set(topic, new Map((await this.offsets(topic)).map((row) => [row.partition, row])));
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
  }

  async listGroups(): Promise<string[]> {
    const { groups } = await (await this.#ready()).listGroups();
    return groups.map((group) => group.groupId).sort();
  }

  async describeGroup(groupId: string): Promise<{ state: string; members: GroupMember[] }> {
    const [group] = await this.describeGroups([groupId]);
    return { state: group.state, members: group.members };
  }

  async describeGroups(groupIds?: readonly string[]): Promise<
    { groupId: string; protocolType: string; state: string; members: GroupMember[] }[]
  > {
    const client = await this.#ready();
    const protocolTypes = new Map<string, string>();
    if (groupIds === undefined) {
      for (const group of (await client.listGroups()).groups) {
        protocolTypes.set(group.groupId, group.protocolType);
      }
    }
    const ids = [...new Set(groupIds ?? protocolTypes.keys())].sort();
    if (ids.length === 0) return [];
    const { groups } = await client.describeGroups(ids);
    const byId = new Map(groups.map((group) => [group.groupId, group]));
    return ids.map((groupId) => {
      const group = byId.get(groupId);
      return {
        groupId,
        protocolType: group?.protocolType || protocolTypes.get(groupId) || "",
        state: group?.state ?? "Dead",
        members: (group?.members ?? []).map((member) => ({
          memberId: member.memberId,
          clientId: member.clientId,
          host: member.clientHost,
          assignment: decodeAssignment(member.memberAssignment),
        })),
      };
    });
  }

  async describeTopic(topic: string): Promise<(PartitionInfo & PartitionOffsets)[]> {
    const partitions = await this.partitions(topic);
    const offsets = new Map((await this.offsets(topic)).map((row) => [row.partition, row]));
    return partitions.map((info) => ({
      ...info,
      beginning: offsets.get(info.partition)?.beginning ?? 0,
      end: offsets.get(info.partition)?.end ?? 0,
    }));
  }

  async createTopics(topics: readonly NewTopic[]): Promise<boolean> {
    const client = await this.#ready();
    let created: boolean;
    try {
      created = await client.createTopics({ waitForLeaders: false, topics: topics.map(toKafkaJs) });
    } catch (error) {
      throw await this.#explainRefusal(error, topics);
    }
    await this.#waitForLeaders(topics.map((topic) => topic.topic));
    return created;
  }

  /**
   * Waits until every partition of `names` has a leader. KafkaJS's own wait gives up when the
   * broker it asks does not know the new topic yet (UNKNOWN_TOPIC_OR_PARTITION), which on a
   * cluster, or a loaded broker, is only a matter of time: the metadata reaches every broker
   * shortly after the controller created the topic.
   */
  async #waitForLeaders(names: readonly string[]): Promise<void> {
    const client = await this.#ready();
    await retry(async () => {
      const { topics } = await client.fetchTopicMetadata({ topics: [...names] });
      const leaderless = topics.filter((topic) =>
        topic.partitions.length === 0 || topic.partitions.some((p) => p.leader < 0)
      );
      if (leaderless.length > 0 || topics.length < names.length) {
        throw new Error(`topics without leaders yet: ${names.join(", ")}`);
      }
    }, { backoff: LEADER_WAIT_BACKOFF, deadline: Date.now() + LEADER_WAIT_MS });
  }

  async deleteTopics(topics: readonly string[]): Promise<void> {
    // KafkaJS retries a deletion of a missing topic for seconds before it gives up; asking
    // for the topics' metadata first answers at once, naming the missing one.
    await Promise.all(topics.map((topic) => this.partitions(topic)));
    await (await this.#ready()).deleteTopics({ topics: [...topics] });
  }

  async close(): Promise<void> {
    if (this.#connected) {
      this.#connected = undefined;
      await this.#client.disconnect();
    }
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #ready(): Promise<KafkaJsAdmin> {
    this.#connected ??= this.#client.connect().catch((error) => {
      this.#connected = undefined;
      throw new KafkaConnectionError("the admin client could not connect", error);
    });
    await this.#connected;
    return this.#client;
  }

  /**
   * A {@linkcode TopicError} for the first topic the broker refused to create, saying what
   * it refused; `error` itself when it is no such refusal (e.g. a connection failure).
   */
  async #explainRefusal(error: unknown, topics: readonly NewTopic[]): Promise<unknown> {
    const refusals = (error as { errors?: unknown[] }).errors;
    const refusal = Array.isArray(refusals)
      ? refusals.find((cause) => kafkaCodeOf(cause) !== "TOPIC_ALREADY_EXISTS")
      : undefined;
    const name = (refusal as { topic?: unknown } | undefined)?.topic;
    const topic = topics.find((candidate) => candidate.topic === name);
    if (!refusal || !topic) return error;
    const code = kafkaCodeOf(refusal) ?? "UNKNOWN";
    let detail: string;
    switch (code) {
      case "INVALID_TOPIC_EXCEPTION":
        detail = `"${topic.topic}" is not a valid topic name (up to 249 ASCII letters, digits, ` +
          `".", "_" and "-")`;
        break;
      case "INVALID_PARTITIONS":
        detail = `${topic.partitions} is not a valid partition count`;
        break;
      case "INVALID_REPLICATION_FACTOR":
        detail = `replication factor ${topic.replicationFactor ?? "(the default)"} is invalid` +
          await this.#brokerCount().then(
            (count) => `: the cluster has ${count} broker(s)`,
            () => "",
          );
        break;
      case "INVALID_CONFIG":
        detail = `the broker refused the configuration ${await this.#refusedConfig(topic)}`;
        break;
      default:
        detail = (refusal as Error).message;
    }
    return new TopicError(
      "invalid-request",
      topic.topic,
      code,
      `cannot create topic ${topic.topic}: ${detail} (${code})`,
      error,
    );
  }

  /** The entries of a topic's configuration the broker refuses one by one (all if none is). */
  async #refusedConfig(topic: NewTopic): Promise<string> {
    const entries = Object.entries(topic.config ?? {});
    const refused: string[] = [];
    for (const [name, value] of entries) {
      const probe = { ...topic, config: { [name]: value } };
      await this.#client.createTopics({
        validateOnly: true,
        waitForLeaders: false,
        topics: [toKafkaJs(probe)],
      }).catch(() => refused.push(`${name}=${value}`));
    }
    const shown = refused.length > 0 ? refused : entries.map(([name, value]) => `${name}=${value}`);
    return shown.join(", ");
  }

  async #brokerCount(): Promise<number> {
    return (await this.#client.describeCluster()).brokers.length;
  }
}

/** KafkaJS's form of a topic to create. */
function toKafkaJs(topic: NewTopic): ITopicConfig {
  return {
    topic: topic.topic,
    numPartitions: topic.partitions,
    replicationFactor: topic.replicationFactor,
    configEntries: Object.entries(topic.config ?? {}).map(([name, value]) => ({ name, value })),
  };
}

/** The broker's error code of a KafkaJS error (`type`), or of its cause. */
function kafkaCodeOf(error: unknown): string | undefined {
  for (let cause = error, depth = 0; cause && depth < 5; depth++) {
    const type = (cause as { type?: unknown }).type;
    if (typeof type === "string") return type;
    cause = (cause as { cause?: unknown }).cause;
  }
  return undefined;
}

function unknownTopic(topic: string, cause: unknown): TopicError {
  return new TopicError(
    "unknown-topic",
    topic,
    UNKNOWN_TOPIC,
    `topic ${topic} does not exist`,
    cause,
  );
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
