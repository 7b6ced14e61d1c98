/**
 * Test helpers for troupe users: a real local Kafka broker started from Maven Central jars.
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
 * @module
 */

export { type LocalKafka, type LocalKafkaOptions, startLocalKafka } from "./local_kafka.ts";
export {
  DEFAULT_KAFKA_VERSION,
  defaultCacheDir,
  ensureKafkaJars,
  type KafkaJarsOptions,
} from "./kafka_jars.ts";
export { LocalKafkaError, type LocalKafkaErrorCode } from "./errors.ts";
