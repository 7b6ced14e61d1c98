/**
 * Creating KafkaJS clients whose logs go to LogTape.
 *
 * @module
 */

import { getLogger, type Logger } from "@logtape/logtape";
import { Kafka, type KafkaConfig, logLevel, type SASLOptions } from "kafkajs";
import { fixKafkaJsTimerWarning } from "./timer_warning.ts";

/** TLS settings (Node's `tls.connect` options troupe passes on). */
export interface TlsOptions {
  /** Trusted CA certificates, PEM. Default: the system's. */
  ca?: string | string[];
  /** Client certificate, PEM. */
  cert?: string;
  /** Client private key, PEM. */
  key?: string;
  /** Server name for SNI and verification. Default: the broker's host. */
  servername?: string;
  /** Reject servers whose certificate does not verify. Default: true. */
  rejectUnauthorized?: boolean;
}

/** SASL credentials. The password is never logged. */
export interface SaslOptions {
  /** Mechanism. */
  mechanism: "plain" | "scram-sha-256" | "scram-sha-512";
  /** User name. */
  username: string;
  /** Password. */
  password: string;
}

/** KafkaJS's retry settings for its own requests. */
export interface ClientRetryOptions {
  /** Retries per request. Default: 5. */
  retries?: number;
  /** First delay, ms. Default: 300. */
  initialRetryTime?: number;
  /**
   * Longest delay, ms. Default: 5 000 (KafkaJS's own is 30 000). KafkaJS also waits this
   * long before restarting a crashed consumer, so it bounds how late troupe notices that a
   * broker is back after an outage.
   */
  maxRetryTime?: number;
  /** Randomisation factor. Default: 0.2. */
  factor?: number;
  /** Growth per retry. Default: 2. */
  multiplier?: number;
}

/** How to reach Kafka. Shared by the processor, the producer and the admin helpers. */
export interface ConnectionOptions {
  /** Bootstrap brokers: `["host:port", ...]` or `"host:port,host:port"`. Required. */
  brokers: string[] | string;
  /** Client id sent to the brokers. Default: `"troupe"`. */
  clientId?: string;
  /** TLS: `true` for the system's trust store, or TLS options. Default: off. */
  ssl?: boolean | TlsOptions;
  /** SASL authentication. Default: none. */
  sasl?: SaslOptions;
  /** Time to establish a connection, in ms. Default: 3 000. */
  connectionTimeout?: number;
  /** Time to wait for a request's response, in ms. Default: 30 000. */
  requestTimeout?: number;
  /** KafkaJS's retry settings for its own requests (not message retries). Default: KafkaJS's. */
  clientRetry?: ClientRetryOptions;
}

/**
 * Parses `brokers` into a list and checks each entry looks like `host:port`.
 *
 * @example
 * ```ts
 * import { parseBrokers } from "./client.ts";
 * console.log(parseBrokers("127.0.0.1:9092, 127.0.0.1:9093")); // ["127.0.0.1:9092", "127.0.0.1:9093"]
 * ```
 *
 * @throws {TypeError} when the list is empty or an entry has no valid port.
 */
export function parseBrokers(brokers: unknown, option = "brokers"): string[] {
  const list = typeof brokers === "string"
    ? brokers.split(",")
    : Array.isArray(brokers)
    ? brokers
    : undefined;
  if (!list) {
    throw new TypeError(
      `${option} must be a list of "host:port" strings or a comma-separated string, got ` +
        `${JSON.stringify(brokers)}`,
    );
  }
  const parsed = list.map((entry) => typeof entry === "string" ? entry.trim() : entry)
    .filter((entry) => entry !== "");
  if (parsed.length === 0) {
    throw new TypeError(`${option} must name at least one broker ("host:port")`);
  }
  for (const entry of parsed) {
    if (typeof entry === "string" && entry.startsWith(MEMORY_SCHEME)) continue;
    const match = typeof entry === "string" ? /^(.+):(\d{1,5})$/.exec(entry) : null;
    if (!match || Number(match[2]) < 1 || Number(match[2]) > 65535) {
      throw new TypeError(`${option}: ${JSON.stringify(entry)} is not "host:port"`);
    }
  }
  return parsed as string[];
}

const kafkaJsLogger: Logger = getLogger(["troupe", "kafkajs"]);

/** Broker addresses of this scheme name an in-process cluster instead of a network one. */
export const MEMORY_SCHEME = "memory://";

const memoryClusters = new Map<string, (options: ConnectionOptions) => Kafka>();

/**
 * Makes `memory://<name>` broker addresses resolve to a client made by `factory`: the seam
 * through which the in-memory cluster of `troupe/testing` runs the very same processor and
 * producer code. Returns the function that removes the registration.
 *
 * @example
 * ```ts ignore
 * const unregister = registerMemoryCluster("demo", () => memoryClient);
 * createProcessor({ brokers: "memory://demo", ... });
 * ```
 */
export function registerMemoryCluster(
  name: string,
  factory: (options: ConnectionOptions) => Kafka,
): () => void {
  memoryClusters.set(name, factory);
  return () => {
    if (memoryClusters.get(name) === factory) memoryClusters.delete(name);
  };
}

/**
 * KafkaJS log records, sent to LogTape's `troupe.kafkajs` category, one level down: KafkaJS
 * logs every retriable error response at error and every pause at info, while troupe logs
 * what matters to an operator (crashes, outages, rebalances) in its own categories.
 */
function logCreator(listener?: KafkaJsLogListener) {
  return (entry: { namespace: string; level: logLevel; log: { message: string } }) => {
    const { message, ...properties } = entry.log as { message: string } & Record<string, unknown>;
    listener?.(entry.namespace, message);
    delete properties.timestamp;
    delete properties.logger;
    const record = { namespace: entry.namespace, ...properties };
    switch (entry.level) {
      case logLevel.ERROR:
        kafkaJsLogger.warn(`${entry.namespace}: ${message}`, record);
        break;
      case logLevel.WARN:
        kafkaJsLogger.info(`${entry.namespace}: ${message}`, record);
        break;
      default:
        kafkaJsLogger.debug(`${entry.namespace}: ${message}`, record);
    }
  };
}

/**
 * Hears every KafkaJS log line a client writes at warning level or above (its namespace, e.g.
 * `"Runner"`, and its message): the only way to learn of some of what KafkaJS does by itself.
 */
export type KafkaJsLogListener = (namespace: string, message: string) => void;

/**
 * A KafkaJS client for `options`, logging through LogTape (and to `listener`, if given).
 *
 * @example
 * ```ts
 * import { createKafkaClient } from "./client.ts";
 * const kafka = createKafkaClient({ brokers: ["127.0.0.1:9092"] });
 * const admin = kafka.admin();
 * ```
 */
export function createKafkaClient(
  options: ConnectionOptions,
  listener?: KafkaJsLogListener,
): Kafka {
  fixKafkaJsTimerWarning();
  const brokers = parseBrokers(options.brokers);
  const memory = brokers.find((broker) => broker.startsWith(MEMORY_SCHEME));
  if (memory !== undefined) {
    const factory = memoryClusters.get(memory.slice(MEMORY_SCHEME.length));
    if (!factory) {
      throw new TypeError(
        `no in-memory cluster is called ${
          JSON.stringify(memory)
        } in this process: start one with ` +
          "startMemoryKafka() from troupe's testing module",
      );
    }
    return factory(options);
  }
  return new Kafka({
    brokers,
    clientId: options.clientId ?? "troupe",
    ssl: options.ssl as KafkaConfig["ssl"],
    sasl: options.sasl as SASLOptions | undefined,
    connectionTimeout: options.connectionTimeout ?? 3_000,
    requestTimeout: options.requestTimeout ?? 30_000,
    retry: { maxRetryTime: 5_000, ...options.clientRetry },
    logLevel: kafkaJsLogger.isEnabledFor("debug") ? logLevel.INFO : logLevel.WARN,
    logCreator: () => logCreator(listener),
  });
}
