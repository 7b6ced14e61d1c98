/**
 * What a subscription covers: topic names and RegExps, resolved against the cluster, and how
 * that changes (topics created or deleted, partitions added).
 *
 * @module
 */

import type { Kafka } from "kafkajs";

/** The topics a subscription covers now, each with its partition count. */
export type SubscriptionSnapshot = ReadonlyMap<string, number>;

/** How a subscription changed between two snapshots. */
export interface SubscriptionChange {
  /** Topics it covers now and did not before (created, re-created, or newly matching). */
  readonly added: readonly string[];
  /** Topics it covered and that are gone (deleted). */
  readonly deleted: readonly string[];
  /** Topics that gained partitions. */
  readonly grown: readonly { readonly topic: string; readonly from: number; readonly to: number }[];
}

/**
 * The existing topics that `patterns` cover, with their partition counts. A name covers its
 * topic once it exists; a RegExp covers every existing topic it matches but internal ones
 * (`__*`).
 *
 * @example
 * ```ts ignore
 * const snapshot = await readSubscription(kafka, ["orders", /^audit-/]);
 * console.log(snapshot.get("orders")); // 12
 * ```
 */
export async function readSubscription(
  kafka: Kafka,
  patterns: readonly (string | RegExp)[],
): Promise<SubscriptionSnapshot> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = await admin.listTopics();
    const covered = existing.filter((topic) =>
      patterns.some((pattern) =>
        pattern instanceof RegExp
          ? !topic.startsWith("__") && pattern.test(topic)
          : pattern === topic
      )
    ).sort();
    const snapshot = new Map<string, number>();
    if (covered.length === 0) return snapshot;
    const { topics } = await admin.fetchTopicMetadata({ topics: covered });
    for (const { name, partitions } of topics) snapshot.set(name, partitions.length);
    return new Map([...snapshot].sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0));
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

/**
 * What changed from `before` to `after`.
 *
 * @example
 * ```ts
 * import { subscriptionChange } from "./subscription.ts";
 * const change = subscriptionChange(new Map([["a", 3], ["b", 1]]), new Map([["a", 6], ["c", 2]]));
 * console.log(change); // { added: ["c"], deleted: ["b"], grown: [{ topic: "a", from: 3, to: 6 }] }
 * ```
 */
export function subscriptionChange(
  before: SubscriptionSnapshot,
  after: SubscriptionSnapshot,
): SubscriptionChange {
  const added = [...after.keys()].filter((topic) => !before.has(topic));
  const deleted = [...before.keys()].filter((topic) => !after.has(topic));
  const grown = [...after].flatMap(([topic, to]) => {
    const from = before.get(topic);
    return from !== undefined && to > from ? [{ topic, from, to }] : [];
  });
  return { added, deleted, grown };
}

/**
 * True when nothing changed.
 *
 * @example
 * ```ts
 * import { isUnchanged } from "./subscription.ts";
 * console.log(isUnchanged({ added: [], deleted: [], grown: [] })); // true
 * ```
 */
export function isUnchanged(change: SubscriptionChange): boolean {
  return change.added.length === 0 && change.deleted.length === 0 && change.grown.length === 0;
}

/**
 * The topics named in a subscription that the snapshot does not hold (not created yet).
 *
 * @example
 * ```ts
 * import { missingTopics } from "./subscription.ts";
 * console.log(missingTopics(["orders", /^audit-/, "refunds"], new Map([["orders", 3]]))); // ["refunds"]
 * ```
 */
export function missingTopics(
  topics: readonly (string | RegExp)[],
  snapshot: SubscriptionSnapshot,
): string[] {
  return topics.filter((topic): topic is string =>
    typeof topic === "string" && !snapshot.has(topic)
  );
}
