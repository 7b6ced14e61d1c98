/**
 * `TopicError`: Kafka refused a request about a topic.
 *
 * @module
 */

/**
 * Kafka refused a request about a topic, for one of two reasons (`reason`):
 *
 * - `unknown-topic`: the topic does not exist.
 * - `invalid-request`: the broker refused what was asked (`kafkaCode` says which of its
 *   checks failed: `INVALID_TOPIC_EXCEPTION`, `INVALID_PARTITIONS`,
 *   `INVALID_REPLICATION_FACTOR`, `INVALID_CONFIG`...); retrying it as it is cannot succeed.
 *
 * @example
 * ```ts ignore
 * try {
 *   await admin.describeTopic("orders");
 * } catch (error) {
 *   if (error instanceof TopicError && error.reason === "unknown-topic") {
 *     await admin.createTopics([{ topic: "orders", partitions: 3 }]);
 *   }
 * }
 * ```
 */
export class TopicError extends Error {
  /** Why Kafka refused. */
  readonly reason: "unknown-topic" | "invalid-request";
  /** The topic. */
  readonly topic: string;
  /** Kafka's error code, e.g. `"UNKNOWN_TOPIC_OR_PARTITION"` or `"INVALID_CONFIG"`. */
  readonly kafkaCode: string;

  /**
   * Creates the error.
   *
   * @param reason Why Kafka refused.
   * @param topic The topic.
   * @param kafkaCode Kafka's error code.
   * @param message What happened, for a person.
   * @param cause The client's error.
   */
  constructor(
    reason: "unknown-topic" | "invalid-request",
    topic: string,
    kafkaCode: string,
    message: string,
    cause?: unknown,
  ) {
    super(message, { cause });
    this.name = "TopicError";
    this.reason = reason;
    this.topic = topic;
    this.kafkaCode = kafkaCode;
  }
}
