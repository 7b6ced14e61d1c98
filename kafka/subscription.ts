/**
 * What a subscription covers now: topic names and RegExps, resolved against the cluster.
 *
 * @module
 */

import type { Kafka } from "kafkajs";

/**
 * The topic names `patterns` cover now, sorted. KafkaJS resolves a RegExp once, when it
 * subscribes; troupe resolves it itself, at start and every `topicRefreshMs`, so that topics
 * created later are picked up. Internal topics (`__*`) never match a RegExp. Names are taken
 * as they are, without asking the cluster, when there is no RegExp.
 *
 * @example
 * ```ts ignore
 * const topics = await matchingTopics(kafka, ["orders", /^audit-/]);
 * ```
 */
export async function matchingTopics(
  kafka: Kafka,
  patterns: readonly (string | RegExp)[],
): Promise<string[]> {
  const names = new Set(patterns.filter((topic): topic is string => typeof topic === "string"));
  if (names.size < patterns.length) {
    const admin = kafka.admin();
    await admin.connect();
    try {
      for (const topic of await admin.listTopics()) {
        if (topic.startsWith("__")) continue;
        if (patterns.some((pattern) => pattern instanceof RegExp && pattern.test(topic))) {
          names.add(topic);
        }
      }
    } finally {
      await admin.disconnect().catch(() => {});
    }
  }
  return [...names].sort();
}
