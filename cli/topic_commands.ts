/**
 * `troupe topics create`, `troupe topics describe` and `troupe topics delete`.
 *
 * @module
 */

import { type Admin, createAdmin, TopicError } from "../mod.ts";
import { JSON_FLAG, prepareAdminCommand } from "./admin_setup.ts";
import { CONNECTION_FLAGS, type ResolvedConnection } from "./connection.ts";
import { UsageError } from "./errors.ts";
import {
  type CommandSpec,
  type EnvReader,
  formatHelp,
  type OperandSpec,
  type ParsedFlags,
  readEnv,
} from "./flags.ts";
import { loggingFlags } from "./logging.ts";
import { printTable } from "./table.ts";

const NAME: OperandSpec = { name: "NAME", description: "the topic." };

const USAGE_NOTES =
  "Exit codes: 0 on success, 1 when Kafka cannot be reached, 2 for a usage mistake";

/** `troupe topics create`'s flags and help. */
export const TOPICS_CREATE_COMMAND: CommandSpec = {
  name: "topics create",
  summary: "Create a topic.",
  usage: "NAME --partitions N [--replication R] [--config k=v ...] [options]",
  description: `Creates the topic NAME and waits until each of its partitions has a leader.
A name is up to 249 ASCII letters, digits, ".", "_" and "-".`,
  operands: [NAME],
  flags: [
    {
      name: "partitions",
      kind: "string",
      placeholder: "N",
      description: "Number of partitions (an integer >= 1). Required.",
    },
    {
      name: "replication",
      kind: "string",
      placeholder: "R",
      description: "Replication factor: copies of each partition, at most the number of " +
        "brokers. Default: the broker's default.replication.factor.",
    },
    {
      name: "config",
      kind: "list",
      placeholder: "k=v",
      description: 'A topic configuration entry, e.g. "retention.ms=86400000" or ' +
        '"cleanup.policy=compact".',
    },
    ...CONNECTION_FLAGS,
    ...loggingFlags("warning"),
  ],
  examples: [
    "troupe topics create orders --partitions 6",
    "troupe topics create orders --partitions 6 --replication 3 --config retention.ms=86400000",
  ],
  notes: `${USAGE_NOTES} (a bad name, partition count, replication factor or --config entry, ` +
    "refused by troupe or by the broker, or a topic that exists already).",
};

/** `troupe topics describe`'s flags and help. */
export const TOPICS_DESCRIBE_COMMAND: CommandSpec = {
  name: "topics describe",
  summary: "Show a topic's partitions: leader, replicas, in-sync replicas and offsets.",
  usage: "NAME [options]",
  description: `Shows each partition of the topic NAME: its leader, replicas and in-sync replicas
(broker ids), its beginning (earliest offset still stored) and its end (the offset the next
record will get).`,
  operands: [NAME],
  flags: [JSON_FLAG, ...CONNECTION_FLAGS, ...loggingFlags("warning")],
  examples: ["troupe topics describe orders", "troupe topics describe orders --json"],
  notes: `${USAGE_NOTES} (a topic that does not exist).`,
};

/** `troupe topics delete`'s flags and help. */
export const TOPICS_DELETE_COMMAND: CommandSpec = {
  name: "topics delete",
  summary: "Delete a topic and its records (asks first unless --yes).",
  usage: "NAME [--yes] [options]",
  description: `Deletes the topic NAME with all its records. On a terminal it first asks for
confirmation; elsewhere (a script, a pipe) it refuses unless --yes is given.`,
  operands: [NAME],
  flags: [
    {
      name: "yes",
      kind: "boolean",
      description: "Delete without asking.",
    },
    ...CONNECTION_FLAGS,
    ...loggingFlags("warning"),
  ],
  examples: ["troupe topics delete orders", "troupe topics delete orders --yes"],
  notes: `${USAGE_NOTES} (a topic that does not exist, no --yes without a terminal). ` +
    "Declining the confirmation exits 1 and deletes nothing.",
};

/** Kafka's rule for topic names. */
const TOPIC_NAME = /^[A-Za-z0-9._-]{1,249}$/;

/** The topic named on the command line, checked as Kafka would. */
function topicOperand(flags: ParsedFlags): string {
  const topic = flags.requiredOperand("NAME");
  if (!TOPIC_NAME.test(topic) || topic === "." || topic === "..") {
    throw new UsageError(
      `"${topic}" is not a valid topic name: up to 249 ASCII letters, digits, ".", "_" and "-"`,
    );
  }
  return topic;
}

/** `--config k=v` entries, checked: each has a name, and no name comes twice. */
function configEntries(flags: ParsedFlags): Record<string, string> {
  const config: Record<string, string> = {};
  for (const entry of flags.list("config")) {
    const eq = entry.indexOf("=");
    const name = eq === -1 ? "" : entry.slice(0, eq).trim();
    if (!/^[A-Za-z0-9._-]+$/.test(name)) {
      throw new UsageError(
        `--config must be name=value, e.g. retention.ms=86400000; got "${entry}"`,
      );
    }
    if (name in config) throw new UsageError(`--config ${name} is given twice`);
    config[name] = entry.slice(eq + 1).trim();
  }
  return config;
}

/** Runs `body` with an admin client; a refused request about a topic is a usage mistake. */
async function withAdmin<T>(
  connection: ResolvedConnection,
  body: (admin: Admin) => Promise<T>,
): Promise<T> {
  await using admin = createAdmin(connection.options);
  try {
    return await body(admin);
  } catch (error) {
    // What was named or asked for cannot be: the same command would fail again.
    if (error instanceof TopicError) throw new UsageError(error.message);
    throw error;
  }
}

/**
 * Runs `troupe topics create`; resolves with the exit code.
 *
 * @example
 * ```ts ignore
 * Deno.exit(await topicsCreateCommand(["orders", "--partitions", "3"]));
 * ```
 */
export async function topicsCreateCommand(
  args: readonly string[],
  env: EnvReader = readEnv,
): Promise<number> {
  const { flags, connection } = await prepareAdminCommand(TOPICS_CREATE_COMMAND, args, env);
  if (!connection) {
    console.log(formatHelp(TOPICS_CREATE_COMMAND));
    return 0;
  }
  const topic = topicOperand(flags);
  const partitions = flags.integer("partitions", 1);
  if (partitions === undefined) {
    throw new UsageError(
      'topics create needs --partitions N\nRun "troupe topics create --help" for its options.',
    );
  }
  const replicationFactor = flags.integer("replication", 1, 32_767);
  const config = configEntries(flags);
  return await withAdmin(connection, async (admin) => {
    if (!(await admin.createTopics([{ topic, partitions, replicationFactor, config }]))) {
      const existing = await admin.partitions(topic);
      throw new UsageError(
        `topic ${topic} already exists (${existing.length} partition(s)); nothing was changed`,
      );
    }
    const created = await admin.partitions(topic);
    const replicas = created[0]?.replicas.length ?? 0;
    console.log(
      `created topic ${topic}: ${created.length} partition(s), replication factor ${replicas}`,
    );
    return 0;
  });
}

/**
 * Runs `troupe topics describe`; resolves with the exit code.
 *
 * @example
 * ```ts ignore
 * Deno.exit(await topicsDescribeCommand(["orders", "--json"]));
 * ```
 */
export async function topicsDescribeCommand(
  args: readonly string[],
  env: EnvReader = readEnv,
): Promise<number> {
  const { flags, connection } = await prepareAdminCommand(TOPICS_DESCRIBE_COMMAND, args, env);
  if (!connection) {
    console.log(formatHelp(TOPICS_DESCRIBE_COMMAND));
    return 0;
  }
  const topic = topicOperand(flags);
  const partitions = await withAdmin(connection, (admin) => admin.describeTopic(topic));
  if (flags.boolean("json")) {
    console.log(JSON.stringify(partitions));
    return 0;
  }
  const ids = (list: readonly number[]) => list.length > 0 ? list.join(",") : "-";
  printTable(
    ["PARTITION", "LEADER", "REPLICAS", "ISR", "BEGINNING", "END"],
    partitions.map((p) => [
      String(p.partition),
      p.leader >= 0 ? String(p.leader) : "-",
      ids(p.replicas),
      ids(p.isr),
      String(p.beginning),
      String(p.end),
    ]),
  );
  const stored = partitions.reduce((sum, p) => sum + p.end - p.beginning, 0);
  console.log(`${topic}: ${partitions.length} partition(s), ${stored} offset(s) stored`);
  return 0;
}

/**
 * Runs `troupe topics delete`; resolves with the exit code.
 *
 * @example
 * ```ts ignore
 * Deno.exit(await topicsDeleteCommand(["orders", "--yes"]));
 * ```
 */
export async function topicsDeleteCommand(
  args: readonly string[],
  env: EnvReader = readEnv,
  terminal: () => boolean = () => Deno.stdin.isTerminal(),
): Promise<number> {
  const { flags, connection } = await prepareAdminCommand(TOPICS_DELETE_COMMAND, args, env);
  if (!connection) {
    console.log(formatHelp(TOPICS_DELETE_COMMAND));
    return 0;
  }
  const topic = topicOperand(flags);
  const ask = !flags.boolean("yes");
  if (ask && !terminal()) {
    throw new UsageError(
      `topics delete asks before deleting, and standard input is not a terminal: ` +
        `pass --yes to delete ${topic}`,
    );
  }
  return await withAdmin(connection, async (admin) => {
    const partitions = await admin.describeTopic(topic);
    const stored = partitions.reduce((sum, p) => sum + p.end - p.beginning, 0);
    const question = `Delete topic ${topic} (${partitions.length} partition(s), ` +
      `${stored} offset(s) stored)? It cannot be undone.`;
    if (ask && !confirm(question)) {
      console.error(`topic ${topic} was not deleted`);
      return 1;
    }
    await admin.deleteTopics([topic]);
    console.log(`deleted topic ${topic}`);
    return 0;
  });
}
