/**
 * The attempt loop both kinds of actor run a message with: try, retry after a backoff, hand
 * it to a last resort, or crash.
 *
 * @module
 */

import type { Admission } from "./admission.ts";
import { type Backoff, backoffDelay, sleep } from "./backoff.ts";

/** How an actor retries a failed message before it crashes. */
export interface RetryPolicy {
  /** Tries per message, the first included (1 = no retry). */
  readonly maxAttempts: number;
  /** Delays between tries. */
  readonly backoff: Backoff;
  /** False for an error not worth retrying: the message goes straight to `exhausted`. */
  retriable(error: unknown): boolean;
}

/** The behaviour of an actor and what it reports about each attempt. */
export interface AttemptHooks<M> {
  /**
   * The behaviour. Throwing (or rejecting) fails the attempt. `worker` (0 to concurrency - 1)
   * names the in-flight slot running it.
   */
  process(message: M, attempt: number, worker: number): unknown;
  /** Retries before giving up. Default: none (one attempt). */
  readonly retry?: RetryPolicy;
  /** Called before each retry, with the failed attempt number and the delay (for metrics). */
  retrying?(message: M, error: unknown, attempt: number, delayMs: number): void;
  /** Called after every failed attempt, whatever follows (for metrics). */
  failed?(message: M, error: unknown, attempt: number): void;
  /**
   * Last resort for a message whose retries are exhausted (e.g. a dead-letter topic). If it
   * returns normally the message counts as done; if it throws, the actor crashes.
   */
  exhausted?(message: M, error: unknown, attempts: number): unknown;
  /** When given, called with how long each attempt took, in ms (for metrics). */
  timed?(ms: number): void;
  /**
   * Called when a failure ends the message's attempts for now because the actor stopped
   * taking messages (outcome `interrupted`): the message will be tried again (for tracing).
   */
  interrupted?(message: M): void;
}

/** One message's attempts so far; kept when an attempt is interrupted. */
export interface AttemptRecord {
  /** Failed attempts of the message in hand. */
  attempts: number;
  /** True while a backoff is waited out. */
  backingOff: boolean;
}

/** The behaviour failed for good on a message: retries and the last resort are spent. */
export interface Crash {
  /** The last error. */
  readonly error: unknown;
}

/**
 * How a message's attempts ended: `done` (processed, or taken by the last resort),
 * `interrupted` (the actor stopped being open after a failure: the message stays, with its
 * attempts remembered), or a {@linkcode Crash}.
 */
export type AttemptOutcome = "done" | "interrupted" | Crash;

const SUCCEEDED = Symbol("succeeded");

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && typeof value === "object" &&
    typeof (value as PromiseLike<unknown>).then === "function";
}

/**
 * Runs a message's attempts. The first attempt of a synchronous behaviour that succeeds
 * settles synchronously, with no promise: the per-message path of a no-op handler allocates
 * nothing here.
 *
 * @example
 * ```ts
 * import { Admission } from "./admission.ts";
 * import { AttemptRunner } from "./attempts.ts";
 * import { resolveBackoff } from "./backoff.ts";
 *
 * let calls = 0;
 * const runner = new AttemptRunner<string>({
 *   process: () => {
 *     if (++calls < 2) throw new Error("flaky");
 *   },
 *   retry: { maxAttempts: 3, backoff: resolveBackoff({ initialMs: 1 }), retriable: () => true },
 * }, new Admission());
 * console.log(await runner.run("hello", { attempts: 0, backingOff: false }, 0)); // "done"
 * ```
 *
 * @typeParam M The messages it processes.
 */
export class AttemptRunner<M> {
  #hooks: AttemptHooks<M>;
  #admission: Admission;

  /**
   * Creates a runner.
   *
   * @param hooks The behaviour, its retries and its reports.
   * @param admission The actor's admission: a failure while it is not open interrupts.
   */
  constructor(hooks: AttemptHooks<M>, admission: Admission) {
    this.#hooks = hooks;
    this.#admission = admission;
  }

  /** Tries `message` until it is done, interrupted or crashed. */
  run(message: M, record: AttemptRecord, worker: number): AttemptOutcome | Promise<AttemptOutcome> {
    const hooks = this.#hooks;
    const started = hooks.timed ? performance.now() : 0;
    let result: unknown;
    try {
      result = hooks.process(message, record.attempts + 1, worker);
    } catch (error) {
      hooks.timed?.(performance.now() - started);
      return this.#afterFailure(message, record, worker, error);
    }
    if (isThenable(result)) return this.#settle(result, message, record, worker, started);
    hooks.timed?.(performance.now() - started);
    record.attempts = 0;
    return "done";
  }

  async #settle(
    result: PromiseLike<unknown>,
    message: M,
    record: AttemptRecord,
    worker: number,
    started: number,
  ): Promise<AttemptOutcome> {
    try {
      await result;
    } catch (error) {
      this.#hooks.timed?.(performance.now() - started);
      return this.#afterFailure(message, record, worker, error);
    }
    this.#hooks.timed?.(performance.now() - started);
    record.attempts = 0;
    return "done";
  }

  async #afterFailure(
    message: M,
    record: AttemptRecord,
    worker: number,
    firstError: unknown,
  ): Promise<AttemptOutcome> {
    const hooks = this.#hooks;
    const admission = this.#admission;
    const retry = hooks.retry;
    let error = firstError;
    while (true) {
      const attempt = ++record.attempts;
      hooks.failed?.(message, error, attempt);
      if (!admission.open) return this.#interrupted(message);
      if (retry && attempt < retry.maxAttempts && retry.retriable(error)) {
        const delay = backoffDelay(attempt, retry.backoff);
        hooks.retrying?.(message, error, attempt, delay);
        record.backingOff = true;
        await sleep(delay, admission.signal);
        record.backingOff = false;
        if (!admission.open) return this.#interrupted(message);
        const outcome = await this.#tryAgain(message, record, worker);
        if (outcome === SUCCEEDED) {
          record.attempts = 0;
          return "done";
        }
        error = outcome;
        continue;
      }
      if (hooks.exhausted) {
        try {
          const result = hooks.exhausted(message, error, attempt);
          if (isThenable(result)) await result;
          record.attempts = 0;
          return "done";
        } catch (lastResortError) {
          error = lastResortError;
        }
      }
      record.attempts = 0;
      return { error };
    }
  }

  #interrupted(message: M): "interrupted" {
    this.#hooks.interrupted?.(message);
    return "interrupted";
  }

  /** One more attempt: resolves {@linkcode SUCCEEDED} or the error. */
  async #tryAgain(message: M, record: AttemptRecord, worker: number): Promise<unknown> {
    const hooks = this.#hooks;
    const started = hooks.timed ? performance.now() : 0;
    try {
      const result = hooks.process(message, record.attempts + 1, worker);
      if (isThenable(result)) await result;
      return SUCCEEDED;
    } catch (error) {
      return error;
    } finally {
      hooks.timed?.(performance.now() - started);
    }
  }
}
