/**
 * `createProducer`: a producer safe to share between any number of concurrent tasks.
 *
 * @module
 */

import { DeadlineError, withDeadline } from "../actors/deadline.ts";
import { getLogger } from "@logtape/logtape";
import { Buffer } from "node:buffer";
import {
  CompressionTypes,
  type Message as KafkaJsMessage,
  Partitioners,
  type Partitioners as KafkaJsPartitioners,
  type Producer as KafkaJsProducer,
  type RecordMetadata as KafkaJsRecordMetadata,
} from "kafkajs";
import { type ConnectionOptions, createKafkaClient, parseBrokers } from "./client.ts";
import { type Codec, type CodecSpec, type Decoded, resolveCodec } from "./codec.ts";
import { ConfigError, describeError, KafkaConnectionError } from "./errors.ts";

const log = getLogger(["troupe", "producer"]);

/** A record to produce. */
export interface ProducerRecord<K = string, V = Uint8Array> {
  /** Target topic. */
  topic: string;
  /** Key, encoded by the key codec; records with the same key go to the same partition. */
  key?: K | null;
  /** Value, encoded by the value codec; `null` is a tombstone. */
  value: V | null;
  /** Explicit partition. Default: by key hash, or round robin without a key. */
  partition?: number;
  /** Headers. */
  headers?: Record<string, string | Uint8Array | (string | Uint8Array)[]>;
  /** Timestamp, ms since the epoch. Default: now. */
  timestamp?: number;
}

/** Where a record was written. */
export interface RecordMetadata {
  /** Its topic. */
  readonly topic: string;
  /** Its partition. */
  readonly partition: number;
  /** Its offset in the partition. */
  readonly offset: number;
}

/**
 * Options of {@linkcode createProducer}. Only `brokers` is required.
 *
 * @typeParam KC The key codec (its name or object); keys are of its decoded type.
 * @typeParam VC The value codec (its name or object); values are of its decoded type.
 */
export interface ProducerOptions<KC extends CodecSpec = "string", VC extends CodecSpec = "bytes">
  extends ConnectionOptions {
  /** Key codec. Default: `"string"`. */
  keyCodec?: KC;
  /** Value codec: `"json"`, `"string"`, `"bytes"`, or a codec such as `json<Order>()`. Default: `"bytes"`. */
  valueCodec?: VC;
  /**
   * Idempotent delivery: retries cannot duplicate or reorder records. Requires `acks: "all"`.
   * Default: true.
   */
  idempotent?: boolean;
  /** Acknowledgement required: `"all"` in-sync replicas, `1` the leader, `0` none. Default: `"all"`. */
  acks?: "all" | 1 | 0;
  /**
   * How long a send waits for others to share its request, ms. Concurrent sends within this
   * window go in one request. Default: 5.
   */
  lingerMs?: number;
  /** Most records per request. Default: 10 000. */
  maxBatchRecords?: number;
  /**
   * Requests in flight at once. Default: 1 for an idempotent producer (KafkaJS sends its
   * requests one at a time per broker anyway, so more would only split batches), else 5.
   */
  maxInFlight?: number;
  /** Records buffered before `send` waits for room. Default: 100 000. */
  bufferRecords?: number;
  /** Compression: `"none"` or `"gzip"` (the one KafkaJS has built in). Default: `"none"`. */
  compression?: "none" | "gzip";
  /** How long a send may take, retries included, before it fails, ms. Default: 120 000. */
  deliveryTimeoutMs?: number;
  /**
   * Largest record (key, value and headers) accepted, bytes; a larger one fails at once with a
   * `MESSAGE_TOO_LARGE` {@linkcode ProduceError}, before it can share a request with others.
   * Default: 1 000 000 (the broker's default `message.max.bytes` is 1 048 588).
   */
  maxRecordBytes?: number;
}

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

/**
 * A send to a producer that was closed (or is closing).
 *
 * @example
 * ```ts ignore
 * await producer.close();
 * await producer.send(record); // rejects with ProducerClosedError
 * ```
 */
export class ProducerClosedError extends Error {
  /** Creates the error. */
  constructor() {
    super("the producer is closed: create a new one to send more records");
    this.name = "ProducerClosedError";
  }
}

/**
 * The broker refused a record, or it could not be delivered in time. `topic`, `partition`
 * and `code` say which and why; `cause` is KafkaJS's error.
 *
 * @example
 * ```ts ignore
 * try {
 *   await producer.send({ topic: "t", value: hugeValue });
 * } catch (error) {
 *   if (error instanceof ProduceError && error.code === "MESSAGE_TOO_LARGE") shrink();
 * }
 * ```
 */
export class ProduceError extends Error {
  /** Topic of the record. */
  readonly topic: string;
  /** The broker's error code name (e.g. `MESSAGE_TOO_LARGE`), or `DELIVERY_TIMEOUT`, or `UNKNOWN`. */
  readonly code: string;

  /**
   * Creates the error.
   *
   * @param topic Topic of the record.
   * @param code Error code name.
   * @param message What happened.
   * @param cause KafkaJS's error.
   */
  constructor(topic: string, code: string, message: string, cause?: unknown) {
    super(message, { cause });
    this.name = "ProduceError";
    this.topic = topic;
    this.code = code;
  }
}

interface Pending {
  message: KafkaJsMessage;
  topic: string;
  /** When it was queued (performance.now()): linger counts from the oldest record. */
  queuedAt: number;
  resolve: (metadata: RecordMetadata) => void;
  reject: (error: unknown) => void;
}

const SPLITTABLE = new Set(["MESSAGE_TOO_LARGE", "RECORD_LIST_TOO_LARGE"]);

function toBuffer(value: Uint8Array | string): Buffer | string {
  if (typeof value === "string" || Buffer.isBuffer(value)) return value;
  return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}

function positiveInteger(value: unknown, option: string, fallback: number, min = 1): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isInteger(value) || value < min) {
    throw new ConfigError(option, `must be an integer >= ${min}, got ${JSON.stringify(value)}`);
  }
  return value;
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
  type K = Decoded<KC>;
  type V = Decoded<VC>;
  if (options === null || typeof options !== "object") {
    throw new ConfigError("options", "createProducer needs an options object");
  }
  try {
    parseBrokers(options.brokers);
  } catch (error) {
    throw new ConfigError("brokers", (error as Error).message);
  }
  const keyCodec = guardCodec(
    () => resolveCodec(options.keyCodec ?? "string", "keyCodec") as Codec<K>,
    "keyCodec",
  );
  const valueCodec = guardCodec(
    () => resolveCodec(options.valueCodec ?? "bytes", "valueCodec") as Codec<V>,
    "valueCodec",
  );
  const idempotent = options.idempotent ?? true;
  const acksOption = options.acks ?? "all";
  if (acksOption !== "all" && acksOption !== 1 && acksOption !== 0) {
    throw new ConfigError("acks", `must be "all", 1 or 0, got ${JSON.stringify(acksOption)}`);
  }
  if (idempotent && acksOption !== "all") {
    throw new ConfigError(
      "acks",
      'must be "all" for an idempotent producer (set idempotent: false)',
    );
  }
  const acks = acksOption === "all" ? -1 : acksOption;
  const lingerMs = positiveInteger(options.lingerMs, "lingerMs", 5, 0);
  const maxBatchRecords = positiveInteger(options.maxBatchRecords, "maxBatchRecords", 10_000);
  const maxInFlight = positiveInteger(options.maxInFlight, "maxInFlight", idempotent ? 1 : 5);
  const bufferRecords = positiveInteger(options.bufferRecords, "bufferRecords", 100_000);
  const deliveryTimeoutMs = positiveInteger(
    options.deliveryTimeoutMs,
    "deliveryTimeoutMs",
    120_000,
  );
  const maxRecordBytes = positiveInteger(options.maxRecordBytes, "maxRecordBytes", 1_000_000);
  const compressionOption = options.compression ?? "none";
  if (compressionOption !== "none" && compressionOption !== "gzip") {
    throw new ConfigError(
      "compression",
      `must be "none" or "gzip", got ${JSON.stringify(compressionOption)}`,
    );
  }
  const compression = compressionOption === "gzip" ? CompressionTypes.GZIP : CompressionTypes.None;

  // The partitioner KafkaJS calls for each record also tells us where it put the record.
  const placed = new WeakMap<object, number>();
  const createPartitioner: typeof KafkaJsPartitioners.DefaultPartitioner = () => {
    const choose = Partitioners.DefaultPartitioner();
    return (args) => {
      const partition = choose(args);
      placed.set(args.message, partition);
      return partition;
    };
  };
  const kafka = createKafkaClient(options);
  const producer: KafkaJsProducer = kafka.producer({
    idempotent,
    maxInFlightRequests: idempotent ? 1 : maxInFlight,
    createPartitioner,
  });

  let connecting: Promise<void> | undefined;
  let closed = false;
  let closing: Promise<void> | undefined;
  const queue: Pending[] = [];
  let queueHead = 0;
  let inFlight = 0;
  let lingerTimer: ReturnType<typeof setTimeout> | undefined;
  let roomWaiters: (() => void)[] = [];
  let idleWaiters: (() => void)[] = [];

  const queued = () => queue.length - queueHead;

  const connect = (): Promise<void> => {
    if (!connecting) {
      connecting = producer.connect().catch((error) => {
        connecting = undefined;
        throw new KafkaConnectionError(
          `could not connect the producer to ${parseBrokers(options.brokers).join(",")}`,
          error,
        );
      });
    }
    return connecting;
  };

  const wakeRoom = () => {
    if (roomWaiters.length === 0 || queued() >= bufferRecords) return;
    const waiters = roomWaiters;
    roomWaiters = [];
    for (const wake of waiters) wake();
  };

  const checkIdle = () => {
    if (queued() > 0 || inFlight > 0 || idleWaiters.length === 0) return;
    const waiters = idleWaiters;
    idleWaiters = [];
    for (const wake of waiters) wake();
  };

  const schedule = () => {
    if (queued() === 0 || inFlight >= maxInFlight) return;
    // Linger counts from the oldest queued record, as in Kafka's own producer: records that
    // waited for an earlier request to finish have lingered enough and go at once.
    const waited = performance.now() - queue[queueHead].queuedAt;
    if (queued() >= maxBatchRecords || waited >= lingerMs) {
      clearTimeout(lingerTimer);
      lingerTimer = undefined;
      dispatch();
    } else if (lingerTimer === undefined) {
      lingerTimer = setTimeout(() => {
        lingerTimer = undefined;
        dispatch();
      }, lingerMs - waited);
    }
  };

  const dispatch = () => {
    while (queued() > 0 && inFlight < maxInFlight) {
      const count = Math.min(queued(), maxBatchRecords);
      const batch = queue.slice(queueHead, queueHead + count);
      queueHead += count;
      if (queueHead === queue.length) {
        queue.length = 0;
        queueHead = 0;
      } else if (queueHead > 4096 && queueHead * 2 > queue.length) {
        queue.splice(0, queueHead);
        queueHead = 0;
      }
      inFlight++;
      void deliver(batch).finally(() => {
        inFlight--;
        schedule();
        checkIdle();
      });
      wakeRoom();
    }
  };

  const deliver = async (batch: Pending[]): Promise<void> => {
    try {
      await connect();
      const results = await withDeadline(send(batch), deliveryTimeoutMs, "not acknowledged");
      settle(batch, results);
    } catch (error) {
      const code = errorCode(error);
      if (SPLITTABLE.has(code) && batch.length > 1) {
        // One oversized record must not fail its neighbours: send them one by one.
        await Promise.all(batch.map((pending) => deliver([pending])));
        return;
      }
      for (const pending of batch) pending.reject(produceError(pending, code, error));
    }
  };

  const send = (batch: Pending[]): Promise<KafkaJsRecordMetadata[]> => {
    const byTopic = new Map<string, KafkaJsMessage[]>();
    for (const pending of batch) {
      let messages = byTopic.get(pending.topic);
      if (!messages) byTopic.set(pending.topic, messages = []);
      messages.push(pending.message);
    }
    return producer.sendBatch({
      acks,
      compression,
      topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
    });
  };

  const settle = (batch: Pending[], results: KafkaJsRecordMetadata[]) => {
    const baseOffsets = new Map<string, number>();
    for (const result of results) {
      baseOffsets.set(`${result.topicName}\u0000${result.partition}`, Number(result.baseOffset));
    }
    const nextIndex = new Map<string, number>();
    for (const pending of batch) {
      const partition = pending.message.partition ?? placed.get(pending.message);
      const key = `${pending.topic}\u0000${partition}`;
      const base = baseOffsets.get(key);
      if (partition === undefined || base === undefined || Number.isNaN(base)) {
        pending.reject(
          new ProduceError(
            pending.topic,
            "UNKNOWN",
            `the broker's answer does not cover a record for ${pending.topic}`,
          ),
        );
        continue;
      }
      const index = nextIndex.get(key) ?? 0;
      nextIndex.set(key, index + 1);
      pending.resolve({ topic: pending.topic, partition, offset: base + index });
    }
  };

  const enqueue = async (record: ProducerRecord<K, V>): Promise<RecordMetadata> => {
    if (closed) throw new ProducerClosedError();
    const message = encode(record);
    // KafkaJS reports only the first partition error of a request, so a record the broker
    // refuses for its size could fail records of other partitions written in the same
    // request. Refuse what is certainly too large before it shares a request.
    const size = recordSize(message);
    if (size > maxRecordBytes) {
      throw new ProduceError(
        record.topic,
        "MESSAGE_TOO_LARGE",
        `a record of ${size} bytes for ${record.topic} is larger than maxRecordBytes (${maxRecordBytes})`,
      );
    }
    while (queued() >= bufferRecords) {
      await new Promise<void>((resolve) => roomWaiters.push(resolve));
      if (closed) throw new ProducerClosedError();
    }
    const result = new Promise<RecordMetadata>((resolve, reject) => {
      queue.push({ message, topic: record.topic, queuedAt: performance.now(), resolve, reject });
    });
    schedule();
    return result;
  };

  const encode = (record: ProducerRecord<K, V>) => encodeRecord(record, keyCodec, valueCodec);

  const flush = (): Promise<void> => {
    if (queued() === 0 && inFlight === 0) return Promise.resolve();
    clearTimeout(lingerTimer);
    lingerTimer = undefined;
    dispatch();
    return new Promise((resolve) => idleWaiters.push(resolve));
  };

  const close = (): Promise<void> => {
    if (closing) return closing;
    closed = true;
    closing = (async () => {
      await flush();
      const waiters = roomWaiters;
      roomWaiters = [];
      for (const wake of waiters) wake();
      if (connecting) {
        await connecting.catch(() => {});
        await producer.disconnect().catch((error) =>
          log.warn("disconnecting the producer failed: {error}", { error: describeError(error) })
        );
      }
    })();
    return closing;
  };

  const self: Producer<K, V> = {
    connect,
    send: enqueue,
    sendAll(records) {
      return Promise.all(records.map((record) => enqueue(record)));
    },
    flush,
    close,
    [Symbol.asyncDispose]: close,
  };
  return self;
}

/**
 * Encodes a record into a KafkaJS message with the given codecs.
 *
 * @example
 * ```ts ignore
 * const message = encodeRecord({ topic: "t", key: "k", value: { n: 1 } }, string(), json());
 * ```
 *
 * @throws {TypeError} when the record has no topic or no value.
 */
export function encodeRecord<K, V>(
  record: ProducerRecord<K, V>,
  keyCodec: Codec<K>,
  valueCodec: Codec<V>,
): KafkaJsMessage {
  if (
    record === null || typeof record !== "object" || typeof record.topic !== "string" ||
    !record.topic
  ) {
    throw new TypeError(`a record needs a non-empty topic, got ${JSON.stringify(record)}`);
  }
  if (record.value === undefined) {
    throw new TypeError(`a record for ${record.topic} needs a value (null for a tombstone)`);
  }
  const message: KafkaJsMessage = {
    key: record.key === undefined || record.key === null
      ? null
      : toBuffer(keyCodec.encode(record.key)),
    value: record.value === null ? null : toBuffer(valueCodec.encode(record.value)),
  };
  if (record.partition !== undefined) message.partition = record.partition;
  if (record.headers !== undefined) {
    const headers: Record<string, Buffer | string | (Buffer | string)[]> = {};
    for (const [name, value] of Object.entries(record.headers)) {
      headers[name] = Array.isArray(value) ? value.map(toBuffer) : toBuffer(value);
    }
    message.headers = headers;
  }
  if (record.timestamp !== undefined) message.timestamp = String(record.timestamp);
  return message;
}

function recordSize(message: KafkaJsMessage): number {
  const length = (value: Buffer | string | null | undefined) =>
    value === null || value === undefined
      ? 0
      : typeof value === "string"
      ? value.length * 3
      : value.length;
  let size = length(message.key as Buffer | string | null) +
    length(message.value as Buffer | string | null);
  for (const [name, value] of Object.entries(message.headers ?? {})) {
    size += name.length;
    for (const item of Array.isArray(value) ? value : [value]) {
      size += length(item as Buffer | string);
    }
  }
  return size;
}

function guardCodec<T>(build: () => T, option: string): T {
  try {
    return build();
  } catch (error) {
    throw new ConfigError(option, (error as Error).message);
  }
}

function errorCode(error: unknown): string {
  if (error instanceof DeadlineError) return "DELIVERY_TIMEOUT";
  const type = (error as { type?: unknown } | null)?.type;
  if (typeof type === "string") return type;
  const cause = (error as { cause?: unknown } | null)?.cause;
  if (cause) return errorCode(cause);
  return "UNKNOWN";
}

function produceError(pending: Pending, code: string, error: unknown): ProduceError {
  const size = (pending.message.value?.length ?? 0) + (pending.message.key?.length ?? 0);
  if (code === "MESSAGE_TOO_LARGE" || code === "RECORD_LIST_TOO_LARGE") {
    return new ProduceError(
      pending.topic,
      code,
      `a record of ${size} bytes for ${pending.topic} is larger than the broker accepts ` +
        `(${code}: see the broker's message.max.bytes and the topic's max.message.bytes)`,
      error,
    );
  }
  if (code === "DELIVERY_TIMEOUT") {
    return new ProduceError(
      pending.topic,
      code,
      `a record for ${pending.topic} was not acknowledged in time`,
      error,
    );
  }
  return new ProduceError(
    pending.topic,
    code,
    `the broker refused a record for ${pending.topic}: ${describeError(error)}`,
    error,
  );
}
