/**
 * KafkaJS-style instrumentation events for the in-memory clients.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { KafkaJSNonRetriableError } from "./kafkajs_errors.ts";

const log = getLogger(["troupe", "memory-kafka"]);

/** What a listener receives, shaped like KafkaJS's `InstrumentationEvent`. */
export interface InstrumentationEvent<T> {
  /** A number unique within the process. */
  readonly id: number;
  /** The event's name, e.g. `consumer.group_join`. */
  readonly type: string;
  /** When it was emitted, ms since the epoch. */
  readonly timestamp: number;
  /** What happened. */
  readonly payload: T;
}

let nextId = 0;

/**
 * Calls listeners synchronously, in the order they subscribed, as KafkaJS does: code that
 * relies on a `GROUP_JOIN` listener having run before the consumer goes on can rely on it
 * here too. A listener's error (thrown or rejected) is logged, never passed to the emitter.
 *
 * @example
 * ```ts
 * import { Emitter } from "./events.ts";
 * const emitter = new Emitter(["consumer.group_join"]);
 * const off = emitter.on("consumer.group_join", (event) => console.log(event.payload));
 * emitter.emit("consumer.group_join", { memberId: "m-1" });
 * off();
 * ```
 */
export class Emitter {
  #names: ReadonlySet<string>;
  #listeners = new Map<string, Set<(event: InstrumentationEvent<unknown>) => unknown>>();

  /**
   * Creates an emitter for a fixed set of event names.
   *
   * @param names The names `on` accepts.
   */
  constructor(names: Iterable<string>) {
    this.#names = new Set(names);
  }

  /**
   * Subscribes to one event; returns the function that unsubscribes.
   *
   * @throws {KafkaJSNonRetriableError} for a name the client does not have, as KafkaJS does.
   */
  on(name: string, listener: (event: InstrumentationEvent<unknown>) => unknown): () => void {
    if (!this.#names.has(name)) {
      throw new KafkaJSNonRetriableError(
        `Event name should be one of ${[...this.#names].join(", ")}`,
      );
    }
    let set = this.#listeners.get(name);
    if (!set) this.#listeners.set(name, set = new Set());
    const entry = (event: InstrumentationEvent<unknown>) => listener(event);
    set.add(entry);
    return () => void set.delete(entry);
  }

  /** Calls every listener of `name` now. */
  emit(name: string, payload: unknown): void {
    const set = this.#listeners.get(name);
    if (!set || set.size === 0) return;
    const event: InstrumentationEvent<unknown> = {
      id: nextId++,
      type: name,
      timestamp: Date.now(),
      payload,
    };
    for (const listener of [...set]) {
      try {
        Promise.resolve(listener(event)).catch((error) => failed(name, error));
      } catch (error) {
        failed(name, error);
      }
    }
  }
}

function failed(name: string, error: unknown): void {
  log.error("a {name} listener failed: {error}", { name, error: String(error) });
}

/** The consumer event names, as KafkaJS's `consumer.events` has them. */
export const CONSUMER_EVENTS = {
  HEARTBEAT: "consumer.heartbeat",
  COMMIT_OFFSETS: "consumer.commit_offsets",
  GROUP_JOIN: "consumer.group_join",
  FETCH_START: "consumer.fetch_start",
  FETCH: "consumer.fetch",
  START_BATCH_PROCESS: "consumer.start_batch_process",
  END_BATCH_PROCESS: "consumer.end_batch_process",
  CONNECT: "consumer.connect",
  DISCONNECT: "consumer.disconnect",
  STOP: "consumer.stop",
  CRASH: "consumer.crash",
  REBALANCING: "consumer.rebalancing",
  RECEIVED_UNSUBSCRIBED_TOPICS: "consumer.received_unsubscribed_topics",
  REQUEST: "consumer.network.request",
  REQUEST_TIMEOUT: "consumer.network.request_timeout",
  REQUEST_QUEUE_SIZE: "consumer.network.request_queue_size",
} as const;
