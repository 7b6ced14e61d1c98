/**
 * Dropping records of aborted transactions that KafkaJS's read-committed filter lets through.
 *
 * @module
 */

import type { KafkaMessage } from "kafkajs";

/** A KafkaJS record with the fields KafkaJS's types leave out. */
type KafkaMessageWithContext = KafkaMessage & {
  isControlRecord?: boolean;
  batchContext?: { producerId?: string; inTransaction?: boolean };
};

/** A transaction marker of one producer: where it stands and whether it aborts. */
interface Marker {
  readonly offset: number;
  readonly abort: boolean;
}

/** The transaction markers among `records`, by producer id. */
function markersOf(records: readonly KafkaMessage[]): Map<string, Marker[]> {
  const markers = new Map<string, Marker[]>();
  for (const raw of records) {
    const record = raw as KafkaMessageWithContext;
    if (!record.isControlRecord) continue;
    const producerId = record.batchContext?.producerId ?? "";
    // A control record's key: version (int16), then type (int16): 0 aborts, 1 commits.
    const abort = !(raw.key && raw.key.length >= 4 && raw.key[3] === 1);
    let list = markers.get(producerId);
    if (!list) markers.set(producerId, list = []);
    list.push({ offset: Number(raw.offset), abort });
  }
  return markers;
}

/**
 * Drops, from what KafkaJS delivered, the records that the fetch itself shows to belong to
 * aborted transactions. KafkaJS's filter steps through the broker's aborted-transaction list
 * one entry per record, so when a fetch starts inside several interleaved aborted
 * transactions it lets some of their records through. The markers in the fetch cannot lie: a
 * transactional record is aborted when the first marker of its producer after it is an abort.
 * (A record whose marker is in a later fetch keeps KafkaJS's verdict: KafkaJS skips batches it
 * filtered empty, so troupe never sees those markers.)
 *
 * @param delivered What KafkaJS delivered (its `batch.messages`).
 * @param unfiltered The same fetch as the broker sent it, control records included (KafkaJS's
 *   `batch.messagesWithinOffset`).
 *
 * @example
 * ```ts ignore
 * const messages = dropAbortedRecords(batch.messages, batch.messagesWithinOffset);
 * ```
 */
export function dropAbortedRecords(
  delivered: readonly KafkaMessage[],
  unfiltered: readonly KafkaMessage[],
): readonly KafkaMessage[] {
  const markers = markersOf(unfiltered);
  if (markers.size === 0) return delivered;
  return delivered.filter((raw) => {
    const context = (raw as KafkaMessageWithContext).batchContext;
    if (!context?.inTransaction) return true;
    const offset = Number(raw.offset);
    const next = markers.get(context.producerId ?? "")?.find((marker) => marker.offset > offset);
    return next === undefined || !next.abort;
  });
}
