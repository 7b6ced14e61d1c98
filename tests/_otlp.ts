/**
 * An OTLP/HTTP receiver for troupe's tests: the processes under test export to it with
 * Deno's built-in exporter (`OTEL_DENO=true`, `OTEL_EXPORTER_OTLP_PROTOCOL=http/json`), and
 * the test reads the spans it got.
 *
 * @module
 */

/** An attribute value as the OTLP JSON encoding writes it. */
interface AnyValue {
  stringValue?: string;
  intValue?: string | number;
  boolValue?: boolean;
  doubleValue?: number;
}

interface KeyValue {
  key: string;
  value: AnyValue;
}

/** A span as the receiver got it, flattened. */
export interface ReceivedSpan {
  /** The exporting process's `service.name`. */
  service: string;
  /** The instrumentation scope (troupe's is "troupe"). */
  scope: string;
  traceId: string;
  spanId: string;
  /** "" for a root span. */
  parentSpanId: string;
  name: string;
  /** 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
  kind: number;
  attributes: Record<string, string | number | boolean>;
  events: { name: string; attributes: Record<string, string | number | boolean> }[];
  links: { traceId: string; spanId: string }[];
  /** 0 unset, 1 ok, 2 error. */
  status: { code: number; message: string };
}

/** OTLP span kinds. */
export const SPAN_KIND = { internal: 1, server: 2, client: 3, producer: 4, consumer: 5 } as const;

function value(any: AnyValue): string | number | boolean {
  if (any.stringValue !== undefined) return any.stringValue;
  if (any.intValue !== undefined) return Number(any.intValue);
  if (any.boolValue !== undefined) return any.boolValue;
  if (any.doubleValue !== undefined) return any.doubleValue;
  return JSON.stringify(any);
}

function attributes(list: KeyValue[] | undefined): Record<string, string | number | boolean> {
  return Object.fromEntries((list ?? []).map((entry) => [entry.key, value(entry.value)]));
}

/** A running receiver. */
export interface OtlpReceiver extends AsyncDisposable {
  /** Its base URL, for `OTEL_EXPORTER_OTLP_ENDPOINT`. */
  readonly endpoint: string;
  /** Every span received so far. */
  spans(): ReceivedSpan[];
}

/**
 * Starts a receiver on a free port of 127.0.0.1. It answers every export with success and
 * keeps the spans of `/v1/traces` (logs and metrics are accepted and dropped).
 */
export function startOtlpReceiver(): OtlpReceiver {
  const received: ReceivedSpan[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (
    request,
  ) => {
    const body = await request.text();
    if (new URL(request.url).pathname === "/v1/traces") {
      // deno-lint-ignore no-explicit-any
      const payload = JSON.parse(body) as { resourceSpans?: any[] };
      for (const resource of payload.resourceSpans ?? []) {
        const service = String(attributes(resource.resource?.attributes)["service.name"]);
        for (const scope of resource.scopeSpans ?? []) {
          for (const span of scope.spans ?? []) {
            received.push({
              service,
              scope: scope.scope?.name ?? "",
              traceId: span.traceId,
              spanId: span.spanId,
              parentSpanId: span.parentSpanId ?? "",
              name: span.name,
              kind: span.kind,
              attributes: attributes(span.attributes),
              events: (span.events ?? []).map((
                event: { name: string; attributes?: KeyValue[] },
              ) => ({
                name: event.name,
                attributes: attributes(event.attributes),
              })),
              links: (span.links ?? []).map((link: { traceId: string; spanId: string }) => ({
                traceId: link.traceId,
                spanId: link.spanId,
              })),
              status: { code: span.status?.code ?? 0, message: span.status?.message ?? "" },
            });
          }
        }
      }
    }
    return new Response("{}", { headers: { "content-type": "application/json" } });
  });
  return {
    endpoint: `http://127.0.0.1:${server.addr.port}`,
    spans: () => received,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}
