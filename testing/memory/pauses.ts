/**
 * Which partitions a consumer has paused, as KafkaJS's subscription state keeps it.
 *
 * @module
 */

/**
 * KafkaJS's subscription state: which partitions are paused, per topic or one by one.
 *
 * @example
 * ```ts
 * import { PauseState } from "./pauses.ts";
 * const pauses = new PauseState();
 * pauses.pause([{ topic: "orders" }]);
 * pauses.resume([{ topic: "orders", partitions: [1] }]);
 * console.log(pauses.isPaused("orders", 0), pauses.isPaused("orders", 1)); // true false
 * ```
 */
export class PauseState {
  #topics = new Map<string, { all: boolean; paused: Set<number>; resumed: Set<number> }>();

  pause(topics: readonly { topic: string; partitions?: number[] }[]): void {
    for (const { topic, partitions } of topics) {
      const state = this.#state(topic);
      if (partitions === undefined) {
        state.paused.clear();
        state.resumed.clear();
        state.all = true;
      } else {
        for (const partition of partitions) {
          state.paused.add(partition);
          state.resumed.delete(partition);
        }
        state.all = false;
      }
    }
  }

  resume(topics: readonly { topic: string; partitions?: number[] }[]): void {
    for (const { topic, partitions } of topics) {
      const state = this.#state(topic);
      if (partitions === undefined) {
        state.paused.clear();
        state.resumed.clear();
        state.all = false;
      } else {
        for (const partition of partitions) {
          state.paused.delete(partition);
          if (state.all) state.resumed.add(partition);
        }
      }
    }
  }

  isPaused(topic: string, partition: number): boolean {
    const state = this.#topics.get(topic);
    if (!state) return false;
    return (state.all && !state.resumed.has(partition)) || state.paused.has(partition);
  }

  #state(topic: string) {
    let state = this.#topics.get(topic);
    if (!state) {
      this.#topics.set(topic, state = { all: false, paused: new Set(), resumed: new Set() });
    }
    return state;
  }
}
