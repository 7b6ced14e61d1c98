/**
 * The dashboard's HTTP side against a processor on the real broker: mutating requests
 * without the token are refused and change nothing, bad input is named, pages cost nothing
 * once closed, and the token shows nowhere.
 */

import assert from "node:assert/strict";
import { startObservabilityServer } from "../cli/observability_server.ts";
import { createProcessor } from "../mod.ts";
import { createTopic, endOffsets, testBrokers, uniqueName, waitFor } from "./_helpers.ts";

const TOKEN = `dashboard-${crypto.randomUUID()}`;

Deno.test("dashboard: without the token every mutating request is 403 and changes nothing; with it, controls work and bad input is 400/404", async () => {
  const topic = uniqueName("dash-api");
  const target = uniqueName("dash-api-target");
  await Promise.all([createTopic(topic, 2), createTopic(target, 1)]);
  const connection = { brokers: testBrokers(), clientId: "dashboard-test" };
  await using processor = createProcessor({
    ...connection,
    groupId: uniqueName("dash-api"),
    topics: topic,
    handler: () => {},
  });
  await processor.start();
  await using server = await startObservabilityServer({
    processor,
    port: 0,
    hostname: "127.0.0.1",
    dashboard: { controlToken: TOKEN, connection, deadLetterTopics: [target] },
  });
  await using readOnly = await startObservabilityServer({
    processor,
    port: 0,
    hostname: "127.0.0.1",
    dashboard: { connection },
  });
  const base = `http://127.0.0.1:${server.port}`;
  const post = async (path: string, body: unknown, token?: string, at = base) => {
    const response = await fetch(at + path, {
      method: "POST",
      headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
      body: typeof body === "string" ? body : JSON.stringify(body),
    });
    return { status: response.status, body: await response.json() };
  };
  await waitFor(() => processor.status().partitions.length === 2, "both partitions assigned");
  const userPaused = () => processor.status().partitions.map((p) => p.pausedBy.user);
  const ends = await endOffsets(target);

  // Refused, before anything is read or done.
  const pause = { topic, partition: 0 };
  const refusals = await Promise.all([
    post("/api/partitions/pause", pause),
    post("/api/partitions/pause", pause, "wrong-token-of-the-right-length"),
    post("/api/partitions/resume", pause, "x"),
    post("/api/partitions/pause", pause, TOKEN, `http://127.0.0.1:${readOnly.port}`),
    post("/api/dead-letters/replay", { topic: target, ids: ["0:0"] }),
    post("/api/dead-letters/replay", { topic: target, ids: ["0:0"] }, TOKEN.toUpperCase()),
  ]);
  for (const refusal of refusals) assert.equal(refusal.status, 403);
  assert.match(refusals[0].body.error, /needs the control token/);
  assert.match(refusals[1].body.error, /wrong/);
  assert.match(refusals[3].body.error, /controls are off/);
  assert.deepEqual(userPaused(), [false, false]);
  assert.deepEqual(await endOffsets(target), ends);

  // Bad input, with the token: named, nothing done.
  const bad = await Promise.all([
    post("/api/partitions/pause", "{not json", TOKEN),
    post("/api/partitions/pause", { topic, partition: -1 }, TOKEN),
    post("/api/partitions/pause", { topic, partition: 7 }, TOKEN),
    post("/api/dead-letters/replay", { topic: target, ids: ["zero:1"] }, TOKEN),
    post("/api/dead-letters/replay", { topic: "no such topic", ids: ["0:0"] }, TOKEN),
    post("/api/dead-letters/replay", { topic: uniqueName("missing"), ids: ["0:0"] }, TOKEN),
  ]);
  assert.deepEqual(bad.map((answer) => answer.status), [400, 400, 404, 400, 400, 404]);
  assert.match(bad[2].body.error, /is not assigned to this processor/);
  assert.match(bad[3].body.error, /"zero:1" is not a dead letter id/);
  assert.equal((await fetch(`${base}/api/partitions/pause`)).status, 405);
  assert.equal(
    (await (await fetch(`${base}/api/dead-letters?topic=a%20b`)).json()).error,
    "topic must be a topic name",
  );
  assert.deepEqual(userPaused(), [false, false]);
  assert.deepEqual(await endOffsets(target), ends);

  // With the token.
  assert.equal((await post("/api/partitions/pause", pause, TOKEN)).status, 200);
  assert.deepEqual(userPaused(), [true, false]);
  assert.equal((await post("/api/partitions/resume", pause, TOKEN)).status, 200);
  assert.deepEqual(userPaused(), [false, false]);

  // The token is not in the page, its files or /status.
  for (const path of ["/", "/dashboard.js", "/dashboard.css", "/status"]) {
    const response = await fetch(base + path);
    assert.equal(response.status, 200, path);
    assert.ok(!(await response.text()).includes(TOKEN), path);
  }
  const page = await fetch(`${base}/`);
  assert.match(page.headers.get("content-security-policy")!, /default-src 'none'/);
  assert.doesNotMatch(await page.text(), /https?:\/\//, "no external URL");
});

Deno.test("dashboard: a page's event stream says hello with the partitions, and costs nothing once closed", async () => {
  const topic = uniqueName("dash-feed");
  await createTopic(topic, 1);
  await using processor = createProcessor({
    brokers: testBrokers(),
    groupId: uniqueName("dash-feed"),
    topics: topic,
    handler: () => {},
  });
  await processor.start();
  const server = await startObservabilityServer({ processor, port: 0, hostname: "127.0.0.1" });
  const base = `http://127.0.0.1:${server.port}`;
  await waitFor(() => processor.status().partitions.length === 1, "the partition assigned");

  const pages = [new AbortController(), new AbortController()];
  const streams = await Promise.all(
    pages.map((page) => fetch(`${base}/events`, { signal: page.signal })),
  );
  assert.equal(streams[0].headers.get("content-type"), "text/event-stream; charset=utf-8");
  const reader = streams[0].body!.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n\n")) text += (await reader.read()).value;
  const [event, data] = text.split("\n");
  assert.equal(event, "event: hello");
  const hello = JSON.parse(data.slice("data: ".length));
  assert.equal(hello.controls, false);
  assert.equal(hello.status.partitions[0].topic, topic);
  while (!text.includes("event: status")) text += (await reader.read()).value;
  assert.equal(server.pages, 2);

  // A closed (or reloaded) page is forgotten; the server closes with a page still open.
  pages[0].abort();
  await waitFor(() => server.pages === 1, "the closed page forgotten", 5_000);
  await server.close();
  assert.equal(server.pages, 0);
  await streams[1].body?.cancel().catch(() => {});
});
