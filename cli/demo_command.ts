/**
 * `troupe demo`: the README's demo, from the command line.
 *
 * @module
 */

import { runDemo } from "./demo.ts";
import { type CommandSpec, type EnvReader, formatHelp, parseFlags, readEnv } from "./flags.ts";
import { configureLogging, type LogFormat, loggingFlags } from "./logging.ts";
import { VIEW_FLAG, viewMode } from "./view_flag.ts";

/** `troupe demo`'s flags and help. */
export const DEMO_COMMAND: CommandSpec = {
  name: "demo",
  summary: "Produce 20,000 orders and process them with crashing actors; report losses.",
  usage: "[options]",
  description:
    `Produces 20,000 JSON orders to a new 6-partition topic, processes them with a handler that
crashes on a few of them, shows live progress, and reports what was produced, processed,
duplicated and lost. Exits 0 only when nothing was lost and the committed offsets equal the
end offsets.`,
  flags: [
    {
      name: "brokers",
      kind: "string",
      placeholder: "LIST",
      env: "KAFKA_BROKERS",
      description: "Kafka bootstrap brokers. Default: a local broker started for the demo.",
    },
    {
      name: "messages",
      kind: "string",
      placeholder: "N",
      default: "20000",
      description: "Orders to produce.",
    },
    {
      name: "work-ms",
      kind: "string",
      placeholder: "N",
      default: "1",
      description: "Simulated work per order, ms.",
    },
    { ...VIEW_FLAG, choices: ["auto", "live", "lines"] },
    ...loggingFlags("error"),
  ],
  examples: ["troupe demo", "troupe demo --messages 2000 --view lines"],
  notes: "Exit codes: 0 when nothing was lost, 1 otherwise, 2 for a usage mistake.",
};

/**
 * Runs `troupe demo`; resolves with the exit code.
 *
 * @example
 * ```ts ignore
 * Deno.exit(await demoCommand(["--messages", "2000"]));
 * ```
 */
export async function demoCommand(
  args: readonly string[],
  env: EnvReader = readEnv,
): Promise<number> {
  const flags = parseFlags(DEMO_COMMAND, args, env);
  if (flags.help) {
    console.log(formatHelp(DEMO_COMMAND));
    return 0;
  }
  const messages = flags.integer("messages", 1)!;
  const workMs = flags.integer("work-ms", 0)!;
  const interactive = viewMode(flags) === "live";
  await configureLogging({
    level: flags.choice("log-level")!,
    format: flags.choice<LogFormat>("log-format")!,
  });
  const report = await runDemo({
    brokers: flags.string("brokers"),
    messages,
    workMs,
    interactive,
  });
  return report.lost === 0 && report.committedEqualsEnd ? 0 : 1;
}
