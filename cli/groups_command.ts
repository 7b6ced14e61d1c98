/**
 * `troupe groups`: the consumer groups of the cluster, their states and members.
 *
 * @module
 */

import { createAdmin, type GroupMember } from "../mod.ts";
import { JSON_FLAG, prepareAdminCommand } from "./admin_setup.ts";
import { CONNECTION_FLAGS } from "./connection.ts";
import { type CommandSpec, type EnvReader, formatHelp, readEnv } from "./flags.ts";
import { loggingFlags } from "./logging.ts";
import { printTable } from "./table.ts";

/** `troupe groups`'s flags and help. */
export const GROUPS_COMMAND: CommandSpec = {
  name: "groups",
  summary: "List consumer groups with their state, members and assigned partitions.",
  usage: "[--group G ...] [--members] [options]",
  description:
    `Lists the consumer groups the cluster knows (or only those of --group), sorted by id: each
group's state (Stable, Empty, PreparingRebalance, CompletingRebalance, Dead), its number of
members and of partitions assigned to them. With --members, one row per member instead: its
member id, client id, host and assigned partitions. "troupe lag --group G" shows how far a
group is behind.`,
  flags: [
    {
      name: "group",
      kind: "list",
      placeholder: "G",
      description: "Only this group (one the cluster does not know shows as Dead).",
    },
    {
      name: "members",
      kind: "boolean",
      description: "One row per member, with its assignment.",
    },
    JSON_FLAG,
    ...CONNECTION_FLAGS,
    ...loggingFlags("warning"),
  ],
  examples: ["troupe groups", "troupe groups --group billing --members", "troupe groups --json"],
  notes: "Exit codes: 0 on success, 1 when Kafka cannot be reached, 2 for a usage mistake.",
};

/** `orders:0,1 payments:2`, or `-` for no partition. */
function assignmentText(member: GroupMember): string {
  const topics = Object.entries(member.assignment).filter(([, partitions]) => partitions.length);
  if (topics.length === 0) return "-";
  return topics.map(([topic, partitions]) => `${topic}:${partitions.join(",")}`).join(" ");
}

function assignedPartitions(member: GroupMember): number {
  return Object.values(member.assignment).reduce((sum, partitions) => sum + partitions.length, 0);
}

/**
 * Runs `troupe groups`; resolves with the exit code.
 *
 * @example
 * ```ts ignore
 * Deno.exit(await groupsCommand(["--members"]));
 * ```
 */
export async function groupsCommand(
  args: readonly string[],
  env: EnvReader = readEnv,
): Promise<number> {
  const { flags, connection } = await prepareAdminCommand(GROUPS_COMMAND, args, env);
  if (!connection) {
    console.log(formatHelp(GROUPS_COMMAND));
    return 0;
  }
  const only = flags.list("group");
  await using admin = createAdmin(connection.options);
  const groups = await admin.describeGroups(only.length > 0 ? only : undefined);
  if (flags.boolean("json")) {
    console.log(JSON.stringify(groups));
    return 0;
  }
  if (groups.length === 0) {
    console.error("the cluster has no consumer groups");
    return 0;
  }
  if (flags.boolean("members")) {
    printTable(
      ["GROUP", "STATE", "MEMBER", "CLIENT", "HOST", "PARTITIONS"],
      groups.flatMap((group) =>
        group.members.length === 0
          ? [[group.groupId, group.state, "-", "-", "-", "-"]]
          : group.members.map((member) => [
            group.groupId,
            group.state,
            member.memberId,
            member.clientId,
            member.host,
            assignmentText(member),
          ])
      ),
    );
    return 0;
  }
  printTable(
    ["GROUP", "STATE", "MEMBERS", "PARTITIONS"],
    groups.map((group) => [
      group.groupId,
      group.state,
      String(group.members.length),
      String(group.members.reduce((sum, member) => sum + assignedPartitions(member), 0)),
    ]),
  );
  return 0;
}
