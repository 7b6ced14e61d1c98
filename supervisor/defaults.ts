/**
 * The defaults of every processor option, in one table: `resolveProcessorOptions` fills
 * options in from it, the options' documentation points at it, and a test holds the README's
 * options table against it.
 *
 * @module
 */

import { type Backoff, DEFAULT_BACKOFF, resolveBackoff } from "../actors/backoff.ts";

/** Defaults of the KafkaJS consumer settings troupe passes through (`consumer`). */
export interface ConsumerDefaults {
  /** Session timeout, ms. */
  readonly sessionTimeout: number;
  /** Rebalance timeout, ms. */
  readonly rebalanceTimeout: number;
  /** Heartbeat interval, ms. */
  readonly heartbeatInterval: number;
  /** Most bytes fetched per partition per request. */
  readonly maxBytesPerPartition: number;
  /** Most bytes fetched per request. */
  readonly maxBytes: number;
  /** Least bytes the broker waits for before answering a fetch. */
  readonly minBytes: number;
  /** Longest a fetch waits for data, ms. */
  readonly maxWaitTimeInMs: number;
  /** Read uncommitted transactional records. */
  readonly readUncommitted: boolean;
  /** Metadata refresh interval, ms. */
  readonly metadataMaxAge: number;
}

/** Defaults of the restart policy (`restart`). */
export interface RestartDefaults {
  /** Restarts tolerated within `withinMs`. */
  readonly maxRestarts: number;
  /** The restart intensity's period, ms. */
  readonly withinMs: number;
  /** Delay between a crash and the restart. */
  readonly backoff: Backoff;
}

/** Defaults of a message's retries (`retry`). */
export interface RetryDefaults {
  /** Tries per message, the first included. */
  readonly maxAttempts: number;
  /** Delays between tries. */
  readonly backoff: Backoff;
}

/** The shape of {@linkcode PROCESSOR_DEFAULTS}. */
export interface ProcessorDefaults {
  /** Client id sent to the brokers. */
  readonly clientId: string;
  /** With no committed offset, start from the earliest offset (else the latest). */
  readonly fromBeginning: boolean;
  /** Key codec. */
  readonly keyCodec: "string";
  /** Value codec. */
  readonly valueCodec: "bytes";
  /** How messages of a partition are processed. */
  readonly ordering: "partition";
  /** How the group spreads partitions over its members. */
  readonly partitionAssigner: "sticky";
  /** Messages in flight per partition with `ordering: "key"` or `"unordered"`. */
  readonly laneConcurrency: number;
  /** Messages in flight across the processor: `null` for no limit. */
  readonly maxInFlight: null;
  /** The broker's `offset.metadata.max.bytes`, where completions beyond a commit go. */
  readonly offsetMetadataMaxBytes: number;
  /** Exactly once: messages per transaction, at most. */
  readonly transactionMaxMessages: number;
  /** Messages a partition's mailbox holds before its fetching pauses. */
  readonly mailboxCapacity: number;
  /** Share of the capacity at or below which a paused partition is fetched again. */
  readonly mailboxLowWatermarkShare: number;
  /** Restart policy of crashed actors. */
  readonly restart: RestartDefaults;
  /** Retries of a failing message inside its actor. */
  readonly retry: RetryDefaults;
  /** Dead-letter topic: none. */
  readonly deadLetter: false;
  /** How often processed offsets are committed, ms. */
  readonly commitIntervalMs: number;
  /** Messages a partition may process beyond its last commit before it waits for one. */
  readonly maxUncommitted: number;
  /** Commit processed offsets by itself. */
  readonly autoCommit: boolean;
  /** How long `stop()` waits for the messages in hand, ms. */
  readonly shutdownTimeoutMs: number;
  /** How long `start()` tries to reach the brokers, ms. */
  readonly connectTimeoutMs: number;
  /** How often a subscription looks for new topics and partitions, ms. */
  readonly topicRefreshMs: number;
  /** Time every handler attempt into a histogram. */
  readonly measureProcessingTime: boolean;
  /** KafkaJS consumer settings. */
  readonly consumer: ConsumerDefaults;
}

/**
 * Every default of `createProcessor`'s options. Where troupe departs from KafkaJS's own
 * default, the comment says why.
 *
 * @example
 * ```ts
 * import { PROCESSOR_DEFAULTS } from "./defaults.ts";
 * console.log(PROCESSOR_DEFAULTS.mailboxCapacity); // 2000
 * ```
 */
export const PROCESSOR_DEFAULTS: ProcessorDefaults = Object.freeze({
  clientId: "troupe",
  fromBeginning: false,
  keyCodec: "string",
  valueCodec: "bytes",
  ordering: "partition",
  // Round robin (KafkaJS's only assigner) may move every partition at every re-join, and the
  // work done meanwhile is then redone by another member.
  partitionAssigner: "sticky",
  laneConcurrency: 16,
  maxInFlight: null,
  // Kafka's own default for `offset.metadata.max.bytes`.
  offsetMetadataMaxBytes: 4_096,
  transactionMaxMessages: 1_000,
  // With `consumer.maxBytesPerPartition`: above one fetched batch (about 1,100 records of 100
  // bytes), so that a partition is still fetched while its actor works through the batch before,
  // and resumed with 1,000 records left, enough to cover the next fetch. At 1,000 (below one
  // batch) every batch paused its partition and fetching and handling took turns: measured, the
  // no-op run went from 0.6-0.8 of raw KafkaJS to 0.9-1.2, at the same memory bound.
  mailboxCapacity: 2_000,
  mailboxLowWatermarkShare: 0.5,
  restart: Object.freeze({ maxRestarts: 5, withinMs: 60_000, backoff: DEFAULT_BACKOFF }),
  retry: Object.freeze({
    maxAttempts: 1,
    backoff: resolveBackoff({ initialMs: 100, maxMs: 10_000 }),
  }),
  deadLetter: false,
  commitIntervalMs: 1_000,
  // Far above what a commit interval sees in normal running: it only bites when commits fail.
  maxUncommitted: 10_000,
  autoCommit: true,
  shutdownTimeoutMs: 30_000,
  connectTimeoutMs: 30_000,
  topicRefreshMs: 30_000,
  measureProcessingTime: false,
  consumer: Object.freeze({
    // KafkaJS's is 30 000. troupe heartbeats however long handlers take, so a short session
    // only bounds how long the group waits for a member that died, or for this one's old self
    // after an outage.
    sessionTimeout: 10_000,
    rebalanceTimeout: 60_000,
    // KafkaJS's is 3 000: a third of the shorter session.
    heartbeatInterval: 1_000,
    // KafkaJS's is 1 MiB. A fetched batch lives until the partition's actor handled it, and a
    // mailbox holds its capacity plus the batch that crossed it: measured on a 100-byte backlog,
    // 128 KiB with a capacity of 2,000 took peak memory from 416 to 182-245 MB in the no-op run
    // (raw KafkaJS: 355-364 MB) and from 218 to 154 MB draining with a 5 ms handler, with less
    // CPU per message. A larger record still comes whole: the broker returns at least one batch.
    maxBytesPerPartition: 131_072,
    maxBytes: 10_485_760,
    minBytes: 1,
    // KafkaJS's is 5 000. It also bounds how late a partition whose mailbox drained is fetched
    // again: when every partition is paused, KafkaJS sleeps this long before looking again. An
    // idle consumer then sends 40 empty fetches a second, a small price for prompt resumes.
    maxWaitTimeInMs: 25,
    readUncommitted: false,
    metadataMaxAge: 300_000,
  }),
});
