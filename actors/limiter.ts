/**
 * A counting limit shared by several actors: at most N messages in flight across all of them.
 *
 * @module
 */

/**
 * A non-blocking semaphore. Actors `tryAcquire` before starting a message and `release`
 * after; one that found no room registers a wake-up with `whenAvailable`.
 *
 * @example
 * ```ts
 * import { Limiter } from "./limiter.ts";
 *
 * const limiter = new Limiter(1);
 * console.log(limiter.tryAcquire(), limiter.tryAcquire()); // true false
 * limiter.whenAvailable(() => console.log("room again"));
 * limiter.release(); // logs "room again"
 * ```
 */
export class Limiter {
  /** Most permits out at once. */
  readonly limit: number;
  #inUse = 0;
  #waiting = new Set<() => void>();

  /**
   * Creates a limiter.
   *
   * @param limit Most permits out at once (at least 1).
   */
  constructor(limit: number) {
    if (!Number.isInteger(limit) || limit < 1) {
      throw new RangeError(`a limit must be an integer >= 1, got ${limit}`);
    }
    this.limit = limit;
  }

  /** Permits out now. */
  get inUse(): number {
    return this.#inUse;
  }

  /** Takes a permit if one is free. */
  tryAcquire(): boolean {
    if (this.#inUse >= this.limit) return false;
    this.#inUse++;
    return true;
  }

  /**
   * Returns a permit and wakes every waiter: one that finds no permit waits again. (Waking
   * one alone could strand the permit with an actor that no longer needs it.)
   */
  release(): void {
    if (this.#inUse > 0) this.#inUse--;
    if (this.#waiting.size === 0) return;
    const waiting = [...this.#waiting];
    this.#waiting.clear();
    for (const wake of waiting) wake();
  }

  /** Calls `wake` once, the next time a permit is returned. */
  whenAvailable(wake: () => void): void {
    this.#waiting.add(wake);
  }
}
