/**
 * The process series every Prometheus user expects beside troupe's own: CPU seconds,
 * resident memory, open file descriptors, heap, event-loop delay, under the names of
 * prom-client's default collectors (the names Node.js dashboards query).
 *
 * Written here once instead of taken from prom-client's `collectDefaultMetrics`, which runs
 * under Deno 2.9 but reports wrong figures there (checked with prom-client 15.1.3):
 * - it reads resident memory and open file descriptors from `/proc/self`, which Deno lets a
 *   program read only with `--allow-all`; under narrower permissions (those the README gives
 *   `troupe run`, a compiled binary's) it swallows the refusal and reports 0 bytes and 0
 *   descriptors;
 * - its event-loop delay comes from `node:perf_hooks`' `monitorEventLoopDelay`, which in
 *   Deno 2.9 did not see the loop blocked for 150 ms (its maximum stayed at 9 µs).
 *
 * Here `Deno.memoryUsage()` gives resident memory and heap without any permission,
 * `process.cpuUsage()` the CPU time, a timer measures the loop's delay, and the descriptor
 * series appear only where `/proc/self` can be read (left out, not reported as 0).
 *
 * @module
 */

import process from "node:process";
import type { MetricFamily } from "./prometheus.ts";

/**
 * Every process series, with its type and help: the README's table comes from here.
 *
 * @example
 * ```ts
 * import { PROCESS_METRICS } from "./process_metrics.ts";
 * console.log(PROCESS_METRICS.rss[0]); // "process_resident_memory_bytes"
 * ```
 */
export const PROCESS_METRICS = {
  cpuUser: ["process_cpu_user_seconds_total", "counter", "User CPU time spent, in seconds."],
  cpuSystem: ["process_cpu_system_seconds_total", "counter", "System CPU time spent, in seconds."],
  cpu: ["process_cpu_seconds_total", "counter", "User and system CPU time spent, in seconds."],
  startTime: [
    "process_start_time_seconds",
    "gauge",
    "Start time of the process since the Unix epoch, in seconds.",
  ],
  rss: ["process_resident_memory_bytes", "gauge", "Resident memory size, in bytes."],
  openFds: [
    "process_open_fds",
    "gauge",
    "Open file descriptors (only where /proc/self is readable: Deno's --allow-all).",
  ],
  maxFds: [
    "process_max_fds",
    "gauge",
    "Maximum open file descriptors (only where /proc/self is readable: Deno's --allow-all).",
  ],
  heapTotal: ["nodejs_heap_size_total_bytes", "gauge", "V8 heap size, in bytes."],
  heapUsed: ["nodejs_heap_size_used_bytes", "gauge", "V8 heap used, in bytes."],
  external: [
    "nodejs_external_memory_bytes",
    "gauge",
    "Memory of objects bound to V8 but outside its heap, in bytes.",
  ],
  lag: [
    "nodejs_eventloop_lag_seconds",
    "gauge",
    "Event-loop delay of the latest sample, in seconds.",
  ],
  lagMin: [
    "nodejs_eventloop_lag_min_seconds",
    "gauge",
    "Least event-loop delay since the last scrape.",
  ],
  lagMax: [
    "nodejs_eventloop_lag_max_seconds",
    "gauge",
    "Greatest event-loop delay since the last scrape.",
  ],
  lagMean: [
    "nodejs_eventloop_lag_mean_seconds",
    "gauge",
    "Mean event-loop delay since the last scrape.",
  ],
  lagP50: [
    "nodejs_eventloop_lag_p50_seconds",
    "gauge",
    "Median event-loop delay since the last scrape.",
  ],
  lagP90: [
    "nodejs_eventloop_lag_p90_seconds",
    "gauge",
    "90th percentile of the event-loop delay since the last scrape.",
  ],
  lagP99: [
    "nodejs_eventloop_lag_p99_seconds",
    "gauge",
    "99th percentile of the event-loop delay since the last scrape.",
  ],
} as const satisfies Record<string, readonly [string, "counter" | "gauge", string]>;

/** Options of {@linkcode createProcessMetrics}. */
export interface ProcessMetricsOptions {
  /** How often the event loop's delay is sampled, in ms. Default: 10 (prom-client's). */
  readonly sampleEveryMs?: number;
}

/** The process series, rendered on demand. */
export interface ProcessMetrics {
  /** The series as they are now; the event-loop figures cover the time since the last call. */
  families(): MetricFamily[];
  /** Stops sampling the event loop. */
  close(): void;
}

/** Event-loop samples kept between two scrapes; older ones are overwritten. */
const SAMPLES = 4096;

/** The process's start, in seconds since the epoch. */
const START_SECONDS = (performance.timeOrigin) / 1000;

/**
 * Starts sampling the event loop's delay and answers the process series at each scrape.
 *
 * @example
 * ```ts
 * import { createProcessMetrics } from "./process_metrics.ts";
 * import { renderExposition } from "./prometheus.ts";
 *
 * const metrics = createProcessMetrics();
 * console.log(renderExposition(metrics.families()).includes("process_resident_memory_bytes"));
 * metrics.close();
 * ```
 */
export function createProcessMetrics(options: ProcessMetricsOptions = {}): ProcessMetrics {
  const every = options.sampleEveryMs ?? 10;
  const samples = new Float64Array(SAMPLES);
  let count = 0;
  let latest = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  // A timer asked for `every` ms runs late by as long as the loop was busy: that lateness is
  // the delay a message or a heartbeat would have waited.
  const schedule = () => {
    const due = performance.now() + every;
    const handle = setTimeout(() => {
      latest = Math.max(0, performance.now() - due);
      samples[count++ % SAMPLES] = latest;
      schedule();
    }, every);
    Deno.unrefTimer(handle);
    timer = handle;
  };
  schedule();
  const descriptors = new Descriptors();

  return {
    families() {
      const kept = samples.slice(0, Math.min(count, SAMPLES)).sort();
      count = 0;
      const cpu = process.cpuUsage();
      const memory = Deno.memoryUsage();
      const families: MetricFamily[] = [
        family("cpuUser", cpu.user / 1e6),
        family("cpuSystem", cpu.system / 1e6),
        family("cpu", (cpu.user + cpu.system) / 1e6),
        family("startTime", Math.round(START_SECONDS)),
        family("rss", memory.rss),
        family("openFds", descriptors.open()),
        family("maxFds", descriptors.max()),
        family("heapTotal", memory.heapTotal),
        family("heapUsed", memory.heapUsed),
        family("external", memory.external),
        family("lag", latest / 1000),
        family("lagMin", kept.length ? kept[0] / 1000 : undefined),
        family("lagMax", kept.length ? kept[kept.length - 1] / 1000 : undefined),
        family(
          "lagMean",
          kept.length
            ? kept.reduce((sum, value) => sum + value, 0) / kept.length / 1000
            : undefined,
        ),
        family("lagP50", percentile(kept, 0.5)),
        family("lagP90", percentile(kept, 0.9)),
        family("lagP99", percentile(kept, 0.99)),
      ];
      return families;
    },
    close() {
      clearTimeout(timer);
    },
  };
}

/** A family of one sample, or none when the value is unknown. */
function family(key: keyof typeof PROCESS_METRICS, value: number | undefined): MetricFamily {
  const [name, type, help] = PROCESS_METRICS[key];
  return { name, type, help, samples: value === undefined ? [] : [{ value }] };
}

/** The `q` quantile of sorted delays in ms, in seconds (nearest rank). */
function percentile(sorted: Float64Array, q: number): number | undefined {
  if (sorted.length === 0) return undefined;
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] / 1000;
}

/** Open and maximum file descriptors, from /proc/self when Deno lets the program read it. */
class Descriptors {
  /**
   * False once a read was refused (Deno wants --allow-all for /proc/self) or /proc is
   * missing: not asked again. Without read permission it is never tried, since Deno would
   * prompt for it on a terminal.
   */
  #readable = Deno.build.os === "linux" &&
    Deno.permissions.querySync({ name: "read", path: "/proc/self" }).state === "granted";

  open(): number | undefined {
    if (!this.#readable) return undefined;
    try {
      let count = 0;
      for (const _ of Deno.readDirSync("/proc/self/fd")) count++;
      return count - 1; // the descriptor the listing itself held
    } catch {
      this.#readable = false;
      return undefined;
    }
  }

  max(): number | undefined {
    if (!this.#readable) return undefined;
    try {
      const limits = Deno.readTextFileSync("/proc/self/limits");
      const soft = /^Max open files\s+(\d+|unlimited)/m.exec(limits)?.[1];
      return soft === undefined || soft === "unlimited" ? undefined : Number(soft);
    } catch {
      this.#readable = false;
      return undefined;
    }
  }
}
