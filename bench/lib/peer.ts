/**
 * What every Deno peer of the benchmark shares: its command-line flags, the one-line JSON
 * protocol it speaks to the orchestrator (`bench/run.ts`), and the way it ends.
 *
 * A peer prints JSON lines on stdout: `{"type":"joined"}` when it may be timed from (used by
 * the latency run to start producing), then exactly one `{"type":"result", ...}`. After the
 * result it waits until the orchestrator closes its stdin, so the orchestrator can read the
 * peer's peak RSS (VmHWM) while the process still exists.
 *
 * @module
 */

import { parseArgs } from "node:util";

/** The flags a peer was started with, as strings (the orchestrator passes them all). */
export function flags(names: readonly string[]): Record<string, string> {
  const { values } = parseArgs({
    args: Deno.args,
    options: Object.fromEntries(names.map((name) => [name, { type: "string" as const }])),
    strict: true,
  });
  return values as Record<string, string>;
}

/** A flag as a number; throws naming the flag when it is missing or not a number. */
export function numberFlag(
  values: Record<string, string>,
  name: string,
  fallback?: number,
): number {
  const text = values[name];
  if (text === undefined) {
    if (fallback !== undefined) return fallback;
    throw new Error(`missing --${name}`);
  }
  const value = Number(text);
  if (!Number.isFinite(value)) throw new Error(`--${name} must be a number, got "${text}"`);
  return value;
}

/** A flag that must be given. */
export function stringFlag(values: Record<string, string>, name: string): string {
  const text = values[name];
  if (text === undefined || text === "") throw new Error(`missing --${name}`);
  return text;
}

/** Prints one protocol line. */
export function send(message: { type: string } & Record<string, unknown>): void {
  console.log(JSON.stringify(message));
}

/**
 * Prints the result, waits until the orchestrator has read our peak RSS (it closes our
 * stdin), and exits. Exiting at once also ends whatever the peer left running: a consumer
 * still in its group is simply dropped by the broker after its session timeout, which a
 * fresh group per run makes harmless.
 */
export async function finish(result: Record<string, unknown>, code = 0): Promise<never> {
  send({ type: "result", ...result });
  const buffer = new Uint8Array(256);
  try {
    while ((await Deno.stdin.read(buffer)) !== null) {
      // Nothing to read: EOF is the signal.
    }
  } catch {
    // A closed or missing stdin also means "go".
  }
  Deno.exit(code);
}

/**
 * A KafkaJS `logCreator` writing to stderr: KafkaJS's default logger prints to stdout, where
 * the orchestrator reads the protocol lines.
 */
export function stderrLogCreator(): (entry: { namespace: string; log: object }) => void {
  const encoder = new TextEncoder();
  return ({ namespace, log }) => {
    Deno.stderr.writeSync(encoder.encode(`${namespace} ${JSON.stringify(log)}\n`));
  };
}

/** Resolves after `ms`: the benchmark's simulated I/O. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export { fixKafkaJsTimerWarning } from "../../kafka/timer_warning.ts";

/**
 * Counts, per partition, which offsets a consumer handled, to tell afterwards which
 * committed offsets were never handled (lost) and which were handled twice.
 */
export class HandledOffsets {
  #seen = new Map<number, Set<number>>();
  /** Handler calls whose offset had been handled already. */
  duplicates = 0;

  /** Records that the message at `offset` of `partition` was handled. */
  add(partition: number, offset: number): void {
    let set = this.#seen.get(partition);
    if (!set) this.#seen.set(partition, set = new Set());
    if (set.has(offset)) this.duplicates++;
    else set.add(offset);
  }

  /**
   * Messages below the committed offsets that were never handled: what a restart would
   * never see again. `committed` maps partition to the group's committed offset (the next
   * to read); the backlog starts at offset 0 (a fresh topic).
   */
  lostBelow(committed: ReadonlyMap<number, number>): number {
    let lost = 0;
    for (const [partition, next] of committed) {
      const set = this.#seen.get(partition);
      let handled = 0;
      if (set) { for (const offset of set) if (offset < next) handled++; }
      lost += Math.max(0, next) - handled;
    }
    return lost;
  }
}
