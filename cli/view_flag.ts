/**
 * The `--view` flag shared by `run` and `demo`.
 *
 * @module
 */

import type { FlagSpec, ParsedFlags } from "./flags.ts";

/** `live`: a table redrawn in place; `lines`: a progress line now and then; `off`: nothing. */
export type ViewMode = "live" | "lines" | "off";

/** The `--view` flag. */
export const VIEW_FLAG: FlagSpec = {
  name: "view",
  kind: "string",
  placeholder: "MODE",
  env: "TROUPE_VIEW",
  default: "auto",
  choices: ["auto", "live", "lines", "off"],
  description: "Progress on stdout: live table (auto on a terminal), plain lines (auto " +
    "otherwise), or off.",
};

/**
 * The view mode the flags ask for, `auto` resolved against stdout.
 *
 * @example
 * ```ts ignore
 * const mode = viewMode(flags); // "live" on a terminal by default
 * ```
 */
export function viewMode(flags: ParsedFlags): ViewMode {
  const mode = flags.choice<ViewMode | "auto">("view") ?? "auto";
  if (mode !== "auto") return mode;
  return Deno.stdout.isTerminal() ? "live" : "lines";
}
