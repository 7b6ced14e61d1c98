/**
 * The errors the in-memory cluster answers with: KafkaJS's own error classes, carrying the
 * `type`, `code` and `retriable` flag KafkaJS gives the broker's error codes, so code that
 * inspects `error.type` (as troupe does) cannot tell them from a real broker's.
 *
 * @module
 */

import { KafkaJSNonRetriableError, KafkaJSProtocolError } from "./kafkajs_errors.ts";

interface ProtocolErrorInfo {
  readonly code: number;
  readonly retriable: boolean;
  readonly message: string;
}

/** The broker error codes the cluster (or a user's injected fault) may produce, as KafkaJS names them. */
const PROTOCOL_ERRORS: Readonly<Record<string, ProtocolErrorInfo>> = {
  UNKNOWN: {
    code: -1,
    retriable: false,
    message: "The server experienced an unexpected error when processing the request",
  },
  UNKNOWN_TOPIC_OR_PARTITION: {
    code: 3,
    retriable: true,
    message: "This server does not host this topic-partition",
  },
  REQUEST_TIMED_OUT: { code: 7, retriable: true, message: "The request timed out" },
  MESSAGE_TOO_LARGE: {
    code: 10,
    retriable: false,
    message:
      "The request included a message larger than the max message size the server will accept",
  },
  OFFSET_METADATA_TOO_LARGE: {
    code: 12,
    retriable: false,
    message: "The metadata field of the offset request was too large",
  },
  GROUP_COORDINATOR_NOT_AVAILABLE: {
    code: 15,
    retriable: true,
    message: "The group coordinator is not available",
  },
  NOT_COORDINATOR_FOR_GROUP: {
    code: 16,
    retriable: true,
    message: "This is not the correct coordinator for this group",
  },
  INVALID_TOPIC_EXCEPTION: {
    code: 17,
    retriable: false,
    message: "The request attempted to perform an operation on an invalid topic",
  },
  ILLEGAL_GENERATION: {
    code: 22,
    retriable: false,
    message: "Specified group generation id is not valid",
  },
  UNKNOWN_MEMBER_ID: {
    code: 25,
    retriable: false,
    message: "The coordinator is not aware of this member",
  },
  REBALANCE_IN_PROGRESS: {
    code: 27,
    retriable: false,
    message: "The group is rebalancing, so a rejoin is needed",
  },
  TOPIC_ALREADY_EXISTS: {
    code: 36,
    retriable: false,
    message: "Topic with this name already exists",
  },
  INVALID_PARTITIONS: { code: 37, retriable: false, message: "Number of partitions is invalid" },
  NON_EMPTY_GROUP: { code: 68, retriable: false, message: "The group is not empty" },
  GROUP_ID_NOT_FOUND: { code: 69, retriable: false, message: "The group id was not found" },
};

/**
 * A `KafkaJSProtocolError` of the given broker error `type`, as KafkaJS raises it for a
 * broker's error code. Types the cluster does not know get code -1 and are not retriable.
 *
 * @example
 * ```ts
 * import { protocolError } from "./errors.ts";
 * const error = protocolError("REBALANCE_IN_PROGRESS");
 * console.log(error.type, error.code, error.retriable); // REBALANCE_IN_PROGRESS 27 false
 * ```
 */
export function protocolError(type: string, detail?: string): KafkaJSProtocolError {
  const info = PROTOCOL_ERRORS[type] ?? { code: -1, retriable: false, message: type };
  const message = detail ? `${info.message}: ${detail}` : info.message;
  // KafkaJS builds these from its error-code table entries; its typings only admit strings.
  return new KafkaJSProtocolError(
    { type, code: info.code, retriable: info.retriable, message } as unknown as Error,
  );
}

/**
 * The error a KafkaJS call the in-memory cluster does not emulate fails with.
 *
 * @example
 * ```ts
 * import { unsupported } from "./errors.ts";
 * console.log(unsupported("admin.describeConfigs").message);
 * ```
 */
export function unsupported(what: string): KafkaJSNonRetriableError {
  return new KafkaJSNonRetriableError(
    `${what} is not supported by troupe's in-memory Kafka (use a real broker: startLocalKafka)`,
  );
}

/**
 * KafkaJS's own test for "the group is rebalancing": the errors after which its consumer
 * re-joins the group.
 *
 * @example
 * ```ts
 * import { isRebalancing, protocolError } from "./errors.ts";
 * console.log(isRebalancing(protocolError("ILLEGAL_GENERATION"))); // true
 * ```
 */
export function isRebalancing(error: unknown): boolean {
  const type = errorType(error);
  return type === "REBALANCE_IN_PROGRESS" || type === "NOT_COORDINATOR_FOR_GROUP" ||
    type === "ILLEGAL_GENERATION";
}

/**
 * The broker error `type` of an error, if it has one.
 *
 * @example
 * ```ts
 * import { errorType, protocolError } from "./errors.ts";
 * console.log(errorType(protocolError("UNKNOWN_MEMBER_ID"))); // "UNKNOWN_MEMBER_ID"
 * ```
 */
export function errorType(error: unknown): string | undefined {
  const type = (error as { type?: unknown } | null)?.type;
  return typeof type === "string" ? type : undefined;
}
