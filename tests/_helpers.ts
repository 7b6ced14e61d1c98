/**
 * Shared helpers of troupe's own tests (not part of the public API).
 *
 * @module
 */

import { Kafka, logLevel } from "kafkajs";

/** The broker `deno task test` started (or the one in `KAFKA_BROKERS`). */
export function testBrokers(): string[] {
  const brokers = Deno.env.get("KAFKA_BROKERS");
  if (!brokers) {
    throw new Error("KAFKA_BROKERS is not set: run the suite with `deno task test`");
  }
  return brokers.split(",").map((broker) => broker.trim()).filter(Boolean);
}

/** A name no other test (or earlier run) uses. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${crypto.randomUUID().slice(0, 8)}`;
}

/** A quiet KafkaJS client for test fixtures. */
export function kafkaClient(brokers: string[] = testBrokers()): Kafka {
  return new Kafka({ brokers, clientId: "troupe-tests", logLevel: logLevel.NOTHING });
}

/** Waits until `condition()` is true, polling; fails with `message` after `timeoutMs`. */
export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  message: string,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${message}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Creates a topic and waits until it has a leader for each partition. */
export async function createTopic(
  topic: string,
  numPartitions: number,
  brokers: string[] = testBrokers(),
  configEntries: { name: string; value: string }[] = [],
): Promise<void> {
  const admin = kafkaClient(brokers).admin();
  await admin.connect();
  try {
    await admin.createTopics({
      topics: [{ topic, numPartitions, replicationFactor: 1, configEntries }],
      waitForLeaders: true,
    });
  } finally {
    await admin.disconnect();
  }
}

/** True when a process with this pid exists and its command line mentions `needle`. */
export function processMentions(pid: number, needle: string): boolean {
  try {
    return Deno.readTextFileSync(`/proc/${pid}/cmdline`).includes(needle);
  } catch {
    return false;
  }
}
