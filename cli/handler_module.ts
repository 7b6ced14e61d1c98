/**
 * Loading the user's handler module for `troupe run`: its default export handles each
 * message, its optional `options` export sets processor options.
 *
 * @module
 */

import { isAbsolute, join } from "node:path";
import { pathToFileURL } from "node:url";
import type { CodecSpec, Handler, ProcessorOptions } from "../mod.ts";
import { UsageError } from "./errors.ts";

/** Processor options a handler module may export (all but the handler itself). */
export type ModuleOptions = Partial<Omit<ProcessorOptions<CodecSpec, CodecSpec>, "handler">>;

/** A loaded handler module. */
export interface HandlerModule {
  /** Its default export. */
  readonly handler: Handler<unknown, unknown>;
  /** Its `options` export, or `{}`. */
  readonly options: ModuleOptions;
  /** Its absolute path. */
  readonly path: string;
}

/**
 * Thrown when the module itself threw while loading (for instance a failed top-level
 * `await`): a runtime failure, unlike a missing file or a syntax error.
 */
export class HandlerLoadError extends Error {
  /**
   * Creates the error.
   *
   * @param path The module.
   * @param cause What it threw.
   */
  constructor(path: string, cause: unknown) {
    super(
      `the handler module ${path} threw while loading: ${
        cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause)
      }`,
      { cause },
    );
    this.name = "HandlerLoadError";
  }
}

const EXAMPLE = "export default async function (message, context) { ... }";

/**
 * Loads a handler module given by path (relative to the working directory).
 *
 * @example
 * ```ts ignore
 * const { handler, options } = await loadHandlerModule("./handler.ts");
 * ```
 *
 * @throws {UsageError} when the file is missing, unreadable, does not compile, or exports no
 * default function; {@linkcode HandlerLoadError} when its top-level code throws.
 */
export async function loadHandlerModule(path: string): Promise<HandlerModule> {
  const absolute = isAbsolute(path) ? path : join(Deno.cwd(), path);
  try {
    const info = await Deno.stat(absolute);
    if (!info.isFile) throw new UsageError(`the handler ${path} is not a file`);
  } catch (error) {
    if (error instanceof UsageError) throw error;
    if (error instanceof Deno.errors.NotFound) {
      throw new UsageError(`handler file not found: ${path}`);
    }
    if (error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied) {
      throw new UsageError(
        `no permission to read the handler ${path}: add it (and the local modules it imports) ` +
          "to --allow-read",
      );
    }
    throw new UsageError(`cannot read the handler ${path}: ${messageOf(error)}`);
  }

  let module: Record<string, unknown>;
  try {
    module = await import(pathToFileURL(absolute).href);
  } catch (error) {
    // The loader reports unreadable, missing or malformed modules as TypeErrors; anything
    // else was thrown by the module's own top-level code.
    if (error instanceof TypeError && isLoaderError(error)) {
      const hint = /Requires read access/.test(error.message)
        ? "\n(add the handler's local imports to --allow-read)"
        : "";
      throw new UsageError(
        `cannot load the handler module ${path}: ${tidyLoaderMessage(error.message)}${hint}`,
      );
    }
    throw new HandlerLoadError(path, error);
  }

  const handler = module.default;
  if (handler === undefined) {
    throw new UsageError(`the handler module ${path} has no default export; write:\n  ${EXAMPLE}`);
  }
  if (typeof handler !== "function") {
    throw new UsageError(
      `the default export of ${path} is ${
        describeType(handler)
      }, not a function; write:\n  ${EXAMPLE}`,
    );
  }
  const options = module.options ?? {};
  if (options === null || typeof options !== "object" || Array.isArray(options)) {
    throw new UsageError(
      `the "options" export of ${path} must be an object of processor options, not ${
        describeType(options)
      }`,
    );
  }
  if ("handler" in options) {
    throw new UsageError(
      `the "options" export of ${path} must not set handler: the default export is the handler`,
    );
  }
  return {
    handler: handler as Handler<unknown, unknown>,
    options: options as ModuleOptions,
    path: absolute,
  };
}

function isLoaderError(error: TypeError): boolean {
  return /^(SyntaxError|Module not found|Requires read access|Unable to load|Import .* failed|Relative import path)/
    .test(error.message) || (error as { code?: string }).code === "ERR_MODULE_NOT_FOUND";
}

/**
 * The loader ends its messages with the place at fault as `    at file:///...:1:8`, which
 * reads like a stack trace: say `(at /path:1:8)` instead.
 */
function tidyLoaderMessage(message: string): string {
  return message.replace(
    /\n\s+at (file:\/\/\S+)\s*$/,
    (_, url: string) => ` (at ${decodeURIComponent(url.slice("file://".length))})`,
  );
}

function describeType(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return `a ${typeof value}`;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
