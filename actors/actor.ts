/**
 * An actor: takes messages from its mailbox one at a time, in order, and processes them.
 *
 * @module
 */

import { setImmediate } from "node:timers";
import { Admission } from "./admission.ts";
import { type AttemptHooks, type AttemptRecord, AttemptRunner } from "./attempts.ts";
import type { Mailbox } from "./mailbox.ts";
import type { ActorState, SupervisedActor } from "./supervised_actor.ts";

/** What an actor is made of: its mailbox, its behaviour (with retries) and its reports. */
export interface ActorOptions<M> extends AttemptHooks<M> {
  /** Where its messages come from. The actor removes a message only once it is done. */
  readonly mailbox: Mailbox<M>;
  /** Called once a message is done (processed, or handed to `exhausted` successfully). */
  processed(message: M): void;
  /**
   * Called when the actor crashes on `message`: retries are exhausted and `exhausted` is
   * absent or threw. The actor then waits in `crashed` for {@linkcode Actor.restart}, which
   * tries the same message again: a message is never skipped by a crash.
   */
  crashed(message: M, error: unknown): void;
  /**
   * Process this many messages in a row without yielding before letting other tasks (I/O,
   * timers) run. Default: 256.
   */
  readonly yieldEvery?: number;
}

// setImmediate, not setTimeout(0): Deno clamps nested zero-delay timers to 4 ms, as browsers
// do, which held a busy actor to 256 messages per ~4 ms (bench: troupe no-op throughput).
const immediate = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

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
export class Actor<M> implements SupervisedActor {
  #options: ActorOptions<M>;
  #mailbox: Mailbox<M>;
  #admission = new Admission();
  #runner: AttemptRunner<M>;
  #record: AttemptRecord = { attempts: 0, backingOff: false };
  /** `retrying` is not kept here: it is `processing` while the record waits out a backoff. */
  #phase: Exclude<ActorState, "retrying"> = "idle";
  #inHand: M | undefined;
  #wake: (() => void) | undefined;
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
    this.#runner = new AttemptRunner(options, this.#admission);
    this.#yieldEvery = options.yieldEvery ?? 256;
  }

  /** Where the actor is in its life. */
  get state(): ActorState {
    return this.#phase === "processing" && this.#record.backingOff ? "retrying" : this.#phase;
  }

  /** Messages being processed now: 1 or 0. */
  get inFlight(): number {
    return this.#inHand === undefined ? 0 : 1;
  }

  /** Always 0: the message in hand stays in the mailbox until it is done. */
  get buffered(): number {
    return 0;
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
    this.#admission.hold();
    this.#wakeUp();
    return this.#admission.whenIdle(this.#inHand === undefined);
  }

  /** Takes messages again after {@linkcode Actor.hold}. */
  release(): void {
    if (this.#admission.release()) this.#wakeUp();
  }

  /** After a crash: tries the message it crashed on again. */
  restart(): void {
    if (this.#phase !== "crashed") return;
    this.#phase = "idle";
    this.#wakeUp();
  }

  /**
   * Stops for good: lets the message in hand finish (a backoff wait is cut short), takes no
   * other, and resolves when done. Bound the wait yourself; the actor cannot cancel a
   * behaviour that ignores its abort signal.
   */
  stop(): Promise<void> {
    this.#admission.close();
    this.#wakeUp();
    return this.#loop ?? Promise.resolve().then(() => {
      this.#phase = "stopped";
    });
  }

  #wakeUp(): void {
    const wake = this.#wake;
    if (wake) {
      this.#wake = undefined;
      wake();
    }
  }

  #nothingInHand(): void {
    this.#inHand = undefined;
    this.#admission.idle();
  }

  #sleep(): Promise<void> {
    this.#nothingInHand();
    return new Promise((resolve) => this.#wake = resolve);
  }

  async #run(): Promise<void> {
    const mailbox = this.#mailbox;
    const admission = this.#admission;
    let inARow = 0;
    while (admission.phase !== "closed") {
      if (!admission.open || this.#phase === "crashed") {
        if (this.#phase !== "crashed") this.#phase = "held";
        await this.#sleep();
        continue;
      }
      const message = mailbox.peek();
      if (message === undefined) {
        this.#phase = "idle";
        inARow = 0;
        await this.#sleep();
        continue;
      }
      if (++inARow >= this.#yieldEvery) {
        // A long run of quick messages must not starve the consumer loop and timers.
        inARow = 0;
        await immediate();
        continue;
      }
      this.#inHand = message;
      this.#phase = "processing";
      const pending = this.#runner.run(message, this.#record, 0);
      const outcome = pending instanceof Promise ? await pending : pending;
      if (outcome === "done") {
        // A seek may have replaced the mailbox's contents meanwhile: only remove what we took.
        if (mailbox.peek() === message) mailbox.shift();
        this.#nothingInHand();
        this.#options.processed(message);
      } else if (outcome !== "interrupted") {
        this.#phase = "crashed";
        this.#nothingInHand();
        this.#options.crashed(message, outcome.error);
      }
    }
    this.#phase = "stopped";
    this.#nothingInHand();
  }
}
