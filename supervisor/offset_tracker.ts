/**
 * Which offsets of one partition were really processed, and so what may be committed.
 *
 * @module
 */

/**
 * Tracks the processed offsets of one partition for one assignment epoch, and computes the
 * commit point: the offset after the highest contiguous processed one, i.e. the next offset
 * the group must read. Nothing that was not processed is ever below the commit point.
 *
 * In-order work (one message at a time) only calls `complete`. Out-of-order work (several
 * messages in flight) calls `begin` for each message in offset order as it is dispatched,
 * then `complete` in any order; the commit point only passes an offset once it and every
 * earlier dispatched offset are complete.
 *
 * Reports carry the epoch of the actor that made them: a report from another epoch (an actor
 * of a revoked assignment, or from before a seek) is ignored.
 *
 * @example
 * ```ts
 * import { OffsetTracker } from "./offset_tracker.ts";
 *
 * const tracker = new OffsetTracker(1);
 * tracker.begin(10);
 * tracker.begin(11);
 * tracker.complete(1, 11);
 * console.log(tracker.commitPoint); // 10: offset 10 is still in flight
 * tracker.complete(1, 10);
 * console.log(tracker.commitPoint); // 12
 * tracker.complete(7, 12); // another epoch: ignored
 * console.log(tracker.commitPoint); // 12
 * ```
 */
export class OffsetTracker {
  /** The assignment epoch whose reports count. */
  readonly epoch: number;
  #pending: number[] = [];
  #done: boolean[] = [];
  #head = 0;
  #commitPoint: number;
  #committed: number;
  #lastProcessed = -1;
  #processed = 0;
  /** Completions recorded by the last acknowledged commit (its metadata). */
  #committedProcessed = 0;

  /**
   * Creates a tracker for one epoch.
   *
   * @param epoch The assignment epoch whose reports count.
   * @param committed The group's committed offset when known (the next offset to read), else -1.
   * @param position Where reading starts when it differs from `committed` (after a seek):
   *   the commit point until something is processed, so the next commit records the seek.
   */
  constructor(epoch: number, committed = -1, position = committed) {
    this.epoch = epoch;
    this.#commitPoint = position;
    this.#committed = committed;
  }

  /**
   * The next offset to read: everything before it was processed. -1 until the first report
   * (or the committed offset given at creation).
   */
  get commitPoint(): number {
    return this.#head < this.#pending.length ? this.#pending[this.#head] : this.#commitPoint;
  }

  /** The last commit point acknowledged by the broker, or -1. */
  get committed(): number {
    return this.#committed;
  }

  /**
   * True when the broker's record is behind: the commit point moved, or (out-of-order work)
   * more offsets completed beyond it since the last commit.
   */
  get needsCommit(): boolean {
    const point = this.commitPoint;
    if (point < 0) return false;
    if (point !== this.#committed) return true;
    return this.#head < this.#pending.length && this.#processed !== this.#committedProcessed;
  }

  /** Distance from the commit point to the last dispatched offset (0 when none in flight). */
  get span(): number {
    return this.#head < this.#pending.length
      ? this.#pending[this.#pending.length - 1] - this.#pending[this.#head]
      : 0;
  }

  /** The highest offset reported processed in this epoch, or -1. */
  get lastProcessed(): number {
    return this.#lastProcessed;
  }

  /** How many of them a commit has not covered yet. */
  get uncommitted(): number {
    return this.#processed - this.#committedProcessed;
  }

  /** How many messages were reported processed in this epoch. */
  get processedCount(): number {
    return this.#processed;
  }

  /** Offsets dispatched and not yet passed by the commit point (in flight or done early). */
  get inFlight(): number {
    return this.#pending.length - this.#head;
  }

  /**
   * Records that `offset` was dispatched (out-of-order mode only). Offsets must be begun in
   * increasing order.
   */
  begin(offset: number): void {
    if (this.#head === this.#pending.length && offset < this.#commitPoint) {
      // A fresh start below the old point (e.g. refetched): keep the point monotone per epoch.
      return;
    }
    this.#pending.push(offset);
    this.#done.push(false);
  }

  /**
   * Records that `offset` was processed by an actor of `epoch`. Returns false (and changes
   * nothing) when the report is from another epoch or for an offset not in flight.
   */
  complete(epoch: number, offset: number): boolean {
    if (epoch !== this.epoch) return false;
    if (this.#head === this.#pending.length) {
      // In-order work: nothing dispatched out of order, the point simply follows.
      if (offset + 1 <= this.#commitPoint) return false;
      this.#commitPoint = offset + 1;
    } else {
      const index = this.#find(offset);
      if (index < 0 || this.#done[index]) return false;
      this.#done[index] = true;
      this.#advance();
    }
    this.#processed++;
    if (offset > this.#lastProcessed) this.#lastProcessed = offset;
    return true;
  }

  /**
   * Records that the broker acknowledged a commit of `offset`, made when `processedCount`
   * was `processed` (what its metadata covered).
   */
  markCommitted(offset: number, processed: number = this.#processed): void {
    this.#committed = offset;
    this.#committedProcessed = processed;
  }

  /**
   * Offsets processed beyond the commit point, in increasing order (what a restarted owner
   * may skip). Empty for in-order work.
   */
  completedBeyond(): number[] {
    const offsets: number[] = [];
    for (let i = this.#head; i < this.#pending.length; i++) {
      if (this.#done[i]) offsets.push(this.#pending[i]);
    }
    return offsets;
  }

  #find(offset: number): number {
    let low = this.#head;
    let high = this.#pending.length - 1;
    while (low <= high) {
      const middle = (low + high) >>> 1;
      const value = this.#pending[middle];
      if (value === offset) return middle;
      if (value < offset) low = middle + 1;
      else high = middle - 1;
    }
    return -1;
  }

  #advance(): void {
    while (this.#head < this.#pending.length && this.#done[this.#head]) {
      this.#commitPoint = this.#pending[this.#head] + 1;
      this.#head++;
    }
    if (this.#head === this.#pending.length) {
      this.#pending.length = 0;
      this.#done.length = 0;
      this.#head = 0;
    } else if (this.#head >= 1024 && this.#head * 2 >= this.#pending.length) {
      this.#pending = this.#pending.slice(this.#head);
      this.#done = this.#done.slice(this.#head);
      this.#head = 0;
    }
  }
}
