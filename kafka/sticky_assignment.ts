/**
 * Sticky assignment, the algorithm: keep every partition with its current owner while that
 * owner is in the group, move only what is orphaned or what balance demands.
 *
 * @module
 */

/** Partitions by topic. */
export type PartitionsByTopic = Record<string, number[]>;

/** A member as the group leader sees it when it assigns. */
export interface StickyMember {
  /** Its member id. */
  readonly memberId: string;
  /** The topics it subscribes to. */
  readonly topics: readonly string[];
  /** The partitions it owns now (its last assignment), by topic. */
  readonly owned: Readonly<Record<string, readonly number[]>>;
  /**
   * The group generation of that assignment, as far as the member knows it (-1 when it knows
   * none): when two members claim a partition, the newer claim wins.
   */
  readonly generation: number;
}

/** An assignment, and how it compares with what the members owned. */
export interface StickyAssignment {
  /** Each member's partitions. Every member has an entry, perhaps empty. */
  readonly assignment: Map<string, PartitionsByTopic>;
  /** Partitions that stayed with their owner. */
  readonly kept: number;
  /** Partitions that went from one member to another. */
  readonly moved: number;
  /** Partitions that had no owner in the group (new, or their owner left). */
  readonly orphaned: number;
}

interface Claim {
  readonly memberId: string;
  readonly generation: number;
}

const keyOf = (topic: string, partition: number) => `${topic}\u0000${partition}`;

/** Every partition of the subscribed topics, in topic then partition order. */
function allPartitions(
  members: readonly StickyMember[],
  partitionCounts: ReadonlyMap<string, number>,
): { topic: string; partition: number; key: string }[] {
  const topics = [...new Set(members.flatMap((member) => member.topics))].sort();
  return topics.flatMap((topic) =>
    Array.from({ length: partitionCounts.get(topic) ?? 0 }, (_, partition) => ({
      topic,
      partition,
      key: keyOf(topic, partition),
    }))
  );
}

/** Who owns each partition: the member with the newest claim to it (ties: the lowest id). */
function claimsOf(
  members: readonly StickyMember[],
  partitionCounts: ReadonlyMap<string, number>,
): Map<string, Claim> {
  const claims = new Map<string, Claim>();
  for (const member of members) {
    for (const [topic, partitions] of Object.entries(member.owned)) {
      const count = partitionCounts.get(topic) ?? 0;
      if (!member.topics.includes(topic)) continue;
      for (const partition of partitions) {
        if (!Number.isInteger(partition) || partition < 0 || partition >= count) continue;
        const key = keyOf(topic, partition);
        const earlier = claims.get(key);
        if (!earlier || earlier.generation < member.generation) {
          claims.set(key, { memberId: member.memberId, generation: member.generation });
        }
      }
    }
  }
  return claims;
}

/**
 * Assigns the partitions of the members' topics. A partition stays with the member that owns
 * it; what nobody in the group owns goes to the members with the fewest partitions; and
 * owners hand over only what balance demands: with every member on the same topics, the
 * counts differ by at most one. Deterministic: the same members, claims and partitions always
 * give the same assignment.
 *
 * @param members The group's members, with what each owns.
 * @param partitionCounts Partitions per topic (a topic missing here has none).
 *
 * @example
 * ```ts
 * import { assignSticky } from "./sticky_assignment.ts";
 *
 * const result = assignSticky([
 *   { memberId: "a", topics: ["orders"], owned: { orders: [0, 1, 2] }, generation: 4 },
 *   { memberId: "b", topics: ["orders"], owned: {}, generation: -1 },
 * ], new Map([["orders", 4]]));
 * console.log(result.assignment.get("a"), result.assignment.get("b")); // { orders: [0, 1] } { orders: [2, 3] }
 * console.log(result.kept, result.moved, result.orphaned); // 2 1 1
 * ```
 */
export function assignSticky(
  members: readonly StickyMember[],
  partitionCounts: ReadonlyMap<string, number>,
): StickyAssignment {
  const sorted = [...members].sort((a, b) => a.memberId < b.memberId ? -1 : 1);
  const assignment = new Map<string, PartitionsByTopic>(sorted.map((m) => [m.memberId, {}]));
  const partitions = allPartitions(sorted, partitionCounts);
  if (sorted.length === 0) return { assignment, kept: 0, moved: 0, orphaned: 0 };
  const claims = claimsOf(sorted, partitionCounts);
  const claimed = new Map<string, string[]>(sorted.map((m) => [m.memberId, []]));
  for (const { key } of partitions) {
    const claim = claims.get(key);
    if (claim) claimed.get(claim.memberId)!.push(key);
  }
  // Quotas: everyone gets the floor of the share; the remainder goes to those who own most.
  const base = Math.floor(partitions.length / sorted.length);
  let extra = partitions.length % sorted.length;
  const quota = new Map<string, number>();
  for (
    const member of [...sorted].sort((a, b) =>
      claimed.get(b.memberId)!.length - claimed.get(a.memberId)!.length
    )
  ) {
    quota.set(member.memberId, base + (extra-- > 0 ? 1 : 0));
  }
  const owner = new Map<string, string>();
  const count = new Map<string, number>(sorted.map((m) => [m.memberId, 0]));
  for (const member of sorted) {
    for (const key of claimed.get(member.memberId)!.slice(0, quota.get(member.memberId))) {
      owner.set(key, member.memberId);
      count.set(member.memberId, count.get(member.memberId)! + 1);
    }
  }
  let kept = 0;
  let moved = 0;
  let orphaned = 0;
  for (const { topic, partition, key } of partitions) {
    let memberId = owner.get(key);
    if (memberId === undefined) {
      memberId = leastLoaded(sorted, topic, count, quota);
      if (memberId === undefined) continue; // nobody subscribes to it
      count.set(memberId, count.get(memberId)! + 1);
      if (claims.has(key)) moved++;
      else orphaned++;
    } else {
      kept++;
    }
    (assignment.get(memberId)![topic] ??= []).push(partition);
  }
  return { assignment, kept, moved, orphaned };
}

/** The subscriber of `topic` furthest below its quota (else with the fewest partitions). */
function leastLoaded(
  members: readonly StickyMember[],
  topic: string,
  count: ReadonlyMap<string, number>,
  quota: ReadonlyMap<string, number>,
): string | undefined {
  let best: string | undefined;
  let bestRoom = -Infinity;
  for (const member of members) {
    if (!member.topics.includes(topic)) continue;
    const room = quota.get(member.memberId)! - count.get(member.memberId)!;
    if (room > bestRoom) {
      best = member.memberId;
      bestRoom = room;
    }
  }
  return best;
}
