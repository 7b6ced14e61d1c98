/**
 * `troupe init`: the project it makes tests green offline, runs against the broker with
 * `deno task start`, restarts on change with `deno task dev`, and nothing is ever overwritten.
 *
 * @module
 */

import assert from "node:assert/strict";
import { createTopic, produce, testBrokers, uniqueName, waitFor } from "./_helpers.ts";
import { noStackTrace, troupe } from "./_cli.ts";
import { fixKafkaJsTimerWarning } from "../kafka/timer_warning.ts";

fixKafkaJsTimerWarning(); // for the KafkaJS clients of _helpers.ts

const FILES = ["README.md", "deno.json", "handler.ts", "handler_test.ts", "main.ts"];

/** Runs `troupe init` into a new temporary folder; returns the project's directory. */
async function initProject(): Promise<{ root: string; project: string }> {
  const root = await Deno.makeTempDir({ prefix: "troupe-init-" });
  const project = `${root}/billing`;
  const result = await troupe(["init", project]);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stderr, "");
  assert.match(result.stdout, /^created deno\.json, handler\.ts, handler_test\.ts, main\.ts/);
  return { root, project };
}

/** The environment of a machine without a broker or a network: every proxy is a dead port. */
function offlineEnv(): Record<string, string> {
  const dead = "http://127.0.0.1:9";
  const env: Record<string, string> = {
    PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
    HOME: Deno.env.get("HOME") ?? "/root",
    NO_COLOR: "1",
    HTTP_PROXY: dead,
    HTTPS_PROXY: dead,
    ALL_PROXY: dead,
  };
  const denoDir = Deno.env.get("DENO_DIR");
  if (denoDir) env.DENO_DIR = denoDir;
  return env;
}

/** Runs a command in `cwd` to its end, with exactly `env`. */
async function run(cwd: string, args: string[], env: Record<string, string>) {
  const output = await new Deno.Command(Deno.execPath(), {
    args,
    cwd,
    env,
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(120_000),
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

Deno.test("init: the new project's `deno task test` passes with no broker and no network", async () => {
  const { root, project } = await initProject();
  try {
    const files = [...Deno.readDirSync(project)].map((entry) => entry.name).sort();
    assert.deepEqual(files, FILES);
    const config = await Deno.readTextFile(`${project}/deno.json`);
    assert.match(config, /"@troupe\/troupe": "file:\/\/\/.*\/mod\.ts"/);
    assert.match(config, /"@troupe\/troupe\/testing": "file:\/\/\/.*\/testing\/mod\.ts"/);
    assert.match(config, /jsr:@troupe\/troupe@\^\d+\.\d+\.\d+/, "how it reads once published");
    assert.match(config, /"dev": "deno run --watch /);

    // No KAFKA_BROKERS, proxies that refuse every connection, and a test task without
    // --allow-net: the tests can only pass on the in-memory Kafka.
    const tested = await run(project, ["task", "test"], offlineEnv());
    assert.equal(tested.code, 0, `${tested.stdout}\n${tested.stderr}`);
    assert.match(tested.stdout, /ok \| 2 passed \| 0 failed/);

    // What a user's editor and CI would check first.
    for (const args of [["fmt", "--check"], ["lint"], ["check", "main.ts"]]) {
      const checked = await run(project, args, offlineEnv());
      assert.equal(checked.code, 0, `deno ${args.join(" ")}:\n${checked.stderr}`);
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

/** Every process below `pid` (children first found, then theirs), from /proc. */
function descendants(pid: number): number[] {
  const parents = new Map<number, number[]>();
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const stat = Deno.readTextFileSync(`/proc/${entry.name}/stat`);
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      parents.set(ppid, [...(parents.get(ppid) ?? []), Number(entry.name)]);
    } catch {
      // Exited meanwhile.
    }
  }
  const found: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const children = parents.get(queue.shift()!) ?? [];
    found.push(...children);
    queue.push(...children);
  }
  return found;
}

/** Starts a task of the project; disposing it kills the task and whatever it started. */
function startTask(project: string, task: string, env: Record<string, string>) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["task", task],
    cwd: project,
    env: { NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let stdout = "";
  let stderr = "";
  const reading = Promise.all([
    (async () => {
      for await (const text of child.stdout.pipeThrough(new TextDecoderStream())) stdout += text;
    })(),
    (async () => {
      for await (const text of child.stderr.pipeThrough(new TextDecoderStream())) stderr += text;
    })(),
  ]);
  let exited = false;
  child.status.then(() => exited = true);
  return {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    async [Symbol.asyncDispose]() {
      // `deno run --watch` outlives a signal to its task: kill the whole tree (while the task
      // runs, so that no pid can have been reused).
      const tree = exited ? [] : [...descendants(child.pid), child.pid];
      for (const pid of tree) {
        try {
          Deno.kill(pid, "SIGKILL");
        } catch {
          // Already exited.
        }
      }
      await child.status;
      await reading;
    },
  };
}

Deno.test("init: `deno task start` processes orders from KAFKA_BROKERS and stops on SIGTERM", async () => {
  const { root, project } = await initProject();
  const topic = uniqueName("init-orders");
  await createTopic(topic, 2);
  try {
    await using task = startTask(project, "start", {
      KAFKA_BROKERS: testBrokers().join(","),
      TROUPE_TOPICS: topic,
      TROUPE_GROUP: uniqueName("init-group"),
    });
    await waitFor(() => task.stdout().includes(`processing ${topic}`), "the processor to start");
    await produce(topic, 1, 1, () => ({
      partition: 0,
      key: "alice",
      value: JSON.stringify({ id: 7, customer: "alice", total: 42 }),
    }));
    await waitFor(
      () => task.stdout().includes("billed order 7 of alice: 42"),
      `the order billed; stdout:\n${task.stdout()}\nstderr:\n${task.stderr()}`,
    );
    task.child.kill("SIGTERM"); // deno task passes it on to main.ts
    const status = await task.child.status;
    assert.equal(status.code, 0, task.stderr());
    await waitFor(() => task.stdout().includes("processor stopped"), "a graceful stop");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("init: `deno task dev` restarts the processor when a file changes", async () => {
  const { root, project } = await initProject();
  const topic = uniqueName("init-dev");
  await createTopic(topic, 1);
  try {
    await using task = startTask(project, "dev", {
      KAFKA_BROKERS: testBrokers().join(","),
      TROUPE_TOPICS: topic,
      TROUPE_GROUP: uniqueName("init-dev-group"),
    });
    const starts = () => task.stdout().split(`processing ${topic}`).length - 1;
    await waitFor(() => starts() === 1, "the processor to start");
    await Deno.writeTextFile(`${project}/handler.ts`, "// edited\n", { append: true });
    await waitFor(
      () => starts() === 2,
      `a restart; stdout:\n${task.stdout()}\nstderr:\n${task.stderr()}`,
    );
    assert.match(task.stdout(), /processor stopped[^]*processing/, "stopped before restarting");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("init: refuses to overwrite any file (exit 2, nothing written); usage mistakes exit 2", async () => {
  const root = await Deno.makeTempDir({ prefix: "troupe-init-" });
  try {
    await Deno.writeTextFile(`${root}/README.md`, "mine\n");
    const refused = await troupe(["init", root]);
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /init would overwrite README\.md in .*; nothing was written/);
    assert.ok(noStackTrace(refused.stderr), refused.stderr);
    assert.equal(await Deno.readTextFile(`${root}/README.md`), "mine\n");
    assert.deepEqual([...Deno.readDirSync(root)].map((entry) => entry.name), ["README.md"]);

    const made = await troupe(["init", `${root}/made`]);
    assert.equal(made.code, 0, made.stderr);
    const before = await Deno.readTextFile(`${root}/made/handler.ts`);
    await Deno.writeTextFile(`${root}/made/handler.ts`, `${before}// my change\n`);
    const again = await troupe(["init", `${root}/made`]);
    assert.equal(again.code, 2);
    assert.match(
      again.stderr,
      /init would overwrite deno\.json, handler\.ts, handler_test\.ts, main\.ts, README\.md/,
    );
    assert.equal(await Deno.readTextFile(`${root}/made/handler.ts`), `${before}// my change\n`);

    const mistakes: [string[], RegExp][] = [
      [["init", `${root}/README.md`], /README\.md exists and is not a directory/],
      [["init", "one", "two"], /unexpected argument "two" for "init"/],
      [["init", "--force"], /unknown option --force for "init"/],
    ];
    for (const [args, message] of mistakes) {
      const result = await troupe(args, { cwd: root });
      assert.equal(result.code, 2, `${args.join(" ")}: ${result.stderr}`);
      assert.match(result.stderr, message);
      assert.ok(noStackTrace(result.stderr), result.stderr);
    }
    assert.ok(!(await exists(`${root}/one`)), "nothing made for a usage mistake");
    const help = await troupe(["init", "--help"]);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /^Usage: troupe init \[DIR\]/);
    assert.match(help.stdout, /^Arguments:\n {2}DIR /m);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}
