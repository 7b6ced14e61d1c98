/**
 * `startMemoryKafka`: an in-memory Kafka cluster, so that handlers and their supervision can
 * be tested (and the demo run) without a broker.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { Partitioners } from "kafkajs";
import { MEMORY_SCHEME, registerMemoryCluster } from "../kafka/client.ts";
import { MemoryCluster } from "./memory/cluster.ts";
import type { MemoryKafkaFaults } from "./memory/faults.ts";
import type { GroupState } from "./memory/group.ts";
import type { StoredRecord } from "./memory/log.ts";
import { toBytes, toStoredHeaders } from "./memory/producer.ts";

/** Options of {@linkcode startMemoryKafka}. Every field is optional. */
export interface MemoryKafkaOptions {
  /** Its name: brokers are `["memory://<name>"]`. Default: `kafka-<n>`, unique in the process. */
  name?: string;
  /**
   * Partitions of a topic created without a count: by `createTopic(name)`, by a producer or
   * a subscription naming a topic that does not exist, or by an admin's `createTopics` without
   * `partitions` (Kafka's `num.partitions`). Default: 1.
   */
  defaultPartitions?: number;
  /**
   * Create a topic when a producer or a subscription first names it (Kafka's
   * `auto.create.topics.enable`); otherwise they fail with `UNKNOWN_TOPIC_OR_PARTITION`.
   * Default: true.
   */
  autoCreateTopics?: boolean;
  /** Largest record accepted, bytes (Kafka's `max.message.bytes`). Default: 1 048 588. */
  maxMessageBytes?: number;
  /** The clock records without a timestamp are stamped with. Default: `Date.now`. */
  now?: () => number;
}

/** A record to append with {@linkcode MemoryKafka.produce}. */
export interface MemoryRecordInput {
  /** Key (a string is UTF-8). Default: none. */
  key?: string | Uint8Array | null;
  /** Value (a string is UTF-8); `null` is a tombstone. */
  value: string | Uint8Array | null;
  /**
   * Partition. Default: by the key's hash as troupe's (and KafkaJS's) default partitioner
   * does it, so a key lands where `createProducer` would put it; without a key, round robin
   * starting at partition 0.
   */
  partition?: number;
  /** Headers. */
  headers?: Record<string, string | Uint8Array | (string | Uint8Array)[]>;
  /** Timestamp, ms since the epoch. Default: the cluster's clock. */
  timestamp?: number;
}

/** A record in a partition's log. */
export interface MemoryRecord {
  /** Its topic. */
  readonly topic: string;
  /** Its partition. */
  readonly partition: number;
  /** Its offset. */
  readonly offset: number;
  /** Its timestamp, ms since the epoch. */
  readonly timestamp: number;
  /** Key bytes, or `null`. */
  readonly key: Uint8Array | null;
  /** Value bytes, or `null` for a tombstone. */
  readonly value: Uint8Array | null;
  /** Headers, as bytes (an array for a repeated name). */
  readonly headers: Readonly<Record<string, Uint8Array | readonly Uint8Array[]>>;
}

/** A member of a consumer group, as {@linkcode MemoryKafka.group} shows it. */
export interface MemoryGroupMember {
  /** Its member id. */
  readonly memberId: string;
  /** Its client id. */
  readonly clientId: string;
  /** Its partitions in the current generation, by topic. */
  readonly assignment: Readonly<Record<string, readonly number[]>>;
}

/** A consumer group's state, as {@linkcode MemoryKafka.group} shows it. */
export interface MemoryGroup {
  /** The group's id. */
  readonly groupId: string;
  /** Kafka's group state: `Empty`, `PreparingRebalance`, `CompletingRebalance` or `Stable`. */
  readonly state: GroupState;
  /** The current generation (0 before the first rebalance). */
  readonly generationId: number;
  /** Its members, in the order they joined. */
  readonly members: readonly MemoryGroupMember[];
}

/**
 * A running in-memory cluster. Pass `brokers` wherever troupe takes brokers
 * (`createProcessor`, `createProducer`, `createAdmin`); inspect and prepare it directly with
 * the other members; break it with `faults`. Stop it with `stop()` (or `await using`).
 */
export interface MemoryKafka extends AsyncDisposable {
  /** `["memory://<name>"]`. */
  readonly brokers: string[];
  /** Its name. */
  readonly name: string;
  /** Faults to inject. */
  readonly faults: MemoryKafkaFaults;
  /** Creates a topic (with `defaultPartitions` partitions by default); false if it existed. */
  createTopic(topic: string, partitions?: number): boolean;
  /**
   * Appends records at once, creating the topic if the cluster creates topics on first use;
   * returns them as stored, with their partitions and offsets.
   */
  produce(topic: string, records: MemoryRecordInput | readonly MemoryRecordInput[]): MemoryRecord[];
  /** The records of one partition, or of every partition (partition by partition), oldest first. */
  records(topic: string, partition?: number): MemoryRecord[];
  /** Each partition's end offset (the offset its next record will get), by partition. */
  endOffsets(topic: string): number[];
  /** A group's committed offset of each partition of `topic` (`null` where none), by partition. */
  committed(groupId: string, topic: string): (number | null)[];
  /** A consumer group's state, generation and members. */
  group(groupId: string): MemoryGroup;
  /**
   * Stops the cluster: from now on every request fails, and running consumers crash without
   * restarting (a troupe processor still running fails). Stop processors first.
   */
  stop(): Promise<void>;
}

let clusters = 0;
const names = new Set<string>();

/**
 * Starts an in-memory Kafka cluster: partitioned append-only logs with consumer-group
 * semantics, reachable by troupe through its `memory://<name>` broker address. The same
 * processor, producer and admin code runs on it as on a real broker: it answers the KafkaJS
 * calls troupe makes as KafkaJS would (events, errors with their `type`, generations and
 * rebalances), synchronously in process memory, with no network and no timing noise beyond
 * the processor's own timers.
 *
 * It proves your handler logic and how troupe supervises it (crashes, restarts, rebalances,
 * failed commits), deterministically and in milliseconds. It does not prove Kafka behaviour:
 * no replication, no retention or compaction, no transactions, no session timeouts, no
 * network failures. Test that against a real broker with `startLocalKafka()`.
 *
 * @example A handler tested without Kafka
 * ```ts ignore
 * import { createProcessor } from "@troupe/troupe";
 * import { startMemoryKafka } from "@troupe/troupe/testing";
 *
 * await using kafka = startMemoryKafka();
 * kafka.createTopic("orders", 2);
 * kafka.produce("orders", [{ key: "a", value: "1" }, { key: "b", value: "2" }]);
 * const seen: string[] = [];
 * const processor = createProcessor({
 *   brokers: kafka.brokers,
 *   groupId: "billing",
 *   topics: "orders",
 *   fromBeginning: true,
 *   valueCodec: "string",
 *   handler: (message) => void seen.push(message.value!),
 * });
 * await processor.start();
 * // ... wait until seen.length === 2
 * await processor.stop();
 * console.log(kafka.committed("billing", "orders"), kafka.endOffsets("orders")); // equal
 * ```
 *
 * @throws {TypeError} when `name` is already in use or an option is invalid.
 */
export function startMemoryKafka(options: MemoryKafkaOptions = {}): MemoryKafka {
  const defaultPartitions = options.defaultPartitions ?? 1;
  if (!Number.isInteger(defaultPartitions) || defaultPartitions < 1) {
    throw new TypeError(`defaultPartitions must be an integer >= 1, got ${defaultPartitions}`);
  }
  const maxMessageBytes = options.maxMessageBytes ?? 1_048_588;
  if (!Number.isInteger(maxMessageBytes) || maxMessageBytes < 1) {
    throw new TypeError(`maxMessageBytes must be an integer >= 1, got ${maxMessageBytes}`);
  }
  let name = options.name;
  if (name === undefined) {
    do name = `kafka-${++clusters}`; while (names.has(name));
  } else if (!name || /[\s,]/.test(name)) {
    throw new TypeError(
      `name must be non-empty, without spaces or commas: ${JSON.stringify(name)}`,
    );
  } else if (names.has(name)) {
    throw new TypeError(`an in-memory Kafka called "${name}" is already running`);
  }
  names.add(name);

  const cluster = new MemoryCluster({
    name,
    defaultPartitions,
    autoCreateTopics: options.autoCreateTopics ?? true,
    maxMessageBytes,
    now: options.now ?? Date.now,
  });
  const unregister = registerMemoryCluster(name, (connection) => cluster.client(connection));
  const keyed = Partitioners.DefaultPartitioner();
  const roundRobin = new Map<string, number>();

  const requireTopic = (topic: string) => {
    const log = cluster.topic(topic);
    if (!log) throw new TypeError(`the in-memory cluster has no topic "${topic}"`);
    return log;
  };

  const produce = (topic: string, input: MemoryRecordInput | readonly MemoryRecordInput[]) => {
    cluster.checkOpen();
    const log = cluster.ensureTopic(topic);
    const list: readonly MemoryRecordInput[] = Array.isArray(input)
      ? input
      : [input as MemoryRecordInput];
    const count = log.partitions.length;
    const placed = list.map((record) => {
      let partition = record.partition;
      if (partition === undefined && record.key !== undefined && record.key !== null) {
        // KafkaJS hashes Buffers (a Uint8Array would be hashed as its string form).
        const key = Buffer.from(toBytes(record.key));
        partition = keyed({
          topic,
          partitionMetadata: log.partitions.map((p) => ({
            partitionErrorCode: 0,
            partitionId: p.partition,
            leader: 0,
            replicas: [0],
            isr: [0],
          })),
          message: { key, value: null },
        });
      } else if (partition === undefined) {
        const next = roundRobin.get(topic) ?? 0;
        roundRobin.set(topic, next + 1);
        partition = next % count;
      }
      if (!Number.isInteger(partition) || partition < 0 || partition >= count) {
        throw new TypeError(`${topic} has no partition ${partition}`);
      }
      return { partition, record };
    });
    return placed.map(({ partition, record }) => {
      const partitionLog = log.partitions[partition];
      const offset = partitionLog.append([{
        key: record.key === undefined || record.key === null ? null : toBytes(record.key),
        value: record.value === null ? null : toBytes(record.value),
        headers: toStoredHeaders(record.headers),
        timestamp: record.timestamp ?? cluster.now(),
      }]);
      return view(topic, partitionLog.records()[offset], partition);
    });
  };

  const stop = () => {
    cluster.stop();
    unregister();
    names.delete(name);
    return Promise.resolve();
  };

  return {
    brokers: [`${MEMORY_SCHEME}${name}`],
    name,
    faults: cluster.faults,
    createTopic(topic, partitions) {
      return cluster.createTopic(topic, partitions);
    },
    produce,
    records(topic, partition) {
      const log = requireTopic(topic);
      const partitions = partition === undefined
        ? log.partitions
        : [log.partitions[partition] ?? notFound(topic, partition)];
      return partitions.flatMap((p) =>
        p.records().map((record) => view(topic, record, p.partition))
      );
    },
    endOffsets(topic) {
      return requireTopic(topic).partitions.map((p) => p.highWatermark);
    },
    committed(groupId, topic) {
      const group = cluster.findGroup(groupId);
      return requireTopic(topic).partitions.map((p) =>
        group?.committed(topic, p.partition)?.offset ?? null
      );
    },
    group(groupId) {
      const group = cluster.findGroup(groupId);
      return {
        groupId,
        state: group?.state ?? "Empty",
        generationId: group?.generationId ?? 0,
        members: (group?.members() ?? []).map(({ memberId, clientId, assignment }) => ({
          memberId,
          clientId,
          assignment,
        })),
      };
    },
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

function view(topic: string, record: StoredRecord, partition: number): MemoryRecord {
  return {
    topic,
    partition,
    offset: record.offset,
    timestamp: record.timestamp,
    key: record.key,
    value: record.value,
    headers: record.headers,
  };
}

function notFound(topic: string, partition: number): never {
  throw new TypeError(`${topic} has no partition ${partition}`);
}
