/**
 * troupe: an actor-based Kafka stream processor for Deno.
 *
 * A supervisor spawns one actor per assigned Kafka partition. Each actor takes messages from
 * a bounded mailbox fed by the consumer loop, processes them in order, is restarted with
 * backoff when its handler fails, and reports what it processed, so that only processed
 * offsets are committed.
 *
 * @example Process JSON orders
 * ```ts ignore
 * import { createProcessor, json } from "@troupe/troupe";
 *
 * const processor = createProcessor({
 *   brokers: ["127.0.0.1:9092"],
 *   groupId: "billing",
 *   topics: ["orders"],
 *   valueCodec: json<{ id: number; total: number }>(),
 *   handler: (message) => {
 *     console.log(message.partition, message.offset, message.value?.total);
 *   },
 * });
 * await processor.start();
 * Deno.addSignalListener("SIGINT", () => processor.stop());
 * await processor.done;
 * ```
 *
 * @module
 */

export {
  createProcessor,
  type Processor,
  type ProcessorState,
  type ProcessorStatus,
} from "./supervisor/processor.ts";
export type { ProcessorListener } from "./supervisor/event_bus.ts";
export type { ConnectionStatus } from "./supervisor/connection_monitor.ts";
export {
  type Consumer,
  type ConsumerOptions,
  createConsumer,
  type PollOptions,
} from "./supervisor/poll_consumer.ts";
export type {
  ConsumerSettings,
  DeadLetterOption,
  Ordering,
  PartitionAssignerName,
  ProcessorOptions,
  RestartOptions,
  RetryOptions,
} from "./supervisor/options.ts";
export type {
  Handler,
  HandlerContext,
  HandlerLogger,
  HandlerResult,
  OutputRecord,
} from "./supervisor/handler_context.ts";
export {
  type ConsumerDefaults,
  PROCESSOR_DEFAULTS,
  type ProcessorDefaults,
  type RestartDefaults,
  type RetryDefaults,
} from "./supervisor/defaults.ts";
export {
  type CommitReason,
  EscalationError,
  type PauseReason,
  type ProcessorEvent,
  type ProcessorEventOf,
  type ProcessorEventType,
  type TopicPartition,
  type TopicPartitionOffset,
} from "./supervisor/events.ts";
export {
  ConfigError,
  describeError,
  KafkaConnectionError,
  NonRetriableError,
} from "./kafka/errors.ts";
export { createAdmin } from "./kafka/admin.ts";
export type {
  Admin,
  CommittedOffset,
  GroupMember,
  NewTopic,
  PartitionInfo,
  PartitionLag,
  PartitionOffsets,
  TopicInfo,
} from "./kafka/admin_types.ts";
export { TopicError } from "./kafka/topic_error.ts";
export {
  createProducer,
  ProduceError,
  type Producer,
  PRODUCER_DEFAULTS,
  ProducerClosedError,
  type ProducerDefaults,
  type ProducerOptions,
  type ProducerRecord,
  type RecordMetadata,
} from "./kafka/producer.ts";
export {
  DEAD_LETTER_HEADERS,
  type DeadLetterReason,
  type DeadLetterRecord,
} from "./supervisor/dead_letters.ts";
export {
  type DeadLetter,
  type DeadLetterFilter,
  listDeadLetters,
  type ListDeadLettersOptions,
  parseDeadLetterId,
} from "./supervisor/dead_letter_reading.ts";
export {
  REPLAY_HEADERS,
  replayDeadLetters,
  type ReplayDeadLettersOptions,
  type ReplayedRecord,
  type ReplayResult,
} from "./supervisor/dead_letter_replay.ts";
export type { FetchPause, PartitionPhase, PartitionStatus } from "./supervisor/partition.ts";
export { Histogram, type HistogramSnapshot } from "./supervisor/histogram.ts";
export type { ActorState } from "./actors/supervised_actor.ts";
export type { Backoff, BackoffOptions } from "./actors/backoff.ts";
export type { Headers, Message } from "./kafka/message.ts";
export {
  bytes,
  type Codec,
  type CodecName,
  type CodecSpec,
  type Decoded,
  DecodeError,
  json,
  string,
} from "./kafka/codec.ts";
export {
  type ClientRetryOptions,
  type ConnectionOptions,
  parseBrokers,
  type SaslOptions,
  type TlsOptions,
} from "./kafka/client.ts";
export type { RestartIntensityOptions } from "./actors/restart_intensity.ts";
