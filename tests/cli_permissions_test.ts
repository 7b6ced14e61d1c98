import assert from "node:assert/strict";
import { createTopic, produce, testBrokers, uniqueName, waitFor } from "./_helpers.ts";
import { sumOf } from "./_prometheus.ts";
import { MAIN, noStackTrace, type Runner, scrape, spawnTroupe, troupe } from "./_cli.ts";

/** A port nobody listens on right now. */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/** The README's permissions for `run`, word for word, with this test's addresses. */
function narrow(metrics: string): Runner {
  return {
    program: Deno.execPath(),
    prefix: [
      "run",
      `--allow-net=${testBrokers().join(",")},${metrics}`,
      "--allow-env=NODE_ENV,KAFKAJS_*,KAFKA_BROKERS,TROUPE_*",
      "--allow-read=./handler.ts",
      MAIN,
    ],
  };
}

Deno.test("cli: run works under the README's narrow permissions, and needs nothing more", async () => {
  const dir = await Deno.makeTempDir({ prefix: "troupe-narrow-" });
  try {
    await Deno.writeTextFile(
      `${dir}/handler.ts`,
      'export const options = { valueCodec: "string" };\nexport default () => {};\n',
    );
    const topic = uniqueName("cli-narrow");
    const group = uniqueName("cli-narrow-group");
    await createTopic(topic, 2);
    await produce(topic, 50, 2);
    const port = freePort();
    const runner = narrow(`127.0.0.1:${port}`);

    await using cli = spawnTroupe([
      "run",
      "--handler",
      "./handler.ts",
      "--topic",
      topic,
      "--from-beginning",
      "--metrics-host",
      "127.0.0.1",
    ], {
      runner,
      cwd: dir,
      // Configuration through the environment, which the narrow --allow-env lets it read.
      env: { TROUPE_GROUP: group, TROUPE_METRICS_PORT: String(port), TROUPE_VIEW: "off" },
    });
    await waitFor(async () => {
      try {
        return sumOf(await scrape(port), "troupe_committed_offset") === 50;
      } catch {
        return false; // not listening yet
      }
    }, `50 offsets committed; stderr so far:\n${cli.stderr()}`);
    cli.child.kill("SIGTERM");
    const { code, stderr } = await cli.exited();
    assert.equal(code, 0, stderr);
    assert.ok(!/Requires|NotCapable|permission/i.test(stderr), stderr);

    // A local module the handler imports must be granted too; the message says so.
    await Deno.writeTextFile(
      `${dir}/handler.ts`,
      'import "./helper.ts";\nexport default () => {};\n',
    );
    await Deno.writeTextFile(`${dir}/helper.ts`, "export {};\n");
    const refused = await troupe(
      ["run", "--handler", "./handler.ts", "--topic", topic, "--group", group],
      { runner, cwd: dir },
    );
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /Requires read access to .*helper\.ts/);
    assert.match(refused.stderr, /add the handler's local imports to --allow-read/);
    assert.ok(noStackTrace(refused.stderr), refused.stderr);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
