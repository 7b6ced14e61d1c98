/**
 * Reaching Kafka again: the backoff of every such loop, and waiting for the brokers to answer
 * before anything else connects.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { resolveBackoff, retry } from "../actors/backoff.ts";
import { type ConnectionOptions, createKafkaClient } from "./client.ts";
import { classifyKafkaError, describeError, KafkaConnectionError } from "./errors.ts";

const log = getLogger(["troupe", "consumer"]);

/**
 * Delays between tries whenever troupe reaches for Kafka again on its own (probing the
 * brokers at start, running a consumer KafkaJS gave up on, re-subscribing): a quarter second
 * doubling to 5 s, so a broker that comes back is found within seconds.
 */
export const RECONNECT_BACKOFF = resolveBackoff({ initialMs: 250, maxMs: 5_000 });

/**
 * Tries an admin connection until it works or `timeoutMs` passes. A refusal no retry can fix
 * (credentials, permissions) ends the wait at once.
 *
 * @example
 * ```ts ignore
 * await waitForBrokers({ brokers: ["127.0.0.1:9092"] }, 30_000);
 * ```
 *
 * @throws {KafkaConnectionError} naming the brokers and the last error.
 */
export async function waitForBrokers(
  connection: ConnectionOptions & { brokers: string[] },
  timeoutMs: number,
): Promise<void> {
  // A client of its own: KafkaJS's connect retries follow the client's settings, and here
  // the deadline, not KafkaJS, decides how long to keep trying.
  const probe = createKafkaClient({ ...connection, clientRetry: { retries: 0 } });
  try {
    await retry(async () => {
      const admin = probe.admin();
      try {
        await admin.connect();
      } finally {
        await admin.disconnect().catch(() => {});
      }
    }, {
      backoff: RECONNECT_BACKOFF,
      deadline: Date.now() + timeoutMs,
      retriable: (error) => classifyKafkaError(error) !== "fatal",
    });
  } catch (error) {
    log.error("cannot reach Kafka at {brokers}: {error}", {
      brokers: connection.brokers.join(","),
      error: describeError(error),
    });
    throw new KafkaConnectionError(
      `could not reach Kafka at ${connection.brokers.join(",")} within ${timeoutMs} ms`,
      error,
    );
  }
}

/**
 * Runs `work` again while it fails because the brokers cannot be reached, until `deadline`
 * (ms since the epoch): a broker can go away between {@linkcode waitForBrokers} and the next
 * request, and a start must then wait as long as `connectTimeoutMs` allows, not fail.
 *
 * @example
 * ```ts ignore
 * const deadline = Date.now() + 30_000;
 * await waitForBrokers(connection, 30_000);
 * const topics = await whileUnreachable(() => admin.listTopics(), deadline);
 * ```
 */
export function whileUnreachable<T>(work: () => Promise<T>, deadline: number): Promise<T> {
  return retry(work, {
    backoff: RECONNECT_BACKOFF,
    deadline,
    retriable: (error) => classifyKafkaError(error) === "connection",
    onRetry: (error, _attempt, delay) =>
      log.warn("Kafka is not answering; trying again in {delay} ms: {error}", {
        delay,
        error: describeError(error),
      }),
  });
}
