/**
 * One processor process of the chaos harness: it appends a line per processed message to
 * its log (synchronously, before the handler returns, so a `kill -9` cannot lose a line of
 * a message whose offset may be committed), and stops gracefully on SIGTERM.
 *
 * Usage: `deno run -A chaos/worker.ts <brokers> <topic> <group> <log file> <work ms>`
 *
 * @module
 */

import { configureLogging } from "../cli/logging.ts";
import { createProcessor } from "../mod.ts";

const [brokers, topic, groupId, logFile, workMsText] = Deno.args;
const workMs = Number(workMsText ?? "1");

// Troupe's log lines go to this worker's stderr (the harness keeps it in a file).
await configureLogging({ level: "info", format: "pretty" });

const log = await Deno.open(logFile, { append: true, create: true });
const encoder = new TextEncoder();
const clock = () => (performance.timeOrigin + performance.now()).toFixed(3);

const processor = createProcessor({
  brokers,
  groupId,
  topics: topic,
  fromBeginning: true,
  clientId: `chaos-${Deno.pid}`,
  commitIntervalMs: 300,
  // About what a commit interval processes here: while Kafka is away, a partition stops there
  // instead of processing its whole mailbox, which a kill would then have redone.
  maxUncommitted: 200,
  // Short sessions, so that a killed worker's partitions move on within seconds.
  consumer: { sessionTimeout: 6_000, heartbeatInterval: 1_000, rebalanceTimeout: 20_000 },
  connectTimeoutMs: 120_000,
  restart: { maxRestarts: 1000 },
  handler: async (message) => {
    if (workMs > 0) await new Promise((resolve) => setTimeout(resolve, workMs));
    const line = `${clock()} ${message.partition} ${message.offset} ${message.key} ${Deno.pid}\n`;
    log.writeSync(encoder.encode(line));
  },
});

let stopping = false;
const stop = () => {
  if (stopping) Deno.exit(130);
  stopping = true;
  processor.stop();
};
Deno.addSignalListener("SIGTERM", stop);
Deno.addSignalListener("SIGINT", stop);

await processor.start();
try {
  await processor.done;
} catch (error) {
  console.error(`worker ${Deno.pid} failed: ${error}`);
  Deno.exit(1);
}
log.close();
Deno.exit(0);
