import assert from "node:assert/strict";
import { LocalKafkaError, startLocalKafka } from "../testing/mod.ts";
import { clusterId } from "../testing/cluster_id.ts";
import { createTopic, kafkaClient, processMentions, testBrokers, uniqueName } from "./_helpers.ts";

Deno.test("cluster ids are Kafka's shape and never read as a command-line option", () => {
  for (let i = 0; i < 10_000; i++) {
    const id = clusterId();
    assert.match(id, /^[A-Za-z0-9_][A-Za-z0-9_-]{21}$/);
  }
});

Deno.test("round trip: 1,000 keyed JSON messages over 3 partitions come back intact", async () => {
  const brokers = testBrokers();
  const topic = uniqueName("roundtrip");
  await createTopic(topic, 3, brokers);
  const kafka = kafkaClient(brokers);

  const producer = kafka.producer();
  await producer.connect();
  const sent = new Map<string, { id: number; partition: number }>();
  const messages = Array.from({ length: 1000 }, (_, id) => ({
    key: `key-${id}`,
    value: JSON.stringify({ id, body: `order ${id}` }),
    partition: id % 3,
  }));
  for (const message of messages) {
    sent.set(message.key, { id: JSON.parse(message.value).id, partition: message.partition });
  }
  await producer.send({ topic, messages });
  await producer.disconnect();

  const consumer = kafka.consumer({ groupId: uniqueName("roundtrip-group"), maxWaitTimeInMs: 100 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const received = new Map<string, { id: number; body: string; partition: number }>();
  const all = Promise.withResolvers<void>();
  await consumer.run({
    eachMessage: ({ partition, message }) => {
      const key = message.key!.toString();
      assert.ok(!received.has(key), `duplicate ${key}`);
      received.set(key, { ...JSON.parse(message.value!.toString()), partition });
      if (received.size === sent.size) all.resolve();
      return Promise.resolve();
    },
  });
  const timer = setTimeout(() => all.reject(new Error(`only ${received.size} of 1000`)), 30_000);
  try {
    await all.promise;
  } finally {
    clearTimeout(timer);
    await consumer.disconnect();
  }

  assert.equal(received.size, 1000);
  for (const [key, { id, partition }] of sent) {
    const got = received.get(key);
    assert.ok(got, `missing ${key}`);
    assert.equal(got.id, id);
    assert.equal(got.body, `order ${id}`);
    assert.equal(got.partition, partition);
  }
});

Deno.test("two local brokers run side by side, each with its own data", async () => {
  const first = await startLocalKafka();
  try {
    const second = await startLocalKafka();
    try {
      assert.notDeepEqual(first.brokers, second.brokers);
      assert.notEqual(first.dataDir, second.dataDir);
      const onlyFirst = uniqueName("only-first");
      await createTopic(onlyFirst, 1, first.brokers);
      const listed = async (brokers: string[]) => {
        const admin = kafkaClient(brokers).admin();
        await admin.connect();
        try {
          return await admin.listTopics();
        } finally {
          await admin.disconnect();
        }
      };
      assert.ok((await listed(first.brokers)).includes(onlyFirst));
      assert.ok(!(await listed(second.brokers)).includes(onlyFirst));
    } finally {
      await second.stop();
    }
    assert.equal(second.pid, undefined);
  } finally {
    await first.stop();
  }
  for (const kafka of [first]) {
    await assert.rejects(Deno.stat(kafka.dataDir), Deno.errors.NotFound);
  }
});

Deno.test("a broker that cannot start (port taken) fails clearly and leaves nothing behind", async () => {
  const squatter = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (squatter.addr as Deno.NetAddr).port;
  try {
    const error = await startLocalKafka({ port, startTimeoutMs: 60_000 }).then(
      () => assert.fail("the broker started on a taken port"),
      (error) => error,
    );
    assert.ok(error instanceof LocalKafkaError, String(error));
    assert.equal(error.code, "exited");
    assert.match(error.message, new RegExp(`127\\.0\\.0\\.1:${port}`));
    assert.match(error.message, /port already in use/i);
    assert.match(error.logTail, /Address already in use|BindException/);
    assert.ok(error.pid, "the error names the broker pid it started");
    assert.ok(!processMentions(error.pid, "kafka.Kafka"), "the failed broker is still running");
  } finally {
    squatter.close();
  }
});

Deno.test("without Java on PATH the harness says so clearly", async () => {
  const script = `
    import { startLocalKafka } from "./testing/mod.ts";
    try {
      await startLocalKafka();
      console.log("started");
    } catch (error) {
      console.log(error.code + ": " + error.message);
    }`;
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["eval", script],
    env: { PATH: "/nonexistent" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(output.stdout);
  // With the jars cached, Java is the first tool needed; on a machine without them, Maven is.
  assert.match(
    text,
    /^(java-missing: Java was not found on PATH|maven-missing: Maven \(mvn\) was not found on PATH)/,
  );
});
