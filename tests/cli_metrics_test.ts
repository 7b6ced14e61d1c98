import assert from "node:assert/strict";
import { startLiveView } from "../cli/live_view.ts";
import { createProcessorMetrics, METRICS, type MetricsSource } from "../cli/metrics.ts";
import { observabilityHandler } from "../cli/observability_server.ts";
import { createProcessMetrics, PROCESS_METRICS } from "../cli/process_metrics.ts";
import { renderExposition } from "../cli/prometheus.ts";
import type { PartitionStatus, ProcessorEvent, ProcessorStatus } from "../mod.ts";
import { waitFor } from "./_helpers.ts";
import { type ParsedFamily, parseExposition, sumOf } from "./_prometheus.ts";

function row(partial: Partial<PartitionStatus> & { partition: number }): PartitionStatus {
  return {
    topic: "orders",
    phase: "running",
    epoch: 1,
    actor: "idle",
    processedOffset: null,
    committedOffset: null,
    mailboxSize: 0,
    paused: false,
    pausedBy: { backpressure: false, user: false, initializing: false, stopping: false },
    processed: 0,
    failed: 0,
    retried: 0,
    deadLettered: 0,
    skipped: 0,
    inFlight: 0,
    highWatermark: null,
    lag: null,
    restarts: 0,
    lastError: null,
    ...partial,
  };
}

function status(partitions: PartitionStatus[], extra: Partial<ProcessorStatus> = {}) {
  return {
    state: "running",
    groupId: "billing",
    memberId: "member-1",
    joins: 1,
    partitions,
    totals: {
      processed: partitions.reduce((sum, p) => sum + p.processed, 0),
      restarts: partitions.reduce((sum, p) => sum + p.restarts, 0),
      mailboxSize: partitions.reduce((sum, p) => sum + p.mailboxSize, 0),
    },
    error: null,
    processingTime: null,
    connection: { connected: true, since: 0, lastError: null },
    ...extra,
  } satisfies ProcessorStatus;
}

/** A processor stand-in: a settable status and an event bus. */
function fakeProcessor(initial: ProcessorStatus) {
  let current = initial;
  const listeners = new Map<string, Set<(event: ProcessorEvent) => void>>();
  const source: MetricsSource = {
    status: () => current,
    on: ((type: string, listener: (event: ProcessorEvent) => void) => {
      let set = listeners.get(type);
      if (!set) listeners.set(type, set = new Set());
      set.add(listener);
      return () => void set.delete(listener);
    }) as MetricsSource["on"],
  };
  return {
    source,
    set(next: ProcessorStatus) {
      current = next;
    },
    emit(event: ProcessorEvent) {
      for (const listener of listeners.get(event.type) ?? []) listener(event);
    },
    listenerCount: () => [...listeners.values()].reduce((sum, set) => sum + set.size, 0),
  };
}

Deno.test("exposition: escapes label values and help, formats special values, parses back", () => {
  const text = renderExposition([
    {
      name: "odd_total",
      help: 'back\\slash and\nnewline "quoted"',
      type: "counter",
      samples: [{ labels: { topic: 'a"b\\c\nd', partition: "0" }, value: 3 }],
    },
    {
      name: "values",
      help: "special values",
      type: "gauge",
      samples: [
        { labels: { kind: "nan" }, value: NaN },
        { labels: { kind: "inf" }, value: Infinity },
        { labels: { kind: "neg" }, value: -Infinity },
        { labels: { kind: "small" }, value: 0.000125 },
      ],
    },
    { name: "empty", help: "declared without samples", type: "gauge", samples: [] },
    {
      name: "latency_seconds",
      help: "a histogram",
      type: "histogram",
      series: [{ bounds: [0.1, 1], cumulative: [1, 3], count: 4, sum: 7.5 }],
    },
  ]);
  const families = parseExposition(text);
  const odd = families.get("odd_total")!;
  assert.equal(odd.help, 'back\\slash and\nnewline "quoted"');
  assert.deepEqual(odd.samples[0].labels, { topic: 'a"b\\c\nd', partition: "0" });
  const values = families.get("values")!.samples.map((sample) => sample.value);
  assert.ok(Number.isNaN(values[0]));
  assert.deepEqual(values.slice(1), [Infinity, -Infinity, 0.000125]);
  assert.equal(families.get("empty")!.samples.length, 0);
  assert.equal(sumOf(families, "latency_seconds_bucket", { le: "+Inf" }), 4);
  assert.equal(sumOf(families, "latency_seconds_sum"), 7.5);
  assert.throws(() =>
    renderExposition([{ name: "bad-name", help: "", type: "gauge", samples: [] }])
  );
});

Deno.test("metrics: every documented metric is exposed, and counters survive reassignment", () => {
  const fake = fakeProcessor(status([
    row({ partition: 0, processed: 10, failed: 2, restarts: 1, committedOffset: 10, lag: 5 }),
    row({ partition: 1, processed: 4, mailboxSize: 3, inFlight: 1, highWatermark: 9, lag: 5 }),
  ]));
  const metrics = createProcessorMetrics(fake.source);
  let families = parseExposition(metrics.render());
  for (const [name, type] of Object.values(METRICS)) {
    assert.equal(families.get(name)?.type, type, `${name} is declared as a ${type}`);
  }
  assert.equal(sumOf(families, "troupe_messages_processed_total"), 14);
  assert.equal(sumOf(families, "troupe_messages_failed_total", { partition: "0" }), 2);
  assert.equal(sumOf(families, "troupe_actor_restarts_total"), 1);
  assert.equal(sumOf(families, "troupe_mailbox_messages", { partition: "1" }), 3);
  assert.equal(sumOf(families, "troupe_in_flight_messages"), 1);
  assert.equal(sumOf(families, "troupe_committed_offset", { partition: "0" }), 10);
  assert.equal(families.get("troupe_committed_offset")!.samples.length, 1, "null offsets omitted");
  assert.equal(sumOf(families, "troupe_lag_messages"), 10);
  assert.equal(sumOf(families, "troupe_processor_state", { state: "running" }), 1);
  assert.equal(sumOf(families, "troupe_assigned_partitions"), 2);

  // A rebalance: partition 0 is revoked, then comes back with a new epoch and fresh counts.
  fake.set(status([
    row({ partition: 0, processed: 12, failed: 2, restarts: 1 }),
    row({ partition: 1, processed: 6 }),
  ]));
  fake.emit({ type: "rebalancing" });
  fake.set(status([row({ partition: 1, processed: 7 })]));
  families = parseExposition(metrics.render());
  assert.equal(sumOf(families, "troupe_messages_processed_total", { partition: "0" }), 12);
  assert.equal(sumOf(families, "troupe_assigned_partitions"), 1);
  fake.set(status([
    row({ partition: 0, epoch: 2, processed: 5, restarts: 2 }),
    row({ partition: 1, processed: 8 }),
  ]));
  families = parseExposition(metrics.render());
  assert.equal(sumOf(families, "troupe_messages_processed_total", { partition: "0" }), 17);
  assert.equal(sumOf(families, "troupe_actor_restarts_total", { partition: "0" }), 3);
  assert.equal(sumOf(families, "troupe_messages_processed_total", { partition: "1" }), 8);
  assert.equal(sumOf(families, "troupe_rebalances_total"), 1);

  // Events: commit latency, commit failures.
  fake.emit({ type: "offsets-committed", reason: "interval", offsets: [], durationMs: 3 });
  fake.emit({ type: "offsets-committed", reason: "interval", offsets: [], durationMs: 40 });
  fake.emit({ type: "commit-failed", reason: "interval", error: new Error("x"), rebalance: true });
  families = parseExposition(metrics.render());
  assert.equal(sumOf(families, "troupe_commits_total"), 2);
  assert.equal(sumOf(families, "troupe_commit_seconds_count"), 2);
  assert.equal(sumOf(families, "troupe_commit_seconds_bucket", { le: "0.005" }), 1);
  assert.ok(Math.abs(sumOf(families, "troupe_commit_seconds_sum") - 0.043) < 1e-9);
  assert.equal(sumOf(families, "troupe_commit_failures_total", { kind: "rebalance" }), 1);
  assert.equal(sumOf(families, "troupe_kafka_connected"), 1);

  // Kafka stops answering.
  fake.emit({ type: "connection-lost", error: new Error("ECONNREFUSED") });
  fake.set(status([row({ partition: 1, processed: 8 })], {
    connection: { connected: false, since: 1, lastError: "ECONNREFUSED" },
  }));
  families = parseExposition(metrics.render());
  assert.equal(sumOf(families, "troupe_kafka_connected"), 0);
  assert.equal(sumOf(families, "troupe_kafka_connection_losses_total"), 1);

  metrics.close();
  assert.equal(fake.listenerCount(), 0);
});

Deno.test("metrics: the processing-time histogram is exposed in seconds", () => {
  const fake = fakeProcessor(status([row({ partition: 0 })], {
    processingTime: { bounds: [0.5, 2, 10], cumulative: [2, 5, 5], count: 6, sum: 1500 },
  }));
  const families = parseExposition(createProcessorMetrics(fake.source).render());
  const buckets = families.get("troupe_processing_seconds")!.samples
    .filter((sample) => sample.name.endsWith("_bucket"))
    .map((sample) => [sample.labels.le, sample.value]);
  assert.deepEqual(buckets, [["0.0005", 2], ["0.002", 5], ["0.01", 5], ["+Inf", 6]]);
  assert.equal(sumOf(families, "troupe_processing_seconds_sum"), 1.5);
});

Deno.test("process metrics: the series Prometheus users know, under Deno's own permissions", async () => {
  const metrics = createProcessMetrics({ sampleEveryMs: 5 });
  try {
    // Hold the loop at once: the sampler's timer, due in 5 ms, runs only after the block.
    const until = performance.now() + 400;
    while (performance.now() < until) {
      // busy: nothing else runs
    }
    let families = new Map<string, ParsedFamily>();
    const lagMax = () => families.get("nodejs_eventloop_lag_max_seconds")?.samples[0]?.value;
    await waitFor(() => {
      families = parseExposition(renderExposition(metrics.families()));
      return lagMax() !== undefined;
    }, "an event-loop delay sample");
    for (const [name, type] of Object.values(PROCESS_METRICS)) {
      assert.equal(families.get(name)?.type, type, `${name} is declared`);
    }
    const value = (name: string) => families.get(name)?.samples[0]?.value ?? NaN;
    assert.ok(value("process_resident_memory_bytes") > 1_000_000);
    assert.ok(value("process_cpu_seconds_total") > 0);
    const parts = value("process_cpu_user_seconds_total") +
      value("process_cpu_system_seconds_total");
    assert.ok(Math.abs(value("process_cpu_seconds_total") - parts) < 1e-9);
    assert.ok(value("nodejs_heap_size_used_bytes") <= value("nodejs_heap_size_total_bytes"));
    assert.ok(Math.abs(value("process_start_time_seconds") - Date.now() / 1000) < 3600);
    assert.ok(lagMax()! >= 0.39, `the 400 ms block shows: max ${lagMax()} s`);
    // The test runs with -A, so /proc/self is readable.
    assert.ok(value("process_open_fds") > 0);
    // The delay figures cover the time since the last scrape: the block is gone from them. (A
    // block this long, not a bound on delays: a loaded machine delays timers by itself.)
    await waitFor(() => {
      families = parseExposition(renderExposition(metrics.families()));
      return lagMax() !== undefined;
    }, "a second event-loop delay sample");
    assert.ok(lagMax()! < 0.39, `max ${lagMax()} s after the block`);
  } finally {
    metrics.close();
  }
});

Deno.test("endpoints: /health, /ready, /status, /metrics, 404 and 405", async () => {
  const fake = fakeProcessor(status([], { state: "starting", memberId: null }));
  const respond = observabilityHandler(fake.source, () => "# metrics\n");
  const get = async (path: string, method = "GET") => {
    const response = await respond(new Request(`http://troupe${path}`, { method }));
    return {
      status: response.status,
      type: response.headers.get("content-type"),
      body: await response.text(),
    };
  };

  assert.equal((await get("/health")).status, 200);
  let ready = await get("/ready");
  assert.equal(ready.status, 503);
  assert.match(JSON.parse(ready.body).reason, /starting/);

  fake.set(status([], { memberId: "m" }));
  ready = await get("/ready");
  assert.equal(ready.status, 503);
  assert.equal(JSON.parse(ready.body).reason, "no partition assigned");

  fake.set(status([row({ partition: 0, processed: 3 })]));
  ready = await get("/ready");
  assert.equal(ready.status, 200);
  assert.equal(JSON.parse(ready.body).ready, true);

  const statusResponse = await get("/status");
  assert.equal(statusResponse.status, 200);
  assert.equal(JSON.parse(statusResponse.body).partitions[0].processed, 3);

  const metrics = await get("/metrics");
  assert.equal(metrics.type, "text/plain; version=0.0.4; charset=utf-8");
  assert.equal(metrics.body, "# metrics\n");

  assert.equal((await get("/nope")).status, 404);
  assert.equal((await get("/metrics", "POST")).status, 405);

  fake.set(status([], { state: "failed", error: "EscalationError: boom" }));
  const health = await get("/health");
  assert.equal(health.status, 503);
  assert.equal(JSON.parse(health.body).error, "EscalationError: boom");
});

Deno.test("live view: a table redrawn in place, clipped to the terminal, logs printed above", () => {
  const writes: string[] = [];
  let current = status([
    row({ partition: 0, processed: 5, lag: 2, mailboxSize: 1, restarts: 1, actor: "processing" }),
    row({
      partition: 1,
      pausedBy: { backpressure: true, user: false, initializing: false, stopping: false },
      paused: true,
    }),
    row({ partition: 2 }),
    row({ partition: 3 }),
  ]);
  const view = startLiveView({
    title: "troupe run billing",
    status: () => current,
    interactive: true,
    write: (text) => writes.push(text),
    refreshMs: 60_000,
    size: () => ({ columns: 72, rows: 6 }),
  });
  const first = writes[0];
  assert.ok(!first.includes("\x1b[F"), "the first frame moves nothing up");
  const lines = first.trimEnd().split("\n");
  assert.match(lines[1], /^partition\s+actor\s+processed\s+lag\s+mailbox\s+restarts/);
  assert.match(lines[2], /^orders\[0\]\s+processing\s+5\s+2\s+1\s+1/);
  assert.match(lines[3], /paused \(full\)/);
  assert.equal(lines.at(-1), "... 2 more partitions", "rows beyond the terminal's height are cut");
  for (const line of lines) {
    const visible = line.replaceAll("\x1b[1m", "").replaceAll("\x1b[0m", "");
    assert.ok(visible.length < 72, `clipped: ${line}`);
  }

  view.print("a log line\n");
  const printed = writes[1];
  assert.ok(printed.startsWith(`\x1b[${lines.length}F\x1b[J`), "erases the table first");
  assert.ok(printed.includes("a log line\n"));

  current = status([row({ partition: 0, processed: 9 })], {
    connection: { connected: false, since: 0, lastError: "ECONNREFUSED" },
  });
  view.note("actor crashed");
  view.stop();
  const last = writes.at(-1)!;
  assert.match(last, /KAFKA UNREACHABLE {2}processed 9/);
  assert.match(last, /actor crashed/);
});

Deno.test("live view: plain progress lines when not on a terminal", () => {
  const writes: string[] = [];
  const view = startLiveView({
    title: "troupe run billing",
    status: () => status([row({ partition: 0, processed: 7 })]),
    interactive: false,
    write: (text) => writes.push(text),
    lineMs: 60_000,
  });
  view.note("something happened");
  view.print("a log line\n");
  view.stop();
  assert.equal(writes.length, 4);
  assert.match(writes[0], /^\[troupe run billing\] \d+\.\ds {2}running {2}processed 7 /);
  assert.equal(writes[1], "[troupe run billing] something happened\n");
  assert.equal(writes[2], "a log line\n");
  assert.ok(writes.every((text) => !text.includes("\x1b")), "no escape sequences");
});
