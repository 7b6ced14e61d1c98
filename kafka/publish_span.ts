/**
 * The `<topic> publish` span of a record troupe produces (its producer, a handler's outputs,
 * a dead letter): started in the caller's context, injected into the record's headers as its
 * creation context, ended when the broker acknowledged the record or refused it.
 *
 * @module
 */

import { context, type Link, type Span, SpanKind, trace, type Tracer } from "@opentelemetry/api";
import type { Message as KafkaJsMessage } from "kafkajs";
import { injectContext, type KafkaJsHeaders, keyAttribute, SPAN_ATTRIBUTES } from "./tracing.ts";

/**
 * Starts the publish span of an encoded record, a child of the active context, and writes
 * its context into the record's headers (`traceparent`, `tracestate`), so that whoever
 * processes the record continues this trace. A `traceparent` the record already carried
 * (a forwarded input's, say) is replaced, and the span links to it.
 *
 * @example
 * ```ts ignore
 * const span = startPublishSpan(tracer, "orders", message, "billing");
 * // ... once acknowledged:
 * endPublishSpan(span, { partition: 2, offset: 41 }); // or, refused: failSpan(span, error)
 * ```
 */
export function startPublishSpan(
  tracer: Tracer,
  topic: string,
  message: KafkaJsMessage,
  clientId: string,
): Span {
  const parent = context.active();
  const key = keyAttribute(message.key as Uint8Array | string | null | undefined);
  const span = tracer.startSpan(`${topic} publish`, {
    kind: SpanKind.PRODUCER,
    attributes: {
      [SPAN_ATTRIBUTES.system]: "kafka",
      [SPAN_ATTRIBUTES.operationName]: "publish",
      [SPAN_ATTRIBUTES.operationType]: "send",
      [SPAN_ATTRIBUTES.destination]: topic,
      [SPAN_ATTRIBUTES.clientId]: clientId,
      ...(key === undefined ? {} : { [SPAN_ATTRIBUTES.key]: key }),
      ...(message.value === null ? { [SPAN_ATTRIBUTES.tombstone]: true } : {}),
      ...(message.partition === undefined
        ? {}
        : { [SPAN_ATTRIBUTES.partition]: String(message.partition) }),
    },
  }, parent);
  const headers = (message.headers ??= {}) as KafkaJsHeaders;
  const previous = injectContext(trace.setSpan(parent, span), headers);
  if (previous !== undefined) span.addLink({ context: previous } satisfies Link);
  return span;
}

/**
 * Ends a publish span once its record is written: where it went, when known (a record in a
 * transaction has no offset until the transaction commits).
 *
 * @example
 * ```ts ignore
 * endPublishSpan(span, { partition: 0, offset: 12 });
 * ```
 */
export function endPublishSpan(
  span: Span,
  written?: { readonly partition: number; readonly offset?: number },
): void {
  if (written !== undefined) {
    span.setAttribute(SPAN_ATTRIBUTES.partition, String(written.partition));
    if (written.offset !== undefined) span.setAttribute(SPAN_ATTRIBUTES.offset, written.offset);
  }
  span.end();
}
