/**
 * The chaos harness: a keyed topic, N messages, K processor processes in one group; at
 * moments tied to progress it kills (-9) and restarts processes and bounces the broker; then
 * a verifier reads the logs and the committed offsets and prints one JSON line.
 *
 * ```sh
 * deno task chaos                       # 30,000 messages, 3 workers, 6 kills, 1 bounce of 15 s
 * deno task chaos --kills 3 --bounces 0 --messages 5000
 * deno task chaos --cluster 3           # on 3 brokers: also 2 leader kills and a rolling restart
 * ```
 *
 * Exits 0 when `lost` is 0, `order_violations` is 0 and `committed_equals_end` is true.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { createAdmin } from "../kafka/admin.ts";
import { createProducer } from "../kafka/producer.ts";
import { type LocalKafkaCluster, startLocalKafkaCluster } from "../testing/local_cluster.ts";
import { startLocalKafka } from "../testing/local_kafka.ts";
import { type ChaosKafka, type Fault, FaultInjector } from "./faults.ts";
import { type ChaosVerdict, parseLog, verify } from "./verify.ts";

/** What to run. Every field is optional. */
export interface ChaosOptions {
  /** Messages to produce. Default: 30 000. */
  messages?: number;
  /** Partitions of the topic. Default: 6. */
  partitions?: number;
  /** Distinct keys. Default: 300. */
  keys?: number;
  /** Worker processes. Default: 3. */
  workers?: number;
  /** `kill -9`s (each followed by a restart). Default: 6. */
  kills?: number;
  /** Broker outages. Default: 1 (needs the harness's single broker: 0 with `brokers` or `cluster`). */
  bounces?: number;
  /**
   * Run on a local cluster instead of one broker: this many brokers started for the run, or a
   * running cluster (left running). Default: none.
   */
  cluster?: number | LocalKafkaCluster;
  /** With `cluster`: kill -9s of the broker leading the most partitions. Default: 2. */
  leaderKills?: number;
  /** With `cluster`: how long a killed leader stays down, ms. Default: 8 000. */
  leaderDownMs?: number;
  /** With `cluster`: rolling restarts of every broker. Default: 1. */
  rollingRestarts?: number;
  /** How long each outage lasts, ms. Default: 15 000. */
  bounceMs?: number;
  /** Simulated work per message in each worker, ms. Default: 2. */
  workMs?: number;
  /** Gives up after this long, ms. Default: 240 000. */
  timeoutMs?: number;
  /** Use this broker instead of starting one (no bounces then). */
  brokers?: string[];
  /** Seed of the random choices, for a repeatable run. Default: random. */
  seed?: number;
  /** Progress lines go here. Default: stderr. */
  progress?: (line: string) => void;
}

/** A small seeded PRNG (mulberry32), so a run can be repeated. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Worker {
  index: number;
  process: Deno.ChildProcess;
  /** Set before the harness itself stops or kills it: any other exit is a failure. */
  stopping: boolean;
}

/** Runs the harness and returns the verifier's verdict. */
export async function runChaos(options: ChaosOptions = {}): Promise<ChaosVerdict> {
  const messages = options.messages ?? 30_000;
  const partitions = options.partitions ?? 6;
  const keys = options.keys ?? 300;
  const workerCount = options.workers ?? 3;
  const kills = options.kills ?? 6;
  const bounceMs = options.bounceMs ?? 15_000;
  const workMs = options.workMs ?? 2;
  const seed = options.seed ?? Math.floor(Math.random() * 2 ** 31);
  const chance = random(seed);
  const say = options.progress ?? ((line: string) => console.error(`[chaos] ${line}`));
  const started = Date.now();
  const deadline = started + (options.timeoutMs ?? 240_000);

  let kafka: ChaosKafka = { kind: "given" };
  let brokers = options.brokers;
  let bounces = options.bounces ?? 1;
  let leaderKills = 0;
  let rollingRestarts = 0;
  if (brokers) {
    if (bounces > 0) say("a given broker cannot be bounced: running without outages");
    bounces = 0;
  } else if (options.cluster) {
    const given = typeof options.cluster === "object";
    const cluster = typeof options.cluster === "object"
      ? options.cluster
      : await startLocalKafkaCluster({ nodes: options.cluster });
    kafka = { kind: "cluster", cluster, owned: !given };
    brokers = cluster.brokers;
    bounces = 0;
    leaderKills = options.leaderKills ?? 2;
    rollingRestarts = options.rollingRestarts ?? 1;
  } else {
    const broker = await startLocalKafka();
    kafka = { kind: "broker", broker };
    brokers = broker.brokers;
  }
  const dir = await Deno.makeTempDir({ prefix: "troupe-chaos-" });
  const stamp = Date.now().toString(36);
  const topic = `chaos-${stamp}`;
  const groupId = `chaos-${stamp}-group`;
  const workers: (Worker | undefined)[] = [];
  let selfExits = 0;
  const where = kafka.kind === "cluster" ? `${kafka.cluster.nodes.length} brokers` : "one broker";
  say(
    `seed ${seed}; ${messages} messages, ${partitions} partitions, ${workerCount} workers on ` +
      `${where}, ${kills} kills, ${bounces} broker outage(s) of ${bounceMs} ms, ` +
      `${leaderKills} leader kill(s), ${rollingRestarts} rolling restart(s); logs in ${dir}`,
  );

  const logFile = (index: number) => `${dir}/worker-${index}.log`;
  const spawn = (index: number) => {
    const process = new Deno.Command("sh", {
      args: [
        "-c",
        'err="$1"; shift; exec "$@" 2>>"$err" >>"$err"',
        "sh",
        `${dir}/worker-${index}.stderr`,
        Deno.execPath(),
        "run",
        "-A",
        new URL("./worker.ts", import.meta.url).pathname,
        brokers!.join(","),
        topic,
        groupId,
        logFile(index),
        String(workMs),
      ],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    const worker: Worker = { index, process, stopping: false };
    workers[index] = worker;
    void process.status.then(async (status) => {
      if (worker.stopping) return;
      selfExits++;
      const stderr = await Deno.readTextFile(`${dir}/worker-${index}.stderr`).catch(() => "");
      say(
        `worker ${index} (pid ${process.pid}) ended by itself (code ${status.code}):\n` +
          stderr.trimEnd().split("\n").slice(-15).join("\n"),
      );
    });
  };
  const processedSoFar = async () => {
    const seen = new Set<string>();
    for (let i = 0; i < workerCount; i++) {
      try {
        for (const entry of parseLog(await Deno.readTextFile(logFile(i)))) {
          seen.add(`${entry.partition}:${entry.offset}`);
        }
      } catch {
        // Not written yet.
      }
    }
    return seen.size;
  };

  try {
    await using admin = createAdmin({ brokers, clientId: "chaos" });
    await admin.createTopics([{ topic, partitions }]);
    const producer = createProducer({ brokers, clientId: "chaos", valueCodec: "json" });
    const sequence = new Array<number>(keys).fill(0);
    for (let start = 0; start < messages; start += 1000) {
      await producer.sendAll(Array.from({ length: Math.min(1000, messages - start) }, (_, i) => {
        const key = `key-${(start + i) % keys}`;
        return { topic, key, value: { key, sequence: sequence[(start + i) % keys]++ } };
      }));
    }
    await producer.close();
    say(`produced ${messages} messages to ${topic}`);

    for (let i = 0; i < workerCount; i++) spawn(i);

    const injector = new FaultInjector({
      kafka,
      topic,
      workerCount,
      killWorker: async (index) => {
        const victim = workers[index]!;
        victim.stopping = true;
        try {
          victim.process.kill("SIGKILL");
        } catch {
          // It had ended by itself (counted as a failure when it did).
        }
        await victim.process.status;
        return victim.process.pid;
      },
      spawnWorker: spawn,
      chance,
      say,
    }, { bounceMs, leaderDownMs: options.leaderDownMs ?? 8_000 });
    // Faults fire as progress crosses evenly spread marks, so each lands mid-stream.
    const faults: Fault[] = [
      ...Array<Fault>(kills).fill("kill"),
      ...Array<Fault>(bounces).fill("bounce"),
      ...Array<Fault>(leaderKills).fill("leader-kill"),
      ...Array<Fault>(rollingRestarts).fill("rolling-restart"),
    ];
    for (let i = faults.length - 1; i > 0; i--) {
      const j = Math.floor(chance() * (i + 1));
      [faults[i], faults[j]] = [faults[j], faults[i]];
    }
    const marks = faults.map((_, i) => Math.floor((messages * (i + 1)) / (faults.length + 2)));
    let next = 0;
    let processed = 0;
    // Faults left when the work is done still fire: recovery at the very end is a case too.
    while ((processed < messages || next < faults.length) && Date.now() < deadline) {
      await sleep(250);
      processed = await processedSoFar();
      if (next < faults.length && processed >= marks[next]) {
        await injector.fire(faults[next++], `at ${processed}/${messages}`);
      }
    }
    const elapsed = ((Date.now() - started) / 1000).toFixed(1);
    say(`${processed}/${messages} processed after ${elapsed} s`);

    // Quiesce: a worker killed near the end leaves work processed but uncommitted; its
    // partitions' next owners redo it and commit. Wait for that before stopping everyone.
    const settle = Math.min(deadline, Date.now() + 60_000);
    const ends = new Map((await admin.offsets(topic)).map((row) => [row.partition, row.end]));
    while (Date.now() < settle) {
      const committed = await admin.committedOffsets(groupId, [topic]);
      const done = committed.length === ends.size &&
        committed.every((row) => row.offset === ends.get(row.partition));
      if (done) break;
      await sleep(250);
    }
    say("stopping workers");

    for (const worker of workers) {
      if (worker) worker.stopping = true;
      try {
        worker?.process.kill("SIGTERM");
      } catch {
        // Already gone.
      }
    }
    await Promise.all(workers.map((worker) => worker?.process.status));
    return await verify({
      brokers,
      topic,
      groupId,
      logFiles: workers.map((_, i) => logFile(i)),
      kills: injector.counts.kills,
      brokerRestarts: injector.counts.bounces,
      leaderKills: injector.counts.leaderKills,
      rollingRestarts: injector.counts.rollingRestarts,
      workerFailures: selfExits,
    });
  } finally {
    for (const worker of workers) {
      if (worker) worker.stopping = true;
      try {
        worker?.process.kill("SIGKILL");
      } catch {
        // Already gone.
      }
      await worker?.process.status;
    }
    if (kafka.kind === "broker") await kafka.broker.stop();
    if (kafka.kind === "cluster" && kafka.owned) await kafka.cluster.stop();
    if (Deno.env.get("TROUPE_CHAOS_KEEP_LOGS") === undefined) {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  }
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      messages: { type: "string" },
      partitions: { type: "string" },
      workers: { type: "string" },
      kills: { type: "string" },
      bounces: { type: "string" },
      "bounce-ms": { type: "string" },
      cluster: { type: "string" },
      "leader-kills": { type: "string" },
      "rolling-restarts": { type: "string" },
      "work-ms": { type: "string" },
      seed: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(`Usage: deno task chaos [--messages N] [--partitions N] [--workers N] [--kills N]
                       [--bounces N] [--bounce-ms MS] [--work-ms MS] [--seed N]
                       [--cluster NODES [--leader-kills N] [--rolling-restarts N]]
Uses KAFKA_BROKERS when set (then without broker outages), else starts a local broker, or
with --cluster a local cluster (then 2 leader kills and 1 rolling restart instead of outages).
Prints one JSON line; exits 0 when nothing was lost or reordered and commits reached the end.
Set TROUPE_CHAOS_KEEP_LOGS=1 to keep the workers' logs.`);
    Deno.exit(0);
  }
  const number = (text: string | undefined) => text === undefined ? undefined : Number(text);
  const given = Deno.env.get("KAFKA_BROKERS");
  const verdict = await runChaos({
    messages: number(values.messages),
    partitions: number(values.partitions),
    workers: number(values.workers),
    kills: number(values.kills),
    bounces: number(values.bounces),
    bounceMs: number(values["bounce-ms"]),
    cluster: number(values.cluster),
    leaderKills: number(values["leader-kills"]),
    rollingRestarts: number(values["rolling-restarts"]),
    workMs: number(values["work-ms"]),
    seed: number(values.seed),
    brokers: given ? given.split(",") : undefined,
  });
  console.log(JSON.stringify(verdict));
  Deno.exit(
    verdict.lost === 0 && verdict.order_violations === 0 && verdict.committed_equals_end &&
      verdict.worker_failures === 0
      ? 0
      : 1,
  );
}
