/**
 * The JSON task pipeline: consume a task, process it, send the result to an output topic.
 *
 * The Python tutorial deserialised JSON with a lambda and produced results fire-and-forget.
 * Here codecs type the JSON both ways, a malformed task reaches the handler as a
 * `DecodeError` (it is reported, not lost, and never crashes the consumer), and a task's
 * offset is committed only after its result was acknowledged by the broker.
 *
 * Run: `deno task example:pipeline`
 */

import {
  createAdmin,
  createConsumer,
  createProcessor,
  createProducer,
  DecodeError,
  json,
} from "../mod.ts";
import { freshTopic, withKafka } from "./_kafka.ts";

interface Task {
  id: number;
  numbers: number[];
}
interface Result {
  id: number;
  sum: number;
}

await withKafka(async (brokers) => {
  const tasks = freshTopic("example-tasks");
  const results = `${tasks}-results`;
  await using admin = createAdmin({ brokers });
  await admin.createTopics([{ topic: tasks, partitions: 3 }, { topic: results, partitions: 3 }]);

  const taskProducer = createProducer({ brokers, valueCodec: json<Task>() });
  const count = 100;
  await taskProducer.sendAll(Array.from({ length: count }, (_, id) => ({
    topic: tasks,
    key: `task-${id}`,
    value: { id, numbers: [id, id + 1, id + 2] },
  })));
  // One malformed task, as real pipelines get sooner or later.
  const raw = createProducer({ brokers, valueCodec: "string" });
  await raw.send({ topic: tasks, key: "task-bad", value: "{this is not json" });
  await raw.close();
  await taskProducer.close();
  console.log(`sent ${count} tasks and 1 malformed one to ${tasks}`);

  const resultProducer = createProducer({ brokers, valueCodec: json<Result>() });
  const malformed: string[] = [];
  let handled = 0;
  const processor = createProcessor({
    brokers,
    groupId: `${tasks}-workers`,
    topics: tasks,
    fromBeginning: true,
    valueCodec: json<Task>(),
    handler: async (message) => {
      let task: Task | null;
      try {
        task = message.value;
      } catch (error) {
        if (!(error instanceof DecodeError)) throw error;
        malformed.push(`${message.key}: ${error.message}`);
        handled++;
        return;
      }
      const sum = task!.numbers.reduce((a, b) => a + b, 0);
      // Awaited: the task counts as done (and its offset committable) once the result is stored.
      await resultProducer.send({ topic: results, key: message.key, value: { id: task!.id, sum } });
      handled++;
    },
  });
  await processor.start();
  while (handled < count + 1) await new Promise((resolve) => setTimeout(resolve, 50));
  await processor.stop();
  await resultProducer.close();
  console.log(`malformed: ${malformed.join("; ")}`);

  // Read the results back and check them.
  await using reader = createConsumer({
    brokers,
    groupId: `${results}-reader`,
    topics: results,
    fromBeginning: true,
    valueCodec: json<Result>(),
  });
  const sums = new Map<number, number>();
  while (sums.size < count) {
    for (const message of await reader.poll({ timeoutMs: 10_000 })) {
      sums.set(message.value!.id, message.value!.sum);
    }
  }
  const wrong = [...sums].filter(([id, sum]) => sum !== 3 * id + 3);
  console.log(`read ${sums.size} results from ${results}; ${wrong.length} wrong`);
  await reader.close();
  await admin.deleteTopics([tasks, results]);
  if (wrong.length > 0 || malformed.length !== 1) Deno.exit(1);
});
