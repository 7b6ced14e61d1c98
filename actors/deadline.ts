/**
 * Deadlines: waiting for a promise at most so long.
 *
 * @module
 */

/**
 * A promise did not settle within its deadline. The work behind it may still finish later;
 * its outcome then belongs to nobody.
 *
 * @example
 * ```ts
 * import { DeadlineError, withDeadline } from "./deadline.ts";
 *
 * const never = new Promise(() => {});
 * const error = await withDeadline(never, 10, "the answer").catch((error) => error);
 * console.log(error instanceof DeadlineError); // true
 * ```
 */
export class DeadlineError extends Error {
  /** How long was waited, ms. */
  readonly ms: number;

  /**
   * Creates the error.
   *
   * @param what What was waited for, for the message.
   * @param ms How long was waited.
   */
  constructor(what: string, ms: number) {
    super(`${what}: not settled within ${ms} ms`);
    this.name = "DeadlineError";
    this.ms = ms;
  }
}

/**
 * Settles as `promise` does, or rejects with a {@linkcode DeadlineError} after `ms`. A later
 * rejection of `promise` is swallowed: nobody waits for it any more.
 *
 * @example
 * ```ts
 * import { withDeadline } from "./deadline.ts";
 * console.log(await withDeadline(Promise.resolve(42), 1_000)); // 42
 * ```
 */
export async function withDeadline<T>(
  promise: Promise<T>,
  ms: number,
  what = "the operation",
): Promise<T> {
  promise.catch(() => {});
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeadlineError(what, ms)), ms);
  });
  try {
    return await Promise.race([promise, expired]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Resolves `true` once `promise` settles (either way) within `ms`, `false` when the deadline
 * passes first.
 *
 * @example
 * ```ts
 * import { settlesWithin } from "./deadline.ts";
 * console.log(await settlesWithin(new Promise(() => {}), 10)); // false
 * ```
 */
export function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  return withDeadline(promise.then(() => true, () => true), ms).catch((error) => {
    if (error instanceof DeadlineError) return false;
    throw error;
  });
}
