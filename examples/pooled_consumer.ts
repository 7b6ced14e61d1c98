/**
 * The pooled consumer, redone with actors.
 *
 * The Python tutorial handed each message to a pool of at most five worker threads; when
 * all five were busy the message was silently dropped, and offsets were committed before the
 * work was done. Here five partitions give five actors working at once; a busy actor's
 * messages wait in its mailbox (and fetching pauses when it is full), and an offset is
 * committed only after its message was processed. `start()` and `stop()` as in the tutorial.
 *
 * Run: `deno task example:pooled-consumer`
 */

import { createAdmin, createProcessor, createProducer, json } from "../mod.ts";
import { freshTopic, withKafka } from "./_kafka.ts";

interface Job {
  id: number;
  seconds: number;
}

await withKafka(async (brokers) => {
  const topic = freshTopic("example-jobs");
  await using admin = createAdmin({ brokers });
  await admin.createTopics([{ topic, partitions: 5 }]);
  const jobs = 200;
  const producer = createProducer({ brokers, valueCodec: json<Job>() });
  await producer.sendAll(
    Array.from(
      { length: jobs },
      (_, id) => ({ topic, key: `job-${id}`, value: { id, seconds: 0.005 } }),
    ),
  );
  await producer.close();
  console.log(`queued ${jobs} jobs on ${topic}`);

  const done = new Set<number>();
  let busy = 0;
  let mostBusy = 0;
  const groupId = `${topic}-workers`;
  const processor = createProcessor({
    brokers,
    groupId,
    topics: topic,
    fromBeginning: true,
    valueCodec: json<Job>(),
    handler: async (message) => {
      mostBusy = Math.max(mostBusy, ++busy);
      await new Promise((resolve) => setTimeout(resolve, message.value!.seconds * 1000));
      done.add(message.value!.id);
      busy--;
    },
  });
  await processor.start();
  while (done.size < jobs) await new Promise((resolve) => setTimeout(resolve, 50));
  await processor.stop();

  const lag = (await admin.lag(groupId, [topic])).reduce((sum, row) => sum + row.lag, 0);
  console.log(
    `processed ${done.size} of ${jobs} jobs, at most ${mostBusy} at once, dropped ${
      jobs - done.size
    }`,
  );
  console.log(`uncommitted after stop: ${lag}`);
  await admin.deleteTopics([topic]);
  if (done.size !== jobs || lag !== 0) Deno.exit(1);
});
