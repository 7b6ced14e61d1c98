/**
 * The producer's queue: records wait here to be gathered into requests. It owns the three
 * limits of sending (linger, records per request, requests in flight) and the buffer bound
 * that makes a sender wait; what a request does is its owner's business.
 *
 * @module
 */

/** The limits of a {@linkcode SendQueue}. */
export interface SendQueueLimits {
  /** How long the oldest record may wait for others to share its request, ms. */
  readonly lingerMs: number;
  /** Most records per request. */
  readonly maxBatchRecords: number;
  /** Queued bytes that send a request at once, linger or not. */
  readonly batchBytes: number;
  /** Requests in flight at once. */
  readonly maxInFlight: number;
  /** Records queued before {@linkcode SendQueue.room} makes senders wait. */
  readonly bufferRecords: number;
}

/** Something queued: when it was queued (`performance.now()`), for the linger, and its size. */
export interface Queued {
  readonly queuedAt: number;
  readonly bytes: number;
}

/**
 * Records waiting to be sent, handed to `deliver` in batches. Linger counts from the oldest
 * queued record, as in Kafka's own producer: records that waited for an earlier request to
 * finish have lingered enough and go at once.
 *
 * @typeParam T What is queued.
 *
 * @example
 * ```ts
 * import { SendQueue } from "./send_queue.ts";
 *
 * const sent: number[][] = [];
 * const queue = new SendQueue<{ queuedAt: number; bytes: number; n: number }>(
 *   { lingerMs: 5, maxBatchRecords: 100, batchBytes: 65_536, maxInFlight: 1, bufferRecords: 1_000 },
 *   (batch) => {
 *     sent.push(batch.map((item) => item.n));
 *     return Promise.resolve();
 *   },
 * );
 * for (let n = 0; n < 3; n++) queue.push({ queuedAt: performance.now(), bytes: 10, n });
 * await queue.flush();
 * console.log(sent); // [[0, 1, 2]]
 * ```
 */
export class SendQueue<T extends Queued> {
  readonly #limits: SendQueueLimits;
  readonly #deliver: (batch: T[]) => Promise<void>;
  /** Queued items from `#head` on; the consumed prefix is dropped in bulk, not per item. */
  #items: T[] = [];
  #head = 0;
  /** Bytes of the queued items. */
  #bytes = 0;
  #inFlight = 0;
  #lingerTimer: ReturnType<typeof setTimeout> | undefined;
  #roomWaiters: (() => void)[] = [];
  #idleWaiters: (() => void)[] = [];

  /**
   * Creates an empty queue.
   *
   * @param limits Linger, batch size, requests in flight and buffer size.
   * @param deliver Sends one batch; settles once every item in it is settled.
   */
  constructor(limits: SendQueueLimits, deliver: (batch: T[]) => Promise<void>) {
    this.#limits = limits;
    this.#deliver = deliver;
  }

  /** Items queued and not yet handed to `deliver`. */
  get size(): number {
    return this.#items.length - this.#head;
  }

  /**
   * Resolves once the buffer has room (at once when it has), or when {@linkcode wakeAll} is
   * called.
   */
  room(): Promise<void> | undefined {
    if (this.size < this.#limits.bufferRecords) return undefined;
    return new Promise((resolve) => this.#roomWaiters.push(resolve));
  }

  /** Queues an item; it is delivered within the linger. */
  push(item: T): void {
    this.#items.push(item);
    this.#bytes += item.bytes;
    this.#schedule();
  }

  /** Delivers what is queued now, and resolves once nothing is queued or in flight. */
  flush(): Promise<void> {
    if (this.size === 0 && this.#inFlight === 0) return Promise.resolve();
    this.#dispatch();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Wakes every sender waiting for room (the producer is closing: they fail). */
  wakeAll(): void {
    const waiters = this.#roomWaiters;
    this.#roomWaiters = [];
    for (const wake of waiters) wake();
  }

  #schedule(): void {
    if (this.size === 0 || this.#inFlight >= this.#limits.maxInFlight) return;
    const { lingerMs, maxBatchRecords } = this.#limits;
    const { batchBytes } = this.#limits;
    if (this.size >= maxBatchRecords || this.#bytes >= batchBytes) return this.#dispatch();
    // Also with a linger timer set: on a busy event loop the timer fires late, and a record
    // queued after the linger ran out sends the request now.
    const waited = performance.now() - this.#items[this.#head].queuedAt;
    if (waited >= lingerMs) {
      this.#dispatch();
    } else if (this.#lingerTimer === undefined) {
      this.#lingerTimer = setTimeout(() => {
        this.#lingerTimer = undefined;
        this.#dispatch();
      }, lingerMs - waited);
    }
  }

  #dispatch(): void {
    clearTimeout(this.#lingerTimer);
    this.#lingerTimer = undefined;
    while (this.size > 0 && this.#inFlight < this.#limits.maxInFlight) {
      const batch = this.#take(Math.min(this.size, this.#limits.maxBatchRecords));
      this.#inFlight++;
      void this.#deliver(batch).finally(() => {
        this.#inFlight--;
        this.#schedule();
        this.#wakeIdle();
      });
      this.#wakeRoom();
    }
  }

  /** The next `count` items, out of the queue. */
  #take(count: number): T[] {
    const items = this.#items;
    const batch = items.slice(this.#head, this.#head + count);
    for (const item of batch) this.#bytes -= item.bytes;
    this.#head += count;
    if (this.#head === items.length) {
      items.length = 0;
      this.#head = 0;
    } else if (this.#head > 4096 && this.#head * 2 > items.length) {
      items.splice(0, this.#head);
      this.#head = 0;
    }
    return batch;
  }

  #wakeRoom(): void {
    if (this.#roomWaiters.length > 0 && this.size < this.#limits.bufferRecords) this.wakeAll();
  }

  #wakeIdle(): void {
    if (this.size > 0 || this.#inFlight > 0 || this.#idleWaiters.length === 0) return;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const wake of waiters) wake();
  }
}
