/**
 * How the in-memory group coordinator spreads partitions over a group's members.
 *
 * @module
 */

/** The protocol name KafkaJS's round-robin assigner registers under. */
export const ROUND_ROBIN = "RoundRobinAssigner";

/** Partitions per topic, e.g. `{ orders: [0, 2, 4] }`. */
export type Assignment = Record<string, number[]>;

/**
 * KafkaJS's default `RoundRobinAssigner`, which its consumers use unless told otherwise:
 * members sorted by id, the subscribed topics' partitions taken in order (topic by topic,
 * partition by partition), the i-th partition to the (i mod n)-th member. Members that get
 * nothing are given an empty assignment. Deterministic: the same members and topics always
 * give the same assignment.
 *
 * @example
 * ```ts
 * import { roundRobin } from "./assignment.ts";
 * const assignment = roundRobin(["b", "a"], ["orders"], () => 3);
 * console.log(assignment.get("a"), assignment.get("b")); // { orders: [0, 2] } { orders: [1] }
 * ```
 *
 * @param memberIds The members.
 * @param topics The topics, in the leader's subscription order.
 * @param partitionsOf How many partitions a topic has (0 when it does not exist).
 */
export function roundRobin(
  memberIds: readonly string[],
  topics: readonly string[],
  partitionsOf: (topic: string) => number,
): Map<string, Assignment> {
  const sorted = [...memberIds].sort();
  const assignments = new Map<string, Assignment>(sorted.map((id) => [id, {}]));
  if (sorted.length === 0) return assignments;
  let i = 0;
  for (const topic of topics) {
    const count = partitionsOf(topic);
    for (let partition = 0; partition < count; partition++, i++) {
      const assignment = assignments.get(sorted[i % sorted.length])!;
      (assignment[topic] ??= []).push(partition);
    }
  }
  return assignments;
}
