/**
 * `troupe dlq list|show|replay`: the dead letters of a topic, one in full, and replaying the
 * chosen ones to their original topic or another.
 *
 * @module
 */

import {
  type DeadLetter,
  type DeadLetterFilter,
  listDeadLetters,
  parseDeadLetterId,
  replayDeadLetters,
  TopicError,
} from "../mod.ts";
import { JSON_FLAG, prepareAdminCommand } from "./admin_setup.ts";
import { CONNECTION_FLAGS } from "./connection.ts";
import { type BytesJson, deadLetterJson } from "./dead_letter_json.ts";
import { UsageError } from "./errors.ts";
import {
  type CommandSpec,
  type EnvReader,
  type FlagSpec,
  formatHelp,
  type ParsedFlags,
  readEnv,
} from "./flags.ts";
import { loggingFlags } from "./logging.ts";
import { printTable } from "./table.ts";

const TOPIC_FLAG: FlagSpec = {
  name: "topic",
  kind: "string",
  placeholder: "DLQ",
  env: "TROUPE_DEAD_LETTER",
  description: "The dead-letter topic (what run's --dead-letter names).",
};

/** `--json` for the commands that print one object. */
const JSON_OBJECT_FLAG: FlagSpec = {
  name: "json",
  kind: "boolean",
  description: "Print one JSON object instead of text.",
};

/** The flags that choose dead letters, shared by `list` and `replay`. */
const FILTER_FLAGS: readonly FlagSpec[] = [
  {
    name: "id",
    kind: "list",
    placeholder: "P:O",
    description: "Only this dead letter: PARTITION:OFFSET in the dead-letter topic, as list shows.",
  },
  {
    name: "reason",
    kind: "string",
    placeholder: "R",
    choices: ["retries-exhausted", "decode-error", "not-retriable"],
    description: "Only dead letters with this reason.",
  },
  {
    name: "error",
    kind: "string",
    placeholder: "TEXT",
    description: "Only dead letters whose error contains TEXT (ignoring case).",
  },
  {
    name: "offsets",
    kind: "string",
    placeholder: "A-B",
    description: "Only offsets A to B (both included) of the dead-letter topic; A alone is one.",
  },
  {
    name: "partition",
    kind: "string",
    placeholder: "P",
    description: "Only this partition of the dead-letter topic.",
  },
];

const NOTES = "Exit codes: 0 on success, 1 when Kafka cannot be reached, 2 for a usage mistake " +
  "(a bad flag or id, a topic that does not exist).";

/** `troupe dlq list`'s flags and help. */
export const DLQ_LIST_COMMAND: CommandSpec = {
  name: "dlq list",
  summary: "List the dead letters of a topic.",
  usage: "--topic DLQ [filters] [--last N] [--json]",
  description: `Reads the dead-letter topic as it is now and prints one row per dead letter: its
ID (partition:offset in the dead-letter topic), where the message came from
(topic[partition]@offset), the reason, attempts, when it was dead-lettered and the error.
Nothing is committed.`,
  flags: [
    TOPIC_FLAG,
    ...FILTER_FLAGS,
    {
      name: "last",
      kind: "string",
      placeholder: "N",
      description: "Only the last N records of each partition. Default: all.",
    },
    JSON_FLAG,
    ...CONNECTION_FLAGS,
    ...loggingFlags("warning"),
  ],
  examples: [
    "troupe dlq list --topic orders.dlq",
    "troupe dlq list --topic orders.dlq --reason not-retriable --error timeout --json",
  ],
  notes: NOTES,
};

/** `troupe dlq show`'s flags and help. */
export const DLQ_SHOW_COMMAND: CommandSpec = {
  name: "dlq show",
  summary: "Show one dead letter: provenance, key, value and headers.",
  usage: "ID --topic DLQ [--json]",
  description: `Shows the dead letter ID (partition:offset in the dead-letter topic): where the
message came from, why, the error, and its key, value and headers (UTF-8 text, or base64 for
bytes that are not).`,
  operands: [{ name: "ID", description: "PARTITION:OFFSET in the dead-letter topic." }],
  flags: [TOPIC_FLAG, JSON_OBJECT_FLAG, ...CONNECTION_FLAGS, ...loggingFlags("warning")],
  examples: ["troupe dlq show 0:42 --topic orders.dlq"],
  notes: NOTES + " A dead letter that is not there exits 1.",
};

/** `troupe dlq replay`'s flags and help. */
export const DLQ_REPLAY_COMMAND: CommandSpec = {
  name: "dlq replay",
  summary: "Produce chosen dead letters again, to their original topic or another.",
  usage: "--topic DLQ (--all | filters) [--to TOPIC] [--dry-run] [--json]",
  description: `Produces the chosen dead letters again with their original key, value and headers,
to their original topic and partition (or to --to), each with the headers troupe.replay.of
(the dead letter's topic:partition:offset) and troupe.replay.id (this replay). The dead-letter
topic is read as it is when the replay starts; an original message dead-lettered twice is sent
once; the producer is idempotent. Choose with --all or with filters (which all must hold).
--dry-run prints what would be sent and sends nothing.`,
  flags: [
    TOPIC_FLAG,
    {
      name: "all",
      kind: "boolean",
      description: "Every dead letter of the topic (needed when no filter is given).",
    },
    ...FILTER_FLAGS,
    {
      name: "to",
      kind: "string",
      placeholder: "TOPIC",
      description: "Send them to this topic. Default: each one's original topic and partition.",
    },
    {
      name: "dry-run",
      kind: "boolean",
      description: "Print what would be sent; send nothing.",
    },
    JSON_OBJECT_FLAG,
    ...CONNECTION_FLAGS,
    ...loggingFlags("warning"),
  ],
  examples: [
    "troupe dlq replay --topic orders.dlq --all --dry-run",
    "troupe dlq replay --topic orders.dlq --reason retries-exhausted --error timeout",
    "troupe dlq replay --topic orders.dlq --offsets 100-150 --to orders-retry",
  ],
  notes: NOTES,
};

const SUBCOMMANDS = [DLQ_LIST_COMMAND, DLQ_SHOW_COMMAND, DLQ_REPLAY_COMMAND];

/** `troupe dlq`'s help: its subcommands. */
export const DLQ_COMMAND: CommandSpec = {
  name: "dlq",
  summary: "List, show and replay the dead letters of a topic.",
  usage: "list|show|replay --topic DLQ ...",
  description: `Dead letters are the messages a processor gave up on (retries exhausted, not
decodable, not retriable), produced to a dead-letter topic with headers saying where they came
from and why. Its subcommands, each with its own --help:
${SUBCOMMANDS.map((spec) => `  ${spec.name.padEnd(13)}${spec.summary}`).join("\n")}`,
  flags: [],
  examples: [
    "troupe dlq list --topic orders.dlq",
    "troupe dlq show 0:42 --topic orders.dlq",
    "troupe dlq replay --topic orders.dlq --all --dry-run",
  ],
  notes: NOTES,
};

type Subcommand = (args: readonly string[], env: EnvReader) => Promise<number>;

/**
 * Runs `troupe dlq`; resolves with the exit code.
 *
 * @example
 * ```ts ignore
 * Deno.exit(await dlqCommand(["list", "--topic", "orders.dlq"]));
 * ```
 */
export async function dlqCommand(
  args: readonly string[],
  env: EnvReader = readEnv,
): Promise<number> {
  const [first, ...rest] = args;
  const subcommands: Record<string, Subcommand> = { list, show, replay };
  if (first === "--help" || first === "-h" || first === "help") {
    console.log(formatHelp(DLQ_COMMAND));
    return 0;
  }
  if (first === undefined || !Object.hasOwn(subcommands, first)) {
    throw new UsageError(
      `${
        first === undefined ? "dlq needs a subcommand" : `unknown subcommand "${first}" for "dlq"`
      }; they are list, show, replay. Run "troupe dlq --help".`,
    );
  }
  try {
    return await subcommands[first](rest, env);
  } catch (error) {
    // A topic that does not exist: the same command would fail again.
    if (error instanceof TopicError) throw new UsageError(error.message);
    throw error;
  }
}

async function list(args: readonly string[], env: EnvReader): Promise<number> {
  const { flags, connection } = await prepareAdminCommand(DLQ_LIST_COMMAND, args, env);
  if (!connection) {
    console.log(formatHelp(DLQ_LIST_COMMAND));
    return 0;
  }
  const topic = flags.required("topic", "the dead-letter topic");
  const filter = filterOf(flags);
  const letters = await listDeadLetters(connection.options, {
    topic,
    filter,
    last: flags.integer("last", 1),
  });
  if (flags.boolean("json")) {
    console.log(JSON.stringify(letters.map(deadLetterJson)));
    return 0;
  }
  if (letters.length === 0) {
    console.error(`no dead letters in ${topic}${describeFilter(filter)}`);
    return 0;
  }
  printTable(
    ["ID", "ORIGINAL", "REASON", "ATTEMPTS", "DEAD-LETTERED", "ERROR"],
    letters.map((letter) => [
      letter.id,
      originalOf(letter),
      letter.reason ?? "-",
      letter.attempts === null ? "-" : String(letter.attempts),
      new Date(letter.deadLetteredAt).toISOString(),
      oneLine(letter.error ?? "-", 80),
    ]),
  );
  return 0;
}

async function show(args: readonly string[], env: EnvReader): Promise<number> {
  const { flags, connection } = await prepareAdminCommand(DLQ_SHOW_COMMAND, args, env);
  if (!connection) {
    console.log(formatHelp(DLQ_SHOW_COMMAND));
    return 0;
  }
  const id = checkId(flags.requiredOperand("ID"));
  const topic = flags.required("topic", "the dead-letter topic");
  const [letter] = await listDeadLetters(connection.options, { topic, filter: { ids: [id] } });
  if (!letter) {
    console.error(`troupe: no dead letter ${id} in ${topic}`);
    return 1;
  }
  const json = deadLetterJson(letter);
  if (flags.boolean("json")) {
    console.log(JSON.stringify(json));
    return 0;
  }
  const text = (bytes: BytesJson | null) =>
    bytes === null ? "null" : bytes.encoding === "utf8" ? bytes.text : `base64:${bytes.text}`;
  const lines = [
    ["id", `${letter.id} of ${topic}`],
    ["original", originalOf(letter)],
    [
      "produced",
      letter.original.timestamp === null ? "-" : new Date(letter.original.timestamp).toISOString(),
    ],
    ["dead-lettered", json.deadLetteredAt],
    ["reason", letter.reason ?? "-"],
    ["attempts", letter.attempts === null ? "-" : String(letter.attempts)],
    ["error", letter.error ?? "-"],
    ["key", text(json.key)],
    ["value", text(json.value)],
  ];
  const out = lines.map(([name, value]) => `${name.padEnd(14)}${value}`);
  const headers = Object.entries(json.headers);
  out.push(`${"headers".padEnd(14)}${headers.length === 0 ? "none" : ""}`);
  for (const [name, value] of headers) {
    for (const item of Array.isArray(value) ? value : [value]) out.push(`  ${name}: ${text(item)}`);
  }
  console.log(out.join("\n"));
  return 0;
}

async function replay(args: readonly string[], env: EnvReader): Promise<number> {
  const { flags, connection } = await prepareAdminCommand(DLQ_REPLAY_COMMAND, args, env);
  if (!connection) {
    console.log(formatHelp(DLQ_REPLAY_COMMAND));
    return 0;
  }
  const topic = flags.required("topic", "the dead-letter topic");
  const filter = filterOf(flags);
  const all = flags.boolean("all");
  if (all && Object.keys(filter).length > 0) {
    throw new UsageError("dlq replay takes --all or filters, not both");
  }
  if (!all && Object.keys(filter).length === 0) {
    throw new UsageError(
      "dlq replay needs --all or a filter (--id, --reason, --error, --offsets, --partition), " +
        'so that nothing is replayed by accident. Run "troupe dlq replay --help".',
    );
  }
  const to = flags.string("to");
  if (to !== undefined && !/^[a-zA-Z0-9._-]{1,249}$/.test(to)) {
    throw new UsageError(`--to: "${to}" is not a valid topic name`);
  }
  const dryRun = flags.boolean("dry-run");
  const result = await replayDeadLetters(connection.options, { topic, filter, to, dryRun });
  if (flags.boolean("json")) {
    console.log(JSON.stringify({
      replayId: result.replayId,
      dryRun,
      records: result.records.map((r) => ({ id: r.id, to: r.to, partition: r.partition })),
      duplicates: result.duplicates,
      unroutable: result.unroutable,
    }));
    return 0;
  }
  const verb = dryRun ? "would send" : "sent";
  for (const record of result.records) {
    const where = record.partition === null ? record.to : `${record.to}[${record.partition}]`;
    console.log(`${verb} ${record.id} (${originalOf(record.deadLetter)}) to ${where}`);
  }
  for (const id of result.duplicates) {
    console.log(`skipped ${id}: the same original message as one sent above`);
  }
  for (const id of result.unroutable) {
    console.log(`skipped ${id}: it names no original topic; give --to`);
  }
  const count = result.records.length;
  console.error(
    count === 0
      ? `no dead letters in ${topic}${describeFilter(filter)}`
      : `${dryRun ? "dry run: would replay" : "replayed"} ${count} dead letter(s) of ${topic}` +
        (dryRun ? "; nothing was sent" : ` (replay ${result.replayId})`),
  );
  return 0;
}

/** The filter the flags describe. */
function filterOf(flags: ParsedFlags): DeadLetterFilter {
  const filter: {
    -readonly [K in keyof DeadLetterFilter]: DeadLetterFilter[K];
  } = {};
  const ids = flags.list("id");
  if (ids.length > 0) {
    filter.ids = ids.map(checkId);
  }
  const reason = flags.string("reason");
  if (reason !== undefined) filter.reason = reason;
  const error = flags.string("error");
  if (error !== undefined) {
    if (error.trim() === "") throw new UsageError("--error needs some text to look for");
    filter.errorIncludes = error;
  }
  const partition = flags.integer("partition", 0);
  if (partition !== undefined) filter.partition = partition;
  const offsets = flags.string("offsets");
  if (offsets !== undefined) {
    const match = /^\s*(\d{1,15})\s*(?:-\s*(\d{1,15})\s*)?$/.exec(offsets);
    const from = match ? Number(match[1]) : NaN;
    const to = match?.[2] !== undefined ? Number(match[2]) : from;
    if (!match || to < from) {
      throw new UsageError(
        `--offsets must be A-B with A <= B (or one offset A); got "${offsets}"`,
      );
    }
    filter.offsets = { from, to };
  }
  return filter;
}

/** A dead letter's id, normalized; a {@linkcode UsageError} when it is not one. */
function checkId(id: string): string {
  try {
    const { partition, offset } = parseDeadLetterId(id);
    return `${partition}:${offset}`;
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}

function describeFilter(filter: DeadLetterFilter): string {
  return Object.keys(filter).length > 0 ? " matching the filters" : "";
}

function originalOf(letter: DeadLetter): string {
  const { topic, partition, offset } = letter.original;
  return topic === null ? "-" : `${topic}[${partition ?? "?"}]@${offset ?? "?"}`;
}

function oneLine(text: string, width: number): string {
  const line = text.replace(/\s+/g, " ");
  return line.length > width ? `${line.slice(0, width - 1)}…` : line;
}
