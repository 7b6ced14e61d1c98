/**
 * `deno task bench`: troupe against raw KafkaJS, the best peers and Kafka's own limit, on the
 * same broker, in one run.
 *
 * ```sh
 * deno task bench            # full run: median of 3 repetitions, under 15 minutes on 2 cores
 * deno task bench --quick    # 1 repetition, smaller sizes, under 3 minutes
 * ```
 *
 * Starts a local Kafka broker (or uses `KAFKA_BROKERS`), preloads the backlogs with Kafka's
 * own Java ProducerPerformance tool, then measures each consumer, one after another, as its
 * own OS process reading the same backlog from the beginning with a fresh consumer group.
 * Writes `bench/results.json` and `bench/results.svg` and prints a markdown table.
 *
 * Development flags: `--only noop,io,memory,latency,producer` runs some sections (the others
 * stay null), `--rows noop.troupe_partition,...` runs only the rows named (within them),
 * `--reps N` overrides the repetitions, `--profile` makes troupe's processes write V8 CPU
 * profiles to `bench/.build/profiles`.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { type Admin, createAdmin } from "../mod.ts";
import {
  DEFAULT_KAFKA_VERSION,
  ensureKafkaJars,
  type LocalKafkaCluster,
  startLocalKafka,
  startLocalKafkaCluster,
} from "../testing/mod.ts";
import { killRunning, type ProcessRun, runProcess } from "./lib/process.ts";
import { fixKafkaJsTimerWarning } from "./lib/peer.ts";
import { markdown, type Results, svgChart, targets } from "./lib/report.ts";

const BENCH = new URL(".", import.meta.url).pathname.replace(/\/$/, "");
const BUILD = `${BENCH}/.build`;
const LOGS = `${BUILD}/logs`;

/** How much each measurement reads or runs. Written down in the README's Performance section. */
interface Sizes {
  reps: number;
  /** Messages of the main backlog; the 1,000,000-message memory run reads it too. */
  mainBacklog: number;
  /** Messages of the small backlog (the 200,000-message memory run). */
  smallBacklog: number;
  /** Messages each no-op consumer reads. */
  noopMessages: number;
  /** Messages the I/O-bound consumers with one message in flight per partition read. */
  ioSequentialMessages: number;
  /** Messages the I/O-bound consumers with many messages in flight read. */
  ioConcurrentMessages: number;
  /** How long the memory runs drain their backlog before the peak RSS is read, ms. */
  memoryWindowMs: number;
  /** How long the latency run produces, ms. */
  latencyDurationMs: number;
  /** Records each producer sends. */
  producerMessages: number;
}

const FULL: Sizes = {
  reps: 3,
  mainBacklog: 1_000_000,
  smallBacklog: 200_000,
  noopMessages: 1_000_000,
  ioSequentialMessages: 24_000,
  ioConcurrentMessages: 200_000,
  memoryWindowMs: 10_000,
  latencyDurationMs: 30_000,
  producerMessages: 500_000,
};

const QUICK: Sizes = {
  reps: 1,
  mainBacklog: 1_000_000,
  smallBacklog: 200_000,
  noopMessages: 500_000,
  ioSequentialMessages: 6_000,
  ioConcurrentMessages: 50_000,
  memoryWindowMs: 5_000,
  latencyDurationMs: 15_000,
  producerMessages: 200_000,
};

const PARTITIONS = 12;
const KEYS = 1_000;
const RECORD_SIZE = 100;
const DELAY_MS = 5;
/** Messages in flight per partition in troupe's key mode. */
const KEY_CONCURRENCY = 64;
const LATENCY_RATE = 5_000;
/**
 * The latency run's load starts this long before its measured window: the first second of a
 * fresh producer pays for connections, topic metadata, the producer id and JIT compilation
 * (its acknowledgements then take 60-80 ms), which is start-up, not steady state.
 */
const LATENCY_WARMUP_MS = 2_000;
const SECTIONS = ["noop", "io", "memory", "latency", "producer", "cluster"] as const;
type Section = typeof SECTIONS[number];

/** A peer that ran but did not deliver a figure. */
class PeerFailure extends Error {}

/** Everything a run needs to start programs against the broker. */
interface Context {
  brokers: string;
  kafkaLib: string;
  javaClasses: string;
  javaLib: string;
  stamp: string;
  profile: boolean;
  python: { ok: true } | { ok: false; why: string };
  admin: Admin;
  topics: string[];
  /** Where traced peers export their spans (an OTLP/HTTP receiver that drops them). */
  otlpSink: string;
}

/** One measured program's run, kept for `bench/.build/runs.json`. */
interface RunRecord {
  row: string;
  rep: number;
  code: number;
  peakRssMb: number | undefined;
  /** CPU time of the whole process (start-up included), ms. */
  cpuMs?: number;
  /** Messages it handled, when known: CPU per message is a figure the machine's load moves less. */
  messages?: number;
  result: Record<string, unknown> | undefined;
  error?: string;
}

const runs: RunRecord[] = [];
const failures: string[] = [];
/** The rows `--rows` selects; all when empty. */
const selectedRows = new Set<string>();

function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

const round = (value: number | null, digits = 0): number | null =>
  value === null ? null : Math.round(value * 10 ** digits) / 10 ** digits;

/** Collects one figure per repetition for each row; reports their medians. */
class Figures {
  #values = new Map<string, number[]>();

  add(row: string, value: number): void {
    let list = this.#values.get(row);
    if (!list) this.#values.set(row, list = []);
    list.push(value);
  }

  median(row: string): number | null {
    return median(this.#values.get(row) ?? []);
  }

  max(row: string): number | null {
    const list = this.#values.get(row) ?? [];
    return list.length ? Math.max(...list) : null;
  }

  /** Every row's lowest and highest figure over the repetitions, rounded. */
  spread(): Record<string, [number, number]> {
    const out: Record<string, [number, number]> = {};
    for (const [row, list] of this.#values) {
      out[row] = [round(Math.min(...list), 1)!, round(Math.max(...list), 1)!];
    }
    return out;
  }
}

const figures = new Figures();

function log(text: string): void {
  console.error(`bench: ${text}`);
}

function unique(name: string, ctx: Context): string {
  return `troupe-bench-${ctx.stamp}-${name}`;
}

/** Runs `body`; a failure is logged and recorded, and the row keeps its other repetitions. */
async function attempt(row: string, rep: number, body: () => Promise<void>): Promise<void> {
  if (selectedRows.size > 0 && !selectedRows.has(row)) return;
  const started = performance.now();
  try {
    await body();
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    failures.push(`${row} (repetition ${rep}): ${message}`);
    runs.push({ row, rep, code: -1, peakRssMb: undefined, result: undefined, error: message });
    log(`${row} #${rep} FAILED: ${message}`);
    return;
  }
  log(`${row} #${rep} took ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

/** Runs a program, records it, and throws {@linkcode PeerFailure} if it gave no result. */
async function measured(
  row: string,
  rep: number,
  program: string,
  args: string[],
  timeoutMs: number,
  options: {
    onMessage?: (message: { type: string }) => void;
    messages?: number;
    env?: Record<string, string>;
  } = {},
): Promise<ProcessRun> {
  const run = await runProcess(program, args, {
    timeoutMs,
    onMessage: options.onMessage,
    logFile: `${LOGS}/${row}.log`,
    env: options.env,
  });
  // The Python peer handles few of the messages it reads; its CPU is spent on all it read.
  const handled = Number(run.result?.seen ?? run.result?.handled);
  runs.push({
    row,
    rep,
    code: run.code,
    peakRssMb: run.peakRssMb,
    cpuMs: run.cpuMs,
    messages: handled > 0 ? handled : options.messages,
    result: run.result,
  });
  const problem = run.killed
    ? `killed after ${timeoutMs / 1000} s`
    : run.result?.timedOut
    ? "timed out before reading its messages"
    : run.code !== 0
    ? `exited with code ${run.code}`
    : undefined;
  if (problem) {
    throw new PeerFailure(
      `${problem}; stderr (full log: ${LOGS}/${row}.log):\n${run.stderrTail}`,
    );
  }
  return run;
}

function denoPeer(ctx: Context, file: string, args: Record<string, string | number>): [
  string,
  string[],
] {
  const flags = ["run", "--allow-net", "--allow-env", "--allow-read"];
  if (ctx.profile && file.startsWith("troupe")) {
    flags.push("--cpu-prof", `--cpu-prof-dir=${BUILD}/profiles`);
  }
  return [
    Deno.execPath(),
    [
      ...flags,
      `${BENCH}/peers/${file}`,
      ...Object.entries(args).flatMap(([name, value]) => [`--${name}`, String(value)]),
    ],
  ];
}

/** Messages per second over the consuming phase a peer reported. */
function rate(run: ProcessRun): number {
  const result = run.result!;
  const handled = Number(result.handled);
  const elapsedMs = Number(result.elapsedMs);
  if (!(handled > 0 && elapsedMs > 0)) {
    throw new PeerFailure(`no messages handled: ${JSON.stringify(result)}`);
  }
  return handled / (elapsedMs / 1000);
}

// --- setup -----------------------------------------------------------------------------------

/** Builds the Java programs with Maven unless the build in bench/.build matches the sources. */
async function buildJava(): Promise<{ classes: string; lib: string }> {
  const project = `${BENCH}/java`;
  const out = `${BUILD}/java`;
  const sources = [`${project}/pom.xml`];
  for await (const entry of Deno.readDir(`${project}/src/main/java/dev/troupe/bench`)) {
    if (entry.name.endsWith(".java")) {
      sources.push(`${project}/src/main/java/dev/troupe/bench/${entry.name}`);
    }
  }
  sources.sort();
  const text = (await Promise.all(sources.map((file) => Deno.readTextFile(file)))).join("\0");
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  const stamp = [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
  const stampFile = `${out}/.sources-sha256`;
  const built = await Deno.readTextFile(stampFile).catch(() => "");
  if (built !== stamp) {
    log("building the Java programs (Parallel Consumer peer, keying interceptor) with Maven");
    const started = performance.now();
    await Deno.remove(out, { recursive: true }).catch(() => {});
    const output = await new Deno.Command("mvn", {
      args: [
        "-q",
        "-B",
        "-f",
        `${project}/pom.xml`,
        "compile",
        "dependency:copy-dependencies",
        `-DoutputDirectory=${out}/lib`,
        "-DincludeScope=runtime",
      ],
      stdout: "piped",
      stderr: "piped",
    }).output().catch((error) => {
      throw new Error(`Maven (mvn) is needed to build bench/java: ${error.message}`);
    });
    if (!output.success) {
      const decoder = new TextDecoder();
      throw new Error(
        `Maven could not build bench/java:\n${decoder.decode(output.stdout)}${
          decoder.decode(output.stderr)
        }`,
      );
    }
    await Deno.writeTextFile(stampFile, stamp);
    log(`built in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  }
  return { classes: `${out}/classes`, lib: `${out}/lib` };
}

/** Whether Debian's python3-kafka is importable by /usr/bin/python3, and if not, why. */
async function checkPython(): Promise<Context["python"]> {
  const why = "the Python peer needs kafka-python for Debian's /usr/bin/python3: " +
    "apt-get install python3-kafka (the pyenv python3 on PATH does not see it)";
  try {
    const output = await new Deno.Command("/usr/bin/python3", {
      args: ["-c", "import kafka"],
      stdout: "null",
      stderr: "null",
    }).output();
    return output.success ? { ok: true } : { ok: false, why };
  } catch {
    return { ok: false, why };
  }
}

async function createTopic(ctx: Context, topic: string): Promise<void> {
  await ctx.admin.createTopics([{ topic, partitions: PARTITIONS }]);
  ctx.topics.push(topic);
}

/** Java ProducerPerformance arguments for `count` keyed 100-byte records. */
function producerPerformance(
  ctx: Context,
  topic: string,
  count: number,
  props: Record<string, string | number>,
): [string, string[]] {
  return ["java", [
    "-Xmx512m",
    "-cp",
    `${ctx.kafkaLib}/*:${ctx.javaClasses}`,
    "org.apache.kafka.tools.ProducerPerformance",
    "--topic",
    topic,
    "--num-records",
    String(count),
    "--record-size",
    String(RECORD_SIZE),
    "--throughput",
    "-1",
    "--producer-props",
    `bootstrap.servers=${ctx.brokers}`,
    "acks=all",
    "interceptor.classes=dev.troupe.bench.KeyingInterceptor",
    `troupe.bench.keys=${KEYS}`,
    ...Object.entries(props).map(([name, value]) => `${name}=${value}`),
  ]];
}

/** The records/sec of ProducerPerformance's final summary line. */
function producerPerformanceRate(run: ProcessRun): number {
  for (const line of [...run.lines].reverse()) {
    const match = /^(\d+) records sent, ([\d.]+) records\/sec/.exec(line);
    if (match) return Number(match[2]);
  }
  throw new PeerFailure(
    `no summary line from ProducerPerformance:\n${run.lines.slice(-5).join("\n")}`,
  );
}

/** Fills a new topic with `count` keyed records using Kafka's own producer tool. */
async function preload(ctx: Context, topic: string, count: number): Promise<void> {
  await createTopic(ctx, topic);
  const started = performance.now();
  // Large batches: this only has to be quick, it is not a measurement.
  const [program, args] = producerPerformance(ctx, topic, count, {
    "batch.size": 131072,
    "linger.ms": 20,
  });
  const run = await runProcess(program, args, {
    timeoutMs: 300_000,
    logFile: `${LOGS}/preload.log`,
  });
  if (run.code !== 0) {
    throw new Error(`preloading ${topic} failed (code ${run.code}):\n${run.stderrTail}`);
  }
  const offsets = await ctx.admin.offsets(topic);
  const total = offsets.reduce((sum, row) => sum + row.end - row.beginning, 0);
  if (total !== count) throw new Error(`${topic} holds ${total} records, expected ${count}`);
  log(
    `preloaded ${count.toLocaleString("en-US")} records into ${topic} in ${
      ((performance.now() - started) / 1000).toFixed(1)
    } s`,
  );
}

// --- sections --------------------------------------------------------------------------------

/** 1. No-op handler throughput. */
async function noop(ctx: Context, sizes: Sizes, main: string): Promise<void> {
  const n = sizes.noopMessages;
  for (let rep = 1; rep <= sizes.reps; rep++) {
    await attempt("noop.kafka_java", rep, async () => {
      const run = await measured(
        "noop.kafka_java",
        rep,
        "java",
        [
          "-Xmx512m",
          "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
          "-Dorg.slf4j.simpleLogger.logFile=System.err",
          "-cp",
          `${ctx.javaClasses}:${ctx.javaLib}/*`,
          "dev.troupe.bench.NoopConsumer",
          "--brokers",
          ctx.brokers,
          "--topic",
          main,
          "--group",
          unique(`noop-java-${rep}`, ctx),
          "--messages",
          String(n),
        ],
        180_000,
      );
      figures.add("noop.kafka_java", rate(run));
    });
    await attempt("noop.kafkajs_eachbatch", rep, async () => {
      const [program, args] = denoPeer(ctx, "kafkajs_consumer.ts", {
        brokers: ctx.brokers,
        topic: main,
        group: unique(`noop-kafkajs-${rep}`, ctx),
        messages: n,
        mode: "eachbatch",
      });
      figures.add(
        "noop.kafkajs_eachbatch",
        rate(await measured("noop.kafkajs_eachbatch", rep, program, args, 180_000)),
      );
    });
    await attempt("noop.troupe_partition", rep, async () => {
      const [program, args] = denoPeer(ctx, "troupe_consumer.ts", {
        brokers: ctx.brokers,
        topic: main,
        group: unique(`noop-troupe-${rep}`, ctx),
        messages: n,
        mode: "noop",
      });
      figures.add(
        "noop.troupe_partition",
        rate(await measured("noop.troupe_partition", rep, program, args, 180_000)),
      );
    });
    await attempt("noop.platformatic", rep, async () => {
      const [program, args] = denoPeer(ctx, "platformatic.ts", {
        brokers: ctx.brokers,
        topic: main,
        group: unique(`noop-platformatic-${rep}`, ctx),
        messages: n,
        mode: "noop",
      });
      figures.add(
        "noop.platformatic",
        rate(await measured("noop.platformatic", rep, program, args, 180_000)),
      );
    });
    // What the dashboard costs: its server and sampler with no page open, then with one.
    for (const page of ["none", "page"] as const) {
      const row = `noop.troupe_dashboard_${page}`;
      await attempt(row, rep, async () => {
        const [program, args] = denoPeer(ctx, "troupe_consumer.ts", {
          brokers: ctx.brokers,
          topic: main,
          group: unique(`noop-dashboard-${page}-${rep}`, ctx),
          messages: n,
          mode: "noop",
          dashboard: page,
        });
        figures.add(row, rate(await measured(row, rep, program, args, 180_000)));
      });
    }
    // The same run with tracing on: Deno's exporter (OTEL_DENO=true) sends every span to
    // a receiver that drops them (its default protocol, http/protobuf).
    await attempt("noop.troupe_partition_traced", rep, async () => {
      const [program, args] = denoPeer(ctx, "troupe_consumer.ts", {
        brokers: ctx.brokers,
        topic: main,
        group: unique(`noop-troupe-traced-${rep}`, ctx),
        messages: n,
        mode: "noop",
      });
      const env = { OTEL_DENO: "true", OTEL_EXPORTER_OTLP_ENDPOINT: ctx.otlpSink };
      figures.add(
        "noop.troupe_partition_traced",
        rate(await measured("noop.troupe_partition_traced", rep, program, args, 180_000, { env })),
      );
    });
  }
}

/** An I/O-bound row: how to start it and what to read from its result. */
interface IoPeer {
  row: string;
  messages: (sizes: Sizes) => number;
  /** Why it cannot run here (a missing prerequisite), or undefined. */
  unavailable?: (ctx: Context) => string | undefined;
  command: (ctx: Context, topic: string, group: string, messages: number) => [string, string[]];
  /** Records the row's figures from a successful run. */
  record: (row: string, run: ProcessRun) => void;
}

/** Rate and, for troupe, lost messages (committed but never handled) of a troupe peer. */
const troupeRecord = (row: string, run: ProcessRun) => {
  if (run.result?.unsupported) {
    log(`${row}: ${run.result.unsupported}; left null`);
    return;
  }
  figures.add(row, rate(run));
  figures.add("io.troupe_lost", Number(run.result?.lost ?? NaN));
};

/**
 * The I/O-bound rows. Adding a row is one entry here; troupe's key mode is already one: it
 * reports `unsupported` (and stays null) until the processor accepts `ordering: "key"`.
 */
const IO_PEERS: IoPeer[] = [
  {
    row: "io.kafkajs_concurrent",
    messages: (sizes) => sizes.ioSequentialMessages,
    command: (ctx, topic, group, messages) =>
      denoPeer(ctx, "kafkajs_consumer.ts", {
        brokers: ctx.brokers,
        topic,
        group,
        messages,
        mode: "eachmessage",
        "delay-ms": DELAY_MS,
      }),
    record: (row, run) => figures.add(row, rate(run)),
  },
  {
    row: "io.troupe_partition",
    messages: (sizes) => sizes.ioSequentialMessages,
    command: (ctx, topic, group, messages) =>
      denoPeer(ctx, "troupe_consumer.ts", {
        brokers: ctx.brokers,
        topic,
        group,
        messages,
        mode: "io",
        "delay-ms": DELAY_MS,
      }),
    record: troupeRecord,
  },
  {
    row: "io.troupe_key",
    messages: (sizes) => sizes.ioConcurrentMessages,
    command: (ctx, topic, group, messages) =>
      denoPeer(ctx, "troupe_consumer.ts", {
        brokers: ctx.brokers,
        topic,
        group,
        messages,
        mode: "io",
        "delay-ms": DELAY_MS,
        ordering: "key",
        concurrency: KEY_CONCURRENCY,
      }),
    record: troupeRecord,
  },
  {
    row: "io.parallel_consumer_key",
    messages: (sizes) => sizes.ioConcurrentMessages,
    command: (ctx, topic, group, messages) => [
      "java",
      [
        "-Xmx1g",
        "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
        "-Dorg.slf4j.simpleLogger.logFile=System.err",
        "-cp",
        `${ctx.javaClasses}:${ctx.javaLib}/*`,
        "dev.troupe.bench.PcBench",
        "--brokers",
        ctx.brokers,
        "--topic",
        topic,
        "--group",
        group,
        "--messages",
        String(messages),
        // The same total concurrency as troupe's key mode: 64 per partition, 12 partitions.
        "--concurrency",
        String(KEY_CONCURRENCY * PARTITIONS),
        "--sleep-ms",
        String(DELAY_MS),
      ],
    ],
    record: (row, run) => figures.add(row, rate(run)),
  },
  {
    row: "io.python_threadpool",
    messages: (sizes) => sizes.ioConcurrentMessages,
    unavailable: (ctx) => ctx.python.ok ? undefined : ctx.python.why,
    command: (_ctx, topic, group, messages) => [
      "/usr/bin/python3",
      [
        `${BENCH}/python/threadpool_consumer.py`,
        "--brokers",
        _ctx.brokers,
        "--topic",
        topic,
        "--group",
        group,
        "--messages",
        String(messages),
        "--delay-ms",
        String(DELAY_MS),
      ],
    ],
    record: (row, run) => {
      figures.add(row, rate(run));
      figures.add("io.python_threadpool_lost", Number(run.result?.dropped));
    },
  },
];

/** 2. I/O-bound handler throughput. */
async function io(ctx: Context, sizes: Sizes, main: string): Promise<void> {
  for (let rep = 1; rep <= sizes.reps; rep++) {
    for (const peer of IO_PEERS) {
      const why = peer.unavailable?.(ctx);
      if (why) {
        if (rep === 1) log(`${peer.row}: skipped, ${why}`);
        continue;
      }
      await attempt(peer.row, rep, async () => {
        const group = unique(`${peer.row.replace(".", "-")}-${rep}`, ctx);
        const [program, args] = peer.command(ctx, main, group, peer.messages(sizes));
        peer.record(peer.row, await measured(peer.row, rep, program, args, 240_000));
      });
    }
  }
}

/** 3. Peak RSS of troupe draining a small and a large backlog with a slow handler. */
async function memory(ctx: Context, sizes: Sizes, small: string, main: string): Promise<void> {
  for (let rep = 1; rep <= sizes.reps; rep++) {
    for (const [row, topic] of [["memory.rss_mb_200k", small], ["memory.rss_mb_1m", main]]) {
      await attempt(row, rep, async () => {
        const [program, args] = denoPeer(ctx, "troupe_consumer.ts", {
          brokers: ctx.brokers,
          topic,
          group: unique(`${row.replace(".", "-")}-${rep}`, ctx),
          mode: "memory",
          "delay-ms": DELAY_MS,
          "window-ms": sizes.memoryWindowMs,
        });
        const run = await measured(row, rep, program, args, sizes.memoryWindowMs + 90_000);
        if (run.peakRssMb === undefined) throw new PeerFailure("could not read VmHWM");
        figures.add(row, run.peakRssMb);
      });
    }
  }
}

/** 4. End-to-end latency at a steady rate through troupe's producer and processor. */
async function latency(ctx: Context, sizes: Sizes): Promise<void> {
  const loadMs = LATENCY_WARMUP_MS + sizes.latencyDurationMs;
  const expected = Math.round(LATENCY_RATE * loadMs / 1000);
  for (let rep = 1; rep <= sizes.reps; rep++) {
    await attempt("latency", rep, async () => {
      const topic = unique(`latency-${rep}`, ctx);
      await createTopic(ctx, topic);
      const joined = Promise.withResolvers<void>();
      const [cProgram, cArgs] = denoPeer(ctx, "troupe_consumer.ts", {
        brokers: ctx.brokers,
        topic,
        group: unique(`latency-${rep}`, ctx),
        messages: expected,
        mode: "latency",
        "warmup-ms": LATENCY_WARMUP_MS,
        "timeout-ms": loadMs + 60_000,
      });
      const consumer = measured(
        "latency.consumer",
        rep,
        cProgram,
        cArgs,
        sizes.latencyDurationMs + 90_000,
        { onMessage: (message) => message.type === "joined" && joined.resolve() },
      );
      consumer.catch(() => {});
      await Promise.race([joined.promise, consumer]);
      // Let the consumer finish its first fetch round (offsets, metadata) before the load
      // starts, so the figures are about steady state, not start-up.
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const [pProgram, pArgs] = denoPeer(ctx, "producer.ts", {
        brokers: ctx.brokers,
        topic,
        client: "troupe",
        rate: LATENCY_RATE,
        "duration-ms": loadMs,
        "warmup-ms": LATENCY_WARMUP_MS,
      });
      const producer = await measured(
        "latency.producer",
        rep,
        pProgram,
        pArgs,
        sizes.latencyDurationMs + 90_000,
      );
      if (Number(producer.result?.failed ?? 0) > 0) {
        throw new PeerFailure(`${producer.result?.failed} sends failed`);
      }
      const result = (await consumer).result!;
      figures.add("latency.p50_ms", Number(result.p50Ms));
      figures.add("latency.p99_ms", Number(result.p99Ms));
      log(
        `latency #${rep}: end-to-end p50 ${result.p50Ms} ms, p99 ${result.p99Ms} ms ` +
          `(${result.withWarmupP99Ms} ms with the warm-up); of which the producer's ` +
          `send-to-ack p50 ${producer.result?.ackP50Ms} ms, p99 ${producer.result?.ackP99Ms} ms`,
      );
    });
  }
}

/** 5. Producer throughput, each into a fresh topic. */
async function producer(ctx: Context, sizes: Sizes): Promise<void> {
  const n = sizes.producerMessages;
  for (let rep = 1; rep <= sizes.reps; rep++) {
    await attempt("producer.kafka_java", rep, async () => {
      const topic = unique(`producer-java-${rep}`, ctx);
      await createTopic(ctx, topic);
      // Kafka 3.9's defaults but for linger.ms 5 (troupe's, and Kafka 4's default) and 128 KiB
      // batches, so that neither caps its throughput on a keyed 12-partition topic.
      const [program, args] = producerPerformance(ctx, topic, n, {
        "batch.size": 131072,
        "linger.ms": 5,
      });
      const run = await measured("producer.kafka_java", rep, program, args, 180_000, {
        messages: n,
      });
      figures.add("producer.kafka_java", producerPerformanceRate(run));
    });
    await producerRun(ctx, "producer.kafkajs_sendbatch", rep, "kafkajs", n);
    await producerRun(ctx, "producer.troupe", rep, "troupe", n);
    await producerRun(ctx, "producer.platformatic", rep, "platformatic", n);
  }
}

/** One producer peer's run into a fresh topic of `ctx`'s broker. */
function producerRun(
  ctx: Context,
  row: string,
  rep: number,
  client: "kafkajs" | "troupe" | "platformatic",
  n: number,
): Promise<void> {
  return attempt(row, rep, async () => {
    const topic = unique(`${row.replace(".", "-")}-${rep}`, ctx);
    await createTopic(ctx, topic);
    const [program, args] = client === "platformatic"
      ? denoPeer(ctx, "platformatic.ts", {
        brokers: ctx.brokers,
        topic,
        mode: "produce",
        messages: n,
        keys: KEYS,
        "record-size": RECORD_SIZE,
      })
      : denoPeer(ctx, "producer.ts", {
        brokers: ctx.brokers,
        topic,
        client,
        messages: n,
        keys: KEYS,
        "record-size": RECORD_SIZE,
      });
    figures.add(row, rate(await measured(row, rep, program, args, 180_000)));
  });
}

/** One no-op consumer peer's run over `topic` of `ctx`'s broker. */
function noopRun(
  ctx: Context,
  row: string,
  rep: number,
  client: "kafkajs" | "troupe",
  topic: string,
  n: number,
): Promise<void> {
  return attempt(row, rep, async () => {
    const [program, args] = denoPeer(
      ctx,
      client === "kafkajs" ? "kafkajs_consumer.ts" : "troupe_consumer.ts",
      {
        brokers: ctx.brokers,
        topic,
        group: unique(`${row.replace(".", "-")}-${rep}`, ctx),
        messages: n,
        mode: client === "kafkajs" ? "eachbatch" : "noop",
      },
    );
    figures.add(row, rate(await measured(row, rep, program, args, 180_000)));
  });
}

/**
 * Starts the 3-node cluster, again if a node lost its port to another program between the
 * port being picked and bound (likely on a machine where other brokers start and stop).
 */
async function startClusterRetrying(): Promise<LocalKafkaCluster> {
  for (let attempt = 1;; attempt++) {
    try {
      return await startLocalKafkaCluster({ heapMb: 512 });
    } catch (error) {
      if (attempt === 3) throw error;
      log(`starting the 3-node cluster failed (${error}); trying again`);
    }
  }
}

/**
 * 6. Replication's cost: a 3-node cluster (replication factor 3, `min.insync.replicas` 2, acks
 * all), its nodes on the same cores as the programs measured: the producers and the no-op
 * consumers again, raw KafkaJS and troupe. Full runs only: starting three brokers takes most of
 * a quick run's budget.
 */
async function cluster(ctx: Context, sizes: Sizes): Promise<void> {
  if (
    ![
      "cluster3.producer_kafkajs",
      "cluster3.producer_troupe",
      "cluster3.noop_kafkajs",
      "cluster3.noop_troupe",
    ]
      .some((row) => selectedRows.size === 0 || selectedRows.has(row))
  ) return;
  const started = performance.now();
  const nodes = await startClusterRetrying();
  log(
    `local 3-node Kafka ${nodes.kafkaVersion} cluster at ${nodes.brokers.join(",")} in ${
      ((performance.now() - started) / 1000).toFixed(1)
    } s`,
  );
  const brokers = nodes.brokers.join(",");
  const admin = createAdmin({ brokers, clientId: "troupe-bench" });
  const on: Context = { ...ctx, brokers, admin, topics: [] };
  try {
    const backlog = unique("cluster3-main", on);
    await preload(on, backlog, sizes.noopMessages);
    for (let rep = 1; rep <= sizes.reps; rep++) {
      await noopRun(on, "cluster3.noop_kafkajs", rep, "kafkajs", backlog, sizes.noopMessages);
      await noopRun(on, "cluster3.noop_troupe", rep, "troupe", backlog, sizes.noopMessages);
      const n = sizes.producerMessages;
      await producerRun(on, "cluster3.producer_kafkajs", rep, "kafkajs", n);
      await producerRun(on, "cluster3.producer_troupe", rep, "troupe", n);
    }
  } finally {
    await admin.close().catch(() => {});
    await nodes.stop();
  }
}

// --- main ------------------------------------------------------------------------------------

/**
 * An OTLP/HTTP receiver that accepts every export and drops it, for the traced rows: what is
 * measured is the traced program's cost, not a tracing backend's.
 */
function startOtlpSink(): { server: Deno.HttpServer<Deno.NetAddr>; endpoint: string } {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (
    request,
  ) => {
    await request.body?.cancel();
    // An empty body is an empty Export*ServiceResponse in protobuf: everything accepted.
    return new Response(null, { headers: { "content-type": "application/x-protobuf" } });
  });
  return { server, endpoint: `http://127.0.0.1:${server.addr.port}` };
}

function machineDescription(): string {
  let cpu = "unknown CPU";
  let memory = "";
  try {
    const info = Deno.readTextFileSync("/proc/cpuinfo");
    cpu = /^model name\s*:\s*(.+)$/m.exec(info)?.[1]?.trim() ?? cpu;
    const total = /^MemTotal:\s+(\d+) kB/m.exec(Deno.readTextFileSync("/proc/meminfo"))?.[1];
    if (total) memory = `, ${Math.round(Number(total) / 1024 / 1024)} GB RAM`;
  } catch {
    // Not Linux: say less.
  }
  return `${cpu}, ${navigator.hardwareConcurrency} vCPUs${memory}, ${Deno.build.os}`;
}

function results(quick: boolean): Results {
  const kafkajs = figures.median("noop.kafkajs_eachbatch");
  const troupe = figures.median("noop.troupe_partition");
  const traced = figures.median("noop.troupe_partition_traced");
  const producerKafkajs = figures.median("producer.kafkajs_sendbatch");
  const producerTroupe = figures.median("producer.troupe");
  return {
    kafka_version: DEFAULT_KAFKA_VERSION,
    deno_version: Deno.version.deno,
    cpus: navigator.hardwareConcurrency,
    quick,
    noop: {
      kafka_java: round(figures.median("noop.kafka_java")),
      kafkajs_eachbatch: round(kafkajs),
      troupe_partition: round(troupe),
      platformatic: round(figures.median("noop.platformatic")),
      overhead_ratio: kafkajs !== null && troupe !== null ? round(troupe / kafkajs, 3) : null,
      troupe_dashboard_no_page: round(figures.median("noop.troupe_dashboard_none")),
      troupe_dashboard_one_page: round(figures.median("noop.troupe_dashboard_page")),
      troupe_partition_traced: round(traced),
      traced_ratio: troupe !== null && traced !== null ? round(traced / troupe, 3) : null,
    },
    io_bound: {
      delay_ms: DELAY_MS,
      kafkajs_concurrent: round(figures.median("io.kafkajs_concurrent")),
      troupe_partition: round(figures.median("io.troupe_partition")),
      troupe_key: round(figures.median("io.troupe_key")),
      parallel_consumer_key: round(figures.median("io.parallel_consumer_key")),
      python_threadpool: round(figures.median("io.python_threadpool"), 1),
      python_threadpool_lost: round(figures.median("io.python_threadpool_lost")),
      // The worst troupe run, not the median: a single lost message must show.
      troupe_lost: figures.max("io.troupe_lost"),
    },
    memory: {
      rss_mb_200k: round(figures.median("memory.rss_mb_200k"), 1),
      rss_mb_1m: round(figures.median("memory.rss_mb_1m"), 1),
    },
    latency: {
      rate: LATENCY_RATE,
      p50_ms: round(figures.median("latency.p50_ms"), 1),
      p99_ms: round(figures.median("latency.p99_ms"), 1),
    },
    producer: {
      kafka_java: round(figures.median("producer.kafka_java")),
      kafkajs_sendbatch: round(figures.median("producer.kafkajs_sendbatch")),
      troupe: round(figures.median("producer.troupe")),
      platformatic: round(figures.median("producer.platformatic")),
      troupe_ratio: producerKafkajs !== null && producerTroupe !== null
        ? round(producerTroupe / producerKafkajs, 3)
        : null,
    },
    cluster3: {
      noop_kafkajs: round(figures.median("cluster3.noop_kafkajs")),
      noop_troupe: round(figures.median("cluster3.noop_troupe")),
      producer_kafkajs: round(figures.median("cluster3.producer_kafkajs")),
      producer_troupe: round(figures.median("cluster3.producer_troupe")),
    },
    spread: figures.spread(),
    resources: resources(),
  };
}

/** Per row: the medians of each process's peak RSS and of its CPU time per 1,000 messages. */
function resources(): Results["resources"] {
  const rows = new Map<string, RunRecord[]>();
  for (const run of runs) {
    if (run.error) continue;
    let list = rows.get(run.row);
    if (!list) rows.set(run.row, list = []);
    list.push(run);
  }
  const out: Results["resources"] = {};
  for (const [row, list] of rows) {
    const rss = median(list.flatMap((run) => run.peakRssMb === undefined ? [] : [run.peakRssMb]));
    const cpu = median(
      list.flatMap((run) =>
        run.cpuMs !== undefined && run.messages ? [(run.cpuMs / run.messages) * 1000] : []
      ),
    );
    out[row] = { peak_rss_mb: round(rss, 1), cpu_ms_per_1000: round(cpu, 2) };
  }
  return out;
}

/**
 * Per row: the medians of each process's peak RSS and of its CPU time per 1,000 messages.
 * Not part of results.json; printed because on a shared machine CPU per message moves less
 * with the load than msgs/s does.
 */
function details(): string {
  const rows = new Map<string, RunRecord[]>();
  for (const run of runs) {
    if (run.error) continue;
    let list = rows.get(run.row);
    if (!list) rows.set(run.row, list = []);
    list.push(run);
  }
  const lines = [
    "| process | runs | peak RSS (MB) | CPU ms per 1,000 messages (start-up included) |",
    "| --- | ---: | ---: | ---: |",
  ];
  for (const [row, list] of rows) {
    const rss = median(list.flatMap((run) => run.peakRssMb === undefined ? [] : [run.peakRssMb]));
    const cpu = median(
      list.flatMap((run) =>
        run.cpuMs !== undefined && run.messages ? [(run.cpuMs / run.messages) * 1000] : []
      ),
    );
    lines.push(
      `| ${row} | ${list.length} | ${rss === null ? "-" : rss.toFixed(0)} | ${
        cpu === null ? "-" : cpu.toFixed(1)
      } |`,
    );
  }
  return lines.join("\n");
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      quick: { type: "boolean", default: false },
      only: { type: "string" },
      reps: { type: "string" },
      profile: { type: "boolean", default: false },
      rows: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help) {
    console.log(
      "Usage: deno task bench [--quick] [--only noop,io,memory,latency,producer,cluster] " +
        "[--rows ROW,...] [--reps N] [--profile]",
    );
    return 0;
  }
  const quick = values.quick === true;
  const sizes = { ...(quick ? QUICK : FULL) };
  if (values.reps !== undefined) sizes.reps = Math.max(1, Number(values.reps));
  const only = new Set<Section>(
    values.only ? values.only.split(",").map((s) => s.trim() as Section) : SECTIONS,
  );
  for (const section of only) {
    if (!SECTIONS.includes(section)) throw new Error(`unknown section "${section}" in --only`);
  }
  for (const row of values.rows?.split(",") ?? []) selectedRows.add(row.trim());

  const started = performance.now();
  const machine = machineDescription();
  log(
    `${quick ? "quick" : "full"} run on ${machine}; load average ${
      Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ")
    }`,
  );
  await Deno.mkdir(LOGS, { recursive: true });
  for await (const entry of Deno.readDir(LOGS)) await Deno.remove(`${LOGS}/${entry.name}`);

  const [kafkaLib, java, python] = await Promise.all([
    ensureKafkaJars(),
    buildJava(),
    checkPython(),
  ]);
  if (!python.ok) log(`warning: ${python.why}; its rows stay null`);

  let brokers = Deno.env.get("KAFKA_BROKERS");
  let stopBroker = async () => {};
  if (brokers) {
    log(`using KAFKA_BROKERS=${brokers}`);
  } else {
    const kafka = await startLocalKafka({ heapMb: 1024 });
    brokers = kafka.brokers.join(",");
    stopBroker = () => kafka.stop();
    log(`local Kafka ${DEFAULT_KAFKA_VERSION} at ${brokers}`);
  }
  const interrupted = async () => {
    killRunning();
    await stopBroker();
    Deno.exit(130);
  };
  Deno.addSignalListener("SIGINT", interrupted);
  Deno.addSignalListener("SIGTERM", interrupted);
  const otlpSink = startOtlpSink();

  const ctx: Context = {
    brokers,
    kafkaLib,
    javaClasses: java.classes,
    javaLib: java.lib,
    stamp: `${Date.now().toString(36)}`,
    profile: values.profile === true,
    python,
    admin: createAdmin({ brokers, clientId: "troupe-bench" }),
    topics: [],
    otlpSink: otlpSink.endpoint,
  };
  let output: Results;
  try {
    const main = unique("main", ctx);
    const small = unique("small", ctx);
    if (only.has("noop") || only.has("io") || only.has("memory")) {
      await preload(ctx, main, sizes.mainBacklog);
    }
    if (only.has("memory")) await preload(ctx, small, sizes.smallBacklog);

    const sections: [Section, () => Promise<void>][] = [
      ["noop", () => noop(ctx, sizes, main)],
      ["io", () => io(ctx, sizes, main)],
      ["memory", () => memory(ctx, sizes, small, main)],
      ["latency", () => latency(ctx, sizes)],
      ["producer", () => producer(ctx, sizes)],
      ["cluster", () => quick ? Promise.resolve() : cluster(ctx, sizes)],
    ];
    for (const [name, run] of sections) {
      if (!only.has(name)) continue;
      const sectionStarted = performance.now();
      await run();
      log(`section ${name} took ${((performance.now() - sectionStarted) / 1000).toFixed(1)} s`);
    }
    output = results(quick);
  } finally {
    if (Deno.env.get("KAFKA_BROKERS")) {
      // Someone else's broker: leave no backlog behind.
      await ctx.admin.deleteTopics(ctx.topics).catch(() => {});
    }
    await ctx.admin.close().catch(() => {});
    Deno.removeSignalListener("SIGINT", interrupted);
    Deno.removeSignalListener("SIGTERM", interrupted);
    await otlpSink.server.shutdown();
    await stopBroker();
  }

  await Deno.writeTextFile(`${BENCH}/results.json`, JSON.stringify(output, null, 2) + "\n");
  await Deno.writeTextFile(`${BENCH}/results.svg`, svgChart(output, machine, sizes.reps));
  await Deno.writeTextFile(
    `${BUILD}/runs.json`,
    JSON.stringify({ machine, sizes, runs, failures }, null, 2) + "\n",
  );
  console.log(markdown(output, machine, sizes.reps));
  console.log();
  console.log(details());
  const seconds = (performance.now() - started) / 1000;
  log(
    `wrote bench/results.json and bench/results.svg in ${seconds.toFixed(0)} s ` +
      `(every run: bench/.build/runs.json)`,
  );
  const missed = targets(output).filter((target) => target.met === false);
  if (missed.length) log(`targets missed: ${missed.map((t) => t.text).join("; ")}`);
  if (failures.length) {
    log(`${failures.length} run(s) failed:\n  ${failures.join("\n  ")}`);
    return 1;
  }
  return 0;
}

if (import.meta.main) {
  fixKafkaJsTimerWarning();
  try {
    Deno.exit(await main());
  } catch (error) {
    killRunning();
    console.error(`bench: ${error instanceof Error ? error.message : error}`);
    Deno.exit(1);
  }
}
