/**
 * The producer's options: what can be set ({@linkcode ProducerOptions}), the defaults in one
 * table ({@linkcode PRODUCER_DEFAULTS}), and the checked, filled-in result.
 *
 * @module
 */

import { type ConnectionOptions, parseBrokers } from "./client.ts";
import { type Codec, type CodecSpec, resolveCodec } from "./codec.ts";
import { ConfigError } from "./errors.ts";
import { booleanOption, choiceOption, guardOption, integerOption } from "./option_values.ts";
import type { SendQueueLimits } from "./send_queue.ts";

/**
 * Options of `createProducer`. Only `brokers` is required; every default is in
 * {@linkcode PRODUCER_DEFAULTS}.
 *
 * @typeParam KC The key codec (its name or object); keys are of its decoded type.
 * @typeParam VC The value codec (its name or object); values are of its decoded type.
 */
export interface ProducerOptions<KC extends CodecSpec = "string", VC extends CodecSpec = "bytes">
  extends ConnectionOptions {
  /** Key codec. Default: `PRODUCER_DEFAULTS.keyCodec`. */
  keyCodec?: KC;
  /**
   * Value codec: `"json"`, `"string"`, `"bytes"`, or a codec such as `json<Order>()`.
   * Default: `PRODUCER_DEFAULTS.valueCodec`.
   */
  valueCodec?: VC;
  /**
   * Idempotent delivery: retries cannot duplicate or reorder records. Requires `acks: "all"`.
   * Default: `PRODUCER_DEFAULTS.idempotent`.
   */
  idempotent?: boolean;
  /**
   * Acknowledgement required: `"all"` in-sync replicas, `1` the leader, `0` none.
   * Default: `PRODUCER_DEFAULTS.acks`.
   */
  acks?: "all" | 1 | 0;
  /**
   * How long a send waits for others to share its request, ms. Concurrent sends within this
   * window go in one request. Default: `PRODUCER_DEFAULTS.lingerMs`.
   */
  lingerMs?: number;
  /** Most records per request. Default: `PRODUCER_DEFAULTS.maxBatchRecords`. */
  maxBatchRecords?: number;
  /**
   * Bytes of queued records (keys, values, headers) that make a request full: it goes at once,
   * without waiting out `lingerMs`, as a full batch does in Kafka's own producer. What queues
   * while a request is in flight still goes in the next one, up to `maxBatchRecords`.
   * Default: `PRODUCER_DEFAULTS.batchBytes`.
   */
  batchBytes?: number;
  /**
   * Requests in flight at once. Default: `PRODUCER_DEFAULTS.maxInFlightIdempotent` for an
   * idempotent producer (KafkaJS sends its requests one at a time per broker anyway, so more
   * would only split batches), else `PRODUCER_DEFAULTS.maxInFlight`.
   */
  maxInFlight?: number;
  /** Records buffered before `send` waits for room. Default: `PRODUCER_DEFAULTS.bufferRecords`. */
  bufferRecords?: number;
  /**
   * Compression: `"none"` or `"gzip"` (the one KafkaJS has built in).
   * Default: `PRODUCER_DEFAULTS.compression`.
   */
  compression?: "none" | "gzip";
  /**
   * How long a send may take, retries included, before it fails, ms.
   * Default: `PRODUCER_DEFAULTS.deliveryTimeoutMs`.
   */
  deliveryTimeoutMs?: number;
  /**
   * Largest record (key, value and headers) accepted, bytes; a larger one fails at once with a
   * `MESSAGE_TOO_LARGE` `ProduceError`, before it can share a request with others.
   * Default: `PRODUCER_DEFAULTS.maxRecordBytes` (the broker's default `message.max.bytes` is
   * 1 048 588).
   */
  maxRecordBytes?: number;
}

/** The shape of {@linkcode PRODUCER_DEFAULTS}. */
export interface ProducerDefaults {
  /** Key codec. */
  readonly keyCodec: "string";
  /** Value codec. */
  readonly valueCodec: "bytes";
  /** Idempotent delivery. */
  readonly idempotent: boolean;
  /** Acknowledgement required. */
  readonly acks: "all";
  /** Linger, ms. */
  readonly lingerMs: number;
  /** Most records per request. */
  readonly maxBatchRecords: number;
  /** Queued bytes that send a request at once. */
  readonly batchBytes: number;
  /** Requests in flight, idempotent producer. */
  readonly maxInFlightIdempotent: number;
  /** Requests in flight, other producers. */
  readonly maxInFlight: number;
  /** Records buffered before `send` waits. */
  readonly bufferRecords: number;
  /** Compression. */
  readonly compression: "none";
  /** Delivery timeout, ms. */
  readonly deliveryTimeoutMs: number;
  /** Largest record accepted, bytes. */
  readonly maxRecordBytes: number;
}

/**
 * The defaults of every producer option, in one table: the producer fills its options in
 * from it and the options' documentation points at it.
 *
 * @example
 * ```ts
 * import { PRODUCER_DEFAULTS } from "./producer_options.ts";
 * console.log(PRODUCER_DEFAULTS.lingerMs); // 5
 * ```
 */
export const PRODUCER_DEFAULTS: ProducerDefaults = Object.freeze({
  keyCodec: "string",
  valueCodec: "bytes",
  idempotent: true,
  acks: "all",
  lingerMs: 5,
  maxBatchRecords: 10_000,
  // Kafka's batch.size is 16 KiB per partition; 256 KiB is that for 16 partitions. Measured with
  // 50 tasks keeping 5,000 records of 100 bytes outstanding: without it each round waited out the
  // linger after the acknowledgement that released the tasks, and troupe trailed raw KafkaJS.
  batchBytes: 262_144,
  maxInFlightIdempotent: 1,
  maxInFlight: 5,
  bufferRecords: 100_000,
  compression: "none",
  deliveryTimeoutMs: 120_000,
  // Below the broker's default `message.max.bytes` (1 048 588), with room for the batch header.
  maxRecordBytes: 1_000_000,
});

/** {@linkcode ProducerOptions} checked, with every default filled in. */
export interface ResolvedProducerOptions<K, V> {
  /** How to reach Kafka. */
  readonly connection: ConnectionOptions;
  /** Key codec. */
  readonly keyCodec: Codec<K>;
  /** Value codec. */
  readonly valueCodec: Codec<V>;
  /** Idempotent delivery. */
  readonly idempotent: boolean;
  /** Acknowledgement as Kafka counts it: -1 for all in-sync replicas. */
  readonly acks: -1 | 0 | 1;
  /** The send queue's limits. */
  readonly queue: SendQueueLimits;
  /** Compression. */
  readonly compression: "none" | "gzip";
  /** Delivery timeout, ms. */
  readonly deliveryTimeoutMs: number;
  /** Largest record accepted, bytes. */
  readonly maxRecordBytes: number;
}

/**
 * Checks a producer's options and fills in {@linkcode PRODUCER_DEFAULTS}.
 *
 * @example
 * ```ts
 * import { resolveProducerOptions } from "./producer_options.ts";
 * const resolved = resolveProducerOptions({ brokers: "127.0.0.1:9092" });
 * console.log(resolved.acks, resolved.queue.maxInFlight); // -1 1
 * ```
 *
 * @throws {ConfigError} naming the first option that is wrong.
 */
export function resolveProducerOptions<K, V>(
  options: ProducerOptions<CodecSpec, CodecSpec>,
): ResolvedProducerOptions<K, V> {
  if (options === null || typeof options !== "object") {
    throw new ConfigError("options", "createProducer needs an options object");
  }
  const d = PRODUCER_DEFAULTS;
  guardOption("brokers", () => parseBrokers(options.brokers));
  const keyCodec = guardOption(
    "keyCodec",
    () => resolveCodec(options.keyCodec ?? d.keyCodec, "keyCodec") as Codec<K>,
  );
  const valueCodec = guardOption(
    "valueCodec",
    () => resolveCodec(options.valueCodec ?? d.valueCodec, "valueCodec") as Codec<V>,
  );
  const idempotent = booleanOption(options.idempotent, "idempotent", d.idempotent);
  const acks = choiceOption(options.acks, "acks", ["all", 1, 0] as const, d.acks);
  if (idempotent && acks !== "all") {
    throw new ConfigError(
      "acks",
      'must be "all" for an idempotent producer (set idempotent: false)',
    );
  }
  const maxInFlight = idempotent ? d.maxInFlightIdempotent : d.maxInFlight;
  return {
    connection: options,
    keyCodec,
    valueCodec,
    idempotent,
    acks: acks === "all" ? -1 : acks,
    queue: {
      lingerMs: integerOption(options.lingerMs, "lingerMs", 0, d.lingerMs),
      maxBatchRecords: integerOption(
        options.maxBatchRecords,
        "maxBatchRecords",
        1,
        d.maxBatchRecords,
      ),
      batchBytes: integerOption(options.batchBytes, "batchBytes", 1, d.batchBytes),
      maxInFlight: integerOption(options.maxInFlight, "maxInFlight", 1, maxInFlight),
      bufferRecords: integerOption(options.bufferRecords, "bufferRecords", 1, d.bufferRecords),
    },
    compression: choiceOption(
      options.compression,
      "compression",
      ["none", "gzip"] as const,
      d.compression,
    ),
    deliveryTimeoutMs: integerOption(
      options.deliveryTimeoutMs,
      "deliveryTimeoutMs",
      1,
      d.deliveryTimeoutMs,
    ),
    maxRecordBytes: integerOption(options.maxRecordBytes, "maxRecordBytes", 1, d.maxRecordBytes),
  };
}
