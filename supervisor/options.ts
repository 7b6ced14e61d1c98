/**
 * The options of a processor, their defaults, and their validation.
 *
 * @module
 */

import { type Backoff, type BackoffOptions, resolveBackoff } from "../actors/backoff.ts";
import type { RestartIntensityOptions } from "../actors/restart_intensity.ts";
import { type ConnectionOptions, parseBrokers } from "../kafka/client.ts";
import { type Codec, type CodecSpec, type Decoded, resolveCodec } from "../kafka/codec.ts";
import { ConfigError, NonRetriableError } from "../kafka/errors.ts";
import type { Message } from "../kafka/message.ts";

/** Where a handler logs: LogTape's `troupe.handler` category (a subset of its `Logger`). */
export interface HandlerLogger {
  /** Logs at debug level; `{name}` placeholders are filled from `properties`. */
  debug(message: string, properties?: Record<string, unknown>): void;
  /** Logs at info level. */
  info(message: string, properties?: Record<string, unknown>): void;
  /** Logs at warning level. */
  warn(message: string, properties?: Record<string, unknown>): void;
  /** Logs at error level. */
  error(message: string, properties?: Record<string, unknown>): void;
}

/**
 * What a handler gets besides the message. One context object serves all the messages of a
 * partition's actor; read it during the call, do not keep it.
 */
export interface HandlerContext {
  /** Topic of the partition. */
  readonly topic: string;
  /** The partition. */
  readonly partition: number;
  /** 1 on the first try of this message, 2 on the first retry, and so on. */
  readonly attempt: number;
  /**
   * Aborted when the processor or the partition is shutting down and the deadline for the
   * message in hand has passed: pass it to `fetch` and the like to stop in time.
   */
  readonly signal: AbortSignal;
  /** A logger in the `troupe.handler` category. */
  readonly log: HandlerLogger;
  /**
   * Sends an output record as part of this message's processing (with `output` or
   * `exactlyOnce` set): the message counts as done only once every record it sent was
   * acknowledged (or, with `exactlyOnce`, is in the partition's open transaction).
   */
  send(record: OutputRecord): Promise<void>;
}

/** A record a handler emits, for any topic; encoded with the `output` codecs. */
export interface OutputRecord {
  /** Target topic. */
  topic: string;
  /** Key (records with the same key go to the same partition). */
  key?: unknown;
  /** Value; `null` is a tombstone. */
  value: unknown;
  /** Explicit partition. */
  partition?: number;
  /** Headers. */
  headers?: Record<string, string | Uint8Array | (string | Uint8Array)[]>;
  /** Timestamp, ms since the epoch. */
  timestamp?: number;
}

/** What a handler may return: nothing, or output records (with `output` or `exactlyOnce`). */
export type HandlerResult = void | OutputRecord | readonly OutputRecord[];

/**
 * Processes one message. Return (or resolve) when it is done: only then is its offset
 * committable. Throw (or reject) to fail: the message is retried, then the actor crashes and
 * is restarted on the same message. With `output` (or `exactlyOnce`) set, it may return
 * output records; they are produced before the message counts as done.
 *
 * @typeParam K Decoded key type.
 * @typeParam V Decoded value type.
 */
export type Handler<K, V> = (
  message: Message<K, V>,
  context: HandlerContext,
) => HandlerResult | Promise<HandlerResult>;

/** KafkaJS consumer settings troupe passes through. Every field is optional. */
export interface ConsumerSettings {
  /**
   * Session timeout, ms. Default: 10 000 (KafkaJS's is 30 000). troupe heartbeats however long
   * handlers take, so a short session only bounds how long the group waits for a member that
   * died, or for this one's old self after an outage.
   */
  sessionTimeout?: number;
  /** Rebalance timeout, ms. Default: 60 000. */
  rebalanceTimeout?: number;
  /** Heartbeat interval, ms (below a third of the session timeout). Default: 1 000. */
  heartbeatInterval?: number;
  /** Most bytes fetched per partition per request. Default: 1 MiB. */
  maxBytesPerPartition?: number;
  /** Most bytes fetched per request. Default: 10 MiB. */
  maxBytes?: number;
  /** Least bytes the broker waits for before answering a fetch. Default: 1. */
  minBytes?: number;
  /**
   * Longest a fetch waits for data, ms. It also bounds how late a partition whose mailbox
   * drained is fetched again: when every partition is paused, KafkaJS sleeps this long before
   * looking again. Default: 25 (KafkaJS's own default is 5 000; an idle consumer then sends
   * 40 empty fetches a second, a small price for prompt resumes under backpressure).
   */
  maxWaitTimeInMs?: number;
  /** Read uncommitted transactional records. Default: false (read committed). */
  readUncommitted?: boolean;
  /** Rack id for fetching from the closest replica. Default: none. */
  rackId?: string;
  /** Metadata refresh interval, ms. Default: 300 000. */
  metadataMaxAge?: number;
}

/** How the supervisor restarts a crashed actor, and when it gives up. */
export interface RestartOptions extends RestartIntensityOptions {
  /** Delay between a crash and the restart. Default: 500 ms doubling to 30 s, 20% jitter. */
  backoff?: BackoffOptions;
}

/** How an actor retries a failing message before it crashes. */
export interface RetryOptions {
  /** Tries per message, the first included; 1 means no retry. Default: 1. */
  maxAttempts?: number;
  /** Delays between tries. Default: 100 ms doubling to 10 s, 20% jitter. */
  backoff?: BackoffOptions;
  /**
   * Says whether an error is worth retrying. Default: every error but a `DecodeError` (a
   * malformed message stays malformed) and a `NonRetriableError` (the handler's own verdict).
   */
  retriable?: (error: unknown) => boolean;
}

/** How the messages of one partition are processed; see `ProcessorOptions.ordering`. */
export type Ordering = "partition" | "key" | "unordered";

/**
 * Where messages go that cannot be processed: `true` for `<topic>.dlq`, a topic name, or a
 * function of the original topic. `false` for none.
 */
export type DeadLetterOption = boolean | string | ((topic: string) => string);

/** {@linkcode RetryOptions} with defaults filled in. */
export interface ResolvedRetry {
  readonly maxAttempts: number;
  readonly backoff: Backoff;
  readonly retriable: (error: unknown) => boolean;
}

/**
 * Options of {@linkcode createProcessor}. `brokers`, `groupId`, `topics` and `handler` are
 * required; every other field has the default its documentation gives.
 *
 * @typeParam KC The key codec (its name or object); keys decode to its type.
 * @typeParam VC The value codec (its name or object); values decode to its type.
 */
export interface ProcessorOptions<KC extends CodecSpec = "string", VC extends CodecSpec = "bytes">
  extends ConnectionOptions {
  /** Consumer group id. Required. */
  groupId: string;
  /** Topics to read: a name, a RegExp, or a list of both. Required. */
  topics: string | RegExp | readonly (string | RegExp)[];
  /** Processes each message. Required. */
  handler: Handler<Decoded<KC>, Decoded<VC>>;
  /** With no committed offset, start from the earliest (true) or latest (false) offset. Default: false. */
  fromBeginning?: boolean;
  /** Key codec. Default: `"string"`. */
  keyCodec?: KC;
  /**
   * Value codec: `"json"`, `"string"`, `"bytes"`, or a codec such as `json<Order>()` (which
   * types `message.value`). Default: `"bytes"`.
   */
  valueCodec?: VC;
  /**
   * How messages of a partition are processed: `"partition"`, one at a time in offset order;
   * `"key"`, messages with the same key in order and different keys in parallel (all
   * messages without a key share one lane); `"unordered"`, in parallel with no order.
   * Default: `"partition"`.
   */
  ordering?: Ordering;
  /**
   * Messages in flight at once per partition with `ordering: "key"` or `"unordered"`.
   * Default: 16 (must be 1, the default, with `"partition"`).
   */
  concurrency?: number;
  /** Messages in flight at once across the whole processor. Default: no limit. */
  maxInFlight?: number;
  /**
   * The broker's limit on offset-commit metadata (`offset.metadata.max.bytes`), in which
   * `"key"` and `"unordered"` modes record the offsets completed beyond the commit point.
   * When a partition's completions would not fit, its actor takes no new messages until the
   * commit point moves. Default: 4 096.
   */
  offsetMetadataMaxBytes?: number;
  /**
   * Consume-transform-produce: handlers may return output records or `context.send` them.
   * `true` encodes keys as strings and values as JSON; or give the codecs. At-least-once: a
   * message's offset is committed only after all its outputs were acknowledged. Default: off
   * (returned values are ignored).
   */
  output?: boolean | { keyCodec?: CodecSpec; valueCodec?: CodecSpec };
  /**
   * Exactly-once consume-transform-produce: each input partition's outputs and its input
   * offsets go in one Kafka transaction (one transactional producer per input partition),
   * committed every `commitIntervalMs` or `maxMessages` messages (default 1 000); a crash
   * aborts the open transaction and the partition resumes from its last commit. Readers of
   * the outputs must read committed records only (KafkaJS's default). Needs `ordering:
   * "partition"`. Default: false.
   */
  exactlyOnce?: boolean | { maxMessages?: number };
  /** Prefix of the transactional ids (`<prefix>-<topic>-<partition>`). Default: the group id. */
  transactionalIdPrefix?: string;
  /** Messages a partition's mailbox holds before its fetching pauses. Default: 1 000. */
  mailboxCapacity?: number;
  /** Mailbox size at or below which a paused partition is fetched again. Default: half the capacity. */
  mailboxLowWatermark?: number;
  /** Restart policy of crashed actors. */
  restart?: RestartOptions;
  /**
   * Retries of a failing message inside its actor, before it crashes (or is dead-lettered).
   * Default: one attempt, i.e. no retry (the supervisor's restart tries again after a backoff).
   */
  retry?: RetryOptions;
  /** Per-topic overrides of `retry`, by topic name. */
  retryByTopic?: Record<string, RetryOptions>;
  /**
   * Dead-letter topic for messages whose retries are exhausted, or that cannot be decoded or
   * are marked not retriable: their key, value and headers are produced there with headers
   * naming the original topic, partition, offset, timestamp, attempts and error, and only once
   * the broker acknowledged that record is the original committed past. `true` means
   * `<topic>.dlq`. Default: false (no dead-letter topic: exhausted retries crash the actor,
   * and the restart policy applies).
   */
  deadLetter?: DeadLetterOption;
  /** How often processed offsets are committed, ms. Default: 1 000. */
  commitIntervalMs?: number;
  /**
   * Commit processed offsets by itself (on the interval, at rebalances and on stop). With
   * false, offsets are committed only when you call `processor.commit()`. Default: true.
   */
  autoCommit?: boolean;
  /** How long `stop()` waits for the messages in hand, ms. Default: 30 000. */
  shutdownTimeoutMs?: number;
  /** How long `start()` tries to reach the brokers before failing, ms. Default: 30 000. */
  connectTimeoutMs?: number;
  /**
   * How often a subscription with a RegExp looks for new matching topics, ms. Default: 30 000.
   */
  topicRefreshMs?: number;
  /** KafkaJS consumer settings. */
  consumer?: ConsumerSettings;
  /**
   * Time every handler attempt into a histogram (`processor.status().processingTime`), for
   * metrics. Costs two clock reads per message. Default: false.
   */
  measureProcessingTime?: boolean;
}

/** {@linkcode ProcessorOptions} with every default filled in and every value checked. */
export interface ResolvedProcessorOptions<K, V> {
  readonly connection: ConnectionOptions & { brokers: string[]; clientId: string };
  readonly groupId: string;
  readonly topics: (string | RegExp)[];
  readonly handler: Handler<K, V>;
  readonly fromBeginning: boolean;
  readonly keyCodec: Codec<K>;
  readonly valueCodec: Codec<V>;
  readonly ordering: Ordering;
  readonly output: { keyCodec: Codec<unknown>; valueCodec: Codec<unknown> } | null;
  readonly exactlyOnce: { maxMessages: number; transactionalIdPrefix: string } | null;
  readonly concurrency: number;
  readonly maxInFlight: number | null;
  readonly offsetMetadataMaxBytes: number;
  readonly mailboxCapacity: number;
  readonly mailboxLowWatermark: number;
  readonly restart: { maxRestarts: number; withinMs: number; backoff: Backoff };
  readonly retry: ResolvedRetry;
  readonly retryByTopic: ReadonlyMap<string, ResolvedRetry>;
  readonly deadLetter: ((topic: string) => string) | null;
  readonly commitIntervalMs: number;
  readonly autoCommit: boolean;
  readonly shutdownTimeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly topicRefreshMs: number;
  readonly measureProcessingTime: boolean;
  readonly consumer: Required<Omit<ConsumerSettings, "rackId">> & { rackId: string | undefined };
}

function integer(value: unknown, option: string, min: number, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isInteger(value) || value < min) {
    throw new ConfigError(option, `must be an integer >= ${min}, got ${JSON.stringify(value)}`);
  }
  return value;
}

function boolean(value: unknown, option: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== "boolean") {
    throw new ConfigError(option, `must be true or false, got ${JSON.stringify(value)}`);
  }
  return value;
}

function guard<T>(option: string, build: () => T): T {
  try {
    return build();
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    throw new ConfigError(option, error instanceof Error ? error.message : String(error));
  }
}

const isDecodeError = (error: unknown) => error instanceof Error && error.name === "DecodeError";

/** The default verdict: a malformed message or the handler's own "do not retry" is final. */
export function isRetriable(error: unknown): boolean {
  return !(isDecodeError(error) || error instanceof NonRetriableError);
}

function resolveRetry(options: RetryOptions, name: string): ResolvedRetry {
  if (options.retriable !== undefined && typeof options.retriable !== "function") {
    throw new ConfigError(`${name}.retriable`, "must be a function (error) => boolean");
  }
  return {
    maxAttempts: integer(options.maxAttempts, `${name}.maxAttempts`, 1, 1),
    backoff: guard(
      `${name}.backoff`,
      () =>
        resolveBackoff({ initialMs: 100, maxMs: 10_000, ...options.backoff }, `${name}.backoff`),
    ),
    retriable: options.retriable ?? isRetriable,
  };
}

function resolveDeadLetter(
  option: DeadLetterOption | undefined,
): ((topic: string) => string) | null {
  if (option === undefined || option === false) return null;
  if (option === true) return (topic) => `${topic}.dlq`;
  if (typeof option === "string" && option.trim() !== "") return () => option;
  if (typeof option === "function") return option;
  throw new ConfigError(
    "deadLetter",
    `must be true, false, a topic name or a function of the topic, got ${JSON.stringify(option)}`,
  );
}

/**
 * Fills in defaults and checks every option, so that mistakes surface at creation, before
 * any connection.
 *
 * @example
 * ```ts
 * import { resolveProcessorOptions } from "./options.ts";
 * const resolved = resolveProcessorOptions({
 *   brokers: "127.0.0.1:9092",
 *   groupId: "billing",
 *   topics: "orders",
 *   handler: () => {},
 * });
 * console.log(resolved.mailboxCapacity); // 1000
 * ```
 *
 * @throws {ConfigError} naming the first invalid option.
 */
export function resolveProcessorOptions<KC extends CodecSpec, VC extends CodecSpec>(
  options: ProcessorOptions<KC, VC>,
): ResolvedProcessorOptions<Decoded<KC>, Decoded<VC>> {
  if (options === null || typeof options !== "object") {
    throw new ConfigError("options", "createProcessor needs an options object");
  }
  const brokers = guard("brokers", () => parseBrokers(options.brokers));
  if (typeof options.groupId !== "string" || options.groupId.trim() === "") {
    throw new ConfigError("groupId", "must be a non-empty string (the consumer group id)");
  }
  const topicList = options.topics === undefined
    ? []
    : Array.isArray(options.topics)
    ? [...options.topics]
    : [options.topics as string | RegExp];
  if (topicList.length === 0) {
    throw new ConfigError("topics", "must name at least one topic (a string or a RegExp)");
  }
  for (const topic of topicList) {
    if (!(topic instanceof RegExp) && (typeof topic !== "string" || topic.trim() === "")) {
      throw new ConfigError(
        "topics",
        `each topic must be a non-empty string or a RegExp, got ${JSON.stringify(topic)}`,
      );
    }
  }
  if (typeof options.handler !== "function") {
    throw new ConfigError(
      "handler",
      "must be a function (message, context) => void | Promise<void>",
    );
  }
  if (options.fromBeginning !== undefined && typeof options.fromBeginning !== "boolean") {
    throw new ConfigError(
      "fromBeginning",
      `must be a boolean, got ${JSON.stringify(options.fromBeginning)}`,
    );
  }
  if (
    options.clientId !== undefined && (typeof options.clientId !== "string" || !options.clientId)
  ) {
    throw new ConfigError("clientId", "must be a non-empty string");
  }

  const ordering = options.ordering ?? "partition";
  if (ordering !== "partition" && ordering !== "key" && ordering !== "unordered") {
    throw new ConfigError(
      "ordering",
      `must be "partition", "key" or "unordered", got ${JSON.stringify(ordering)}`,
    );
  }
  const concurrency = integer(
    options.concurrency,
    "concurrency",
    1,
    ordering === "partition" ? 1 : 16,
  );
  if (ordering === "partition" && concurrency !== 1) {
    throw new ConfigError(
      "concurrency",
      'needs ordering "key" or "unordered" (a partition processes one message at a time)',
    );
  }
  const eos = options.exactlyOnce ?? false;
  if (eos !== false && eos !== true && (eos === null || typeof eos !== "object")) {
    throw new ConfigError(
      "exactlyOnce",
      `must be true, false or { maxMessages }, got ${JSON.stringify(eos)}`,
    );
  }
  if (eos !== false && ordering !== "partition") {
    throw new ConfigError(
      "exactlyOnce",
      'needs ordering "partition" (one transaction at a time per input partition)',
    );
  }
  const exactlyOnce = eos === false ? null : {
    maxMessages: integer(
      eos === true ? undefined : eos.maxMessages,
      "exactlyOnce.maxMessages",
      1,
      1000,
    ),
    transactionalIdPrefix: options.transactionalIdPrefix ?? options.groupId,
  };
  const outputOption = options.output ?? (exactlyOnce ? true : false);
  if (
    outputOption !== false && outputOption !== true &&
    (outputOption === null || typeof outputOption !== "object")
  ) {
    throw new ConfigError(
      "output",
      `must be true, false or { keyCodec, valueCodec }, got ${JSON.stringify(outputOption)}`,
    );
  }
  if (outputOption === false && exactlyOnce) {
    throw new ConfigError("output", "cannot be false with exactlyOnce: transactions carry outputs");
  }
  const output = outputOption === false ? null : {
    keyCodec: guard(
      "output.keyCodec",
      () =>
        resolveCodec(
          outputOption === true ? "string" : outputOption.keyCodec ?? "string",
          "output.keyCodec",
        ),
    ),
    valueCodec: guard(
      "output.valueCodec",
      () =>
        resolveCodec(
          outputOption === true ? "json" : outputOption.valueCodec ?? "json",
          "output.valueCodec",
        ),
    ),
  } as { keyCodec: Codec<unknown>; valueCodec: Codec<unknown> };
  const maxInFlight = options.maxInFlight === undefined
    ? null
    : integer(options.maxInFlight, "maxInFlight", 1, 1);
  const offsetMetadataMaxBytes = integer(
    options.offsetMetadataMaxBytes,
    "offsetMetadataMaxBytes",
    64,
    4096,
  );
  const mailboxCapacity = integer(options.mailboxCapacity, "mailboxCapacity", 1, 1000);
  const mailboxLowWatermark = integer(
    options.mailboxLowWatermark,
    "mailboxLowWatermark",
    0,
    Math.floor(mailboxCapacity / 2),
  );
  if (mailboxLowWatermark >= mailboxCapacity) {
    throw new ConfigError(
      "mailboxLowWatermark",
      `must be below mailboxCapacity (${mailboxCapacity})`,
    );
  }

  const restartOptions = options.restart ?? {};
  const restart = {
    maxRestarts: integer(restartOptions.maxRestarts, "restart.maxRestarts", 0, 5),
    withinMs: integer(restartOptions.withinMs, "restart.withinMs", 1, 60_000),
    backoff: guard(
      "restart.backoff",
      () => resolveBackoff(restartOptions.backoff, "restart.backoff"),
    ),
  };

  const retry = resolveRetry(options.retry ?? {}, "retry");
  const retryByTopic = new Map<string, ResolvedRetry>();
  for (const [topic, topicRetry] of Object.entries(options.retryByTopic ?? {})) {
    retryByTopic.set(
      topic,
      resolveRetry({ ...options.retry, ...topicRetry }, `retryByTopic.${topic}`),
    );
  }
  const deadLetter = resolveDeadLetter(options.deadLetter);

  const settings = options.consumer ?? {};
  const consumer = {
    sessionTimeout: integer(settings.sessionTimeout, "consumer.sessionTimeout", 1, 10_000),
    rebalanceTimeout: integer(settings.rebalanceTimeout, "consumer.rebalanceTimeout", 1, 60_000),
    heartbeatInterval: integer(settings.heartbeatInterval, "consumer.heartbeatInterval", 1, 1_000),
    maxBytesPerPartition: integer(
      settings.maxBytesPerPartition,
      "consumer.maxBytesPerPartition",
      1,
      1_048_576,
    ),
    maxBytes: integer(settings.maxBytes, "consumer.maxBytes", 1, 10_485_760),
    minBytes: integer(settings.minBytes, "consumer.minBytes", 1, 1),
    maxWaitTimeInMs: integer(settings.maxWaitTimeInMs, "consumer.maxWaitTimeInMs", 0, 25),
    readUncommitted: settings.readUncommitted ?? false,
    rackId: settings.rackId,
    metadataMaxAge: integer(settings.metadataMaxAge, "consumer.metadataMaxAge", 0, 300_000),
  };
  if (consumer.heartbeatInterval >= consumer.sessionTimeout) {
    throw new ConfigError(
      "consumer.heartbeatInterval",
      `must be below consumer.sessionTimeout (${consumer.sessionTimeout}); about a third of it is usual`,
    );
  }

  return {
    connection: {
      brokers,
      clientId: options.clientId ?? "troupe",
      ssl: options.ssl,
      sasl: options.sasl,
      connectionTimeout: options.connectionTimeout,
      requestTimeout: options.requestTimeout,
      clientRetry: options.clientRetry,
    },
    groupId: options.groupId,
    topics: topicList,
    handler: options.handler,
    fromBeginning: options.fromBeginning ?? false,
    keyCodec: guard(
      "keyCodec",
      () => resolveCodec(options.keyCodec ?? "string", "keyCodec") as Codec<Decoded<KC>>,
    ),
    valueCodec: guard(
      "valueCodec",
      () => resolveCodec(options.valueCodec ?? "bytes", "valueCodec") as Codec<Decoded<VC>>,
    ),
    ordering,
    output,
    exactlyOnce,
    concurrency,
    maxInFlight,
    offsetMetadataMaxBytes,
    mailboxCapacity,
    mailboxLowWatermark,
    restart,
    retry,
    retryByTopic,
    deadLetter,
    commitIntervalMs: integer(options.commitIntervalMs, "commitIntervalMs", 1, 1_000),
    autoCommit: boolean(options.autoCommit, "autoCommit", true),
    shutdownTimeoutMs: integer(options.shutdownTimeoutMs, "shutdownTimeoutMs", 0, 30_000),
    connectTimeoutMs: integer(options.connectTimeoutMs, "connectTimeoutMs", 1, 30_000),
    topicRefreshMs: integer(options.topicRefreshMs, "topicRefreshMs", 1, 30_000),
    measureProcessingTime: options.measureProcessingTime === true,
    consumer,
  };
}
