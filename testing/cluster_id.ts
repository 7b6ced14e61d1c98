/**
 * The id a new KRaft cluster is formatted with.
 *
 * @module
 */

/**
 * A KRaft cluster id: 16 random bytes in URL-safe base64 without padding, as Kafka makes them.
 * Like Kafka's own `Uuid.randomUuid`, it never starts with `-`: the storage tool would read such
 * an id as an option (one format in 64 failed with "--cluster-id: expected one argument").
 *
 * @example
 * ```ts
 * import { clusterId } from "./cluster_id.ts";
 *
 * const id = clusterId(); // e.g. "q1Sh-9_nQWaSq0GDtTIHVw"
 * ```
 */
export function clusterId(): string {
  for (;;) {
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    const id = btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_")
      .replace(/=+$/, "");
    if (!id.startsWith("-")) return id;
  }
}
