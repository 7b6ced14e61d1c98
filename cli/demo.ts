/**
 * The demo: 20,000 JSON orders through a processor whose handler crashes on a few of them,
 * with live progress and a report of what was lost (nothing).
 *
 * @module
 */

import { createAdmin, createProcessor, createProducer, describeError, json } from "../mod.ts";
import { LocalKafkaError } from "../testing/errors.ts";
import { type LocalKafka, startLocalKafka } from "../testing/local_kafka.ts";
import { startMemoryKafka } from "../testing/memory_kafka.ts";
import { startLiveView } from "./live_view.ts";

/** An order, as the demo produces it. */
interface Order {
  id: number;
  customer: string;
  amount: number;
}

/** Options of {@linkcode runDemo}. */
export interface DemoOptions {
  /**
   * Brokers to use. Default: `KAFKA_BROKERS`, else a local broker started for the demo, else
   * (without Java or Maven) troupe's in-memory Kafka.
   */
  brokers?: string;
  /** Orders to produce. Default: 20 000. */
  messages?: number;
  /** Partitions of the demo topic. Default: 6. */
  partitions?: number;
  /** Simulated work per order, ms. Default: 1. */
  workMs?: number;
  /** Order ids whose first processing crashes the handler. Default: 1234, 7777, 15000. */
  crashOn?: number[];
  /** Gives up after this long, ms. Default: 180 000. */
  timeoutMs?: number;
  /** Redraw progress in place. Default: stdout is a terminal. */
  interactive?: boolean;
  /** Where text goes. Default: stdout. */
  print?: (line: string) => void;
}

/** What the demo found. */
export interface DemoReport {
  /** Orders produced. */
  produced: number;
  /** Distinct orders processed. */
  processed: number;
  /** Orders processed more than once. */
  duplicates: number;
  /** Actor restarts. */
  restarts: number;
  /** Orders never processed. */
  lost: number;
  /** True when the group's committed offsets equal the end offsets. */
  committedEqualsEnd: boolean;
}

/**
 * Runs the demo and returns its report; `report.lost === 0 && report.committedEqualsEnd`
 * is success.
 *
 * @example
 * ```ts ignore
 * const report = await runDemo({ messages: 2000 });
 * Deno.exit(report.lost === 0 && report.committedEqualsEnd ? 0 : 1);
 * ```
 */
export async function runDemo(options: DemoOptions = {}): Promise<DemoReport> {
  const print = options.print ?? ((line: string) => console.log(line));
  const total = options.messages ?? 20_000;
  const partitions = options.partitions ?? 6;
  const workMs = options.workMs ?? 1;
  const crashOn = new Set(options.crashOn ?? [1234, 7777, 15_000].filter((id) => id < total));

  let brokers = options.brokers ?? Deno.env.get("KAFKA_BROKERS");
  let stopBroker = async () => {};
  let local: LocalKafka | undefined;
  if (brokers) {
    print(`Using Kafka at ${brokers}`);
  } else if (onPath("java")) {
    print("Starting a local Kafka broker (KAFKA_BROKERS is not set)...");
    try {
      local = await startLocalKafka();
    } catch (error) {
      const missing = error instanceof LocalKafkaError &&
        (error.code === "java-missing" || error.code === "maven-missing");
      if (!missing) throw error;
    }
  }
  if (local) {
    const kafka = local;
    brokers = kafka.brokers.join(",");
    stopBroker = () => kafka.stop();
    print(`Local Kafka 3.9 is up at ${brokers}`);
  } else if (!brokers) {
    // No broker to be had: the processor is still worth seeing, on the in-memory cluster.
    print(
      "Java/Maven not found: running the demo on troupe's in-memory Kafka; this shows the " +
        "processor, not Kafka",
    );
    const kafka = startMemoryKafka();
    brokers = kafka.brokers.join(",");
    stopBroker = () => kafka.stop();
  }

  const stamp = `${Date.now().toString(36)}-${crypto.randomUUID().slice(0, 6)}`;
  const topic = `troupe-demo-orders-${stamp}`;
  const groupId = `troupe-demo-${stamp}`;
  const admin = createAdmin({ brokers, clientId: "troupe-demo" });
  try {
    await admin.createTopics([{ topic, partitions }]);

    const producedAt = performance.now();
    const producer = createProducer({
      brokers,
      clientId: "troupe-demo",
      valueCodec: json<Order>(),
    });
    const order = (id: number) => {
      const customer = `customer-${id % 500}`;
      return { topic, key: customer, value: { id, customer, amount: (id % 97) + 0.99 } };
    };
    // Twenty concurrent tasks, each sending its orders a hundred at a time.
    const tasks = 20;
    await Promise.all(Array.from({ length: tasks }, async (_, task) => {
      const mine: number[] = [];
      for (let id = task; id < total; id += tasks) mine.push(id);
      for (let i = 0; i < mine.length; i += 100) {
        await producer.sendAll(mine.slice(i, i + 100).map(order));
      }
    }));
    await producer.close();
    print(
      `Produced ${total} orders to ${topic} (${partitions} partitions) in ${
        ((performance.now() - producedAt) / 1000).toFixed(1)
      } s`,
    );
    print(
      `Processing; the handler crashes on orders ${
        [...crashOn].join(", ")
      } the first time it sees them.`,
    );

    const seen = new Map<number, number>();
    let duplicates = 0;
    const crashed = new Set<number>();
    const allDone = Promise.withResolvers<void>();
    const processor = createProcessor({
      brokers,
      clientId: "troupe-demo",
      groupId,
      topics: topic,
      fromBeginning: true,
      valueCodec: json<Order>(),
      restart: { backoff: { initialMs: 200, maxMs: 2000 } },
      handler: async (message) => {
        const order = message.value!;
        if (crashOn.has(order.id) && !crashed.has(order.id)) {
          crashed.add(order.id);
          throw new Error(`payment gateway timed out for order ${order.id}`);
        }
        if (workMs > 0) await new Promise((resolve) => setTimeout(resolve, workMs));
        const copies = (seen.get(order.id) ?? 0) + 1;
        seen.set(order.id, copies);
        if (copies > 1) duplicates++;
        if (seen.size === total) allDone.resolve();
      },
    });
    const view = startLiveView({
      title: "troupe demo",
      status: () => processor.status(),
      expected: total,
      interactive: options.interactive,
      write: options.print ? (text) => print(text.trimEnd()) : undefined,
      endOffsets: async () =>
        new Map((await admin.offsets(topic)).map((row) => [`${topic}:${row.partition}`, row.end])),
    });
    processor.on(
      "actor-crashed",
      (event) =>
        view.note(
          `actor ${event.topic.slice(-6)}[${event.partition}] crashed at offset ${event.offset}: ` +
            `${describeError(event.error)}; restart in ${event.restartInMs} ms`,
        ),
    );
    processor.on(
      "actor-restarted",
      (event) => view.note(`actor [${event.partition}] restarted at offset ${event.offset}`),
    );

    // The first SIGINT or SIGTERM stops gracefully (and reports); a second one at once.
    const interrupted = Promise.withResolvers<void>();
    let signals = 0;
    const onSignal = () => {
      if (++signals > 1) Deno.exit(130);
      print("Stopping: finishing the messages in hand and committing (again to stop at once)...");
      interrupted.resolve();
    };
    Deno.addSignalListener("SIGINT", onSignal);
    Deno.addSignalListener("SIGTERM", onSignal);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<void>((resolve) =>
      timer = setTimeout(resolve, options.timeoutMs ?? 180_000)
    );
    try {
      await processor.start();
      await Promise.race([allDone.promise, interrupted.promise, timedOut, processor.done]);
    } finally {
      clearTimeout(timer);
      await processor.stop();
      view.stop();
      Deno.removeSignalListener("SIGINT", onSignal);
      Deno.removeSignalListener("SIGTERM", onSignal);
    }

    const lag = await admin.lag(groupId, [topic]);
    const ends = await admin.offsets(topic);
    const committedEqualsEnd = ends.every((end) =>
      lag.find((row) => row.partition === end.partition)?.committed === end.end
    );
    const report: DemoReport = {
      produced: total,
      processed: seen.size,
      duplicates,
      restarts: processor.status().totals.restarts,
      lost: total - seen.size,
      committedEqualsEnd,
    };
    print("");
    print("troupe demo report");
    print(`  produced            ${report.produced}`);
    print(`  processed           ${report.processed}`);
    print(`  duplicates          ${report.duplicates}`);
    print(`  restarts            ${report.restarts}`);
    print(`  lost                ${report.lost}`);
    print(`  committed = end     ${report.committedEqualsEnd ? "yes" : "no"}`);
    print(
      report.lost === 0 && report.committedEqualsEnd
        ? "Nothing was lost: every order was processed and every offset committed."
        : "Something is missing: see above.",
    );
    await admin.deleteTopics([topic]).catch(() => {});
    return report;
  } finally {
    await admin.close().catch(() => {});
    await stopBroker();
  }
}

/** True when an executable called `command` is on `PATH`. */
function onPath(command: string): boolean {
  const windows = Deno.build.os === "windows";
  const names = windows ? [`${command}.exe`, `${command}.cmd`, command] : [command];
  for (const dir of (Deno.env.get("PATH") ?? "").split(windows ? ";" : ":")) {
    if (!dir) continue;
    for (const name of names) {
      try {
        if (Deno.statSync(`${dir}/${name}`).isFile) return true;
      } catch {
        // Not in this folder.
      }
    }
  }
  return false;
}
