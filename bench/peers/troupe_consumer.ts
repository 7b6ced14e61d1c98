/**
 * The troupe peer: a processor as `createProcessor` users write it.
 *
 * - `--mode noop`: a handler that does nothing (it counts).
 * - `--mode io`: a handler awaiting a `--delay-ms` timer per message; `--ordering partition`
 *   or `--ordering key` with `--concurrency` per partition (reports
 *   `unsupported` until the processor accepts those options).
 * - `--mode memory`: the `io` handler with the default mailbox capacity, run for
 *   `--window-ms`; the orchestrator reads the peak RSS.
 * - `--mode latency`: a no-op handler recording `Date.now() - message.timestamp` at entry.
 *   Records stamped within `--warmup-ms` of the earliest stamp are the load's warm-up
 *   (connections, metadata, producer id, JIT): counted, but left out of the percentiles.
 *
 * - `--dashboard none|page` (with `--mode noop`): the observability server runs beside the
 *   processor (its dashboard sampler included), with no page open (`none`) or one (`page`):
 *   an event stream read to the end in this process, as a browser tab would hold it.
 *
 * Reads `--topic` from the beginning with the fresh `--group` until `--messages` were
 * handled (or the window ends). Timed in the steady state: from the first message handled (the
 * group joined, a first batch in) to the last, counting the messages after the first, so
 * connecting, joining and the first fetch are not counted (`joinMs`, `firstBatchMs` say what
 * they took). The memory mode counts from the processor's `joined` event.
 * In `io` mode the processor is then stopped gracefully and the group's committed offsets are
 * checked against what the handler saw: `lost` counts committed messages never handled.
 *
 * @module
 */

import { startObservabilityServer } from "../../cli/observability_server.ts";
import { createAdmin, createProcessor, type Processor } from "../../mod.ts";
import { resolveProcessorOptions } from "../../supervisor/resolve_options.ts";
import {
  delay,
  finish,
  fixKafkaJsTimerWarning,
  flags,
  HandledOffsets,
  numberFlag,
  send,
  stringFlag,
} from "../lib/peer.ts";

fixKafkaJsTimerWarning();
const args = flags([
  "brokers",
  "topic",
  "group",
  "messages",
  "mode",
  "delay-ms",
  "ordering",
  "concurrency",
  "window-ms",
  "warmup-ms",
  "timeout-ms",
  "dashboard",
]);
const brokers = stringFlag(args, "brokers");
const topic = stringFlag(args, "topic");
const groupId = stringFlag(args, "group");
const messages = numberFlag(args, "messages", Number.MAX_SAFE_INTEGER);
const mode = stringFlag(args, "mode");
const delayMs = numberFlag(args, "delay-ms", 5);
const ordering = args.ordering ?? "partition";
const concurrency = numberFlag(args, "concurrency", 64);
const windowMs = numberFlag(args, "window-ms", 0);
const warmupMs = numberFlag(args, "warmup-ms", 0);
const timeoutMs = numberFlag(args, "timeout-ms", 300_000);
if (!["noop", "io", "memory", "latency"].includes(mode)) throw new Error(`unknown --mode ${mode}`);
const dashboard = args.dashboard;
if (dashboard !== undefined && !["none", "page"].includes(dashboard)) {
  throw new Error(`unknown --dashboard ${dashboard}`);
}

/** The options that select key mode: per-key order, `concurrency` messages in flight per partition. */
const keyModeOptions = { ordering: "key", concurrency } as const;

/**
 * True when the processor really runs in key mode with these options (asked of the resolved
 * options, so that an older troupe without key mode reports the row as not built).
 */
function supportsKeyMode(): boolean {
  const resolved = resolveProcessorOptions(
    {
      brokers,
      groupId,
      topics: topic,
      handler: () => {},
      ...keyModeOptions,
    } as Parameters<typeof resolveProcessorOptions>[0],
  ) as unknown as Record<string, unknown>;
  return resolved.ordering === "key";
}

if (ordering === "key" && !supportsKeyMode()) {
  await finish({ unsupported: 'the processor has no key mode (ordering: "key") yet' });
}

const startedAt = performance.now();
let joinedAt: number | undefined;
let finishedAt: number | undefined;
let handled = 0;
const done = Promise.withResolvers<void>();
const offsets = new HandledOffsets();
/** Record timestamp and latency of every message, in pairs. */
const latencies: number[] = [];

/** The steady state starts with the first message handled: the group is joined, a batch is in. */
let firstAt: number | undefined;
const reached = () => {
  if (firstAt === undefined) firstAt = performance.now();
  if (++handled >= messages && finishedAt === undefined) {
    finishedAt = performance.now();
    done.resolve();
  }
};

const handlers = {
  noop: () => reached(),
  io: async (message: { partition: number; offset: number }) => {
    await delay(delayMs);
    offsets.add(message.partition, message.offset);
    reached();
  },
  memory: async () => {
    await delay(delayMs);
    handled++;
  },
  latency: (message: { timestamp: number }) => {
    const timestamp = message.timestamp;
    latencies.push(timestamp, Date.now() - timestamp);
    reached();
  },
};

const processor: Processor = createProcessor({
  brokers,
  groupId,
  clientId: "bench-troupe",
  topics: topic,
  fromBeginning: true,
  handler: handlers[mode as keyof typeof handlers],
  ...(ordering === "key" ? keyModeOptions : {}),
});
processor.on("joined", () => {
  if (joinedAt !== undefined) return;
  joinedAt = performance.now();
  send({ type: "joined" });
});
processor.done.catch((error) => {
  console.error(`processor failed: ${error}`);
  Deno.exit(1);
});
const server = dashboard === undefined
  ? undefined
  : await startObservabilityServer({ processor, port: 0, hostname: "127.0.0.1" });
const page = new AbortController();
if (server && dashboard === "page") {
  const events = await fetch(`http://127.0.0.1:${server.port}/events`, { signal: page.signal });
  (async () => {
    for await (const _ of events.body!) { /* a page reads every event */ }
  })().catch(() => {});
}
await processor.start();

const limit = mode === "memory" ? windowMs : timeoutMs;
const timer = setTimeout(() => done.resolve(), limit);
await done.promise;
clearTimeout(timer);
const end = finishedAt ?? performance.now();
const from = joinedAt ?? startedAt;
// The rate counts the messages after the first one, over the time after it (steady state).
const steadyFrom = mode === "memory" ? from : firstAt ?? from;
const result: Record<string, unknown> = {
  handled: mode === "memory" ? handled : Math.min(handled, messages) - (firstAt ? 1 : 0),
  elapsedMs: end - steadyFrom,
  joinMs: from - startedAt,
  firstBatchMs: steadyFrom - from,
  timedOut: mode !== "memory" && finishedAt === undefined,
};

if (mode === "latency") {
  let first = Infinity;
  for (let i = 0; i < latencies.length; i += 2) first = Math.min(first, latencies[i]);
  const all: number[] = [];
  const measured: number[] = [];
  for (let i = 0; i < latencies.length; i += 2) {
    all.push(latencies[i + 1]);
    if (latencies[i] >= first + warmupMs) measured.push(latencies[i + 1]);
  }
  const percentile = (values: number[], q: number) => {
    values.sort((a, b) => a - b);
    return values[Math.min(values.length - 1, Math.floor(q * values.length))];
  };
  Object.assign(result, {
    measured: measured.length,
    p50Ms: percentile(measured, 0.5),
    p99Ms: percentile(measured, 0.99),
    maxMs: measured.at(-1),
    withWarmupP99Ms: percentile(all, 0.99),
  });
}

if (mode === "io") {
  // Lost = committed but never handled. A graceful stop commits what was processed; then the
  // group's committed offsets are compared with the offsets the handler saw.
  await processor.stop();
  const admin = createAdmin({ brokers, clientId: "bench-troupe" });
  try {
    const committed = await admin.committedOffsets(groupId, [topic]);
    result.lost = offsets.lostBelow(
      new Map(committed.map((row) => [row.partition, row.offset ?? 0])),
    );
    result.duplicates = offsets.duplicates;
  } finally {
    await admin.close();
  }
}

page.abort();
await server?.close();
await finish(result, result.timedOut ? 3 : 0);
