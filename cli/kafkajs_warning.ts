/**
 * Keeping a harmless KafkaJS warning off the screens of troupe's programs.
 *
 * @module
 */

import process from "node:process";

/**
 * KafkaJS sets a timer from a stale deadline, and Node's timers (which Deno emulates for npm
 * packages) warn about the negative delay on stderr. It is harmless (the delay becomes 1 ms).
 * Programs call this once at start; the library itself never touches global state.
 *
 * @example
 * ```ts
 * import { silenceKafkaJsTimerWarning } from "./kafkajs_warning.ts";
 * silenceKafkaJsTimerWarning();
 * ```
 */
export function silenceKafkaJsTimerWarning(): void {
  const emitWarning = process.emitWarning.bind(process);
  process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
    const type = typeof rest[0] === "string"
      ? rest[0]
      : (rest[0] as { type?: string } | undefined)?.type;
    if (type === "TimeoutNegativeWarning") return;
    (emitWarning as (...args: unknown[]) => void)(warning, ...rest);
  }) as typeof process.emitWarning;
}
