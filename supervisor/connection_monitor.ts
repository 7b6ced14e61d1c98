/**
 * Whether Kafka answers: the connection state `status()` shows, from the signals the
 * processor gets (failed and acknowledged commits, joins, batches, heartbeats, their silence).
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { classifyKafkaError, describeError } from "../kafka/errors.ts";
import type { ProcessorEvent } from "./events.ts";

const log = getLogger(["troupe", "processor"]);

/** The connection as `processor.status()` shows it. */
export interface ConnectionStatus {
  /** Whether Kafka answers. */
  readonly connected: boolean;
  /** When it last changed, ms since the epoch. */
  readonly since: number;
  /** The error that marked it lost, while lost. */
  readonly lastError: string | null;
}

/**
 * Tracks whether Kafka answers. It is marked lost by a commit that failed on the connection,
 * a consumer crash, or heartbeats falling silent; restored by anything Kafka answered (a join,
 * an acknowledged commit, a batch, a heartbeat). Each change is one `connection-lost` or
 * `connection-restored` event.
 *
 * @example
 * ```ts
 * import { ConnectionMonitor } from "./connection_monitor.ts";
 *
 * const monitor = new ConnectionMonitor((event) => console.log(event.type));
 * monitor.lost(new Error("ECONNREFUSED")); // logs "connection-lost"
 * monitor.restored(); // logs "connection-restored"
 * ```
 */
export class ConnectionMonitor {
  #emit: (event: ProcessorEvent) => void;
  #status: ConnectionStatus = { connected: true, since: Date.now(), lastError: null };
  #watchdog: ReturnType<typeof setInterval> | undefined;

  /**
   * Creates a monitor that starts connected.
   *
   * @param emit Receives `connection-lost` and `connection-restored`.
   */
  constructor(emit: (event: ProcessorEvent) => void) {
    this.#emit = emit;
  }

  /** The connection now. */
  get status(): ConnectionStatus {
    return this.#status;
  }

  /** True while lost: then every sign of life is worth reporting through `restored()`. */
  get watching(): boolean {
    return !this.#status.connected;
  }

  /** Kafka stopped answering. */
  lost(error: unknown): void {
    if (!this.#status.connected) return;
    this.#status = { connected: false, since: Date.now(), lastError: describeError(error) };
    log.warn("Kafka is not answering: {error}", { error: this.#status.lastError });
    this.#emit({ type: "connection-lost", error });
  }

  /** Kafka answered. */
  restored(): void {
    if (this.#status.connected) return;
    const downMs = Date.now() - this.#status.since;
    this.#status = { connected: true, since: Date.now(), lastError: null };
    log.info("Kafka answers again after {downMs} ms", { downMs });
    this.#emit({ type: "connection-restored", downMs });
  }

  /** Reads what an event says about the connection. */
  observe(event: ProcessorEvent): void {
    switch (event.type) {
      case "commit-failed":
        if (classifyKafkaError(event.error) === "connection") this.lost(event.error);
        break;
      case "offsets-committed":
      case "joined":
        this.restored();
        break;
    }
  }

  /**
   * Watches heartbeats: they flow every heartbeat interval whatever handlers do, so their
   * silence is the quickest sign that Kafka stopped answering (commits only happen when work
   * was done).
   *
   * @param silentFor How long since the last acknowledged heartbeat, ms (0: none expected).
   * @param heartbeatInterval The consumer's heartbeat interval, ms.
   */
  watchHeartbeats(silentFor: () => number, heartbeatInterval: number): void {
    const silence = Math.max(3 * heartbeatInterval, 3_000);
    clearInterval(this.#watchdog);
    this.#watchdog = setInterval(() => {
      const silent = silentFor();
      if (silent > silence) this.lost(new Error(`no heartbeat acknowledged for ${silent} ms`));
    }, 1_000);
  }

  /** Stops watching. */
  stop(): void {
    clearInterval(this.#watchdog);
    this.#watchdog = undefined;
  }
}
