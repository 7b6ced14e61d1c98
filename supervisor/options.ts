/**
 * The options of a processor. Their defaults are in one table, `PROCESSOR_DEFAULTS`
 * (`defaults.ts`); `resolve_options.ts` fills them in and checks every value.
 *
 * @module
 */

import type { BackoffOptions } from "../actors/backoff.ts";
import type { RestartIntensityOptions } from "../actors/restart_intensity.ts";
import type { ConnectionOptions } from "../kafka/client.ts";
import type { CodecSpec, Decoded } from "../kafka/codec.ts";
import type { Handler } from "./handler_context.ts";

/**
 * KafkaJS consumer settings troupe passes through. Every field is optional; the defaults are
 * `PROCESSOR_DEFAULTS.consumer`.
 */
export interface ConsumerSettings {
  /**
   * Session timeout, ms: how long the group waits for a member that stopped heartbeating.
   * Default: `PROCESSOR_DEFAULTS.consumer.sessionTimeout` (shorter than KafkaJS's).
   */
  sessionTimeout?: number;
  /** Rebalance timeout, ms. Default: `PROCESSOR_DEFAULTS.consumer.rebalanceTimeout`. */
  rebalanceTimeout?: number;
  /**
   * Heartbeat interval, ms (below the session timeout; a third of it is usual). Default:
   * `PROCESSOR_DEFAULTS.consumer.heartbeatInterval`.
   */
  heartbeatInterval?: number;
  /** Most bytes fetched per partition per request. Default: `PROCESSOR_DEFAULTS.consumer`. */
  maxBytesPerPartition?: number;
  /** Most bytes fetched per request. Default: `PROCESSOR_DEFAULTS.consumer.maxBytes`. */
  maxBytes?: number;
  /** Least bytes the broker waits for before answering a fetch. Default: `PROCESSOR_DEFAULTS`. */
  minBytes?: number;
  /**
   * Longest a fetch waits for data, ms. It also bounds how late a partition whose mailbox
   * drained is fetched again. Default: `PROCESSOR_DEFAULTS.consumer.maxWaitTimeInMs` (far
   * shorter than KafkaJS's, for prompt resumes under backpressure).
   */
  maxWaitTimeInMs?: number;
  /** Read uncommitted transactional records. Default: read committed only. */
  readUncommitted?: boolean;
  /** Rack id for fetching from the closest replica. Default: none. */
  rackId?: string;
  /** Metadata refresh interval, ms. Default: `PROCESSOR_DEFAULTS.consumer.metadataMaxAge`. */
  metadataMaxAge?: number;
}

/** How the supervisor restarts a crashed actor, and when it gives up. */
export interface RestartOptions extends RestartIntensityOptions {
  /** Delay between a crash and the restart. Default: `PROCESSOR_DEFAULTS.restart.backoff`. */
  backoff?: BackoffOptions;
}

/** How an actor retries a failing message before it crashes. */
export interface RetryOptions {
  /**
   * Tries per message, the first included; 1 means no retry. Default:
   * `PROCESSOR_DEFAULTS.retry.maxAttempts` (no retry: the restart tries again after a backoff).
   */
  maxAttempts?: number;
  /** Delays between tries. Default: `PROCESSOR_DEFAULTS.retry.backoff`. */
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
 * How a group spreads partitions over its members: `"sticky"` keeps every partition with its
 * owner while it stays in the group and moves only what is orphaned or what balance demands;
 * `"round-robin"` is KafkaJS's own assigner, which may move every partition at every re-join.
 */
export type PartitionAssignerName = "sticky" | "round-robin";

/**
 * Where messages go that cannot be processed: `true` for `<topic>.dlq`, a topic name, or a
 * function of the original topic. `false` for none.
 */
export type DeadLetterOption = boolean | string | ((topic: string) => string);

/**
 * Options of `createProcessor`. `brokers`, `groupId`, `topics` and `handler` are required;
 * every other field defaults to its entry in `PROCESSOR_DEFAULTS`.
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
  /** With no committed offset, start from the earliest (true) or the latest (false) offset. */
  fromBeginning?: boolean;
  /** Key codec: `"string"`, `"json"`, `"bytes"` or a codec object. */
  keyCodec?: KC;
  /**
   * Value codec: `"json"`, `"string"`, `"bytes"`, or a codec such as `json<Order>()` (which
   * types `message.value`).
   */
  valueCodec?: VC;
  /**
   * How messages of a partition are processed: `"partition"`, one at a time in offset order;
   * `"key"`, messages with the same key in order and different keys in parallel (all
   * messages without a key share one lane); `"unordered"`, in parallel with no order.
   */
  ordering?: Ordering;
  /**
   * How the group spreads partitions over its members. Every member of a group must use the
   * same one: a member with another gets an error when it joins. Default:
   * `PROCESSOR_DEFAULTS.partitionAssigner`.
   */
  partitionAssigner?: PartitionAssignerName;
  /**
   * Messages in flight at once per partition with `ordering: "key"` or `"unordered"`.
   * Default: `PROCESSOR_DEFAULTS.laneConcurrency` (must be 1 with `"partition"`).
   */
  concurrency?: number;
  /** Messages in flight at once across the whole processor. Default: no limit. */
  maxInFlight?: number;
  /**
   * The broker's limit on offset-commit metadata (`offset.metadata.max.bytes`), in which
   * `"key"` and `"unordered"` modes record the offsets completed beyond the commit point.
   * When a partition's completions would not fit, its actor takes no new messages until the
   * commit point moves. Default: Kafka's own default.
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
   * committed every `commitIntervalMs` or `maxMessages` messages (default:
   * `PROCESSOR_DEFAULTS.transactionMaxMessages`); a crash aborts the open transaction and the
   * partition resumes from its last commit. Readers of the outputs must read committed records
   * only (KafkaJS's default). Needs `ordering: "partition"`. Default: off.
   */
  exactlyOnce?: boolean | { maxMessages?: number };
  /** Prefix of the transactional ids (`<prefix>-<topic>-<partition>`). Default: the group id. */
  transactionalIdPrefix?: string;
  /** Messages a partition's mailbox holds before its fetching pauses. */
  mailboxCapacity?: number;
  /**
   * Mailbox size at or below which a paused partition is fetched again. Default:
   * `PROCESSOR_DEFAULTS.mailboxLowWatermarkShare` of the capacity.
   */
  mailboxLowWatermark?: number;
  /** Restart policy of crashed actors. Default: `PROCESSOR_DEFAULTS.restart`. */
  restart?: RestartOptions;
  /**
   * Retries of a failing message inside its actor, before it crashes (or is dead-lettered).
   * Default: `PROCESSOR_DEFAULTS.retry`.
   */
  retry?: RetryOptions;
  /** Per-topic overrides of `retry`, by topic name. */
  retryByTopic?: Record<string, RetryOptions>;
  /**
   * Dead-letter topic for messages whose retries are exhausted, or that cannot be decoded or
   * are marked not retriable: their key, value and headers are produced there with headers
   * naming the original topic, partition, offset, timestamp, attempts and error, and only once
   * the broker acknowledged that record is the original committed past. `true` means
   * `<topic>.dlq`. Default: none (exhausted retries crash the actor, and the restart policy
   * applies).
   */
  deadLetter?: DeadLetterOption;
  /** How often processed offsets are committed, ms. */
  commitIntervalMs?: number;
  /**
   * Messages a partition may process beyond its last commit. There, a commit starts at once
   * and the partition's actor waits for it: while Kafka cannot take commits (an outage), work
   * that a crash would have redone stops piling up. Applies with `autoCommit` only.
   */
  maxUncommitted?: number;
  /**
   * Commit processed offsets by itself (on the interval, at rebalances and on stop). With
   * false, offsets are committed only when you call `processor.commit()`.
   */
  autoCommit?: boolean;
  /** How long `stop()` waits for the messages in hand, ms. */
  shutdownTimeoutMs?: number;
  /** How long `start()` tries to reach the brokers before failing, ms. */
  connectTimeoutMs?: number;
  /**
   * How often the subscription looks for new matching topics (a RegExp), new partitions and
   * deleted topics, ms.
   */
  topicRefreshMs?: number;
  /** KafkaJS consumer settings. */
  consumer?: ConsumerSettings;
  /**
   * Time every handler attempt into a histogram (`processor.status().processingTime`), for
   * metrics. Costs two clock reads per message.
   */
  measureProcessingTime?: boolean;
}
