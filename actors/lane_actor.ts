/**
 * An actor that processes several messages of its mailbox at once, in lanes: in order within
 * a lane, lanes in parallel.
 *
 * @module
 */

import { Admission } from "./admission.ts";
import { type AttemptHooks, type AttemptOutcome, AttemptRunner } from "./attempts.ts";
import type { Limiter } from "./limiter.ts";
import type { Mailbox } from "./mailbox.ts";
import type { ActorState, SupervisedActor } from "./supervised_actor.ts";

/** What a lane actor is made of. */
export interface LaneActorOptions<M> extends AttemptHooks<M> {
  /** Where its messages come from, in order. */
  readonly mailbox: Mailbox<M>;
  /**
   * The lane of a message: messages of one lane are processed one at a time, in order; `null`
   * is a lane too. Absent: every message is its own lane (no order at all).
   */
  readonly laneOf?: (message: M) => unknown;
  /** Messages in flight at once. */
  readonly concurrency: number;
  /** Messages taken out of the mailbox but not done yet, at most (memory bound). */
  readonly maxBuffered: number;
  /** A limit shared with other actors, if any. */
  readonly limiter?: Limiter;
  /** Asked before taking each message; false stops taking until something completes. */
  canTake?(): boolean;
  /**
   * Called for each message taken from the mailbox, in mailbox order. Returning true says
   * the message is already done (e.g. completed by a previous owner): it is not processed.
   */
  taken(message: M): boolean;
  /** Called once a message is done (processed, or handed to `exhausted`). */
  processed(message: M): void;
  /** Called when a lane crashes on `message`; the lane waits for {@linkcode LaneActor.restart}. */
  crashed(message: M, error: unknown): void;
}

/**
 * Where a lane is: `waiting` (empty, or not yet queued), `ready` (queued to run its head
 * message), `running` (its head message is in flight), `crashed` (until a restart).
 */
type LanePhase = "waiting" | "ready" | "running" | "crashed";

/** One lane: its queue of taken messages, and the attempts of its head message. */
interface Lane<M> {
  readonly key: unknown;
  readonly queue: M[];
  head: number;
  phase: LanePhase;
  attempts: number;
  backingOff: boolean;
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
export class LaneActor<M> implements SupervisedActor {
  #options: LaneActorOptions<M>;
  #mailbox: Mailbox<M>;
  #admission = new Admission();
  #runner: AttemptRunner<M>;
  #lanes = new Map<unknown, Lane<M>>();
  #ready: Lane<M>[] = [];
  #readyHead = 0;
  #freeWorkers: number[];
  #buffered = 0;
  #inFlight = 0;
  #crashedLanes = 0;
  #started = false;
  /** `pumping` while a pump runs; `again` when a synchronous handler finished inside it. */
  #pump: "still" | "pumping" | "again" = "still";

  /**
   * Creates a stopped actor; call {@linkcode LaneActor.start}.
   *
   * @param options Its mailbox, lanes, limits, behaviour and hooks.
   */
  constructor(options: LaneActorOptions<M>) {
    this.#options = options;
    this.#mailbox = options.mailbox;
    this.#runner = new AttemptRunner(options, this.#admission);
    this.#freeWorkers = Array.from(
      { length: options.concurrency },
      (_, i) => options.concurrency - 1 - i,
    );
  }

  /** Where the actor is in its life (`processing` while anything is in flight). */
  get state(): ActorState {
    const phase = this.#admission.phase;
    if (phase === "closed" && this.#inFlight === 0) return "stopped";
    if (phase === "held") return "held";
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
    this.#mailbox.onArrival = () => queueMicrotask(() => this.#pumpAll());
    this.#pumpAll();
  }

  /** Stops starting messages; resolves once none is in flight. Backoff waits are cut short. */
  hold(): Promise<void> {
    this.#admission.hold();
    return this.#admission.whenIdle(this.#inFlight === 0);
  }

  /** Starts messages again after {@linkcode LaneActor.hold}. */
  release(): void {
    if (this.#admission.release()) this.#pumpAll();
  }

  /** Restarts every crashed lane: each tries its failed message again. */
  restart(): void {
    if (this.#crashedLanes === 0) return;
    for (const lane of this.#lanes.values()) {
      if (lane.phase !== "crashed") continue;
      lane.phase = "waiting";
      this.#crashedLanes--;
      this.#enqueue(lane);
    }
    this.#pumpAll();
  }

  /** Stops for good: messages in flight finish, buffered ones are dropped. */
  stop(): Promise<void> {
    this.#admission.close();
    return this.#admission.whenIdle(this.#inFlight === 0).then(() => {
      this.#lanes.clear();
      this.#ready = [];
      this.#readyHead = 0;
      this.#buffered = 0;
    });
  }

  #enqueue(lane: Lane<M>): void {
    if (lane.phase !== "waiting" || lane.head >= lane.queue.length) return;
    lane.phase = "ready";
    this.#ready.push(lane);
  }

  /** Takes what it may from the mailbox, then starts what it may. */
  #pumpAll(): void {
    if (!this.#admission.open || !this.#started) return;
    if (this.#pump !== "still") {
      // A synchronous handler finished inside this very pump: go round once more, or the
      // rest of the mailbox would wait for an arrival that may never come.
      this.#pump = "again";
      return;
    }
    try {
      do {
        this.#pump = "pumping";
        this.#take();
        this.#startReady();
      } while (this.#pumpAgain() && this.#admission.open);
    } finally {
      this.#pump = "still";
    }
  }

  /** True when a pump was asked for while one ran (read through a call: TS narrows fields). */
  #pumpAgain(): boolean {
    return this.#pump === "again";
  }

  #take(): void {
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
        lane = { key, queue: [], head: 0, phase: "waiting", attempts: 0, backingOff: false };
        if (key !== NO_KEY) this.#lanes.set(key, lane);
      }
      lane.queue.push(message);
      this.#enqueue(lane);
    }
  }

  #startReady(): void {
    const { concurrency, limiter } = this.#options;
    while (this.#inFlight < concurrency && this.#readyHead < this.#ready.length) {
      if (limiter && !limiter.tryAcquire()) {
        limiter.whenAvailable(() => this.#pumpAll());
        break;
      }
      const lane = this.#ready[this.#readyHead++];
      if (this.#readyHead === this.#ready.length) {
        this.#ready.length = 0;
        this.#readyHead = 0;
      }
      lane.phase = "running";
      this.#inFlight++;
      const worker = this.#freeWorkers.pop()!;
      const message = lane.queue[lane.head];
      const outcome = this.#runner.run(message, lane, worker);
      if (outcome instanceof Promise) {
        void outcome.then((settled) => this.#finished(lane, worker, message, settled));
      } else {
        this.#finished(lane, worker, message, outcome);
      }
    }
  }

  #finished(lane: Lane<M>, worker: number, message: M, outcome: AttemptOutcome): void {
    const options = this.#options;
    lane.phase = "waiting";
    this.#inFlight--;
    this.#freeWorkers.push(worker);
    options.limiter?.release();
    if (outcome === "done") {
      lane.queue[lane.head++] = undefined as M;
      if (lane.head === lane.queue.length) {
        lane.queue.length = 0;
        lane.head = 0;
        if (lane.key !== NO_KEY) this.#lanes.delete(lane.key);
      }
      this.#buffered--;
      options.processed(message);
    } else if (outcome !== "interrupted") {
      lane.phase = "crashed";
      this.#crashedLanes++;
      options.crashed(message, outcome.error);
    }
    this.#enqueue(lane);
    if (this.#inFlight === 0) this.#admission.idle();
    this.#pumpAll();
  }
}
