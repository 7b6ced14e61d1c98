import assert from "node:assert/strict";
import { createTopic, produce, testBrokers, uniqueName, waitFor } from "./_helpers.ts";
import { sumOf } from "./_prometheus.ts";
import {
  metricsPort,
  noStackTrace,
  removeHandler,
  scrape,
  spawnTroupe,
  troupe,
  writeHandler,
} from "./_cli.ts";

const COMMANDS = ["run", "produce", "consume", "topics", "lag", "demo"];

Deno.test("cli: help for the tool and each command; usage mistakes exit 2 without a stack trace", async () => {
  const okHandler = await writeHandler("export default () => {};\n");
  const noDefault = await writeHandler("export const handler = () => {};\n");
  try {
    const run = ["run", "--topic", "t", "--group", "g", "--handler", okHandler];
    const mistakes: [string[], RegExp][] = [
      [[], /Usage: troupe <command>/],
      [["bogus"], /unknown command "bogus"/],
      [["run", "--handler", okHandler, "--nope"], /unknown option --nope for "run"/],
      [["run", "--topic", "t", "--group", "g"], /run needs --handler \(or TROUPE_HANDLER\)/],
      [
        ["run", "--topic", "t", "--group", "g", "--handler", "./missing.ts"],
        /handler file not found: \.\/missing\.ts/,
      ],
      [["run", "--topic", "t", "--group", "g", "--handler", noDefault], /has no default export/],
      [["run", "--handler", okHandler, "--group", "g"], /run needs --topic or --topic-pattern/],
      [[...run, "--concurrency", "zero"], /--concurrency must be an integer >= 1; got "zero"/],
      [[...run, "--ordering", "partition", "--concurrency", "4"], /invalid option concurrency/],
      [[...run, "--dead-letter", "bad topic"], /--dead-letter must be a topic name or "off"/],
      [[...run, "--metrics-port"], /--metrics-port needs a value/],
      [
        [...run, "--metrics-port", "0", "--control-token", "short"],
        /--control-token must be at least 16 characters long \(got 5\)/,
      ],
      [
        [...run, "--control-token", "a-token-long-enough-for-this"],
        /--control-token needs --metrics-port/,
      ],
      [["consume"], /consume needs --topic/],
      [
        ["produce", "--topic", "t", "--codec", "xml"],
        /--codec must be one of json, string; got "xml"/,
      ],
      [["topics", "--brokers", "nohost"], /--brokers: "nohost" is not "host:port"/],
      [["lag"], /lag needs --group \(or TROUPE_GROUP\)/],
      [["demo", "--messages", "-5"], /--messages must be an integer >= 1/],
    ];
    const helps = await Promise.all([
      troupe(["--help"]),
      ...COMMANDS.map((command) => troupe([command, "--help"])),
    ]);
    const results = await Promise.all(mistakes.map(([args]) => troupe(args)));

    const [tool, ...commands] = helps;
    assert.equal(tool.code, 0);
    for (const command of COMMANDS) assert.match(tool.stdout, new RegExp(`^  ${command} `, "m"));
    commands.forEach((help, i) => {
      assert.equal(help.code, 0, COMMANDS[i]);
      assert.match(help.stdout, new RegExp(`^Usage: troupe ${COMMANDS[i]} `));
      assert.match(help.stdout, /-h, --help/);
    });
    results.forEach((result, i) => {
      const [args, message] = mistakes[i];
      assert.equal(result.code, 2, `${args.join(" ")}: exit ${result.code}\n${result.stderr}`);
      assert.match(result.stderr, message, args.join(" "));
      assert.ok(
        noStackTrace(result.stderr),
        `no stack trace for ${args.join(" ")}:\n${result.stderr}`,
      );
    });
  } finally {
    await removeHandler(okHandler);
    await removeHandler(noDefault);
  }
});

Deno.test("cli: produce, topics, consume with a limit and a group, lag", async () => {
  const topic = uniqueName("cli-pc");
  const group = uniqueName("cli-pc-group");
  await createTopic(topic, 3);
  const lines = Array.from({ length: 60 }, (_, n) => JSON.stringify({ n })).join("\n") + "\n";
  const produced = await troupe(["produce", "--topic", topic, "--codec", "json"], { stdin: lines });
  assert.equal(produced.code, 0, produced.stderr);
  assert.match(produced.stderr, new RegExp(`produced 60 record\\(s\\) to ${topic}`));

  const keyed = await troupe(["produce", "--topic", topic, "--key", "k1"], {
    stdin: "first\r\n\nsecond",
  });
  assert.equal(keyed.code, 0, keyed.stderr);
  assert.match(
    keyed.stderr,
    /produced 2 record/,
    "blank lines skipped, CRLF and a last line without newline taken",
  );

  const topics = await troupe(["topics", "--json"]);
  assert.equal(topics.code, 0, topics.stderr);
  assert.deepEqual(JSON.parse(topics.stdout).find((t: { topic: string }) => t.topic === topic), {
    topic,
    partitions: 3,
  });
  const table = await troupe(["topics"]);
  assert.match(table.stdout, new RegExp(`^${topic}\\s+3$`, "m"));

  const line = new RegExp(`^${topic}:([0-2]):(\\d+) key=(null|k1) value=(.*)$`);
  const parse = (stdout: string) =>
    stdout.trimEnd().split("\n").map((text) => {
      const match = line.exec(text);
      assert.ok(match, `a record line: ${text}`);
      return { at: `${match[1]}:${match[2]}`, key: match[3], value: match[4] };
    });

  const first = await troupe([
    "consume",
    "--topic",
    topic,
    "--from-beginning",
    "--group",
    group,
    "--limit",
    "20",
  ]);
  assert.equal(first.code, 0, first.stderr);
  const firstRecords = parse(first.stdout);
  assert.equal(firstRecords.length, 20);

  const lagAfterFirst = await troupe(["lag", "--group", group, "--topic", topic, "--json"]);
  const rows = JSON.parse(lagAfterFirst.stdout) as { committed: number | null; lag: number }[];
  assert.equal(
    rows.reduce((sum, row) => sum + (row.committed ?? 0), 0),
    20,
    "exactly what was printed is committed",
  );
  assert.equal(rows.length, 3, "--topic shows partitions without a commit too");
  assert.equal(rows.reduce((sum, row) => sum + row.lag, 0), 42);

  const second = await troupe([
    "consume",
    "--topic",
    topic,
    "--group",
    group,
    "--limit",
    "42",
    "--from-beginning", // for the partitions the first consume never committed to
  ]);
  assert.equal(second.code, 0, second.stderr);
  const all = [...firstRecords, ...parse(second.stdout)];
  assert.equal(new Set(all.map((record) => record.at)).size, 62, "no record twice, none missing");
  assert.deepEqual(
    all.filter((record) => record.key === "k1").map((record) => record.value),
    ["first", "second"],
  );
  assert.deepEqual(
    all.filter((record) => record.key === "null").map((record) => JSON.parse(record.value).n)
      .sort((a, b) => a - b),
    Array.from({ length: 60 }, (_, n) => n),
  );

  const lag = await troupe(["lag", "--group", group]);
  assert.equal(lag.code, 0, lag.stderr);
  assert.match(lag.stdout, /^TOPIC\s+PARTITION\s+COMMITTED\s+END\s+LAG$/m);
  assert.match(lag.stdout, /^total lag 0$/m);

  const bad = await troupe(["produce", "--topic", topic, "--codec", "json"], {
    stdin: '{"n":1}\nnot json\n',
  });
  assert.equal(bad.code, 1);
  assert.match(
    bad.stderr,
    /troupe: line 2 is not JSON .*the 1 record\(s\) before it were produced/,
  );
  assert.ok(noStackTrace(bad.stderr));
});

const COUNTING_HANDLER = `
export const options = {
  valueCodec: "json",
  restart: { backoff: { initialMs: 10, maxMs: 50 } },
  commitIntervalMs: 200,
};
let crashed = false;
export default async function (message, context) {
  if (message.value.id === 7 && !crashed) {
    crashed = true;
    throw new Error("payment gateway timed out");
  }
  await new Promise((resolve) => setTimeout(resolve, 1));
}
`;

Deno.test("cli: run with a handler file; metrics scraped and parsed during the run; SIGTERM stops it cleanly", async () => {
  const topic = uniqueName("cli-run");
  const group = uniqueName("cli-run-group");
  await createTopic(topic, 3);
  await produce(topic, 300, 3);
  const handler = await writeHandler(COUNTING_HANDLER);
  try {
    await using cli = spawnTroupe([
      "run",
      "--handler",
      handler,
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
      "--view",
      "lines",
    ]);
    const port = await metricsPort(cli);
    await waitFor(async () => {
      const families = await scrape(port);
      return sumOf(families, "troupe_committed_offset") === 300;
    }, "every offset committed, as the metrics say");

    const families = await scrape(port);
    assert.equal(sumOf(families, "troupe_messages_processed_total"), 300);
    assert.equal(sumOf(families, "troupe_actor_restarts_total"), 1);
    assert.equal(sumOf(families, "troupe_messages_failed_total"), 1);
    assert.equal(sumOf(families, "troupe_lag_messages"), 0);
    assert.equal(sumOf(families, "troupe_assigned_partitions"), 3);
    assert.equal(sumOf(families, "troupe_processor_state", { state: "running" }), 1);
    assert.equal(sumOf(families, "troupe_processing_seconds_count"), 301, "every attempt timed");
    assert.ok(sumOf(families, "troupe_commit_seconds_count") >= 1);
    assert.equal(families.get("troupe_messages_processed_total")!.samples.length, 3);

    const ready = await fetch(`http://127.0.0.1:${port}/ready`);
    assert.equal(ready.status, 200);
    assert.equal((await ready.json()).partitions, 3);
    const health = await fetch(`http://127.0.0.1:${port}/health`);
    assert.equal(health.status, 200);
    await health.body?.cancel();
    const status = await (await fetch(`http://127.0.0.1:${port}/status`)).json();
    assert.equal(status.groupId, group);
    assert.equal(status.totals.processed, 300);

    cli.child.kill("SIGTERM");
    const { code, stdout, stderr } = await cli.exited();
    assert.equal(code, 0, stderr);
    const messages = stderr.trim().split("\n").map((line) => JSON.parse(line).message as string);
    assert.ok(messages.some((m) => /received "SIGTERM": stopping gracefully/.test(m)), stderr);
    assert.ok(messages.some((m) => /crashed at offset/.test(m)), "the crash is logged");
    assert.ok(messages.some((m) => m === "processor stopped"), stderr);
    assert.match(stdout, /\[troupe run .*\] .*stopped {2}processed 300 /, "a last progress line");
  } finally {
    await removeHandler(handler);
  }
  const lag = await troupe(["lag", "--group", group, "--json"]);
  assert.deepEqual(JSON.parse(lag.stdout).map((row: { lag: number }) => row.lag), [0, 0, 0]);
});

Deno.test("cli: a failing processor exits 1; SIGINT stops consume with 0; credentials never logged", async () => {
  const topic = uniqueName("cli-fail");
  await createTopic(topic, 1);
  await produce(topic, 3, 1);
  const handler = await writeHandler(`
export const options = { restart: { maxRestarts: 0, backoff: { initialMs: 10, maxMs: 10 } } };
export default function () { throw new Error("always broken"); }
`);
  try {
    const [failed, consumed, secret] = await Promise.all([
      troupe([
        "run",
        "--handler",
        handler,
        "--topic",
        topic,
        "--group",
        uniqueName("cli-fail-group"),
        "--from-beginning",
        "--view",
        "off",
      ]),
      (async () => {
        await using cli = spawnTroupe(["consume", "--topic", topic, "--from-beginning"]);
        await waitFor(() => cli.stdout().split("\n").length > 3, "three records printed");
        cli.child.kill("SIGINT");
        return await cli.exited();
      })(),
      troupe(["topics", "--log-level", "debug"], {
        env: {
          TROUPE_SASL_MECHANISM: "plain",
          TROUPE_SASL_USERNAME: "alice",
          TROUPE_SASL_PASSWORD: "hunter2-secret",
        },
      }),
    ]);

    assert.equal(failed.code, 1, failed.stderr);
    assert.match(failed.stderr, /^troupe: the actor of .* crashed 1 times .* always broken$/m);
    assert.ok(noStackTrace(failed.stderr), failed.stderr);

    assert.equal(consumed.code, 0, consumed.stderr);
    assert.equal(consumed.stdout.trimEnd().split("\n").length, 3);

    // The plaintext test broker refuses SASL: the command fails, and says nothing secret.
    assert.equal(secret.code, 1);
    assert.match(secret.stderr, /^troupe: the admin client could not connect/m);
    assert.ok(!`${secret.stdout}${secret.stderr}`.includes("hunter2-secret"));
  } finally {
    await removeHandler(handler);
  }
  assert.ok(testBrokers().length > 0);
});

Deno.test("cli: --ordering, --concurrency and --dead-letter reach the processor", async () => {
  const topic = uniqueName("cli-dlq");
  const deadLetters = `${topic}.dead`;
  await createTopic(topic, 2);
  await createTopic(deadLetters, 1);
  await produce(topic, 6, 2);
  const handler = await writeHandler(`
export default function (message) {
  if (JSON.parse(new TextDecoder().decode(message.rawValue)).id % 2 === 0) throw new Error("even");
}
`);
  try {
    await using cli = spawnTroupe([
      "run",
      "--handler",
      handler,
      "--topic",
      topic,
      "--group",
      uniqueName("cli-dlq-group"),
      "--from-beginning",
      "--ordering",
      "unordered",
      "--concurrency",
      "4",
      "--dead-letter",
      deadLetters,
      "--metrics-port",
      "0",
      "--metrics-host",
      "127.0.0.1",
      "--log-format",
      "json",
      "--view",
      "off",
    ]);
    const port = await metricsPort(cli);
    await waitFor(
      async () => sumOf(await scrape(port), "troupe_committed_offset") === 6,
      "every offset committed",
    );
    const families = await scrape(port);
    assert.equal(sumOf(families, "troupe_messages_dead_lettered_total"), 3);
    assert.equal(sumOf(families, "troupe_actor_restarts_total"), 0);
    cli.child.kill("SIGTERM");
    assert.equal((await cli.exited()).code, 0);
  } finally {
    await removeHandler(handler);
  }
  const dead = await troupe([
    "consume",
    "--topic",
    deadLetters,
    "--from-beginning",
    "--limit",
    "3",
  ]);
  assert.equal(dead.code, 0, dead.stderr);
  const ids = dead.stdout.trimEnd().split("\n").map((line) =>
    JSON.parse(line.slice(line.indexOf(" value=") + 7)).id
  );
  assert.deepEqual(ids.sort((a, b) => a - b), [0, 2, 4]);
});
