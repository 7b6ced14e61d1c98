/**
 * OpenTelemetry for Kafka records: whether tracing is on, troupe's tracer, the W3C trace
 * context carried in record headers, and the attributes of OpenTelemetry's messaging
 * conventions for Kafka.
 *
 * troupe depends on the API alone (`npm:@opentelemetry/api`). Spans are recorded when the
 * program registered a tracer provider: Deno does so itself with `OTEL_DENO=true` (its
 * built-in OTLP exporter). Without one, {@linkcode tracerOrNull} answers `null` and troupe
 * takes its untraced paths, which allocate nothing for tracing.
 *
 * @module
 */

import {
  type Attributes,
  type Context,
  propagation,
  ProxyTracerProvider,
  ROOT_CONTEXT,
  type Span,
  type SpanContext,
  SpanStatusCode,
  type TextMapGetter,
  type TextMapSetter,
  trace,
  type Tracer,
} from "@opentelemetry/api";
import { describeError } from "./errors.ts";
import type { RawHeaders } from "./message.ts";

/** The instrumentation scope troupe's spans are recorded under. */
export const TRACER_NAME = "troupe";
/** troupe's version, recorded with the scope. */
const TRACER_VERSION = "0.1.0";

/**
 * The span attributes troupe records, by OpenTelemetry's messaging conventions (and
 * `troupe.*` for what they do not cover).
 *
 * @example
 * ```ts
 * import { SPAN_ATTRIBUTES } from "./tracing.ts";
 * console.log(SPAN_ATTRIBUTES.offset); // "messaging.kafka.offset"
 * ```
 */
export const SPAN_ATTRIBUTES = {
  system: "messaging.system",
  operationName: "messaging.operation.name",
  operationType: "messaging.operation.type",
  destination: "messaging.destination.name",
  partition: "messaging.destination.partition.id",
  offset: "messaging.kafka.offset",
  key: "messaging.kafka.message.key",
  tombstone: "messaging.kafka.message.tombstone",
  consumerGroup: "messaging.consumer.group.name",
  clientId: "messaging.client.id",
  errorType: "error.type",
  attempt: "troupe.attempt",
  retryDelayMs: "troupe.retry.delay_ms",
  deadLetterTopic: "troupe.dead_letter.topic",
  deadLetterReason: "troupe.dead_letter.reason",
} as const;

/**
 * troupe's tracer when a tracer provider is registered (Deno's, with `OTEL_DENO=true`),
 * else `null`: the API's no-op would still cost a span object per call, so callers decide
 * once, when they are built, and skip tracing altogether.
 *
 * @example
 * ```ts
 * import { tracerOrNull } from "./tracing.ts";
 * const tracer = tracerOrNull();
 * console.log(tracer === null ? "tracing off" : "tracing on");
 * ```
 */
export function tracerOrNull(): Tracer | null {
  const provider = trace.getTracerProvider();
  // Unregistered, the API hands out a proxy whose delegate is missing until someone
  // registers a provider: then every span would be the no-op.
  if (
    provider instanceof ProxyTracerProvider &&
    provider.getDelegateTracer(TRACER_NAME, TRACER_VERSION) === undefined
  ) {
    return null;
  }
  return provider.getTracer(TRACER_NAME, TRACER_VERSION);
}

const fatalUtf8 = new TextDecoder("utf-8", { fatal: true });
const utf8 = new TextDecoder();

/**
 * A record key as the `messaging.kafka.message.key` attribute: its text when the bytes are
 * UTF-8, else `undefined` (a binary key has no canonical string form, and the conventions
 * say to leave it out).
 *
 * @example
 * ```ts
 * import { keyAttribute } from "./tracing.ts";
 * console.log(keyAttribute(new TextEncoder().encode("order-7"))); // "order-7"
 * console.log(keyAttribute(new Uint8Array([0xff]))); // undefined
 * ```
 */
export function keyAttribute(key: Uint8Array | string | null | undefined): string | undefined {
  if (key === null || key === undefined) return undefined;
  if (typeof key === "string") return key;
  try {
    return fatalUtf8.decode(key);
  } catch {
    return undefined;
  }
}

function headerText(value: Uint8Array | string): string {
  return typeof value === "string" ? value : utf8.decode(value);
}

/** Reads W3C trace context from fetched record headers (bytes or text). */
const rawHeaderGetter: TextMapGetter<RawHeaders> = {
  keys: (carrier) => Object.keys(carrier),
  get(carrier, key) {
    const value = carrier[key];
    if (value === undefined) return undefined;
    if (typeof value === "string" || value instanceof Uint8Array) return headerText(value);
    return value.map(headerText);
  },
};

/**
 * Header values as a KafkaJS message carries them.
 *
 * @example
 * ```ts
 * import type { KafkaJsHeaders } from "./tracing.ts";
 * const headers: KafkaJsHeaders = { source: "web" };
 * ```
 */
export type KafkaJsHeaders = Record<
  string,
  Uint8Array | string | (Uint8Array | string)[] | undefined
>;

/** Writes W3C trace context into a KafkaJS message's headers, as text. */
const headerSetter: TextMapSetter<KafkaJsHeaders> = {
  set(carrier, key, value) {
    carrier[key] = value;
  },
};

/**
 * The context a record's headers carry (`traceparent`, `tracestate`, `baggage`), or `null`
 * when they carry no valid span context.
 *
 * @example
 * ```ts
 * import { trace } from "@opentelemetry/api";
 * import { extractContext } from "./tracing.ts";
 * const headers = { traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" };
 * const context = extractContext(headers);
 * // With a propagator registered (OTEL_DENO=true) this is the header's trace id; else null.
 * console.log(context && trace.getSpanContext(context)?.traceId);
 * ```
 */
export function extractContext(headers: RawHeaders | undefined): Context | null {
  if (headers === undefined || headers.traceparent === undefined) return null;
  const context = propagation.extract(ROOT_CONTEXT, headers, rawHeaderGetter);
  return trace.getSpanContext(context) === undefined ? null : context;
}

/**
 * Writes `context`'s span into `headers` as `traceparent` (and `tracestate`, `baggage`),
 * replacing what they held; returns the span context they held before, if any (the
 * producer links to it).
 *
 * @example
 * ```ts ignore
 * const previous = injectContext(trace.setSpan(context.active(), span), message.headers ??= {});
 * ```
 */
export function injectContext(context: Context, headers: KafkaJsHeaders): SpanContext | undefined {
  let previous: SpanContext | undefined;
  if (headers.traceparent !== undefined) {
    previous = trace.getSpanContext(propagation.extract(ROOT_CONTEXT, headers, rawHeaderGetter));
    delete headers.traceparent;
    delete headers.tracestate;
  }
  propagation.inject(context, headers, headerSetter);
  return previous;
}

/**
 * The `exception.*` attributes of an error, as OpenTelemetry records exceptions.
 *
 * @example
 * ```ts
 * import { exceptionAttributes } from "./tracing.ts";
 * console.log(exceptionAttributes(new TypeError("bad"))["exception.type"]); // "TypeError"
 * ```
 */
export function exceptionAttributes(error: unknown): Attributes {
  if (error instanceof Error) {
    const attributes: Attributes = {
      "exception.type": error.name,
      "exception.message": error.message,
    };
    if (error.stack !== undefined) attributes["exception.stacktrace"] = error.stack;
    return attributes;
  }
  return { "exception.type": typeof error, "exception.message": describeError(error) };
}

/**
 * `error.type`, low in cardinality as the conventions ask: the broker's error code when
 * the error carries one (a `ProduceError`'s `MESSAGE_TOO_LARGE`), else the error's
 * class name.
 *
 * @example
 * ```ts
 * import { errorType } from "./tracing.ts";
 * console.log(errorType(new RangeError("x"))); // "RangeError"
 * ```
 */
export function errorType(error: unknown): string {
  if (!(error instanceof Error)) return "_OTHER";
  const code = (error as { code?: unknown }).code;
  return typeof code === "string" && /^[A-Z][A-Z_]+$/.test(code) ? code : error.name;
}

/**
 * Ends `span` as failed: error status with the error's description, `error.type`, and the
 * exception recorded as an event.
 *
 * @example
 * ```ts ignore
 * failSpan(span, new Error("refused"));
 * ```
 */
export function failSpan(span: Span, error: unknown): void {
  span.addEvent("exception", exceptionAttributes(error));
  span.setAttribute(SPAN_ATTRIBUTES.errorType, errorType(error));
  span.setStatus({ code: SpanStatusCode.ERROR, message: describeError(error) });
  span.end();
}
