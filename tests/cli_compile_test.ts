/**
 * `deno compile` of main.ts: one binary that runs the same commands.
 *
 * `deno compile` appends the program to a runtime binary, `denort`, that it downloads from
 * dl.deno.land on first use and caches in DENO_DIR (or takes from DENORT_BIN). Where neither
 * works (no access to dl.deno.land, nothing cached) nothing can be compiled, and this test is
 * skipped, saying why; any other compile failure fails it.
 *
 * @module
 */

import assert from "node:assert/strict";
import { createTopic, uniqueName, waitFor } from "./_helpers.ts";
import { sumOf } from "./_prometheus.ts";
import { MAIN, metricsPort, ROOT, scrape, spawnTroupe, troupe } from "./_cli.ts";

const decoder = new TextDecoder();

/** Why `deno compile` cannot make a working binary here, or `null` when it can. */
async function compileUnavailable(): Promise<string | null> {
  const dir = await Deno.makeTempDir({ prefix: "troupe-compile-probe-" });
  try {
    await Deno.writeTextFile(`${dir}/probe.ts`, 'console.log("compiled program ran");\n');
    const compiled = await new Deno.Command(Deno.execPath(), {
      args: ["compile", "--quiet", "--output", `${dir}/probe`, `${dir}/probe.ts`],
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!compiled.success) {
      const stderr = decoder.decode(compiled.stderr);
      if (!/base binary|denort/i.test(stderr)) return null; // Not the runtime: let the test fail.
      const url = /https:\/\/\S+?\.zip/.exec(stderr)?.[0] ?? "dl.deno.land";
      const reason = /(dns error|connection refused|timed out|not found|no such file)[^\n]*/i
        .exec(stderr)?.[0].slice(0, 80) ?? stderr.split("\n")[0].slice(0, 80);
      return `deno compile needs its denort runtime, and cannot download ${url}: ${reason}; ` +
        "none is cached in DENO_DIR and DENORT_BIN is not set";
    }
    const ran = await new Deno.Command(`${dir}/probe`, {
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(30_000),
    }).output();
    if (!decoder.decode(ran.stdout).includes("compiled program ran")) {
      return "the runtime deno compile used does not run compiled programs (is DENORT_BIN a " +
        "full deno binary rather than denort?)";
    }
    return null;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const unavailable = await compileUnavailable();

Deno.test({
  name: unavailable === null
    ? "cli: the compiled binary runs the same commands"
    : `cli: the compiled binary runs the same commands (skipped: ${unavailable})`,
  ignore: unavailable !== null,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "troupe-compiled-" });
    try {
      const binary = `${dir}/troupe`;
      const compiled = await new Deno.Command(Deno.execPath(), {
        args: [
          "compile",
          "--quiet",
          "--no-check",
          "--allow-net",
          "--allow-env",
          "--allow-read",
          "--output",
          binary,
          MAIN,
        ],
        cwd: ROOT,
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.ok(compiled.success, decoder.decode(compiled.stderr));
      const runner = { program: binary, prefix: [] };

      const help = await troupe(["--help"], { runner });
      assert.equal(help.code, 0, help.stderr);
      assert.match(help.stdout, /^ {2}run /m);
      const usage = await troupe(["run", "--bogus"], { runner });
      assert.equal(usage.code, 2);

      const topic = uniqueName("cli-compiled");
      const group = uniqueName("cli-compiled-group");
      await createTopic(topic, 2);
      const produced = await troupe(["produce", "--topic", topic], {
        runner,
        stdin: Array.from({ length: 10 }, (_, i) => `record ${i}`).join("\n"),
      });
      assert.equal(produced.code, 0, produced.stderr);
      const topics = await troupe(["topics", "--json"], { runner });
      assert.ok(JSON.parse(topics.stdout).some((t: { topic: string }) => t.topic === topic));
      const consumed = await troupe(
        ["consume", "--topic", topic, "--from-beginning", "--limit", "10"],
        { runner },
      );
      assert.equal(consumed.code, 0, consumed.stderr);
      assert.equal(consumed.stdout.trimEnd().split("\n").length, 10);

      // The handler is read from disk at run time, not embedded.
      await Deno.writeTextFile(`${dir}/handler.ts`, "export default (_m: unknown) => {};\n");
      await using cli = spawnTroupe([
        "run",
        "--handler",
        "handler.ts",
        "--topic",
        topic,
        "--group",
        group,
        "--from-beginning",
        "--metrics-port",
        "0",
        "--metrics-host",
        "127.0.0.1",
        "--log-format",
        "json",
      ], { runner, cwd: dir });
      const port = await metricsPort(cli);
      await waitFor(
        async () => sumOf(await scrape(port), "troupe_committed_offset") === 10,
        "10 offsets committed",
      );
      cli.child.kill("SIGTERM");
      assert.equal((await cli.exited()).code, 0);
      const lag = await troupe(["lag", "--group", group, "--json"], { runner });
      assert.deepEqual(JSON.parse(lag.stdout).map((row: { lag: number }) => row.lag), [0, 0]);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
