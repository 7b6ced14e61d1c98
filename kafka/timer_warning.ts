/**
 * The cause of KafkaJS's `TimeoutNegativeWarning`, repaired.
 *
 * KafkaJS 2.2.4 keeps one request queue per broker connection. After every response its
 * `scheduleCheckPendingRequests` sets a timer for `throttledUntil - Date.now()` ms, and
 * `throttledUntil` is -1 until a broker throttles the client: the delay is minus the current
 * time (`-1796161570037`). Node's timers, which Deno provides to npm packages, warn about the
 * negative delay on stderr and run the timer after 1 ms; the timer checks an empty queue and
 * schedules itself again, so every idle connection also wakes the process about 400 times a
 * second. No KafkaJS option avoids it (kafkajs#1751, #1704).
 *
 * The check only matters while requests wait in the queue (held back by throttling or by
 * `maxInFlightRequests`): KafkaJS schedules it again itself whenever it queues one. So the
 * repaired method leaves an empty queue alone and, for a non-empty one, runs KafkaJS's own
 * code, whose delay is then always positive (the throttle's end, else 10 ms).
 *
 * @module
 */

import RequestQueue from "kafkajs/src/network/requestQueue/index.js";

/** The part of KafkaJS's (untyped, internal) request queue the repair relies on. */
interface RequestQueueInternals {
  pending: unknown[];
  scheduleCheckPendingRequests(this: RequestQueueInternals): void;
}

/** Marks the repaired method, so that repairing twice wraps it once. */
const REPAIRED = Symbol.for("troupe.kafkajs.requestQueue.repaired");

/**
 * Repairs KafkaJS's request queue (see the module documentation) for every KafkaJS client of
 * this process, those already created included. Idempotent; a KafkaJS whose request queue
 * does not look like 2.2.4's is left as it is. It changes no global but that KafkaJS method:
 * warnings of the program's own are printed as before.
 *
 * @example
 * ```ts
 * import { fixKafkaJsTimerWarning } from "./timer_warning.ts";
 * fixKafkaJsTimerWarning(); // before or after creating clients
 * ```
 *
 * @returns true when the queue is repaired (now or before), false when KafkaJS's queue has
 *   no such method.
 */
export function fixKafkaJsTimerWarning(): boolean {
  const prototype = (RequestQueue as { prototype?: Partial<RequestQueueInternals> })
    .prototype;
  const original = prototype?.scheduleCheckPendingRequests;
  if (!prototype || typeof original !== "function") return false;
  if (REPAIRED in original) return true;
  const repaired = function (this: RequestQueueInternals): void {
    // An empty queue has nothing to check: the next request that has to wait schedules it.
    if (Array.isArray(this.pending) && this.pending.length === 0) return;
    original.call(this);
  };
  Object.defineProperty(repaired, REPAIRED, { value: true });
  prototype.scheduleCheckPendingRequests = repaired;
  return true;
}
