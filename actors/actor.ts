/**
 * An actor: takes messages from its mailbox one at a time, in order, and processes them.
 *
 * @module
 */

import { setImmediate } from "node:timers";
import { type Backoff, backoffDelay, sleep } from "./backoff.ts";
import type { Mailbox } from "./mailbox.ts";

/**
 * Where an actor is in its life.
 *
 * - `idle`: waiting for a message.
 * - `processing`: running the behaviour on the message in hand.
 * - `retrying`: waiting out a backoff before trying the message in hand again.
 * - `held`: told not to take messages (a rebalance, a pause); the message in hand finished.
 * - `crashed`: the behaviour failed for good; waiting for the supervisor to restart it.
 * - `stopped`: done for good.
 */
export type ActorState = "idle" | "processing" | "retrying" | "held" | "crashed" | "stopped";

/** How an actor retries a failed message before it crashes. */
export interface RetryPolicy {
  /** Tries per message, the first included (1 = no retry). */
  maxAttempts: number;
  /** Delays between tries. */
  backoff: Backoff;
  /** False for an error not worth retrying: the actor goes straight to `exhausted`. */
  retriable(error: unknown): boolean;
}

/** What an actor is made of. */
export interface ActorOptions<M> {
  /** Where its messages come from. The actor removes a message only once it is done. */
  mailbox: Mailbox<M>;
  /** The behaviour. Throwing (or rejecting) fails the attempt. */
  process(message: M, attempt: number): unknown;
  /** Called once a message is done (processed, or handed to `exhausted` successfully). */
  processed(message: M): void;
  /**
   * Called when the actor crashes on `message`: retries are exhausted and `exhausted` is
   * absent or threw. The actor then waits in `crashed` for {@linkcode Actor.restart}, which
   * tries the same message again: a message is never skipped by a crash.
   */
  crashed(message: M, error: unknown): void;
  /** Retries before crashing. Default: none (one attempt). */
  retry?: RetryPolicy;
  /** Called before each retry, with the failed attempt number and the delay (for metrics). */
  retrying?(message: M, error: unknown, attempt: number, delayMs: number): void;
  /** Called after every failed attempt, whatever follows (for metrics). */
  failed?(message: M, error: unknown, attempt: number): void;
  /** When given, called with how long each attempt took, in ms (for metrics). */
  timed?(ms: number): void;
  /**
   * Last resort for a message whose retries are exhausted (e.g. a dead-letter queue). If it
   * returns normally the message counts as done; if it throws, the actor crashes.
   */
  exhausted?(message: M, error: unknown, attempts: number): unknown;
  /**
   * Process this many messages in a row without yielding before letting other tasks (I/O,
   * timers) run. Default: 256.
   */
  yieldEvery?: number;
}

// setImmediate, not setTimeout(0): Deno clamps nested zero-delay timers to 4 ms, as browsers
// do, which held a busy actor to 256 messages per ~4 ms (bench: troupe no-op throughput).
const immediate = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && typeof value === "object" &&
    typeof (value as PromiseLike<unknown>).then === "function";
}

/**
 * Processes the messages of one mailbox strictly in order, one at a time, with retries;
 * crashes on a message it cannot process and waits for its supervisor to restart it.
 *
 * The message in hand stays at the head of the mailbox until it is done, so a crash, a hold
 * or a stop never loses it.
 *
 * @example
 * ```ts
 * import { Actor } from "./actor.ts";
 * import { Mailbox } from "./mailbox.ts";
 *
 * const mailbox = new Mailbox<string>({ capacity: 10 });
 * const actor = new Actor({
 *   mailbox,
 *   process: (text) => console.log(text),
 *   processed: () => {},
 *   crashed: (_text, error) => console.error(error),
 * });
 * actor.start();
 * mailbox.push("hello");
 * await actor.stop();
 * ```
 *
 * @typeParam M The messages it processes.
 */
export class Actor<M> {
  #options: ActorOptions<M>;
  #mailbox: Mailbox<M>;
  #state: ActorState = "idle";
  #inHand: M | undefined;
  #attempts = 0;
  #held = false;
  #crashed = false;
  #stopping = false;
  #wake: (() => void) | undefined;
  #idleWaiters: (() => void)[] = [];
  #interrupt = new AbortController();
  #loop: Promise<void> | undefined;
  #yieldEvery: number;

  /**
   * Creates a stopped actor; call {@linkcode Actor.start}.
   *
   * @param options Its mailbox, behaviour and hooks.
   */
  constructor(options: ActorOptions<M>) {
    this.#options = options;
    this.#mailbox = options.mailbox;
    this.#yieldEvery = options.yieldEvery ?? 256;
  }

  /** Where the actor is in its life. */
  get state(): ActorState {
    return this.#state;
  }

  /** Messages being processed now: 1 or 0. */
  get inFlight(): number {
    return this.#inHand === undefined ? 0 : 1;
  }

  /** Starts taking messages. Calling it twice has no effect. */
  start(): void {
    if (this.#loop) return;
    this.#mailbox.onArrival = () => this.#wakeUp();
    this.#loop = this.#run();
  }

  /**
   * Stops taking new messages; resolves once no message is in hand (at once when idle). A
   * backoff wait is cut short: the message goes back to waiting, its attempts remembered.
   */
  hold(): Promise<void> {
    this.#held = true;
    if (this.#state === "retrying") this.#interruptWait();
    this.#wakeUp();
    return this.whenIdle();
  }

  /** Takes messages again after {@linkcode Actor.hold}. */
  release(): void {
    if (!this.#held) return;
    this.#held = false;
    this.#wakeUp();
  }

  /** Resolves once no message is in hand. */
  whenIdle(): Promise<void> {
    if (this.#inHand === undefined) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** After a crash: tries the message it crashed on again. */
  restart(): void {
    if (!this.#crashed) return;
    this.#crashed = false;
    this.#wakeUp();
  }

  /**
   * Stops for good: lets the message in hand finish (a backoff wait is cut short), takes no
   * other, and resolves when done. Bound the wait yourself; the actor cannot cancel a
   * behaviour that ignores its abort signal.
   */
  stop(): Promise<void> {
    this.#stopping = true;
    this.#interruptWait();
    this.#wakeUp();
    return this.#loop ?? Promise.resolve().then(() => {
      this.#state = "stopped";
    });
  }

  #wakeUp(): void {
    const wake = this.#wake;
    if (wake) {
      this.#wake = undefined;
      wake();
    }
  }

  #interruptWait(): void {
    this.#interrupt.abort();
    this.#interrupt = new AbortController();
  }

  #waitForWakeUp(): Promise<void> {
    return new Promise((resolve) => this.#wake = resolve);
  }

  #nothingInHand(): void {
    this.#inHand = undefined;
    if (this.#idleWaiters.length > 0) {
      const waiters = this.#idleWaiters;
      this.#idleWaiters = [];
      for (const resolve of waiters) resolve();
    }
  }

  async #run(): Promise<void> {
    const options = this.#options;
    const mailbox = this.#mailbox;
    const maxAttempts = options.retry?.maxAttempts ?? 1;
    const timed = options.timed;
    let inARow = 0;
    while (!this.#stopping) {
      if (this.#held || this.#crashed) {
        this.#state = this.#crashed ? "crashed" : "held";
        this.#nothingInHand();
        await this.#waitForWakeUp();
        continue;
      }
      const message = mailbox.peek();
      if (message === undefined) {
        this.#state = "idle";
        this.#nothingInHand();
        inARow = 0;
        await this.#waitForWakeUp();
        continue;
      }
      if (++inARow >= this.#yieldEvery) {
        // A long run of quick messages must not starve the consumer loop and timers.
        inARow = 0;
        await immediate();
        continue;
      }

      this.#inHand = message;
      this.#state = "processing";
      let failure: { error: unknown } | undefined;
      const started = timed ? performance.now() : 0;
      try {
        const result = options.process(message, this.#attempts + 1);
        if (isThenable(result)) await result;
      } catch (error) {
        failure = { error };
      }
      if (timed) timed(performance.now() - started);

      if (failure === undefined) {
        this.#done(message);
        continue;
      }

      const attempt = ++this.#attempts;
      options.failed?.(message, failure.error, attempt);
      if (this.#stopping || this.#held) continue; // Keep the message; try again later.
      if (attempt < maxAttempts && options.retry!.retriable(failure.error)) {
        const delay = backoffDelay(attempt, options.retry!.backoff);
        options.retrying?.(message, failure.error, attempt, delay);
        this.#state = "retrying";
        await sleep(delay, this.#interrupt.signal);
        continue;
      }
      if (options.exhausted) {
        try {
          const result = options.exhausted(message, failure.error, attempt);
          if (isThenable(result)) await result;
          this.#done(message);
          continue;
        } catch (error) {
          failure = { error };
        }
      }
      this.#attempts = 0;
      this.#crashed = true;
      this.#state = "crashed";
      this.#nothingInHand();
      options.crashed(message, failure.error);
    }
    this.#state = "stopped";
    this.#nothingInHand();
  }

  #done(message: M): void {
    this.#attempts = 0;
    // A seek may have replaced the mailbox's contents meanwhile: only remove what we took.
    if (this.#mailbox.peek() === message) this.#mailbox.shift();
    this.#nothingInHand();
    this.#options.processed(message);
  }
}
