/**
 * A tour of kafka-python's consumer operations, done with troupe: topics and partitions,
 * beginning and end offsets, a consumer group reading from the earliest offset, the current
 * assignment, pause and resume, seeking to an offset and to a timestamp, explicit commits,
 * committed offsets and lag.
 *
 * Run: `deno task example:operations`
 */

import { createAdmin, createConsumer, createProducer } from "../mod.ts";
import { freshTopic, withKafka } from "./_kafka.ts";

await withKafka(async (brokers) => {
  const topic = freshTopic("example-tour");
  const groupId = `${topic}-group`;
  await using admin = createAdmin({ brokers });
  await admin.createTopics([{ topic, partitions: 2 }]);

  // Twenty records per partition, an hour apart in record time.
  const start = Date.now() - 40 * 3_600_000;
  const producer = createProducer({ brokers, valueCodec: "string" });
  await producer.sendAll(Array.from({ length: 40 }, (_, i) => ({
    topic,
    partition: i % 2,
    key: `k${i}`,
    value: `record ${i}`,
    timestamp: start + i * 3_600_000,
  })));
  await producer.close();

  // Topics, partitions, offsets.
  console.log("topic:", (await admin.listTopics()).find((t) => t.topic === topic));
  console.log(
    "partitions:",
    (await admin.partitions(topic)).map((p) => `${p.partition} (leader ${p.leader})`).join(", "),
  );
  console.log(
    "offsets:",
    (await admin.offsets(topic)).map((o) => `${o.partition}: ${o.beginning}..${o.end}`).join(", "),
  );

  // A consumer group reading from the earliest offset, poll style, committing by hand.
  const consumer = createConsumer({
    brokers,
    groupId,
    topics: topic,
    fromBeginning: true,
    valueCodec: "string",
  });
  const firstBatch = await consumer.poll({ timeoutMs: 10_000, maxMessages: 4 });
  console.log(
    "assignment:",
    consumer.assignment().map((tp) => `${tp.topic}[${tp.partition}]`).join(", "),
  );
  console.log("first poll:", firstBatch.map((m) => `${m.partition}@${m.offset}`).join(" "));

  // Pause partition 1: only partition 0 comes for a while.
  consumer.pause({ topic, partition: 1 });
  const whilePaused: string[] = [];
  for (let i = 0; i < 5; i++) {
    for (const m of await consumer.poll({ timeoutMs: 1000 })) {
      whilePaused.push(`${m.partition}@${m.offset}`);
    }
  }
  console.log("while partition 1 is paused:", whilePaused.join(" "));
  consumer.resume({ topic, partition: 1 });

  // Seek partition 0 back to offset 2, and partition 1 to the records of the last 5 hours.
  consumer.seek({ topic, partition: 0, offset: 2 });
  const [byTime] = await consumer.seekToTimestamp({
    topic,
    partition: 1,
    timestamp: start + 35 * 3_600_000,
  });
  console.log(
    `seeked partition 0 to offset 2 and partition 1 to offset ${byTime.offset} (by timestamp)`,
  );
  const afterSeek: string[] = [];
  while (afterSeek.length < 4) {
    for (const m of await consumer.poll({ timeoutMs: 5000 })) {
      afterSeek.push(`${m.partition}@${m.offset}`);
    }
  }
  console.log("after the seeks:", afterSeek.slice(0, 4).join(" "));

  // Commit what was handled, then look at the group from outside.
  await consumer.commit();
  for (const row of await admin.committedOffsets(groupId, [topic])) {
    console.log(`committed ${row.topic}[${row.partition}] = ${row.offset}`);
  }
  for (const row of await admin.lag(groupId, [topic])) {
    console.log(`lag ${row.topic}[${row.partition}] = ${row.lag}`);
  }
  await consumer.close();
  await admin.deleteTopics([topic]);
});
