/**
 * `troupe consume`: prints records as `topic:partition:offset key=... value=...` lines.
 *
 * @module
 */

import { createProcessor, type Message } from "../mod.ts";
import { CONNECTION_FLAGS, resolveConnection } from "./connection.ts";
import { type CommandSpec, type EnvReader, formatHelp, parseFlags, readEnv } from "./flags.ts";
import { configureLogging, type LogFormat, loggingFlags } from "./logging.ts";

/** `troupe consume`'s flags and help. */
export const CONSUME_COMMAND: CommandSpec = {
  name: "consume",
  summary: "Print records as topic:partition:offset key=... value=... lines.",
  usage: "--topic T [--from-beginning] [--group G] [--limit N] [options]",
  description: `Reads topics through a processor and prints one line per record on stdout:
  topic:partition:offset key=KEY value=VALUE
with key and value decoded as UTF-8 (null when absent). Records of one partition come in
order; partitions interleave. Without --group it joins a fresh group of its own; with one it
commits what it printed, so the next consume of that group goes on from there. Stops after
--limit records (records read beyond it are not committed), or on SIGINT or SIGTERM.`,
  flags: [
    {
      name: "topic",
      kind: "list",
      placeholder: "T",
      description: "Topic to read.",
    },
    {
      name: "from-beginning",
      kind: "boolean",
      description: "With no committed offset, start at the earliest offset (else only new ones).",
    },
    {
      name: "group",
      kind: "string",
      placeholder: "G",
      description: "Consumer group id. Default: a new troupe-consume-<random> group.",
    },
    {
      name: "limit",
      kind: "string",
      placeholder: "N",
      description: "Stop after printing N records. Default: no limit.",
    },
    ...CONNECTION_FLAGS,
    ...loggingFlags("warning"),
  ],
  examples: [
    "troupe consume --topic greetings --from-beginning --limit 10",
    "troupe consume --topic orders --group audit",
  ],
  notes: "Exit codes: 0 after the limit or a signal, 1 on a failure, 2 for a usage mistake.",
};

const text = new TextDecoder(); // Not fatal: binary data prints with replacement characters.
const encoder = new TextEncoder();

/**
 * One record as `consume` prints it (without the line feed).
 *
 * @example
 * ```ts ignore
 * formatRecord(message); // "orders:0:42 key=eu value={\"id\":7}"
 * ```
 */
export function formatRecord(message: Message<Uint8Array, Uint8Array>): string {
  const key = message.rawKey === null ? "null" : text.decode(message.rawKey);
  const value = message.rawValue === null ? "null" : text.decode(message.rawValue);
  return `${message.topic}:${message.partition}:${message.offset} key=${key} value=${value}`;
}

/**
 * Runs `troupe consume` with `args`; resolves with the exit code.
 *
 * @example
 * ```ts ignore
 * Deno.exit(await consumeCommand(["--topic", "greetings", "--from-beginning"]));
 * ```
 */
export async function consumeCommand(
  args: readonly string[],
  env: EnvReader = readEnv,
): Promise<number> {
  const flags = parseFlags(CONSUME_COMMAND, args, env);
  if (flags.help) {
    console.log(formatHelp(CONSUME_COMMAND));
    return 0;
  }
  const topics = flags.list("topic");
  if (topics.length === 0) flags.required("topic", "the topic to read");
  const limit = flags.integer("limit", 1);
  const groupId = flags.string("group") ?? `troupe-consume-${crypto.randomUUID().slice(0, 12)}`;
  const connection = await resolveConnection(flags, env);
  await configureLogging({
    level: flags.choice("log-level")!,
    format: flags.choice<LogFormat>("log-format")!,
    secrets: connection.secrets,
  });

  let printed = 0;
  const finished = Promise.withResolvers<void>();
  const processor = createProcessor({
    ...connection.options,
    groupId,
    topics,
    fromBeginning: flags.boolean("from-beginning"),
    keyCodec: "bytes",
    valueCodec: "bytes",
    // A record held back past the limit is aborted quickly at stop.
    shutdownTimeoutMs: 100,
    // Synchronous while under the limit, so no other partition's record is in hand when the
    // limit is reached and every partition is paused.
    handler: (message, context) => {
      if (limit !== undefined && printed >= limit) return pastTheLimit(context.signal);
      printed++;
      try {
        writeStdout(formatRecord(message) + "\n");
      } catch (error) {
        // The reader went away (e.g. `| head`): stop like after a limit, quietly.
        if (error instanceof Deno.errors.BrokenPipe) finished.resolve();
        throw error;
      }
      if (printed === limit) {
        for (const partition of processor.status().partitions) processor.pause(partition);
        finished.resolve();
      }
    },
  });

  const stop = () => finished.resolve();
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  try {
    await processor.start();
    await Promise.race([finished.promise, processor.done]);
    await processor.stop();
    await processor.done;
    return 0;
  } finally {
    Deno.removeSignalListener("SIGINT", stop);
    Deno.removeSignalListener("SIGTERM", stop);
    await processor.stop().catch(() => {});
  }
}

/**
 * A record past the limit (from a partition assigned after it was reached) must not
 * complete, or its offset would be committed: wait for the stop to abort it.
 */
async function pastTheLimit(signal: AbortSignal): Promise<void> {
  await new Promise<void>((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener("abort", () => resolve(), { once: true });
  });
  throw new Error("consume: past the limit");
}

function writeStdout(line: string): void {
  const bytes = encoder.encode(line);
  let written = 0;
  while (written < bytes.length) written += Deno.stdout.writeSync(bytes.subarray(written));
}
