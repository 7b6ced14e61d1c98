import assert from "node:assert/strict";
import { PROCESS_METRICS } from "../cli/process_metrics.ts";
import { PROCESSOR_DEFAULTS } from "../mod.ts";

/** Every leaf of `PROCESSOR_DEFAULTS`, as `path -> value`. */
function leaves(value: unknown, prefix = ""): Map<string, unknown> {
  const found = new Map<string, unknown>();
  for (const [key, child] of Object.entries(value as Record<string, unknown>)) {
    if (child !== null && typeof child === "object") {
      for (const [path, leaf] of leaves(child, `${prefix}${key}.`)) found.set(path, leaf);
    } else {
      found.set(`${prefix}${key}`, child);
    }
  }
  return found;
}

Deno.test("README: the options table shows PROCESSOR_DEFAULTS, every entry and its value", async () => {
  const readme = await Deno.readTextFile(new URL("../README.md", import.meta.url));
  const start = readme.indexOf("<!-- defaults:start -->");
  const end = readme.indexOf("<!-- defaults:end -->");
  assert.ok(start >= 0 && end > start, "the README marks its defaults table");
  const shown = new Map<string, unknown>();
  for (const line of readme.slice(start, end).split("\n")) {
    const match = /^\|\s*`([\w.]+)`\s*\|\s*`([^`]*)`\s*\|/.exec(line);
    if (match) shown.set(match[1], JSON.parse(match[2]));
  }
  assert.deepEqual(shown, leaves(PROCESSOR_DEFAULTS));
});

Deno.test("README: the process metrics table shows PROCESS_METRICS, each with its type and help", async () => {
  const readme = await Deno.readTextFile(new URL("../README.md", import.meta.url));
  const start = readme.indexOf("<!-- process-metrics:start -->");
  const end = readme.indexOf("<!-- process-metrics:end -->");
  assert.ok(start >= 0 && end > start, "the README marks its process metrics table");
  const shown = new Map<string, [string, string]>();
  for (const line of readme.slice(start, end).split("\n")) {
    const match = /^\|\s*`(\w+)`\s*\|\s*(\w+)\s*\|\s*(.*?)\s*\|$/.exec(line);
    if (match) shown.set(match[1], [match[2], match[3]]);
  }
  assert.deepEqual(
    shown,
    new Map(Object.values(PROCESS_METRICS).map(([name, type, help]) => [name, [type, help]])),
  );
});
