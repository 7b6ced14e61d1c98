/**
 * `createProducer`: a producer safe to share between any number of concurrent tasks.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import type { Tracer } from "@opentelemetry/api";
import {
  CompressionTypes,
  type Message as KafkaJsMessage,
  Partitioners,
  type Partitioners as KafkaJsPartitioners,
  type Producer as KafkaJsProducer,
  type RecordMetadata as KafkaJsRecordMetadata,
} from "kafkajs";
import { retry } from "../actors/backoff.ts";
import { withDeadline } from "../actors/deadline.ts";
import { RECONNECT_BACKOFF } from "./broker_probe.ts";
import { createKafkaClient, parseBrokers } from "./client.ts";
import type { CodecSpec, Decoded } from "./codec.ts";
import { describeError, KafkaConnectionError } from "./errors.ts";
import {
  isTransientProduceFailure,
  ProduceError,
  produceErrorCode,
  produceErrorOf,
  ProducerClosedError,
  SPLITTABLE_CODES,
} from "./produce_error.ts";
import {
  type ProducerOptions,
  type ResolvedProducerOptions,
  resolveProducerOptions,
} from "./producer_options.ts";
import { startPublishSpan } from "./publish_span.ts";
import { encodedSize, encodeRecord, type ProducerRecord } from "./record_encoding.ts";
import { SendQueue } from "./send_queue.ts";
import {
  GroupSettlement,
  type RecordMetadata,
  type Settlement,
  SingleSettlement,
} from "./settlement.ts";
import { UnknownPartitionError, unknownPartitionIn } from "./unknown_partition.ts";
import { failSpan, tracerOrNull } from "./tracing.ts";

export { ProduceError, ProducerClosedError } from "./produce_error.ts";
export {
  PRODUCER_DEFAULTS,
  type ProducerDefaults,
  type ProducerOptions,
} from "./producer_options.ts";
export { encodeRecord, type ProducerRecord } from "./record_encoding.ts";

const log = getLogger(["troupe", "producer"]);

export type { RecordMetadata } from "./settlement.ts";

/**
 * A producer. Share one between any number of concurrent tasks: their records are batched
 * into few requests, and every `send` resolves with where its records were written.
 */
export interface Producer<K = string, V = Uint8Array> extends AsyncDisposable {
  /** Connects now (otherwise the first `send` does). */
  connect(): Promise<void>;
  /** Sends one record; resolves once the broker acknowledged it. */
  send(record: ProducerRecord<K, V>): Promise<RecordMetadata>;
  /** Sends several records; resolves with each one's metadata, in the same order. */
  sendAll(records: readonly ProducerRecord<K, V>[]): Promise<RecordMetadata[]>;
  /** Resolves once every record sent so far is acknowledged or failed. */
  flush(): Promise<void>;
  /** Flushes, then disconnects. Later sends fail with {@linkcode ProducerClosedError}. */
  close(): Promise<void>;
}

/** A record waiting for its acknowledgement. */
interface Pending {
  readonly message: KafkaJsMessage;
  readonly topic: string;
  readonly queuedAt: number;
  /** Its size as {@linkcode encodedSize} bounds it. */
  readonly bytes: number;
  readonly settlement: Settlement;
  /** Its place in its `sendAll` (0 for a lone `send`). */
  readonly index: number;
}

/** The partition KafkaJS's partitioner chose, written on the message (ours) by our wrapper. */
const PLACED: unique symbol = Symbol("troupe.placed");

/** A KafkaJS message as our partitioner leaves it. */
type PlacedMessage = KafkaJsMessage & { [PLACED]?: number };

/** Open, then closing (flushing what was sent), then closed. */
type ProducerPhase =
  | { readonly name: "open" }
  | { readonly name: "closing"; readonly closed: Promise<void> };

/** A {@linkcode Producer} over one KafkaJS producer. */
class KafkaProducer<K, V> implements Producer<K, V> {
  readonly #options: ResolvedProducerOptions<K, V>;
  readonly #client: KafkaJsProducer;
  readonly #queue: SendQueue<Pending>;
  /** troupe's tracer, or `null` when no tracer provider is registered: decided once, here. */
  readonly #tracer: Tracer | null = tracerOrNull();
  readonly #clientId: string;
  #connecting: Promise<void> | undefined;
  #phase: ProducerPhase = { name: "open" };

  constructor(options: ResolvedProducerOptions<K, V>) {
    this.#options = options;
    this.#clientId = options.connection.clientId ?? "troupe";
    this.#client = createKafkaClient(options.connection).producer({
      idempotent: options.idempotent,
      maxInFlightRequests: options.idempotent ? 1 : options.queue.maxInFlight,
      createPartitioner: this.#partitioner(),
    });
    this.#queue = new SendQueue(options.queue, (batch) => this.#deliver(batch));
  }

  connect(): Promise<void> {
    this.#connecting ??= this.#client.connect().catch((error) => {
      this.#connecting = undefined;
      const brokers = parseBrokers(this.#options.connection.brokers).join(",");
      throw new KafkaConnectionError(`could not connect the producer to ${brokers}`, error);
    });
    return this.#connecting;
  }

  async send(record: ProducerRecord<K, V>): Promise<RecordMetadata> {
    if (this.#phase.name !== "open") throw new ProducerClosedError();
    const message = encodeRecord(record, this.#options.keyCodec, this.#options.valueCodec);
    // Before the size check: the trace context is part of the record's size.
    const span = this.#tracer === null
      ? undefined
      : startPublishSpan(this.#tracer, record.topic, message, this.#clientId);
    let bytes: number;
    try {
      bytes = this.#checkSize(record.topic, message);
      // Queued at once when there is room: a `flush` called right after `send` covers it.
      if (this.#queue.room() !== undefined) await this.#waitForRoom();
    } catch (error) {
      if (span) failSpan(span, error);
      throw error;
    }
    const settlement = new SingleSettlement(span);
    this.#queue.push({
      message,
      topic: record.topic,
      queuedAt: performance.now(),
      bytes,
      settlement,
      index: 0,
    });
    return settlement.promise;
  }

  sendAll(records: readonly ProducerRecord<K, V>[]): Promise<RecordMetadata[]> {
    // Traced records each need their own span and settlement.
    if (this.#tracer !== null) return Promise.all(records.map((record) => this.send(record)));
    if (this.#phase.name !== "open") return Promise.reject(new ProducerClosedError());
    const settlement = new GroupSettlement(records.length);
    void this.#queueAll(records, settlement);
    return settlement.promise;
  }

  /**
   * Queues the records of a `sendAll`, in order, waiting for room when the buffer is full. A
   * record that cannot be sent (bad, too large, the producer closed) fails the call but not the
   * others: they are queued and delivered all the same, as each one's own `send` would be.
   */
  async #queueAll(
    records: readonly ProducerRecord<K, V>[],
    settlement: GroupSettlement,
  ): Promise<void> {
    const { keyCodec, valueCodec } = this.#options;
    // One clock reading for the records queued together: they lingered equally.
    let queuedAt = performance.now();
    for (let index = 0; index < records.length; index++) {
      const record = records[index];
      try {
        if (this.#phase.name !== "open") throw new ProducerClosedError();
        const message = encodeRecord(record, keyCodec, valueCodec);
        const bytes = this.#checkSize(record.topic, message);
        if (this.#queue.room() !== undefined) {
          await this.#waitForRoom();
          queuedAt = performance.now();
        }
        this.#queue.push({ message, topic: record.topic, queuedAt, bytes, settlement, index });
      } catch (error) {
        settlement.reject(error);
      }
    }
  }

  /**
   * KafkaJS reports only the first partition error of a request, so a record the broker
   * refuses for its size could fail records of other partitions written in the same request.
   * Refuse what is certainly too large before it shares a request. Returns the size.
   */
  #checkSize(topic: string, message: KafkaJsMessage): number {
    const size = encodedSize(message);
    const { maxRecordBytes } = this.#options;
    if (size > maxRecordBytes) {
      throw new ProduceError(
        topic,
        "MESSAGE_TOO_LARGE",
        `a record of ${size} bytes for ${topic} is larger than maxRecordBytes (${maxRecordBytes})`,
      );
    }
    return size;
  }

  /** Waits while the buffer is full; fails once the producer is closing. */
  async #waitForRoom(): Promise<void> {
    for (let room = this.#queue.room(); room; room = this.#queue.room()) {
      await room;
      if (this.#phase.name !== "open") throw new ProducerClosedError();
    }
  }

  flush(): Promise<void> {
    return this.#queue.flush();
  }

  close(): Promise<void> {
    if (this.#phase.name === "closing") return this.#phase.closed;
    const closed = this.#close();
    this.#phase = { name: "closing", closed };
    return closed;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #close(): Promise<void> {
    await this.#queue.flush();
    this.#queue.wakeAll();
    if (!this.#connecting) return;
    await this.#connecting.catch(() => {});
    await this.#client.disconnect().catch((error) =>
      log.warn("disconnecting the producer failed: {error}", { error: describeError(error) })
    );
  }

  /** KafkaJS's default partitioner, telling us where it put each record. */
  #partitioner(): typeof KafkaJsPartitioners.DefaultPartitioner {
    return () => {
      const choose = Partitioners.DefaultPartitioner();
      return (args) => {
        const partition = choose(args);
        // KafkaJS would drop a record for a partition its metadata lacks and report success:
        // say so instead, and KafkaJS refreshes its metadata and tries again.
        if (!args.partitionMetadata.some((known) => known.partitionId === partition)) {
          throw new UnknownPartitionError(args.topic, partition, args.partitionMetadata.length);
        }
        // The message is ours (encodeRecord made it): the placement rides on it to #settle.
        (args.message as PlacedMessage)[PLACED] = partition;
        return partition;
      };
    };
  }

  /**
   * Sends one batch and settles each of its records. What passes by itself (a leader election,
   * a broker away) is sent again until `deliveryTimeoutMs`, as Kafka's own producer does; the
   * idempotent producer's sequence numbers keep a resent batch from being written twice.
   */
  async #deliver(batch: Pending[]): Promise<void> {
    try {
      const deadline = Date.now() + this.#options.deliveryTimeoutMs;
      // Brokers unreachable from the start fail at once, with a clear error: no deployment
      // ever worked, and waiting would only hide it.
      await this.connect();
      const send = retry(() => this.#sendBatch(batch), {
        backoff: RECONNECT_BACKOFF,
        deadline,
        retriable: (error) => !unknownPartitionIn(error) && isTransientProduceFailure(error),
        onRetry: (error, attempt, delay) =>
          log.warn("a send failed ({attempt}); sending again in {delay} ms: {error}", {
            attempt,
            delay,
            error: describeError(error),
          }),
      });
      const acknowledged = await withDeadline(
        send,
        this.#options.deliveryTimeoutMs,
        "not acknowledged",
      );
      this.#settle(batch, acknowledged);
    } catch (error) {
      const unknown = unknownPartitionIn(error);
      if (unknown) {
        await this.#refuseUnknownPartition(batch, unknown);
        return;
      }
      if (SPLITTABLE_CODES.has(produceErrorCode(error)) && batch.length > 1) {
        // One oversized record must not fail its neighbours: send them one by one.
        await Promise.all(batch.map((pending) => this.#deliver([pending])));
        return;
      }
      for (const pending of batch) {
        const bytes = (pending.message.value?.length ?? 0) + (pending.message.key?.length ?? 0);
        pending.settlement.reject(produceErrorOf(pending.topic, bytes, error), pending.index);
      }
    }
  }

  /**
   * KafkaJS refreshed its metadata and retried, and the partition is still unknown: its
   * records fail, naming it; the rest of the batch, held back with them, is sent again.
   */
  async #refuseUnknownPartition(batch: Pending[], unknown: UnknownPartitionError): Promise<void> {
    const rest: Pending[] = [];
    for (const pending of batch) {
      if (pending.topic === unknown.topic && pending.message.partition === unknown.partition) {
        pending.settlement.reject(
          new ProduceError(unknown.topic, unknown.type, unknown.message, {
            cause: unknown,
            partition: unknown.partition,
          }),
          pending.index,
        );
      } else {
        rest.push(pending);
      }
    }
    if (rest.length > 0) await this.#deliver(rest);
  }

  #sendBatch(batch: Pending[]): Promise<KafkaJsRecordMetadata[]> {
    const byTopic = new Map<string, KafkaJsMessage[]>();
    for (const pending of batch) {
      let messages = byTopic.get(pending.topic);
      if (!messages) byTopic.set(pending.topic, messages = []);
      messages.push(pending.message);
    }
    return this.#client.sendBatch({
      acks: this.#options.acks,
      compression: this.#options.compression === "gzip"
        ? CompressionTypes.GZIP
        : CompressionTypes.None,
      topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
    });
  }

  /**
   * Resolves each record with its offset: a partition's records were written in order from
   * the base offset the broker answered for that partition.
   */
  #settle(batch: Pending[], acknowledged: KafkaJsRecordMetadata[]): void {
    // The next offset of each partition, by topic: counted up as its records are resolved.
    const nextOffsets = new Map<string, number[]>();
    for (const result of acknowledged) {
      let next = nextOffsets.get(result.topicName);
      if (!next) nextOffsets.set(result.topicName, next = []);
      next[result.partition] = Number(result.baseOffset);
    }
    for (const pending of batch) {
      const message = pending.message as PlacedMessage;
      const partition = message.partition ?? message[PLACED];
      const next = nextOffsets.get(pending.topic);
      const offset = partition === undefined ? undefined : next?.[partition];
      if (partition === undefined || offset === undefined || Number.isNaN(offset)) {
        pending.settlement.reject(
          new ProduceError(
            pending.topic,
            "UNKNOWN",
            `the broker's answer does not cover a record for ${pending.topic}`,
            { partition },
          ),
          pending.index,
        );
        continue;
      }
      next![partition] = offset + 1;
      pending.settlement.resolve({ topic: pending.topic, partition, offset }, pending.index);
    }
  }
}

/**
 * Creates a producer safe to call from any number of concurrent tasks: concurrent sends
 * are gathered (for `lingerMs`) into few requests, at most `maxInFlight` requests run at
 * once, and a full buffer makes `send` wait rather than grow without bound. Delivery is
 * idempotent with `acks: "all"` by default. Nothing is dropped silently: every record's
 * `send` resolves with its partition and offset or rejects with a {@linkcode ProduceError}.
 *
 * @example Five concurrent tasks, then flush and close
 * ```ts ignore
 * import { createProducer, json } from "@troupe/troupe";
 *
 * const producer = createProducer({
 *   brokers: ["127.0.0.1:9092"],
 *   valueCodec: json<{ n: number }>(),
 * });
 * await Promise.all([0, 1, 2, 3, 4].map(async (task) => {
 *   for (let n = 0; n < 100; n++) {
 *     const { partition, offset } = await producer.send({ topic: "numbers", key: `${task}`, value: { n } });
 *   }
 * }));
 * await producer.close();
 * ```
 *
 * @throws {ConfigError} when an option is invalid.
 */
export function createProducer<KC extends CodecSpec = "string", VC extends CodecSpec = "bytes">(
  options: ProducerOptions<KC, VC>,
): Producer<Decoded<KC>, Decoded<VC>> {
  return new KafkaProducer(resolveProducerOptions<Decoded<KC>, Decoded<VC>>(options));
}
