/**
 * What the partition table does when an actor crashes: ask the partition's restart supervision
 * for a verdict, then restart the actor after its backoff (in place, or from where the
 * committer says its work rewinds to) or escalate.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { describeError } from "../kafka/errors.ts";
import type { OffsetCommitter } from "./committer.ts";
import { EscalationError, type ProcessorEvent } from "./events.ts";
import type { Partition } from "./partition.ts";

const log = getLogger(["troupe", "supervisor"]);

/** What a {@linkcode CrashResponse} works with. */
export interface CrashResponseDeps<K, V> {
  /** The restart intensity's period, ms (for the escalation's message). */
  readonly withinMs: number;
  /** Says where a crashed partition's work rewinds to. */
  readonly committer: OffsetCommitter<K, V>;
  /** Reports `actor-crashed` and `actor-restarted`. */
  readonly emit: (event: ProcessorEvent) => void;
  /** Ends the processor when a partition exceeded its restart intensity. */
  readonly escalate: (error: EscalationError) => void;
  /** Moves a partition's fetching (and its actor) to an offset. */
  readonly seek: (topic: string, partition: number, offset: number) => void;
}

/**
 * Restarts or escalates crashed actors.
 *
 * @example
 * ```ts ignore
 * const crashes = new CrashResponse({ withinMs: 60_000, committer, emit, escalate, seek });
 * crashes.crashed(partition, epoch, 42, new Error("boom")); // restarts after its backoff
 * ```
 */
export class CrashResponse<K, V> {
  readonly #deps: CrashResponseDeps<K, V>;

  /** Creates the response; it acts only when told of a crash. */
  constructor(deps: CrashResponseDeps<K, V>) {
    this.#deps = deps;
  }

  /** The actor of `partition` (of `epoch`) crashed on the message at `offset`. */
  crashed(partition: Partition<K, V>, epoch: number, offset: number, error: unknown): void {
    if (!partition.owns(epoch)) return;
    const { topic, partition: number } = partition;
    partition.lastError = error;
    const verdict = partition.supervision.crashed(() =>
      void this.#restart(partition, epoch, offset)
    );
    const restartInMs = verdict.action === "restart" ? verdict.delayMs : null;
    const { restartsInWindow } = verdict;
    this.#deps.emit({
      type: "actor-crashed",
      topic,
      partition: number,
      offset,
      error,
      restartsInWindow,
      restartInMs,
    });
    if (verdict.action === "escalate") {
      log.error(
        "actor of {topic}[{partition}] exceeded its restart intensity at offset {offset}: {error}",
        { topic, partition: number, offset, error: describeError(error) },
      );
      const withinMs = this.#deps.withinMs;
      const where = { topic, partition: number, offset };
      this.#deps.escalate(new EscalationError(where, restartsInWindow, withinMs, error));
      return;
    }
    log.warn(
      "actor of {topic}[{partition}] crashed at offset {offset}; restarting in {delay} ms: {error}",
      { topic, partition: number, offset, delay: restartInMs, error: describeError(error) },
    );
    partition.phase = "restarting";
  }

  /** Restarts a crashed actor: in place, or (its work thrown away) from where it rewinds to. */
  async #restart(partition: Partition<K, V>, epoch: number, offset: number): Promise<void> {
    if (!partition.owns(epoch)) return;
    partition.counters.restarts++;
    const { topic, partition: number, counters } = partition;
    try {
      const rewind = await this.#deps.committer.afterCrash(partition);
      if (!partition.owns(epoch)) return;
      if (rewind === null) {
        partition.phase = "running";
        partition.actor.restart();
      } else {
        this.#deps.seek(topic, number, rewind);
      }
      const restarts = counters.restarts;
      this.#deps.emit({
        type: "actor-restarted",
        topic,
        partition: number,
        offset: rewind ?? offset,
        restarts,
      });
    } catch (error) {
      log.error("{topic}[{partition}]: restart after a crash failed: {error}", {
        topic,
        partition: number,
        error: describeError(error),
      });
    }
  }
}
