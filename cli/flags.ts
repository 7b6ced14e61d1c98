/**
 * Command-line flags: declared once per command, parsed with the precedence flag, then
 * environment variable, then default, and turned into the command's `--help` text. Declaring
 * each flag once keeps the help complete by construction.
 *
 * @module
 */

import { UsageError } from "./errors.ts";

/** How a flag takes its value: a string, a switch, or a string that may be repeated. */
export type FlagKind = "string" | "boolean" | "list";

/** One flag of a command. */
export interface FlagSpec {
  /** Long name without the dashes, e.g. `"topic"`. */
  readonly name: string;
  /** One-letter alias without the dash, e.g. `"h"`. */
  readonly short?: string;
  /** How it takes its value. */
  readonly kind: FlagKind;
  /** Placeholder for the value in the help, e.g. `"TOPIC"`. */
  readonly placeholder?: string;
  /**
   * Environment variable consulted when the flag is absent. A `list` flag's variable holds
   * comma-separated values; a `boolean` flag's holds `true`/`false` (or `1`/`0`).
   */
  readonly env?: string;
  /** Value when neither the flag nor its variable is given. */
  readonly default?: string;
  /** Allowed values (checked for flags and variables alike). */
  readonly choices?: readonly string[];
  /** One or two sentences for the help. */
  readonly description: string;
}

/** A positional argument of a command, e.g. the topic of `topics describe NAME`. */
export interface OperandSpec {
  /** Its name in the usage line and in errors, e.g. `"NAME"`. */
  readonly name: string;
  /** One sentence for the help. */
  readonly description: string;
}

/** A command: its flags and the text of its help. */
export interface CommandSpec {
  /** Its name, e.g. `"run"`. */
  readonly name: string;
  /** One line for the tool's help. */
  readonly summary: string;
  /** What follows the command's name on the usage line. */
  readonly usage: string;
  /** A paragraph on what it does. */
  readonly description: string;
  /** Its flags (`-h, --help` is added to every command). */
  readonly flags: readonly FlagSpec[];
  /** Positional arguments it takes, in order; each may be left out. Default: none. */
  readonly operands?: readonly OperandSpec[];
  /** Example invocations, shown after the flags. */
  readonly examples?: readonly string[];
  /** Further text shown last, e.g. exit codes. */
  readonly notes?: string;
}

/** Reads an environment variable; `undefined` when unset (or not readable). */
export type EnvReader = (name: string) => string | undefined;

/**
 * Reads an environment variable only if this process may, so that a run under a narrow
 * `--allow-env` list treats the variables left out as unset instead of failing or prompting.
 *
 * @example
 * ```ts ignore
 * const brokers = readEnv("KAFKA_BROKERS") ?? "127.0.0.1:9092";
 * ```
 */
export function readEnv(name: string): string | undefined {
  if (Deno.permissions.querySync({ name: "env", variable: name }).state !== "granted") {
    return undefined;
  }
  return Deno.env.get(name);
}

/** Where a flag's value came from. */
export type ValueSource = "flag" | "env" | "default";

const HELP_FLAG: FlagSpec = {
  name: "help",
  short: "h",
  kind: "boolean",
  description: "Show this help and exit.",
};

/**
 * The flags a command was given, read with the precedence flag, environment variable,
 * default. Values are checked when read, and errors name the flag or variable they came from.
 */
export class ParsedFlags {
  readonly #spec: CommandSpec;
  readonly #given: Map<string, string | boolean | string[]>;
  readonly #env: EnvReader;
  readonly #operands: readonly string[];

  /**
   * Wraps parsed values; use {@linkcode parseFlags} to get one.
   *
   * @param spec The command.
   * @param given Values given on the command line, by flag name.
   * @param env Reads environment variables.
   * @param operands Positional arguments given, in order.
   */
  constructor(
    spec: CommandSpec,
    given: Map<string, string | boolean | string[]>,
    env: EnvReader,
    operands: readonly string[] = [],
  ) {
    this.#spec = spec;
    this.#given = given;
    this.#env = env;
    this.#operands = operands;
  }

  /** A positional argument (declared in the spec's `operands`), or `undefined` when absent. */
  operand(name: string): string | undefined {
    const index = (this.#spec.operands ?? []).findIndex((operand) => operand.name === name);
    // A programming error, not a usage error: every name read must be declared.
    if (index === -1) throw new Error(`command "${this.#spec.name}" declares no operand ${name}`);
    return this.#operands[index];
  }

  /** A positional argument; a {@linkcode UsageError} naming it when absent or blank. */
  requiredOperand(name: string): string {
    const value = this.operand(name);
    if (value === undefined || value.trim() === "") {
      const operand = this.#spec.operands!.find((o) => o.name === name)!;
      throw new UsageError(
        `${this.#spec.name} needs ${name}: ${operand.description}\n` +
          `Run "troupe ${this.#spec.name} --help" for its options.`,
      );
    }
    return value;
  }

  /** True when `--help` was given. */
  get help(): boolean {
    return this.#given.get("help") === true;
  }

  /** Where the value of a flag comes from, or `undefined` when it has none. */
  source(name: string): ValueSource | undefined {
    const flag = this.#flag(name);
    if (this.#given.has(name)) return "flag";
    if (flag.env !== undefined && this.#env(flag.env) !== undefined) return "env";
    return flag.default !== undefined ? "default" : undefined;
  }

  /** How to name the origin of a flag's value in an error message. */
  label(name: string): string {
    const flag = this.#flag(name);
    return this.source(name) === "env" ? flag.env! : `--${name}`;
  }

  /** A string flag's value (flag, else variable, else default), checked against its choices. */
  string(name: string): string | undefined {
    const flag = this.#flag(name);
    const given = this.#given.get(name);
    const value = typeof given === "string"
      ? given
      : (flag.env !== undefined ? this.#env(flag.env) : undefined) ?? flag.default;
    if (value !== undefined && flag.choices && !flag.choices.includes(value)) {
      throw new UsageError(
        `${this.label(name)} must be one of ${flag.choices.join(", ")}; got "${value}"`,
      );
    }
    return value;
  }

  /** Like {@linkcode ParsedFlags.string}, for a flag whose values are the union `T`. */
  choice<T extends string>(name: string): T | undefined {
    return this.string(name) as T | undefined;
  }

  /** A switch: given, or its variable says true. */
  boolean(name: string): boolean {
    const flag = this.#flag(name);
    if (this.#given.get(name) === true) return true;
    const text = flag.env !== undefined ? this.#env(flag.env) : undefined;
    if (text === undefined) return flag.default === "true";
    const normalized = text.trim().toLowerCase();
    if (["1", "true", "yes", "on"].includes(normalized)) return true;
    if (["", "0", "false", "no", "off"].includes(normalized)) return false;
    throw new UsageError(`${flag.env} must be true or false; got "${text}"`);
  }

  /** A repeatable flag's values; its variable holds them comma-separated. Empty when none. */
  list(name: string): string[] {
    const flag = this.#flag(name);
    const given = this.#given.get(name);
    if (Array.isArray(given)) return given;
    const text = (flag.env !== undefined ? this.#env(flag.env) : undefined) ?? flag.default;
    return text === undefined
      ? []
      : text.split(",").map((item) => item.trim()).filter((item) => item !== "");
  }

  /** An integer flag's value, checked against `min` (and `max`), or `undefined`. */
  integer(name: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
    const text = this.string(name);
    if (text === undefined) return undefined;
    const value = Number(text.trim());
    if (text.trim() === "" || !Number.isInteger(value) || value < min || value > max) {
      const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `from ${min} to ${max}`;
      throw new UsageError(`${this.label(name)} must be an integer ${range}; got "${text}"`);
    }
    return value;
  }

  /** A string flag's value; a {@linkcode UsageError} naming flag and variable when absent. */
  required(name: string, hint = ""): string {
    const value = this.string(name);
    if (value === undefined || value.trim() === "") {
      const flag = this.#flag(name);
      const env = flag.env ? ` (or ${flag.env})` : "";
      throw new UsageError(
        `${this.#spec.name} needs --${name}${env}${hint ? `: ${hint}` : ""}\n` +
          `Run "troupe ${this.#spec.name} --help" for its options.`,
      );
    }
    return value;
  }

  #flag(name: string): FlagSpec {
    const flag = name === "help" ? HELP_FLAG : this.#spec.flags.find((f) => f.name === name);
    // A programming error, not a usage error: every name read must be declared.
    if (!flag) throw new Error(`command "${this.#spec.name}" declares no flag --${name}`);
    return flag;
  }
}

/**
 * Parses a command's arguments: `--name value`, `--name=value`, `--switch`, `-h`. Values
 * are checked when read from the result; unknown flags, missing values and stray arguments
 * are {@linkcode UsageError}s here.
 *
 * @example
 * ```ts
 * import { parseFlags } from "./flags.ts";
 * const spec = {
 *   name: "lag",
 *   summary: "",
 *   usage: "--group G",
 *   description: "",
 *   flags: [{ name: "group", kind: "string", env: "TROUPE_GROUP", description: "" }] as const,
 * };
 * const flags = parseFlags(spec, ["--group", "billing"], () => undefined);
 * console.log(flags.string("group")); // "billing"
 * ```
 */
export function parseFlags(
  spec: CommandSpec,
  args: readonly string[],
  env: EnvReader = readEnv,
): ParsedFlags {
  const flags = [...spec.flags, HELP_FLAG];
  const given = new Map<string, string | boolean | string[]>();
  const operands: string[] = [];
  const seeHelp = `Run "troupe ${spec.name} --help" for its options.`;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    let name: string;
    let inline: string | undefined;
    if (arg.startsWith("--") && arg.length > 2) {
      const eq = arg.indexOf("=");
      name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
      inline = eq === -1 ? undefined : arg.slice(eq + 1);
    } else if (/^-[A-Za-z]$/.test(arg)) {
      const short = arg.slice(1);
      const flag = flags.find((f) => f.short === short);
      if (!flag) throw new UsageError(`unknown option ${arg} for "${spec.name}". ${seeHelp}`);
      name = flag.name;
    } else if (operands.length < (spec.operands?.length ?? 0)) {
      operands.push(arg);
      continue;
    } else {
      throw new UsageError(`unexpected argument "${arg}" for "${spec.name}". ${seeHelp}`);
    }
    const flag = flags.find((f) => f.name === name);
    if (!flag) throw new UsageError(`unknown option --${name} for "${spec.name}". ${seeHelp}`);
    if (flag.kind === "boolean") {
      if (inline !== undefined) {
        throw new UsageError(`--${name} takes no value (got "--${name}=${inline}")`);
      }
      given.set(name, true);
      continue;
    }
    let value = inline;
    if (value === undefined) {
      const next = args[i + 1];
      if (next === undefined || (next.startsWith("--") && next.length > 2)) {
        throw new UsageError(`--${name} needs a value (${flag.placeholder ?? "VALUE"})`);
      }
      value = next;
      i++;
    }
    if (flag.kind === "list") {
      const list = given.get(name);
      if (Array.isArray(list)) list.push(value);
      else given.set(name, [value]);
    } else {
      given.set(name, value);
    }
  }
  return new ParsedFlags(spec, given, env, operands);
}

/**
 * The `--help` text of a command, generated from its flags.
 *
 * @example
 * ```ts ignore
 * console.log(formatHelp(RUN_COMMAND));
 * ```
 */
export function formatHelp(spec: CommandSpec): string {
  const flags = [...spec.flags, HELP_FLAG];
  const heads = flags.map((flag) => {
    const long = `--${flag.name}${
      flag.kind === "boolean" ? "" : ` ${flag.placeholder ?? "VALUE"}`
    }`;
    return flag.short ? `-${flag.short}, ${long}` : `    ${long}`;
  });
  const width = Math.max(...heads.map((head) => head.length)) + 4;
  const lines = [
    `Usage: troupe ${spec.name} ${spec.usage}`,
    "",
    ...wrap(spec.description, HELP_WIDTH),
    "",
  ];
  if (spec.operands?.length) {
    const operandWidth = Math.max(width, ...spec.operands.map((o) => o.name.length + 6));
    lines.push("Arguments:");
    for (const operand of spec.operands) {
      wrap(operand.description, HELP_WIDTH - operandWidth).forEach((line, j) =>
        lines.push(
          `${j === 0 ? `  ${operand.name}`.padEnd(operandWidth) : " ".repeat(operandWidth)}${line}`,
        )
      );
    }
    lines.push("");
  }
  lines.push("Options:");
  flags.forEach((flag, i) => {
    const extras: string[] = [];
    if (flag.choices) extras.push(`one of: ${flag.choices.join(", ")}`);
    if (flag.default !== undefined) extras.push(`default: ${flag.default}`);
    if (flag.env) extras.push(`env: ${flag.env}`);
    if (flag.kind === "list") extras.push("repeatable");
    const text = wrap(flag.description, HELP_WIDTH - width);
    if (extras.length > 0) text.push(...wrap(`[${extras.join("; ")}]`, HELP_WIDTH - width));
    text.forEach((line, j) =>
      lines.push(`${j === 0 ? `  ${heads[i]}`.padEnd(width) : " ".repeat(width)}${line}`)
    );
  });
  if (spec.examples?.length) {
    lines.push("", "Examples:", ...spec.examples.map((example) => `  ${example}`));
  }
  if (spec.notes) lines.push("", ...wrap(spec.notes, HELP_WIDTH));
  return lines.join("\n");
}

/** Width the help is wrapped to. */
const HELP_WIDTH = 100;

/**
 * Reflows text to `width` columns: single line breaks join words, blank lines separate
 * paragraphs, and lines that start with two spaces are kept as they are.
 *
 * @example
 * ```ts
 * import { wrap } from "./flags.ts";
 * console.log(wrap("one two three", 8)); // ["one two", "three"]
 * ```
 */
export function wrap(text: string, width: number): string[] {
  const out: string[] = [];
  let words: string[] = [];
  const flush = () => {
    let line = "";
    for (const word of words) {
      if (line !== "" && line.length + 1 + word.length > width) {
        out.push(line);
        line = word;
      } else {
        line = line === "" ? word : `${line} ${word}`;
      }
    }
    if (line !== "") out.push(line);
    words = [];
  };
  for (const raw of text.split("\n")) {
    if (raw.startsWith("  ")) {
      flush();
      out.push(raw);
    } else if (raw.trim() === "") {
      flush();
      out.push("");
    } else {
      words.push(...raw.trim().split(/\s+/));
    }
  }
  flush();
  return out;
}
