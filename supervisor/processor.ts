/**
 * `createProcessor`: a supervisor and its consumer loop, with a lifecycle.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { type Admin, createAdmin } from "../kafka/admin.ts";
import { createKafkaClient } from "../kafka/client.ts";
import {
  createProducer,
  encodeRecord,
  type Producer,
  type ProducerRecord,
} from "../kafka/producer.ts";
import { PartitionTransactions } from "./transactions.ts";
import { ConsumerLoop } from "./consumer_loop.ts";
import { describeError, KafkaConnectionError } from "../kafka/errors.ts";
import type {
  EscalationError,
  ProcessorEvent,
  ProcessorEventOf,
  ProcessorEventType,
  TopicPartition,
  TopicPartitionOffset,
} from "./events.ts";
import type { CodecSpec, Decoded } from "../kafka/codec.ts";
import { type OutputRecord, type ProcessorOptions, resolveProcessorOptions } from "./options.ts";
import type { HistogramSnapshot } from "./histogram.ts";
import { type DeadLetterRecord, type PartitionStatus, Supervisor } from "./supervisor.ts";

const log = getLogger(["troupe", "processor"]);

/** True for KafkaJS errors that mean the broker could not be reached (not a refusal). */
function isConnectionError(error: unknown): boolean {
  for (let cause = error; cause instanceof Error; cause = (cause as { cause?: unknown }).cause) {
    if (
      /Connection|NumberOfRetriesExceeded|RequestTimeout|BrokerNotFound/.test(cause.name) ||
      /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH/.test(cause.message)
    ) return true;
    if (cause === (cause as { cause?: unknown }).cause) break;
  }
  return false;
}

/**
 * Where a processor is in its life: `idle` until `start()`, `starting` until it joined its
 * group, `running`, then `stopping` and `stopped` (graceful) or `failed`.
 */
export type ProcessorState = "idle" | "starting" | "running" | "stopping" | "stopped" | "failed";

/** A snapshot of a processor, from `processor.status()`. */
export interface ProcessorStatus {
  /** Where the processor is in its life. */
  readonly state: ProcessorState;
  /** Its consumer group. */
  readonly groupId: string;
  /** Its member id in the group, once joined. */
  readonly memberId: string | null;
  /** Group joins so far (the first included). */
  readonly joins: number;
  /** One row per assigned partition, sorted. */
  readonly partitions: readonly PartitionStatus[];
  /** Sums over the assigned partitions. */
  readonly totals: {
    readonly processed: number;
    readonly restarts: number;
    readonly mailboxSize: number;
  };
  /** Why it failed, when `state` is `failed`. */
  readonly error: string | null;
  /** Handler attempt durations in ms, when `measureProcessingTime` is on; else `null`. */
  readonly processingTime: HistogramSnapshot | null;
  /** Whether Kafka answers: false from a failed commit or a consumer crash until it recovers. */
  readonly connection: {
    readonly connected: boolean;
    /** When it last changed, ms since the epoch. */
    readonly since: number;
    /** The error that marked it lost, while lost. */
    readonly lastError: string | null;
  };
}

/** A listener of one kind of event. */
export type ProcessorListener<T extends ProcessorEventType> = (event: ProcessorEventOf<T>) => void;

/**
 * A running stream processor: one actor per assigned partition, supervised. Create it with
 * {@linkcode createProcessor}.
 */
export interface Processor extends AsyncDisposable {
  /** Connects, joins the group and resolves once joined. Rejects when Kafka is unreachable. */
  start(): Promise<void>;
  /**
   * Graceful stop: fetching stops, each actor finishes the message in hand (within
   * `shutdownTimeoutMs`), processed offsets are committed, the member leaves the group.
   */
  stop(): Promise<void>;
  /** A snapshot: state, and per partition its actor, offsets, mailbox, pauses, restarts. */
  status(): ProcessorStatus;
  /** Settles when the processor ends: resolves after `stop()`, rejects if it failed. */
  readonly done: Promise<void>;
  /** Subscribes to one kind of event (or every event, with `"*"`); returns the unsubscribe. */
  on<T extends ProcessorEventType>(type: T, listener: ProcessorListener<T>): () => void;
  /** Subscribes to every event; returns the unsubscribe. */
  on(type: "*", listener: (event: ProcessorEvent) => void): () => void;
  /** Pauses a partition until `resume`, whatever its mailbox does; survives rebalances. */
  pause(partition: TopicPartition): void;
  /** Undoes `pause`. */
  resume(partition: TopicPartition): void;
  /** The partitions assigned to this processor now. */
  assignment(): TopicPartition[];
  /**
   * Commits the processed offsets now (what `autoCommit: false` leaves to you); resolves once
   * the broker acknowledged them, or the refusal was reported in a `commit-failed` event.
   */
  commit(): Promise<void>;
  /**
   * Moves an assigned partition to `offset` while running: its actor is reset cleanly and
   * continues from there (the next commit records the new position).
   *
   * @throws {Error} when the partition is not assigned to this processor.
   */
  seek(position: TopicPartitionOffset): void;
  /**
   * Moves the assigned partitions of `topic` (or just `partition`) to the first offset whose
   * timestamp is at or after `timestamp` (ms since the epoch; the end when there is none).
   * Resolves with the offsets chosen.
   */
  seekToTimestamp(
    target: { topic: string; partition?: number; timestamp: number },
  ): Promise<TopicPartitionOffset[]>;
}

/**
 * Creates a stream processor: a supervisor that spawns one actor per assigned partition,
 * each processing its partition's messages in order and committing only what it processed.
 * Options are checked here, before anything connects; `start()` connects.
 *
 * @example
 * ```ts ignore
 * import { createProcessor, json } from "@troupe/troupe";
 *
 * const processor = createProcessor({
 *   brokers: ["127.0.0.1:9092"],
 *   groupId: "billing",
 *   topics: ["orders"],
 *   valueCodec: json<{ id: number; total: number }>(),
 *   handler: async (message) => {
 *     await bill(message.value?.total);
 *   },
 * });
 * await processor.start();
 * Deno.addSignalListener("SIGINT", () => processor.stop());
 * await processor.done;
 * ```
 *
 * @throws {ConfigError} when an option is missing or invalid.
 */
export function createProcessor<KC extends CodecSpec = "string", VC extends CodecSpec = "bytes">(
  options: ProcessorOptions<KC, VC>,
): Processor {
  type K = Decoded<KC>;
  type V = Decoded<VC>;
  const resolved = resolveProcessorOptions(options);
  const kafka = createKafkaClient(resolved.connection);

  let state: ProcessorState = "idle";
  let joins = 0;
  let failure: Error | undefined;
  let commitTimer: ReturnType<typeof setInterval> | undefined;
  let watchdog: ReturnType<typeof setInterval> | undefined;
  let starting: Promise<void> | undefined;
  let ending: Promise<void> | undefined;
  let admin: Admin | undefined;
  const listeners = new Map<string, Set<(event: ProcessorEvent) => void>>();
  const done = Promise.withResolvers<void>();
  // A failure is reported through `done`; nobody is forced to watch it.
  done.promise.catch(() => {});

  let connection = { connected: true, since: Date.now(), lastError: null as string | null };
  const connectionLost = (error: unknown) => {
    if (!connection.connected) return;
    connection = { connected: false, since: Date.now(), lastError: describeError(error) };
    loop.watched = true;
    log.warn("Kafka is not answering: {error}", { error: connection.lastError });
    emit({ type: "connection-lost", error });
  };
  const connectionRestored = () => {
    if (connection.connected) return;
    const downMs = Date.now() - connection.since;
    connection = { connected: true, since: Date.now(), lastError: null };
    loop.watched = false;
    log.info("Kafka answers again after {downMs} ms", { downMs });
    emit({ type: "connection-restored", downMs });
  };

  const emit = (event: ProcessorEvent) => {
    switch (event.type) {
      case "commit-failed":
        if (isConnectionError(event.error)) connectionLost(event.error);
        break;
      case "offsets-committed":
      case "joined":
        connectionRestored();
        break;
    }
    for (const key of [event.type, "*"]) {
      const set = listeners.get(key);
      if (!set) continue;
      for (const listener of set) {
        try {
          listener(event);
        } catch (error) {
          log.error("a {type} listener threw: {error}", {
            type: event.type,
            error: describeError(error),
          });
        }
      }
    }
  };

  const loop = new ConsumerLoop(kafka, resolved, {
    joined(memberId, assignment) {
      joins++;
      const partitions = Object.entries(assignment).flatMap(([topic, list]) =>
        list.map((partition) => ({ topic, partition }))
      );
      log.info("joined group {groupId} as {memberId} with {count} partition(s)", {
        groupId: resolved.groupId,
        memberId,
        count: partitions.length,
      });
      emit({ type: "joined", memberId, assignment: partitions });
    },
    alive: () => connectionRestored(),
    crashed(error, restarting) {
      log.error("the Kafka consumer crashed ({what}): {error}", {
        what: restarting ? "KafkaJS restarts it" : "for good",
        error: describeError(error),
      });
      emit({ type: "consumer-crashed", error, restarting });
      connectionLost(error);
      if (!restarting && (state === "running" || state === "starting")) {
        void end(new KafkaConnectionError("the Kafka consumer failed", error));
      }
    },
  });
  // The dead-letter producer is made on first use: most processors never need one.
  let deadLetters: Producer<Uint8Array, Uint8Array> | undefined;
  const sendDeadLetter = (record: DeadLetterRecord) => {
    deadLetters ??= createProducer({
      ...resolved.connection,
      clientId: `${resolved.connection.clientId}-dead-letters`,
      keyCodec: "bytes",
      valueCodec: "bytes",
    });
    return deadLetters.send(record);
  };
  // Outputs (consume-transform-produce), at least once: one shared producer, made on first use.
  let outputs: Producer<unknown, unknown> | undefined;
  const output = resolved.output;
  const sendOutputs = (records: readonly OutputRecord[]) => {
    outputs ??= createProducer({
      ...resolved.connection,
      clientId: `${resolved.connection.clientId}-outputs`,
      keyCodec: output!.keyCodec,
      valueCodec: output!.valueCodec,
    });
    return outputs.sendAll(records as ProducerRecord<unknown, unknown>[]);
  };
  // Exactly once: a transactional producer per input partition, its id derived from it.
  const transactions = (topic: string, partition: number) =>
    new PartitionTransactions({
      producer: () =>
        kafka.producer({
          transactionalId: `${resolved.exactlyOnce!.transactionalIdPrefix}-${topic}-${partition}`,
          idempotent: true,
          maxInFlightRequests: 1,
        }),
      groupId: resolved.groupId,
      topic,
      partition,
    });
  const encodeOutput = (record: OutputRecord) => ({
    topic: record.topic,
    message: encodeRecord(
      record as ProducerRecord<unknown, unknown>,
      output!.keyCodec,
      output!.valueCodec,
    ),
  });

  const supervisor = new Supervisor<K, V>(resolved, {
    control: loop,
    emit,
    onEscalation: (error: EscalationError) => void end(error),
    sendDeadLetter,
    sendOutputs: output ? sendOutputs : undefined,
    transactions: resolved.exactlyOnce ? transactions : undefined,
    encodeOutput: output ? encodeOutput : undefined,
    committedOffsets: async (topic) => {
      admin ??= createAdmin(resolved.connection);
      return await admin.committedOffsets(resolved.groupId, [topic]);
    },
  });
  loop.attach(supervisor);

  /** Brings everything down, gracefully; `error` makes it a failure. */
  const end = (error?: Error): Promise<void> => {
    if (ending) return ending;
    const wasRunning = state === "running" || state === "starting";
    state = "stopping";
    clearInterval(commitTimer);
    clearInterval(watchdog);
    ending = (async () => {
      if (wasRunning) {
        await supervisor.stop(resolved.shutdownTimeoutMs, error ? "escalation" : "stop");
      }
      await loop.stop().catch((stopError) =>
        log.warn("leaving the group failed: {error}", { error: describeError(stopError) })
      );
      await supervisor.close().catch(() => {});
      await admin?.close().catch(() => {});
      await deadLetters?.close().catch(() => {});
      await outputs?.close().catch(() => {});
      if (error) {
        failure = error;
        state = "failed";
        log.error("processor failed: {error}", { error: describeError(error) });
        emit({ type: "processor-failed", error });
        done.reject(error);
      } else {
        state = "stopped";
        log.info("processor stopped");
        emit({ type: "processor-stopped" });
        done.resolve();
      }
    })();
    return ending;
  };

  const processor: Processor = {
    start() {
      if (starting) return starting;
      if (state !== "idle") return Promise.reject(new Error(`cannot start a ${state} processor`));
      state = "starting";
      starting = (async () => {
        try {
          await loop.start();
        } catch (error) {
          const reason = error instanceof Error ? error : new Error(String(error));
          await end(reason);
          throw reason;
        }
        if (state !== "starting") return; // stopped while starting
        state = "running";
        // Heartbeats flow every heartbeatInterval whatever handlers do; their silence is the
        // quickest sign that Kafka stopped answering (commits only happen when work was done).
        const silence = Math.max(3 * resolved.consumer.heartbeatInterval, 3_000);
        watchdog = setInterval(() => {
          const silent = loop.silentFor();
          if (silent > silence) {
            connectionLost(new Error(`no heartbeat acknowledged for ${silent} ms`));
          }
        }, 1_000);
        if (resolved.autoCommit) {
          commitTimer = setInterval(
            () => void supervisor.commit("interval"),
            resolved.commitIntervalMs,
          );
        }
      })();
      return starting;
    },
    async stop() {
      if (state === "idle") {
        state = "stopped";
        done.resolve();
        return;
      }
      if (starting) await starting.catch(() => {});
      await end();
    },
    status() {
      const partitions = supervisor.status();
      let processed = 0;
      let restarts = 0;
      let mailboxSize = 0;
      for (const row of partitions) {
        processed += row.processed;
        restarts += row.restarts;
        mailboxSize += row.mailboxSize;
      }
      return {
        state,
        groupId: resolved.groupId,
        memberId: loop.memberId,
        joins,
        partitions,
        totals: { processed, restarts, mailboxSize },
        error: failure ? describeError(failure) : null,
        processingTime: supervisor.processingTime(),
        connection,
      };
    },
    done: done.promise,
    on(type: string, listener: (event: never) => void) {
      let set = listeners.get(type);
      if (!set) listeners.set(type, set = new Set());
      const entry = listener as (event: ProcessorEvent) => void;
      set.add(entry);
      return () => void set.delete(entry);
    },
    pause({ topic, partition }) {
      supervisor.pause(topic, partition);
    },
    assignment() {
      return supervisor.assigned().sort((a, b) =>
        a.topic.localeCompare(b.topic) || a.partition - b.partition
      );
    },
    commit() {
      return supervisor.commit("manual");
    },
    seek({ topic, partition, offset }) {
      supervisor.seek(topic, partition, offset);
    },
    async seekToTimestamp({ topic, partition, timestamp }) {
      admin ??= createAdmin(resolved.connection);
      const found = await admin.offsetsForTimestamp(topic, timestamp);
      const owned = new Set(
        supervisor.assigned().filter((tp) => tp.topic === topic).map((tp) => tp.partition),
      );
      const chosen: TopicPartitionOffset[] = [];
      for (const row of found) {
        if (!owned.has(row.partition) || (partition !== undefined && row.partition !== partition)) {
          continue;
        }
        supervisor.seek(topic, row.partition, row.offset);
        chosen.push({ topic, partition: row.partition, offset: row.offset });
      }
      if (partition !== undefined && chosen.length === 0) {
        throw new Error(`cannot seek ${topic}[${partition}]: it is not assigned to this processor`);
      }
      return chosen;
    },
    resume({ topic, partition }) {
      supervisor.resume(topic, partition);
    },
    [Symbol.asyncDispose]() {
      return processor.stop();
    },
  };
  return processor;
}
