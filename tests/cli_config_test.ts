import assert from "node:assert/strict";
import { getLogger } from "@logtape/logtape";
import { LAG_COMMAND, TOPICS_COMMAND } from "../cli/admin_commands.ts";
import { CREDENTIAL_VARIABLES, resolveConnection } from "../cli/connection.ts";
import { CONSUME_COMMAND } from "../cli/consume.ts";
import { DEMO_COMMAND } from "../cli/demo_command.ts";
import { UsageError } from "../cli/errors.ts";
import { formatHelp, parseFlags } from "../cli/flags.ts";
import { HandlerLoadError, type HandlerModule, loadHandlerModule } from "../cli/handler_module.ts";
import { configureLogging } from "../cli/logging.ts";
import { METRICS } from "../cli/metrics.ts";
import { buildProcessorOptions } from "../cli/processor_options.ts";
import { PRODUCE_COMMAND } from "../cli/produce.ts";
import { RUN_COMMAND } from "../cli/run.ts";

const noEnv = () => undefined;
const envOf = (vars: Record<string, string>) => (name: string) => vars[name];

Deno.test("flags: a flag wins over its environment variable, which wins over the default", () => {
  const env = envOf({ TROUPE_GROUP: "from-env", KAFKA_BROKERS: "10.0.0.1:9092" });
  let flags = parseFlags(RUN_COMMAND, ["--group", "from-flag"], env);
  assert.equal(flags.string("group"), "from-flag");
  assert.equal(flags.source("group"), "flag");
  assert.equal(flags.string("brokers"), "10.0.0.1:9092");
  assert.equal(flags.source("brokers"), "env");
  assert.equal(flags.string("log-level"), "info");
  assert.equal(flags.source("log-level"), "default");

  flags = parseFlags(RUN_COMMAND, ["--group=eq", "--topic", "a", "--topic=b"], env);
  assert.equal(flags.string("group"), "eq");
  assert.deepEqual(flags.list("topic"), ["a", "b"]);

  flags = parseFlags(
    RUN_COMMAND,
    [],
    envOf({ TROUPE_TOPICS: "a, b,,c", TROUPE_FROM_BEGINNING: "1" }),
  );
  assert.deepEqual(flags.list("topic"), ["a", "b", "c"]);
  assert.equal(flags.boolean("from-beginning"), true);
  assert.equal(parseFlags(RUN_COMMAND, [], noEnv).boolean("from-beginning"), false);
});

Deno.test("flags: mistakes are UsageErrors naming the flag or the variable", () => {
  const cases: [string[], Record<string, string>, RegExp][] = [
    [["--nope"], {}, /unknown option --nope for "run"/],
    [["-x"], {}, /unknown option -x/],
    [["stray"], {}, /unexpected argument "stray"/],
    [["--group"], {}, /--group needs a value \(G\)/],
    [["--group", "--topic", "t"], {}, /--group needs a value/],
    [["--from-beginning=yes"], {}, /--from-beginning takes no value/],
  ];
  for (const [args, vars, message] of cases) {
    assert.throws(() => parseFlags(RUN_COMMAND, args, envOf(vars)), (error: Error) => {
      assert.ok(error instanceof UsageError, `${args.join(" ")}: ${error}`);
      assert.match(error.message, message);
      return true;
    });
  }
  const read: [
    string[],
    Record<string, string>,
    (flags: ReturnType<typeof parseFlags>) => unknown,
    RegExp,
  ][] = [
    [
      ["--concurrency", "0"],
      {},
      (f) => f.integer("concurrency", 1),
      /--concurrency must be an integer >= 1; got "0"/,
    ],
    [
      [],
      { TROUPE_CONCURRENCY: "two" },
      (f) => f.integer("concurrency", 1),
      /TROUPE_CONCURRENCY must be an integer/,
    ],
    [
      ["--metrics-port", "70000"],
      {},
      (f) => f.integer("metrics-port", 0, 65535),
      /from 0 to 65535/,
    ],
    [
      ["--ordering", "random"],
      {},
      (f) => f.string("ordering"),
      /--ordering must be one of partition, key, unordered/,
    ],
    [
      [],
      { TROUPE_LOG_LEVEL: "loud" },
      (f) => f.string("log-level"),
      /TROUPE_LOG_LEVEL must be one of/,
    ],
    [
      [],
      { TROUPE_FROM_BEGINNING: "maybe" },
      (f) => f.boolean("from-beginning"),
      /TROUPE_FROM_BEGINNING must be true or false/,
    ],
    [[], {}, (f) => f.required("handler"), /run needs --handler \(or TROUPE_HANDLER\)/],
  ];
  for (const [args, vars, readIt, message] of read) {
    const flags = parseFlags(RUN_COMMAND, args, envOf(vars));
    assert.throws(
      () => readIt(flags),
      (error: Error) => error instanceof UsageError && message.test(error.message),
    );
  }
});

Deno.test("flags: the help lists every flag with its default and environment variable", () => {
  const help = formatHelp(RUN_COMMAND);
  for (const flag of RUN_COMMAND.flags) {
    assert.ok(help.includes(`--${flag.name}`), `--${flag.name} in the help`);
    if (flag.env) assert.ok(help.includes(flag.env), `${flag.env} in the help`);
  }
  assert.ok(help.includes("-h, --help"));
  assert.ok(help.split("\n").every((line) => line.length <= 100), "wrapped at 100 columns");
});

Deno.test("connection: brokers are checked; SASL comes from the environment, its password a secret", async () => {
  const flags = (args: string[], vars: Record<string, string> = {}) =>
    parseFlags(RUN_COMMAND, args, envOf(vars));
  const plain = await resolveConnection(flags([]), noEnv);
  assert.deepEqual(plain.options, { brokers: ["127.0.0.1:9092"], clientId: "troupe" });
  await assert.rejects(
    resolveConnection(flags(["--brokers", "localhost"]), noEnv),
    (error: Error) =>
      error instanceof UsageError &&
      /--brokers: "localhost" is not "host:port"/.test(error.message),
  );
  const sasl = {
    TROUPE_SASL_MECHANISM: "scram-sha-256",
    TROUPE_SASL_USERNAME: "alice",
    TROUPE_SASL_PASSWORD: "s3cret",
    TROUPE_TLS: "true",
  };
  const secure = await resolveConnection(flags([], sasl), envOf(sasl));
  assert.deepEqual(secure.options.sasl, {
    mechanism: "scram-sha-256",
    username: "alice",
    password: "s3cret",
  });
  assert.equal(secure.options.ssl, true);
  assert.deepEqual(secure.secrets, ["s3cret"]);
  await assert.rejects(
    resolveConnection(flags([]), envOf({ TROUPE_SASL_MECHANISM: "plain" })),
    /needs TROUPE_SASL_USERNAME and TROUPE_SASL_PASSWORD/,
  );
});

Deno.test("logging: secrets are masked in pretty and JSON lines; KafkaJS records only when debugging", async () => {
  const lines: string[] = [];
  const secret = 'pa"ss\\word';
  for (const format of ["pretty", "json"] as const) {
    await configureLogging({
      level: "info",
      format,
      secrets: [secret],
      write: (line) => lines.push(line),
    });
    getLogger(["troupe", "test"]).info("connecting with {password}", { password: secret });
    getLogger(["troupe", "test"]).debug("below the level");
    getLogger(["troupe", "kafkajs"]).warn("a retriable KafkaJS answer");
  }
  await configureLogging({ level: "debug", format: "pretty", write: (line) => lines.push(line) });
  getLogger(["troupe", "kafkajs"]).debug("KafkaJS when debugging");
  await configureLogging({ level: "fatal", format: "pretty" });
  assert.equal(lines.length, 3, lines.join(""));
  assert.ok(
    lines.every((line) => !line.includes("ss\\") && !line.includes('pa\\"ss')),
    lines.join(""),
  );
  assert.ok(lines[0].includes("[REDACTED]"));
  assert.equal(JSON.parse(lines[1]).properties.password, "[REDACTED]");
  assert.match(lines[2], /KafkaJS when debugging/);
});

async function withModule<T>(source: string, use: (path: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "troupe-handler-" });
  try {
    const path = `${dir}/handler.ts`;
    await Deno.writeTextFile(path, source);
    return await use(path);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("handler modules: default export and options; clear usage errors otherwise", async () => {
  const loaded = await withModule(
    'export const options = { valueCodec: "json", mailboxCapacity: 10 };\nexport default () => {};\n',
    loadHandlerModule,
  );
  assert.equal(typeof loaded.handler, "function");
  assert.deepEqual(loaded.options, { valueCodec: "json", mailboxCapacity: 10 });

  const usage: [string, RegExp][] = [
    ["export const x = 1;\n", /has no default export; write:/],
    ["export default 42;\n", /default export of .* is a number, not a function/],
    [
      'export const options = "fast";\nexport default () => {};\n',
      /"options" export .* must be an object/,
    ],
    [
      "export const options = { handler: () => {} };\nexport default () => {};\n",
      /must not set handler/,
    ],
    ["export default function (\n", /cannot load the handler module/],
    ['import "./missing.ts";\nexport default () => {};\n', /cannot load the handler module/],
  ];
  for (const [source, message] of usage) {
    await withModule(source, (path) =>
      assert.rejects(
        loadHandlerModule(path),
        (error: Error) => error instanceof UsageError && message.test(error.message),
        source,
      ));
  }
  await assert.rejects(
    loadHandlerModule("./no/such/handler.ts"),
    (error: Error) =>
      error instanceof UsageError &&
      /handler file not found: \.\/no\/such\/handler\.ts/.test(error.message),
  );
  await withModule(
    'throw new Error("database down");\nexport default () => {};\n',
    (path) =>
      assert.rejects(
        loadHandlerModule(path),
        (error: Error) =>
          error instanceof HandlerLoadError &&
          /threw while loading: Error: database down/.test(error.message),
      ),
  );
});

Deno.test("processor options: flags, then environment, then the module's options", async () => {
  const module: HandlerModule = {
    handler: () => {},
    path: "/x/handler.ts",
    options: {
      groupId: "module-group",
      topics: ["module-topic"],
      brokers: "10.9.9.9:9092",
      fromBeginning: true,
      mailboxCapacity: 10,
      valueCodec: "json",
    },
  };
  const build = async (args: string[], vars: Record<string, string> = {}, metrics = false) => {
    const flags = parseFlags(RUN_COMMAND, args, envOf(vars));
    const connection = await resolveConnection(flags, envOf(vars));
    return buildProcessorOptions(flags, module, { connection, metrics });
  };

  let options = await build([]);
  assert.equal(options.groupId, "module-group");
  assert.deepEqual(options.topics, ["module-topic"]);
  assert.deepEqual(options.brokers, "10.9.9.9:9092", "the module's brokers beat the default");
  assert.equal(options.fromBeginning, true);
  assert.equal(options.mailboxCapacity, 10);
  assert.equal(options.valueCodec, "json");
  assert.equal(options.measureProcessingTime, undefined);

  options = await build(["--topic", "flag-topic"], {
    TROUPE_GROUP: "env-group",
    KAFKA_BROKERS: "10.1.1.1:9092",
    TROUPE_FROM_BEGINNING: "false",
    TROUPE_TOPIC_PATTERN: "^orders-",
  }, true);
  assert.equal(options.groupId, "env-group");
  assert.deepEqual(options.topics, ["flag-topic", /^orders-/]);
  assert.deepEqual(options.brokers, ["10.1.1.1:9092"]);
  assert.equal(options.fromBeginning, false);
  assert.equal(options.measureProcessingTime, true, "metrics turn the histogram on");

  options = await build(["--group", "flag-group"], { TROUPE_GROUP: "env-group" });
  assert.equal(options.groupId, "flag-group");

  await assert.rejects(
    build(["--topic-pattern", "("]),
    /--topic-pattern: not a regular expression/,
  );
  await assert.rejects(build(["--topic", "bad topic"]), /"bad topic" is not a valid topic name/);
});

Deno.test("processor options: --ordering, --concurrency and --dead-letter pass through when given", async () => {
  const module: HandlerModule = {
    handler: () => {},
    path: "/h.ts",
    options: { ordering: "key", concurrency: 4, deadLetter: "module-dlq" },
  };
  const build = async (args: string[], vars: Record<string, string> = {}) => {
    const flags = parseFlags(RUN_COMMAND, ["--group", "g", "--topic", "t", ...args], envOf(vars));
    const connection = await resolveConnection(flags, envOf(vars));
    return buildProcessorOptions(flags, module, { connection, metrics: false });
  };
  let options = await build([]);
  assert.deepEqual(
    [options.ordering, options.concurrency, options.deadLetter],
    ["key", 4, "module-dlq"],
    "the module's choices stand when no flag is given",
  );
  options = await build(["--ordering", "unordered", "--dead-letter", "orders-dlq"], {
    TROUPE_CONCURRENCY: "32",
  });
  assert.deepEqual([options.ordering, options.concurrency, options.deadLetter], [
    "unordered",
    32,
    "orders-dlq",
  ]);
  options = await build(["--dead-letter", "off"]);
  assert.equal(options.deadLetter, false);
  await assert.rejects(build(["--dead-letter", "a b"]), /must be a topic name or "off"/);
  await assert.rejects(build(["--concurrency", "0"]), /--concurrency must be an integer >= 1/);
});

Deno.test("README: documents every command, flag, environment variable and metric", async () => {
  const readme = await Deno.readTextFile(new URL("../README.md", import.meta.url));
  const cli = readme.slice(readme.indexOf("## Command line"), readme.indexOf("## Run the tests"));
  const commands = [
    RUN_COMMAND,
    PRODUCE_COMMAND,
    CONSUME_COMMAND,
    TOPICS_COMMAND,
    LAG_COMMAND,
    DEMO_COMMAND,
  ];
  for (const spec of commands) {
    const start = cli.search(new RegExp(`^### .*\`${spec.name}\``, "m"));
    assert.ok(start >= 0, `a section for ${spec.name}`);
    const section = cli.slice(start, cli.indexOf("\n### ", start + 1));
    assert.ok(cli.includes(`| \`${spec.name}\``), `${spec.name} in the table of commands`);
    for (const flag of spec.flags) {
      assert.ok(section.includes(`| \`--${flag.name}`), `--${flag.name} of ${spec.name}`);
      if (flag.env) assert.ok(section.includes(`\`${flag.env}\``), `${flag.env} for ${spec.name}`);
    }
  }
  for (const variable of CREDENTIAL_VARIABLES) assert.ok(cli.includes(`| \`${variable.name}\``));
  for (const [name, type] of Object.values(METRICS)) {
    assert.match(
      cli,
      new RegExp(`\\| \`${name}\` +\\| ${type} `),
      `${name} in the table of metrics`,
    );
  }
  for (const path of ["/metrics", "/health", "/ready", "/status"]) {
    assert.ok(cli.includes(`| \`GET ${path}\``), path);
  }
});
