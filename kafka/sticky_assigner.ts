/**
 * troupe's sticky partition assigner, on KafkaJS's `PartitionAssigner` API: members tell the
 * leader what they own in their join metadata, and the leader keeps it where it is.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { Buffer } from "node:buffer";
import { AssignerProtocol, type PartitionAssigner } from "kafkajs";
import { assignSticky, type StickyMember } from "./sticky_assignment.ts";

const log = getLogger(["troupe", "consumer"]);

/** The protocol name the sticky assigner registers under; every member of a group must use it. */
export const STICKY_ASSIGNER = "TroupeStickyAssigner";

/** What this member owns, as it tells the leader at every join. */
export interface OwnedPartitions {
  /** The group generation of that assignment, -1 when unknown. */
  readonly generation: number;
  /** The partitions, by topic. */
  readonly assignment: Readonly<Record<string, readonly number[]>>;
}

const NOTHING_OWNED: OwnedPartitions = Object.freeze({ generation: -1, assignment: {} });

/** The member's claim, from its join metadata; nothing when it is absent or foreign. */
function decodeOwned(userData: Buffer | null | undefined): OwnedPartitions {
  if (!userData || userData.length === 0) return NOTHING_OWNED;
  try {
    const parsed = JSON.parse(userData.toString("utf8")) as Partial<OwnedPartitions>;
    if (typeof parsed.generation !== "number" || typeof parsed.assignment !== "object") {
      return NOTHING_OWNED;
    }
    return { generation: parsed.generation, assignment: parsed.assignment ?? {} };
  } catch {
    return NOTHING_OWNED;
  }
}

/**
 * A KafkaJS partition assigner that keeps partitions with their owners (see
 * `assignSticky`). `owned` says, at each join, what this member owns now.
 *
 * @example
 * ```ts ignore
 * const consumer = kafka.consumer({
 *   groupId: "billing",
 *   partitionAssigners: [stickyAssigner(() => ({ generation: 7, assignment: { orders: [0, 2] } }))],
 * });
 * ```
 */
export function stickyAssigner(owned: () => OwnedPartitions): PartitionAssigner {
  return ({ cluster, groupId }) => ({
    name: STICKY_ASSIGNER,
    version: 1,
    protocol({ topics }) {
      return {
        name: STICKY_ASSIGNER,
        metadata: AssignerProtocol.MemberMetadata.encode({
          version: 1,
          topics,
          userData: Buffer.from(JSON.stringify(owned())),
        }),
      };
    },
    // KafkaJS refreshes the leader's metadata before it calls this: new partitions are seen.
    async assign({ members, topics }) {
      // A topic created a moment ago may not be in the leader's metadata yet: ask once more
      // rather than assign it no partitions (nobody would read it until the next rebalance).
      if (topics.some((topic) => cluster.findTopicPartitionMetadata(topic).length === 0)) {
        await cluster.refreshMetadata().catch(() => {});
      }
      const decoded: StickyMember[] = members.map(({ memberId, memberMetadata }) => {
        const metadata = AssignerProtocol.MemberMetadata.decode(memberMetadata);
        const { generation, assignment } = decodeOwned(metadata?.userData);
        return { memberId, topics: metadata?.topics ?? topics, owned: assignment, generation };
      });
      const counts = new Map(
        topics.map((topic) => [topic, cluster.findTopicPartitionMetadata(topic).length]),
      );
      const result = assignSticky(decoded, counts);
      log.info(
        "assigned group {groupId} to {members} member(s): {kept} partition(s) kept, {moved} moved, {orphaned} without an owner",
        { groupId, members: members.length, ...result, assignment: undefined },
      );
      return [...result.assignment].map(([memberId, assignment]) => ({
        memberId,
        memberAssignment: AssignerProtocol.MemberAssignment.encode({
          version: 1,
          assignment,
          userData: Buffer.alloc(0),
        }),
      }));
    },
  });
}
