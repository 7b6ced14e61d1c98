/**
 * The contract both kinds of actor fulfil towards their supervisor.
 *
 * @module
 */

/**
 * Where an actor is in its life.
 *
 * - `idle`: waiting for a message.
 * - `processing`: running the behaviour on a message.
 * - `retrying`: waiting out a backoff before trying a message again.
 * - `held`: told not to take messages (a rebalance, a pause); what was in hand finished.
 * - `crashed`: the behaviour failed for good; waiting for the supervisor to restart it.
 * - `stopped`: done for good.
 */
export type ActorState = "idle" | "processing" | "retrying" | "held" | "crashed" | "stopped";

/**
 * What a supervisor can do with an actor, whichever kind: one message at a time
 * ({@linkcode Actor}) or several in lanes ({@linkcode LaneActor}).
 *
 * @example
 * ```ts ignore
 * const actor: SupervisedActor = new Actor({ mailbox, process, processed, crashed });
 * actor.start();
 * await actor.hold(); // a rebalance: nothing in hand any more
 * actor.release();
 * await actor.stop();
 * ```
 */
export interface SupervisedActor {
  /** Where the actor is in its life. */
  readonly state: ActorState;
  /** Messages being processed right now. */
  readonly inFlight: number;
  /** Messages taken out of the mailbox and not done yet (in flight included). */
  readonly buffered: number;
  /** Starts taking messages. Calling it twice has no effect. */
  start(): void;
  /** Stops taking new messages; resolves once none is in hand. Backoff waits are cut short. */
  hold(): Promise<void>;
  /** Takes messages again after `hold`. */
  release(): void;
  /** After a crash: tries the message it crashed on again. */
  restart(): void;
  /** Stops for good: what is in hand finishes, nothing else is taken. */
  stop(): Promise<void>;
}
