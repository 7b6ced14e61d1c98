/**
 * The faults the chaos harness injects, and where each one lands: a worker killed, the single
 * broker bounced, a cluster's busiest leader killed, a rolling restart of a cluster.
 *
 * @module
 */

import type { LocalKafka } from "../testing/local_kafka.ts";
import type { LocalKafkaCluster } from "../testing/local_cluster.ts";

/** One fault. */
export type Fault = "kill" | "bounce" | "leader-kill" | "rolling-restart";

/** What the harness runs against: one broker, or a cluster. */
export type ChaosKafka =
  | { readonly kind: "given" }
  | { readonly kind: "broker"; readonly broker: LocalKafka }
  | { readonly kind: "cluster"; readonly cluster: LocalKafkaCluster; readonly owned: boolean };

/** How many faults of each kind were injected. */
export interface FaultCounts {
  kills: number;
  bounces: number;
  leaderKills: number;
  rollingRestarts: number;
}

/** What a fault needs of the harness. */
export interface FaultTargets {
  readonly kafka: ChaosKafka;
  readonly topic: string;
  readonly workerCount: number;
  /** Kills worker `index` (-9) and waits until it is gone; returns its pid. */
  killWorker(index: number): Promise<number>;
  /** Starts worker `index` again. */
  spawnWorker(index: number): void;
  /** A number in [0, 1) from the run's seeded generator. */
  chance(): number;
  say(line: string): void;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Injects faults and counts them.
 *
 * @example
 * ```ts ignore
 * const injector = new FaultInjector(targets, { bounceMs: 15_000, leaderDownMs: 8_000 });
 * await injector.fire("leader-kill", "at 12000/30000");
 * console.log(injector.counts.leaderKills); // 1
 * ```
 */
export class FaultInjector {
  readonly #targets: FaultTargets;
  readonly #bounceMs: number;
  readonly #leaderDownMs: number;
  /** Faults injected so far. */
  readonly counts: FaultCounts = { kills: 0, bounces: 0, leaderKills: 0, rollingRestarts: 0 };

  constructor(targets: FaultTargets, timing: { bounceMs: number; leaderDownMs: number }) {
    this.#targets = targets;
    this.#bounceMs = timing.bounceMs;
    this.#leaderDownMs = timing.leaderDownMs;
  }

  /** Injects `fault`; `when` says where the run is, for the progress line. */
  async fire(fault: Fault, when: string): Promise<void> {
    const targets = this.#targets;
    const kafka = targets.kafka;
    switch (fault) {
      case "kill": {
        const index = Math.floor(targets.chance() * targets.workerCount);
        const pid = await targets.killWorker(index);
        this.counts.kills++;
        targets.say(`kill -9 worker ${index} (pid ${pid}) ${when}`);
        await sleep(300 + targets.chance() * 1200);
        targets.spawnWorker(index);
        return;
      }
      case "bounce": {
        if (kafka.kind !== "broker") throw new Error("a bounce needs the harness's own broker");
        targets.say(`broker down ${when} for ${this.#bounceMs} ms`);
        await kafka.broker.down();
        await sleep(this.#bounceMs);
        await kafka.broker.up();
        this.counts.bounces++;
        targets.say("broker up again");
        return;
      }
      case "leader-kill": {
        if (kafka.kind !== "cluster") throw new Error("a leader kill needs a cluster");
        const node = await kafka.cluster.busiestLeader([targets.topic]);
        await kafka.cluster.kill(node);
        this.counts.leaderKills++;
        targets.say(`kill -9 broker ${node} (the busiest leader) ${when}`);
        await sleep(this.#leaderDownMs);
        await kafka.cluster.up(node);
        targets.say(`broker ${node} up again`);
        return;
      }
      case "rolling-restart": {
        if (kafka.kind !== "cluster") throw new Error("a rolling restart needs a cluster");
        targets.say(`rolling restart of every broker ${when}`);
        await kafka.cluster.rollingRestart();
        this.counts.rollingRestarts++;
        targets.say("rolling restart done");
        return;
      }
    }
  }
}
