/**
 * Runs a command against a Kafka broker: the one in `KAFKA_BROKERS` if set, else a local
 * broker started for the command and stopped after it (also when it fails or is
 * interrupted). With no command, starts a local broker in the foreground until Ctrl-C.
 *
 * ```sh
 * deno run -A testing/with_kafka.ts deno test -A tests/   # what `deno task test` does
 * deno run -A testing/with_kafka.ts                       # what `deno task kafka` does
 * ```
 *
 * @module
 */

import { startLocalKafka } from "./local_kafka.ts";

async function main(command: string[]): Promise<number> {
  const given = Deno.env.get("KAFKA_BROKERS");
  if (given && command.length > 0) {
    console.error(`with_kafka: using KAFKA_BROKERS=${given}`);
    return await run(command, given);
  }

  const started = performance.now();
  const kafka = await startLocalKafka();
  const brokers = kafka.brokers.join(",");
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  try {
    if (command.length === 0) {
      console.log(`Kafka is up at ${brokers} (started in ${seconds} s, log: ${kafka.logFile})`);
      console.log(`  export KAFKA_BROKERS=${brokers}`);
      console.log("Press Ctrl-C to stop it.");
      await new Promise<void>((resolve) => {
        Deno.addSignalListener("SIGINT", resolve);
        Deno.addSignalListener("SIGTERM", resolve);
      });
      return 0;
    }
    console.error(`with_kafka: local Kafka at ${brokers} (started in ${seconds} s)`);
    return await run(command, brokers);
  } finally {
    await kafka.stop();
  }
}

/** Runs `command` with `KAFKA_BROKERS` set; a leading `deno` means this very Deno binary. */
async function run(command: string[], brokers: string): Promise<number> {
  const [program, ...args] = command;
  // The child shares our process group, so Ctrl-C reaches it directly; we only need to
  // survive the signal long enough to stop the broker once the child is done.
  const ignore = () => {};
  Deno.addSignalListener("SIGINT", ignore);
  Deno.addSignalListener("SIGTERM", ignore);
  try {
    const child = new Deno.Command(program === "deno" ? Deno.execPath() : program, {
      args,
      env: { KAFKA_BROKERS: brokers },
      stdin: "inherit",
      stdout: "inherit",
      stderr: "inherit",
    }).spawn();
    const status = await child.status;
    return status.signal ? 128 + (status.signal === "SIGINT" ? 2 : 15) : status.code;
  } finally {
    Deno.removeSignalListener("SIGINT", ignore);
    Deno.removeSignalListener("SIGTERM", ignore);
  }
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args[0] === "--" ? Deno.args.slice(1) : Deno.args));
  } catch (error) {
    console.error(`with_kafka: ${error instanceof Error ? error.message : error}`);
    Deno.exit(1);
  }
}
