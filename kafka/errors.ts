/**
 * Errors shared by every part of troupe.
 *
 * @module
 */

/**
 * An option that is missing or out of range. Thrown by `createProcessor` (and the other
 * factories) before anything connects; `option` names the culprit.
 *
 * @example
 * ```ts ignore
 * try {
 *   createProcessor({ ...options, mailboxCapacity: 0 });
 * } catch (error) {
 *   if (error instanceof ConfigError) console.error(error.option); // "mailboxCapacity"
 * }
 * ```
 */
export class ConfigError extends Error {
  /** The option at fault, e.g. `"consumer.sessionTimeout"`. */
  readonly option: string;

  /**
   * Creates the error.
   *
   * @param option The option at fault.
   * @param message What is wrong with it.
   */
  constructor(option: string, message: string) {
    super(`invalid option ${option}: ${message}`);
    this.name = "ConfigError";
    this.option = option;
  }
}

/**
 * The processor could not reach Kafka, or its Kafka consumer failed for good.
 *
 * @example
 * ```ts ignore
 * await processor.start().catch((error) => {
 *   if (error instanceof KafkaConnectionError) console.error(error.message);
 * });
 * ```
 */
export class KafkaConnectionError extends Error {
  /**
   * Creates the error.
   *
   * @param message What happened.
   * @param cause KafkaJS's error.
   */
  constructor(message: string, cause?: unknown) {
    super(cause === undefined ? message : `${message}: ${describeError(cause)}`, { cause });
    this.name = "KafkaConnectionError";
  }
}

/**
 * Thrown by a handler to say that retrying this message is pointless (bad input, a rule it
 * breaks): the actor skips its remaining retries and dead-letters it (or crashes, without a
 * dead-letter topic).
 *
 * @example
 * ```ts ignore
 * handler: (message) => {
 *   if (!message.value?.customer) throw new NonRetriableError("order without a customer");
 * }
 * ```
 */
export class NonRetriableError extends Error {
  /**
   * Creates the error.
   *
   * @param message What is wrong with the message.
   * @param options `cause`, the underlying error.
   */
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "NonRetriableError";
  }
}

/**
 * `"Name: message"` for an error, `String(value)` for anything else.
 *
 * @example
 * ```ts
 * import { describeError } from "./events.ts";
 * console.log(describeError(new TypeError("bad"))); // "TypeError: bad"
 * ```
 */
export function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}
