/**
 * Encoding the offsets completed beyond a commit point into the commit's metadata, so that
 * the next owner of a partition skips work that was already done.
 *
 * @module
 */

const PREFIX = "troupe1";

/**
 * Longest distance (in offsets) past the commit point whose completions are sure to fit in
 * `maxBytes` of metadata: the bitset encoding needs one bit per offset, in base64.
 *
 * @example
 * ```ts
 * import { maxCompletionSpan } from "./completions.ts";
 * console.log(maxCompletionSpan(4096)); // 24192
 * ```
 */
export function maxCompletionSpan(maxBytes: number): number {
  const payload = maxBytes - PREFIX.length - 3 - 14; // separators, a base-36 offset
  return Math.max(0, Math.floor(payload / 4) * 3 * 8);
}

function toBase64Url(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i++) binary += String.fromCharCode(bytes[i]);
  return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

function fromBase64Url(text: string): Uint8Array {
  const binary = atob(text.replaceAll("-", "+").replaceAll("_", "/"));
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/**
 * Encodes the offsets completed beyond `commitPoint` (which itself is not complete), as
 * whichever is shorter of a bitset and run lengths. Returns `null` for none, and `undefined`
 * when even the shorter form exceeds `maxBytes`.
 *
 * Format: `troupe1:<b|r>:<commit point, base 36>:<payload>`; the bitset's bit i stands for
 * offset `commitPoint + 1 + i`; run lengths alternate not-done and done, from
 * `commitPoint + 1`, in base 36, separated by `.`.
 *
 * @example
 * ```ts
 * import { decodeCompletions, encodeCompletions } from "./completions.ts";
 * const metadata = encodeCompletions(100, [102, 103, 107], 4096)!;
 * console.log(decodeCompletions(metadata, 100)); // Set { 102, 103, 107 }
 * ```
 */
export function encodeCompletions(
  commitPoint: number,
  completed: readonly number[],
  maxBytes: number,
): string | null | undefined {
  if (completed.length === 0) return null;
  const header = `${PREFIX}:`;
  const base = commitPoint.toString(36);
  // Run lengths: [gap, run, gap, run, ...] from commitPoint + 1.
  const runs: number[] = [];
  let next = commitPoint + 1;
  let i = 0;
  while (i < completed.length) {
    const start = completed[i];
    let end = start;
    while (i + 1 < completed.length && completed[i + 1] === end + 1) end = completed[++i];
    runs.push(start - next, end - start + 1);
    next = end + 1;
    i++;
  }
  const rle = `${header}r:${base}:${runs.map((n) => n.toString(36)).join(".")}`;
  const span = completed[completed.length - 1] - commitPoint;
  let best = rle;
  if (Math.ceil(span / 8) * 4 / 3 + header.length + base.length + 3 < rle.length) {
    const bits = new Uint8Array(Math.ceil(span / 8));
    for (const offset of completed) {
      const bit = offset - commitPoint - 1;
      bits[bit >> 3] |= 1 << (bit & 7);
    }
    best = `${header}b:${base}:${toBase64Url(bits)}`;
  }
  return best.length <= maxBytes ? best : undefined;
}

/** Why metadata could not be used. */
export class CompletionsError extends Error {
  /**
   * Creates the error.
   *
   * @param message What is wrong with the metadata.
   */
  constructor(message: string) {
    super(message);
    this.name = "CompletionsError";
  }
}

/**
 * Decodes metadata written by {@linkcode encodeCompletions} for a partition whose committed
 * offset is `committed`. An empty set for no metadata; throws {@linkcode CompletionsError}
 * for metadata that is foreign, corrupt, or about another commit point.
 *
 * @example
 * ```ts
 * import { decodeCompletions } from "./completions.ts";
 * console.log(decodeCompletions(null, 5).size); // 0
 * ```
 */
export function decodeCompletions(
  metadata: string | null | undefined,
  committed: number,
): Set<number> {
  const completed = new Set<number>();
  if (!metadata) return completed;
  const parts = metadata.split(":");
  if (parts.length !== 4 || parts[0] !== PREFIX) {
    throw new CompletionsError(
      `not troupe's completion metadata: ${JSON.stringify(metadata.slice(0, 40))}`,
    );
  }
  const [, kind, baseText, payload] = parts;
  const base = parseInt(baseText, 36);
  if (!Number.isSafeInteger(base) || base.toString(36) !== baseText) {
    throw new CompletionsError(`corrupt commit point ${JSON.stringify(baseText)}`);
  }
  if (base !== committed) {
    throw new CompletionsError(
      `written for commit point ${base}, but the committed offset is ${committed}`,
    );
  }
  if (kind === "b") {
    let bits: Uint8Array;
    try {
      bits = fromBase64Url(payload);
    } catch {
      throw new CompletionsError("corrupt bitset");
    }
    for (let i = 0; i < bits.length * 8; i++) {
      if (bits[i >> 3] & (1 << (i & 7))) completed.add(base + 1 + i);
    }
  } else if (kind === "r") {
    const runs = payload.split(".").map((n) => parseInt(n, 36));
    if (runs.length % 2 !== 0 || runs.some((n) => !Number.isSafeInteger(n) || n < 0)) {
      throw new CompletionsError("corrupt run lengths");
    }
    let next = base + 1;
    for (let i = 0; i < runs.length; i += 2) {
      next += runs[i];
      for (let j = 0; j < runs[i + 1]; j++) completed.add(next++);
    }
  } else {
    throw new CompletionsError(`unknown encoding ${JSON.stringify(kind)}`);
  }
  return completed;
}
