/**
 * What the dashboard's pages are told, as server-sent events over one connection per page:
 * the processor's status every second, its recent throughput and lag for the charts, and its
 * lifecycle events as they happen.
 *
 * @module
 */

import {
  describeError,
  type Processor,
  type ProcessorEvent,
  type ProcessorStatus,
} from "../mod.ts";

/** What the feed watches and how much it keeps. */
export interface DashboardFeedOptions {
  /** The processor. */
  processor: Pick<Processor, "status" | "on">;
  /** How often the status is sampled and sent, ms. Default: 1 000. */
  sampleMs?: number;
  /** Samples kept for the charts. Default: 300 (5 minutes at the default period). */
  historySize?: number;
  /** Lifecycle events kept for a page that opens. Default: 100. */
  eventsKept?: number;
  /** What a page is told first, beside status, history and events. */
  hello?: Record<string, unknown>;
}

/** One point of the charts. */
export interface Sample {
  /** When, ms since the epoch. */
  readonly t: number;
  /** Messages processed per second since the previous sample. */
  readonly rate: number;
  /** Total lag over the assigned partitions. */
  readonly lag: number;
}

/** A lifecycle event as a page shows it. */
export interface FeedEvent {
  /** When, ms since the epoch. */
  readonly t: number;
  /** The event's type, e.g. `actor-crashed`. */
  readonly type: string;
  /** Its topic, for an event about a partition. */
  readonly topic?: string;
  /** Its partition, for an event about a partition. */
  readonly partition?: number;
  /** The dead-letter topic, for a `dead-lettered` event. */
  readonly deadLetterTopic?: string;
  /** How bad: `problem` events make their partition stand out. */
  readonly level: "info" | "problem";
  /** One line for a person. */
  readonly text: string;
}

/** The events a page lists; the others (commits, backpressure pauses) are too frequent. */
const SHOWN: ReadonlySet<ProcessorEvent["type"]> = new Set([
  "joined",
  "rebalancing",
  "partition-assigned",
  "partition-revoked",
  "actor-crashed",
  "actor-restarted",
  "dead-lettered",
  "partition-seeked",
  "partition-paused",
  "partition-resumed",
  "commit-failed",
  "consumer-crashed",
  "connection-lost",
  "connection-restored",
  "processor-stopped",
  "processor-failed",
]);

/** Chunks a page may leave unread before it is dropped (it will reconnect): ~2 minutes. */
const MAX_UNREAD = 120;

const encoder = new TextEncoder();

/**
 * The feed of one observability server, shared by every page it serves: one status sample
 * per period whatever the number of pages, serialized once for all of them. A page that
 * closes is forgotten at once.
 *
 * @example
 * ```ts ignore
 * const feed = new DashboardFeed({ processor });
 * Deno.serve((request) => feed.connect(request.signal));
 * ```
 */
export class DashboardFeed {
  readonly #processor: Pick<Processor, "status" | "on">;
  readonly #historySize: number;
  readonly #eventsKept: number;
  readonly #hello: Record<string, unknown>;
  readonly #history: Sample[] = [];
  readonly #events: FeedEvent[] = [];
  readonly #pages = new Set<ReadableStreamDefaultController<Uint8Array>>();
  readonly #timer: ReturnType<typeof setInterval>;
  readonly #unsubscribe: () => void;
  #lastProcessed: number | null = null;
  #lastAt = 0;
  #status: ProcessorStatus;

  /** Starts sampling and listening. */
  constructor(options: DashboardFeedOptions) {
    this.#processor = options.processor;
    this.#historySize = options.historySize ?? 300;
    this.#eventsKept = options.eventsKept ?? 100;
    this.#hello = options.hello ?? {};
    this.#status = this.#processor.status();
    this.#unsubscribe = this.#processor.on("*", (event) => {
      if (SHOWN.has(event.type) && !isBackpressure(event)) this.#record(event);
    });
    this.#timer = setInterval(() => this.#sample(), options.sampleMs ?? 1000);
    // The sampler alone must not keep a program alive that is done otherwise.
    Deno.unrefTimer(this.#timer);
  }

  /** Pages connected now. */
  get pages(): number {
    return this.#pages.size;
  }

  /**
   * A page's event stream: `hello` (status, history, recent events and the page's settings),
   * then `status` every period and `lifecycle` per event, until the page goes away.
   */
  connect(): Response {
    let page: ReadableStreamDefaultController<Uint8Array>;
    const body = new ReadableStream<Uint8Array>({
      start: (controller) => {
        page = controller;
        this.#pages.add(controller);
        controller.enqueue(frame("hello", {
          ...this.#hello,
          status: compact(this.#status),
          history: this.#history,
          events: this.#events,
        }));
      },
      cancel: () => void this.#pages.delete(page),
    });
    return new Response(body, {
      headers: {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-store",
        // Proxies that buffer would hold the stream back.
        "x-accel-buffering": "no",
      },
    });
  }

  /** Ends every page's stream and stops sampling and listening. */
  close(): void {
    clearInterval(this.#timer);
    this.#unsubscribe();
    for (const page of this.#pages) {
      try {
        page.close();
      } catch {
        // Already closed by the page.
      }
    }
    this.#pages.clear();
  }

  #sample(): void {
    const status = this.#processor.status();
    const now = Date.now();
    const processed = status.totals.processed;
    // Counters start again when partitions move: a drop is a rebalance, not negative work.
    const rate = this.#lastProcessed === null
      ? 0
      : Math.max(0, processed - this.#lastProcessed) / Math.max(0.001, (now - this.#lastAt) / 1000);
    this.#lastProcessed = processed;
    this.#lastAt = now;
    let lag = 0;
    for (const row of status.partitions) lag += row.lag ?? 0;
    const sample: Sample = { t: now, rate: Math.round(rate), lag };
    this.#history.push(sample);
    if (this.#history.length > this.#historySize) this.#history.shift();
    this.#status = status;
    if (this.#pages.size > 0) this.#broadcast(frame("status", { status: compact(status), sample }));
  }

  #record(event: ProcessorEvent): void {
    const entry = feedEvent(event);
    this.#events.push(entry);
    if (this.#events.length > this.#eventsKept) this.#events.shift();
    if (this.#pages.size > 0) this.#broadcast(frame("lifecycle", entry));
  }

  #broadcast(chunk: Uint8Array): void {
    for (const page of this.#pages) {
      if ((page.desiredSize ?? 0) < -MAX_UNREAD) {
        this.#pages.delete(page);
        page.error(new Error("the page stopped reading"));
        continue;
      }
      page.enqueue(chunk);
    }
  }
}

/** One server-sent event. */
function frame(event: string, data: unknown): Uint8Array {
  return encoder.encode(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
}

/** The status without the processing-time histogram, which the page does not show. */
function compact(status: ProcessorStatus): Omit<ProcessorStatus, "processingTime"> {
  const { processingTime: _, ...rest } = status;
  return rest;
}

function isBackpressure(event: ProcessorEvent): boolean {
  return (event.type === "partition-paused" || event.type === "partition-resumed") &&
    event.reason === "backpressure";
}

/**
 * A lifecycle event as a page lists it.
 *
 * @example
 * ```ts
 * import { feedEvent } from "./dashboard_feed.ts";
 * console.log(feedEvent({ type: "rebalancing" }).text); // "the group is rebalancing"
 * ```
 */
export function feedEvent(event: ProcessorEvent): FeedEvent {
  const t = Date.now();
  const where = "partition" in event
    ? { topic: event.topic, partition: event.partition }
    : "topic" in event
    ? { topic: event.topic }
    : {};
  const info = (text: string): FeedEvent => ({
    t,
    type: event.type,
    ...where,
    level: "info",
    text,
  });
  const problem = (text: string): FeedEvent => ({
    t,
    type: event.type,
    ...where,
    level: "problem",
    text,
  });
  switch (event.type) {
    case "joined":
      return info(`joined the group with ${event.assignment.length} partition(s)`);
    case "rebalancing":
      return info("the group is rebalancing");
    case "partition-assigned":
      return info("assigned");
    case "partition-revoked":
      return info(`revoked (${event.dropped} buffered message(s) dropped)`);
    case "actor-crashed":
      return problem(
        `actor crashed at offset ${event.offset}: ${describeError(event.error)}` +
          (event.restartInMs === null ? "; escalating" : `; restart in ${event.restartInMs} ms`),
      );
    case "actor-restarted":
      return info(`actor restarted at offset ${event.offset} (restart ${event.restarts})`);
    case "dead-lettered":
      return {
        ...problem(
          `offset ${event.offset} dead-lettered to ${event.deadLetterTopic} (${event.reason}): ` +
            describeError(event.error),
        ),
        deadLetterTopic: event.deadLetterTopic,
      };
    case "partition-seeked":
      return info(`moved to offset ${event.offset}`);
    case "partition-paused":
      return info(`paused (${event.reason})`);
    case "partition-resumed":
      return info(`resumed (${event.reason})`);
    case "commit-failed":
      return problem(
        `commit failed${event.rebalance ? " (rebalance)" : ""}: ${describeError(event.error)}`,
      );
    case "consumer-crashed":
      return problem(
        `the Kafka consumer crashed${event.restarting ? " (restarting)" : ""}: ${
          describeError(event.error)
        }`,
      );
    case "connection-lost":
      return problem(`Kafka connection lost: ${describeError(event.error)}`);
    case "connection-restored":
      return info(`Kafka connection restored after ${Math.round(event.downMs)} ms`);
    case "processor-failed":
      return problem(`processor failed: ${describeError(event.error)}`);
    case "topic-added":
      return info(`topic added to the subscription (${event.partitions} partitions)`);
    case "topic-deleted":
      return problem("topic deleted: its partitions are dropped");
    case "partitions-added":
      return info(`partitions added: ${event.from} -> ${event.to}`);
    default:
      return info(event.type.replaceAll("-", " "));
  }
}
