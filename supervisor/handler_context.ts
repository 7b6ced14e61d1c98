/**
 * Handlers and what they get: the handler's type, the context beside the message (where it is
 * from, its attempt, an abort signal, a logger, and `send` for output records), and what a
 * handler may return.
 *
 * @module
 */

import type { Message } from "../kafka/message.ts";

/** Where a handler logs: LogTape's `troupe.handler` category (a subset of its `Logger`). */
export interface HandlerLogger {
  /** Logs at debug level; `{name}` placeholders are filled from `properties`. */
  debug(message: string, properties?: Record<string, unknown>): void;
  /** Logs at info level. */
  info(message: string, properties?: Record<string, unknown>): void;
  /** Logs at warning level. */
  warn(message: string, properties?: Record<string, unknown>): void;
  /** Logs at error level. */
  error(message: string, properties?: Record<string, unknown>): void;
}

/**
 * What a handler gets besides the message. One context object serves all the messages of a
 * partition's actor; read it during the call, do not keep it.
 */
export interface HandlerContext {
  /** Topic of the partition. */
  readonly topic: string;
  /** The partition. */
  readonly partition: number;
  /** 1 on the first try of this message, 2 on the first retry, and so on. */
  readonly attempt: number;
  /**
   * Aborted when the processor or the partition is shutting down and the deadline for the
   * message in hand has passed: pass it to `fetch` and the like to stop in time.
   */
  readonly signal: AbortSignal;
  /** A logger in the `troupe.handler` category. */
  readonly log: HandlerLogger;
  /**
   * Sends an output record as part of this message's processing (with `output` or
   * `exactlyOnce` set): the message counts as done only once every record it sent was
   * acknowledged (or, with `exactlyOnce`, is in the partition's open transaction).
   */
  send(record: OutputRecord): Promise<void>;
}

/** A record a handler emits, for any topic; encoded with the `output` codecs. */
export interface OutputRecord {
  /** Target topic. */
  topic: string;
  /** Key (records with the same key go to the same partition). */
  key?: unknown;
  /** Value; `null` is a tombstone. */
  value: unknown;
  /** Explicit partition. */
  partition?: number;
  /** Headers. */
  headers?: Record<string, string | Uint8Array | (string | Uint8Array)[]>;
  /** Timestamp, ms since the epoch. */
  timestamp?: number;
}

/** What a handler may return: nothing, or output records (with `output` or `exactlyOnce`). */
export type HandlerResult = void | OutputRecord | readonly OutputRecord[];

/**
 * Processes one message. Return (or resolve) when it is done: only then is its offset
 * committable. Throw (or reject) to fail: the message is retried, then the actor crashes and
 * is restarted on the same message. With `output` (or `exactlyOnce`) set, it may return
 * output records; they are produced before the message counts as done.
 *
 * @typeParam K Decoded key type.
 * @typeParam V Decoded value type.
 */
export type Handler<K, V> = (
  message: Message<K, V>,
  context: HandlerContext,
) => HandlerResult | Promise<HandlerResult>;

/** Produces output records; resolves once they are safe (acknowledged, or in a transaction). */
export type OutputSender = (records: readonly OutputRecord[]) => Promise<unknown>;

const noOutput: OutputSender = () =>
  Promise.reject(
    new Error("this processor has no output: set `output` (or `exactlyOnce`) to send records"),
  );

/**
 * One in-flight slot of an actor: reused for every message that runs in it, so that the hot
 * path allocates nothing for it. `begin` resets it for a message; `finish` produces what the
 * message emitted.
 *
 * @example
 * ```ts ignore
 * const context = new MessageContext("orders", 0, signal, log, sender);
 * context.begin(1);
 * const result = await handler(message, context);
 * await context.finish(result);
 * ```
 */
export class MessageContext implements HandlerContext {
  readonly topic: string;
  readonly partition: number;
  attempt = 1;
  readonly signal: AbortSignal;
  /** Replaced per message when tracing is on, by one whose records carry the span's ids. */
  log: HandlerLogger;
  #sender: OutputSender;
  #deferred: boolean;
  #pending: Promise<unknown>[] | undefined;
  #held: OutputRecord[] | undefined;

  /**
   * Creates a context for one actor slot.
   *
   * @param topic The partition's topic.
   * @param partition The partition.
   * @param signal Aborted when the message in hand overstays a shutdown deadline.
   * @param log The handler logger.
   * @param sender Produces outputs; absent for a processor without `output`.
   * @param deferred Hold what `send` is given until `finish` (exactly once: the outputs of an
   *   attempt that fails must never reach the transaction).
   */
  constructor(
    topic: string,
    partition: number,
    signal: AbortSignal,
    log: HandlerLogger,
    sender: OutputSender = noOutput,
    deferred = false,
  ) {
    this.topic = topic;
    this.partition = partition;
    this.signal = signal;
    this.log = log;
    this.#sender = sender;
    this.#deferred = deferred;
  }

  /** Prepares for an attempt of a message. */
  begin(attempt: number): void {
    this.attempt = attempt;
    this.#pending = undefined;
    this.#held = undefined;
  }

  send(record: OutputRecord): Promise<void> {
    if (this.#deferred) {
      (this.#held ??= []).push(record);
      return Promise.resolve();
    }
    const sent = this.#sender([record]);
    (this.#pending ??= []).push(sent);
    // `finish` waits for it and fails the message if it fails; a handler that does not
    // await it must not crash the process with an unhandled rejection.
    sent.catch(() => {});
    return sent as Promise<void>;
  }

  /** Produces what the handler returned, and waits for what it sent. */
  async finish(result: HandlerResult): Promise<void> {
    const pending = this.#pending;
    const held = this.#held;
    this.#pending = undefined;
    this.#held = undefined;
    let records: readonly OutputRecord[] = held ?? [];
    if (result !== undefined && result !== null) {
      const returned = (Array.isArray(result) ? result : [result]) as readonly OutputRecord[];
      records = held ? [...held, ...returned] : returned;
    }
    if (records.length > 0) await this.#sender(records);
    if (pending) await Promise.all(pending);
  }
}
