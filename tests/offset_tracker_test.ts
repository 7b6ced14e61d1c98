import assert from "node:assert/strict";
import { OffsetTracker } from "../supervisor/offset_tracker.ts";

Deno.test("offset tracker: in-order completions move the commit point to offset + 1", () => {
  const tracker = new OffsetTracker(1);
  assert.equal(tracker.commitPoint, -1);
  assert.equal(tracker.needsCommit, false);
  for (const offset of [5, 6, 7]) assert.ok(tracker.complete(1, offset));
  assert.equal(tracker.commitPoint, 8);
  assert.equal(tracker.lastProcessed, 7);
  assert.equal(tracker.processedCount, 3);
  assert.equal(tracker.needsCommit, true);
  tracker.markCommitted(8);
  assert.equal(tracker.needsCommit, false);
});

Deno.test("offset tracker: out-of-order reports commit only the contiguous prefix", () => {
  const tracker = new OffsetTracker(3);
  for (const offset of [10, 11, 12, 13, 14]) tracker.begin(offset);
  assert.ok(tracker.complete(3, 12));
  assert.ok(tracker.complete(3, 14));
  assert.equal(tracker.commitPoint, 10, "10 is still in flight");
  assert.deepEqual(tracker.completedBeyond(), [12, 14]);
  assert.ok(tracker.complete(3, 10));
  assert.equal(tracker.commitPoint, 11);
  assert.ok(tracker.complete(3, 11));
  assert.equal(tracker.commitPoint, 13, "12 was done: the point jumps over it");
  assert.ok(tracker.complete(3, 13));
  assert.equal(tracker.commitPoint, 15);
  assert.deepEqual(tracker.completedBeyond(), []);
  assert.equal(tracker.inFlight, 0);
});

Deno.test("offset tracker: gaps in offsets (compaction, transaction markers) are not waited for", () => {
  const tracker = new OffsetTracker(1);
  tracker.begin(3);
  tracker.begin(7);
  tracker.complete(1, 7);
  tracker.complete(1, 3);
  assert.equal(tracker.commitPoint, 8);
});

Deno.test("offset tracker: reports from another epoch change nothing", () => {
  const tracker = new OffsetTracker(2);
  tracker.complete(2, 4);
  assert.equal(tracker.complete(1, 9), false);
  assert.equal(tracker.complete(3, 9), false);
  assert.equal(tracker.commitPoint, 5);
  assert.equal(tracker.processedCount, 1);
});

Deno.test("offset tracker: duplicate and unknown reports are ignored", () => {
  const tracker = new OffsetTracker(1);
  tracker.begin(1);
  tracker.begin(2);
  assert.ok(tracker.complete(1, 2));
  assert.equal(tracker.complete(1, 2), false, "already complete");
  assert.equal(tracker.complete(1, 99), false, "never begun");
  tracker.complete(1, 1);
  assert.equal(tracker.commitPoint, 3);
  assert.equal(tracker.complete(1, 2), false, "behind the commit point");
  assert.equal(tracker.processedCount, 2);
});

Deno.test("offset tracker: a long run of out-of-order work keeps its memory compact", () => {
  const tracker = new OffsetTracker(1);
  const window: number[] = [];
  for (let offset = 0; offset < 20_000; offset++) {
    tracker.begin(offset);
    window.push(offset);
    if (window.length === 8) {
      // Complete the window in reverse order.
      for (const done of window.reverse()) tracker.complete(1, done);
      window.length = 0;
    }
  }
  assert.equal(tracker.commitPoint, 20_000);
  assert.equal(tracker.inFlight, 0);
});
