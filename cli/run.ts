/**
 * `troupe run`: runs a processor over a handler module until SIGINT or SIGTERM, with the
 * metrics and health endpoints, logs and a live view.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { createProcessor, describeError, type Processor } from "../mod.ts";
import { CONNECTION_FLAGS, resolveConnection } from "./connection.ts";
import { checkControlToken } from "./control_token.ts";
import type { DashboardOptions } from "./dashboard.ts";
import { type CommandSpec, type EnvReader, formatHelp, parseFlags, readEnv } from "./flags.ts";
import { loadHandlerModule } from "./handler_module.ts";
import { startLiveView } from "./live_view.ts";
import { configureLogging, type LogFormat, loggingFlags } from "./logging.ts";
import { type ObservabilityServer, startObservabilityServer } from "./observability_server.ts";
import { UsageError } from "./errors.ts";
import { buildProcessorOptions, ORDERINGS, type RunProcessorOptions } from "./processor_options.ts";
import { VIEW_FLAG, viewMode } from "./view_flag.ts";

const log = getLogger(["troupe", "cli"]);
const encoder = new TextEncoder();

function writeStderr(line: string): void {
  const bytes = encoder.encode(line);
  let written = 0;
  while (written < bytes.length) written += Deno.stderr.writeSync(bytes.subarray(written));
}

/** `troupe run`'s flags and help. */
export const RUN_COMMAND: CommandSpec = {
  name: "run",
  summary: "Run a processor over a handler module until SIGINT or SIGTERM.",
  usage: "--handler FILE --topic T [--topic U | --topic-pattern RE] --group G [options]",
  description: `Loads FILE, whose default export handles each message (and whose optional "options"
export sets processor options, e.g. valueCodec), and runs a processor: one actor per assigned
partition, messages in order, only processed offsets committed. SIGINT or SIGTERM stops it
gracefully (messages in hand finish, offsets are committed, the member leaves the group); a
second signal exits at once. Flags win over environment variables, which win over the
module's options.`,
  flags: [
    {
      name: "handler",
      kind: "string",
      placeholder: "FILE",
      env: "TROUPE_HANDLER",
      description: "Module whose default export is the handler: (message, context) => ...",
    },
    {
      name: "topic",
      kind: "list",
      placeholder: "T",
      env: "TROUPE_TOPICS",
      description: "Topic to read (the variable takes a comma-separated list).",
    },
    {
      name: "topic-pattern",
      kind: "string",
      placeholder: "RE",
      env: "TROUPE_TOPIC_PATTERN",
      description: "Also read every topic whose name matches this JavaScript RegExp.",
    },
    {
      name: "group",
      kind: "string",
      placeholder: "G",
      env: "TROUPE_GROUP",
      description: "Consumer group id.",
    },
    ...CONNECTION_FLAGS,
    {
      name: "from-beginning",
      kind: "boolean",
      env: "TROUPE_FROM_BEGINNING",
      description: "With no committed offset, start at the earliest offset (else the latest).",
    },
    {
      name: "ordering",
      kind: "string",
      placeholder: "MODE",
      env: "TROUPE_ORDERING",
      default: "partition",
      choices: ORDERINGS,
      description: "Which messages must be processed in order: per partition, per key, or none.",
    },
    {
      name: "concurrency",
      kind: "string",
      placeholder: "N",
      env: "TROUPE_CONCURRENCY",
      description: "Messages processed at once per partition with --ordering key or unordered " +
        "(must be 1 with partition). Default: 16 for key and unordered, 1 for partition.",
    },
    {
      name: "dead-letter",
      kind: "string",
      placeholder: "TOPIC|off",
      env: "TROUPE_DEAD_LETTER",
      default: "off",
      description: "Topic receiving, with provenance headers, the messages whose retries are " +
        "exhausted, that cannot be decoded, or that the handler marks not retriable (off: " +
        "those crash the actor, and the restart policy applies).",
    },
    {
      name: "metrics-port",
      kind: "string",
      placeholder: "P",
      env: "TROUPE_METRICS_PORT",
      description: "Serve the dashboard (/), /metrics, /health, /ready and /status on this port " +
        "(0: any free port). Default: off.",
    },
    {
      name: "metrics-host",
      kind: "string",
      placeholder: "HOST",
      env: "TROUPE_METRICS_HOST",
      default: "0.0.0.0",
      description: "Interface the metrics server listens on.",
    },
    {
      name: "control-token",
      kind: "string",
      placeholder: "TOKEN",
      env: "TROUPE_CONTROL_TOKEN",
      description: "Allow the dashboard's controls (pause, resume, replay dead letters) to " +
        "requests carrying this token (at least 16 characters; prefer the variable: a command " +
        "line shows in ps). Default: none, the dashboard is read-only.",
    },
    VIEW_FLAG,
    ...loggingFlags("info"),
  ],
  examples: [
    "troupe run --handler ./handler.ts --topic orders --group billing --from-beginning",
    "KAFKA_BROKERS=10.0.0.5:9092 troupe run --handler ./handler.ts --topic-pattern '^orders-' \\",
    "    --group billing --metrics-port 9464 --log-format json",
  ],
  notes: `Exit codes: 0 after a graceful stop, 1 when the processor fails (or a second signal
cuts the stop short), 2 for a usage mistake (bad flag, missing handler file, handler module
without a default export).`,
};

/**
 * Runs `troupe run` with `args`; resolves with the exit code.
 *
 * @example
 * ```ts ignore
 * Deno.exit(await runCommand(["--handler", "./h.ts", "--topic", "t", "--group", "g"]));
 * ```
 */
export async function runCommand(
  args: readonly string[],
  env: EnvReader = readEnv,
): Promise<number> {
  const flags = parseFlags(RUN_COMMAND, args, env);
  if (flags.help) {
    console.log(formatHelp(RUN_COMMAND));
    return 0;
  }
  // Everything the flags can get wrong is checked before anything loads or connects.
  const handlerPath = flags.required("handler", "the module that handles each message");
  const connection = await resolveConnection(flags, env);
  const metricsPort = flags.integer("metrics-port", 0, 65535);
  const metricsHost = flags.required("metrics-host");
  const tokenText = flags.string("control-token");
  const controlToken = tokenText === undefined
    ? undefined
    : checkControlToken(tokenText, flags.label("control-token"));
  if (controlToken !== undefined && metricsPort === undefined) {
    throw new UsageError(
      `${flags.label("control-token")} needs --metrics-port: the controls are on its dashboard`,
    );
  }
  const view = viewMode(flags);
  let writeLog = writeStderr;
  await configureLogging({
    level: flags.choice("log-level")!,
    format: flags.choice<LogFormat>("log-format")!,
    // The token is a secret too: a log line never shows it.
    secrets: controlToken === undefined
      ? connection.secrets
      : [...connection.secrets, controlToken],
    write: (line) => writeLog(line),
  });

  const module = await loadHandlerModule(handlerPath);
  const options = buildProcessorOptions(flags, module, {
    connection,
    metrics: metricsPort !== undefined,
  });
  const processor = createProcessor(options);
  return await supervise(processor, {
    describe: {
      handler: handlerPath,
      groupId: options.groupId,
      topics: (Array.isArray(options.topics) ? options.topics : [options.topics]).map(String),
      brokers: connection.options.brokers,
    },
    metrics: metricsPort === undefined ? undefined : {
      port: metricsPort,
      hostname: metricsHost,
      dashboard: {
        controlToken,
        connection: options,
        deadLetterTopics: deadLetterTopics(options),
        mailboxCapacity: options.mailboxCapacity,
      },
    },
    view,
    redirectLogs: (write) => writeLog = write,
  });
}

/** The dead-letter topics the options name, for the dashboard to offer. */
function deadLetterTopics(options: RunProcessorOptions): string[] {
  const { deadLetter } = options;
  if (typeof deadLetter === "string") return [deadLetter];
  if (deadLetter !== true) return []; // off, or a function: its topics show as they are used
  const topics = Array.isArray(options.topics) ? options.topics : [options.topics];
  return topics.filter((topic): topic is string => typeof topic === "string")
    .map((topic) => `${topic}.dlq`);
}

interface SuperviseOptions {
  describe: { handler: string; groupId: string; topics: string[]; brokers: string[] };
  metrics: { port: number; hostname: string; dashboard: DashboardOptions } | undefined;
  view: "live" | "lines" | "off";
  redirectLogs: (write: (line: string) => void) => void;
}

/** Starts the processor, the endpoints and the view; stops on signal; returns the exit code. */
async function supervise(
  processor: Processor,
  options: SuperviseOptions,
): Promise<number> {
  let server: ObservabilityServer | undefined;
  const liveView = options.view === "off" ? undefined : startLiveView({
    title: `troupe run ${options.describe.groupId}`,
    status: () => processor.status(),
    interactive: options.view === "live",
    lineMs: 10_000,
  });
  if (liveView && options.view === "live") options.redirectLogs((line) => liveView.print(line));
  processor.on("actor-crashed", (event) =>
    liveView?.note(
      `${event.topic}[${event.partition}] crashed at offset ${event.offset}: ${
        describeError(event.error)
      }`,
    ));

  const forced = Promise.withResolvers<number>();
  let signals = 0;
  const onSignal = (signal: Deno.Signal) => () => {
    signals++;
    if (signals === 1) {
      log.info("received {signal}: stopping gracefully (send it again to exit at once)", {
        signal,
      });
      processor.stop().catch(() => {}); // a failure surfaces through `done`
    } else {
      log.warn("received {signal} again: exiting without a graceful stop", { signal });
      forced.resolve(1);
    }
  };
  const listeners = (["SIGINT", "SIGTERM"] as const).map((signal) => {
    const listener = onSignal(signal);
    Deno.addSignalListener(signal, listener);
    return [signal, listener] as const;
  });

  try {
    if (options.metrics) {
      server = await startObservabilityServer({ processor, ...options.metrics }).catch(
        (error) => {
          throw error instanceof Deno.errors.AddrInUse
            ? new Error(`the metrics port ${options.metrics!.port} is already in use`)
            : error;
        },
      );
      log.info(
        `dashboard, metrics, health and status on http://${server.hostname}:${server.port}/`,
        {
          hostname: server.hostname,
          port: server.port,
        },
      );
    }
    log.info("starting: group {groupId}, topics {topics}, brokers {brokers}, handler {handler}", {
      ...options.describe,
    });
    // A failure (Kafka unreachable, restart intensity exceeded) rejects: main.ts prints it
    // and exits 1.
    const ended = (async () => {
      await processor.start();
      await processor.done;
      return 0;
    })();
    return await Promise.race([ended, forced.promise]);
  } finally {
    for (const [signal, listener] of listeners) Deno.removeSignalListener(signal, listener);
    liveView?.stop();
    options.redirectLogs(writeStderr);
    await server?.close();
  }
}
