/**
 * The per-message pipeline: the actor a partition gets, and what it does with each message
 * (the handler, its retries, its outputs, its dead letter).
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { Buffer } from "node:buffer";
import { Actor } from "../actors/actor.ts";
import type { AttemptHooks } from "../actors/attempts.ts";
import { LaneActor } from "../actors/lane_actor.ts";
import type { Limiter } from "../actors/limiter.ts";
import type { SupervisedActor } from "../actors/supervised_actor.ts";
import type { ReceivedMessage } from "../kafka/message.ts";
import { tracerOrNull } from "../kafka/tracing.ts";
import { maxCompletionSpan } from "./completions.ts";
import type { DeadLetters } from "./dead_letters.ts";
import { MessageContext } from "./handler_context.ts";
import type { Histogram } from "./histogram.ts";
import { MessageSpans } from "./message_spans.ts";
import { type OutputPath, TransactionFailure } from "./output_path.ts";
import type { Partition } from "./partition.ts";
import type { ResolvedProcessorOptions } from "./resolve_options.ts";

const handlerLog = getLogger(["troupe", "handler"]);

/** What a partition's actor reports to the partition table. */
export interface PipelineReports<K, V> {
  /**
   * A message is done (processed, skipped or dead-lettered). Exactly once reports it twice:
   * inside the partition's transaction lock, then as the actor finishes; the tracker counts it
   * once.
   */
  processed(message: ReceivedMessage<K, V>): void;
  /** The actor (or one of its lanes) crashed on a message. */
  crashed(message: ReceivedMessage<K, V>, error: unknown): void;
}

/** What the pipeline works with, shared by every partition. */
export interface PipelineServices<K, V> {
  /** Where a partition's outputs go, or `null` without `output`. */
  outputs(partition: Partition<K, V>, epoch: number): OutputPath | null;
  /** Sends dead letters. */
  readonly deadLetters: DeadLetters;
  /** The processor-wide limit of messages in flight, if any. */
  readonly limiter: Limiter | null;
  /** Times handler attempts, when `measureProcessingTime` is on. */
  readonly histogram: Histogram | null;
}

type AnyMessage = ReceivedMessage<unknown, unknown>;

/** Runs the handler on one message, with its context; resolves when the message is done. */
type Behaviour<K, V> = (message: ReceivedMessage<K, V>, context: MessageContext) => unknown;

/**
 * Builds each partition's actor: an {@linkcode Actor} (one message at a time) for `"partition"`
 * ordering, a {@linkcode LaneActor} (lanes by key, or none) otherwise, running the handler with
 * the partition's retries, outputs and dead-letter topic.
 *
 * @example
 * ```ts ignore
 * const pipeline = new Pipeline(resolvedOptions, services);
 * partition.actor = pipeline.actorFor(partition, partition.epoch, reports);
 * partition.actor.start();
 * ```
 */
export class Pipeline<K, V> {
  #options: ResolvedProcessorOptions<K, V>;
  #services: PipelineServices<K, V>;
  /** troupe's tracer, or `null` (no tracer provider): then no actor pays for tracing. */
  #tracer = tracerOrNull();

  /**
   * Creates the pipeline.
   *
   * @param options The processor's resolved options.
   * @param services Outputs, dead letters, limits and timing.
   */
  constructor(options: ResolvedProcessorOptions<K, V>, services: PipelineServices<K, V>) {
    this.#options = options;
    this.#services = services;
  }

  /** A new actor for `partition` under `epoch`, not started. */
  actorFor(
    partition: Partition<K, V>,
    epoch: number,
    reports: PipelineReports<K, V>,
  ): SupervisedActor {
    const options = this.#options;
    const outputs = this.#services.outputs(partition, epoch);
    const behaviour = this.#behaviour(outputs, reports);
    const spans = this.#tracer === null ? null : new MessageSpans({
      tracer: this.#tracer,
      groupId: options.groupId,
      clientId: options.connection.clientId,
      handlerLog,
    });
    // One context per message in flight: a partition actor has one, a lane actor `concurrency`.
    const contexts = Array.from(
      { length: options.concurrency },
      () =>
        new MessageContext(
          partition.topic,
          partition.partition,
          partition.abort.signal,
          handlerLog,
          outputs ? (records) => outputs.send(records) : undefined,
          outputs?.deferred ?? false,
        ),
    );
    const common = {
      ...this.#hooks(partition, epoch, spans),
      mailbox: partition.mailbox,
      processed: reports.processed,
      crashed: spans === null
        ? reports.crashed
        : (message: ReceivedMessage<K, V>, error: unknown) =>
          spans.crashed(message as AnyMessage, error, () => reports.crashed(message, error)),
      process: spans === null
        ? (message: ReceivedMessage<K, V>, attempt: number, worker: number) => {
          const context = contexts[worker];
          context.begin(attempt);
          return behaviour(message, context);
        }
        : (message: ReceivedMessage<K, V>, attempt: number, worker: number) => {
          const context = contexts[worker];
          context.begin(attempt);
          return spans.attempt(message as AnyMessage, () => {
            context.log = spans.log(message as AnyMessage);
            return behaviour(message, context);
          });
        },
    };
    if (options.ordering === "partition") return new Actor(common);
    const maxSpan = maxCompletionSpan(options.offsetMetadataMaxBytes);
    return new LaneActor({
      ...common,
      laneOf: options.ordering === "key" ? laneKey : undefined,
      concurrency: options.concurrency,
      maxBuffered: options.mailboxCapacity,
      limiter: this.#services.limiter ?? undefined,
      // Completions beyond the commit point must fit in the commit's metadata: past that
      // span, take nothing new until the commit point moves.
      canTake: () => partition.tracker.span < maxSpan,
      taken: (message) => skipIfCompleted(partition, epoch, message),
    });
  }

  /** What is done with each message: the handler, then (with `output`) its outputs. */
  #behaviour(outputs: OutputPath | null, reports: PipelineReports<K, V>): Behaviour<K, V> {
    const handler = this.#options.handler;
    if (outputs === null) return (message, context) => handler(message, context);
    const attempt = async (message: ReceivedMessage<K, V>, context: MessageContext) => {
      // A message is done once its outputs are safe.
      await context.finish(await handler(message, context));
    };
    const run = outputs.run;
    if (!run) return attempt;
    // The report made inside the lock is the one that counts; the actor's own report after it
    // finds the offset already processed.
    return (message, context) =>
      run(() => attempt(message, context), () => reports.processed(message));
  }

  /** Retries, the dead-letter last resort and the counters of one partition's actor. */
  #hooks(
    partition: Partition<K, V>,
    epoch: number,
    spans: MessageSpans | null,
  ): Omit<AttemptHooks<ReceivedMessage<K, V>>, "process"> {
    const options = this.#options;
    const { topic, counters } = partition;
    const retry = options.retryByTopic.get(topic) ?? options.retry;
    const deadLetterTopic = options.deadLetter?.(topic);
    const deadLetters = this.#services.deadLetters;
    const histogram = this.#services.histogram;
    return {
      // A failed transaction is not the message's fault: no retry in place, no dead letter;
      // the crash rewinds the partition to its last commit.
      retry: {
        ...retry,
        retriable: (error) => !(error instanceof TransactionFailure) && retry.retriable(error),
      },
      exhausted: deadLetterTopic === undefined || deadLetterTopic === topic
        ? undefined
        : (message, error, attempts) => {
          if (error instanceof TransactionFailure) throw error;
          const send = () =>
            deadLetters.send(
              message as AnyMessage,
              deadLetterTopic,
              error,
              attempts,
              retry.retriable,
              () => {
                if (partition.current(epoch)) counters.deadLettered++;
              },
            );
          if (spans === null) return send();
          // In the message's span: the dead letter's publish span is its child.
          return spans.within(message as AnyMessage, send).then((reason) =>
            spans.deadLettered(message as AnyMessage, deadLetterTopic, reason, error)
          );
        },
      failed: spans === null ? () => void counters.failed++ : (message, error, attempt) => {
        counters.failed++;
        spans.failed(message as AnyMessage, error, attempt);
      },
      retrying: spans === null
        ? () => void counters.retried++
        : (message, _error, attempt, delayMs) => {
          counters.retried++;
          spans.retrying(message as AnyMessage, attempt, delayMs);
        },
      interrupted: spans === null
        ? undefined
        : (message) => spans.interrupted(message as AnyMessage),
      timed: histogram ? (ms) => histogram.observe(ms) : undefined,
    };
  }
}

/**
 * Records a message taken by a lane actor, and skips it when a previous owner completed it
 * (the completions read from the commit's metadata).
 */
function skipIfCompleted<K, V>(
  partition: Partition<K, V>,
  epoch: number,
  message: ReceivedMessage<K, V>,
): boolean {
  partition.tracker.begin(message.offset);
  const skip = partition.skip;
  if (skip === null || !skip.delete(message.offset)) return false;
  if (skip.size === 0) partition.skip = null;
  partition.tracker.complete(epoch, message.offset);
  partition.counters.skipped++;
  return true;
}

/** A message's lane in key mode: its key's bytes as a string; every key-less message shares `null`. */
function laneKey(message: ReceivedMessage<unknown, unknown>): string | null {
  const key = message.rawKey;
  return key === null
    ? null
    : Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString("latin1");
}
