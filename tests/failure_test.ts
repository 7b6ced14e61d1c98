import assert from "node:assert/strict";
import {
  createProcessor,
  DEAD_LETTER_HEADERS,
  EscalationError,
  json,
  type Message,
  NonRetriableError,
} from "../mod.ts";
import {
  committedOffsets,
  createTopic,
  produce,
  readRecords,
  testBrokers,
  uniqueName,
  waitFor,
} from "./_helpers.ts";

const fast = { initialMs: 5, maxMs: 20 };

Deno.test("retry then succeed: the message is retried inside its actor, no crash, order kept", async () => {
  const topic = uniqueName("fail-retry");
  await createTopic(topic, 1);
  await produce(topic, 50, 1);
  const order: number[] = [];
  const attempts: number[] = [];
  const processor = createProcessor({
    brokers: testBrokers(),
    groupId: uniqueName("fail-retry-group"),
    topics: topic,
    fromBeginning: true,
    retry: { maxAttempts: 3, backoff: fast },
    handler: (message, context) => {
      if (message.offset === 20) {
        attempts.push(context.attempt);
        if (context.attempt < 3) throw new Error("downstream hiccup");
      }
      order.push(message.offset);
    },
  });
  let crashes = 0;
  processor.on("actor-crashed", () => crashes++);
  await processor.start();
  await waitFor(() => order.length === 50, "all 50");
  const row = processor.status().partitions[0];
  await processor.stop();
  assert.deepEqual(attempts, [1, 2, 3]);
  assert.deepEqual(order, Array.from({ length: 50 }, (_, i) => i));
  assert.equal(crashes, 0);
  assert.equal(row.retried, 2);
  assert.equal(row.failed, 2);
  assert.equal(row.restarts, 0);
});

Deno.test("retries exhausted: the original goes to <topic>.dlq with every header, then processing goes on", async () => {
  const topic = uniqueName("fail-dlq");
  const groupId = uniqueName("fail-dlq-group");
  await createTopic(topic, 2);
  await createTopic(`${topic}.dlq`, 1);
  const producedAt = Date.now();
  await produce(topic, 40, 2, (i) => ({
    partition: i % 2,
    key: `key-${i}`,
    value: JSON.stringify({ id: i }),
    headers: { "trace-id": `trace-${i}` },
  }));
  const order: number[] = [];
  const deadLettered: string[] = [];
  const processor = createProcessor({
    brokers: testBrokers(),
    groupId,
    topics: topic,
    fromBeginning: true,
    valueCodec: json<{ id: number }>(),
    retry: { maxAttempts: 3, backoff: fast },
    deadLetter: true,
    handler: (message) => {
      if (message.value!.id === 13) throw new TypeError("cannot bill order 13");
      if (message.value!.id === 21) throw new NonRetriableError("order 21 has no customer");
      if (message.partition === 1) order.push(message.offset);
    },
  });
  processor.on(
    "dead-lettered",
    (event) => deadLettered.push(`${event.offset}:${event.reason}:${event.attempts}`),
  );
  await processor.start();
  await waitFor(() => order.length === 18, "partition 1 done but for the two dead letters");
  await processor.stop();

  assert.deepEqual(deadLettered.sort(), ["10:not-retriable:1", "6:retries-exhausted:3"]);
  assert.deepEqual(
    order,
    Array.from({ length: 20 }, (_, i) => i).filter((i) => i !== 6 && i !== 10),
  );
  assert.equal(processor.status().partitions[1].deadLettered, 2);
  assert.deepEqual(await committedOffsets(groupId, topic), new Map([[0, 20], [1, 20]]));

  const records = await readRecords(`${topic}.dlq`, 2);
  const byKey = new Map(records.map((record) => [record.key, record]));
  const exhausted = byKey.get("key-13")!;
  assert.equal(exhausted.value, JSON.stringify({ id: 13 }));
  assert.equal(exhausted.headers["trace-id"], "trace-13");
  assert.equal(exhausted.headers[DEAD_LETTER_HEADERS.topic], topic);
  assert.equal(exhausted.headers[DEAD_LETTER_HEADERS.partition], "1");
  assert.equal(exhausted.headers[DEAD_LETTER_HEADERS.offset], "6");
  assert.ok(Number(exhausted.headers[DEAD_LETTER_HEADERS.timestamp]) >= producedAt - 1000);
  assert.equal(exhausted.headers[DEAD_LETTER_HEADERS.attempts], "3");
  assert.equal(exhausted.headers[DEAD_LETTER_HEADERS.error], "TypeError: cannot bill order 13");
  assert.equal(exhausted.headers[DEAD_LETTER_HEADERS.reason], "retries-exhausted");
  const final = byKey.get("key-21")!;
  assert.equal(final.headers[DEAD_LETTER_HEADERS.reason], "not-retriable");
  assert.equal(final.headers[DEAD_LETTER_HEADERS.attempts], "1");
  assert.equal(
    final.headers[DEAD_LETTER_HEADERS.error],
    "NonRetriableError: order 21 has no customer",
  );
});

Deno.test("a poison message (undecodable) goes to the dead-letter topic at once", async () => {
  const topic = uniqueName("fail-poison");
  const deadLetterTopic = `${topic}-poison`;
  await createTopic(topic, 1);
  await createTopic(deadLetterTopic, 1);
  await produce(
    topic,
    10,
    1,
    (i) => ({ partition: 0, key: `k${i}`, value: i === 4 ? "{oops" : JSON.stringify({ i }) }),
  );
  const seen: number[] = [];
  const processor = createProcessor({
    brokers: testBrokers(),
    groupId: uniqueName("fail-poison-group"),
    topics: topic,
    fromBeginning: true,
    valueCodec: "json",
    retry: { maxAttempts: 5, backoff: fast },
    deadLetter: deadLetterTopic,
    handler: (message: Message<string, unknown>) => {
      void message.value; // throws DecodeError for the poison message
      seen.push(message.offset);
    },
  });
  await processor.start();
  await waitFor(() => seen.length === 9, "the nine good ones");
  await processor.stop();
  const [record] = await readRecords(deadLetterTopic, 1);
  assert.equal(record.value, "{oops");
  assert.equal(record.headers[DEAD_LETTER_HEADERS.reason], "decode-error");
  assert.equal(record.headers[DEAD_LETTER_HEADERS.attempts], "1", "a decode error is not retried");
  assert.match(record.headers[DEAD_LETTER_HEADERS.error], /DecodeError: cannot decode the value/);
});

Deno.test("a failing dead-letter produce keeps the offset uncommitted: nothing is lost", async () => {
  const topic = uniqueName("fail-dlq-broken");
  const groupId = uniqueName("fail-dlq-broken-group");
  const deadLetterTopic = `${topic}.dlq`;
  await createTopic(topic, 1);
  // The dead-letter topic refuses anything over 200 bytes: the 2 KB record cannot land there.
  await createTopic(deadLetterTopic, 1, testBrokers(), [{
    name: "max.message.bytes",
    value: "200",
  }]);
  await produce(
    topic,
    10,
    1,
    (i) => ({ partition: 0, key: `k${i}`, value: JSON.stringify({ i, pad: "x".repeat(2000) }) }),
  );
  const processor = createProcessor({
    brokers: testBrokers(),
    groupId,
    topics: topic,
    fromBeginning: true,
    deadLetter: true,
    restart: { maxRestarts: 2, backoff: fast },
    handler: (message) => {
      if (message.offset === 3) throw new Error("cannot process offset 3");
    },
  });
  await processor.start();
  const error = await processor.done.then(() => assert.fail("done resolved"), (error) => error);
  assert.ok(error instanceof EscalationError, String(error));
  assert.equal(error.offset, 3);
  assert.match(error.message, /MESSAGE_TOO_LARGE|larger than the broker accepts/);
  assert.equal((await committedOffsets(groupId, topic)).get(0), 3);
});
