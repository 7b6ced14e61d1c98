/**
 * What every admin command (`topics`, `groups`, `lag`) does before it talks to Kafka.
 *
 * @module
 */

import { resolveConnection, type ResolvedConnection } from "./connection.ts";
import {
  type CommandSpec,
  type EnvReader,
  type FlagSpec,
  type ParsedFlags,
  parseFlags,
} from "./flags.ts";
import { configureLogging, type LogFormat } from "./logging.ts";

/** `--json`, for the commands that print a table. */
export const JSON_FLAG: FlagSpec = {
  name: "json",
  kind: "boolean",
  description: "Print a JSON array instead of a table.",
};

/**
 * Parses an admin command's arguments, then (unless `--help` was given) resolves its
 * connection and configures logging. `connection` is `undefined` for `--help`.
 *
 * @example
 * ```ts ignore
 * const { flags, connection } = await prepareAdminCommand(TOPICS_COMMAND, args, readEnv);
 * if (!connection) return printHelp();
 * ```
 */
export async function prepareAdminCommand(
  spec: CommandSpec,
  args: readonly string[],
  env: EnvReader,
): Promise<{ flags: ParsedFlags; connection: ResolvedConnection | undefined }> {
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
