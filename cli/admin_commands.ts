/**
 * `troupe topics` and `troupe lag`: what the cluster holds and how far a group is behind.
 *
 * @module
 */

import { createAdmin } from "../mod.ts";
import { CONNECTION_FLAGS, resolveConnection } from "./connection.ts";
import {
  type CommandSpec,
  type EnvReader,
  type FlagSpec,
  formatHelp,
  type ParsedFlags,
  parseFlags,
  readEnv,
} from "./flags.ts";
import { configureLogging, type LogFormat, loggingFlags } from "./logging.ts";

const JSON_FLAG: FlagSpec = {
  name: "json",
  kind: "boolean",
  description: "Print a JSON array instead of a table.",
};

/** `troupe topics`'s flags and help. */
export const TOPICS_COMMAND: CommandSpec = {
  name: "topics",
  summary: "List topics with their partition counts.",
  usage: "[options]",
  description: "Lists every topic of the cluster (internal ones excluded) with its number of " +
    "partitions, sorted by name.",
  flags: [JSON_FLAG, ...CONNECTION_FLAGS, ...loggingFlags("warning")],
  examples: ["troupe topics", "troupe topics --json --brokers 10.0.0.5:9092"],
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

async function prepare(spec: CommandSpec, args: readonly string[], env: EnvReader) {
  const flags = parseFlags(spec, args, env);
  if (flags.help) return { flags, connection: undefined };
  const connection = await resolveConnection(flags, env);
  await configureLogging({
    level: flags.choice("log-level")!,
    format: flags.choice<LogFormat>("log-format")!,
    secrets: connection.secrets,
  });
  return { flags, connection };
}

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
  const { flags, connection } = await prepare(TOPICS_COMMAND, args, env);
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
  const { flags, connection } = await prepare(LAG_COMMAND, args, env);
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

/** Prints aligned columns; numbers are right-aligned. */
function printTable(headings: string[], rows: string[][]): void {
  const widths = headings.map((heading, i) =>
    Math.max(heading.length, ...rows.map((row) => row[i].length))
  );
  const numeric = headings.map((_, i) =>
    rows.length > 0 && rows.every((row) => /^-?\d+$|^-$/.test(row[i]))
  );
  const line = (cells: string[]) =>
    cells.map((cell, i) => numeric[i] ? cell.padStart(widths[i]) : cell.padEnd(widths[i]))
      .join("  ").trimEnd();
  console.log([line(headings), ...rows.map(line)].join("\n"));
}
