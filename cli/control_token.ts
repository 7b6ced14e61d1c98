/**
 * The control token: what a request must carry to change anything through the dashboard
 * (pause or resume a partition, replay dead letters). Without one configured, every such
 * request is refused.
 *
 * @module
 */

import { UsageError } from "./errors.ts";

/** The header a mutating request carries the token in: `Authorization: Bearer <token>`. */
export const CONTROL_TOKEN_HEADER = "authorization";

/** Shortest token accepted: long enough that guessing it over HTTP is hopeless. */
export const MIN_CONTROL_TOKEN_LENGTH = 16;

/** Why a request may or may not change something. */
export type ControlVerdict =
  | { readonly allowed: true }
  | { readonly allowed: false; readonly why: "controls-off" | "missing-token" | "wrong-token" };

/**
 * Checks a control token as given by `--control-token` or `TROUPE_CONTROL_TOKEN`.
 *
 * @example
 * ```ts
 * import { checkControlToken } from "./control_token.ts";
 * console.log(checkControlToken("a-long-enough-secret-token", "--control-token"));
 * ```
 *
 * @throws {UsageError} when it is shorter than {@linkcode MIN_CONTROL_TOKEN_LENGTH} or holds
 *   whitespace or control characters (naming `label`, never the token).
 */
export function checkControlToken(token: string, label: string): string {
  if (token.length < MIN_CONTROL_TOKEN_LENGTH) {
    throw new UsageError(
      `${label} must be at least ${MIN_CONTROL_TOKEN_LENGTH} characters long ` +
        `(got ${token.length}); e.g. the output of "openssl rand -hex 24"`,
    );
  }
  // deno-lint-ignore no-control-regex
  if (/[\s\x00-\x1f\x7f]/.test(token)) {
    throw new UsageError(`${label} must not contain whitespace or control characters`);
  }
  return token;
}

/**
 * Judges requests against the configured token (or its absence), comparing in constant time
 * so that the answer's timing does not give the token away.
 *
 * @example
 * ```ts
 * import { ControlGate } from "./control_token.ts";
 * const gate = new ControlGate("a-long-enough-secret-token");
 * const request = new Request("http://x/", {
 *   method: "POST",
 *   headers: { authorization: "Bearer a-long-enough-secret-token" },
 * });
 * console.log(gate.judge(request).allowed); // true
 * ```
 */
export class ControlGate {
  readonly #token: Uint8Array | null;

  /**
   * Creates the gate.
   *
   * @param token The token, or `undefined` for controls off (every request refused).
   */
  constructor(token: string | undefined) {
    this.#token = token === undefined ? null : new TextEncoder().encode(token);
  }

  /** True when a token is configured: the page offers its controls. */
  get enabled(): boolean {
    return this.#token !== null;
  }

  /** Whether `request` may change something. */
  judge(request: Request): ControlVerdict {
    if (this.#token === null) return { allowed: false, why: "controls-off" };
    const header = request.headers.get(CONTROL_TOKEN_HEADER);
    const match = header === null ? null : /^Bearer (\S+)$/.exec(header.trim());
    if (!match) return { allowed: false, why: "missing-token" };
    return sameBytes(new TextEncoder().encode(match[1]), this.#token)
      ? { allowed: true }
      : { allowed: false, why: "wrong-token" };
  }
}

/** Compares every byte whatever differs first. */
function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  let difference = a.length ^ b.length;
  for (let i = 0; i < b.length; i++) difference |= (a[i] ?? 0) ^ b[i];
  return difference === 0;
}
