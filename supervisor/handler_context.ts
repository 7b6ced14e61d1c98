/**
 * The context a handler gets: where the message is from, its attempt, an abort signal, a
 * logger, and `send` for output records.
 *
 * @module
 */

import type { HandlerContext, HandlerLogger, HandlerResult, OutputRecord } from "./options.ts";

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
  readonly log: HandlerLogger;
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
