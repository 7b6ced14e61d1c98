/**
 * `troupe topics create|describe|delete` and `troupe groups`, against the real broker; and
 * the README documenting them (with `init`).
 *
 * @module
 */

import assert from "node:assert/strict";
import { ConfigResourceTypes } from "kafkajs";
import { createProcessor } from "../mod.ts";
import { GROUPS_COMMAND } from "../cli/groups_command.ts";
import { INIT_COMMAND } from "../cli/init.ts";
import {
  TOPICS_CREATE_COMMAND,
  TOPICS_DELETE_COMMAND,
  TOPICS_DESCRIBE_COMMAND,
} from "../cli/topic_commands.ts";
import { kafkaClient, produce, testBrokers, uniqueName, waitFor } from "./_helpers.ts";
import { MAIN, noStackTrace, troupe } from "./_cli.ts";

const NEW_COMMANDS = [
  TOPICS_CREATE_COMMAND,
  TOPICS_DESCRIBE_COMMAND,
  TOPICS_DELETE_COMMAND,
  GROUPS_COMMAND,
  INIT_COMMAND,
];

async function topicNames(): Promise<string[]> {
  const listed = await troupe(["topics", "--json"]);
  assert.equal(listed.code, 0, listed.stderr);
  return JSON.parse(listed.stdout).map((row: { topic: string }) => row.topic);
}

Deno.test("topics: create with partitions and --config, describe (table and JSON), delete --yes", async () => {
  const topic = uniqueName("cli-admin");
  const created = await troupe([
    "topics",
    "create",
    topic,
    "--partitions",
    "3",
    "--replication",
    "1",
    "--config",
    "retention.ms=86400000",
    "--config",
    "cleanup.policy=compact,delete",
  ]);
  assert.equal(created.code, 0, created.stderr);
  assert.equal(created.stdout, `created topic ${topic}: 3 partition(s), replication factor 1\n`);
  assert.equal(created.stderr, "", "nothing on stderr");

  const admin = kafkaClient().admin();
  await admin.connect();
  try {
    const { resources } = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [{
        type: ConfigResourceTypes.TOPIC,
        name: topic,
        configNames: ["retention.ms", "cleanup.policy"],
      }],
    });
    const config = Object.fromEntries(
      resources[0].configEntries.map((entry) => [entry.configName, entry.configValue]),
    );
    assert.deepEqual(config, { "retention.ms": "86400000", "cleanup.policy": "compact,delete" });
  } finally {
    await admin.disconnect();
  }

  await produce(topic, 30, 3, (i) => ({ partition: i % 3, key: `k${i}`, value: `v${i}` }));
  const described = await troupe(["topics", "describe", topic, "--json"]);
  assert.equal(described.code, 0, described.stderr);
  const partitions = JSON.parse(described.stdout);
  assert.equal(partitions.length, 3);
  partitions.forEach((p: Record<string, unknown>, i: number) => {
    const leader = p.leader as number;
    assert.ok(leader >= 0, "a leader");
    assert.deepEqual(p, {
      partition: i,
      leader,
      replicas: [leader],
      isr: [leader],
      beginning: 0,
      end: 10,
    });
  });
  const table = await troupe(["topics", "describe", topic]);
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /^PARTITION\s+LEADER\s+REPLICAS\s+ISR\s+BEGINNING\s+END$/m);
  for (const partition of [0, 1, 2]) {
    assert.match(
      table.stdout,
      new RegExp(`^\\s+${partition}\\s+\\d+\\s+\\d+\\s+\\d+\\s+0\\s+10$`, "m"),
    );
  }
  assert.match(
    table.stdout,
    new RegExp(`^${topic}: 3 partition\\(s\\), 30 offset\\(s\\) stored$`, "m"),
  );

  const deleted = await troupe(["topics", "delete", topic, "--yes"]);
  assert.equal(deleted.code, 0, deleted.stderr);
  assert.equal(deleted.stdout, `deleted topic ${topic}\n`);
  await waitFor(async () => !(await topicNames()).includes(topic), "the topic gone");
});

/** Mistakes `topics` must refuse with exit code 2: a command line and its error message. */
function topicMistakes(existing: string, fresh: string, missing: string): [string, RegExp][] {
  const create = `topics create ${fresh} --partitions 1`;
  return [
    [
      `topics create ${existing} --partitions 5`,
      new RegExp(`topic ${existing} already exists \\(2 partition\\(s\\)\\); nothing was changed`),
    ],
    [`topics describe ${missing}`, new RegExp(`topic ${missing} does not exist`)],
    [`topics delete ${missing} --yes`, new RegExp(`topic ${missing} does not exist`)],
    [`topics create ${fresh} --partitions 0`, /--partitions must be an integer >= 1; got "0"/],
    [`topics create ${fresh} --partitions -3`, /--partitions must be an integer >= 1; got "-3"/],
    [
      `topics create ${fresh} --partitions three`,
      /--partitions must be an integer >= 1; got "three"/,
    ],
    [`topics create ${fresh}`, /topics create needs --partitions N/],
    ["topics create --partitions 1", /topics create needs NAME/],
    ["topics create bad/name --partitions 1", /"bad\/name" is not a valid topic name/],
    [`${create} --replication 0`, /--replication must be an integer from 1 to 32767/],
    [
      `${create} --replication 9`,
      /replication factor 9 is invalid: the cluster has 1 broker\(s\) \(INVALID_REPLICATION_FACTOR\)/,
    ],
    [
      `${create} --config retention.ms`,
      /--config must be name=value, e.g. retention.ms=86400000; got "retention.ms"/,
    ],
    [`${create} --config =5`, /--config must be name=value/],
    [`${create} --config a=1 --config a=2`, /--config a is given twice/],
    [
      `${create} --config retention.ms=1000 --config retention.ms.typo=5 --config segment.bytes=lots`,
      /the broker refused the configuration retention.ms.typo=5, segment.bytes=lots \(INVALID_CONFIG\)/,
    ],
    [`topics describe ${fresh} extra`, /unexpected argument "extra" for "topics describe"/],
    [
      "topics frobnicate",
      /unknown subcommand "frobnicate" for "topics"; they are list, create, describe, delete/,
    ],
    [`${create} --bogus`, /unknown option --bogus for "topics create"/],
  ];
}

Deno.test("topics: bad input exits 2 with one clear line and changes nothing", async () => {
  const topic = uniqueName("cli-admin-bad");
  const created = await troupe(["topics", "create", topic, "--partitions", "2"]);
  assert.equal(created.code, 0, created.stderr);
  const fresh = uniqueName("cli-admin-never");
  const missing = uniqueName("cli-admin-missing");
  const mistakes = topicMistakes(topic, fresh, missing);
  const results = await Promise.all(mistakes.map(([line]) => troupe(line.split(" "))));
  results.forEach((result, i) => {
    const [line, message] = mistakes[i];
    assert.equal(result.code, 2, `${line}: exit ${result.code}\n${result.stderr}`);
    assert.match(result.stderr, message, line);
    assert.ok(result.stderr.startsWith("troupe: "), result.stderr);
    assert.ok(noStackTrace(result.stderr), result.stderr);
  });
  const names = await topicNames();
  assert.ok(!names.includes(fresh) && !names.includes(missing), "no topic made by a mistake");
  const kept = JSON.parse((await troupe(["topics", "describe", topic, "--json"])).stdout);
  assert.equal(kept.length, 2, "the existing topic keeps its 2 partitions");

  const unreachable = await troupe(["topics", "describe", topic, "--brokers", "127.0.0.1:9"]);
  assert.equal(unreachable.code, 1, "Kafka unreachable is a runtime failure");
  assert.match(unreachable.stderr, /^troupe: the admin client could not connect/m);
  assert.equal((await troupe(["topics", "delete", topic, "--yes"])).code, 0);
});

/** `script` (util-linux) runs a command on a pseudo-terminal, for the confirmation prompt. */
const SCRIPT = ["/usr/bin/script", "/bin/script"].find((path) => {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
});

Deno.test("topics delete: refuses without a terminal unless --yes; on a terminal it asks", async () => {
  const topic = uniqueName("cli-admin-delete");
  assert.equal((await troupe(["topics", "create", topic, "--partitions", "1"])).code, 0);

  const refused = await troupe(["topics", "delete", topic], { stdin: "y\n" });
  assert.equal(refused.code, 2);
  assert.match(
    refused.stderr,
    new RegExp(`standard input is not a terminal: pass --yes to delete ${topic}`),
  );
  assert.ok((await topicNames()).includes(topic), "not deleted");

  if (!SCRIPT) {
    console.warn("skipping the terminal half: no `script` command (util-linux) on this machine");
  } else {
    const onTerminal = () =>
      new Deno.Command(SCRIPT, {
        args: ["-qec", `${Deno.execPath()} run -A ${MAIN} topics delete ${topic}`, "/dev/null"],
        env: { NO_COLOR: "1" },
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
        signal: AbortSignal.timeout(60_000),
      }).spawn();
    for (const [answer, code] of [["n", 1], ["y", 0]] as const) {
      const child = onTerminal();
      const writer = child.stdin.getWriter();
      await writer.write(new TextEncoder().encode(`${answer}\n`));
      await writer.close();
      const output = await child.output();
      const text = new TextDecoder().decode(output.stdout);
      assert.equal(output.code, code, text);
      assert.match(
        text,
        new RegExp(
          `Delete topic ${topic} \\(1 partition\\(s\\), 0 offset\\(s\\) stored\\)\\? It cannot be undone\\. \\[y/N\\]`,
        ),
      );
      if (answer === "n") {
        assert.match(text, new RegExp(`topic ${topic} was not deleted`));
        assert.ok((await topicNames()).includes(topic), "declined: not deleted");
      } else {
        assert.match(text, new RegExp(`deleted topic ${topic}`));
      }
    }
    await waitFor(async () => !(await topicNames()).includes(topic), "deleted after a yes");
  }
  if ((await topicNames()).includes(topic)) {
    assert.equal((await troupe(["topics", "delete", topic, "--yes"])).code, 0);
  }
});

Deno.test("groups: state, members and assignments of a running processor's group; --json; --members", async () => {
  const topic = uniqueName("cli-groups");
  const groupId = uniqueName("cli-groups-group");
  assert.equal((await troupe(["topics", "create", topic, "--partitions", "2"])).code, 0);
  const processor = createProcessor({
    brokers: testBrokers(),
    groupId,
    topics: topic,
    clientId: "groups-test",
    handler: () => {},
  });
  await processor.start();
  try {
    const listed = await troupe(["groups", "--group", groupId, "--json"]);
    assert.equal(listed.code, 0, listed.stderr);
    const [group] = JSON.parse(listed.stdout);
    assert.equal(group.groupId, groupId);
    assert.equal(group.protocolType, "consumer");
    assert.equal(group.state, "Stable");
    assert.equal(group.members.length, 1);
    assert.equal(group.members[0].clientId, "groups-test");
    assert.deepEqual(group.members[0].assignment, { [topic]: [0, 1] });

    const table = await troupe(["groups"]);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^GROUP\s+STATE\s+MEMBERS\s+PARTITIONS$/m);
    assert.match(table.stdout, new RegExp(`^${groupId}\\s+Stable\\s+1\\s+2$`, "m"));

    const members = await troupe(["groups", "--group", groupId, "--members"]);
    assert.equal(members.code, 0, members.stderr);
    assert.match(members.stdout, /^GROUP\s+STATE\s+MEMBER\s+CLIENT\s+HOST\s+PARTITIONS$/m);
    const memberId = group.members[0].memberId.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    assert.match(
      members.stdout,
      new RegExp(
        `^${groupId}\\s+Stable\\s+${memberId}\\s+groups-test\\s+\\S+\\s+${topic}:0,1$`,
        "m",
      ),
    );
  } finally {
    await processor.stop();
  }
  const nobody = uniqueName("cli-groups-nobody");
  const after = await troupe(["groups", "--group", groupId, "--group", nobody, "--json"]);
  assert.equal(after.code, 0, after.stderr);
  const states = JSON.parse(after.stdout).map((
    g: { groupId: string; state: string; members: unknown[] },
  ) => [g.groupId, g.state, g.members.length]);
  assert.deepEqual(
    states,
    [[groupId, "Empty", 0], [nobody, "Dead", 0]].sort((a, b) =>
      String(a[0]).localeCompare(String(b[0]))
    ),
  );

  const bad = await troupe(["groups", "--members=yes"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--members takes no value/);
  assert.equal((await troupe(["topics", "delete", topic, "--yes"])).code, 0);
});

Deno.test("cli help and README: topics create|describe|delete, groups and init, every flag", async () => {
  const tool = await troupe(["--help"]);
  assert.equal(tool.code, 0);
  for (const name of ["topics", "groups", "lag", "init"]) {
    assert.match(tool.stdout, new RegExp(`^  ${name} `, "m"), `${name} in the tool's help`);
  }
  const topicsHelp = await troupe(["topics", "--help"]);
  for (const spec of [TOPICS_CREATE_COMMAND, TOPICS_DESCRIBE_COMMAND, TOPICS_DELETE_COMMAND]) {
    assert.ok(topicsHelp.stdout.includes(`  ${spec.name} `), `${spec.name} in topics --help`);
  }
  const helps = await Promise.all(
    NEW_COMMANDS.map((spec) => troupe([...spec.name.split(" "), "--help"])),
  );
  helps.forEach((help, i) => {
    const spec = NEW_COMMANDS[i];
    assert.equal(help.code, 0, spec.name);
    assert.ok(help.stdout.startsWith(`Usage: troupe ${spec.name} ${spec.usage}\n`), spec.name);
    for (const flag of spec.flags) {
      assert.ok(help.stdout.includes(`--${flag.name}`), `${spec.name} --${flag.name}`);
    }
    for (const operand of spec.operands ?? []) {
      assert.match(help.stdout, new RegExp(`^  ${operand.name} `, "m"));
    }
  });

  const readme = await Deno.readTextFile(new URL("../README.md", import.meta.url));
  const cli = readme.slice(readme.indexOf("## Command line"), readme.indexOf("## Run the tests"));
  for (const spec of NEW_COMMANDS) {
    const start = cli.search(new RegExp(`^### .*\`${spec.name}\``, "m"));
    assert.ok(start >= 0, `a section for ${spec.name}`);
    const section = cli.slice(start, cli.indexOf("\n### ", start + 1));
    assert.ok(
      cli.includes(`| \`${spec.name}`),
      `${spec.name} in the table of commands`,
    );
    for (const flag of spec.flags) {
      assert.ok(section.includes(`| \`--${flag.name}`), `--${flag.name} of ${spec.name}`);
      if (flag.env) assert.ok(section.includes(`\`${flag.env}\``), `${flag.env} for ${spec.name}`);
    }
  }
});
