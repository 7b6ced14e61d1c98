/**
 * Checking one option's value: the same words in every `ConfigError`, whichever factory
 * (`createProcessor`, `createProducer`, `createConsumer`) raises it.
 *
 * @module
 */

import { ConfigError } from "./errors.ts";

/**
 * An integer option: `fallback` when it is not given, else it must be an integer >= `min`.
 *
 * @example
 * ```ts
 * import { integerOption } from "./option_values.ts";
 * console.log(integerOption(undefined, "lingerMs", 0, 5)); // 5
 * console.log(integerOption(7, "lingerMs", 0, 5)); // 7
 * ```
 *
 * @throws {ConfigError} when the value is not an integer >= `min`.
 */
export function integerOption(
  value: unknown,
  option: string,
  min: number,
  fallback: number,
): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isInteger(value) || value < min) {
    throw new ConfigError(option, `must be an integer >= ${min}, got ${JSON.stringify(value)}`);
  }
  return value;
}

/**
 * A boolean option: `fallback` when it is not given.
 *
 * @example
 * ```ts
 * import { booleanOption } from "./option_values.ts";
 * console.log(booleanOption(undefined, "idempotent", true)); // true
 * ```
 *
 * @throws {ConfigError} when the value is not a boolean.
 */
export function booleanOption(value: unknown, option: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== "boolean") {
    throw new ConfigError(option, `must be true or false, got ${JSON.stringify(value)}`);
  }
  return value;
}

/**
 * An option that is one of a few values: `fallback` when it is not given.
 *
 * @example
 * ```ts
 * import { choiceOption } from "./option_values.ts";
 * console.log(choiceOption(undefined, "compression", ["none", "gzip"] as const, "none")); // "none"
 * ```
 *
 * @throws {ConfigError} naming the allowed values when the value is another.
 */
export function choiceOption<const T extends string | number>(
  value: unknown,
  option: string,
  choices: readonly T[],
  fallback: T,
): T {
  if (value === undefined) return fallback;
  if (!choices.includes(value as T)) {
    const allowed = choices.map((choice) => JSON.stringify(choice));
    const words = allowed.length > 1
      ? `${allowed.slice(0, -1).join(", ")} or ${allowed.at(-1)}`
      : allowed[0];
    throw new ConfigError(option, `must be ${words}, got ${JSON.stringify(value)}`);
  }
  return value as T;
}

/**
 * Runs `build`, turning what it throws into a {@linkcode ConfigError} about `option` (a
 * `ConfigError` passes through unchanged).
 *
 * @example
 * ```ts
 * import { guardOption } from "./option_values.ts";
 * const error = (() => {
 *   try {
 *     return guardOption("keyCodec", () => { throw new Error("unknown codec"); });
 *   } catch (error) {
 *     return error;
 *   }
 * })();
 * console.log((error as Error).message); // "invalid option keyCodec: unknown codec"
 * ```
 */
export function guardOption<T>(option: string, build: () => T): T {
  try {
    return build();
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    throw new ConfigError(option, error instanceof Error ? error.message : String(error));
  }
}
