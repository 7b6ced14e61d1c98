/**
 * A bounded FIFO queue feeding one actor.
 *
 * @module
 */

/**
 * A FIFO queue with a soft capacity and a low watermark, fed by one producer (the consumer
 * loop) and drained by one actor.
 *
 * The capacity is a signal, not a wall: `push` always accepts, because the producer hands
 * over whole fetched batches, and a batch already in memory is cheaper to keep than to fetch
 * again. The producer checks {@linkcode Mailbox.full} after pushing and stops feeding; the
 * mailbox calls `onLowWatermark` once the actor has drained it to the low watermark, so the
 * producer can start again. So the size never exceeds `capacity - 1` plus one batch.
 *
 * Items are removed only by `shift` after the actor is done with them, so the message in
 * hand stays at the head: a crashed actor resumes with it.
 *
 * @example
 * ```ts
 * import { Mailbox } from "./mailbox.ts";
 *
 * const mailbox = new Mailbox<number>({ capacity: 2, onLowWatermark: () => console.log("more") });
 * mailbox.push(1);
 * mailbox.push(2);
 * console.log(mailbox.full); // true
 * mailbox.shift(); // size 1 = low watermark: logs "more"
 * ```
 *
 * @typeParam T The items queued.
 */
export class Mailbox<T> {
  /** Size at which the producer should stop feeding. */
  readonly capacity: number;
  /** Size at or below which a full mailbox asks for more. */
  readonly lowWatermark: number;
  #items: (T | undefined)[] = [];
  #head = 0;
  #wasFull = false;
  #onLowWatermark: (() => void) | undefined;
  #onArrival: (() => void) | undefined;

  /**
   * Creates an empty mailbox.
   *
   * @param options `capacity` (at least 1); `lowWatermark` (default: half the capacity);
   * `onLowWatermark`, called when a mailbox that was full drains to the low watermark;
   * `onArrival`, called when an item arrives in an empty mailbox.
   */
  constructor(options: {
    capacity: number;
    lowWatermark?: number;
    onLowWatermark?: () => void;
    onArrival?: () => void;
  }) {
    if (!Number.isInteger(options.capacity) || options.capacity < 1) {
      throw new RangeError(`mailbox capacity must be an integer >= 1, got ${options.capacity}`);
    }
    const low = options.lowWatermark ?? Math.floor(options.capacity / 2);
    if (!Number.isInteger(low) || low < 0 || low >= options.capacity) {
      throw new RangeError(
        `mailbox low watermark must be an integer in [0, capacity), got ${low}`,
      );
    }
    this.capacity = options.capacity;
    this.lowWatermark = low;
    this.#onLowWatermark = options.onLowWatermark;
    this.#onArrival = options.onArrival;
  }

  /** Number of items queued, the one in hand included. */
  get size(): number {
    return this.#items.length - this.#head;
  }

  /** True once the size reached the capacity: the producer should stop feeding. */
  get full(): boolean {
    return this.size >= this.capacity;
  }

  /** Sets the callback run when an item arrives in an empty mailbox (the actor's wake-up). */
  set onArrival(callback: (() => void) | undefined) {
    this.#onArrival = callback;
  }

  /** Appends an item. Always accepts; check {@linkcode Mailbox.full} afterwards. */
  push(item: T): void {
    const wasEmpty = this.#items.length === this.#head;
    this.#items.push(item);
    if (this.size >= this.capacity) this.#wasFull = true;
    if (wasEmpty) this.#onArrival?.();
  }

  /** The oldest item, left in place; `undefined` when empty. */
  peek(): T | undefined {
    return this.#head < this.#items.length ? this.#items[this.#head] : undefined;
  }

  /** Removes and returns the oldest item; `undefined` when empty. */
  shift(): T | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head] = undefined;
    this.#head++;
    if (this.#head === this.#items.length) {
      this.#items.length = 0;
      this.#head = 0;
    } else if (this.#head >= 1024 && this.#head * 2 >= this.#items.length) {
      // Drop the consumed prefix once it dominates, so memory follows the size.
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    if (this.#wasFull && this.size <= this.lowWatermark) {
      this.#wasFull = false;
      this.#onLowWatermark?.();
    }
    return item;
  }

  /** Drops every queued item and returns how many there were. Does not call `onLowWatermark`. */
  clear(): number {
    const dropped = this.size;
    this.#items = [];
    this.#head = 0;
    this.#wasFull = false;
    return dropped;
  }

  /** The queued items, oldest first (a copy; for inspection and tests). */
  toArray(): T[] {
    return this.#items.slice(this.#head) as T[];
  }
}
