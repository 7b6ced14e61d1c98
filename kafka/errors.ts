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
 * import { describeError } from "./errors.ts";
 * console.log(describeError(new TypeError("bad"))); // "TypeError: bad"
 * ```
 */
export function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}

/**
 * A commit cannot be made yet: no batch was fetched under the current group membership, or
 * the session it was asked of has ended. Not a failure; the commit is simply deferred.
 *
 * @example
 * ```ts
 * import { NotReadyToCommit } from "./errors.ts";
 * console.log(new NotReadyToCommit().name); // "NotReadyToCommit"
 * ```
 */
export class NotReadyToCommit extends Error {
  /** Creates the error. */
  constructor() {
    super("no fetch under the current group membership yet");
    this.name = "NotReadyToCommit";
  }
}

/**
 * What a Kafka client error means for troupe, whatever client raised it:
 *
 * - `rebalance`: the group moved on or is moving (a rebalance, a new generation, this member
 *   forgotten, the coordinator moved): not data loss; re-join and go on.
 * - `fatal`: no retry can fix it (credentials, permissions, an unsupported version, a bad
 *   group id or session timeout, members of one group with different partition assigners):
 *   the processor fails.
 * - `connection`: the brokers could not be reached or did not answer in time.
 * - `other`: anything else (a refusal about a record, a bug).
 */
export type KafkaErrorKind = "rebalance" | "fatal" | "connection" | "other";

/** The broker's error codes that mean the group moved on (see {@linkcode KafkaErrorKind}). */
const REBALANCE_CODES: ReadonlySet<string> = new Set([
  "REBALANCE_IN_PROGRESS",
  "ILLEGAL_GENERATION",
  "UNKNOWN_MEMBER_ID",
  "NOT_COORDINATOR_FOR_GROUP",
  "NOT_COORDINATOR",
  "FENCED_INSTANCE_ID",
]);
const FATAL_CODE =
  /AUTHENTICATION|AUTHORIZATION|SASL|UNSUPPORTED|INVALID_GROUP_ID|INVALID_SESSION_TIMEOUT|INCONSISTENT_GROUP_PROTOCOL/;
const FATAL_NAME = /SASL|NotImplemented|Authentication/;
const CONNECTION_NAME = /Connection|NumberOfRetriesExceeded|RequestTimeout|BrokerNotFound/;
const CONNECTION_MESSAGE = /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|EPIPE/;

/**
 * `error`, then its causes, outermost first (a cause chain that loops is walked once).
 *
 * @example
 * ```ts
 * import { causes } from "./errors.ts";
 * console.log([...causes(new Error("outer", { cause: "inner" }))].length); // 2
 * ```
 */
export function* causes(error: unknown): Generator<unknown> {
  const seen = new Set<unknown>();
  for (let cause = error; cause !== null && cause !== undefined && !seen.has(cause);) {
    seen.add(cause);
    yield cause;
    cause = typeof cause === "object" ? (cause as { cause?: unknown }).cause : undefined;
  }
}

/**
 * Classifies a Kafka client error (see {@linkcode KafkaErrorKind}) from its broker error code
 * (`type`), its name and its message, looking through its `cause` chain: the first link that
 * says something decides, a rebalance or fatal code before a connection symptom.
 *
 * @example
 * ```ts
 * import { classifyKafkaError } from "./errors.ts";
 * console.log(classifyKafkaError({ type: "UNKNOWN_MEMBER_ID" })); // "rebalance"
 * console.log(classifyKafkaError(new Error("connect ECONNREFUSED 127.0.0.1:9092"))); // "connection"
 * ```
 */
export function classifyKafkaError(error: unknown): KafkaErrorKind {
  let connection = false;
  for (const cause of causes(error)) {
    if (typeof cause !== "object") continue;
    const type = String((cause as { type?: unknown }).type ?? "");
    if (REBALANCE_CODES.has(type)) return "rebalance";
    const name = cause instanceof Error ? cause.name : "";
    if (FATAL_CODE.test(type) || FATAL_NAME.test(name)) return "fatal";
    const message = cause instanceof Error ? cause.message : "";
    if (CONNECTION_NAME.test(name) || CONNECTION_MESSAGE.test(message)) connection = true;
  }
  return connection ? "connection" : "other";
}
