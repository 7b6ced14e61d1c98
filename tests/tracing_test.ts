import assert from "node:assert/strict";
import { fixKafkaJsTimerWarning } from "../kafka/timer_warning.ts";
import { metricsPort, ROOT, type RunningCli, scrape, spawnTroupe } from "./_cli.ts";
import {
  createTopic,
  kafkaClient,
  readRecords,
  testBrokers,
  uniqueName,
  waitFor,
} from "./_helpers.ts";
import { type ReceivedSpan, SPAN_KIND, startOtlpReceiver } from "./_otlp.ts";

fixKafkaJsTimerWarning(); // for the outside client, a plain KafkaJS producer

const FIXTURES = `${ROOT}tests/fixtures/tracing`;

/** The span whose name is `name` and whose record key is `key`. */
function spanOf(spans: ReceivedSpan[], name: string, key: string): ReceivedSpan | undefined {
  return spans.find((span) =>
    span.name === name && span.attributes["messaging.kafka.message.key"] === key
  );
}

/** The JSON log records of a CLI's stderr. */
function logRecords(cli: RunningCli): { message: string; properties: Record<string, unknown> }[] {
  return cli.stderr().split("\n").filter((line) => line.startsWith("{")).map((line) =>
    JSON.parse(line)
  );
}

async function stop(cli: RunningCli): Promise<void> {
  cli.child.kill("SIGTERM");
  const { code, stderr } = await cli.exited();
  assert.equal(code, 0, stderr);
}

Deno.test({
  name: "tracing: producer -> transform -> processor is one trace, exported by Deno's OTLP " +
    "exporter; retries are events, a dead letter an error; logs carry the ids; process metrics",
  // The processes under test are subprocesses; the receiver's server is this test's.
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const orders = uniqueName("orders");
    const invoices = uniqueName("invoices");
    const deadLetters = `${invoices}.dlq`;
    const enricherGroup = uniqueName("enricher");
    const billingGroup = uniqueName("billing");
    for (const topic of [orders, invoices, deadLetters]) await createTopic(topic, 1);

    await using receiver = startOtlpReceiver();
    const otel = {
      OTEL_DENO: "true",
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
      OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
      KAFKA_BROKERS: testBrokers().join(","),
    };
    const common = ["--from-beginning", "--log-format", "json", "--view", "off"];
    await using enricher = spawnTroupe([
      "run",
      "--handler",
      `${FIXTURES}/enrich.ts`,
      "--topic",
      orders,
      "--group",
      enricherGroup,
      ...common,
    ], { env: { ...otel, OTEL_SERVICE_NAME: "enricher", TRACE_TEST_OUTPUT: invoices } });
    await using billing = spawnTroupe([
      "run",
      "--handler",
      `${FIXTURES}/bill.ts`,
      "--topic",
      invoices,
      "--group",
      billingGroup,
      "--dead-letter",
      deadLetters,
      "--metrics-port",
      "0",
      ...common,
    ], { env: { ...otel, OTEL_SERVICE_NAME: "billing" } });

    // Hop 1: a service produces three orders inside a span of its own.
    const keys = ["ok-1", "flaky-1", "poison-1"];
    const produced = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        `${FIXTURES}/producer.ts`,
        JSON.stringify({ brokers: testBrokers(), topic: orders, keys }),
      ],
      env: { ...otel, OTEL_SERVICE_NAME: "checkout" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const decoder = new TextDecoder();
    assert.ok(produced.success, decoder.decode(produced.stderr));
    const { traceId } = JSON.parse(decoder.decode(produced.stdout)) as { traceId: string };

    // An outside client (plain KafkaJS, no troupe) writes a record carrying its own context.
    const outsideTrace = "4bf92f3577b34da6a3ce929d0e0e4736";
    const outsideParent = "00f067aa0ba902b7";
    const outside = kafkaClient().producer();
    await outside.connect();
    await outside.send({
      topic: invoices,
      messages: [{
        key: "outside-1",
        value: "{}",
        headers: { traceparent: `00-${outsideTrace}-${outsideParent}-01`, tracestate: "vendor=x" },
      }],
    });
    await outside.disconnect();

    const spans = receiver.spans;
    await waitFor(
      () =>
        [...keys, "outside-1"].every((key) => spanOf(spans(), `${invoices} process`, key)) &&
        spans().some((span) => span.name === `${deadLetters} publish`),
      `every record's process span at the billing service; spans so far: ${
        JSON.stringify(spans().map((span) => `${span.service}: ${span.name}`))
      }`,
      45_000,
    );

    // /metrics: the process series beside troupe's own.
    const families = await scrape(await metricsPort(billing));
    for (
      const name of [
        "process_resident_memory_bytes",
        "process_cpu_seconds_total",
        "process_open_fds",
        "nodejs_heap_size_used_bytes",
        "nodejs_heap_size_total_bytes",
      ]
    ) {
      const value = families.get(name)?.samples[0]?.value;
      assert.ok(value !== undefined && value > 0, `${name} = ${value}`);
    }
    assert.ok(families.get("nodejs_eventloop_lag_p99_seconds")?.samples.length === 1);
    assert.equal(families.get("process_cpu_seconds_total")?.type, "counter");
    assert.ok(families.has("troupe_messages_processed_total"));

    const [checkout] = spans().filter((span) => span.name === "checkout");
    assert.equal(checkout.traceId, traceId);
    assert.equal(checkout.parentSpanId, "");

    for (const key of keys) {
      const all = spans();
      const publish = spanOf(all, `${orders} publish`, key)!;
      const process = spanOf(all, `${orders} process`, key)!;
      const output = spanOf(all, `${invoices} publish`, key)!;
      const billed = spanOf(all, `${invoices} process`, key)!;
      for (const span of [publish, process, output, billed]) {
        assert.ok(span, `${key}: every hop has its span`);
        assert.equal(span.traceId, traceId, `${key}: ${span.name} is in the producer's trace`);
        assert.equal(span.scope, "troupe");
        assert.equal(span.attributes["messaging.system"], "kafka");
      }
      // Producer -> enricher -> its output -> billing: parents, and links to the creation
      // context as the messaging conventions ask.
      assert.equal(publish.service, "checkout");
      assert.equal(publish.kind, SPAN_KIND.producer);
      assert.equal(publish.parentSpanId, checkout.spanId);
      assert.equal(publish.attributes["messaging.destination.name"], orders);
      assert.equal(publish.attributes["messaging.destination.partition.id"], "0");
      assert.equal(typeof publish.attributes["messaging.kafka.offset"], "number");

      assert.equal(process.service, "enricher");
      assert.equal(process.kind, SPAN_KIND.consumer);
      assert.equal(process.parentSpanId, publish.spanId);
      assert.deepEqual(process.links, [{ traceId, spanId: publish.spanId }]);
      assert.deepEqual(
        {
          destination: process.attributes["messaging.destination.name"],
          partition: process.attributes["messaging.destination.partition.id"],
          offset: typeof process.attributes["messaging.kafka.offset"],
          group: process.attributes["messaging.consumer.group.name"],
          operation: process.attributes["messaging.operation.name"],
          type: process.attributes["messaging.operation.type"],
        },
        {
          destination: orders,
          partition: "0",
          offset: "number",
          group: enricherGroup,
          operation: "process",
          type: "process",
        },
      );
      const enrich = all.find((span) =>
        span.name === "enrich" && span.parentSpanId === process.spanId
      );
      assert.ok(enrich, `${key}: the handler's own span is a child of the process span`);

      assert.equal(output.service, "enricher");
      assert.equal(output.kind, SPAN_KIND.producer);
      assert.equal(output.parentSpanId, process.spanId);

      assert.equal(billed.service, "billing");
      assert.equal(billed.parentSpanId, output.spanId);
      assert.equal(billed.attributes["messaging.consumer.group.name"], billingGroup);
    }

    const ok = spanOf(spans(), `${invoices} process`, "ok-1")!;
    assert.equal(ok.status.code, 0);
    assert.deepEqual(ok.events, []);

    // A failed attempt is an event; its retry succeeded, so the span is not an error.
    const flaky = spanOf(spans(), `${invoices} process`, "flaky-1")!;
    assert.deepEqual(flaky.events.map((event) => event.name), ["exception", "retry"]);
    assert.equal(flaky.events[0].attributes["troupe.attempt"], 1);
    assert.equal(flaky.events[0].attributes["exception.message"], "flaky flaky-1");
    assert.equal(flaky.events[1].attributes["troupe.attempt"], 2);
    assert.equal(flaky.status.code, 0);

    // Retries exhausted: dead-lettered, an error, and the dead letter continues the trace.
    const poison = spanOf(spans(), `${invoices} process`, "poison-1")!;
    assert.deepEqual(poison.events.map((event) => event.name), ["exception", "retry", "exception"]);
    assert.equal(poison.status.code, 2);
    assert.match(poison.status.message, /dead-lettered to .*cannot bill poison-1/);
    assert.equal(poison.attributes["troupe.dead_letter.topic"], deadLetters);
    assert.equal(poison.attributes["troupe.dead_letter.reason"], "retries-exhausted");
    assert.equal(poison.attributes["error.type"], "Error");
    const deadLetter = spanOf(spans(), `${deadLetters} publish`, "poison-1")!;
    assert.equal(deadLetter.parentSpanId, poison.spanId);
    assert.equal(deadLetter.traceId, traceId);
    const [record] = await readRecords(deadLetters, 1);
    assert.equal(record.headers.traceparent, `00-${traceId}-${deadLetter.spanId}-01`);

    // The outside client's record is processed in the outside trace.
    const fromOutside = spanOf(spans(), `${invoices} process`, "outside-1")!;
    assert.equal(fromOutside.traceId, outsideTrace);
    assert.equal(fromOutside.parentSpanId, outsideParent);
    assert.deepEqual(fromOutside.links, [{ traceId: outsideTrace, spanId: outsideParent }]);

    // Logs join the traces: the handler's context.log, and troupe's own dead-letter warning.
    const enrichProcess = spanOf(spans(), `${orders} process`, "ok-1")!;
    const enriching = logRecords(enricher).find((record) => record.message === 'enriching "ok-1"');
    assert.deepEqual(
      { traceId: enriching?.properties.traceId, spanId: enriching?.properties.spanId },
      { traceId, spanId: enrichProcess.spanId },
    );
    const warning = logRecords(billing).find((record) =>
      record.message.startsWith("dead-lettered")
    );
    assert.deepEqual(
      { traceId: warning?.properties.traceId, spanId: warning?.properties.spanId },
      { traceId, spanId: poison.spanId },
    );

    await Promise.all([stop(enricher), stop(billing)]);
  },
});
