import assert from "node:assert/strict";
import { Mailbox } from "../actors/mailbox.ts";

Deno.test("mailbox: FIFO order, peek leaves the head in place", () => {
  const mailbox = new Mailbox<number>({ capacity: 10 });
  for (let i = 0; i < 5; i++) mailbox.push(i);
  assert.equal(mailbox.peek(), 0);
  assert.equal(mailbox.peek(), 0);
  assert.deepEqual([0, 1, 2, 3, 4].map(() => mailbox.shift()), [0, 1, 2, 3, 4]);
  assert.equal(mailbox.shift(), undefined);
  assert.equal(mailbox.size, 0);
});

Deno.test("mailbox: full at capacity, low-watermark callback once per full-to-low drain", () => {
  let lows = 0;
  const mailbox = new Mailbox<number>({
    capacity: 4,
    lowWatermark: 1,
    onLowWatermark: () => lows++,
  });
  for (let i = 0; i < 3; i++) mailbox.push(i);
  assert.equal(mailbox.full, false);
  mailbox.push(3);
  assert.equal(mailbox.full, true);
  mailbox.push(4); // accepted over capacity: the rest of a fetched batch
  assert.equal(mailbox.size, 5);
  mailbox.shift();
  mailbox.shift();
  mailbox.shift();
  assert.equal(lows, 0, "size 2 is above the low watermark");
  mailbox.shift();
  assert.equal(lows, 1);
  mailbox.shift();
  assert.equal(lows, 1, "only once per drain");
  // Never full again: no callback.
  mailbox.push(1);
  mailbox.shift();
  assert.equal(lows, 1);
});

Deno.test("mailbox: arrival callback only when an item lands in an empty mailbox", () => {
  let arrivals = 0;
  const mailbox = new Mailbox<string>({ capacity: 3, onArrival: () => arrivals++ });
  mailbox.push("a");
  mailbox.push("b");
  assert.equal(arrivals, 1);
  mailbox.shift();
  mailbox.shift();
  mailbox.push("c");
  assert.equal(arrivals, 2);
});

Deno.test("mailbox: clear drops everything and reports the count", () => {
  const mailbox = new Mailbox<number>({ capacity: 2 });
  mailbox.push(1);
  mailbox.push(2);
  mailbox.push(3);
  assert.equal(mailbox.clear(), 3);
  assert.equal(mailbox.size, 0);
  assert.equal(mailbox.full, false);
  assert.equal(mailbox.peek(), undefined);
});

Deno.test("mailbox: stays correct across many pushes and shifts (compaction)", () => {
  const mailbox = new Mailbox<number>({ capacity: 100 });
  let next = 0;
  let expected = 0;
  for (let round = 0; round < 50; round++) {
    for (let i = 0; i < 300; i++) mailbox.push(next++);
    for (let i = 0; i < 250; i++) assert.equal(mailbox.shift(), expected++);
  }
  assert.equal(mailbox.size, next - expected);
  assert.deepEqual(
    mailbox.toArray(),
    Array.from({ length: next - expected }, (_, i) => expected + i),
  );
});

Deno.test("mailbox: rejects a capacity below 1 and a low watermark not below capacity", () => {
  assert.throws(() => new Mailbox({ capacity: 0 }), RangeError);
  assert.throws(() => new Mailbox({ capacity: 2.5 }), RangeError);
  assert.throws(() => new Mailbox({ capacity: 4, lowWatermark: 4 }), RangeError);
  assert.throws(() => new Mailbox({ capacity: 4, lowWatermark: -1 }), RangeError);
});
