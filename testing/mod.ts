/**
 * Test helpers for troupe users: a real local Kafka broker started from Maven Central jars,
 * and an in-memory Kafka for testing handlers and their supervision without one.
 *
 * The in-memory cluster proves handler logic (and how troupe restarts, rebalances and commits
 * around it), deterministically and in milliseconds; it does not prove Kafka behaviour. Test
 * that against the real broker.
 *
 * @example A test against a throwaway broker
 * ```ts ignore
 * import { startLocalKafka } from "@troupe/troupe/testing";
 *
 * Deno.test("my handler against real Kafka", async () => {
 *   await using kafka = await startLocalKafka();
 *   // ... createProcessor({ brokers: kafka.brokers, ... })
 * });
 * ```
 *
 * @example A test without Kafka, with an injected fault
 * ```ts ignore
 * import { startMemoryKafka } from "@troupe/troupe/testing";
 *
 * Deno.test("my handler survives a rebalance", async () => {
 *   await using kafka = startMemoryKafka();
 *   kafka.createTopic("orders", 3);
 *   // ... createProcessor({ brokers: kafka.brokers, ... }), then:
 *   await kafka.faults.rebalance("billing");
 * });
 * ```
 *
 * @module
 */

export { type LocalKafka, type LocalKafkaOptions, startLocalKafka } from "./local_kafka.ts";
export {
  type LocalKafkaCluster,
  type LocalKafkaClusterOptions,
  type LocalKafkaNode,
  startLocalKafkaCluster,
} from "./local_cluster.ts";
export {
  DEFAULT_KAFKA_VERSION,
  defaultCacheDir,
  ensureKafkaJars,
  KAFKA_VERSION_ENV,
  type KafkaJarsOptions,
  kafkaVersionOf,
} from "./kafka_jars.ts";
export { LocalKafkaError, type LocalKafkaErrorCode } from "./errors.ts";
export {
  type MemoryGroup,
  type MemoryGroupMember,
  type MemoryKafka,
  type MemoryKafkaOptions,
  type MemoryRecord,
  type MemoryRecordInput,
  startMemoryKafka,
} from "./memory_kafka.ts";
export type {
  CrashConsumerOptions,
  DelayFetchesOptions,
  FailCommitsOptions,
  MemoryKafkaFaults,
} from "./memory/faults.ts";
export type { GroupState } from "./memory/group.ts";
