/**
 * Free TCP ports on the loopback interface.
 *
 * @module
 */

/**
 * Asks the OS for a free TCP port on 127.0.0.1.
 *
 * @example
 * ```ts
 * import { freePort } from "./free_port.ts";
 * console.log(freePort() > 0); // true
 * ```
 */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}
