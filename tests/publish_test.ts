import assert from "node:assert/strict";
import { ROOT } from "./_cli.ts";

/**
 * What the package publishes: the library and its test helpers. Extend this list together
 * with `publish.include` in deno.json.
 */
const LIBRARY = ["mod.ts", "actors/", "supervisor/", "kafka/", "testing/", "README.md", "LICENSE"];

/** Files of the repository that must never ship. */
const NOT_PUBLISHED = ["tests/", "bench/", "chaos/", "examples/", "cli/", "main.ts", ".ci/"];

/** Every file under `path` (a file, or a folder ending in "/"), relative to the root. */
async function filesOf(path: string): Promise<string[]> {
  if (!path.endsWith("/")) return [path];
  const files: string[] = [];
  for await (const entry of Deno.readDir(`${ROOT}${path}`)) {
    const child = `${path}${entry.name}${entry.isDirectory ? "/" : ""}`;
    files.push(...await filesOf(child));
  }
  return files;
}

Deno.test("publish: `deno publish --dry-run` passes offline and lists exactly the library", async () => {
  // The dry run checks the package (slow types, excluded imports) without any registry.
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["publish", "--dry-run", "--allow-dirty"],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(120_000),
  }).output();
  const text = new TextDecoder().decode(output.stdout) + new TextDecoder().decode(output.stderr);
  assert.equal(output.code, 0, text);
  assert.match(text, /Dry run complete/);
  assert.doesNotMatch(text, /^warning\[/m, "no warning (e.g. an unanalyzable dynamic import)");

  const root = new URL(`file://${ROOT}`).href;
  const listed = [...text.matchAll(/^\s+(file:\/\/\S+) \(/gm)].map((match) =>
    match[1].slice(root.length)
  ).sort();
  const expected = ["deno.json", ...(await Promise.all(LIBRARY.map(filesOf))).flat()].sort();
  assert.deepEqual(listed, expected);
  for (const path of NOT_PUBLISHED) {
    assert.ok(!listed.some((file) => file.startsWith(path)), `${path} is not published`);
  }

  const config = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`));
  assert.deepEqual(config.exports, { ".": "./mod.ts", "./testing": "./testing/mod.ts" });
  assert.equal(config.license, "MIT");
  const license = await Deno.readTextFile(`${ROOT}LICENSE`);
  assert.match(license, /^MIT License\n\nCopyright \(c\) \d{4} the troupe authors\n/);
});
