/**
 * How a produced record's result reaches its caller: a lone `send`'s own promise (ending its
 * publish span, when traced), or one slot of a `sendAll`'s single promise.
 *
 * @module
 */

import type { Span } from "@opentelemetry/api";
import { endPublishSpan } from "./publish_span.ts";
import { failSpan } from "./tracing.ts";

/** Where a record was written. */
export interface RecordMetadata {
  /** Its topic. */
  readonly topic: string;
  /** Its partition. */
  readonly partition: number;
  /** Its offset in the partition. */
  readonly offset: number;
}

/** Where a settled record's result goes: its own `send`, or its slot in a `sendAll`. */
export interface Settlement {
  resolve(metadata: RecordMetadata, index: number): void;
  reject(error: unknown, index: number): void;
}

/**
 * A lone `send`'s promise, as a {@linkcode Settlement}; with a span, it ends the span too.
 *
 * @example
 * ```ts
 * import { SingleSettlement } from "./settlement.ts";
 *
 * const settlement = new SingleSettlement(undefined);
 * settlement.resolve({ topic: "orders", partition: 0, offset: 7 });
 * console.log((await settlement.promise).offset); // 7
 * ```
 */
export class SingleSettlement implements Settlement {
  readonly promise: Promise<RecordMetadata>;
  readonly #resolve: (metadata: RecordMetadata) => void;
  readonly #reject: (error: unknown) => void;
  readonly #span: Span | undefined;

  constructor(span: Span | undefined) {
    const { promise, resolve, reject } = Promise.withResolvers<RecordMetadata>();
    this.promise = promise;
    this.#resolve = resolve;
    this.#reject = reject;
    this.#span = span;
  }

  resolve(metadata: RecordMetadata): void {
    if (this.#span) endPublishSpan(this.#span, metadata);
    this.#resolve(metadata);
  }

  reject(error: unknown): void {
    if (this.#span) failSpan(this.#span, error);
    this.#reject(error);
  }
}

/**
 * One promise for all the records of a `sendAll`: one allocation per call instead of a
 * promise, two closures and an array slot per record. It resolves with every record's
 * metadata once all are acknowledged, or rejects with the first failure, as `Promise.all`
 * over each record's `send` would; the other records are still delivered either way.
 *
 * @example
 * ```ts
 * import { GroupSettlement } from "./settlement.ts";
 *
 * const settlement = new GroupSettlement(2);
 * settlement.resolve({ topic: "orders", partition: 1, offset: 3 }, 1);
 * settlement.resolve({ topic: "orders", partition: 0, offset: 9 }, 0);
 * console.log((await settlement.promise).map((m) => m.offset)); // [9, 3]
 * ```
 */
export class GroupSettlement implements Settlement {
  readonly promise: Promise<RecordMetadata[]>;
  readonly #results: RecordMetadata[];
  readonly #resolve: (metadata: RecordMetadata[]) => void;
  readonly #reject: (error: unknown) => void;
  #remaining: number;
  #failed = false;

  constructor(count: number) {
    const { promise, resolve, reject } = Promise.withResolvers<RecordMetadata[]>();
    this.promise = promise;
    this.#resolve = resolve;
    this.#reject = reject;
    this.#results = new Array(count);
    this.#remaining = count;
    if (count === 0) resolve(this.#results);
  }

  resolve(metadata: RecordMetadata, index: number): void {
    this.#results[index] = metadata;
    if (--this.#remaining === 0 && !this.#failed) this.#resolve(this.#results);
  }

  reject(error: unknown): void {
    this.#remaining--;
    if (this.#failed) return;
    this.#failed = true;
    this.#reject(error);
  }
}
