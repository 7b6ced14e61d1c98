import assert from "node:assert/strict";
import { backoffDelay, resolveBackoff, sleep } from "../actors/backoff.ts";
import { RestartIntensity } from "../actors/restart_intensity.ts";

Deno.test("backoff: grows exponentially and stops at the maximum", () => {
  const backoff = resolveBackoff({ initialMs: 100, maxMs: 1000, multiplier: 2, jitter: 0 });
  assert.deepEqual([1, 2, 3, 4, 5, 6].map((n) => backoffDelay(n, backoff)), [
    100,
    200,
    400,
    800,
    1000,
    1000,
  ]);
});

Deno.test("backoff: jitter takes up to its share off the delay, never adds", () => {
  const backoff = resolveBackoff({ initialMs: 1000, maxMs: 1000, jitter: 0.5 });
  assert.equal(backoffDelay(1, backoff, () => 0), 1000);
  assert.equal(backoffDelay(1, backoff, () => 1), 500);
  for (let i = 0; i < 100; i++) {
    const delay = backoffDelay(1, backoff);
    assert.ok(delay >= 500 && delay <= 1000, String(delay));
  }
});

Deno.test("backoff: invalid settings are refused with the field's name", () => {
  assert.throws(() => resolveBackoff({ initialMs: -1 }), /backoff\.initialMs/);
  assert.throws(() => resolveBackoff({ initialMs: 100, maxMs: 10 }), /backoff\.maxMs/);
  assert.throws(() => resolveBackoff({ multiplier: 0.5 }), /backoff\.multiplier/);
  assert.throws(() => resolveBackoff({ jitter: 2 }), /backoff\.jitter/);
});

Deno.test("backoff: sleep is cut short by its abort signal", async () => {
  const abort = new AbortController();
  const started = Date.now();
  const waiting = sleep(60_000, abort.signal);
  abort.abort();
  await waiting;
  assert.ok(Date.now() - started < 30_000);
});

Deno.test("restart intensity: allows maxRestarts within the window, then refuses", () => {
  const intensity = new RestartIntensity({ maxRestarts: 3, withinMs: 1000 });
  assert.equal(intensity.allow(0), true);
  assert.equal(intensity.allow(100), true);
  assert.equal(intensity.allow(200), true);
  assert.equal(intensity.allow(300), false);
  assert.equal(intensity.count(300), 3);
  assert.equal(intensity.allow(1050), true, "the first restart left the window");
  assert.equal(intensity.count(5000), 0);
});

Deno.test("restart intensity: maxRestarts 0 escalates on the first crash", () => {
  assert.equal(new RestartIntensity({ maxRestarts: 0 }).allow(), false);
});
