/**
 * The dashboard's routes on the observability server: the page and its files, the event
 * stream, the dead-letter list, and the controls (pause, resume, replay), which need the
 * control token.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import {
  type ConnectionOptions,
  describeError,
  listDeadLetters,
  parseDeadLetterId,
  type Processor,
  PROCESSOR_DEFAULTS,
  replayDeadLetters,
  TopicError,
} from "../mod.ts";
import { ControlGate } from "./control_token.ts";
import { DashboardFeed } from "./dashboard_feed.ts";
import { deadLetterJson } from "./dead_letter_json.ts";
import { DASHBOARD_HTML } from "./dashboard_page.ts";
import { DASHBOARD_JS } from "./dashboard_script.ts";
import { DASHBOARD_CSS } from "./dashboard_style.ts";

const log = getLogger(["troupe", "cli"]);

/** What the dashboard can do beyond showing the processor. */
export interface DashboardOptions {
  /**
   * The token mutating requests must carry (`Authorization: Bearer <token>`). Default: none,
   * and the page is read-only: every mutating request is refused with 403.
   */
  controlToken?: string;
  /** How to reach Kafka, for the dead-letter view and replays. Default: no dead-letter view. */
  connection?: ConnectionOptions;
  /** Dead-letter topics the page offers (it adds those its events name). Default: none. */
  deadLetterTopics?: readonly string[];
  /** The mailbox capacity, for the fill bars. Default: `PROCESSOR_DEFAULTS.mailboxCapacity`. */
  mailboxCapacity?: number;
}

/** What the dashboard reads from and asks of the processor. */
export type DashboardProcessor = Pick<Processor, "status" | "on" | "pause" | "resume">;

/** The page's files: fixed text, each with its type. */
const FILES: Record<string, { body: string; type: string }> = {
  "/": { body: DASHBOARD_HTML, type: "text/html; charset=utf-8" },
  "/dashboard.css": { body: DASHBOARD_CSS, type: "text/css; charset=utf-8" },
  "/dashboard.js": { body: DASHBOARD_JS, type: "text/javascript; charset=utf-8" },
};

/** The page may load only its own files and talk only to its own server. */
const PAGE_HEADERS = {
  "content-security-policy": "default-src 'none'; script-src 'self'; style-src 'self'; " +
    "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; " +
    "frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cache-control": "no-store",
};

/** Dead letters a page lists at most per partition. */
const MAX_LISTED = 1000;

/** Why a request was refused, as the page and the log say it. */
const REFUSALS = {
  "controls-off": "controls are off: start the processor with --control-token " +
    "(or TROUPE_CONTROL_TOKEN) to allow them",
  "missing-token": "this request needs the control token (Authorization: Bearer <token>)",
  "wrong-token": "the control token is wrong",
} as const;

/**
 * The dashboard of one observability server.
 *
 * @example
 * ```ts ignore
 * const dashboard = new Dashboard(processor, { controlToken: Deno.env.get("TOKEN") });
 * Deno.serve((request) => dashboard.handle(request) ?? new Response("not found", { status: 404 }));
 * ```
 */
export class Dashboard {
  readonly #processor: DashboardProcessor;
  readonly #gate: ControlGate;
  readonly #connection: ConnectionOptions | undefined;
  readonly #feed: DashboardFeed;
  #replaying = false;

  /**
   * Starts the feed the pages read.
   *
   * @param processor The processor shown (and paused or resumed).
   * @param options Token, Kafka connection and what the page offers.
   */
  constructor(processor: DashboardProcessor, options: DashboardOptions = {}) {
    this.#processor = processor;
    this.#gate = new ControlGate(options.controlToken);
    this.#connection = options.connection;
    this.#feed = new DashboardFeed({
      processor,
      hello: {
        controls: this.#gate.enabled,
        deadLetters: options.connection !== undefined,
        deadLetterTopics: options.deadLetterTopics ?? [],
        mailboxCapacity: options.mailboxCapacity ?? PROCESSOR_DEFAULTS.mailboxCapacity,
      },
    });
  }

  /** Pages connected now. */
  get pages(): number {
    return this.#feed.pages;
  }

  /** The answer to `request` when it is one of the dashboard's, else `null`. */
  handle(request: Request): Response | Promise<Response> | null {
    const url = new URL(request.url);
    const path = url.pathname;
    const file = FILES[path];
    const reading = request.method === "GET" || request.method === "HEAD";
    if (file) {
      if (!reading) return notAllowed("GET, HEAD");
      return new Response(file.body, { headers: { "content-type": file.type, ...PAGE_HEADERS } });
    }
    switch (path) {
      case "/events":
        return reading ? this.#feed.connect() : notAllowed("GET");
      case "/api/dead-letters":
        return reading ? this.#list(url.searchParams) : notAllowed("GET");
      case "/api/partitions/pause":
      case "/api/partitions/resume":
        return request.method === "POST"
          ? this.#guarded(request, () => this.#pauseOrResume(request, path.endsWith("pause")))
          : notAllowed("POST");
      case "/api/dead-letters/replay":
        return request.method === "POST"
          ? this.#guarded(request, () => this.#replay(request))
          : notAllowed("POST");
      default:
        return null;
    }
  }

  /** Ends the pages' streams and stops the feed. */
  close(): void {
    this.#feed.close();
  }

  /** Runs `action` only for a request with the right token; 403 otherwise, before anything. */
  async #guarded(request: Request, action: () => Promise<Response>): Promise<Response> {
    const verdict = this.#gate.judge(request);
    if (!verdict.allowed) {
      // Drain the body so the connection can be reused; nothing in it is looked at.
      await request.body?.cancel().catch(() => {});
      log.warn("refused {method} {path}: {why}", {
        method: request.method,
        path: new URL(request.url).pathname,
        why: verdict.why,
      });
      return json({ error: REFUSALS[verdict.why] }, 403);
    }
    return await action();
  }

  async #pauseOrResume(request: Request, pause: boolean): Promise<Response> {
    const body = await readJson(request);
    if (body === null) return json({ error: "the body must be a JSON object" }, 400);
    const { topic, partition } = body as { topic?: unknown; partition?: unknown };
    if (typeof topic !== "string" || !Number.isInteger(partition) || (partition as number) < 0) {
      return json({ error: 'the body must be {"topic": string, "partition": integer >= 0}' }, 400);
    }
    const assigned = this.#processor.status().partitions.some((row) =>
      row.topic === topic && row.partition === partition
    );
    if (!assigned) {
      return json({ error: `${topic}[${partition}] is not assigned to this processor` }, 404);
    }
    const where = { topic, partition: partition as number };
    if (pause) this.#processor.pause(where);
    else this.#processor.resume(where);
    log.info("{action} {topic}[{partition}] from the dashboard", {
      action: pause ? "paused" : "resumed",
      ...where,
    });
    return json({ ok: true, action: pause ? "paused" : "resumed", ...where });
  }

  async #list(params: URLSearchParams): Promise<Response> {
    if (!this.#connection) return json({ error: "this server has no dead-letter view" }, 404);
    const topic = params.get("topic")?.trim() ?? "";
    if (!/^[a-zA-Z0-9._-]{1,249}$/.test(topic)) {
      return json({ error: "topic must be a topic name" }, 400);
    }
    const lastText = params.get("last") ?? "200";
    const last = Number(lastText);
    if (!Number.isInteger(last) || last < 1 || last > MAX_LISTED) {
      return json({ error: `last must be an integer from 1 to ${MAX_LISTED}` }, 400);
    }
    try {
      const letters = await listDeadLetters(this.#connection, { topic, last, timeoutMs: 15_000 });
      return json({ topic, deadLetters: letters.map(deadLetterJson) });
    } catch (error) {
      return kafkaFailure(error);
    }
  }

  async #replay(request: Request): Promise<Response> {
    if (!this.#connection) return json({ error: "this server has no dead-letter view" }, 404);
    const body = await readJson(request);
    const { topic, ids, to, dryRun } = (body ?? {}) as Record<string, unknown>;
    if (typeof topic !== "string" || !/^[a-zA-Z0-9._-]{1,249}$/.test(topic)) {
      return json({ error: "topic must be a topic name" }, 400);
    }
    if (!Array.isArray(ids) || ids.length === 0 || ids.some((id) => typeof id !== "string")) {
      return json({ error: 'ids must be a non-empty list of "partition:offset" strings' }, 400);
    }
    try {
      for (const id of ids) parseDeadLetterId(id);
    } catch (error) {
      return json({ error: describeError(error) }, 400);
    }
    if (to !== undefined && (typeof to !== "string" || !/^[a-zA-Z0-9._-]{1,249}$/.test(to))) {
      return json({ error: "to must be a topic name" }, 400);
    }
    if (this.#replaying) return json({ error: "a replay is already running" }, 409);
    this.#replaying = true;
    try {
      const result = await replayDeadLetters(this.#connection, {
        topic,
        filter: { ids: ids as string[] },
        to: to as string | undefined,
        dryRun: dryRun === true,
        timeoutMs: 15_000,
      });
      log.info("{what} {count} dead letter(s) of {topic} from the dashboard (replay {replayId})", {
        what: result.dryRun ? "dry run: would replay" : "replayed",
        count: result.records.length,
        topic,
        replayId: result.replayId,
      });
      return json({
        replayId: result.replayId,
        dryRun: result.dryRun,
        records: result.records.map((r) => ({ id: r.id, to: r.to, partition: r.partition })),
        duplicates: result.duplicates,
        unroutable: result.unroutable,
      });
    } catch (error) {
      return kafkaFailure(error);
    } finally {
      this.#replaying = false;
    }
  }
}

function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body) + "\n", {
    status,
    headers: { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" },
  });
}

function notAllowed(allow: string): Response {
  return new Response("method not allowed\n", { status: 405, headers: { allow } });
}

/** The request's JSON object body, or `null` when it is not one. */
async function readJson(request: Request): Promise<Record<string, unknown> | null> {
  try {
    const body = await request.json();
    return body !== null && typeof body === "object" && !Array.isArray(body) ? body : null;
  } catch {
    return null;
  }
}

/** A topic that does not exist is the asker's mistake (404); anything else is Kafka's (502). */
function kafkaFailure(error: unknown): Response {
  if (error instanceof TopicError) return json({ error: error.message }, 404);
  return json({ error: describeError(error) }, 502);
}
