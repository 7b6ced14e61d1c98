/**
 * A real, single-node Apache Kafka broker (KRaft mode, no ZooKeeper) for tests, demos and
 * benchmarks, started from Maven Central jars with the machine's `java`.
 *
 * @module
 */

import { clusterId } from "./cluster_id.ts";
import { Kafka, logLevel } from "kafkajs";
import { fixKafkaJsTimerWarning } from "../kafka/timer_warning.ts";
import { LocalKafkaError } from "./errors.ts";
import { ensureKafkaJars, type KafkaJarsOptions, runTool, tail } from "./kafka_jars.ts";

/** Options of {@linkcode startLocalKafka}. Every field is optional. */
export interface LocalKafkaOptions extends KafkaJarsOptions {
  /** Client port on 127.0.0.1. Default: a free port. */
  port?: number;
  /** KRaft controller port on 127.0.0.1. Default: a free port. */
  controllerPort?: number;
  /** How long to wait for the broker to answer a metadata request. Default: 60 000 ms. */
  startTimeoutMs?: number;
  /** How long `stop()` / `down()` wait after SIGTERM before SIGKILL. Default: 15 000 ms. */
  stopTimeoutMs?: number;
  /** Java heap of the broker in MiB. Default: 512. */
  heapMb?: number;
  /** Extra or overriding `server.properties` entries, e.g. `{"num.partitions": 3}`. */
  brokerProperties?: Record<string, string | number | boolean>;
}

/** A running local broker. Stop it with `stop()` (or `await using`). */
export interface LocalKafka extends AsyncDisposable {
  /** Bootstrap addresses for clients, e.g. `["127.0.0.1:41234"]`. */
  readonly brokers: string[];
  /** The broker's data directory (a temporary folder removed by `stop()`). */
  readonly dataDir: string;
  /** The broker's log file, inside the temporary folder. */
  readonly logFile: string;
  /** Pid of the broker process, or `undefined` while it is down. */
  readonly pid: number | undefined;
  /**
   * Stops the broker process (SIGTERM, then SIGKILL after `stopTimeoutMs`) but keeps its
   * data and ports, so `up()` brings the same broker back: an outage, for chaos tests.
   */
  down(): Promise<void>;
  /** Starts the broker again after `down()` and waits until it answers. */
  up(): Promise<void>;
  /** Stops the broker and removes its temporary folder. Safe to call twice. */
  stop(): Promise<void>;
}

const DIR_PREFIX = "troupe-kafka-";

/** Asks the OS for a free TCP port on 127.0.0.1. */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

function isAlive(pid: number): boolean {
  try {
    Deno.statSync(`/proc/${pid}`);
    return true;
  } catch {
    return false;
  }
}

function commandLine(pid: number): string {
  try {
    return Deno.readTextFileSync(`/proc/${pid}/cmdline`).replaceAll("\0", " ");
  } catch {
    return "";
  }
}

/**
 * Removes what earlier runs left behind when their process died without `stop()`: folders
 * whose owner is gone, and the broker still running in one. A broker is killed only when its
 * command line names that folder, so no unrelated process is touched. Linux only (uses /proc).
 */
async function reapOrphans(tempRoot: string): Promise<void> {
  if (Deno.build.os !== "linux") return;
  for await (const entry of Deno.readDir(tempRoot)) {
    if (!entry.isDirectory || !entry.name.startsWith(DIR_PREFIX)) continue;
    const dir = `${tempRoot}/${entry.name}`;
    try {
      const owner = JSON.parse(await Deno.readTextFile(`${dir}/owner.json`)) as {
        owner: number;
        broker?: number;
      };
      if (isAlive(owner.owner)) continue;
      if (owner.broker && isAlive(owner.broker) && commandLine(owner.broker).includes(dir)) {
        Deno.kill(owner.broker, "SIGKILL");
      }
      await Deno.remove(dir, { recursive: true });
    } catch {
      // Not ours to judge (no owner file yet, another user's folder): leave it.
    }
  }
}

function serverProperties(
  dataDir: string,
  port: number,
  controllerPort: number,
  extra: Record<string, string | number | boolean>,
): string {
  const properties: Record<string, string | number | boolean> = {
    "process.roles": "broker,controller",
    "node.id": 1,
    "controller.quorum.voters": `1@127.0.0.1:${controllerPort}`,
    "listeners": `PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
    "advertised.listeners": `PLAINTEXT://127.0.0.1:${port}`,
    "controller.listener.names": "CONTROLLER",
    "inter.broker.listener.name": "PLAINTEXT",
    "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
    "log.dirs": `${dataDir}/data`,
    "offsets.topic.replication.factor": 1,
    "offsets.topic.num.partitions": 1,
    "transaction.state.log.replication.factor": 1,
    "transaction.state.log.min.isr": 1,
    "transaction.state.log.num.partitions": 1,
    "group.initial.rebalance.delay.ms": 0,
    "default.replication.factor": 1,
    "min.insync.replicas": 1,
    ...extra,
  };
  return Object.entries(properties).map(([key, value]) => `${key}=${value}`).join("\n") + "\n";
}

const LOG4J = `log4j.rootLogger=INFO, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=WARN
log4j.logger.org.apache.kafka.clients=WARN
`;

/**
 * What a user needs from a broker log that failed: its first error lines (a failed start
 * logs the cause, then hundreds of shutdown lines), then its last lines.
 */
async function readTail(path: string): Promise<string> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch {
    return "";
  }
  const errors = [
    ...new Set(text.split("\n").filter((line) => /ERROR|FATAL|Exception:/.test(line))),
  ]
    .slice(0, 12);
  const last = tail(text, 8);
  return errors.length ? `${errors.join("\n")}\n...\n${last}` : last;
}

/** One metadata round trip; true when the broker answered. */
async function answers(brokers: string[]): Promise<boolean> {
  fixKafkaJsTimerWarning();
  const admin = new Kafka({
    brokers,
    clientId: "troupe-local-kafka-probe",
    logLevel: logLevel.NOTHING,
    connectionTimeout: 1000,
    requestTimeout: 2000,
    retry: { retries: 0 },
  }).admin();
  try {
    await admin.connect();
    const cluster = await admin.describeCluster();
    return cluster.brokers.length > 0 && cluster.controller !== null;
  } catch {
    return false;
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

/**
 * Starts a real single-node Kafka broker on free 127.0.0.1 ports, in a fresh temporary data
 * folder, and resolves once it answers an admin metadata request.
 *
 * The broker jars are fetched from Maven Central with `mvn` on first use and cached (see
 * {@linkcode ensureKafkaJars}). Several brokers can run side by side. `stop()` terminates the
 * process (SIGTERM, then SIGKILL) and removes the folder; folders and brokers left behind by a
 * process that died without `stop()` are cleaned up by the next start.
 *
 * @example Round trip against a throwaway broker
 * ```ts ignore
 * import { startLocalKafka } from "@troupe/troupe/testing";
 *
 * await using kafka = await startLocalKafka();
 * console.log(kafka.brokers); // ["127.0.0.1:40123"]
 * ```
 *
 * @throws {LocalKafkaError} `java-missing`, `maven-missing`, `download-failed`,
 * `format-failed`, `exited` (e.g. the port is taken) or `start-timeout`; `exited` and
 * `start-timeout` carry the tail of the broker log.
 */
export async function startLocalKafka(options: LocalKafkaOptions = {}): Promise<LocalKafka> {
  const lib = await ensureKafkaJars(options);
  const startTimeoutMs = options.startTimeoutMs ?? 60_000;
  const stopTimeoutMs = options.stopTimeoutMs ?? 15_000;
  const heapMb = options.heapMb ?? 512;

  const dir = await Deno.makeTempDir({ prefix: DIR_PREFIX });
  const tempRoot = dir.slice(0, dir.lastIndexOf("/"));
  await Deno.writeTextFile(`${dir}/owner.json`, JSON.stringify({ owner: Deno.pid }));
  await reapOrphans(tempRoot).catch(() => {});

  const port = options.port ?? freePort();
  const controllerPort = options.controllerPort ?? freePort();
  const brokers = [`127.0.0.1:${port}`];
  const propertiesFile = `${dir}/server.properties`;
  const logFile = `${dir}/broker.log`;
  const classpath = `${lib}/*`;

  let child: Deno.ChildProcess | undefined;
  let removed = false;

  const removeDir = async () => {
    if (removed) return;
    removed = true;
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };

  try {
    await Deno.writeTextFile(
      propertiesFile,
      serverProperties(dir, port, controllerPort, options.brokerProperties ?? {}),
    );
    await Deno.writeTextFile(`${dir}/log4j.properties`, LOG4J);
    await format(classpath, propertiesFile);
  } catch (error) {
    await removeDir();
    throw error;
  }

  const launch = async () => {
    // `exec` keeps the pid ours while sending the JVM's output to the log file.
    child = new Deno.Command("sh", {
      args: [
        "-c",
        'log="$1"; shift; exec "$@" >>"$log" 2>&1',
        "sh",
        logFile,
        "java",
        `-Xmx${heapMb}m`,
        `-Xms${Math.min(heapMb, 256)}m`,
        "-Djava.awt.headless=true",
        `-Dlog4j.configuration=file:${dir}/log4j.properties`,
        "-cp",
        classpath,
        "kafka.Kafka",
        propertiesFile,
      ],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    const started = child;
    await Deno.writeTextFile(
      `${dir}/owner.json`,
      JSON.stringify({ owner: Deno.pid, broker: started.pid }),
    );
    let exited = false;
    started.status.then(() => exited = true);
    const deadline = Date.now() + startTimeoutMs;
    while (true) {
      if (exited) {
        const status = await started.status;
        child = undefined;
        throw new LocalKafkaError(
          "exited",
          `The Kafka broker exited while starting (exit code ${status.code}) on ` +
            `127.0.0.1:${port} (controller ${controllerPort}). A port already in use is the usual ` +
            `cause. Full log: ${logFile}`,
          await readTail(logFile),
          started.pid,
        );
      }
      if (await answers(brokers)) return;
      if (Date.now() > deadline) {
        const logTail = await readTail(logFile);
        await terminate();
        throw new LocalKafkaError(
          "start-timeout",
          `The Kafka broker on ${brokers[0]} did not answer within ${startTimeoutMs} ms.`,
          logTail,
          started.pid,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  };

  const terminate = async () => {
    const running = child;
    if (!running) return;
    child = undefined;
    try {
      running.kill("SIGTERM");
    } catch {
      // Already gone.
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const killed = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        try {
          running.kill("SIGKILL");
        } catch {
          // Already gone.
        }
        resolve();
      }, stopTimeoutMs);
    });
    await Promise.race([running.status, killed]);
    await running.status;
    clearTimeout(timer);
  };

  try {
    await launch();
  } catch (error) {
    await terminate();
    await removeDir();
    throw error;
  }

  const stop = async () => {
    await terminate();
    await removeDir();
  };

  return {
    brokers,
    dataDir: `${dir}/data`,
    logFile,
    get pid() {
      return child?.pid;
    },
    down: terminate,
    async up() {
      if (child) return;
      await launch();
    },
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

async function format(classpath: string, propertiesFile: string): Promise<void> {
  await runTool(
    "java",
    [
      "-Xmx256m",
      "-cp",
      classpath,
      "kafka.tools.StorageTool",
      "format",
      "-t",
      clusterId(),
      "-c",
      propertiesFile,
    ],
    {
      code: "java-missing",
      message:
        "Java was not found on PATH. The local Kafka broker runs on the JVM; install Java 17+ " +
        "(e.g. `apt-get install openjdk-17-jre-headless`) or set KAFKA_BROKERS to use a " +
        "running broker.",
    },
    { code: "format-failed", message: "Kafka's storage tool could not format the data folder" },
  );
}
