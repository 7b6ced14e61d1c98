/**
 * Logging setup for troupe's command line: the library only logs into LogTape categories;
 * applications (and this CLI) decide where records go.
 *
 * @module
 */

import {
  configure,
  getJsonLinesFormatter,
  getTextFormatter,
  type LogLevel,
  type LogRecord,
} from "@logtape/logtape";

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

/**
 * Sends troupe's log records (categories `troupe.*`) to stderr at `level` and above.
 *
 * @example
 * ```ts ignore
 * await configureLogging({ level: "info", format: "json" });
 * ```
 */
export async function configureLogging(
  options: { level: LogLevel; format: LogFormat },
): Promise<void> {
  const formatter = options.format === "json"
    ? getJsonLinesFormatter()
    : getTextFormatter({ timestamp: "time" });
  const encoder = new TextEncoder();
  // Synchronous, so a record logged just before exit is not lost.
  const stderr = (record: LogRecord) => {
    Deno.stderr.writeSync(encoder.encode(formatter(record)));
  };
  await configure({
    reset: true,
    sinks: { stderr },
    loggers: [
      { category: ["troupe"], lowestLevel: options.level, sinks: ["stderr"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["stderr"] },
    ],
  });
}
