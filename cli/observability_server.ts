/**
 * The HTTP endpoints of `troupe run --metrics-port`: `/metrics` (Prometheus), `/health`
 * (liveness), `/ready` (readiness), `/status` (the processor's status as JSON), and the
 * dashboard at `/` (see `dashboard.ts`).
 *
 * @module
 */

import type { Processor } from "../mod.ts";
import { Dashboard, type DashboardOptions } from "./dashboard.ts";
import { createProcessorMetrics } from "./metrics.ts";
import { createProcessMetrics } from "./process_metrics.ts";
import { renderExposition } from "./prometheus.ts";
import { EXPOSITION_CONTENT_TYPE } from "./prometheus.ts";

/** Where to listen, and what to observe. */
export interface ObservabilityServerOptions {
  /** The processor to observe (and, with a control token, to pause and resume). */
  processor: Pick<Processor, "status" | "on" | "pause" | "resume">;
  /** Port; 0 picks a free one. */
  port: number;
  /** Interface to listen on. Default: `"0.0.0.0"`. */
  hostname?: string;
  /** The dashboard's control token and dead-letter view. Default: read-only, no dead letters. */
  dashboard?: DashboardOptions;
}

/** A running server. */
export interface ObservabilityServer extends AsyncDisposable {
  /** The address it listens on (the real port when 0 was asked for). */
  readonly hostname: string;
  /** Its port. */
  readonly port: number;
  /** Dashboard pages open now (each holds one event stream). */
  readonly pages: number;
  /** Stops listening and stops collecting. */
  close(): Promise<void>;
}

/**
 * The answer to one request, given the processor. Exported for tests; the server is a thin
 * shell around it.
 *
 * - `GET /metrics`: the metrics, Prometheus text format.
 * - `GET /health`: 200 while the processor is alive (idle, starting, running, stopping);
 *   503 once it stopped or failed. A lost Kafka connection is reported, not fatal: the
 *   consumer reconnects by itself, and a restart would not help.
 * - `GET /ready`: 200 when it runs, joined its group and holds at least one partition.
 * - `GET /status`: `processor.status()` as JSON.
 * - the `dashboard`'s routes, when there is one: `GET /` (the page), `GET /events` (its
 *   server-sent events), `/api/...` (dead letters, controls).
 *
 * @example
 * ```ts ignore
 * const respond = observabilityHandler(processor, () => metrics.render());
 * const response = await respond(new Request("http://localhost/ready"));
 * ```
 */
export function observabilityHandler(
  processor: Pick<Processor, "status">,
  renderMetrics: () => string,
  dashboard?: Pick<Dashboard, "handle">,
): (request: Request) => Response | Promise<Response> {
  const json = (body: unknown, status = 200) =>
    new Response(JSON.stringify(body, null, 2) + "\n", {
      status,
      headers: { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" },
    });
  return (request) => {
    const answer = dashboard?.handle(request);
    if (answer) return answer;
    if (request.method !== "GET" && request.method !== "HEAD") {
      return new Response("method not allowed\n", { status: 405, headers: { allow: "GET, HEAD" } });
    }
    const path = new URL(request.url).pathname;
    switch (path) {
      case "/metrics":
        return new Response(renderMetrics(), {
          headers: { "content-type": EXPOSITION_CONTENT_TYPE, "cache-control": "no-store" },
        });
      case "/health": {
        const { state, error, connection } = processor.status();
        const alive = state !== "stopped" && state !== "failed";
        return json(
          { status: alive ? "ok" : "down", state, error, kafkaConnected: connection.connected },
          alive ? 200 : 503,
        );
      }
      case "/ready": {
        const { state, memberId, partitions } = processor.status();
        const reason = state !== "running"
          ? `the processor is ${state}`
          : memberId === null
          ? "not a member of the group yet"
          : partitions.length === 0
          ? "no partition assigned"
          : null;
        return json(
          { ready: reason === null, state, partitions: partitions.length, reason },
          reason === null ? 200 : 503,
        );
      }
      case "/status":
        return json(processor.status());
      case "/":
        return new Response("troupe: /metrics /health /ready /status\n"); // without a dashboard
      default:
        return new Response("not found\n", { status: 404 });
    }
  };
}

/**
 * Starts the server. Resolves once it listens.
 *
 * @example
 * ```ts ignore
 * const server = await startObservabilityServer({ processor, port: 9464 });
 * console.log(`metrics on http://${server.hostname}:${server.port}/metrics`);
 * await server.close();
 * ```
 *
 * @throws {Deno.errors.AddrInUse} when the port is taken.
 */
export async function startObservabilityServer(
  options: ObservabilityServerOptions,
): Promise<ObservabilityServer> {
  const metrics = createProcessorMetrics(options.processor);
  const dashboard = new Dashboard(options.processor, options.dashboard);
  const processMetrics = createProcessMetrics();
  const render = () => metrics.render() + renderExposition(processMetrics.families());
  const listening = Promise.withResolvers<Deno.NetAddr>();
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = Deno.serve({
      port: options.port,
      hostname: options.hostname ?? "0.0.0.0",
      // Deno prints "Listening on ..." to stdout by default; the caller logs instead.
      onListen: (addr) => listening.resolve(addr),
    }, observabilityHandler(options.processor, render, dashboard));
  } catch (error) {
    metrics.close();
    processMetrics.close();
    dashboard.close();
    throw error;
  }
  const addr = await listening.promise;
  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      metrics.close();
      // Open pages hold their event streams: end them, or the shutdown would wait for them.
      dashboard.close();
      processMetrics.close();
      await server.shutdown();
    })();
    return closing;
  };
  return {
    hostname: addr.hostname,
    port: addr.port,
    get pages() {
      return dashboard.pages;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
