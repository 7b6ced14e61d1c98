/**
 * troupe's command line: `run` a processor over a handler module, `produce` and `consume`
 * records, list, create, describe and delete `topics`, list consumer `groups`, show a group's
 * `lag`, list, show and replay dead letters (`dlq`), run the `demo`, or `init` a processor
 * project.
 *
 * ```sh
 * deno run -A main.ts --help
 * deno run -A main.ts run --handler ./handler.ts --topic orders --group billing
 * ```
 *
 * @module
 */

import denoJson from "./deno.json" with { type: "json" };
import { LAG_COMMAND, lagCommand, TOPICS_COMMAND, topicsCommand } from "./cli/admin_commands.ts";
import { CREDENTIAL_VARIABLES } from "./cli/connection.ts";
import { CONSUME_COMMAND, consumeCommand } from "./cli/consume.ts";
import { DEMO_COMMAND, demoCommand } from "./cli/demo_command.ts";
import { DLQ_COMMAND, dlqCommand } from "./cli/dlq_command.ts";
import { GROUPS_COMMAND, groupsCommand } from "./cli/groups_command.ts";
import { INIT_COMMAND, initCommand } from "./cli/init.ts";
import { UsageError } from "./cli/errors.ts";
import type { CommandSpec } from "./cli/flags.ts";
import { PRODUCE_COMMAND, produceCommand } from "./cli/produce.ts";
import { RUN_COMMAND, runCommand } from "./cli/run.ts";
import { ConfigError } from "./mod.ts";

/** A command: its help and what runs it (resolving with the exit code). */
interface Command {
  spec: CommandSpec;
  main: (args: readonly string[]) => Promise<number>;
}

const COMMANDS: readonly Command[] = [
  { spec: RUN_COMMAND, main: runCommand },
  { spec: PRODUCE_COMMAND, main: produceCommand },
  { spec: CONSUME_COMMAND, main: consumeCommand },
  { spec: TOPICS_COMMAND, main: topicsCommand },
  { spec: GROUPS_COMMAND, main: groupsCommand },
  { spec: LAG_COMMAND, main: lagCommand },
  { spec: DLQ_COMMAND, main: dlqCommand },
  { spec: DEMO_COMMAND, main: demoCommand },
  { spec: INIT_COMMAND, main: initCommand },
];

function toolHelp(): string {
  const width = Math.max(...COMMANDS.map((command) => command.spec.name.length)) + 3;
  return `troupe ${denoJson.version}: an actor-based Kafka stream processor for Deno

Usage: troupe <command> [options]
  where troupe is "deno run <permissions> main.ts", or the binary "deno compile" makes of it

Commands:
${COMMANDS.map((c) => `  ${c.spec.name.padEnd(width)}${c.spec.summary}`).join("\n")}

Options:
  -h, --help     Show this help; "troupe <command> --help" shows a command's options.
  -V, --version  Print troupe's version.

Configuration comes from flags, then environment variables, then defaults. Every command
reads KAFKA_BROKERS (its --brokers); each command's help names the TROUPE_* variable of each
of its flags. TLS and SASL are set through the environment only:
${CREDENTIAL_VARIABLES.map((v) => `  ${v.name.padEnd(23)}${v.description}`).join("\n")}

Permissions for "run" (narrowest set):
  deno run --allow-net=<brokers>[,<metrics-host>:<metrics-port>] \\
    --allow-env=NODE_ENV,KAFKAJS_*,KAFKA_BROKERS,TROUPE_* \\
    --allow-read=<handler file and its local imports> main.ts run ...

Exit codes: 0 on success or a graceful stop, 1 on a runtime failure, 2 for a usage mistake.`;
}

/**
 * Runs the command line; resolves with the exit code.
 *
 * @example
 * ```ts ignore
 * Deno.exit(await main(["topics"]));
 * ```
 */
export async function main(args: readonly string[]): Promise<number> {
  const [name, ...rest] = args;
  switch (name) {
    case undefined:
      console.error(toolHelp());
      return 2;
    case "help":
    case "-h":
    case "--help":
      if (rest[0] !== undefined) return await main([rest[0], "--help"]);
      console.log(toolHelp());
      return 0;
    case "-V":
    case "--version":
    case "version":
      console.log(`troupe ${denoJson.version} (deno ${Deno.version.deno})`);
      return 0;
  }
  const command = COMMANDS.find((c) => c.spec.name === name);
  if (!command) {
    throw new UsageError(
      `unknown command "${name}"; the commands are ${
        COMMANDS.map((c) => c.spec.name).join(", ")
      }. Run "troupe --help".`,
    );
  }
  return await command.main(rest);
}

/** Exit code 2 for the user's mistakes, 1 for everything else. */
function exitCodeOf(error: unknown): number {
  return error instanceof UsageError || error instanceof ConfigError ? 2 : 1;
}

if (import.meta.main) {
  let code: number;
  try {
    code = await main(Deno.args);
  } catch (error) {
    // Operators get one line (no stack trace): every error troupe raises says what and where.
    console.error(`troupe: ${error instanceof Error ? error.message : String(error)}`);
    code = exitCodeOf(error);
  }
  Deno.exit(code);
}
