/**
 * How a message's outputs leave (consume-transform-produce): straight to the broker, at least
 * once, or into its partition's open transaction, exactly once.
 *
 * @module
 */

import { describeError } from "../kafka/errors.ts";
import { createProducer, type Producer, type ProducerRecord } from "../kafka/producer.ts";
import type { OutputRecord } from "./handler_context.ts";
import type { ResolvedProcessorOptions } from "./resolve_options.ts";

/** Where one partition's outputs go, as the pipeline sees it. */
export interface OutputPath {
  /**
   * Hold what a handler `send`s until its attempt succeeds, then send it with what it
   * returned (exactly once: the outputs of an attempt that fails must never be sent).
   */
  readonly deferred: boolean;
  /** Sends output records; resolves once they are safe (acknowledged, or in a transaction). */
  send(records: readonly OutputRecord[]): Promise<unknown>;
  /**
   * Runs one attempt of a message under the partition's transaction lock, so that a
   * message's outputs and the partition's commits never interleave; `succeeded` is called
   * inside the lock once the attempt succeeded, so that the message counts as processed
   * before any commit can read the commit point (else a commit could carry the message's
   * outputs without its offset, and the next owner would process it again). Absent: run
   * attempts directly.
   */
  run?<T>(attempt: () => Promise<T>, succeeded: () => void): Promise<T>;
}

/**
 * Sending a message's outputs into its partition's transaction failed: the transaction is
 * lost with every message in it since the last commit. Not the message's fault: no retry in
 * place, no dead letter; the crash rewinds the partition to its last commit.
 *
 * @example
 * ```ts
 * import { TransactionFailure } from "./output_path.ts";
 * console.log(new TransactionFailure(new Error("fenced")).message);
 * ```
 */
export class TransactionFailure extends Error {
  /**
   * Creates the error.
   *
   * @param cause Why the transaction failed.
   */
  constructor(cause: unknown) {
    super(`the partition's transaction failed: ${describeError(cause)}`, { cause });
    this.name = "TransactionFailure";
  }
}

/**
 * Outputs at least once: one producer shared by every partition, made on first use. A
 * message is done once its outputs are acknowledged.
 *
 * @example
 * ```ts ignore
 * const outputs = new DirectOutputs(resolvedOptions);
 * await outputs.send([{ topic: "audit", value: { seen: 1 } }]);
 * await outputs.close();
 * ```
 */
export class DirectOutputs implements OutputPath {
  readonly deferred = false;
  #options: ResolvedProcessorOptions<unknown, unknown>;
  #producer: Producer<unknown, unknown> | undefined;

  /**
   * Creates the path; nothing connects before the first send.
   *
   * @param options The processor's resolved options (with `output` set).
   */
  constructor(options: ResolvedProcessorOptions<unknown, unknown>) {
    this.#options = options;
  }

  send(records: readonly OutputRecord[]): Promise<unknown> {
    const { connection, output } = this.#options;
    this.#producer ??= createProducer({
      ...connection,
      clientId: `${connection.clientId}-outputs`,
      keyCodec: output!.keyCodec,
      valueCodec: output!.valueCodec,
    });
    return this.#producer.sendAll(records as ProducerRecord<unknown, unknown>[]);
  }

  /** Flushes and closes the producer, if one was made. */
  async close(): Promise<void> {
    await this.#producer?.close().catch(() => {});
  }
}
