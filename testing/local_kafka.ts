/**
 * A real, single-node Apache Kafka broker (KRaft mode, no ZooKeeper) for tests, demos and
 * benchmarks, started from Maven Central jars with the machine's `java`.
 *
 * @module
 */

import { BrokerProcess, type BrokerProperties } from "./broker_process.ts";
import { clusterId } from "./cluster_id.ts";
import { freePort } from "./free_port.ts";
import { ensureKafkaJars, type KafkaJarsOptions, kafkaVersionOf } from "./kafka_jars.ts";
import { OwnedFolder } from "./owned_folder.ts";

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
  /** The Kafka version the broker runs, e.g. `"4.4.0"`. */
  readonly kafkaVersion: string;
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

function serverProperties(
  dataDir: string,
  port: number,
  controllerPort: number,
  extra: BrokerProperties,
): BrokerProperties {
  return {
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
 * @throws {LocalKafkaError} `bad-option`, `java-missing`, `maven-missing`, `download-failed`,
 * `format-failed`, `exited` (e.g. the port is taken) or `start-timeout`; `exited` and
 * `start-timeout` carry the tail of the broker log.
 */
export async function startLocalKafka(options: LocalKafkaOptions = {}): Promise<LocalKafka> {
  const kafkaVersion = kafkaVersionOf(options);
  const lib = await ensureKafkaJars({ ...options, kafkaVersion });
  const folder = await OwnedFolder.create();
  const port = options.port ?? freePort();
  const controllerPort = options.controllerPort ?? freePort();
  const address = `127.0.0.1:${port}`;
  const broker = new BrokerProcess({
    dir: folder.path,
    classpath: `${lib}/*`,
    kafkaVersion,
    address,
    heapMb: options.heapMb ?? 512,
    startTimeoutMs: options.startTimeoutMs ?? 60_000,
    stopTimeoutMs: options.stopTimeoutMs ?? 15_000,
    onPid: (pid) => void folder.recordBrokers(pid === undefined ? [] : [pid]),
  });
  try {
    const properties = serverProperties(
      folder.path,
      port,
      controllerPort,
      options.brokerProperties ?? {},
    );
    await broker.configure(properties, clusterId());
    await broker.start();
  } catch (error) {
    await broker.stop();
    await folder.remove();
    throw error;
  }
  const stop = async () => {
    await broker.stop();
    await folder.remove();
  };
  return {
    brokers: [address],
    kafkaVersion,
    dataDir: `${folder.path}/data`,
    logFile: broker.logFile,
    get pid() {
      return broker.pid;
    },
    down: () => broker.stop(),
    up: () => broker.start(),
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
