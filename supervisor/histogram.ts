/**
 * A fixed-bucket histogram, cheap enough to record every message's processing time.
 *
 * @module
 */

/** A histogram's figures at one moment, in the shape Prometheus expects. */
export interface HistogramSnapshot {
  /** Upper bounds of the buckets, increasing (the `+Inf` bucket is implied). */
  readonly bounds: readonly number[];
  /** Observations at or below each bound, cumulative, one per bound. */
  readonly cumulative: readonly number[];
  /** Number of observations. */
  readonly count: number;
  /** Sum of the observations. */
  readonly sum: number;
}

/** Default bucket bounds for processing times, in ms: 0.1 ms to 10 s. */
export const PROCESSING_TIME_BOUNDS_MS: readonly number[] = [
  0.1,
  0.5,
  1,
  2.5,
  5,
  10,
  25,
  50,
  100,
  250,
  500,
  1000,
  2500,
  5000,
  10000,
];

/**
 * Counts observations into fixed buckets.
 *
 * @example
 * ```ts
 * import { Histogram } from "./histogram.ts";
 * const histogram = new Histogram([1, 10]);
 * histogram.observe(0.5);
 * histogram.observe(5);
 * histogram.observe(50);
 * console.log(histogram.snapshot().cumulative); // [1, 2]
 * ```
 */
export class Histogram {
  #bounds: readonly number[];
  #counts: Float64Array;
  #count = 0;
  #sum = 0;

  /**
   * Creates an empty histogram.
   *
   * @param bounds Increasing upper bounds of the buckets.
   */
  constructor(bounds: readonly number[] = PROCESSING_TIME_BOUNDS_MS) {
    this.#bounds = bounds;
    this.#counts = new Float64Array(bounds.length + 1);
  }

  /** Records one observation. */
  observe(value: number): void {
    const bounds = this.#bounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]) i++;
    this.#counts[i]++;
    this.#count++;
    this.#sum += value;
  }

  /** The figures so far. */
  snapshot(): HistogramSnapshot {
    const cumulative: number[] = [];
    let running = 0;
    for (let i = 0; i < this.#bounds.length; i++) {
      running += this.#counts[i];
      cumulative.push(running);
    }
    return { bounds: this.#bounds, cumulative, count: this.#count, sum: this.#sum };
  }
}
