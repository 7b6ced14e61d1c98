/**
 * Where the examples find Kafka: `KAFKA_BROKERS` if set, else a local broker they start
 * (and stop) themselves.
 *
 * @module
 */

import { startLocalKafka } from "../testing/mod.ts";

/** Runs `body` with a broker list, starting a local broker when `KAFKA_BROKERS` is unset. */
export async function withKafka(body: (brokers: string[]) => Promise<void>): Promise<void> {
  const given = Deno.env.get("KAFKA_BROKERS");
  if (given) {
    await body(given.split(","));
    return;
  }
  console.log("KAFKA_BROKERS is not set: starting a local Kafka broker...");
  const kafka = await startLocalKafka();
  try {
    await body(kafka.brokers);
  } finally {
    await kafka.stop();
  }
}

/** A topic name no earlier run used. */
export function freshTopic(name: string): string {
  return `${name}-${Date.now().toString(36)}`;
}
