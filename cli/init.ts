/**
 * `troupe init [DIR]`: a new processor project that depends on troupe.
 *
 * @module
 */

import denoJson from "../deno.json" with { type: "json" };
import { UsageError } from "./errors.ts";
import { type CommandSpec, type EnvReader, formatHelp, parseFlags, readEnv } from "./flags.ts";
import { projectFiles } from "./init_templates.ts";

/** `troupe init`'s help. */
export const INIT_COMMAND: CommandSpec = {
  name: "init",
  summary: "Create a processor project that depends on troupe (deno.json, handler, tests).",
  usage: "[DIR] [options]",
  description:
    `Creates a processor project in DIR (made if missing): deno.json (troupe as a dependency,
tasks start, dev and test), handler.ts (a typed JSON handler), handler_test.ts (its tests on
troupe's in-memory Kafka), main.ts (runs it against KAFKA_BROKERS) and a README. troupe is mapped
to this checkout's mod.ts by file URL until it is published. It never overwrites a file: if one
of them exists, nothing is written.`,
  operands: [{
    name: "DIR",
    description: "Directory of the new project. Default: the current one.",
  }],
  flags: [],
  examples: ["troupe init billing", "cd billing && deno task test"],
  notes: "Exit codes: 0 on success, 1 when a file cannot be written, 2 for a usage mistake " +
    "(a file that would be overwritten, DIR not a directory).",
};

/** This checkout's public entry points, which the new project imports. */
const MOD_URL = new URL("../mod.ts", import.meta.url);
const TESTING_URL = new URL("../testing/mod.ts", import.meta.url);

/**
 * Runs `troupe init`; resolves with the exit code.
 *
 * @example
 * ```ts ignore
 * Deno.exit(await initCommand(["billing"]));
 * ```
 */
export async function initCommand(
  args: readonly string[],
  env: EnvReader = readEnv,
): Promise<number> {
  const flags = parseFlags(INIT_COMMAND, args, env);
  if (flags.help) {
    console.log(formatHelp(INIT_COMMAND));
    return 0;
  }
  const dir = (flags.operand("DIR") ?? ".").replace(/\/+$/, "") || "/";
  await requireSources();
  const name = projectName(dir);
  const files = projectFiles({
    name,
    troupe: MOD_URL.href,
    troupeTesting: TESTING_URL.href,
    logtape: denoJson.imports["@logtape/logtape"],
    version: denoJson.version,
  });
  await refuseToOverwrite(dir, Object.keys(files));
  await Deno.mkdir(dir, { recursive: true });
  for (const [file, text] of Object.entries(files)) {
    // createNew: a file that appeared since the check above is still not overwritten.
    await Deno.writeTextFile(`${dir}/${file}`, text, { createNew: true });
  }
  console.log(`created ${Object.keys(files).join(", ")} in ${dir}`);
  console.log("next:");
  if (dir !== ".") console.log(`  cd ${dir}`);
  console.log("  deno task test                                # on troupe's in-memory Kafka");
  console.log("  KAFKA_BROKERS=127.0.0.1:9092 deno task start  # against your broker");
  return 0;
}

/** The name of the project: its directory's, as a consumer group id. */
function projectName(dir: string): string {
  const absolute = dir.startsWith("/") ? dir : `${Deno.cwd()}/${dir}`;
  const base = absolute.split("/").filter((part) => part !== "" && part !== ".").pop() ?? "";
  const name = base.replace(/[^A-Za-z0-9._-]+/g, "-").replace(/^-+|-+$/g, "");
  return name === "" || name === ".." ? "processor" : name;
}

/** A {@linkcode UsageError} when DIR is not a directory or one of `files` is in it already. */
async function refuseToOverwrite(dir: string, files: readonly string[]): Promise<void> {
  try {
    if (!(await Deno.stat(dir)).isDirectory) {
      throw new UsageError(`init: ${dir} exists and is not a directory`);
    }
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return;
    throw error;
  }
  const existing: string[] = [];
  for (const file of files) {
    try {
      await Deno.lstat(`${dir}/${file}`);
      existing.push(file);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  }
  if (existing.length > 0) {
    throw new UsageError(
      `init would overwrite ${existing.join(", ")} in ${dir}; nothing was written. ` +
        "Choose a new or empty directory.",
    );
  }
}

/** The project maps troupe to this checkout's files: they must be on disk (not in a binary). */
async function requireSources(): Promise<void> {
  try {
    await Deno.stat(MOD_URL);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    throw new UsageError(
      `init needs troupe's sources on disk (${MOD_URL.href} is not): run it from a troupe ` +
        'checkout with "deno run -A main.ts init", not from a compiled binary.',
    );
  }
}
