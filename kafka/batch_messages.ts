/**
 * A fetched KafkaJS batch as troupe's messages.
 *
 * @module
 */

import type { Batch } from "kafkajs";
import { dropAbortedRecords } from "./aborted_transactions.ts";
import { type MessageCodecs, ReceivedMessage } from "./message.ts";

/**
 * The records of a KafkaJS batch as troupe's messages (each wraps its record, decoding
 * lazily). Reading committed records, troupe also drops what KafkaJS let through of aborted
 * transactions, from the records as the broker sent them.
 *
 * @example
 * ```ts ignore
 * const messages = messagesOf(payload.batch, codecs, false);
 * ```
 */
export function messagesOf<K, V>(
  batch: Batch,
  codecs: MessageCodecs<K, V>,
  readUncommitted: boolean,
): ReceivedMessage<K, V>[] {
  let records = batch.messages;
  if (!readUncommitted) {
    const unfiltered = (batch as { messagesWithinOffset?: Batch["messages"] }).messagesWithinOffset;
    if (unfiltered !== undefined && unfiltered.length !== records.length) {
      records = dropAbortedRecords(records, unfiltered) as Batch["messages"];
    }
  }
  const { topic, partition } = batch;
  const messages = new Array<ReceivedMessage<K, V>>(records.length);
  for (let i = 0; i < records.length; i++) {
    const record = records[i];
    messages[i] = new ReceivedMessage(topic, partition, Number(record.offset), record, codecs);
  }
  return messages;
}
