/**
 * `troupe dlq list|show|replay` against the real broker, on dead letters a processor made.
 */

import assert from "node:assert/strict";
import { createProcessor, NonRetriableError } from "../mod.ts";
import { noStackTrace, troupe } from "./_cli.ts";
import {
  createTopic,
  endOffsets,
  kafkaClient,
  produce,
  readRecords,
  testBrokers,
  uniqueName,
  waitFor,
} from "./_helpers.ts";

/** A topic whose processor dead-lettered three of its six records, one of them twice. */
async function deadLettersOf(): Promise<{ topic: string; dlq: string }> {
  const topic = uniqueName("dlq-cli");
  const dlq = `${topic}.dlq`;
  await Promise.all([createTopic(topic, 2), createTopic(dlq, 1)]);
  await produce(topic, 6, 2, (i) => ({
    partition: i % 2,
    key: `order-${i}`,
    value: i === 1 ? "timeout" : i === 2 || i === 4 ? `bad-${i}` : `ok-${i}`,
    headers: { "x-trace": `trace-${i}` },
  }));
  const processor = createProcessor({
    brokers: testBrokers(),
    groupId: uniqueName("dlq-cli"),
    topics: topic,
    fromBeginning: true,
    valueCodec: "string",
    deadLetter: true,
    handler: (message) => {
      if (message.value === "timeout") throw new Error("gateway timeout");
      if (message.value!.startsWith("bad")) throw new NonRetriableError(`invalid ${message.value}`);
    },
  });
  let deadLettered = 0;
  processor.on("dead-lettered", () => void deadLettered++);
  await processor.start();
  await waitFor(() => deadLettered === 3, "three dead letters");
  await processor.stop();
  // At least once: the same dead letter can be produced twice (a crash before the commit).
  const [first] = await readRecords(dlq, 1);
  const producer = kafkaClient().producer();
  await producer.connect();
  await producer.send({
    topic: dlq,
    messages: [{ key: first.key, value: first.value, headers: first.headers }],
  });
  await producer.disconnect();
  return { topic, dlq };
}

Deno.test("cli dlq: list, show and replay (dry run, filters, duplicates once) against the broker", async () => {
  const { topic, dlq } = await deadLettersOf();
  const [help, list, json, filtered, show, dryRun] = await Promise.all([
    troupe(["dlq", "--help"]),
    troupe(["dlq", "list", "--topic", dlq]),
    troupe(["dlq", "list", "--topic", dlq, "--json"]),
    troupe(["dlq", "list", "--topic", dlq, "--reason", "not-retriable", "--error", "BAD-4"]),
    troupe(["dlq", "show", "0:1", "--topic", dlq]),
    troupe(["dlq", "replay", "--topic", dlq, "--all", "--dry-run"]),
  ]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^Usage: troupe dlq list\|show\|replay/);
  assert.match(help.stdout, /dlq replay {3}Produce chosen dead letters again/);

  assert.equal(list.code, 0, list.stderr);
  const rows = list.stdout.trim().split("\n");
  assert.match(rows[0], /^ID +ORIGINAL +REASON +ATTEMPTS +DEAD-LETTERED +ERROR$/);
  assert.equal(rows.length, 5); // three dead letters, one twice

  const letters = JSON.parse(json.stdout);
  assert.deepEqual(letters.map((l: { id: string }) => l.id), ["0:0", "0:1", "0:2", "0:3"]);
  const timeout = letters.find((l: { value: { text: string } }) => l.value.text === "timeout");
  assert.deepEqual(timeout.original.topic, topic);
  assert.equal(timeout.original.partition, 1);
  assert.equal(timeout.original.offset, 0);
  assert.equal(timeout.reason, "retries-exhausted");
  assert.equal(timeout.error, "Error: gateway timeout");
  assert.equal(timeout.attempts, 1);
  assert.deepEqual(timeout.key, { text: "order-1", encoding: "utf8" });
  assert.deepEqual(timeout.headers, { "x-trace": { text: "trace-1", encoding: "utf8" } });

  assert.equal(filtered.stdout.trim().split("\n").length, 2, filtered.stdout);
  assert.match(filtered.stdout, /NonRetriableError: invalid bad-4/);

  assert.equal(show.code, 0, show.stderr);
  const shown = letters.find((l: { id: string }) => l.id === "0:1");
  assert.match(
    show.stdout,
    new RegExp(`^original +${topic}\\[${shown.original.partition}\\]@`, "m"),
  );
  assert.match(show.stdout, new RegExp(`^value +${shown.value.text}$`, "m"));
  assert.match(show.stdout, /^ {2}x-trace: trace-\d$/m);

  // A dry run says what it would send, and sends nothing.
  const ends = await endOffsets(topic);
  assert.equal(dryRun.code, 0, dryRun.stderr);
  assert.equal(dryRun.stdout.match(/^would send /gm)?.length, 3);
  assert.match(dryRun.stdout, /^skipped 0:3: the same original message/m);
  assert.match(dryRun.stderr, /dry run: would replay 3 dead letter\(s\) of .*; nothing was sent/);
  assert.deepEqual(await endOffsets(topic), ends);

  // Replaying by error text: one record, to its original partition, marked as replayed.
  const replay = await troupe(["dlq", "replay", "--topic", dlq, "--error", "gateway"]);
  assert.equal(replay.code, 0, replay.stderr);
  assert.match(
    replay.stdout,
    new RegExp(`^sent 0:\\d \\(${topic}\\[1\\]@0\\) to ${topic}\\[1\\]$`, "m"),
  );
  const after = await endOffsets(topic);
  assert.equal(after.get(1), ends.get(1)! + 1);
  assert.equal(after.get(0), ends.get(0));
  const records = await readRecords(topic, 7);
  const replayed = records.filter((record) => record.headers["troupe.replay.of"] !== undefined);
  assert.equal(replayed.length, 1);
  assert.equal(replayed[0].value, "timeout");
  assert.equal(replayed[0].key, "order-1");
  assert.equal(replayed[0].headers["x-trace"], "trace-1");
  assert.match(replayed[0].headers["troupe.replay.of"], new RegExp(`^${dlq}:0:\\d$`));
  assert.match(replayed[0].headers["troupe.replay.id"], /^[0-9a-f-]{36}$/);
  assert.equal(replayed[0].headers["troupe.dlq.error"], undefined);

  // --all sends each original once, whatever the duplicates; --to another topic.
  const other = uniqueName("dlq-cli-other");
  await createTopic(other, 1);
  const all = await troupe(["dlq", "replay", "--topic", dlq, "--all", "--to", other, "--json"]);
  assert.equal(all.code, 0, all.stderr);
  const result = JSON.parse(all.stdout);
  assert.equal(result.records.length, 3);
  assert.deepEqual(result.duplicates, ["0:3"]);
  assert.equal((await endOffsets(other)).get(0), 3);
});

Deno.test("cli dlq: bad input exits 2 with one line and changes nothing", async () => {
  const topic = uniqueName("dlq-bad");
  await createTopic(topic, 1);
  const env = { KAFKA_BROKERS: testBrokers().join(",") };
  const mistakes: [string[], RegExp][] = [
    [["dlq"], /dlq needs a subcommand; they are list, show, replay/],
    [["dlq", "purge"], /unknown subcommand "purge" for "dlq"/],
    [["dlq", "list"], /dlq list needs --topic \(or TROUPE_DEAD_LETTER\)/],
    [["dlq", "show", "--topic", topic], /dlq show needs ID/],
    [["dlq", "show", "1-2", "--topic", topic], /"1-2" is not a dead letter id/],
    [["dlq", "list", "--topic", topic, "--id", "a:b"], /"a:b" is not a dead letter id/],
    [["dlq", "list", "--topic", topic, "--offsets", "9-3"], /--offsets must be A-B with A <= B/],
    [["dlq", "list", "--topic", topic, "--reason", "tired"], /--reason must be one of/],
    [["dlq", "list", "--topic", uniqueName("missing")], /does not exist/],
    [["dlq", "replay", "--topic", topic], /dlq replay needs --all or a filter/],
    [["dlq", "replay", "--topic", topic, "--all", "--id", "0:1"], /--all or filters, not both/],
    [["dlq", "replay", "--topic", topic, "--all", "--to", "no way"], /not a valid topic name/],
  ];
  const ends = await endOffsets(topic);
  const results = await Promise.all(mistakes.map(([args]) => troupe(args, { env })));
  results.forEach((result, i) => {
    const [args, message] = mistakes[i];
    assert.equal(result.code, 2, `${args.join(" ")}: ${result.stderr}`);
    assert.match(result.stderr, message, args.join(" "));
    assert.ok(noStackTrace(result.stderr), args.join(" "));
  });
  assert.deepEqual(await endOffsets(topic), ends);
});
