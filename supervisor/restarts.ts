/**
 * Restart supervision of one child: restart after a backoff, or escalate once the restart
 * intensity is exceeded. Supervision only: like an Erlang/OTP supervisor, it knows nothing of
 * what its child does, only that it crashed and how to restart it.
 *
 * @module
 */

import { type Backoff, backoffDelay } from "../actors/backoff.ts";
import { RestartIntensity } from "../actors/restart_intensity.ts";

/** The restart policy, as data: OTP's intensity and period, and the backoff between restarts. */
export interface RestartPolicy {
  /** Restarts tolerated within `withinMs`; one more escalates. */
  readonly maxRestarts: number;
  /** The intensity's period, ms. */
  readonly withinMs: number;
  /** Delay between a crash and its restart, growing with consecutive crashes. */
  readonly backoff: Backoff;
}

/** What supervision decided about a crash. */
export type CrashVerdict =
  | {
    readonly action: "restart";
    /** Delay before the restart, ms. */
    readonly delayMs: number;
    /** Restarts within the period, this one excluded. */
    readonly restartsInWindow: number;
  }
  | { readonly action: "escalate"; readonly restartsInWindow: number };

/**
 * Supervises one child. A crash is either restarted after a backoff (which grows with the
 * crashes since the child last made progress) or escalated, when it would exceed the restart
 * intensity. At most one restart is pending: a child that crashes again meanwhile (another of
 * its lanes) is restarted by it too.
 *
 * @example
 * ```ts
 * import { resolveBackoff } from "../actors/backoff.ts";
 * import { RestartSupervision } from "./restarts.ts";
 *
 * const supervision = new RestartSupervision({
 *   maxRestarts: 1,
 *   withinMs: 60_000,
 *   backoff: resolveBackoff({ initialMs: 1, jitter: 0 }),
 * });
 * const restarted = Promise.withResolvers<void>();
 * console.log(supervision.crashed(() => restarted.resolve()).action); // "restart"
 * await restarted.promise;
 * console.log(supervision.crashed(() => {}).action); // "escalate"
 * ```
 */
export class RestartSupervision {
  #backoff: Backoff;
  #intensity: RestartIntensity;
  /** Crashes since the child last made progress: drives the backoff. */
  #consecutiveCrashes = 0;
  #pending: ReturnType<typeof setTimeout> | undefined;

  /**
   * Creates the supervision of one child.
   *
   * @param policy The restart intensity and the backoff.
   */
  constructor(policy: RestartPolicy) {
    this.#backoff = policy.backoff;
    this.#intensity = new RestartIntensity(policy);
  }

  /** The child crashed: schedules `restart` after a backoff, or says to escalate. */
  crashed(restart: () => void): CrashVerdict {
    const restartsInWindow = this.#intensity.count();
    if (!this.#intensity.allow()) return { action: "escalate", restartsInWindow };
    const delayMs = backoffDelay(++this.#consecutiveCrashes, this.#backoff);
    this.#pending ??= setTimeout(() => {
      this.#pending = undefined;
      restart();
    }, delayMs);
    return { action: "restart", delayMs, restartsInWindow };
  }

  /** The child made progress: the next crash starts the backoff over. */
  progressed(): void {
    this.#consecutiveCrashes = 0;
  }

  /** Cancels a pending restart (the child is going away, or was replaced). */
  cancel(): void {
    clearTimeout(this.#pending);
    this.#pending = undefined;
  }
}
