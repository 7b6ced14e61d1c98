/**
 * Filling in a processor's options from `PROCESSOR_DEFAULTS` and checking every value, so
 * that mistakes surface at creation, before any connection.
 *
 * @module
 */

import { type Backoff, resolveBackoff } from "../actors/backoff.ts";
import type { RetryPolicy } from "../actors/attempts.ts";
import { type ConnectionOptions, parseBrokers } from "../kafka/client.ts";
import { type Codec, type CodecSpec, type Decoded, resolveCodec } from "../kafka/codec.ts";
import { ConfigError, NonRetriableError } from "../kafka/errors.ts";
import { booleanOption, choiceOption, guardOption, integerOption } from "../kafka/option_values.ts";
import { PROCESSOR_DEFAULTS, type ProcessorDefaults } from "./defaults.ts";
import type { Handler } from "./handler_context.ts";
import type {
  ConsumerSettings,
  DeadLetterOption,
  Ordering,
  PartitionAssignerName,
  ProcessorOptions,
  RetryOptions,
} from "./options.ts";

/** Output codecs (consume-transform-produce). */
export interface OutputCodecs {
  readonly keyCodec: Codec<unknown>;
  readonly valueCodec: Codec<unknown>;
}

/** The resolved options that are plain values, typed as their defaults are. */
type PlainOptions = Pick<
  ProcessorDefaults,
  | "fromBeginning"
  | "offsetMetadataMaxBytes"
  | "mailboxCapacity"
  | "commitIntervalMs"
  | "maxUncommitted"
  | "autoCommit"
  | "shutdownTimeoutMs"
  | "connectTimeoutMs"
  | "topicRefreshMs"
  | "measureProcessingTime"
>;

/** {@linkcode ProcessorOptions} with every default filled in and every value checked. */
export interface ResolvedProcessorOptions<K, V> extends PlainOptions {
  readonly connection: ConnectionOptions & { brokers: string[]; clientId: string };
  readonly groupId: string;
  readonly topics: (string | RegExp)[];
  readonly handler: Handler<K, V>;
  readonly keyCodec: Codec<K>;
  readonly valueCodec: Codec<V>;
  readonly ordering: Ordering;
  readonly partitionAssigner: PartitionAssignerName;
  readonly output: OutputCodecs | null;
  readonly exactlyOnce: { maxMessages: number; transactionalIdPrefix: string } | null;
  readonly concurrency: number;
  readonly maxInFlight: number | null;
  readonly mailboxLowWatermark: number;
  readonly restart: { maxRestarts: number; withinMs: number; backoff: Backoff };
  readonly retry: RetryPolicy;
  readonly retryByTopic: ReadonlyMap<string, RetryPolicy>;
  readonly deadLetter: ((topic: string) => string) | null;
  readonly consumer: Required<Omit<ConsumerSettings, "rackId">> & { rackId: string | undefined };
}

/**
 * The default verdict on an error: a malformed message (a `DecodeError`) and the handler's
 * own "do not retry" (a `NonRetriableError`) are final; everything else is worth a retry.
 *
 * @example
 * ```ts
 * import { isRetriable } from "./resolve_options.ts";
 * console.log(isRetriable(new Error("timeout"))); // true
 * ```
 */
export function isRetriable(error: unknown): boolean {
  const decodeError = error instanceof Error && error.name === "DecodeError";
  return !(decodeError || error instanceof NonRetriableError);
}

function resolveRetry(options: RetryOptions, name: string): RetryPolicy {
  if (options.retriable !== undefined && typeof options.retriable !== "function") {
    throw new ConfigError(`${name}.retriable`, "must be a function (error) => boolean");
  }
  const defaults = PROCESSOR_DEFAULTS.retry;
  return {
    maxAttempts: integerOption(options.maxAttempts, `${name}.maxAttempts`, 1, defaults.maxAttempts),
    backoff: guardOption(
      `${name}.backoff`,
      () => resolveBackoff(options.backoff, `${name}.backoff`, defaults.backoff),
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

function resolveTopics(topics: ProcessorOptions["topics"] | undefined): (string | RegExp)[] {
  const list = topics === undefined
    ? []
    : Array.isArray(topics)
    ? [...topics]
    : [topics as string | RegExp];
  if (list.length === 0) {
    throw new ConfigError("topics", "must name at least one topic (a string or a RegExp)");
  }
  for (const topic of list) {
    if (!(topic instanceof RegExp) && (typeof topic !== "string" || topic.trim() === "")) {
      throw new ConfigError(
        "topics",
        `each topic must be a non-empty string or a RegExp, got ${JSON.stringify(topic)}`,
      );
    }
  }
  return list;
}

/** The required options and the connection. */
function resolveBasics<KC extends CodecSpec, VC extends CodecSpec>(
  options: ProcessorOptions<KC, VC>,
) {
  if (options === null || typeof options !== "object") {
    throw new ConfigError("options", "createProcessor needs an options object");
  }
  const brokers = guardOption("brokers", () => parseBrokers(options.brokers));
  if (typeof options.groupId !== "string" || options.groupId.trim() === "") {
    throw new ConfigError("groupId", "must be a non-empty string (the consumer group id)");
  }
  const topics = resolveTopics(options.topics);
  if (typeof options.handler !== "function") {
    throw new ConfigError(
      "handler",
      "must be a function (message, context) => void | Promise<void>",
    );
  }
  if (
    options.clientId !== undefined && (typeof options.clientId !== "string" || !options.clientId)
  ) {
    throw new ConfigError("clientId", "must be a non-empty string");
  }
  return {
    connection: {
      brokers,
      clientId: options.clientId ?? PROCESSOR_DEFAULTS.clientId,
      ssl: options.ssl,
      sasl: options.sasl,
      connectionTimeout: options.connectionTimeout,
      requestTimeout: options.requestTimeout,
      clientRetry: options.clientRetry,
    },
    groupId: options.groupId,
    topics,
    handler: options.handler as Handler<Decoded<KC>, Decoded<VC>>,
    fromBeginning: booleanOption(
      options.fromBeginning,
      "fromBeginning",
      PROCESSOR_DEFAULTS.fromBeginning,
    ),
    keyCodec: guardOption(
      "keyCodec",
      () => resolveCodec(options.keyCodec ?? PROCESSOR_DEFAULTS.keyCodec, "keyCodec"),
    ) as Codec<Decoded<KC>>,
    valueCodec: guardOption(
      "valueCodec",
      () => resolveCodec(options.valueCodec ?? PROCESSOR_DEFAULTS.valueCodec, "valueCodec"),
    ) as Codec<Decoded<VC>>,
  };
}

/** Ordering, the partition assigner, concurrency and the in-flight limits. */
function resolveParallelism(options: ProcessorOptions<CodecSpec, CodecSpec>) {
  const ordering = choiceOption<Ordering>(
    options.ordering,
    "ordering",
    ["partition", "key", "unordered"],
    PROCESSOR_DEFAULTS.ordering,
  );
  const lanes = ordering !== "partition";
  const concurrency = integerOption(
    options.concurrency,
    "concurrency",
    1,
    lanes ? PROCESSOR_DEFAULTS.laneConcurrency : 1,
  );
  if (!lanes && concurrency !== 1) {
    throw new ConfigError(
      "concurrency",
      'needs ordering "key" or "unordered" (a partition processes one message at a time)',
    );
  }
  const partitionAssigner = options.partitionAssigner ?? PROCESSOR_DEFAULTS.partitionAssigner;
  if (partitionAssigner !== "sticky" && partitionAssigner !== "round-robin") {
    throw new ConfigError(
      "partitionAssigner",
      `must be "sticky" or "round-robin", got ${JSON.stringify(partitionAssigner)}`,
    );
  }
  return {
    ordering,
    partitionAssigner,
    concurrency,
    maxInFlight: options.maxInFlight === undefined
      ? PROCESSOR_DEFAULTS.maxInFlight
      : integerOption(options.maxInFlight, "maxInFlight", 1, 1),
    offsetMetadataMaxBytes: integerOption(
      options.offsetMetadataMaxBytes,
      "offsetMetadataMaxBytes",
      64,
      PROCESSOR_DEFAULTS.offsetMetadataMaxBytes,
    ),
  };
}

/** Exactly once, and the output codecs of consume-transform-produce. */
function resolveOutputs(options: ProcessorOptions<CodecSpec, CodecSpec>, ordering: Ordering) {
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
    maxMessages: integerOption(
      eos === true ? undefined : eos.maxMessages,
      "exactlyOnce.maxMessages",
      1,
      PROCESSOR_DEFAULTS.transactionMaxMessages,
    ),
    transactionalIdPrefix: options.transactionalIdPrefix ?? options.groupId,
  };
  const output = options.output ?? (exactlyOnce ? true : false);
  if (output !== false && output !== true && (output === null || typeof output !== "object")) {
    throw new ConfigError(
      "output",
      `must be true, false or { keyCodec, valueCodec }, got ${JSON.stringify(output)}`,
    );
  }
  if (output === false && exactlyOnce) {
    throw new ConfigError("output", "cannot be false with exactlyOnce: transactions carry outputs");
  }
  const codecs: OutputCodecs | null = output === false ? null : {
    keyCodec: guardOption(
      "output.keyCodec",
      () =>
        resolveCodec(output === true ? "string" : output.keyCodec ?? "string", "output.keyCodec"),
    ) as Codec<unknown>,
    valueCodec: guardOption(
      "output.valueCodec",
      () =>
        resolveCodec(output === true ? "json" : output.valueCodec ?? "json", "output.valueCodec"),
    ) as Codec<unknown>,
  };
  return { exactlyOnce, output: codecs };
}

/** Mailboxes, restarts, retries and dead letters. */
function resolveSupervision(options: ProcessorOptions<CodecSpec, CodecSpec>) {
  const mailboxCapacity = integerOption(
    options.mailboxCapacity,
    "mailboxCapacity",
    1,
    PROCESSOR_DEFAULTS.mailboxCapacity,
  );
  const mailboxLowWatermark = integerOption(
    options.mailboxLowWatermark,
    "mailboxLowWatermark",
    0,
    Math.floor(mailboxCapacity * PROCESSOR_DEFAULTS.mailboxLowWatermarkShare),
  );
  if (mailboxLowWatermark >= mailboxCapacity) {
    throw new ConfigError(
      "mailboxLowWatermark",
      `must be below mailboxCapacity (${mailboxCapacity})`,
    );
  }
  const restart = options.restart ?? {};
  const defaults = PROCESSOR_DEFAULTS.restart;
  const retryByTopic = new Map<string, RetryPolicy>();
  for (const [topic, topicRetry] of Object.entries(options.retryByTopic ?? {})) {
    retryByTopic.set(
      topic,
      resolveRetry({ ...options.retry, ...topicRetry }, `retryByTopic.${topic}`),
    );
  }
  return {
    mailboxCapacity,
    mailboxLowWatermark,
    restart: {
      maxRestarts: integerOption(
        restart.maxRestarts,
        "restart.maxRestarts",
        0,
        defaults.maxRestarts,
      ),
      withinMs: integerOption(restart.withinMs, "restart.withinMs", 1, defaults.withinMs),
      backoff: guardOption(
        "restart.backoff",
        () => resolveBackoff(restart.backoff, "restart.backoff", defaults.backoff),
      ),
    },
    retry: resolveRetry(options.retry ?? {}, "retry"),
    retryByTopic,
    deadLetter: resolveDeadLetter(options.deadLetter),
  };
}

/** Commits, timeouts and metrics. */
function resolveTiming(options: ProcessorOptions<CodecSpec, CodecSpec>) {
  const d = PROCESSOR_DEFAULTS;
  return {
    commitIntervalMs: integerOption(
      options.commitIntervalMs,
      "commitIntervalMs",
      1,
      d.commitIntervalMs,
    ),
    maxUncommitted: integerOption(options.maxUncommitted, "maxUncommitted", 1, d.maxUncommitted),
    autoCommit: booleanOption(options.autoCommit, "autoCommit", d.autoCommit),
    shutdownTimeoutMs: integerOption(
      options.shutdownTimeoutMs,
      "shutdownTimeoutMs",
      0,
      d.shutdownTimeoutMs,
    ),
    connectTimeoutMs: integerOption(
      options.connectTimeoutMs,
      "connectTimeoutMs",
      1,
      d.connectTimeoutMs,
    ),
    topicRefreshMs: integerOption(options.topicRefreshMs, "topicRefreshMs", 1, d.topicRefreshMs),
    measureProcessingTime: booleanOption(
      options.measureProcessingTime,
      "measureProcessingTime",
      d.measureProcessingTime,
    ),
  };
}

/** The KafkaJS consumer settings. */
function resolveConsumer(settings: ConsumerSettings = {}): ResolvedProcessorOptions<
  unknown,
  unknown
>["consumer"] {
  const d = PROCESSOR_DEFAULTS.consumer;
  const at = (name: keyof typeof d & keyof ConsumerSettings, min: number) =>
    integerOption(settings[name], `consumer.${name}`, min, d[name] as number);
  const consumer = {
    sessionTimeout: at("sessionTimeout", 1),
    rebalanceTimeout: at("rebalanceTimeout", 1),
    heartbeatInterval: at("heartbeatInterval", 1),
    maxBytesPerPartition: at("maxBytesPerPartition", 1),
    maxBytes: at("maxBytes", 1),
    minBytes: at("minBytes", 1),
    maxWaitTimeInMs: at("maxWaitTimeInMs", 0),
    readUncommitted: booleanOption(
      settings.readUncommitted,
      "consumer.readUncommitted",
      d.readUncommitted,
    ),
    rackId: settings.rackId,
    metadataMaxAge: at("metadataMaxAge", 0),
  };
  if (consumer.heartbeatInterval >= consumer.sessionTimeout) {
    throw new ConfigError(
      "consumer.heartbeatInterval",
      `must be below consumer.sessionTimeout (${consumer.sessionTimeout}); about a third of it is usual`,
    );
  }
  return consumer;
}

/**
 * Fills in defaults (from `PROCESSOR_DEFAULTS`) and checks every option, so that mistakes
 * surface at creation, before any connection.
 *
 * @example
 * ```ts
 * import { resolveProcessorOptions } from "./resolve_options.ts";
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
  const basics = resolveBasics(options);
  const loose = options as unknown as ProcessorOptions<CodecSpec, CodecSpec>;
  const parallelism = resolveParallelism(loose);
  return {
    ...basics,
    ...parallelism,
    ...resolveOutputs(loose, parallelism.ordering),
    ...resolveSupervision(loose),
    ...resolveTiming(loose),
    consumer: resolveConsumer(options.consumer),
  };
}
