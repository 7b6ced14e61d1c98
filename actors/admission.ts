/**
 * Admission: whether an actor may take messages, and who waits for it to be idle.
 *
 * @module
 */

/**
 * Whether an actor takes messages: `open`; `held` (a rebalance, a pause: it finishes what is
 * in hand and waits to be released); `closed` (stopping for good).
 */
export type AdmissionPhase = "open" | "held" | "closed";

/**
 * The part of an actor's life both kinds share: holding, releasing and closing, an abort
 * signal that cuts backoff waits short whenever the actor stops being open, and the promises
 * of those waiting for it to have nothing in hand.
 *
 * @example
 * ```ts
 * import { Admission } from "./admission.ts";
 *
 * const admission = new Admission();
 * let busy = true;
 * admission.hold();
 * const idle = admission.whenIdle(!busy);
 * busy = false;
 * admission.idle();
 * await idle;
 * console.log(admission.phase); // "held"
 * ```
 */
export class Admission {
  #phase: AdmissionPhase = "open";
  #interrupt = new AbortController();
  #idleWaiters: (() => void)[] = [];

  /** Where admission stands. */
  get phase(): AdmissionPhase {
    return this.#phase;
  }

  /** True while the actor may take messages. */
  get open(): boolean {
    return this.#phase === "open";
  }

  /** Aborted once the actor is held or closed after this signal was read: ends backoff waits. */
  get signal(): AbortSignal {
    return this.#interrupt.signal;
  }

  /** Holds an open actor; returns false when it is closed (nothing changes then). */
  hold(): boolean {
    if (this.#phase === "closed") return false;
    this.#phase = "held";
    this.#interruptWaits();
    return true;
  }

  /** Opens a held actor again; returns true when it was held (the actor should wake up). */
  release(): boolean {
    if (this.#phase !== "held") return false;
    this.#phase = "open";
    return true;
  }

  /** Closes the actor for good. */
  close(): void {
    this.#phase = "closed";
    this.#interruptWaits();
  }

  /** Resolves once {@linkcode Admission.idle} is called, or at once when `idleNow`. */
  whenIdle(idleNow: boolean): Promise<void> {
    if (idleNow) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** The actor has nothing in hand: resolves every {@linkcode Admission.whenIdle}. */
  idle(): void {
    if (this.#idleWaiters.length === 0) return;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  #interruptWaits(): void {
    this.#interrupt.abort();
    this.#interrupt = new AbortController();
  }
}
