/**
 * The benchmark's outputs: the `bench/results.json` shape, the markdown table printed at the
 * end of a run, and the SVG bar chart the README shows.
 *
 * @module
 */

/** `bench/results.json`: msgs/s unless named otherwise; `null` where a row is not built yet. */
export interface Results {
  kafka_version: string;
  deno_version: string;
  cpus: number;
  quick: boolean;
  noop: {
    /** Kafka's Java consumer, a plain poll loop: the limit on this machine. */
    kafka_java: number | null;
    kafkajs_eachbatch: number | null;
    troupe_partition: number | null;
    /** `@platformatic/kafka`'s consumer stream. */
    platformatic?: number | null;
    overhead_ratio: number | null;
    /** troupe with its observability server (dashboard sampler) on, no page open. */
    troupe_dashboard_no_page?: number | null;
    /** The same with one dashboard page open (one event stream read). */
    troupe_dashboard_one_page?: number | null;
    /** troupe, partition mode, with tracing on (OTEL_DENO=true, every span exported). */
    troupe_partition_traced: number | null;
    /** troupe_partition_traced / troupe_partition. */
    traced_ratio: number | null;
  };
  io_bound: {
    delay_ms: number;
    kafkajs_concurrent: number | null;
    troupe_partition: number | null;
    troupe_key: number | null;
    parallel_consumer_key: number | null;
    python_threadpool: number | null;
    python_threadpool_lost: number | null;
    troupe_lost: number | null;
  };
  memory: { rss_mb_200k: number | null; rss_mb_1m: number | null };
  latency: { rate: number; p50_ms: number | null; p99_ms: number | null };
  producer: {
    kafka_java: number | null;
    kafkajs_sendbatch: number | null;
    troupe: number | null;
    /** `@platformatic/kafka`'s idempotent producer. */
    platformatic?: number | null;
    /** troupe / kafkajs_sendbatch. */
    troupe_ratio?: number | null;
  };
  /** A 3-node cluster (replication factor 3, min.insync.replicas 2); full runs only. */
  cluster3?: {
    noop_kafkajs: number | null;
    noop_troupe: number | null;
    producer_kafkajs: number | null;
    producer_troupe: number | null;
  };
  /** Each measured row's lowest and highest figure over the repetitions. */
  spread?: Record<string, [number, number]>;
  /** Each process kind's median peak RSS (MB) and CPU ms per 1,000 messages, start-up included. */
  resources?: Record<string, { peak_rss_mb: number | null; cpu_ms_per_1000: number | null }>;
}

/** One target of the issue, checked against the figures. */
export interface Target {
  /** What it says, e.g. "overhead_ratio >= 0.90". */
  text: string;
  /** True met, false missed, null when a figure it needs is missing. */
  met: boolean | null;
}

const ge = (a: number | null, b: number | null, factor = 1): boolean | null =>
  a === null || b === null ? null : a >= factor * b;
const le = (a: number | null, b: number | null, factor = 1): boolean | null =>
  a === null || b === null ? null : a <= factor * b;

/** A row's median peak RSS, MB, or null. */
function rss(r: Results, row: string): number | null {
  return r.resources?.[row]?.peak_rss_mb ?? null;
}

/** The issue's targets, evaluated. */
export function targets(r: Results): Target[] {
  const io = r.io_bound;
  return [
    {
      text: "producer.troupe >= 1.0 x kafkajs_sendbatch",
      met: ge(r.producer.troupe, r.producer.kafkajs_sendbatch),
    },
    { text: "noop.overhead_ratio >= 0.95", met: ge(r.noop.overhead_ratio, 0.95) },
    {
      text: "no-op peak RSS: troupe <= 1.15 x raw KafkaJS",
      met: le(rss(r, "noop.troupe_partition"), rss(r, "noop.kafkajs_eachbatch"), 1.15),
    },
    { text: "memory.rss_mb_1m <= 160", met: le(r.memory.rss_mb_1m, 160) },
    {
      text: "memory.rss_mb_1m <= 1.2 x rss_mb_200k (flat)",
      met: le(r.memory.rss_mb_1m, r.memory.rss_mb_200k, 1.2),
    },
    {
      text: "io_bound.troupe_key >= 2 x parallel_consumer_key",
      met: ge(io.troupe_key, io.parallel_consumer_key, 2),
    },
    { text: "latency.p99_ms <= 50", met: le(r.latency.p99_ms, 50) },
    {
      text: "io_bound.troupe_lost = 0",
      met: io.troupe_lost === null ? null : io.troupe_lost === 0,
    },
  ];
}

function figure(value: number | null, digits = 0): string {
  if (value === null) return "null";
  return value.toLocaleString("en-US", {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

/** The markdown table printed at the end of a run. */
export function markdown(r: Results, machine: string, reps: number): string {
  const io = r.io_bound;
  const rows: [string, string, string, string?][] = [
    [
      "noop",
      "Kafka's Java consumer, poll loop (msgs/s)",
      figure(r.noop.kafka_java),
      "noop.kafka_java",
    ],
    [
      "noop",
      "raw KafkaJS eachBatch (msgs/s)",
      figure(r.noop.kafkajs_eachbatch),
      "noop.kafkajs_eachbatch",
    ],
    [
      "noop",
      "troupe, partition mode (msgs/s)",
      figure(r.noop.troupe_partition),
      "noop.troupe_partition",
    ],
    [
      "noop",
      "@platformatic/kafka consumer stream (msgs/s)",
      figure(r.noop.platformatic ?? null),
      "noop.platformatic",
    ],
    ["noop", "overhead_ratio (troupe / KafkaJS)", figure(r.noop.overhead_ratio, 2)],
    [
      "noop",
      "troupe with the dashboard server, no page open (msgs/s)",
      figure(r.noop.troupe_dashboard_no_page ?? null),
    ],
    [
      "noop",
      "troupe with the dashboard server, one page open (msgs/s)",
      figure(r.noop.troupe_dashboard_one_page ?? null),
    ],
    [
      "noop",
      "troupe, partition mode, tracing on (OTEL_DENO=true) (msgs/s)",
      figure(r.noop.troupe_partition_traced),
    ],
    ["noop", "traced_ratio (tracing on / off)", figure(r.noop.traced_ratio, 2)],
    [
      "io_bound",
      `raw KafkaJS eachMessage, 12 partitions concurrently (msgs/s)`,
      figure(io.kafkajs_concurrent),
      "io.kafkajs_concurrent",
    ],
    [
      "io_bound",
      "troupe, partition mode (msgs/s)",
      figure(io.troupe_partition),
      "io.troupe_partition",
    ],
    [
      "io_bound",
      "troupe, key mode, concurrency 64 per partition (msgs/s)",
      figure(io.troupe_key),
      "io.troupe_key",
    ],
    [
      "io_bound",
      "Confluent Parallel Consumer, KEY, 768 concurrent (msgs/s)",
      figure(io.parallel_consumer_key),
      "io.parallel_consumer_key",
    ],
    [
      "io_bound",
      "Python tutorial thread pool, 5 workers (processed msgs/s)",
      figure(io.python_threadpool),
    ],
    ["io_bound", "Python tutorial thread pool: messages lost", figure(io.python_threadpool_lost)],
    ["io_bound", "troupe: messages lost", figure(io.troupe_lost)],
    [
      "memory",
      "troupe peak RSS, 200,000-message backlog (MB)",
      figure(r.memory.rss_mb_200k, 1),
      "memory.rss_mb_200k",
    ],
    [
      "memory",
      "troupe peak RSS, 1,000,000-message backlog (MB)",
      figure(r.memory.rss_mb_1m, 1),
      "memory.rss_mb_1m",
    ],
    [
      "latency",
      `troupe end-to-end p50 at ${figure(r.latency.rate)} msgs/s (ms)`,
      figure(r.latency.p50_ms, 1),
      "latency.p50_ms",
    ],
    [
      "latency",
      `troupe end-to-end p99 at ${figure(r.latency.rate)} msgs/s (ms)`,
      figure(r.latency.p99_ms, 1),
      "latency.p99_ms",
    ],
    [
      "producer",
      "Kafka Java ProducerPerformance (msgs/s)",
      figure(r.producer.kafka_java),
      "producer.kafka_java",
    ],
    [
      "producer",
      "raw KafkaJS sendBatch (msgs/s)",
      figure(r.producer.kafkajs_sendbatch),
      "producer.kafkajs_sendbatch",
    ],
    [
      "producer",
      "troupe createProducer, 50 tasks (msgs/s)",
      figure(r.producer.troupe),
      "producer.troupe",
    ],
    [
      "producer",
      "@platformatic/kafka Producer (msgs/s)",
      figure(r.producer.platformatic ?? null),
      "producer.platformatic",
    ],
    ["producer", "troupe / raw KafkaJS", figure(r.producer.troupe_ratio ?? null, 2)],
    [
      "cluster3",
      "3 nodes: raw KafkaJS eachBatch (msgs/s)",
      figure(r.cluster3?.noop_kafkajs ?? null),
      "cluster3.noop_kafkajs",
    ],
    [
      "cluster3",
      "3 nodes: troupe no-op (msgs/s)",
      figure(r.cluster3?.noop_troupe ?? null),
      "cluster3.noop_troupe",
    ],
    [
      "cluster3",
      "3 nodes: raw KafkaJS sendBatch (msgs/s)",
      figure(r.cluster3?.producer_kafkajs ?? null),
      "cluster3.producer_kafkajs",
    ],
    [
      "cluster3",
      "3 nodes: troupe createProducer (msgs/s)",
      figure(r.cluster3?.producer_troupe ?? null),
      "cluster3.producer_troupe",
    ],
  ];
  const out = [
    `Machine: ${machine}; Kafka ${r.kafka_version}, Deno ${r.deno_version}, ` +
    `${r.quick ? "quick run" : "full run"} (${
      reps === 1 ? "1 repetition" : `median of ${reps}`
    }); ` +
    `I/O-bound handlers wait ${r.io_bound.delay_ms} ms per message.`,
    "",
    "| section | measurement | median | spread (min - max) |",
    "| --- | --- | ---: | ---: |",
    ...rows.map(([section, what, value, row]) => {
      const range = row === undefined ? undefined : r.spread?.[row];
      const spread = range ? `${figure(range[0])} - ${figure(range[1])}` : "";
      return `| ${section} | ${what} | ${value} | ${spread} |`;
    }),
    "",
    "| target | met |",
    "| --- | --- |",
    ...targets(r).map((t) =>
      `| ${t.text} | ${t.met === null ? "n/a (a figure is null)" : t.met ? "yes" : "**no**"} |`
    ),
  ];
  return out.join("\n");
}

interface Bar {
  label: string;
  value: number | null;
  troupe: boolean;
  note?: string;
  /** What a null value means for this row. Default: not measured in this run. */
  missing?: string;
}

interface Panel {
  title: string;
  unit: string;
  bars: Bar[];
  digits?: number;
}

const escape = (text: string) =>
  text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");

/**
 * The SVG chart: one panel per section, horizontal bars on each panel's own linear scale
 * (the sections' figures differ by orders of magnitude), troupe's bars highlighted, and
 * rows not built yet named as such rather than drawn as zero.
 */
export function svgChart(r: Results, machine: string, reps: number): string {
  const io = r.io_bound;
  const panels: Panel[] = [
    {
      title: "No-op handler: consumer throughput",
      unit: "msgs/s",
      bars: [
        { label: "Kafka's Java consumer (poll loop)", value: r.noop.kafka_java, troupe: false },
        { label: "raw KafkaJS eachBatch", value: r.noop.kafkajs_eachbatch, troupe: false },
        {
          label: "@platformatic/kafka (stream)",
          value: r.noop.platformatic ?? null,
          troupe: false,
        },
        { label: "troupe (partition mode)", value: r.noop.troupe_partition, troupe: true },
      ],
    },
    {
      title: `I/O-bound handler (${io.delay_ms} ms per message): throughput`,
      unit: "msgs/s",
      bars: [
        {
          label: "raw KafkaJS eachMessage (12 concurrent)",
          value: io.kafkajs_concurrent,
          troupe: false,
        },
        { label: "troupe (partition mode)", value: io.troupe_partition, troupe: true },
        {
          label: "troupe (key mode, 64 per partition)",
          value: io.troupe_key,
          troupe: true,
          missing: "key mode not built yet (null)",
        },
        { label: "Parallel Consumer (KEY, 768)", value: io.parallel_consumer_key, troupe: false },
        {
          label: "Python thread pool (5 workers)",
          value: io.python_threadpool,
          troupe: false,
          note: io.python_threadpool_lost === null
            ? undefined
            : `${figure(io.python_threadpool_lost)} lost`,
        },
      ],
    },
    {
      title: "Producer throughput (100-byte records, acks all)",
      unit: "msgs/s",
      bars: [
        { label: "Kafka Java ProducerPerformance", value: r.producer.kafka_java, troupe: false },
        { label: "raw KafkaJS sendBatch", value: r.producer.kafkajs_sendbatch, troupe: false },
        {
          label: "@platformatic/kafka Producer",
          value: r.producer.platformatic ?? null,
          troupe: false,
        },
        { label: "troupe createProducer (50 tasks)", value: r.producer.troupe, troupe: true },
      ],
    },
    {
      title: "3-node cluster (replication 3, acks all): throughput",
      unit: "msgs/s",
      bars: [
        {
          label: "raw KafkaJS eachBatch (no-op)",
          value: r.cluster3?.noop_kafkajs ?? null,
          troupe: false,
          missing: "full runs only (null)",
        },
        {
          label: "troupe no-op",
          value: r.cluster3?.noop_troupe ?? null,
          troupe: true,
          missing: "full runs only (null)",
        },
        {
          label: "raw KafkaJS sendBatch",
          value: r.cluster3?.producer_kafkajs ?? null,
          troupe: false,
          missing: "full runs only (null)",
        },
        {
          label: "troupe createProducer",
          value: r.cluster3?.producer_troupe ?? null,
          troupe: true,
          missing: "full runs only (null)",
        },
      ],
    },
    {
      title: "troupe peak RSS while draining a backlog (slow handler)",
      unit: "MB",
      digits: 1,
      bars: [
        { label: "200,000-message backlog", value: r.memory.rss_mb_200k, troupe: true },
        { label: "1,000,000-message backlog", value: r.memory.rss_mb_1m, troupe: true },
      ],
    },
    {
      title: `troupe end-to-end latency at ${figure(r.latency.rate)} msgs/s`,
      unit: "ms",
      digits: 1,
      bars: [
        { label: "p50", value: r.latency.p50_ms, troupe: true },
        { label: "p99", value: r.latency.p99_ms, troupe: true },
      ],
    },
  ];

  const width = 860;
  const labelWidth = 300;
  const barArea = 400;
  const barHeight = 18;
  const gap = 6;
  const parts: string[] = [];
  let y = 28;
  parts.push(
    `<text x="16" y="${y}" class="title">troupe benchmarks</text>`,
  );
  y += 20;
  parts.push(
    `<text x="16" y="${y}" class="sub">${
      escape(
        `${machine}; Kafka ${r.kafka_version}, Deno ${r.deno_version}; ` +
          (reps === 1
            ? `${r.quick ? "quick run, " : ""}1 repetition`
            : `median of ${reps} repetitions`),
      )
    }</text>`,
  );
  y += 16;
  for (const panel of panels) {
    y += 22;
    parts.push(`<text x="16" y="${y}" class="panel">${escape(panel.title)}</text>`);
    y += 8;
    const max = Math.max(1, ...panel.bars.map((bar) => bar.value ?? 0));
    for (const bar of panel.bars) {
      const top = y;
      parts.push(
        `<text x="${labelWidth - 8}" y="${top + 13}" class="label" text-anchor="end">${
          escape(bar.label)
        }</text>`,
      );
      if (bar.value === null) {
        parts.push(
          `<text x="${labelWidth}" y="${top + 13}" class="missing">${
            escape(bar.missing ?? "not measured in this run (null)")
          }</text>`,
        );
      } else {
        const w = Math.max(1, (bar.value / max) * barArea);
        parts.push(
          `<rect x="${labelWidth}" y="${top}" width="${
            w.toFixed(1)
          }" height="${barHeight}" class="${bar.troupe ? "troupe" : "peer"}"/>`,
        );
        const text = `${figure(bar.value, panel.digits ?? 0)} ${panel.unit}` +
          (bar.note ? ` (${bar.note})` : "");
        parts.push(
          `<text x="${labelWidth + w + 6}" y="${top + 13}" class="value">${escape(text)}</text>`,
        );
      }
      y += barHeight + gap;
    }
  }
  y += 12;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${y}" viewBox="0 0 ${width} ${y}" font-family="Helvetica, Arial, sans-serif">
<style>
.title { font-size: 18px; font-weight: bold; fill: #222; }
.sub { font-size: 12px; fill: #555; }
.panel { font-size: 14px; font-weight: bold; fill: #222; }
.label { font-size: 12px; fill: #333; }
.value { font-size: 12px; fill: #333; }
.missing { font-size: 12px; fill: #999; font-style: italic; }
.troupe { fill: #d9480f; }
.peer { fill: #868e96; }
</style>
<rect width="100%" height="100%" fill="#fff"/>
${parts.join("\n")}
</svg>
`;
}
