/**
 * From `troupe run`'s flags, environment and handler module to the processor's options:
 * the one place that decides what wins (flags, then environment, then the module's
 * `options` export, then defaults), and which options the core supports yet.
 *
 * @module
 */

import type { CodecSpec } from "../kafka/codec.ts";
import type { ProcessorOptions } from "../supervisor/options.ts";
import type { ResolvedConnection } from "./connection.ts";
import { UsageError } from "./errors.ts";
import type { ParsedFlags } from "./flags.ts";
import type { HandlerModule } from "./handler_module.ts";

/** How messages of a partition may be processed relative to each other. */
export type Ordering = "partition" | "key" | "unordered";

/** The orderings `--ordering` accepts; the first is the default. */
export const ORDERINGS: readonly Ordering[] = ["partition", "key", "unordered"];

/**
 * Processor options the CLI already parses but the core may not have yet. Their shapes are
 * what the CLI will pass once the core has them.
 */
export interface PendingProcessorOptions {
  /** `--ordering`. */
  ordering?: Ordering;
  /** `--concurrency`: messages processed at once per partition. */
  concurrency?: number;
  /** `--dead-letter TOPIC`: where messages go once their retries are exhausted. */
  deadLetter?: { topic: string };
}

type CoreHas<K extends string> = K extends keyof ProcessorOptions ? true : false;

/**
 * THE SWITCH. Whether `ProcessorOptions` has `ordering`, `concurrency` and `deadLetter` yet.
 * With `false`, a non-default `--ordering`, `--concurrency` or `--dead-letter` exits 2 with
 * "not supported yet"; with `true` the value is passed through as the option of that name.
 * Each flag's type is computed from `ProcessorOptions`, so once the core gains an option
 * `deno check` fails on this line until its entry says `true`.
 */
export const CORE_SUPPORTS: {
  readonly ordering: CoreHas<"ordering">;
  readonly concurrency: CoreHas<"concurrency">;
  readonly deadLetter: CoreHas<"deadLetter">;
} = { ordering: false, concurrency: false, deadLetter: false };

/** What `run` adds on top of the flags and the module. */
export interface RunExtras {
  /** The connection resolved from flags and environment. */
  connection: ResolvedConnection;
  /** True when `--metrics-port` is on: the processing-time histogram is measured. */
  metrics: boolean;
}

/** The options handed to `createProcessor`. */
export type RunProcessorOptions =
  & ProcessorOptions<CodecSpec, CodecSpec>
  & PendingProcessorOptions;

const TOPIC_NAME = /^[a-zA-Z0-9._-]{1,249}$/;

/**
 * Builds the processor's options for `troupe run`.
 *
 * @example
 * ```ts ignore
 * const options = buildProcessorOptions(flags, module, { connection, metrics: true });
 * const processor = createProcessor(options);
 * ```
 *
 * @throws {UsageError} for a missing group or topic, a bad pattern, or a flag the core does
 * not support yet.
 */
export function buildProcessorOptions(
  flags: ParsedFlags,
  module: HandlerModule,
  extras: RunExtras,
): RunProcessorOptions {
  const explicit = (name: string) => {
    const source = flags.source(name);
    return source === "flag" || source === "env";
  };
  const fromModule = module.options;

  // Topics: names and a pattern from flags/environment replace the module's topics.
  const names = flags.list("topic");
  for (const topic of names) {
    if (!TOPIC_NAME.test(topic)) {
      throw new UsageError(
        `${flags.label("topic")}: "${topic}" is not a valid topic name ` +
          "(letters, digits, '.', '_', '-'; at most 249)",
      );
    }
  }
  const topics: (string | RegExp)[] = [...names];
  const pattern = flags.string("topic-pattern");
  if (pattern !== undefined) {
    try {
      topics.push(new RegExp(pattern));
    } catch (error) {
      throw new UsageError(
        `${flags.label("topic-pattern")}: not a regular expression: ${
          error instanceof Error ? error.message : error
        }`,
      );
    }
  }
  if (topics.length === 0 && fromModule.topics === undefined) {
    throw new UsageError(
      'run needs --topic or --topic-pattern (or TROUPE_TOPICS, TROUPE_TOPIC_PATTERN, or "topics" ' +
        'in the handler\'s options). Run "troupe run --help" for its options.',
    );
  }
  const groupId = flags.string("group") ?? fromModule.groupId;
  if (groupId === undefined || groupId.trim() === "") {
    throw new UsageError(
      'run needs --group (or TROUPE_GROUP, or "groupId" in the handler\'s options). ' +
        'Run "troupe run --help" for its options.',
    );
  }

  const options: RunProcessorOptions = {
    ...fromModule,
    brokers: explicit("brokers") || fromModule.brokers === undefined
      ? extras.connection.options.brokers
      : fromModule.brokers,
    clientId: explicit("client-id") || fromModule.clientId === undefined
      ? extras.connection.options.clientId
      : fromModule.clientId,
    groupId,
    topics: topics.length > 0 ? topics : fromModule.topics!,
    handler: module.handler,
  };
  if (extras.connection.options.ssl !== undefined) options.ssl = extras.connection.options.ssl;
  if (extras.connection.options.sasl !== undefined) options.sasl = extras.connection.options.sasl;
  if (explicit("from-beginning")) options.fromBeginning = flags.boolean("from-beginning");
  if (extras.metrics && fromModule.measureProcessingTime === undefined) {
    options.measureProcessingTime = true;
  }

  // The options the core may not have yet: parsed and validated now, passed through (or
  // refused) according to CORE_SUPPORTS.
  const ordering = flags.choice<Ordering>("ordering") ?? "partition";
  const concurrency = flags.integer("concurrency", 1) ?? 1;
  const deadLetter = flags.string("dead-letter") ?? "off";
  if (deadLetter !== "off" && !TOPIC_NAME.test(deadLetter)) {
    throw new UsageError(
      `${flags.label("dead-letter")} must be a topic name or "off"; got "${deadLetter}"`,
    );
  }
  if (explicit("ordering")) {
    if (CORE_SUPPORTS.ordering) options.ordering = ordering;
    else if (ordering !== "partition") notYet(flags.label("ordering"), ordering);
  }
  if (explicit("concurrency")) {
    if (CORE_SUPPORTS.concurrency) options.concurrency = concurrency;
    else if (concurrency !== 1) notYet(flags.label("concurrency"), String(concurrency));
  }
  if (explicit("dead-letter")) {
    if (CORE_SUPPORTS.deadLetter) {
      if (deadLetter === "off") delete options.deadLetter;
      else options.deadLetter = { topic: deadLetter };
    } else if (deadLetter !== "off") notYet(flags.label("dead-letter"), deadLetter);
  }
  return options;
}

function notYet(flag: string, value: string): never {
  throw new UsageError(
    `${flag} ${value} is not supported yet: this version of troupe processes each partition's ` +
      "messages one at a time, in order, without a dead-letter topic",
  );
}
