/**
 * `createConsumer`: poll-style consumption for scripts, with explicit commits, on top of the
 * same supervised processor.
 *
 * @module
 */

import type { CodecSpec, Decoded } from "../kafka/codec.ts";
import type { Message } from "../kafka/message.ts";
import type { TopicPartition, TopicPartitionOffset } from "./events.ts";
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
  type K = Decoded<KC>;
  type V = Decoded<VC>;
  const waiting: Waiting<K, V>[] = [];
  let taken: Waiting<K, V>[] = [];
  let arrival: (() => void) | undefined;
  let starting: Promise<void> | undefined;

  const processor: Processor = createProcessor<KC, VC>({
    ...options,
    // Many messages of a partition may wait to be pulled at once (a poll returns batches);
    // they are handed over in offset order, and a partition's messages are released in the
    // order they were returned, so its order holds.
    ordering: options.ordering ?? "unordered",
    concurrency: options.concurrency ?? (options.ordering === undefined ? 500 : undefined),
    autoCommit: options.autoCommit ?? false,
    handler: (message) =>
      new Promise<void>((release, abandon) => {
        waiting.push({ message, release, abandon });
        const wake = arrival;
        arrival = undefined;
        wake?.();
      }),
  } as ProcessorOptions<KC, VC>);

  // Messages nobody pulled yet must not hold up a rebalance: send them back to their
  // mailboxes (the actor keeps a failed message at its head and offers it again).
  const abandonWaiting = () => {
    for (const entry of waiting.splice(0)) entry.abandon(new Abandoned());
  };
  processor.on("rebalancing", abandonWaiting);
  /** Sends a partition's waiting messages back to their actor (which keeps them). */
  const abandonPartition = ({ topic, partition }: TopicPartition) => {
    const others: Waiting<K, V>[] = [];
    for (const entry of waiting.splice(0)) {
      if (entry.message.topic === topic && entry.message.partition === partition) {
        entry.abandon(new Abandoned());
      } else {
        others.push(entry);
      }
    }
    waiting.push(...others);
  };
  // A message from before a seek must not be handed out after it (its actor is stopping),
  // nor one of a paused partition (as with kafka-python, a paused partition yields nothing).
  processor.on("partition-seeked", abandonPartition);
  processor.on("partition-paused", (event) => {
    if (event.reason === "user") abandonPartition(event);
  });
  // On close, the message in your hands is not finished either: it stays uncommitted.
  processor.on("stopping", () => {
    abandonWaiting();
    for (const entry of taken.splice(0)) entry.abandon(new Abandoned());
  });

  const start = () => starting ??= processor.start();

  const releaseTaken = () => {
    for (const entry of taken) entry.release();
    taken = [];
  };

  const nextArrival = (timeoutMs: number) =>
    new Promise<void>((resolve) => {
      const timer = Number.isFinite(timeoutMs) ? setTimeout(resolve, timeoutMs) : undefined;
      arrival = () => {
        clearTimeout(timer);
        resolve();
      };
    });

  const poll = async (pollOptions: PollOptions = {}): Promise<Message<K, V>[]> => {
    await start();
    releaseTaken();
    const max = pollOptions.maxMessages ?? 500;
    const deadline = performance.now() + (pollOptions.timeoutMs ?? 1000);
    // Released actors hand over their next messages within a few ticks: let them.
    await new Promise((resolve) => setTimeout(resolve, 0));
    while (waiting.length === 0) {
      const left = deadline - performance.now();
      if (left <= 0 || processor.status().state !== "running") return [];
      await nextArrival(left);
    }
    taken = waiting.splice(0, max);
    return taken.map((entry) => entry.message);
  };

  const consumer: Consumer<K, V> = {
    start,
    poll,
    async commit() {
      releaseTaken();
      // Let the actors record the released messages as processed before committing.
      await new Promise((resolve) => setTimeout(resolve, 0));
      await processor.commit();
    },
    assignment: () => processor.assignment(),
    seek(position) {
      processor.seek(position); // the partition's actor is stopping from here on
      const others: Waiting<K, V>[] = [];
      for (const entry of waiting.splice(0)) {
        if (
          entry.message.topic === position.topic && entry.message.partition === position.partition
        ) {
          entry.abandon(new Abandoned());
        } else {
          others.push(entry);
        }
      }
      waiting.push(...others);
    },
    seekToTimestamp: (target) => processor.seekToTimestamp(target),
    pause: (partition) => processor.pause(partition),
    resume: (partition) => processor.resume(partition),
    status: () => processor.status(),
    async close() {
      const wake = arrival;
      arrival = undefined;
      wake?.();
      await processor.stop();
    },
    async *[Symbol.asyncIterator]() {
      while (true) {
        const [message] = await poll({ maxMessages: 1, timeoutMs: Infinity });
        if (message === undefined) return;
        yield message;
      }
    },
    [Symbol.asyncDispose]() {
      return consumer.close();
    },
  };
  return consumer;
}
