/**
 * `troupe produce`: one record per line of standard input.
 *
 * @module
 */

import { createProducer } from "../mod.ts";
import { CONNECTION_FLAGS, resolveConnection } from "./connection.ts";
import { type CommandSpec, type EnvReader, formatHelp, parseFlags, readEnv } from "./flags.ts";
import { configureLogging, type LogFormat, loggingFlags } from "./logging.ts";

/** `troupe produce`'s flags and help. */
export const PRODUCE_COMMAND: CommandSpec = {
  name: "produce",
  summary: "Produce one record per line of standard input.",
  usage: "--topic T [--key K] [--codec json|string] [options]",
  description:
    `Reads standard input line by line and produces each non-empty line as one record's value
(UTF-8, without its line ending), in order, then reports how many were produced on stderr.
With --codec json each line must be a JSON document; the first that is not stops the command
(records before it are produced). Delivery is idempotent and acknowledged by all in-sync
replicas.`,
  flags: [
    {
      name: "topic",
      kind: "string",
      placeholder: "T",
      description: "Topic to produce to.",
    },
    {
      name: "key",
      kind: "string",
      placeholder: "K",
      description: "Key of every record (records with one key go to one partition). " +
        "Default: none (records spread over the partitions).",
    },
    {
      name: "codec",
      kind: "string",
      placeholder: "CODEC",
      default: "string",
      choices: ["json", "string"],
      description: "How lines are taken: as text, or as JSON documents (checked).",
    },
    ...CONNECTION_FLAGS,
    ...loggingFlags("warning"),
  ],
  examples: [
    "printf 'hello\\nworld\\n' | troupe produce --topic greetings",
    "cat orders.jsonl | troupe produce --topic orders --codec json --key eu",
  ],
  notes: "Exit codes: 0 when every line was produced, 1 on a failure, 2 for a usage mistake.",
};

/** Records in flight before reading more input: bounds memory on a large input. */
const WINDOW = 5_000;

/**
 * Runs `troupe produce` with `args`; resolves with the exit code.
 *
 * @example
 * ```ts ignore
 * Deno.exit(await produceCommand(["--topic", "greetings"]));
 * ```
 */
export async function produceCommand(
  args: readonly string[],
  env: EnvReader = readEnv,
  input: ReadableStream<Uint8Array> = Deno.stdin.readable,
): Promise<number> {
  const flags = parseFlags(PRODUCE_COMMAND, args, env);
  if (flags.help) {
    console.log(formatHelp(PRODUCE_COMMAND));
    return 0;
  }
  const topic = flags.required("topic", "the topic to produce to");
  const key = flags.string("key");
  const codec = flags.choice<"json" | "string">("codec")!;
  const connection = await resolveConnection(flags, env);
  await configureLogging({
    level: flags.choice("log-level")!,
    format: flags.choice<LogFormat>("log-format")!,
    secrets: connection.secrets,
  });

  const producer = createProducer({ ...connection.options, valueCodec: "string" });
  let sent = 0;
  let lineNumber = 0;
  const pending: Promise<unknown>[] = [];
  try {
    for await (const line of lines(input)) {
      lineNumber++;
      if (line === "") continue;
      if (codec === "json") {
        try {
          JSON.parse(line);
        } catch (error) {
          await Promise.all(pending);
          throw new InputError(
            `line ${lineNumber} is not JSON (${
              error instanceof Error ? error.message : error
            }); the ${sent} record(s) before it were produced`,
          );
        }
      }
      pending.push(producer.send({ topic, key: key ?? null, value: line }));
      sent++;
      if (pending.length >= WINDOW) await Promise.all(pending.splice(0));
    }
    await Promise.all(pending);
  } finally {
    await producer.close().catch(() => {});
  }
  console.error(`produced ${sent} record(s) to ${topic}`);
  return 0;
}

/** Bad input data: a runtime failure (exit 1), reported without a stack trace. */
class InputError extends Error {
  override name = "InputError";
}

/** Splits a byte stream into lines, without their `\n` or `\r\n`. */
async function* lines(input: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let buffer = "";
  for await (const chunk of input.pipeThrough(new TextDecoderStream())) {
    buffer += chunk;
    let newline: number;
    while ((newline = buffer.indexOf("\n")) !== -1) {
      const line = buffer.slice(0, newline);
      buffer = buffer.slice(newline + 1);
      yield line.endsWith("\r") ? line.slice(0, -1) : line;
    }
  }
  if (buffer !== "") yield buffer.endsWith("\r") ? buffer.slice(0, -1) : buffer;
}
