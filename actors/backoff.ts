/**
 * Exponential backoff with jitter, a sleep that can be cut short, and the retry loop every
 * part of troupe that tries again uses.
 *
 * @module
 */

/** How delays grow between attempts. Every field is optional. */
export interface BackoffOptions {
  /** Delay before the first retry or restart, in ms. Default: 500. */
  initialMs?: number;
  /** Upper bound of any delay, in ms. Default: 30 000. */
  maxMs?: number;
  /** Factor applied per attempt. Default: 2. */
  multiplier?: number;
  /**
   * Share of the delay that is randomised, in [0, 1]: the delay is drawn uniformly from
   * `[d * (1 - jitter), d]`, so many actors failing together do not retry in lockstep.
   * Default: 0.2.
   */
  jitter?: number;
}

/** {@linkcode BackoffOptions} with every default filled in. */
export type Backoff = Required<BackoffOptions>;

/** The defaults of {@linkcode BackoffOptions}. */
export const DEFAULT_BACKOFF: Readonly<Backoff> = Object.freeze({
  initialMs: 500,
  maxMs: 30_000,
  multiplier: 2,
  jitter: 0.2,
});

/**
 * Fills in defaults (from `base`, {@linkcode DEFAULT_BACKOFF} unless given) and checks the
 * values.
 *
 * @example
 * ```ts
 * import { resolveBackoff } from "./backoff.ts";
 * console.log(resolveBackoff({ initialMs: 100 }).maxMs); // 30000
 * ```
 *
 * @throws {RangeError} naming the field that is out of range.
 */
export function resolveBackoff(
  options: BackoffOptions = {},
  name = "backoff",
  base: Backoff = DEFAULT_BACKOFF,
): Backoff {
  const backoff = { ...base, ...withoutUndefined(options) };
  const check = (ok: boolean, field: string, rule: string) => {
    if (!ok) {
      throw new RangeError(
        `${name}.${field} must be ${rule}, got ${backoff[field as keyof Backoff]}`,
      );
    }
  };
  check(Number.isFinite(backoff.initialMs) && backoff.initialMs >= 0, "initialMs", ">= 0");
  check(
    Number.isFinite(backoff.maxMs) && backoff.maxMs >= backoff.initialMs,
    "maxMs",
    ">= initialMs",
  );
  check(Number.isFinite(backoff.multiplier) && backoff.multiplier >= 1, "multiplier", ">= 1");
  check(backoff.jitter >= 0 && backoff.jitter <= 1, "jitter", "in [0, 1]");
  return backoff;
}

function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * The delay before attempt `attempt + 1`, after `attempt` failures (1-based):
 * `min(maxMs, initialMs * multiplier^(attempt - 1))`, less up to `jitter` of it.
 *
 * @example
 * ```ts
 * import { backoffDelay } from "./backoff.ts";
 * const noJitter = { initialMs: 100, maxMs: 1000, multiplier: 2, jitter: 0 };
 * console.log([1, 2, 3, 4, 5].map((n) => backoffDelay(n, noJitter))); // [100, 200, 400, 800, 1000]
 * ```
 */
export function backoffDelay(
  attempt: number,
  backoff: Backoff,
  random: () => number = Math.random,
): number {
  const exponent = Math.max(0, attempt - 1);
  const base = Math.min(backoff.maxMs, backoff.initialMs * backoff.multiplier ** exponent);
  return Math.round(base * (1 - backoff.jitter * random()));
}

/**
 * Resolves after `ms`, or as soon as `signal` aborts (resolving, not rejecting: a cut-short
 * wait is a normal way for a backoff to end during shutdown).
 *
 * @example
 * ```ts
 * import { sleep } from "./backoff.ts";
 * await sleep(10);
 * ```
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}

/** How {@linkcode retry} keeps trying. */
export interface RetryLoopOptions {
  /** Delays between tries. */
  readonly backoff: Backoff;
  /**
   * Stop once the next try would start after this moment (ms since the epoch): the last
   * error is thrown. Default: no deadline.
   */
  readonly deadline?: number;
  /** Says whether an error is worth another try; a false verdict throws it. Default: every error. */
  readonly retriable?: (error: unknown) => boolean;
  /** Called before each wait, with the error, the failed try (1-based) and the delay. */
  readonly onRetry?: (error: unknown, attempt: number, delayMs: number) => void;
}

/**
 * Runs `work` until it resolves, waiting {@linkcode backoffDelay} between tries; throws the last
 * error once it is not retriable or the deadline would pass.
 *
 * @example
 * ```ts
 * import { resolveBackoff, retry } from "./backoff.ts";
 *
 * let calls = 0;
 * const answer = await retry(() => ++calls < 3 ? Promise.reject(new Error("not yet")) : Promise.resolve(calls), {
 *   backoff: resolveBackoff({ initialMs: 1 }),
 * });
 * console.log(answer); // 3
 * ```
 */
export async function retry<T>(
  work: (attempt: number) => Promise<T>,
  options: RetryLoopOptions,
): Promise<T> {
  for (let attempt = 1;; attempt++) {
    try {
      return await work(attempt);
    } catch (error) {
      if (options.retriable && !options.retriable(error)) throw error;
      const delay = backoffDelay(attempt, options.backoff);
      if (options.deadline !== undefined && Date.now() + delay > options.deadline) throw error;
      options.onRetry?.(error, attempt, delay);
      await sleep(delay);
    }
  }
}
