import assert from "node:assert/strict";
import { Actor } from "../actors/actor.ts";
import { resolveBackoff } from "../actors/backoff.ts";
import { LaneActor } from "../actors/lane_actor.ts";
import { Mailbox } from "../actors/mailbox.ts";
import { waitFor } from "./_helpers.ts";

function harness(process: (n: number, attempt: number) => unknown, retry?: number) {
  const mailbox = new Mailbox<number>({ capacity: 100 });
  const processed: number[] = [];
  const crashes: { message: number; error: unknown }[] = [];
  const actor = new Actor<number>({
    mailbox,
    process,
    processed: (n) => processed.push(n),
    crashed: (message, error) => crashes.push({ message, error }),
    retry: retry
      ? {
        maxAttempts: retry,
        backoff: resolveBackoff({ initialMs: 1, maxMs: 2 }),
        retriable: () => true,
      }
      : undefined,
  });
  return { mailbox, processed, crashes, actor };
}

Deno.test("actor: processes in order, one at a time", async () => {
  let inFlight = 0;
  let maxInFlight = 0;
  const { mailbox, processed, actor } = harness(async () => {
    maxInFlight = Math.max(maxInFlight, ++inFlight);
    await new Promise((resolve) => setTimeout(resolve, 1));
    inFlight--;
  });
  actor.start();
  for (let i = 0; i < 20; i++) mailbox.push(i);
  await waitFor(() => processed.length === 20, "20 processed", 5000);
  assert.deepEqual(processed, Array.from({ length: 20 }, (_, i) => i));
  assert.equal(maxInFlight, 1);
  assert.equal(mailbox.size, 0);
  await actor.stop();
  assert.equal(actor.state, "stopped");
});

Deno.test("actor: a crash keeps the message; restart tries the same message again", async () => {
  let failures = 2;
  const { mailbox, processed, crashes, actor } = harness((n) => {
    if (n === 3 && failures-- > 0) throw new Error(`boom ${failures}`);
  });
  actor.start();
  for (let i = 0; i < 6; i++) mailbox.push(i);
  await waitFor(() => actor.state === "crashed", "first crash");
  assert.deepEqual(processed, [0, 1, 2]);
  assert.equal(crashes[0].message, 3);
  assert.equal(mailbox.peek(), 3, "the failed message is still at the head");
  actor.restart();
  await waitFor(() => crashes.length === 2 && actor.state === "crashed", "second crash");
  actor.restart();
  await waitFor(() => processed.length === 6, "all processed");
  assert.deepEqual(processed, [0, 1, 2, 3, 4, 5]);
  await actor.stop();
});

Deno.test("actor: retries inside the actor before crashing, keeping order", async () => {
  const attempts: number[] = [];
  const { mailbox, processed, crashes, actor } = harness((n, attempt) => {
    if (n === 1) {
      attempts.push(attempt);
      if (attempt < 3) throw new Error("transient");
    }
  }, 3);
  actor.start();
  for (let i = 0; i < 4; i++) mailbox.push(i);
  await waitFor(() => processed.length === 4, "all processed");
  assert.deepEqual(attempts, [1, 2, 3]);
  assert.deepEqual(processed, [0, 1, 2, 3]);
  assert.equal(crashes.length, 0);
  await actor.stop();
});

Deno.test("actor: hold waits for the message in hand and takes no other until release", async () => {
  const gate = Promise.withResolvers<void>();
  const { mailbox, processed, actor } = harness(async (n) => {
    if (n === 0) await gate.promise;
  });
  actor.start();
  mailbox.push(0);
  mailbox.push(1);
  await waitFor(() => actor.state === "processing", "processing 0");
  let held = false;
  const holding = actor.hold().then(() => held = true);
  await new Promise((resolve) => setTimeout(resolve, 10));
  assert.equal(held, false, "hold resolves only after the message in hand");
  gate.resolve();
  await holding;
  assert.deepEqual(processed, [0]);
  assert.equal(actor.state, "held");
  actor.release();
  await waitFor(() => processed.length === 2, "1 processed after release");
  await actor.stop();
});

Deno.test("actor: stop lets the message in hand finish and leaves the rest queued", async () => {
  const gate = Promise.withResolvers<void>();
  const { mailbox, processed, actor } = harness(async () => await gate.promise);
  actor.start();
  for (let i = 0; i < 3; i++) mailbox.push(i);
  await waitFor(() => actor.state === "processing", "processing");
  const stopped = actor.stop();
  gate.resolve();
  await stopped;
  assert.deepEqual(processed, [0]);
  assert.deepEqual(mailbox.toArray(), [1, 2]);
});

Deno.test("actor: exhausted hook handles a message for good, or crashes when it throws", async () => {
  const mailbox = new Mailbox<number>({ capacity: 10 });
  const processed: number[] = [];
  const exhausted: number[] = [];
  let crashes = 0;
  let failExhausted = true;
  const actor = new Actor<number>({
    mailbox,
    process: (n) => {
      if (n === 1) throw new Error("poison");
    },
    processed: (n) => processed.push(n),
    crashed: () => crashes++,
    exhausted: (n) => {
      if (failExhausted) throw new Error("dead-letter topic unavailable");
      exhausted.push(n);
    },
  });
  actor.start();
  for (let i = 0; i < 3; i++) mailbox.push(i);
  await waitFor(() => crashes === 1, "crash when the exhausted hook throws");
  assert.deepEqual(processed, [0]);
  failExhausted = false;
  actor.restart();
  await waitFor(() => processed.length === 3, "all done");
  assert.deepEqual(exhausted, [1]);
  assert.deepEqual(processed, [0, 1, 2]);
  await actor.stop();
});

Deno.test("lane actor: a synchronous handler drains a mailbox larger than its buffer, in key order", async () => {
  const mailbox = new Mailbox<{ key: string; n: number }>({ capacity: 100 });
  const seen = new Map<string, number[]>();
  let processed = 0;
  const actor = new LaneActor<{ key: string; n: number }>({
    mailbox,
    laneOf: (message) => message.key,
    concurrency: 8,
    maxBuffered: 100,
    taken: () => false,
    process: (message) => {
      const list = seen.get(message.key) ?? [];
      list.push(message.n);
      seen.set(message.key, list);
    },
    processed: () => void processed++,
    crashed: () => {},
  });
  for (let n = 0; n < 2500; n++) mailbox.push({ key: `k${n % 7}`, n });
  actor.start();
  await waitFor(() => processed === 2500, "all 2,500 processed", 5000);
  for (const list of seen.values()) assert.deepEqual(list, [...list].sort((a, b) => a - b));
  await actor.hold();
  for (let n = 2500; n < 3000; n++) mailbox.push({ key: `k${n % 7}`, n });
  actor.release();
  await waitFor(() => processed === 3000, "the rest after a hold and release", 5000);
  await actor.stop();
});
