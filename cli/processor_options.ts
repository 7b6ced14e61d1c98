/**
 * From `troupe run`'s flags, environment and handler module to the processor's options:
 * the one place that decides what wins (flags, then environment, then the module's
 * `options` export, then defaults).
 *
 * @module
 */

import type { CodecSpec, Ordering, ProcessorOptions } from "../mod.ts";
import type { ResolvedConnection } from "./connection.ts";
import { UsageError } from "./errors.ts";
import type { ParsedFlags } from "./flags.ts";
import type { HandlerModule } from "./handler_module.ts";

/** The orderings `--ordering` accepts; the first is the default. */
export const ORDERINGS: readonly Ordering[] = ["partition", "key", "unordered"];

/** What `run` adds on top of the flags and the module. */
export interface RunExtras {
  /** The connection resolved from flags and environment. */
  connection: ResolvedConnection;
  /** True when `--metrics-port` is on: the processing-time histogram is measured. */
  metrics: boolean;
}

/** The options handed to `createProcessor`. */
export type RunProcessorOptions = ProcessorOptions<CodecSpec, CodecSpec>;

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
 * @throws {UsageError} for a missing group or topic, a bad topic name or pattern.
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

  // Passed only when given, so that the module's options and the core's defaults (which
  // depend on each other: concurrency 16 with key or unordered ordering, 1 with partition)
  // apply otherwise. The core checks the combination.
  if (explicit("ordering")) options.ordering = flags.choice<Ordering>("ordering");
  if (explicit("concurrency")) options.concurrency = flags.integer("concurrency", 1);
  if (explicit("dead-letter")) {
    const deadLetter = flags.required("dead-letter");
    if (deadLetter !== "off" && !TOPIC_NAME.test(deadLetter)) {
      throw new UsageError(
        `${flags.label("dead-letter")} must be a topic name or "off"; got "${deadLetter}"`,
      );
    }
    options.deadLetter = deadLetter === "off" ? false : deadLetter;
  }
  return options;
}
