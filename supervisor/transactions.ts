/**
 * Exactly-once consume-transform-produce for one input partition: its outputs and its input
 * offset go to Kafka in one transaction.
 *
 * @module
 */

import type { Message as KafkaJsMessage, Producer as KafkaJsProducer, Transaction } from "kafkajs";

/** What a partition's transactions need. */
export interface PartitionTransactionsOptions {
  /**
   * Makes a KafkaJS transactional producer for this partition alone (see `transactionalId`).
   * Called again after a failure left KafkaJS's transaction state stuck.
   */
  producer: () => KafkaJsProducer;
  /** The consumer group whose offset the transactions commit. */
  groupId: string;
  /** The input topic. */
  topic: string;
  /** The input partition. */
  partition: number;
}

/** An output record, encoded. */
export interface EncodedOutput {
  readonly topic: string;
  readonly message: KafkaJsMessage;
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
 * const transactions = new PartitionTransactions({ producer, groupId, topic, partition });
 * await transactions.run(() => transactions.send(outputs));
 * await transactions.run(() => transactions.commit(nextOffset));
 * ```
 */
export class PartitionTransactions {
  #options: PartitionTransactionsOptions;
  #producer: KafkaJsProducer;
  #connected: Promise<void> | undefined;
  #transaction: Transaction | undefined;
  #lock: Promise<unknown> = Promise.resolve();
  /** Messages processed in the open transaction. */
  messages = 0;

  /**
   * Creates the transactions of one partition; connects on first use.
   *
   * @param options Its producer, group, topic and partition.
   */
  constructor(options: PartitionTransactionsOptions) {
    this.#options = options;
    this.#producer = options.producer();
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
    this.#producer = this.#options.producer();
    this.#connected = undefined;
    if (connected) await old.disconnect().catch(() => {});
    await this.prepare();
  }

  /** Sends outputs in the open transaction (opening one if needed). */
  async send(outputs: readonly EncodedOutput[]): Promise<void> {
    if (outputs.length === 0) return;
    const transaction = await this.#begin();
    const byTopic = new Map<string, KafkaJsMessage[]>();
    for (const { topic, message } of outputs) {
      let messages = byTopic.get(topic);
      if (!messages) byTopic.set(topic, messages = []);
      messages.push(message);
    }
    await transaction.sendBatch({
      topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
    });
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
