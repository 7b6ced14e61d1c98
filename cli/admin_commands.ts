/**
 * `troupe topics` and `troupe lag`: what the cluster holds and how far a group is behind.
 * `troupe topics create|describe|delete` are in `topic_commands.ts`.
 *
 * @module
 */

import { createAdmin } from "../mod.ts";
import { JSON_FLAG, prepareAdminCommand } from "./admin_setup.ts";
import { CONNECTION_FLAGS } from "./connection.ts";
import { UsageError } from "./errors.ts";
import {
  type CommandSpec,
  type EnvReader,
  formatHelp,
  type ParsedFlags,
  readEnv,
} from "./flags.ts";
import { loggingFlags } from "./logging.ts";
import { printTable } from "./table.ts";
import {
  TOPICS_CREATE_COMMAND,
  TOPICS_DELETE_COMMAND,
  TOPICS_DESCRIBE_COMMAND,
  topicsCreateCommand,
  topicsDeleteCommand,
  topicsDescribeCommand,
} from "./topic_commands.ts";

/** `troupe topics`'s flags and help. */
export const TOPICS_COMMAND: CommandSpec = {
  name: "topics",
  summary: "List topics; create, describe or delete one.",
  usage: "[list] [options]  |  troupe topics create|describe|delete NAME ...",
  description: `Lists every topic of the cluster (internal ones excluded) with its number of
partitions, sorted by name. Its subcommands, each with its own --help:
${
    [TOPICS_CREATE_COMMAND, TOPICS_DESCRIBE_COMMAND, TOPICS_DELETE_COMMAND].map((spec) =>
      `  ${spec.name.padEnd(17)}${spec.summary}`
    ).join("\n")
  }`,
  flags: [JSON_FLAG, ...CONNECTION_FLAGS, ...loggingFlags("warning")],
  examples: [
    "troupe topics",
    "troupe topics --json --brokers 10.0.0.5:9092",
    "troupe topics create orders --partitions 6",
    "troupe topics describe orders",
    "troupe topics create --help",
  ],
  notes: "Exit codes: 0 on success, 1 when Kafka cannot be reached, 2 for a usage mistake.",
};

/** `troupe lag`'s flags and help. */
export const LAG_COMMAND: CommandSpec = {
  name: "lag",
  summary: "Show a group's committed offset, end offset and lag per partition.",
  usage: "--group G [--topic T] [options]",
  description:
    `For every partition the group committed an offset to (or only those of the given topics),
shows the committed offset ("-" when none), the end offset and the lag (end minus committed,
or minus the beginning when nothing is committed), then the total lag.`,
  flags: [
    {
      name: "group",
      kind: "string",
      placeholder: "G",
      env: "TROUPE_GROUP",
      description: "Consumer group id.",
    },
    {
      name: "topic",
      kind: "list",
      placeholder: "T",
      description: "Only this topic (also partitions the group never committed to).",
    },
    JSON_FLAG,
    ...CONNECTION_FLAGS,
    ...loggingFlags("warning"),
  ],
  examples: ["troupe lag --group billing", "troupe lag --group billing --topic orders --json"],
  notes: "Exit codes: 0 on success, 1 when Kafka cannot be reached, 2 for a usage mistake.",
};

/** The subcommands of `troupe topics`, by name (`list` is `topics` itself). */
const TOPICS_SUBCOMMANDS: Record<
  string,
  (args: readonly string[], env: EnvReader) => Promise<number>
> = {
  create: topicsCreateCommand,
  describe: topicsDescribeCommand,
  delete: topicsDeleteCommand,
};

/**
 * Runs `troupe topics`; resolves with the exit code.
 *
 * @example
 * ```ts ignore
 * Deno.exit(await topicsCommand(["--json"]));
 * ```
 */
export async function topicsCommand(
  args: readonly string[],
  env: EnvReader = readEnv,
): Promise<number> {
  const [first, ...rest] = args;
  if (first !== undefined && Object.hasOwn(TOPICS_SUBCOMMANDS, first)) {
    return await TOPICS_SUBCOMMANDS[first](rest, env);
  }
  if (first !== undefined && !first.startsWith("-") && first !== "list") {
    throw new UsageError(
      `unknown subcommand "${first}" for "topics"; they are list, ` +
        `${Object.keys(TOPICS_SUBCOMMANDS).join(", ")}. Run "troupe topics --help".`,
    );
  }
  const { flags, connection } = await prepareAdminCommand(
    TOPICS_COMMAND,
    first === "list" ? rest : args,
    env,
  );
  if (!connection) {
    console.log(formatHelp(TOPICS_COMMAND));
    return 0;
  }
  await using admin = createAdmin(connection.options);
  const topics = await admin.listTopics();
  if (flags.boolean("json")) {
    console.log(JSON.stringify(topics));
  } else {
    printTable(["TOPIC", "PARTITIONS"], topics.map((t) => [t.topic, String(t.partitions)]));
  }
  return 0;
}

/**
 * Runs `troupe lag`; resolves with the exit code.
 *
 * @example
 * ```ts ignore
 * Deno.exit(await lagCommand(["--group", "billing"]));
 * ```
 */
export async function lagCommand(
  args: readonly string[],
  env: EnvReader = readEnv,
): Promise<number> {
  const { flags, connection } = await prepareAdminCommand(LAG_COMMAND, args, env);
  if (!connection) {
    console.log(formatHelp(LAG_COMMAND));
    return 0;
  }
  const groupId = flags.required("group", "the consumer group");
  const topics = flags.list("topic");
  await using admin = createAdmin(connection.options);
  const rows = await admin.lag(groupId, topics.length > 0 ? topics : undefined);
  if (flags.boolean("json")) {
    console.log(JSON.stringify(rows));
    return 0;
  }
  if (rows.length === 0) {
    console.error(`group ${groupId} has no committed offsets${topicsNote(flags)}`);
    return 0;
  }
  printTable(
    ["TOPIC", "PARTITION", "COMMITTED", "END", "LAG"],
    rows.map((row) => [
      row.topic,
      String(row.partition),
      row.committed === null ? "-" : String(row.committed),
      String(row.end),
      String(row.lag),
    ]),
  );
  console.log(`total lag ${rows.reduce((sum, row) => sum + row.lag, 0)}`);
  return 0;
}

function topicsNote(flags: ParsedFlags): string {
  const topics = flags.list("topic");
  return topics.length > 0 ? ` for ${topics.join(", ")}` : "";
}
