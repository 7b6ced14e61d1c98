/**
 * Exactly-once consume-transform-produce for one input partition: its outputs and its input
 * offset go to Kafka in one transaction.
 *
 * @module
 */

import type { Span, Tracer } from "@opentelemetry/api";
import type {
  Kafka,
  Message as KafkaJsMessage,
  Producer as KafkaJsProducer,
  Transaction,
} from "kafkajs";
import { type ConnectionOptions, createKafkaClient } from "./client.ts";
import type { Codec } from "./codec.ts";
import { endPublishSpan, startPublishSpan } from "./publish_span.ts";
import { encodeRecord, type ProducerRecord } from "./record_encoding.ts";
import { failSpan, tracerOrNull } from "./tracing.ts";

/** What a partition's transactions need. */
export interface PartitionTransactionsOptions {
  /** How to reach Kafka. */
  readonly connection: ConnectionOptions;
  /**
   * The transactional id, for this input partition alone: the next owner of the partition
   * uses the same one, and so fences this one.
   */
  readonly transactionalId: string;
  /** The consumer group whose offset the transactions commit. */
  readonly groupId: string;
  /** The input topic. */
  readonly topic: string;
  /** The input partition. */
  readonly partition: number;
  /** Encodes output keys. */
  readonly keyCodec: Codec<unknown>;
  /** Encodes output values. */
  readonly valueCodec: Codec<unknown>;
}

/**
 * One open transaction at a time for one input partition, the pattern KafkaJS supports (no
 * KIP-447): the producer's transactional id is derived from the input topic-partition, so the
 * next owner of the partition fences this one and aborts whatever it left open, even after a
 * `kill -9`.
 *
 * `run` serialises the partition's work with its commits, so a commit never lands in the
 * middle of a message's outputs.
 *
 * @example
 * ```ts ignore
 * const transactions = new PartitionTransactions({
 *   connection: { brokers: ["127.0.0.1:9092"] },
 *   transactionalId: "billing-orders-0",
 *   groupId: "billing",
 *   topic: "orders",
 *   partition: 0,
 *   keyCodec: string(),
 *   valueCodec: json(),
 * });
 * await transactions.run(() => transactions.send([{ topic: "invoices", value: { total: 3 } }]));
 * await transactions.run(() => transactions.commit(nextOffset));
 * ```
 */
export class PartitionTransactions {
  #options: PartitionTransactionsOptions;
  #kafka: Kafka;
  #producer: KafkaJsProducer;
  #connected: Promise<void> | undefined;
  #transaction: Transaction | undefined;
  #lock: Promise<unknown> = Promise.resolve();
  /** troupe's tracer, or `null` when no tracer provider is registered. */
  #tracer: Tracer | null = tracerOrNull();
  /** Messages processed in the open transaction. */
  messages = 0;

  /**
   * Creates the transactions of one partition; connects on first use.
   *
   * @param options Its producer, group, topic and partition.
   */
  constructor(options: PartitionTransactionsOptions) {
    this.#options = options;
    this.#kafka = createKafkaClient(options.connection);
    this.#producer = this.#newProducer();
  }

  /** A KafkaJS transactional producer (made again after a failure left its state stuck). */
  #newProducer(): KafkaJsProducer {
    return this.#kafka.producer({
      transactionalId: this.#options.transactionalId,
      idempotent: true,
      maxInFlightRequests: 1,
    });
  }

  /** True while a transaction is open. */
  get open(): boolean {
    return this.#transaction !== undefined;
  }

  /** Runs `work` when no other work or commit of this partition runs. */
  run<T>(work: () => Promise<T>): Promise<T> {
    const next = this.#lock.then(work);
    this.#lock = next.catch(() => {});
    return next;
  }

  /**
   * Connects the producer. Connecting initialises its transactional id with the
   * coordinator, which fences any older instance (another process, or ours before a
   * failure) and completes or aborts the transaction it left open.
   */
  async prepare(): Promise<void> {
    const producer = this.#producer;
    this.#connected ??= producer.connect().catch((error) => {
      if (this.#producer === producer) this.#connected = undefined;
      throw error;
    });
    await this.#connected;
  }

  async #begin(): Promise<Transaction> {
    if (this.#transaction) return this.#transaction;
    await this.prepare();
    this.#transaction = await this.#producer.transaction();
    return this.#transaction;
  }

  /**
   * Replaces the producer after a failure that may have left KafkaJS's transaction state
   * stuck (a commit or abort that did not finish): the new one, once connected, fences the
   * old and settles its open transaction.
   */
  async reset(): Promise<void> {
    const old = this.#producer;
    const connected = this.#connected;
    this.#transaction = undefined;
    this.messages = 0;
    this.#producer = this.#newProducer();
    this.#connected = undefined;
    if (connected) await old.disconnect().catch(() => {});
    await this.prepare();
  }

  /**
   * Sends output records in the open transaction (opening one if needed).
   *
   * @throws {TypeError} when a record has no topic or no value.
   */
  async send(records: readonly ProducerRecord<unknown, unknown>[]): Promise<void> {
    if (records.length === 0) return;
    const { keyCodec, valueCodec } = this.#options;
    const tracer = this.#tracer;
    const spans: Span[] | undefined = tracer === null ? undefined : [];
    try {
      const byTopic = new Map<string, KafkaJsMessage[]>();
      for (const record of records) {
        const message = encodeRecord(record, keyCodec, valueCodec);
        if (spans) spans.push(startPublishSpan(tracer!, record.topic, message, this.#clientId));
        let messages = byTopic.get(record.topic);
        if (!messages) byTopic.set(record.topic, messages = []);
        messages.push(message);
      }
      const transaction = await this.#begin();
      await transaction.sendBatch({
        topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
      });
    } catch (error) {
      for (const span of spans ?? []) failSpan(span, error);
      throw error;
    }
    // In the transaction: written, though its offset is known only once it commits.
    for (const span of spans ?? []) endPublishSpan(span);
  }

  get #clientId(): string {
    return this.#options.connection.clientId ?? "troupe";
  }

  /** Commits the open transaction together with the input offset `offset` (the next to read). */
  async commit(offset: number): Promise<void> {
    const transaction = await this.#begin();
    const { groupId, topic, partition } = this.#options;
    try {
      await transaction.sendOffsets({
        consumerGroupId: groupId,
        topics: [{ topic, partitions: [{ partition, offset: String(offset) }] }],
      });
      await transaction.commit();
    } catch (error) {
      // Whether it committed is unknown: a new producer settles it one way or the other.
      await this.reset().catch(() => {});
      throw error;
    } finally {
      this.#transaction = undefined;
      this.messages = 0;
    }
  }

  /** Aborts the open transaction, if any: its outputs are never seen by `read_committed` readers. */
  async abort(): Promise<void> {
    const transaction = this.#transaction;
    this.#transaction = undefined;
    this.messages = 0;
    if (!transaction) return;
    try {
      if (transaction.isActive()) await transaction.abort();
    } catch {
      await this.reset(); // the new producer's initialisation aborts it
    }
  }

  /** Aborts what is open and disconnects the producer. */
  async close(): Promise<void> {
    await this.abort().catch(() => {});
    if (this.#connected) await this.#producer.disconnect().catch(() => {});
  }
}
