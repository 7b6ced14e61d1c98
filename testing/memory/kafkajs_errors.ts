/**
 * KafkaJS's error classes, as values. KafkaJS spreads them into its `module.exports`, which
 * Deno's detection of CommonJS named exports cannot see, so `import { KafkaJSError } from
 * "kafkajs"` fails at run time although it type-checks; they are taken from the module
 * object here instead.
 *
 * @module
 */

import * as kafkajs from "kafkajs";

const exported = (kafkajs as unknown as { default: typeof kafkajs }).default;

/** KafkaJS's base error class. */
export const KafkaJSError: typeof kafkajs.KafkaJSError = exported.KafkaJSError;
/** An error KafkaJS does not retry. */
export const KafkaJSNonRetriableError: typeof kafkajs.KafkaJSNonRetriableError =
  exported.KafkaJSNonRetriableError;
/** A broker's error code, with its `type`, `code` and `retriable` flag. */
export const KafkaJSProtocolError: typeof kafkajs.KafkaJSProtocolError =
  exported.KafkaJSProtocolError;
/** KafkaJS's retries ran out (the cause is the last error). */
export const KafkaJSNumberOfRetriesExceeded: typeof kafkajs.KafkaJSNumberOfRetriesExceeded =
  exported.KafkaJSNumberOfRetriesExceeded;
/** A broker could not be reached. */
export const KafkaJSConnectionError: typeof kafkajs.KafkaJSConnectionError =
  exported.KafkaJSConnectionError;

/** The type of a {@linkcode KafkaJSProtocolError}. */
export type KafkaJSProtocolError = kafkajs.KafkaJSProtocolError;
/** The type of a {@linkcode KafkaJSNonRetriableError}. */
export type KafkaJSNonRetriableError = kafkajs.KafkaJSNonRetriableError;
