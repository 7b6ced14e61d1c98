/**
 * A KafkaJS producer over the in-memory cluster: `send` and `sendBatch` with the producer's
 * partitioner, answering with KafkaJS's record metadata.
 *
 * @module
 */

import {
  type Message,
  Partitioners,
  type PartitionMetadata,
  type ProducerBatch,
  type ProducerConfig,
  type ProducerRecord,
  type RecordMetadata,
} from "kafkajs";
import { protocolError, unsupported } from "./errors.ts";
import { KafkaJSError, KafkaJSNonRetriableError } from "./kafkajs_errors.ts";
import { Emitter } from "./events.ts";
import { type RecordInput, recordSize, type StoredHeaders, type TopicLog } from "./log.ts";

/** What a producer needs from its cluster. */
export interface ProducerCluster {
  /** Throws the error every request gets once the cluster stopped. */
  checkOpen(): void;
  /** A topic, created if the cluster creates topics on first use; else throws. */
  ensureTopic(name: string): TopicLog;
  /** Kafka's `max.message.bytes` for a topic. */
  maxMessageBytes(topic: TopicLog): number;
  /** The time a record without a timestamp gets, ms since the epoch. */
  now(): number;
}

/** The producer event names, as KafkaJS's `producer.events` has them. */
const PRODUCER_EVENTS = {
  CONNECT: "producer.connect",
  DISCONNECT: "producer.disconnect",
  REQUEST: "producer.network.request",
  REQUEST_TIMEOUT: "producer.network.request_timeout",
  REQUEST_QUEUE_SIZE: "producer.network.request_queue_size",
} as const;

const encoder = new TextEncoder();

/**
 * Bytes of a key, value or header as a KafkaJS message gives them (a string is UTF-8), copied
 * so the caller may reuse its buffer.
 *
 * @example
 * ```ts
 * import { toBytes } from "./producer.ts";
 * console.log(toBytes("hi")); // Uint8Array(2) [104, 105]
 * ```
 */
export function toBytes(value: Uint8Array | string): Uint8Array {
  return typeof value === "string" ? encoder.encode(value) : new Uint8Array(value);
}

/**
 * Headers as KafkaJS messages carry them, as stored bytes.
 *
 * @example
 * ```ts
 * import { toStoredHeaders } from "./producer.ts";
 * console.log(toStoredHeaders({ trace: "abc" }));
 * ```
 */
export function toStoredHeaders(
  headers: Readonly<Record<string, HeaderValue | readonly HeaderValue[] | undefined>> | undefined,
): StoredHeaders {
  const stored: Record<string, Uint8Array | Uint8Array[]> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (value === undefined) continue;
    stored[name] = isList(value) ? value.map(toBytes) : toBytes(value);
  }
  return stored;
}

/** A header value: a string is UTF-8. */
type HeaderValue = string | Uint8Array;

function isList(value: HeaderValue | readonly HeaderValue[]): value is readonly HeaderValue[] {
  return Array.isArray(value);
}

/** The partition metadata a partitioner sees: one broker, leader of every partition. */
function partitionMetadata(topic: TopicLog): PartitionMetadata[] {
  return topic.partitions.map((log) => ({
    partitionErrorCode: 0,
    partitionId: log.partition,
    leader: 0,
    replicas: [0],
    isr: [0],
  }));
}

/**
 * A KafkaJS producer over the in-memory cluster. Every record of a partition in one request
 * is appended together (or none is, when one exceeds `max.message.bytes`: the request then
 * fails with `MESSAGE_TOO_LARGE`, the other partitions' records being written, as a broker
 * answers per partition). Writes are immediate and never duplicated, so `idempotent` and
 * `acks` change nothing but what KafkaJS validates. No transactions.
 *
 * @example
 * ```ts ignore
 * const producer = kafka.producer();
 * await producer.connect();
 * const [meta] = await producer.send({ topic: "orders", messages: [{ key: "a", value: "1" }] });
 * console.log(meta.partition, meta.baseOffset);
 * ```
 */
export class MemoryProducer {
  /** The event names, for `on`. */
  readonly events: typeof PRODUCER_EVENTS = PRODUCER_EVENTS;
  #cluster: ProducerCluster;
  #idempotent: boolean;
  #partitioner: ReturnType<NonNullable<ProducerConfig["createPartitioner"]>>;
  #connected = false;
  #emitter = new Emitter(Object.values(PRODUCER_EVENTS));

  /**
   * Creates a producer; it sends once connected.
   *
   * @param cluster The cluster.
   * @param config KafkaJS's producer settings (`createPartitioner` and `idempotent` count).
   */
  constructor(cluster: ProducerCluster, config: ProducerConfig = {}) {
    this.#cluster = cluster;
    this.#idempotent = config.idempotent ?? false;
    this.#partitioner = (config.createPartitioner ?? Partitioners.DefaultPartitioner)();
  }

  /** Reaches the cluster. */
  connect(): Promise<void> {
    try {
      this.#cluster.checkOpen();
    } catch (error) {
      return Promise.reject(error);
    }
    this.#connected = true;
    this.#emitter.emit(PRODUCER_EVENTS.CONNECT, undefined);
    return Promise.resolve();
  }

  /** Disconnects; later sends fail. */
  disconnect(): Promise<void> {
    this.#connected = false;
    this.#emitter.emit(PRODUCER_EVENTS.DISCONNECT, undefined);
    return Promise.resolve();
  }

  /** True for an idempotent producer. */
  isIdempotent(): boolean {
    return this.#idempotent;
  }

  /** Sends messages to one topic. */
  send(record: ProducerRecord): Promise<RecordMetadata[]> {
    return this.sendBatch({
      acks: record.acks,
      timeout: record.timeout,
      compression: record.compression,
      topicMessages: [{ topic: record.topic, messages: record.messages }],
    });
  }

  /**
   * Sends messages to several topics; resolves with one entry per partition written (its
   * `baseOffset` is the offset of its first record), or nothing with `acks: 0`.
   */
  async sendBatch(batch: ProducerBatch): Promise<RecordMetadata[]> {
    const { acks = -1, topicMessages = [] } = batch;
    if (topicMessages.some(({ topic }) => !topic)) {
      throw new KafkaJSNonRetriableError("Invalid topic");
    }
    if (this.#idempotent && acks !== -1) {
      throw new KafkaJSNonRetriableError(
        "Not requiring ack for all messages invalidates the idempotent producer's EoS guarantees",
      );
    }
    for (const { topic, messages } of topicMessages) {
      if (!Array.isArray(messages)) {
        throw new KafkaJSNonRetriableError(
          `Invalid messages array [${messages}] for topic "${topic}"`,
        );
      }
      const withoutValue = messages.find((message) => message.value === undefined);
      if (withoutValue) {
        throw new KafkaJSNonRetriableError(
          `Invalid message without value for topic "${topic}": ${JSON.stringify(withoutValue)}`,
        );
      }
    }
    if (!this.#connected) throw new KafkaJSError("The producer is disconnected");
    await Promise.resolve();
    this.#cluster.checkOpen();

    const merged = new Map<string, Message[]>();
    for (const { topic, messages } of topicMessages) {
      merged.set(topic, [...(merged.get(topic) ?? []), ...messages]);
    }
    const results: RecordMetadata[] = [];
    let failure: Error | undefined;
    for (const [name, messages] of merged) {
      const topic = this.#cluster.ensureTopic(name);
      const metadata = partitionMetadata(topic);
      const byPartition = new Map<number, RecordInput[]>();
      for (const message of messages) {
        const partition = this.#partitioner({ topic: name, partitionMetadata: metadata, message });
        if (!Number.isInteger(partition) || !topic.partitions[partition]) {
          throw protocolError("UNKNOWN_TOPIC_OR_PARTITION", `${name}[${partition}]`);
        }
        let records = byPartition.get(partition);
        if (!records) byPartition.set(partition, records = []);
        records.push(this.#toRecord(message));
      }
      const limit = this.#cluster.maxMessageBytes(topic);
      for (const partition of [...byPartition.keys()].sort((a, b) => a - b)) {
        const records = byPartition.get(partition)!;
        if (records.some((record) => recordSize(record) > limit)) {
          failure ??= protocolError("MESSAGE_TOO_LARGE", `${name}[${partition}]`);
          continue;
        }
        const log = topic.partitions[partition];
        const baseOffset = log.append(records);
        results.push({
          topicName: name,
          partition,
          errorCode: 0,
          baseOffset: String(baseOffset),
          logAppendTime: "-1",
          logStartOffset: String(log.logStartOffset),
        });
      }
    }
    if (failure) throw failure;
    return acks === 0 ? [] : results;
  }

  /** Not emulated. */
  transaction(): Promise<never> {
    return Promise.reject(unsupported("producer.transaction"));
  }

  /** Subscribes to an instrumentation event; returns the function that unsubscribes. */
  on(eventName: string, listener: (event: never) => unknown): () => void {
    return this.#emitter.on(eventName, listener as (event: unknown) => unknown);
  }

  /** Not emulated. */
  logger(): never {
    throw unsupported("producer.logger");
  }

  #toRecord(message: Message): RecordInput {
    const timestamp = message.timestamp === undefined || message.timestamp === null
      ? this.#cluster.now()
      : Number(message.timestamp);
    return {
      key: message.key === undefined || message.key === null ? null : toBytes(message.key),
      value: message.value === null ? null : toBytes(message.value),
      headers: toStoredHeaders(message.headers),
      timestamp,
    };
  }
}
