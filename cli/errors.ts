/**
 * The error that marks a mistake in how the command line was used.
 *
 * @module
 */

/**
 * A mistake in how a command was called (a bad flag, a missing handler file, a handler
 * module without a default export...): `main.ts` prints its message without a stack trace
 * and exits with code 2.
 *
 * @example
 * ```ts
 * import { UsageError } from "./errors.ts";
 * throw new UsageError('--concurrency must be an integer >= 1, got "zero"');
 * ```
 */
export class UsageError extends Error {
  /**
   * Creates the error.
   *
   * @param message What is wrong, phrased for the person who typed the command.
   */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}
