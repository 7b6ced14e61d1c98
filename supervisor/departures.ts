/**
 * Departures: the actors of revoked partitions that are still finishing their message in
 * hand, so that a partition assigned again waits for them.
 *
 * @module
 */

/**
 * Remembers, per partition, the stops of its revoked actors until they end. A partition
 * revoked again before an earlier actor of it finished waits for both: no message is ever
 * processed by two live actors of one partition.
 *
 * @example
 * ```ts
 * import { Departures } from "./departures.ts";
 *
 * const departures = new Departures();
 * const stopped = Promise.withResolvers<void>();
 * departures.leaving("orders/0", stopped.promise);
 * const gone = departures.gone("orders/0"); // the next actor of orders/0 waits for this
 * stopped.resolve();
 * await gone;
 * console.log(departures.gone("orders/0")); // undefined: nothing left to wait for
 * ```
 */
export class Departures {
  #leaving = new Map<string, Promise<void>>();

  /** Records that an actor of partition `key` is stopping; `stopped` settles when it ended. */
  leaving(key: string, stopped: Promise<void>): void {
    const earlier = this.#leaving.get(key);
    const all: Promise<void> = (earlier ? Promise.all([earlier, stopped]) : stopped).then(() => {
      if (this.#leaving.get(key) === all) this.#leaving.delete(key);
    });
    this.#leaving.set(key, all);
  }

  /** Settles once every departing actor of `key` ended; `undefined` when none is departing. */
  gone(key: string): Promise<void> | undefined {
    return this.#leaving.get(key);
  }
}
