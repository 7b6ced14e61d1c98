/**
 * `createConsumer`: poll-style consumption for scripts, with explicit commits, on top of the
 * same supervised processor.
 *
 * @module
 */

import type { CodecSpec, Decoded } from "../kafka/codec.ts";
import type { Message } from "../kafka/message.ts";
import type { TopicPartition, TopicPartitionOffset } from "./events.ts";
import type { Handler } from "./handler_context.ts";
import type { ProcessorOptions } from "./options.ts";
import { createProcessor, type Processor, type ProcessorStatus } from "./processor.ts";

/**
 * Options of {@linkcode createConsumer}: those of a processor, without a handler (you pull
 * messages instead). `autoCommit` defaults to false here: commit with `consumer.commit()`;
 * and up to `concurrency` (500) messages per partition wait to be pulled, in offset order.
 */
export type ConsumerOptions<KC extends CodecSpec = "string", VC extends CodecSpec = "bytes"> = Omit<
  ProcessorOptions<KC, VC>,
  "handler"
>;

/** Options of `consumer.poll()`. */
export interface PollOptions {
  /** Most messages to return. Default: 500. */
  maxMessages?: number;
  /** How long to wait for a first message, ms; an empty array after that. Default: 1 000. */
  timeoutMs?: number;
}

/**
 * A consumer you pull messages from, like kafka-python's `KafkaConsumer`: iterate it with
 * `for await`, or call `poll()`. A message counts as processed once you ask for the next one
 * (or call `commit()`), and only processed messages are committed. Within a partition,
 * messages come in offset order.
 */
export interface Consumer<K = string, V = Uint8Array>
  extends AsyncIterable<Message<K, V>>, AsyncDisposable {
  /** Connects and joins the group (the first `poll` or iteration does it too). */
  start(): Promise<void>;
  /** Marks what was returned so far as processed, then returns the next messages. */
  poll(options?: PollOptions): Promise<Message<K, V>[]>;
  /** Marks what was returned so far as processed and commits it. */
  commit(): Promise<void>;
  /** The partitions assigned now. */
  assignment(): TopicPartition[];
  /** Moves an assigned partition to `offset`; the next messages of it start there. */
  seek(position: TopicPartitionOffset): void;
  /** Moves the assigned partitions of `topic` to the first offset at or after `timestamp`. */
  seekToTimestamp(
    target: { topic: string; partition?: number; timestamp: number },
  ): Promise<TopicPartitionOffset[]>;
  /** Stops fetching a partition until `resume`. */
  pause(partition: TopicPartition): void;
  /** Undoes `pause`. */
  resume(partition: TopicPartition): void;
  /** The underlying processor's status. */
  status(): ProcessorStatus;
  /** Leaves the group. Commits nothing by itself unless `autoCommit` is true. */
  close(): Promise<void>;
}

/** A message waiting to be pulled, and the function that lets its actor go on. */
interface Waiting<K, V> {
  message: Message<K, V>;
  release: () => void;
  abandon: (error: Error) => void;
}

/** Why a message waiting to be pulled went back to its mailbox: the group is rebalancing. */
class Abandoned extends Error {
  constructor() {
    super("the group is rebalancing; the message will be delivered again if still assigned");
    this.name = "Abandoned";
  }
}

/**
 * The poll-style consumer: a processor whose handler hands each message over and waits until
 * the caller is done with it.
 */
class PollConsumer<K, V> implements Consumer<K, V> {
  #processor: Processor;
  /** Handed over by actors, not pulled yet. */
  #waiting: Waiting<K, V>[] = [];
  /** Returned by the last poll: released (processed) by the next poll or commit. */
  #taken: Waiting<K, V>[] = [];
  #arrival: (() => void) | undefined;
  #starting: Promise<void> | undefined;

  constructor(processor: (handler: Handler<K, V>) => Processor) {
    this.#processor = processor((message) =>
      new Promise<void>((release, abandon) => {
        this.#waiting.push({ message, release, abandon });
        this.#wake();
      })
    );
    const events = this.#processor;
    // Messages nobody pulled yet must not hold up a rebalance: send them back to their
    // mailboxes (the actor keeps a failed message at its head and offers it again).
    events.on("rebalancing", () => this.#abandon(() => true));
    // A message from before a seek must not be handed out after it (its actor is stopping),
    // nor one of a paused partition (as with kafka-python, a paused partition yields nothing).
    events.on("partition-seeked", (event) => this.#abandonPartition(event));
    events.on("partition-paused", (event) => {
      if (event.reason === "user") this.#abandonPartition(event);
    });
    // On close, the message in your hands is not finished either: it stays uncommitted.
    events.on("stopping", () => {
      this.#abandon(() => true);
      for (const entry of this.#taken.splice(0)) entry.abandon(new Abandoned());
    });
  }

  #wake(): void {
    const wake = this.#arrival;
    this.#arrival = undefined;
    wake?.();
  }

  /** Sends the waiting messages `which` picks back to their actors (which keep them). */
  #abandon(which: (message: Message<K, V>) => boolean): void {
    const kept: Waiting<K, V>[] = [];
    for (const entry of this.#waiting.splice(0)) {
      if (which(entry.message)) entry.abandon(new Abandoned());
      else kept.push(entry);
    }
    this.#waiting.push(...kept);
  }

  #abandonPartition({ topic, partition }: TopicPartition): void {
    this.#abandon((message) => message.topic === topic && message.partition === partition);
  }

  #releaseTaken(): void {
    for (const entry of this.#taken) entry.release();
    this.#taken = [];
  }

  #nextArrival(timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = Number.isFinite(timeoutMs) ? setTimeout(resolve, timeoutMs) : undefined;
      this.#arrival = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  start(): Promise<void> {
    return this.#starting ??= this.#processor.start();
  }

  async poll(options: PollOptions = {}): Promise<Message<K, V>[]> {
    await this.start();
    this.#releaseTaken();
    const max = options.maxMessages ?? 500;
    const deadline = performance.now() + (options.timeoutMs ?? 1000);
    // Released actors hand over their next messages within a few ticks: let them.
    await new Promise((resolve) => setTimeout(resolve, 0));
    while (this.#waiting.length === 0) {
      const left = deadline - performance.now();
      if (left <= 0 || this.#processor.status().state !== "running") return [];
      await this.#nextArrival(left);
    }
    this.#taken = this.#waiting.splice(0, max);
    return this.#taken.map((entry) => entry.message);
  }

  async commit(): Promise<void> {
    this.#releaseTaken();
    // Let the actors record the released messages as processed before committing.
    await new Promise((resolve) => setTimeout(resolve, 0));
    await this.#processor.commit();
  }

  assignment(): TopicPartition[] {
    return this.#processor.assignment();
  }

  seek(position: TopicPartitionOffset): void {
    this.#processor.seek(position); // the partition's actor is stopping from here on
    this.#abandonPartition(position);
  }

  seekToTimestamp(
    target: { topic: string; partition?: number; timestamp: number },
  ): Promise<TopicPartitionOffset[]> {
    return this.#processor.seekToTimestamp(target);
  }

  pause(partition: TopicPartition): void {
    this.#processor.pause(partition);
  }

  resume(partition: TopicPartition): void {
    this.#processor.resume(partition);
  }

  status(): ProcessorStatus {
    return this.#processor.status();
  }

  async close(): Promise<void> {
    this.#wake();
    await this.#processor.stop();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Message<K, V>> {
    while (true) {
      const [message] = await this.poll({ maxMessages: 1, timeoutMs: Infinity });
      if (message === undefined) return;
      yield message;
    }
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/**
 * Creates a poll-style consumer. Under it runs a processor whose handler hands each message
 * over and waits until you are done with it, so everything the processor guarantees holds:
 * bounded memory, per-partition order, rebalance safety, no commit of what you did not
 * finish.
 *
 * @example Read, handle, commit
 * ```ts ignore
 * import { createConsumer } from "@troupe/troupe";
 *
 * await using consumer = createConsumer({
 *   brokers: ["127.0.0.1:9092"],
 *   groupId: "script",
 *   topics: ["orders"],
 *   fromBeginning: true,
 *   valueCodec: "json",
 * });
 * for await (const message of consumer) {
 *   console.log(message.partition, message.offset, message.value);
 *   await consumer.commit();
 * }
 * ```
 */
export function createConsumer<KC extends CodecSpec = "string", VC extends CodecSpec = "bytes">(
  options: ConsumerOptions<KC, VC>,
): Consumer<Decoded<KC>, Decoded<VC>> {
  return new PollConsumer<Decoded<KC>, Decoded<VC>>((handler) =>
    createProcessor<KC, VC>({
      ...options,
      // Many messages of a partition may wait to be pulled at once (a poll returns batches);
      // they are handed over in offset order, and a partition's messages are released in the
      // order they were returned, so its order holds.
      ordering: options.ordering ?? "unordered",
      concurrency: options.concurrency ?? (options.ordering === undefined ? 500 : undefined),
      autoCommit: options.autoCommit ?? false,
      handler,
    } as ProcessorOptions<KC, VC>)
  );
}
