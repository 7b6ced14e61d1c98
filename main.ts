/**
 * troupe's command line.
 *
 * ```sh
 * deno run -A main.ts demo
 * ```
 *
 * @module
 */

import process from "node:process";
import { parseArgs } from "node:util";
import { runDemo } from "./cli/demo.ts";
import { configureLogging } from "./cli/logging.ts";

const HELP = `troupe: an actor-based Kafka stream processor for Deno

Usage: deno run -A main.ts <command> [options]

Commands:
  demo      Produce 20,000 orders and process them with crashing actors; report losses.

Run "deno run -A main.ts <command> --help" for a command's options.
`;

const DEMO_HELP = `Usage: deno run -A main.ts demo [options]

Produces 20,000 JSON orders to a new 6-partition topic, processes them with a handler that
crashes on a few of them, shows live progress, and reports what was produced, processed,
duplicated and lost. Exits 0 only when nothing was lost and the committed offsets equal the
end offsets.

Options:
  --brokers LIST    Kafka bootstrap brokers (default: $KAFKA_BROKERS, else a local broker)
  --messages N      Orders to produce (default: 20000)
  --work-ms N       Simulated work per order in ms (default: 1)
  -h, --help        Show this help
`;

async function demo(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      brokers: { type: "string" },
      messages: { type: "string" },
      "work-ms": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help) {
    console.log(DEMO_HELP);
    return 0;
  }
  await configureLogging({ level: "error", format: "pretty" });
  const report = await runDemo({
    brokers: values.brokers,
    messages: values.messages === undefined ? undefined : positive(values.messages, "--messages"),
    workMs: values["work-ms"] === undefined
      ? undefined
      : positive(values["work-ms"], "--work-ms", 0),
  });
  return report.lost === 0 && report.committedEqualsEnd ? 0 : 1;
}

/** A mistake in how the command was called: reported without a stack trace, exit code 2. */
class UsageError extends Error {}

function positive(text: string, flag: string, min = 1): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < min) {
    throw new UsageError(`${flag} must be an integer >= ${min}, got "${text}"`);
  }
  return value;
}

async function main(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  switch (command) {
    case "demo":
      return await demo(rest);
    case undefined:
    case "help":
    case "-h":
    case "--help":
      console.log(HELP);
      return command === undefined ? 2 : 0;
    default:
      throw new UsageError(`unknown command "${command}"\n\n${HELP}`);
  }
}

/**
 * KafkaJS sets a timer from a stale deadline, and Node's timers warn about the negative
 * delay on stderr. It is harmless (the delay becomes 1 ms); keep it off operators' screens.
 */
function silenceKafkaJsTimerWarning(): void {
  const emitWarning = process.emitWarning.bind(process);
  process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
    const type = typeof rest[0] === "string"
      ? rest[0]
      : (rest[0] as { type?: string } | undefined)?.type;
    if (type === "TimeoutNegativeWarning") return;
    (emitWarning as (...args: unknown[]) => void)(warning, ...rest);
  }) as typeof process.emitWarning;
}

if (import.meta.main) {
  silenceKafkaJsTimerWarning();
  let code: number;
  try {
    code = await main(Deno.args);
  } catch (error) {
    const usage = error instanceof UsageError ||
      (error as { code?: string }).code?.startsWith("ERR_PARSE_ARGS");
    console.error(`troupe: ${error instanceof Error ? error.message : String(error)}`);
    code = usage ? 2 : 1;
  }
  Deno.exit(code);
}
