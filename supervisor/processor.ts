/**
 * `createProcessor`: a partition table fed by a consumer loop, with a lifecycle.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { Limiter } from "../actors/limiter.ts";
import { createAdmin } from "../kafka/admin.ts";
import type { Admin } from "../kafka/admin_types.ts";
import type { CodecSpec, Decoded } from "../kafka/codec.ts";
import { describeError, KafkaConnectionError } from "../kafka/errors.ts";
import type { CommittedOffsetsReader, OffsetCommitter } from "./committer.ts";
import { ConnectionMonitor, type ConnectionStatus } from "./connection_monitor.ts";
import { ConsumerLoop } from "./consumer_loop.ts";
import { DeadLetters } from "./dead_letters.ts";
import { EventBus, type ProcessorListener } from "./event_bus.ts";
import type {
  EscalationError,
  ProcessorEvent,
  ProcessorEventType,
  TopicPartition,
  TopicPartitionOffset,
} from "./events.ts";
import { GroupCommitter } from "./group_committer.ts";
import { Histogram, type HistogramSnapshot } from "./histogram.ts";
import type { ProcessorOptions } from "./options.ts";
import { DirectOutputs, type OutputPath } from "./output_path.ts";
import type { PartitionStatus } from "./partition.ts";
import { PartitionTable } from "./partition_table.ts";
import { Pipeline } from "./pipeline.ts";
import { type ResolvedProcessorOptions, resolveProcessorOptions } from "./resolve_options.ts";
import type { Assignment, FetcherObserver } from "./seam.ts";
import { TransactionalCommitter } from "./transactional_committer.ts";

const log = getLogger(["troupe", "processor"]);

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
  readonly connection: ConnectionStatus;
}

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
 * The processor: its life from `idle` to `stopped` or `failed`, around a partition table fed
 * by a consumer loop. Everything else is done by the parts it assembles.
 */
class StreamProcessor<K, V> implements Processor {
  #options: ResolvedProcessorOptions<K, V>;
  #state: ProcessorState = "idle";
  #joins = 0;
  #failure: Error | undefined;
  #events = new EventBus();
  #connection = new ConnectionMonitor((event) => this.#emit(event));
  #histogram: Histogram | null;
  #deadLetters: DeadLetters;
  #outputs: DirectOutputs | null;
  #table: PartitionTable<K, V>;
  #loop: ConsumerLoop<K, V>;
  #admin: Admin | undefined;
  #commitTimer: ReturnType<typeof setInterval> | undefined;
  #starting: Promise<void> | undefined;
  #ending: Promise<void> | undefined;
  #done = Promise.withResolvers<void>();

  constructor(options: ResolvedProcessorOptions<K, V>) {
    this.#options = options;
    // A failure is reported through `done`; nobody is forced to watch it.
    this.#done.promise.catch(() => {});
    const emit = (event: ProcessorEvent) => this.#emit(event);
    this.#histogram = options.measureProcessingTime ? new Histogram() : null;
    this.#deadLetters = new DeadLetters(options.connection, emit);
    this.#outputs = options.output && !options.exactlyOnce
      ? new DirectOutputs(options as ResolvedProcessorOptions<unknown, unknown>)
      : null;
    const committer = this.#committer();
    const pipeline = new Pipeline(options, {
      outputs: (partition, epoch): OutputPath | null =>
        committer instanceof TransactionalCommitter
          ? committer.outputPath(partition, epoch)
          : this.#outputs,
      deadLetters: this.#deadLetters,
      limiter: options.maxInFlight === null ? null : new Limiter(options.maxInFlight),
      histogram: this.#histogram,
    });
    this.#table = new PartitionTable(options, {
      pipeline,
      committer,
      emit,
      escalate: (error: EscalationError) => void this.#end(error),
    });
    this.#loop = new ConsumerLoop(options, this.#table, this.#observer());
  }

  get done(): Promise<void> {
    return this.#done.promise;
  }

  /** Group commits, or transactions with `exactlyOnce`. */
  #committer(): OffsetCommitter<K, V> {
    const options = this.#options;
    const committedOffsets: CommittedOffsetsReader = (topic) =>
      this.#adminClient().committedOffsets(options.groupId, [topic]);
    if (options.exactlyOnce) return new TransactionalCommitter(options, committedOffsets);
    return new GroupCommitter({
      lanes: options.ordering !== "partition",
      metadataMaxBytes: options.offsetMetadataMaxBytes,
      committedOffsets,
    });
  }

  /** An admin client, made on first use. */
  #adminClient(): Admin {
    return this.#admin ??= createAdmin(this.#options.connection);
  }

  /** What the consumer loop reports: joins, crashes and signs of life. */
  #observer(): FetcherObserver {
    const connection = this.#connection;
    return {
      get watching() {
        return connection.watching;
      },
      joined: (memberId, assignment) => this.#joined(memberId, assignment),
      crashed: (error, restarting) => this.#crashed(error, restarting),
      alive: () => connection.restored(),
      subscriptionChanged: (change, partitions) => {
        for (const topic of change.added) {
          this.#emit({ type: "topic-added", topic, partitions: partitions.get(topic) ?? 0 });
        }
        for (const topic of change.deleted) {
          log.warn("topic {topic} was deleted: its partitions are dropped", { topic });
          this.#emit({ type: "topic-deleted", topic });
        }
        for (const { topic, from, to } of change.grown) {
          log.info("topic {topic} grew from {from} to {to} partitions", { topic, from, to });
          this.#emit({ type: "partitions-added", topic, from, to });
        }
      },
    };
  }

  #joined(memberId: string | null, assignment: Assignment): void {
    this.#joins++;
    const partitions = Object.entries(assignment).flatMap(([topic, list]) =>
      list.map((partition) => ({ topic, partition }))
    );
    log.info("joined group {groupId} as {memberId} with {count} partition(s)", {
      groupId: this.#options.groupId,
      memberId,
      count: partitions.length,
    });
    this.#emit({ type: "joined", memberId, assignment: partitions });
  }

  #crashed(error: unknown, restarting: boolean): void {
    log.error("the Kafka consumer crashed ({what}): {error}", {
      what: restarting ? "it is restarted" : "for good",
      error: describeError(error),
    });
    this.#emit({ type: "consumer-crashed", error, restarting });
    this.#connection.lost(error);
    if (!restarting && (this.#state === "running" || this.#state === "starting")) {
      void this.#end(new KafkaConnectionError("the Kafka consumer failed", error));
    }
  }

  #emit(event: ProcessorEvent): void {
    this.#connection.observe(event);
    this.#events.emit(event);
  }

  start(): Promise<void> {
    if (this.#starting) return this.#starting;
    if (this.#state !== "idle") {
      return Promise.reject(new Error(`cannot start a ${this.#state} processor`));
    }
    this.#state = "starting";
    this.#starting = (async () => {
      try {
        await this.#loop.start();
      } catch (error) {
        const reason = error instanceof Error ? error : new Error(String(error));
        await this.#end(reason);
        throw reason;
      }
      if (this.#state !== "starting") return; // stopped while starting
      this.#state = "running";
      const options = this.#options;
      this.#connection.watchHeartbeats(
        () => this.#loop.silentFor(),
        options.consumer.heartbeatInterval,
      );
      if (options.autoCommit) {
        this.#commitTimer = setInterval(
          () => void this.#table.commit("interval"),
          options.commitIntervalMs,
        );
      }
    })();
    return this.#starting;
  }

  async stop(): Promise<void> {
    if (this.#state === "idle") {
      this.#state = "stopped";
      this.#done.resolve();
      return;
    }
    if (this.#starting) await this.#starting.catch(() => {});
    await this.#end();
  }

  /** Brings everything down, gracefully; `error` makes it a failure. */
  #end(error?: Error): Promise<void> {
    if (this.#ending) return this.#ending;
    const wasRunning = this.#state === "running" || this.#state === "starting";
    this.#state = "stopping";
    clearInterval(this.#commitTimer);
    this.#connection.stop();
    this.#ending = (async () => {
      const options = this.#options;
      if (wasRunning) {
        await this.#table.stop(options.shutdownTimeoutMs, error ? "escalation" : "stop");
      }
      await this.#loop.stop().catch((stopError) =>
        log.warn("leaving the group failed: {error}", { error: describeError(stopError) })
      );
      await this.#table.close().catch(() => {});
      await this.#admin?.close().catch(() => {});
      await this.#deadLetters.close();
      await this.#outputs?.close();
      this.#settle(error);
    })();
    return this.#ending;
  }

  #settle(error: Error | undefined): void {
    if (error) {
      this.#failure = error;
      this.#state = "failed";
      log.error("processor failed: {error}", { error: describeError(error) });
      this.#emit({ type: "processor-failed", error });
      this.#done.reject(error);
    } else {
      this.#state = "stopped";
      log.info("processor stopped");
      this.#emit({ type: "processor-stopped" });
      this.#done.resolve();
    }
  }

  status(): ProcessorStatus {
    const partitions = this.#table.status();
    let processed = 0;
    let restarts = 0;
    let mailboxSize = 0;
    for (const row of partitions) {
      processed += row.processed;
      restarts += row.restarts;
      mailboxSize += row.mailboxSize;
    }
    return {
      state: this.#state,
      groupId: this.#options.groupId,
      memberId: this.#loop.memberId,
      joins: this.#joins,
      partitions,
      totals: { processed, restarts, mailboxSize },
      error: this.#failure ? describeError(this.#failure) : null,
      processingTime: this.#histogram?.snapshot() ?? null,
      connection: this.#connection.status,
    };
  }

  on(type: string, listener: (event: never) => void): () => void {
    return this.#events.on(type as "*", listener as (event: ProcessorEvent) => void);
  }

  pause({ topic, partition }: TopicPartition): void {
    this.#table.pause(topic, partition);
  }

  resume({ topic, partition }: TopicPartition): void {
    this.#table.resume(topic, partition);
  }

  assignment(): TopicPartition[] {
    return this.#table.assignment();
  }

  commit(): Promise<void> {
    return this.#table.commit("manual");
  }

  seek({ topic, partition, offset }: TopicPartitionOffset): void {
    this.#table.seek(topic, partition, offset);
  }

  async seekToTimestamp(
    { topic, partition, timestamp }: { topic: string; partition?: number; timestamp: number },
  ): Promise<TopicPartitionOffset[]> {
    const found = await this.#adminClient().offsetsForTimestamp(topic, timestamp);
    const owned = new Set(
      this.#table.assignment().filter((tp) => tp.topic === topic).map((tp) => tp.partition),
    );
    const chosen: TopicPartitionOffset[] = [];
    for (const row of found) {
      if (!owned.has(row.partition) || (partition !== undefined && row.partition !== partition)) {
        continue;
      }
      this.#table.seek(topic, row.partition, row.offset);
      chosen.push({ topic, partition: row.partition, offset: row.offset });
    }
    if (partition !== undefined && chosen.length === 0) {
      throw new Error(`cannot seek ${topic}[${partition}]: it is not assigned to this processor`);
    }
    return chosen;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }
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
  return new StreamProcessor<Decoded<KC>, Decoded<VC>>(resolveProcessorOptions(options));
}
