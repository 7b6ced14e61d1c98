/**
 * An actor that processes several messages of its mailbox at once, in lanes: in order within
 * a lane, lanes in parallel.
 *
 * @module
 */

import type { ActorState, RetryPolicy } from "./actor.ts";
import { backoffDelay, sleep } from "./backoff.ts";
import type { Limiter } from "./limiter.ts";
import type { Mailbox } from "./mailbox.ts";

/** What a lane actor is made of. */
export interface LaneActorOptions<M> {
  /** Where its messages come from, in order. */
  mailbox: Mailbox<M>;
  /**
   * The lane of a message: messages of one lane are processed one at a time, in order; `null`
   * is a lane too. Absent: every message is its own lane (no order at all).
   */
  laneOf?: (message: M) => unknown;
  /** Messages in flight at once. */
  concurrency: number;
  /** Messages taken out of the mailbox but not done yet, at most (memory bound). */
  maxBuffered: number;
  /** A limit shared with other actors, if any. */
  limiter?: Limiter;
  /** Asked before taking each message; false stops taking until something completes. */
  canTake?: () => boolean;
  /**
   * Called for each message taken from the mailbox, in mailbox order. Returning true says
   * the message is already done (e.g. completed by a previous owner): it is not processed.
   */
  taken(message: M): boolean;
  /** The behaviour; `worker` (0 to concurrency - 1) identifies the in-flight slot. */
  process(message: M, attempt: number, worker: number): unknown;
  /** Called once a message is done (processed, or handed to `exhausted`). */
  processed(message: M): void;
  /** Called when a lane crashes on `message`; the lane waits for {@linkcode LaneActor.restart}. */
  crashed(message: M, error: unknown): void;
  /** Retries before a lane crashes. */
  retry?: RetryPolicy;
  /** Called before each retry (for metrics). */
  retrying?(message: M, error: unknown, attempt: number, delayMs: number): void;
  /** Called after every failed attempt (for metrics). */
  failed?(message: M, error: unknown, attempt: number): void;
  /** Last resort for a message whose retries are exhausted; throwing crashes the lane. */
  exhausted?(message: M, error: unknown, attempts: number): unknown;
  /** When given, called with how long each attempt took, in ms. */
  timed?(ms: number): void;
}

interface Lane<M> {
  readonly key: unknown;
  readonly queue: M[];
  head: number;
  busy: boolean;
  crashed: boolean;
  queued: boolean;
  attempts: number;
}

const NO_KEY = Symbol("no lane");

/**
 * Processes up to `concurrency` messages of its mailbox at once. Messages of the same lane
 * (the same key) are processed one at a time in offset order; a failing lane retries, then
 * crashes and waits for its restart, while the other lanes go on.
 *
 * It takes messages from the mailbox in order (reporting each through `taken`), so the
 * mailbox keeps feeding backpressure; at most `maxBuffered` taken messages wait in lanes.
 *
 * @example
 * ```ts
 * import { LaneActor } from "./lane_actor.ts";
 * import { Mailbox } from "./mailbox.ts";
 *
 * const mailbox = new Mailbox<{ key: string; n: number }>({ capacity: 100 });
 * const actor = new LaneActor({
 *   mailbox,
 *   laneOf: (message) => message.key,
 *   concurrency: 4,
 *   maxBuffered: 100,
 *   taken: () => false,
 *   process: async (message) => console.log(message.key, message.n),
 *   processed: () => {},
 *   crashed: () => {},
 * });
 * actor.start();
 * mailbox.push({ key: "a", n: 1 });
 * await actor.stop();
 * ```
 *
 * @typeParam M The messages it processes.
 */
export class LaneActor<M> {
  #options: LaneActorOptions<M>;
  #mailbox: Mailbox<M>;
  #lanes = new Map<unknown, Lane<M>>();
  #ready: Lane<M>[] = [];
  #readyHead = 0;
  #freeWorkers: number[];
  #buffered = 0;
  #inFlight = 0;
  #crashedLanes = 0;
  #held = false;
  #stopping = false;
  #started = false;
  #idleWaiters: (() => void)[] = [];
  #interrupt = new AbortController();
  #pumping = false;
  #repump = false;

  /**
   * Creates a stopped actor; call {@linkcode LaneActor.start}.
   *
   * @param options Its mailbox, lanes, limits, behaviour and hooks.
   */
  constructor(options: LaneActorOptions<M>) {
    this.#options = options;
    this.#mailbox = options.mailbox;
    this.#freeWorkers = Array.from(
      { length: options.concurrency },
      (_, i) => options.concurrency - 1 - i,
    );
  }

  /** Where the actor is in its life (`processing` while anything is in flight). */
  get state(): ActorState {
    if (this.#stopping && this.#inFlight === 0) return "stopped";
    if (this.#held) return "held";
    if (this.#inFlight > 0) return "processing";
    if (this.#crashedLanes > 0) return "crashed";
    return "idle";
  }

  /** Messages being processed right now. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Messages taken from the mailbox and not done yet (in flight included). */
  get buffered(): number {
    return this.#buffered;
  }

  /** Starts taking messages. */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    // Not inline: an arrival comes from the consumer loop, which must never run handlers.
    this.#mailbox.onArrival = () => queueMicrotask(() => this.#pump());
    this.#pump();
  }

  /** Stops starting messages; resolves once none is in flight. Backoff waits are cut short. */
  hold(): Promise<void> {
    this.#held = true;
    this.#interruptWaits();
    return this.whenIdle();
  }

  /** Starts messages again after {@linkcode LaneActor.hold}. */
  release(): void {
    if (!this.#held) return;
    this.#held = false;
    this.#pump();
  }

  /** Resolves once no message is in flight. */
  whenIdle(): Promise<void> {
    if (this.#inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Restarts every crashed lane: each tries its failed message again. */
  restart(): void {
    if (this.#crashedLanes === 0) return;
    for (const lane of this.#lanes.values()) {
      if (!lane.crashed) continue;
      lane.crashed = false;
      this.#crashedLanes--;
      this.#enqueue(lane);
    }
    this.#pump();
  }

  /** Stops for good: messages in flight finish, buffered ones are dropped. */
  stop(): Promise<void> {
    this.#stopping = true;
    this.#interruptWaits();
    return this.whenIdle().then(() => {
      this.#lanes.clear();
      this.#ready = [];
      this.#readyHead = 0;
      this.#buffered = 0;
    });
  }

  #interruptWaits(): void {
    this.#interrupt.abort();
    this.#interrupt = new AbortController();
  }

  #enqueue(lane: Lane<M>): void {
    if (lane.queued || lane.busy || lane.crashed || lane.head >= lane.queue.length) return;
    lane.queued = true;
    this.#ready.push(lane);
  }

  /** Takes what it may from the mailbox, then starts what it may. */
  #pump(): void {
    if (this.#stopping || this.#held || !this.#started) return;
    if (this.#pumping) {
      // A synchronous handler finished inside this very pump: go round once more, or the
      // rest of the mailbox would wait for an arrival that may never come.
      this.#repump = true;
      return;
    }
    this.#pumping = true;
    try {
      do {
        this.#repump = false;
        this.#pumpOnce();
      } while (this.#repump && !this.#stopping && !this.#held);
    } finally {
      this.#pumping = false;
    }
  }

  #pumpOnce(): void {
    const options = this.#options;
    const mailbox = this.#mailbox;
    const laneOf = options.laneOf;
    while (this.#buffered < options.maxBuffered && (options.canTake?.() ?? true)) {
      const message = mailbox.shift();
      if (message === undefined) break;
      if (options.taken(message)) continue;
      this.#buffered++;
      const key = laneOf ? laneOf(message) : NO_KEY;
      let lane = key === NO_KEY ? undefined : this.#lanes.get(key);
      if (!lane) {
        lane = { key, queue: [], head: 0, busy: false, crashed: false, queued: false, attempts: 0 };
        if (key !== NO_KEY) this.#lanes.set(key, lane);
      }
      lane.queue.push(message);
      this.#enqueue(lane);
    }
    while (this.#inFlight < options.concurrency && this.#readyHead < this.#ready.length) {
      if (options.limiter && !options.limiter.tryAcquire()) {
        options.limiter.whenAvailable(() => this.#pump());
        break;
      }
      const lane = this.#ready[this.#readyHead++];
      if (this.#readyHead === this.#ready.length) {
        this.#ready.length = 0;
        this.#readyHead = 0;
      }
      lane.queued = false;
      this.#inFlight++;
      lane.busy = true;
      void this.#run(lane, this.#freeWorkers.pop()!);
    }
  }

  async #run(lane: Lane<M>, worker: number): Promise<void> {
    const options = this.#options;
    const message = lane.queue[lane.head];
    const maxAttempts = options.retry?.maxAttempts ?? 1;
    let done = false;
    try {
      while (!this.#stopping && !this.#held) {
        let failure: { error: unknown } | undefined;
        const started = options.timed ? performance.now() : 0;
        try {
          const result = options.process(message, lane.attempts + 1, worker);
          if (result !== null && typeof result === "object" && "then" in result) await result;
        } catch (error) {
          failure = { error };
        }
        options.timed?.(performance.now() - started);
        if (failure === undefined) {
          done = true;
          break;
        }
        const attempt = ++lane.attempts;
        options.failed?.(message, failure.error, attempt);
        if (this.#stopping || this.#held) break;
        if (attempt < maxAttempts && options.retry!.retriable(failure.error)) {
          const delay = backoffDelay(attempt, options.retry!.backoff);
          options.retrying?.(message, failure.error, attempt, delay);
          await sleep(delay, this.#interrupt.signal);
          continue;
        }
        if (options.exhausted) {
          try {
            const result = options.exhausted(message, failure.error, attempt);
            if (result !== null && typeof result === "object" && "then" in result) await result;
            done = true;
            break;
          } catch (error) {
            failure = { error };
          }
        }
        lane.attempts = 0;
        lane.crashed = true;
        this.#crashedLanes++;
        options.crashed(message, failure.error);
        break;
      }
    } finally {
      lane.busy = false;
      this.#inFlight--;
      this.#freeWorkers.push(worker);
      options.limiter?.release();
      if (done) {
        lane.attempts = 0;
        lane.queue[lane.head++] = undefined as M;
        if (lane.head === lane.queue.length) {
          lane.queue.length = 0;
          lane.head = 0;
          if (lane.key !== NO_KEY && !lane.crashed) this.#lanes.delete(lane.key);
        }
        this.#buffered--;
        options.processed(message);
      }
      this.#enqueue(lane);
      if (this.#inFlight === 0 && this.#idleWaiters.length > 0) {
        const waiters = this.#idleWaiters;
        this.#idleWaiters = [];
        for (const resolve of waiters) resolve();
      }
      this.#pump();
    }
  }
}
