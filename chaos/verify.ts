/**
 * The chaos harness's verdict: reads the workers' logs and the group's committed offsets and
 * says what was lost, duplicated or reordered.
 *
 * @module
 */

import { createAdmin } from "../kafka/admin.ts";

/** What the verifier found. The bar: `lost` 0, `order_violations` 0, `committed_equals_end` true. */
export interface ChaosVerdict {
  produced: number;
  processed_unique: number;
  lost: number;
  duplicates: number;
  max_copies: number;
  order_violations: number;
  kills: number;
  broker_restarts: number;
  /** kill -9s of a cluster's busiest leader. */
  leader_kills: number;
  /** Rolling restarts of every broker of a cluster. */
  rolling_restarts: number;
  committed_equals_end: boolean;
  /** Workers that ended by themselves (a processor that failed) before the harness stopped them. */
  worker_failures: number;
}

/** One processed message as a worker logged it. */
interface Entry {
  time: number;
  partition: number;
  offset: number;
}

/** Parses the log lines (`<time> <partition> <offset> <key> <pid>`); a torn last line is skipped. */
export function parseLog(text: string): Entry[] {
  const entries: Entry[] = [];
  for (const line of text.split("\n")) {
    const [time, partition, offset, , pid] = line.split(" ");
    if (pid === undefined) continue;
    entries.push({ time: Number(time), partition: Number(partition), offset: Number(offset) });
  }
  return entries;
}

/**
 * Counts losses, duplicates and order violations. An order violation is a message whose
 * first processing (anywhere) came after the first processing of a later offset of its
 * partition: the order of first processing must follow the offsets.
 */
export function judge(
  entries: Entry[],
  endOffsets: ReadonlyMap<number, number>,
): Pick<
  ChaosVerdict,
  "produced" | "processed_unique" | "lost" | "duplicates" | "max_copies" | "order_violations"
> {
  const copies = new Map<string, number>();
  const first = new Map<string, Entry>();
  for (const entry of entries) {
    const key = `${entry.partition}:${entry.offset}`;
    copies.set(key, (copies.get(key) ?? 0) + 1);
    const seen = first.get(key);
    if (!seen || entry.time < seen.time) first.set(key, entry);
  }
  let produced = 0;
  let processed = 0;
  for (const [partition, end] of endOffsets) {
    produced += end;
    for (let offset = 0; offset < end; offset++) {
      if (copies.has(`${partition}:${offset}`)) processed++;
    }
  }
  let violations = 0;
  const byPartition = new Map<number, Entry[]>();
  for (const entry of first.values()) {
    let list = byPartition.get(entry.partition);
    if (!list) byPartition.set(entry.partition, list = []);
    list.push(entry);
  }
  for (const list of byPartition.values()) {
    list.sort((a, b) => a.time - b.time || a.offset - b.offset);
    let highest = -1;
    for (const entry of list) {
      if (entry.offset < highest) violations++;
      highest = Math.max(highest, entry.offset);
    }
  }
  return {
    produced,
    processed_unique: processed,
    lost: produced - processed,
    duplicates: entries.length - first.size,
    max_copies: Math.max(0, ...copies.values()),
    order_violations: violations,
  };
}

/** Reads the logs and the group's offsets and returns the verdict. */
export async function verify(options: {
  brokers: string[];
  topic: string;
  groupId: string;
  logFiles: string[];
  kills: number;
  brokerRestarts: number;
  leaderKills: number;
  rollingRestarts: number;
  workerFailures: number;
}): Promise<ChaosVerdict> {
  const entries: Entry[] = [];
  for (const file of options.logFiles) {
    try {
      entries.push(...parseLog(await Deno.readTextFile(file)));
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  }
  await using admin = createAdmin({ brokers: options.brokers, clientId: "chaos-verifier" });
  const ends = new Map((await admin.offsets(options.topic)).map((row) => [row.partition, row.end]));
  const committed = new Map(
    (await admin.committedOffsets(options.groupId, [options.topic])).map((
      row,
    ) => [row.partition, row.offset]),
  );
  const verdict = judge(entries, ends);
  return {
    ...verdict,
    kills: options.kills,
    broker_restarts: options.brokerRestarts,
    leader_kills: options.leaderKills,
    rolling_restarts: options.rollingRestarts,
    committed_equals_end: [...ends].every(([partition, end]) => committed.get(partition) === end),
    worker_failures: options.workerFailures,
  };
}
