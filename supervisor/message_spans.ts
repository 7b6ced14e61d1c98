/**
 * The `<topic> process` span of each message an actor handles, from its first attempt to
 * its end (processed, dead-lettered, crashed or interrupted), with the handler run inside it
 * and troupe's log records about the message carrying its ids.
 *
 * @module
 */

import { getConfig, withContext } from "@logtape/logtape";
import {
  type Attributes,
  type Context,
  context as otelContext,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
  type Tracer,
} from "@opentelemetry/api";
import { describeError } from "../kafka/errors.ts";
import type { ReceivedMessage } from "../kafka/message.ts";
import {
  errorType,
  exceptionAttributes,
  extractContext,
  keyAttribute,
  SPAN_ATTRIBUTES,
} from "../kafka/tracing.ts";
import type { HandlerLogger } from "./handler_context.ts";

/** What every process span of a processor says about the consumer. */
export interface MessageSpanOptions {
  /** troupe's tracer (tracing is on). */
  readonly tracer: Tracer;
  /** The consumer group (`messaging.consumer.group.name`). */
  readonly groupId: string;
  /** The client id (`messaging.client.id`). */
  readonly clientId: string;
  /** The handler's logger; each message's `context.log` adds the span's ids to it. */
  readonly handlerLog: HandlerLogger & { with(properties: Record<string, unknown>): HandlerLogger };
}

/** The ids a log record about a message carries, to join it with the message's trace. */
export interface TraceIds {
  /** The trace id, 32 hex digits. */
  readonly traceId: string;
  /** The process span's id, 16 hex digits. */
  readonly spanId: string;
}

/** A message's span while its attempts go on. */
interface OpenSpan {
  readonly span: Span;
  /** The span's context, which the handler runs in. */
  readonly context: Context;
  readonly ids: TraceIds;
  log: HandlerLogger | undefined;
  /** The error the last `exception` event recorded. */
  recorded: unknown;
}

type AnyMessage = ReceivedMessage<unknown, unknown>;

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && typeof value === "object" &&
    typeof (value as PromiseLike<unknown>).then === "function";
}

/**
 * The process spans of one actor's messages. A span starts at a message's first attempt and
 * continues the trace in the message's headers (its creation context is the parent, and a
 * link); failed attempts and retries are its events; it ends when the message is processed,
 * dead-lettered (error status), crashes its actor (error status) or is interrupted by a
 * stop. Used only when tracing is on: the untraced pipeline never builds one.
 *
 * @example
 * ```ts ignore
 * const spans = new MessageSpans({ tracer, groupId: "billing", clientId: "troupe", handlerLog });
 * await spans.attempt(message, () => handler(message, context));
 * ```
 */
export class MessageSpans {
  readonly #options: MessageSpanOptions;
  /** At most one entry per message in flight (a partition actor has one, a lane actor more). */
  readonly #open = new Map<AnyMessage, OpenSpan>();

  /**
   * Creates the spans of one actor.
   *
   * @param options The tracer and what every span says about the consumer.
   */
  constructor(options: MessageSpanOptions) {
    this.#options = options;
  }

  /**
   * Runs one attempt of `message` inside its span (started at its first attempt); ends the
   * span when the attempt succeeds. A failure leaves it open for the hooks below.
   */
  attempt(message: AnyMessage, run: () => unknown): unknown {
    let open = this.#open.get(message);
    if (open === undefined) this.#open.set(message, open = this.#start(message));
    const span = open;
    const result = this.#within(span, run);
    if (!isThenable(result)) {
      this.#end(message, span);
      return result;
    }
    return Promise.resolve(result).then((value) => {
      this.#end(message, span);
      return value;
    });
  }

  /** The handler's logger for `message`: its records carry the span's ids. */
  log(message: AnyMessage): HandlerLogger {
    const open = this.#open.get(message);
    if (open === undefined) return this.#options.handlerLog;
    return open.log ??= this.#options.handlerLog.with({ ...open.ids });
  }

  /** Runs `work` in `message`'s span context (a dead letter's publish span is its child). */
  within<T>(message: AnyMessage, work: () => T): T {
    const open = this.#open.get(message);
    return open === undefined ? work() : this.#within(open, work);
  }

  /** An attempt failed: an `exception` event with the attempt's number. */
  failed(message: AnyMessage, error: unknown, attempt: number): void {
    const open = this.#open.get(message);
    if (open === undefined) return;
    open.span.addEvent("exception", {
      ...exceptionAttributes(error),
      [SPAN_ATTRIBUTES.attempt]: attempt,
    });
    open.recorded = error;
  }

  /** A retry is scheduled after `attempt` failed: a `retry` event. */
  retrying(message: AnyMessage, attempt: number, delayMs: number): void {
    this.#open.get(message)?.span.addEvent("retry", {
      [SPAN_ATTRIBUTES.attempt]: attempt + 1,
      [SPAN_ATTRIBUTES.retryDelayMs]: delayMs,
    });
  }

  /** The message went to the dead-letter topic: error status, then the span ends. */
  deadLettered(message: AnyMessage, topic: string, reason: string, error: unknown): void {
    const open = this.#open.get(message);
    if (open === undefined) return;
    open.span.setAttributes({
      [SPAN_ATTRIBUTES.deadLetterTopic]: topic,
      [SPAN_ATTRIBUTES.deadLetterReason]: reason,
    });
    this.#fail(message, open, error, `dead-lettered to ${topic}: ${describeError(error)}`);
  }

  /**
   * The actor crashed on the message: error status, the span ends, and `report` runs in its
   * context (so the crash's log record carries its ids). The restarted actor's next try is
   * a new span.
   */
  crashed(message: AnyMessage, error: unknown, report: () => void): void {
    const open = this.#open.get(message);
    if (open === undefined) return report();
    this.#fail(message, open, error, describeError(error));
    this.#within(open, report);
  }

  /** The actor stopped taking messages after a failed attempt: the message will be tried again. */
  interrupted(message: AnyMessage): void {
    const open = this.#open.get(message);
    if (open === undefined) return;
    open.span.addEvent("interrupted");
    this.#end(message, open);
  }

  #start(message: AnyMessage): OpenSpan {
    const { tracer, groupId, clientId } = this.#options;
    const raw = message.raw;
    const creation = extractContext(raw.headers);
    const parent = creation ?? ROOT_CONTEXT;
    const attributes: Attributes = {
      [SPAN_ATTRIBUTES.system]: "kafka",
      [SPAN_ATTRIBUTES.operationName]: "process",
      [SPAN_ATTRIBUTES.operationType]: "process",
      [SPAN_ATTRIBUTES.destination]: message.topic,
      [SPAN_ATTRIBUTES.partition]: String(message.partition),
      [SPAN_ATTRIBUTES.offset]: message.offset,
      [SPAN_ATTRIBUTES.consumerGroup]: groupId,
      [SPAN_ATTRIBUTES.clientId]: clientId,
    };
    const key = keyAttribute(raw.key);
    if (key !== undefined) attributes[SPAN_ATTRIBUTES.key] = key;
    if (raw.value === null) attributes[SPAN_ATTRIBUTES.tombstone] = true;
    // One message per span: the conventions let its creation context be the parent (one
    // trace from producer to consumer) and ask for a link to it. The ambient context (what
    // was active when the actor started) is deliberately not used.
    const span = tracer.startSpan(`${message.topic} process`, {
      kind: SpanKind.CONSUMER,
      attributes,
      links: creation === null ? undefined : [{ context: trace.getSpanContext(creation)! }],
    }, parent);
    const { traceId, spanId } = span.spanContext();
    return {
      span,
      context: trace.setSpan(parent, span),
      ids: { traceId, spanId },
      log: undefined,
      recorded: undefined,
    };
  }

  /** Runs `work` in the span's context, and in LogTape's implicit context when configured. */
  #within<T>(open: OpenSpan, work: () => T): T {
    const inSpan = () => otelContext.with(open.context, work);
    // LogTape's implicit context needs the program's `contextLocalStorage`; without it
    // withContext would warn on every call.
    return getConfig()?.contextLocalStorage ? withContext({ ...open.ids }, inSpan) : inSpan();
  }

  #fail(message: AnyMessage, open: OpenSpan, error: unknown, description: string): void {
    // The last failed attempt is recorded already; a failing dead letter is not.
    if (error !== open.recorded) open.span.addEvent("exception", exceptionAttributes(error));
    open.span.setAttribute(SPAN_ATTRIBUTES.errorType, errorType(error));
    open.span.setStatus({ code: SpanStatusCode.ERROR, message: description });
    this.#end(message, open);
  }

  #end(message: AnyMessage, open: OpenSpan): void {
    open.span.end();
    if (this.#open.get(message) === open) this.#open.delete(message);
  }
}
