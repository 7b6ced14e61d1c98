import assert from "node:assert/strict";
import { runChaos } from "../chaos/run.ts";
import { observabilityHandler } from "../cli/observability_server.ts";
import { createAdmin, createProcessor, createProducer } from "../mod.ts";
import { startLocalKafkaCluster } from "../testing/mod.ts";
import { uniqueName, waitFor } from "./_helpers.ts";

Deno.test("a 3-node cluster: leaders and the group coordinator killed, a rolling restart; nothing lost", async (t) => {
  await using cluster = await startLocalKafkaCluster();
  const brokers = cluster.brokers;

  await t.step(
    "the cluster helper: 3 nodes, replication 3, leaders and the coordinator found",
    async () => {
      assert.equal(cluster.nodes.length, 3);
      assert.ok(cluster.nodes.every((node) => node.pid !== undefined));
      const topic = uniqueName("cluster-helper");
      await using admin = createAdmin({ brokers });
      await admin.createTopics([{ topic, partitions: 3 }]);
      for (const partition of await admin.describeTopic(topic)) {
        assert.equal(partition.replicas.length, 3, `partition ${partition.partition}`);
      }
      const leader = await cluster.leaderOf(topic, 0);
      assert.ok([1, 2, 3].includes(leader));
      assert.ok([1, 2, 3].includes(await cluster.coordinatorOf(uniqueName("group"))));
    },
  );

  await t.step(
    "coordinator and leader killed under a processor: it goes on, commits, and says it is connected",
    async () => {
      const topic = uniqueName("cluster-faults");
      const groupId = uniqueName("cluster-faults-group");
      await using admin = createAdmin({ brokers });
      await admin.createTopics([{ topic, partitions: 3 }]);
      const seen = new Set<string>();
      const processor = createProcessor({
        brokers,
        groupId,
        topics: topic,
        fromBeginning: true,
        commitIntervalMs: 200,
        consumer: { sessionTimeout: 6_000 },
        handler: (message) => void seen.add(`${message.partition}:${message.offset}`),
      });
      const health = observabilityHandler(processor, () => "");
      const producer = createProducer({ brokers, valueCodec: "string" });
      let produced = 0;
      const produce = async (count: number) => {
        await producer.sendAll(
          Array.from({ length: count }, (_, i) => ({ topic, key: `k${produced + i}`, value: "v" })),
        );
        produced += count;
      };
      const caughtUp = async (what: string) => {
        await waitFor(() => seen.size === produced, `${what}: ${produced} processed`, 90_000);
        await waitFor(
          async () => {
            const ends = await admin.offsets(topic);
            const committed = await admin.committedOffsets(groupId, [topic]);
            return ends.every((end) =>
              committed.find((row) => row.partition === end.partition)?.offset === end.end
            );
          },
          `${what}: commits reach the end`,
          90_000,
        );
        await waitFor(
          () => processor.status().connection.connected,
          `${what}: status() says Kafka answers`,
          15_000,
        );
        const body = await (await health(new Request("http://troupe/health"))).json();
        assert.equal(body.kafkaConnected, true, `${what}: /health says Kafka answers`);
      };
      try {
        await processor.start();
        await produce(300);
        await caughtUp("before any fault");

        const coordinator = await cluster.coordinatorOf(groupId);
        await cluster.kill(coordinator);
        await produce(300);
        await caughtUp(`coordinator ${coordinator} killed`);
        await cluster.up(coordinator);
        await cluster.waitUntilReplicated();

        const leader = await cluster.busiestLeader([topic]);
        await cluster.kill(leader);
        await produce(300);
        await caughtUp(`leader ${leader} killed`);
        assert.equal(processor.status().state, "running");
      } finally {
        await producer.close();
        await processor.stop();
        for (const node of cluster.nodes) if (node.pid === undefined) await cluster.up(node.id);
        await cluster.waitUntilReplicated();
      }
    },
  );

  await t.step("chaos on the cluster: worker kills, a leader kill, a rolling restart", async () => {
    const verdict = await runChaos({
      cluster,
      messages: 4000,
      partitions: 3,
      workers: 2,
      kills: 1,
      leaderKills: 1,
      leaderDownMs: 3000,
      rollingRestarts: 1,
      workMs: 2,
      progress: (line) => console.log(`[chaos] ${line}`),
    });
    console.log(JSON.stringify(verdict));
    assert.equal(verdict.leader_kills, 1);
    assert.equal(verdict.rolling_restarts, 1);
    assert.equal(verdict.lost, 0);
    assert.equal(verdict.order_violations, 0);
    assert.equal(verdict.committed_equals_end, true);
    assert.equal(verdict.worker_failures, 0, "a worker's processor failed by itself");
  });
});
