/**
 * The processor's listeners and the delivery of its events to them.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { describeError } from "../kafka/errors.ts";
import type { ProcessorEvent, ProcessorEventOf, ProcessorEventType } from "./events.ts";

const log = getLogger(["troupe", "processor"]);

/** A listener of one kind of event. */
export type ProcessorListener<T extends ProcessorEventType> = (event: ProcessorEventOf<T>) => void;

/**
 * Delivers each event to the listeners of its type, then to those of every event (`"*"`). A
 * listener that throws is logged and does not stop the others.
 *
 * @example
 * ```ts
 * import { EventBus } from "./event_bus.ts";
 *
 * const bus = new EventBus();
 * const off = bus.on("rebalancing", () => console.log("rebalancing"));
 * bus.emit({ type: "rebalancing" }); // logs "rebalancing"
 * off();
 * ```
 */
export class EventBus {
  #listeners = new Map<string, Set<(event: ProcessorEvent) => void>>();

  /** Subscribes to one type of event, or to every event with `"*"`; returns the unsubscribe. */
  on<T extends ProcessorEventType | "*">(
    type: T,
    listener: T extends ProcessorEventType ? ProcessorListener<T> : (event: ProcessorEvent) => void,
  ): () => void {
    let set = this.#listeners.get(type);
    if (!set) this.#listeners.set(type, set = new Set());
    const entry = listener as (event: ProcessorEvent) => void;
    set.add(entry);
    return () => void set.delete(entry);
  }

  /** Delivers `event`. */
  emit(event: ProcessorEvent): void {
    this.#deliver(this.#listeners.get(event.type), event);
    this.#deliver(this.#listeners.get("*"), event);
  }

  #deliver(set: Set<(event: ProcessorEvent) => void> | undefined, event: ProcessorEvent): void {
    if (!set) return;
    for (const listener of set) {
      try {
        listener(event);
      } catch (error) {
        log.error("a {type} listener threw: {error}", {
          type: event.type,
          error: describeError(error),
        });
      }
    }
  }
}
