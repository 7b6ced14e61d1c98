/**
 * A real Apache Kafka cluster of several KRaft nodes for tests, chaos runs and benchmarks,
 * from the same Maven Central jars as {@linkcode startLocalKafka}: replicated topics, a
 * leader and a group coordinator that can be killed, and rolling restarts.
 *
 * @module
 */

import { Kafka, logLevel } from "kafkajs";
import { fixKafkaJsTimerWarning } from "../kafka/timer_warning.ts";
import { BrokerProcess, type BrokerProperties } from "./broker_process.ts";
import { clusterId } from "./cluster_id.ts";
import { LocalKafkaError } from "./errors.ts";
import { freePort } from "./free_port.ts";
import { ensureKafkaJars, type KafkaJarsOptions, kafkaVersionOf } from "./kafka_jars.ts";
import { OwnedFolder } from "./owned_folder.ts";

/** Options of {@linkcode startLocalKafkaCluster}. Every field is optional. */
export interface LocalKafkaClusterOptions extends KafkaJarsOptions {
  /** Nodes, each a broker and a controller. Default: 3. */
  nodes?: number;
  /** How long to wait for the cluster (or a node) to answer, ms. Default: 90 000. */
  startTimeoutMs?: number;
  /** How long a node's graceful stop waits before SIGKILL, ms. Default: 30 000. */
  stopTimeoutMs?: number;
  /** Java heap of each node in MiB. Default: 384. */
  heapMb?: number;
  /**
   * Extra or overriding `server.properties` entries for every node. By default topics get
   * replication factor `min(3, nodes)` and `min.insync.replicas` one less (at least 1).
   */
  brokerProperties?: Record<string, string | number | boolean>;
}

/** One node of a {@linkcode LocalKafkaCluster}. */
export interface LocalKafkaNode {
  /** Its `node.id`, from 1. */
  readonly id: number;
  /** Its client address, `127.0.0.1:<port>`. */
  readonly address: string;
  /** Pid of its JVM, or `undefined` while it is down. */
  readonly pid: number | undefined;
  /** Its log file. */
  readonly logFile: string;
}

/** A running local cluster. Stop it with `stop()` (or `await using`). */
export interface LocalKafkaCluster extends AsyncDisposable {
  /** Bootstrap addresses of every node. */
  readonly brokers: string[];
  /** The Kafka version the nodes run. */
  readonly kafkaVersion: string;
  /** The nodes, by id (1, 2, 3, ...). */
  readonly nodes: readonly LocalKafkaNode[];
  /** The node that leads a partition now. */
  leaderOf(topic: string, partition: number): Promise<number>;
  /** The node that is a consumer group's coordinator now (for groups of the classic protocol). */
  coordinatorOf(groupId: string): Promise<number>;
  /** The node that leads the most partitions of `topics` now (ties: the lowest id). */
  busiestLeader(topics: readonly string[]): Promise<number>;
  /** `kill -9` of a node: no controlled shutdown, as when its machine dies. */
  kill(nodeId: number): Promise<void>;
  /** Stops a node gracefully (a controlled shutdown moves its leaderships first). */
  down(nodeId: number): Promise<void>;
  /** Starts a stopped or killed node again, its data kept, and waits until it answers. */
  up(nodeId: number): Promise<void>;
  /**
   * Restarts every node in turn, as a rolling upgrade does: each is stopped gracefully,
   * started again, and the next waits until every partition is fully replicated again.
   */
  rollingRestart(): Promise<void>;
  /** Resolves once every partition of every topic has all its replicas in sync. */
  waitUntilReplicated(): Promise<void>;
  /** Stops every node and removes the cluster's folder. Safe to call twice. */
  stop(): Promise<void>;
}

/** Java's `String.hashCode`, which places a group on a `__consumer_offsets` partition. */
function javaHashCode(text: string): number {
  let hash = 0;
  for (let i = 0; i < text.length; i++) hash = (Math.imul(31, hash) + text.charCodeAt(i)) | 0;
  return hash;
}

const OFFSETS_PARTITIONS = 3;

function nodeProperties(
  dir: string,
  id: number,
  ports: readonly { client: number; controller: number }[],
  extra: BrokerProperties,
): BrokerProperties {
  const replication = Math.min(3, ports.length);
  const minInSync = Math.max(1, replication - 1);
  const { client, controller } = ports[id - 1];
  return {
    "process.roles": "broker,controller",
    "node.id": id,
    "controller.quorum.voters": ports.map((p, i) => `${i + 1}@127.0.0.1:${p.controller}`).join(
      ",",
    ),
    "listeners": `PLAINTEXT://127.0.0.1:${client},CONTROLLER://127.0.0.1:${controller}`,
    "advertised.listeners": `PLAINTEXT://127.0.0.1:${client}`,
    "controller.listener.names": "CONTROLLER",
    "inter.broker.listener.name": "PLAINTEXT",
    "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
    "log.dirs": `${dir}/data`,
    "offsets.topic.replication.factor": replication,
    "offsets.topic.num.partitions": OFFSETS_PARTITIONS,
    "transaction.state.log.replication.factor": replication,
    "transaction.state.log.min.isr": minInSync,
    "transaction.state.log.num.partitions": OFFSETS_PARTITIONS,
    "group.initial.rebalance.delay.ms": 0,
    "default.replication.factor": replication,
    "min.insync.replicas": minInSync,
    // A node that comes back takes its leaderships back soon, as in production.
    "leader.imbalance.check.interval.seconds": 10,
    ...extra,
  };
}

class Cluster implements LocalKafkaCluster {
  readonly brokers: string[];
  readonly kafkaVersion: string;
  readonly #folder: OwnedFolder;
  readonly #processes: BrokerProcess[];
  readonly #startTimeoutMs: number;
  #stopped = false;

  constructor(
    folder: OwnedFolder,
    kafkaVersion: string,
    addresses: string[],
    processes: BrokerProcess[],
    startTimeoutMs: number,
  ) {
    this.#folder = folder;
    this.kafkaVersion = kafkaVersion;
    this.brokers = addresses;
    this.#processes = processes;
    this.#startTimeoutMs = startTimeoutMs;
  }

  get nodes(): LocalKafkaNode[] {
    return this.#processes.map((process, i) => ({
      id: i + 1,
      address: this.brokers[i],
      pid: process.pid,
      logFile: process.logFile,
    }));
  }

  /** Records the pids of the running nodes, for the clean-up of an orphaned folder. */
  recordPids(): void {
    const pids = this.#processes.flatMap((process) => process.pid ?? []);
    void this.#folder.recordBrokers(pids);
  }

  async leaderOf(topic: string, partition: number): Promise<number> {
    return await this.#withAdmin(async (admin) => {
      const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
      const found = topics[0]?.partitions.find((p) => p.partitionId === partition);
      if (!found || found.leader < 0) {
        throw new Error(`partition ${partition} of ${topic} has no leader now`);
      }
      return found.leader;
    });
  }

  async coordinatorOf(groupId: string): Promise<number> {
    const partition = (javaHashCode(groupId) & 0x7fffffff) % OFFSETS_PARTITIONS;
    // Asking for the group makes the cluster create its group log, on first use.
    await this.#withAdmin((admin) => admin.describeGroups([groupId])).catch(() => {});
    const deadline = Date.now() + this.#startTimeoutMs;
    while (true) {
      try {
        return await this.leaderOf("__consumer_offsets", partition);
      } catch (error) {
        if (Date.now() > deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    }
  }

  async busiestLeader(topics: readonly string[]): Promise<number> {
    return await this.#withAdmin(async (admin) => {
      const metadata = await admin.fetchTopicMetadata({ topics: [...topics] });
      const led = new Map<number, number>();
      for (const topic of metadata.topics) {
        for (const { leader } of topic.partitions) {
          if (leader >= 0) led.set(leader, (led.get(leader) ?? 0) + 1);
        }
      }
      let busiest = 1;
      for (const [node, count] of led) {
        const best = led.get(busiest) ?? 0;
        if (count > best || (count === best && node < busiest)) busiest = node;
      }
      return busiest;
    });
  }

  async kill(nodeId: number): Promise<void> {
    await this.#node(nodeId).kill();
  }

  async down(nodeId: number): Promise<void> {
    await this.#node(nodeId).stop();
  }

  async up(nodeId: number): Promise<void> {
    await this.#node(nodeId).start();
  }

  async rollingRestart(): Promise<void> {
    for (let id = 1; id <= this.#processes.length; id++) {
      await this.waitUntilReplicated();
      await this.down(id);
      await this.up(id);
    }
    await this.waitUntilReplicated();
  }

  async waitUntilReplicated(): Promise<void> {
    const deadline = Date.now() + this.#startTimeoutMs;
    while (true) {
      const lagging = await this.#withAdmin(async (admin) => {
        const names = await admin.listTopics();
        const { topics } = await admin.fetchTopicMetadata({ topics: names });
        return topics.flatMap((topic) =>
          topic.partitions.filter((p) => p.leader < 0 || p.isr.length < p.replicas.length)
            .map((p) => `${topic.name}/${p.partitionId}`)
        );
      }).catch(() => ["(no answer)"]);
      if (lagging.length === 0) return;
      if (Date.now() > deadline) {
        throw new LocalKafkaError(
          "start-timeout",
          `partitions not fully replicated within ${this.#startTimeoutMs} ms: ` +
            lagging.slice(0, 10).join(", "),
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    // Together: a node stopping alone would wait for the others to take its leaderships.
    await Promise.all(this.#processes.map((process) => process.kill()));
    await this.#folder.remove();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }

  #node(nodeId: number): BrokerProcess {
    const process = this.#processes[nodeId - 1];
    if (!process) {
      throw new RangeError(`no node ${nodeId}: the cluster has ${this.#processes.length}`);
    }
    return process;
  }

  async #withAdmin<T>(work: (admin: ReturnType<Kafka["admin"]>) => Promise<T>): Promise<T> {
    fixKafkaJsTimerWarning();
    const admin = new Kafka({
      brokers: this.brokers,
      clientId: "troupe-local-cluster",
      logLevel: logLevel.NOTHING,
      connectionTimeout: 1000,
      requestTimeout: 5000,
    }).admin();
    await admin.connect();
    try {
      return await work(admin);
    } finally {
      await admin.disconnect().catch(() => {});
    }
  }
}

/**
 * Starts a real Kafka cluster of `nodes` KRaft nodes (3 by default; each a broker and a
 * controller) on free 127.0.0.1 ports, in a fresh temporary folder, and resolves once every
 * node answers. Topics created without a replication factor get 3 replicas with
 * `min.insync.replicas` 2 (fewer with fewer nodes); so do the group and transaction logs.
 *
 * Like {@linkcode startLocalKafka}, it fetches the jars once with Maven, runs the version of
 * `kafkaVersion` (else `$TROUPE_KAFKA_VERSION`, else `DEFAULT_KAFKA_VERSION`), and cleans up
 * after a process that died without `stop()`.
 *
 * @example Kill the leader of a partition, then bring it back
 * ```ts ignore
 * import { startLocalKafkaCluster } from "@troupe/troupe/testing";
 *
 * await using cluster = await startLocalKafkaCluster();
 * const leader = await cluster.leaderOf("orders", 0);
 * await cluster.kill(leader);
 * // ... the processor goes on with the new leader ...
 * await cluster.up(leader);
 * await cluster.rollingRestart();
 * ```
 *
 * @throws {LocalKafkaError} as {@linkcode startLocalKafka} does.
 */
export async function startLocalKafkaCluster(
  options: LocalKafkaClusterOptions = {},
): Promise<LocalKafkaCluster> {
  const count = options.nodes ?? 3;
  if (!Number.isInteger(count) || count < 1 || count > 9) {
    throw new LocalKafkaError("bad-option", `nodes must be an integer from 1 to 9, got ${count}`);
  }
  const kafkaVersion = kafkaVersionOf(options);
  const lib = await ensureKafkaJars({ ...options, kafkaVersion });
  const folder = await OwnedFolder.create();
  const ports = Array.from({ length: count }, () => ({
    client: freePort(),
    controller: freePort(),
  }));
  const addresses = ports.map((p) => `127.0.0.1:${p.client}`);
  const processes = ports.map((port, i) =>
    new BrokerProcess({
      dir: `${folder.path}/node-${i + 1}`,
      classpath: `${lib}/*`,
      kafkaVersion,
      address: `127.0.0.1:${port.client}`,
      heapMb: options.heapMb ?? 384,
      startTimeoutMs: options.startTimeoutMs ?? 90_000,
      stopTimeoutMs: options.stopTimeoutMs ?? 30_000,
      onPid: () => cluster.recordPids(),
    })
  );
  const cluster = new Cluster(
    folder,
    kafkaVersion,
    addresses,
    processes,
    options.startTimeoutMs ?? 90_000,
  );
  try {
    const id = clusterId();
    await Promise.all(processes.map(async (process, i) => {
      const dir = `${folder.path}/node-${i + 1}`;
      await Deno.mkdir(dir);
      const properties = nodeProperties(dir, i + 1, ports, options.brokerProperties ?? {});
      await process.configure(properties, id);
    }));
    // Together: no node answers before a majority of the controllers is up.
    await Promise.all(processes.map((process) => process.start()));
    return cluster;
  } catch (error) {
    await cluster.stop();
    throw error;
  }
}
