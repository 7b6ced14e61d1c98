/**
 * Restart intensity, as in Erlang/OTP supervisors: how many restarts within how long are
 * tolerated before the supervisor gives up and escalates.
 *
 * @module
 */

/** The restart budget of one actor. Every field is optional. */
export interface RestartIntensityOptions {
  /** Restarts tolerated within `withinMs`; one more escalates. Default: 5. */
  maxRestarts?: number;
  /** Length of the sliding window, in ms. Default: 60 000. */
  withinMs?: number;
}

/**
 * Counts an actor's restarts in a sliding window and says when the budget is exceeded.
 *
 * @example
 * ```ts
 * import { RestartIntensity } from "./restart_intensity.ts";
 *
 * const intensity = new RestartIntensity({ maxRestarts: 2, withinMs: 1000 });
 * console.log(intensity.allow(0), intensity.allow(10), intensity.allow(20)); // true true false
 * console.log(intensity.allow(2000)); // true: the earlier restarts left the window
 * ```
 */
export class RestartIntensity {
  /** Restarts tolerated within the window. */
  readonly maxRestarts: number;
  /** Window length in ms. */
  readonly withinMs: number;
  #times: number[] = [];

  /**
   * Creates an empty record.
   *
   * @param options The budget; see {@linkcode RestartIntensityOptions} for defaults.
   */
  constructor(options: RestartIntensityOptions = {}) {
    this.maxRestarts = options.maxRestarts ?? 5;
    this.withinMs = options.withinMs ?? 60_000;
    if (!Number.isInteger(this.maxRestarts) || this.maxRestarts < 0) {
      throw new RangeError(`restart.maxRestarts must be an integer >= 0, got ${this.maxRestarts}`);
    }
    if (!Number.isFinite(this.withinMs) || this.withinMs <= 0) {
      throw new RangeError(`restart.withinMs must be > 0, got ${this.withinMs}`);
    }
  }

  /** Restarts recorded within the window ending now. */
  count(now: number = Date.now()): number {
    this.#forget(now);
    return this.#times.length;
  }

  /**
   * Records a wish to restart at `now`: true if it fits the budget (and is recorded), false
   * if it would be restart number `maxRestarts + 1` within the window: escalate.
   */
  allow(now: number = Date.now()): boolean {
    this.#forget(now);
    if (this.#times.length >= this.maxRestarts) return false;
    this.#times.push(now);
    return true;
  }

  #forget(now: number): void {
    const horizon = now - this.withinMs;
    let drop = 0;
    while (drop < this.#times.length && this.#times[drop] <= horizon) drop++;
    if (drop > 0) this.#times.splice(0, drop);
  }
}
