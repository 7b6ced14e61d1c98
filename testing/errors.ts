/**
 * The error the local Kafka harness throws, with a code saying what went wrong.
 *
 * @module
 */

/**
 * What went wrong while preparing or running a local Kafka broker.
 *
 * - `bad-option`: an option (or `TROUPE_KAFKA_VERSION`) is not valid; nothing was started.
 * - `java-missing`: no `java` on `PATH` (install Java 17+).
 * - `maven-missing`: no `mvn` on `PATH` (install Maven 3.8+), needed once to fetch the jars.
 * - `download-failed`: Maven could not fetch the Kafka jars from Maven Central.
 * - `format-failed`: Kafka's storage tool could not format the data directory.
 * - `exited`: the broker process exited while starting.
 * - `start-timeout`: the broker did not answer a metadata request in time.
 */
export type LocalKafkaErrorCode =
  | "bad-option"
  | "java-missing"
  | "maven-missing"
  | "download-failed"
  | "format-failed"
  | "exited"
  | "start-timeout";

/**
 * Thrown by {@linkcode startLocalKafka} and {@linkcode ensureKafkaJars} when a broker
 * cannot be prepared or started. The message says what to do; `logTail` holds the last
 * lines of the broker's (or Maven's) output when there is one.
 *
 * @example Telling a missing JDK from a broker that would not start
 * ```ts
 * import { LocalKafkaError, startLocalKafka } from "./mod.ts";
 *
 * try {
 *   const kafka = await startLocalKafka();
 *   await kafka.stop();
 * } catch (error) {
 *   if (error instanceof LocalKafkaError && error.code === "java-missing") {
 *     console.error("install Java 17+ first");
 *   }
 * }
 * ```
 */
export class LocalKafkaError extends Error {
  /** What went wrong. */
  readonly code: LocalKafkaErrorCode;
  /** The last lines of the relevant output (broker log or Maven), or `""`. */
  readonly logTail: string;
  /** Pid of the broker process this error concerns, if one was started (it is gone now). */
  readonly pid: number | undefined;

  /**
   * Creates the error.
   *
   * @param code What went wrong.
   * @param message A sentence saying what happened and what to do.
   * @param logTail The last lines of the relevant output, if any.
   * @param pid Pid of the broker process concerned, if one was started.
   */
  constructor(code: LocalKafkaErrorCode, message: string, logTail = "", pid?: number) {
    super(logTail ? `${message}\n--- last lines of output ---\n${logTail}` : message);
    this.name = "LocalKafkaError";
    this.code = code;
    this.logTail = logTail;
    this.pid = pid;
  }
}
