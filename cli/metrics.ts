/**
 * A processor's Prometheus metrics, derived at scrape time from `processor.status()` and a
 * few lifecycle events, so the per-message path stays untouched.
 *
 * @module
 */

import {
  Histogram,
  type HistogramSnapshot,
  type PartitionStatus,
  type Processor,
  type ProcessorState,
  type ProcessorStatus,
} from "../mod.ts";
import {
  type HistogramSeries,
  type MetricFamily,
  renderExposition,
  type Sample,
} from "./prometheus.ts";

/** What the metrics read from a processor. */
export type MetricsSource = Pick<Processor, "status" | "on">;

/** A processor's metrics, rendered on demand. */
export interface ProcessorMetrics {
  /** The metrics in the Prometheus text format. */
  render(): string;
  /** Stops listening to the processor's events. */
  close(): void;
}

/** Every metric troupe exposes, with its type and help: the README's table comes from here. */
export const METRICS = {
  processorState: ["troupe_processor_state", "gauge", "1 for the state the processor is in."],
  groupJoins: ["troupe_group_joins_total", "counter", "Times the consumer (re)joined its group."],
  rebalances: ["troupe_rebalances_total", "counter", "Rebalances the group signalled."],
  consumerCrashes: ["troupe_consumer_crashes_total", "counter", "KafkaJS consumer crashes."],
  connected: [
    "troupe_kafka_connected",
    "gauge",
    "1 while Kafka answers; 0 from a failed commit or consumer crash until it recovers.",
  ],
  connectionLosses: [
    "troupe_kafka_connection_losses_total",
    "counter",
    "Times Kafka stopped answering.",
  ],
  assigned: ["troupe_assigned_partitions", "gauge", "Partitions assigned to this member."],
  processed: [
    "troupe_messages_processed_total",
    "counter",
    "Messages whose handler returned, per topic-partition.",
  ],
  failed: [
    "troupe_messages_failed_total",
    "counter",
    "Failed handler attempts (each failed retry counts), per topic-partition.",
  ],
  retried: ["troupe_messages_retried_total", "counter", "Retries scheduled, per topic-partition."],
  deadLettered: [
    "troupe_messages_dead_lettered_total",
    "counter",
    "Messages handed to the dead-letter topic, per topic-partition.",
  ],
  restarts: ["troupe_actor_restarts_total", "counter", "Actor restarts, per topic-partition."],
  mailbox: [
    "troupe_mailbox_messages",
    "gauge",
    "Messages waiting in the mailbox, the one in hand included.",
  ],
  inFlight: ["troupe_in_flight_messages", "gauge", "Messages being processed right now."],
  committed: [
    "troupe_committed_offset",
    "gauge",
    "Offset last committed for the partition (the next to read).",
  ],
  highWatermark: [
    "troupe_high_watermark_offset",
    "gauge",
    "The partition's end offset as of the last fetch.",
  ],
  lag: [
    "troupe_lag_messages",
    "gauge",
    "Messages between the processed position and the high watermark.",
  ],
  paused: ["troupe_fetch_paused", "gauge", "1 when the partition's fetching is paused."],
  processingTime: [
    "troupe_processing_seconds",
    "histogram",
    "Handler attempt durations (failed attempts included).",
  ],
  commitLatency: [
    "troupe_commit_seconds",
    "histogram",
    "Duration of successful offset commits.",
  ],
  commits: ["troupe_commits_total", "counter", "Successful offset commits."],
  commitFailures: [
    "troupe_commit_failures_total",
    "counter",
    'Refused offset commits; kind="rebalance" when the group was rebalancing.',
  ],
} as const satisfies Record<string, readonly [string, "counter" | "gauge" | "histogram", string]>;

const STATES: readonly ProcessorState[] = [
  "idle",
  "starting",
  "running",
  "stopping",
  "stopped",
  "failed",
];

/** Commit latency buckets, ms: 1 ms to 10 s. */
const COMMIT_BOUNDS_MS = [1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000];

type Counts = {
  -readonly [F in "processed" | "failed" | "retried" | "deadLettered" | "restarts"]: number;
};
const COUNT_FIELDS = ["processed", "failed", "retried", "deadLettered", "restarts"] as const;

/** A partition's counters across its assignments to this member. */
interface Totals {
  epoch: number;
  /** Sums of the counters of earlier assignments (status() counts restart at each one). */
  base: Counts;
  /** The counters of the current (or last) assignment, as last seen. */
  last: Counts;
  topic: string;
  partition: number;
}

const zero = (): Counts => ({ processed: 0, failed: 0, retried: 0, deadLettered: 0, restarts: 0 });

/**
 * Collects a processor's metrics. Counters per topic-partition keep growing across
 * reassignments of the partition to this member, and stay exposed after it is revoked.
 *
 * @example
 * ```ts ignore
 * const metrics = createProcessorMetrics(processor);
 * Deno.serve(() => new Response(metrics.render()));
 * ```
 */
export function createProcessorMetrics(source: MetricsSource): ProcessorMetrics {
  const totals = new Map<string, Totals>();
  const commitLatency = new Histogram(COMMIT_BOUNDS_MS);
  let commits = 0;
  let rebalances = 0;
  let consumerCrashes = 0;
  let connectionLosses = 0;
  const commitFailures = { rebalance: 0, error: 0 };

  /** Folds a status snapshot into the per-partition totals. */
  const sample = (status: ProcessorStatus) => {
    for (const row of status.partitions) {
      const key = `${row.topic}\u0000${row.partition}`;
      let entry = totals.get(key);
      if (!entry) {
        entry = {
          epoch: row.epoch,
          base: zero(),
          last: zero(),
          topic: row.topic,
          partition: row.partition,
        };
        totals.set(key, entry);
      }
      if (entry.epoch !== row.epoch) {
        for (const field of COUNT_FIELDS) entry.base[field] += entry.last[field];
        entry.epoch = row.epoch;
      }
      for (const field of COUNT_FIELDS) entry.last[field] = row[field];
    }
  };

  const unsubscribe = [
    // Counters restart with a new assignment: look once more before partitions move.
    source.on("rebalancing", () => {
      rebalances++;
      sample(source.status());
    }),
    source.on("offsets-committed", (event) => {
      commits++;
      commitLatency.observe(event.durationMs);
    }),
    source.on("commit-failed", (event) => {
      commitFailures[event.rebalance ? "rebalance" : "error"]++;
    }),
    source.on("consumer-crashed", () => void consumerCrashes++),
    source.on("connection-lost", () => void connectionLosses++),
  ];

  const family = (
    key: Exclude<keyof typeof METRICS, "processingTime" | "commitLatency">,
    samples: Sample[],
  ): MetricFamily => {
    const [name, type, help] = METRICS[key];
    return { name, type, help, samples };
  };
  const histogram = (
    key: "processingTime" | "commitLatency",
    series: HistogramSeries[],
  ): MetricFamily => {
    const [name, , help] = METRICS[key];
    return { name, type: "histogram", help, series };
  };

  return {
    render() {
      const status = source.status();
      sample(status);
      const byPartition = (read: (row: PartitionStatus) => number | null): Sample[] =>
        status.partitions.flatMap((row) => {
          const value = read(row);
          return value === null ? [] : [{ labels: labelsOf(row), value }];
        });
      const counter = (field: keyof Counts): Sample[] =>
        [...totals.values()].map((entry) => ({
          labels: labelsOf(entry),
          value: entry.base[field] + entry.last[field],
        }));
      const families: MetricFamily[] = [
        family(
          "processorState",
          STATES.map((state) => ({ labels: { state }, value: state === status.state ? 1 : 0 })),
        ),
        family("groupJoins", [{ value: status.joins }]),
        family("rebalances", [{ value: rebalances }]),
        family("consumerCrashes", [{ value: consumerCrashes }]),
        family("connected", [{ value: status.connection.connected ? 1 : 0 }]),
        family("connectionLosses", [{ value: connectionLosses }]),
        family("assigned", [{ value: status.partitions.length }]),
        family("processed", counter("processed")),
        family("failed", counter("failed")),
        family("retried", counter("retried")),
        family("deadLettered", counter("deadLettered")),
        family("restarts", counter("restarts")),
        family("mailbox", byPartition((row) => row.mailboxSize)),
        family("inFlight", byPartition((row) => row.inFlight)),
        family("committed", byPartition((row) => row.committedOffset)),
        family("highWatermark", byPartition((row) => row.highWatermark)),
        family("lag", byPartition((row) => row.lag)),
        family("paused", byPartition((row) => (row.paused ? 1 : 0))),
        histogram(
          "processingTime",
          status.processingTime ? [inSeconds(status.processingTime)] : [],
        ),
        histogram("commitLatency", [inSeconds(commitLatency.snapshot())]),
        family("commits", [{ value: commits }]),
        family("commitFailures", [
          { labels: { kind: "rebalance" }, value: commitFailures.rebalance },
          { labels: { kind: "error" }, value: commitFailures.error },
        ]),
      ];
      return renderExposition(families);
    },
    close() {
      for (const off of unsubscribe) off();
    },
  };
}

function labelsOf(row: { topic: string; partition: number }): Record<string, string> {
  return { topic: row.topic, partition: String(row.partition) };
}

/** troupe measures in ms; Prometheus expects seconds. */
function inSeconds(snapshot: HistogramSnapshot): HistogramSeries {
  const seconds = (ms: number) => Number((ms / 1000).toPrecision(12));
  return {
    bounds: snapshot.bounds.map(seconds),
    cumulative: snapshot.cumulative,
    count: snapshot.count,
    sum: seconds(snapshot.sum),
  };
}
