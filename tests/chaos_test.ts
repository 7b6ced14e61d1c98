import assert from "node:assert/strict";
import { runChaos } from "../chaos/run.ts";

Deno.test("chaos: kill -9 three times and bounce the broker once; nothing lost, nothing reordered", async () => {
  const progress: string[] = [];
  const verdict = await runChaos({
    messages: 6000,
    partitions: 3,
    workers: 2,
    kills: 3,
    bounces: 1,
    bounceMs: 4000,
    workMs: 1,
    progress: (line) => progress.push(line),
  });
  console.log(JSON.stringify(verdict));
  // What happened, when something went wrong (a worker that failed says why in it).
  if (verdict.worker_failures > 0 || verdict.lost > 0) console.log(progress.join("\n"));
  assert.equal(verdict.kills, 3);
  assert.equal(verdict.broker_restarts, 1);
  assert.equal(verdict.lost, 0);
  assert.equal(verdict.order_violations, 0);
  assert.equal(verdict.committed_equals_end, true);
  assert.equal(verdict.worker_failures, 0, "a worker's processor failed by itself");
});
