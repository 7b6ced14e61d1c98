/**
 * Logging setup for troupe's command line: the library only logs into LogTape categories
 * (`troupe`, `troupe.processor`, `troupe.supervisor`, ...); applications, and this CLI,
 * decide where records go.
 *
 * @module
 */

import {
  configure,
  getAnsiColorFormatter,
  getJsonLinesFormatter,
  getTextFormatter,
  type LogLevel,
  type LogRecord,
} from "@logtape/logtape";
import { AsyncLocalStorage } from "node:async_hooks";
import type { FlagSpec } from "./flags.ts";

/** How log records are written: readable lines, or one JSON object per line. */
export type LogFormat = "pretty" | "json";

/** The log levels, least to most severe. */
export const LOG_LEVELS: readonly LogLevel[] = [
  "trace",
  "debug",
  "info",
  "warning",
  "error",
  "fatal",
];

/** The `--log-level` and `--log-format` flags, with `level` as the command's default. */
export function loggingFlags(level: LogLevel): FlagSpec[] {
  return [
    {
      name: "log-level",
      kind: "string",
      placeholder: "LEVEL",
      env: "TROUPE_LOG_LEVEL",
      default: level,
      choices: LOG_LEVELS,
      description: "Least severe log level written to stderr.",
    },
    {
      name: "log-format",
      kind: "string",
      placeholder: "FORMAT",
      env: "TROUPE_LOG_FORMAT",
      default: "pretty",
      choices: ["pretty", "json"],
      description: "pretty: readable lines; json: one JSON object per line.",
    },
  ];
}

/** Where log lines go and what they must never show. */
export interface LoggingOptions {
  /** Least severe level written. */
  level: LogLevel;
  /** Line format. */
  format: LogFormat;
  /** Writes one formatted line (newline included). Default: stderr, synchronously. */
  write?: (line: string) => void;
  /** Strings replaced by `[REDACTED]` wherever they would appear (passwords). */
  secrets?: readonly string[];
}

const encoder = new TextEncoder();

function writeStderr(line: string): void {
  const bytes = encoder.encode(line);
  let written = 0;
  while (written < bytes.length) written += Deno.stderr.writeSync(bytes.subarray(written));
}

/**
 * Sends troupe's log records (categories `troupe.*`) to stderr at `level` and above, as
 * readable or JSON lines, masking `secrets`. KafkaJS's own records (`troupe.kafkajs`) are
 * shown only at `debug` and `trace`.
 *
 * @example
 * ```ts ignore
 * await configureLogging({ level: "info", format: "json", secrets: [password] });
 * ```
 */
export async function configureLogging(options: LoggingOptions): Promise<void> {
  const formatter = options.format === "json"
    ? getJsonLinesFormatter()
    : Deno.stderr.isTerminal() && options.write === undefined
    ? getAnsiColorFormatter({ timestamp: "time" })
    : getTextFormatter({ timestamp: "time" });
  const write = options.write ?? writeStderr;
  const secrets = (options.secrets ?? []).filter((secret) => secret.length > 0);
  // Synchronous, so a record logged just before exit is not lost.
  const sink = secrets.length === 0
    ? (record: LogRecord) => write(formatter(record))
    : (record: LogRecord) => {
      // Masked before formatting (formatters quote and escape values), and after, in case
      // a formatter rendered a secret from something the walk does not open.
      let line = formatter(redactRecord(record, secrets));
      for (const secret of secrets) line = line.replaceAll(secret, REDACTED);
      write(line);
    };
  await configure({
    reset: true,
    // Implicit contexts: with tracing on, the records troupe logs about a message carry its
    // trace and span ids (`traceId`, `spanId`).
    contextLocalStorage: new AsyncLocalStorage(),
    sinks: { main: sink },
    loggers: [
      { category: ["troupe"], lowestLevel: options.level, sinks: ["main"] },
      // KafkaJS reports every retriable broker answer (a topic being created, a leader
      // moving); troupe logs what matters in its own categories. Show KafkaJS's only when
      // debugging.
      {
        category: ["troupe", "kafkajs"],
        lowestLevel: options.level === "trace" || options.level === "debug"
          ? options.level
          : "fatal",
      },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["main"] },
    ],
  });
}

const REDACTED = "[REDACTED]";

/** The record with every occurrence of a secret in its message and properties masked. */
function redactRecord(record: LogRecord, secrets: readonly string[]): LogRecord {
  const mask = (value: unknown, depth: number): unknown => {
    if (typeof value === "string") {
      return secrets.reduce((text, secret) => text.replaceAll(secret, REDACTED), value);
    }
    if (value === null || typeof value !== "object" || depth > 4) return value;
    if (Array.isArray(value)) return value.map((item) => mask(item, depth + 1));
    if (value instanceof Error) {
      const copy = new Error(mask(value.message, depth + 1) as string);
      copy.name = value.name;
      return copy;
    }
    const prototype = Object.getPrototypeOf(value);
    if (prototype !== Object.prototype && prototype !== null) return value;
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [key, mask(item, depth + 1)]),
    );
  };
  return {
    ...record,
    message: record.message.map((part) => mask(part, 0)),
    rawMessage: typeof record.rawMessage === "string"
      ? mask(record.rawMessage, 0) as string
      : record.rawMessage,
    properties: mask(record.properties, 0) as Record<string, unknown>,
  };
}
