/**
 * One Kafka node's JVM process: its configuration written and formatted, started until it
 * answers, stopped gracefully or killed. A single broker and each node of a cluster are one.
 *
 * @module
 */

import { Kafka, logLevel } from "kafkajs";
import { fixKafkaJsTimerWarning } from "../kafka/timer_warning.ts";
import { brokerLogging } from "./broker_logging.ts";
import { LocalKafkaError } from "./errors.ts";
import { runTool, tail } from "./kafka_jars.ts";

/** Settings of a {@linkcode BrokerProcess}. */
export interface BrokerProcessOptions {
  /** The node's folder: its configuration, its log file and (by default) its data. */
  readonly dir: string;
  /** The Kafka jars, as a Java classpath. */
  readonly classpath: string;
  /** The Kafka version the jars are of (it decides the logging configuration). */
  readonly kafkaVersion: string;
  /** The client address the node listens on, `127.0.0.1:<port>`. */
  readonly address: string;
  /** Java heap in MiB. */
  readonly heapMb: number;
  /** How long `start()` waits for the node to answer, ms. */
  readonly startTimeoutMs: number;
  /** How long `stop()` waits after SIGTERM before SIGKILL, ms. */
  readonly stopTimeoutMs: number;
  /** Hears the pid of the JVM each time it starts, and `undefined` when it is gone. */
  readonly onPid?: (pid: number | undefined) => void;
}

/** A Kafka `server.properties`, as entries. */
export type BrokerProperties = Record<string, string | number | boolean>;

/** One metadata round trip to `address`; true when the node answered as part of a cluster. */
async function answers(address: string): Promise<boolean> {
  fixKafkaJsTimerWarning();
  const admin = new Kafka({
    brokers: [address],
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

/**
 * A Kafka node's process. Configure it once, then start, stop and kill it as often as a test
 * needs: its data stays in its folder between runs.
 *
 * @example
 * ```ts ignore
 * const node = new BrokerProcess({ dir, classpath, kafkaVersion: "4.4.0", address, heapMb: 512,
 *   startTimeoutMs: 60_000, stopTimeoutMs: 15_000 });
 * await node.configure(properties, clusterId());
 * await node.start();
 * await node.kill(); // kill -9
 * await node.start(); // the same node, its data kept
 * await node.stop();
 * ```
 */
export class BrokerProcess {
  readonly #options: BrokerProcessOptions;
  #child: Deno.ChildProcess | undefined;

  /** Creates the handle; nothing runs until `configure()` and `start()`. */
  constructor(options: BrokerProcessOptions) {
    this.#options = options;
  }

  /** The JVM's pid while it runs. */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** The node's log file. */
  get logFile(): string {
    return `${this.#options.dir}/broker.log`;
  }

  /** Writes the node's configuration and formats its storage for cluster `clusterId`. */
  async configure(properties: BrokerProperties, clusterId: string): Promise<void> {
    const { dir, kafkaVersion, classpath } = this.#options;
    const text = Object.entries(properties).map(([key, value]) => `${key}=${value}`).join("\n");
    await Deno.writeTextFile(`${dir}/server.properties`, text + "\n");
    const logging = brokerLogging(kafkaVersion);
    await Deno.writeTextFile(`${dir}/${logging.fileName}`, logging.contents);
    await runTool(
      "java",
      [
        "-Xmx256m",
        logging.jvmFlag(`${dir}/${logging.fileName}`),
        "-cp",
        classpath,
        "kafka.tools.StorageTool",
        "format",
        "-t",
        clusterId,
        "-c",
        `${dir}/server.properties`,
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

  /** Starts the JVM (unless it runs) and resolves once the node answers a metadata request. */
  async start(): Promise<void> {
    if (this.#child) return;
    const { dir, heapMb, classpath, kafkaVersion, address, startTimeoutMs } = this.#options;
    const logging = brokerLogging(kafkaVersion);
    // `exec` keeps the pid ours while sending the JVM's output to the log file.
    const child = new Deno.Command("sh", {
      args: [
        "-c",
        'log="$1"; shift; exec "$@" >>"$log" 2>&1',
        "sh",
        this.logFile,
        "java",
        `-Xmx${heapMb}m`,
        `-Xms${Math.min(heapMb, 256)}m`,
        "-Djava.awt.headless=true",
        logging.jvmFlag(`${dir}/${logging.fileName}`),
        "-cp",
        classpath,
        "kafka.Kafka",
        `${dir}/server.properties`,
      ],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    this.#child = child;
    this.#options.onPid?.(child.pid);
    let exited = false;
    child.status.then(() => exited = true);
    const deadline = Date.now() + startTimeoutMs;
    while (true) {
      if (exited) {
        const status = await child.status;
        this.#forget(child);
        throw new LocalKafkaError(
          "exited",
          `The Kafka broker exited while starting (exit code ${status.code}) on ${address}. ` +
            `A port already in use is the usual cause. Full log: ${this.logFile}`,
          await readTail(this.logFile),
          child.pid,
        );
      }
      if (await answers(address)) return;
      if (Date.now() > deadline) {
        const logTail = await readTail(this.logFile);
        await this.stop();
        throw new LocalKafkaError(
          "start-timeout",
          `The Kafka broker on ${address} did not answer within ${startTimeoutMs} ms.`,
          logTail,
          child.pid,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  /** Stops the JVM: SIGTERM (a controlled shutdown), then SIGKILL after `stopTimeoutMs`. */
  async stop(): Promise<void> {
    const child = this.#child;
    if (!child) return;
    this.#forget(child);
    this.#signal(child, "SIGTERM");
    let timer: ReturnType<typeof setTimeout> | undefined;
    const killed = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        this.#signal(child, "SIGKILL");
        resolve();
      }, this.#options.stopTimeoutMs);
    });
    await Promise.race([child.status, killed]);
    await child.status;
    clearTimeout(timer);
  }

  /** Kills the JVM at once (`kill -9`): no controlled shutdown, as when a machine dies. */
  async kill(): Promise<void> {
    const child = this.#child;
    if (!child) return;
    this.#forget(child);
    this.#signal(child, "SIGKILL");
    await child.status;
  }

  #forget(child: Deno.ChildProcess): void {
    if (this.#child !== child) return;
    this.#child = undefined;
    this.#options.onPid?.(undefined);
  }

  #signal(child: Deno.ChildProcess, signal: Deno.Signal): void {
    try {
      child.kill(signal);
    } catch {
      // Already gone.
    }
  }
}
