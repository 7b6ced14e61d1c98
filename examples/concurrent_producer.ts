/**
 * The concurrent producer: five tasks share one producer, then flush and close.
 *
 * The Python tutorial sent from a pool of five threads and hoped for the best. Here every
 * `send` resolves with where its record landed (or rejects with the reason), so nothing is
 * lost silently, and the sends of all tasks are batched into few requests.
 *
 * Run: `deno task example:producer`
 */

import { createAdmin, createProducer, json } from "../mod.ts";
import { freshTopic, withKafka } from "./_kafka.ts";

await withKafka(async (brokers) => {
  const topic = freshTopic("example-numbers");
  await using admin = createAdmin({ brokers });
  await admin.createTopics([{ topic, partitions: 3 }]);

  const producer = createProducer({ brokers, valueCodec: json<{ task: number; n: number }>() });
  const perTask = 200;
  const tasks = Array.from({ length: 5 }, async (_, task) => {
    let last = "";
    for (let n = 0; n < perTask; n++) {
      const { partition, offset } = await producer.send({
        topic,
        key: `task-${task}`,
        value: { task, n },
      });
      last = `partition ${partition} offset ${offset}`;
    }
    console.log(`task ${task}: sent ${perTask} records, the last to ${last}`);
  });
  await Promise.all(tasks);
  await producer.flush(); // nothing is left in flight...
  await producer.close(); // ...and the connection is closed

  const stored = (await admin.offsets(topic)).reduce((sum, p) => sum + p.end, 0);
  console.log(`${stored} records stored in ${topic} (${5 * perTask} sent)`);
  await admin.deleteTopics([topic]);
  if (stored !== 5 * perTask) Deno.exit(1);
});
