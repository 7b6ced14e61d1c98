/**
 * Helpers for the tests that run troupe's command line as a separate process.
 *
 * @module
 */

import { type ParsedFamily, parseExposition } from "./_prometheus.ts";
import { waitFor } from "./_helpers.ts";

/** The repository's root directory. */
export const ROOT: string = new URL("..", import.meta.url).pathname;
/** `main.ts`, absolute. */
export const MAIN: string = new URL("../main.ts", import.meta.url).pathname;

/** How to run the CLI: `deno run <permissions> main.ts`, or a compiled binary. */
export interface Runner {
  /** The program. */
  program: string;
  /** Arguments before the command's own. */
  prefix: string[];
}

/** `deno run -A main.ts`. */
export const DENO_RUN: Runner = { program: Deno.execPath(), prefix: ["run", "-A", MAIN] };

/** Options of one CLI run. */
export interface CliOptions {
  /** How to run it. Default: {@linkcode DENO_RUN}. */
  runner?: Runner;
  /** Text for standard input. Default: none. */
  stdin?: string;
  /** Extra environment variables. */
  env?: Record<string, string>;
  /** Working directory. Default: the repository's root. */
  cwd?: string;
  /** The process is killed after this long, so that no test hangs. Default: 90 000 ms. */
  timeoutMs?: number;
}

/** What a finished run printed and how it exited. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

function command(args: string[], options: CliOptions): Deno.Command {
  const runner = options.runner ?? DENO_RUN;
  return new Deno.Command(runner.program, {
    args: [...runner.prefix, ...args],
    cwd: options.cwd ?? ROOT,
    env: { NO_COLOR: "1", ...options.env },
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(options.timeoutMs ?? 90_000),
  });
}

/** Runs the CLI to its end. */
export async function troupe(args: string[], options: CliOptions = {}): Promise<CliResult> {
  const child = command(args, options).spawn();
  if (options.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(options.stdin));
    await writer.close();
  }
  const output = await child.output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

/** A CLI process running in the background. */
export interface RunningCli extends AsyncDisposable {
  /** Its process. */
  child: Deno.ChildProcess;
  /** What it printed so far. */
  stdout(): string;
  /** What it logged so far. */
  stderr(): string;
  /** Waits for it to exit. */
  exited(): Promise<CliResult>;
}

/** Starts the CLI in the background; disposing it kills it if it still runs. */
export function spawnTroupe(args: string[], options: CliOptions = {}): RunningCli {
  const child = command(args, { ...options, stdin: undefined }).spawn();
  let out = "";
  let err = "";
  const pump = async (stream: ReadableStream<Uint8Array>, add: (text: string) => void) => {
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) add(chunk);
  };
  const reading = Promise.all([
    pump(child.stdout, (text) => out += text),
    pump(child.stderr, (text) => err += text),
  ]);
  let result: Promise<CliResult> | undefined;
  const exited = () =>
    result ??= (async () => {
      const status = await child.status;
      await reading;
      return { code: status.code, stdout: out, stderr: err };
    })();
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    async [Symbol.asyncDispose]() {
      try {
        child.kill("SIGKILL");
      } catch {
        // Already exited.
      }
      await exited();
    },
  };
}

/** The port the metrics server logged (JSON log lines), once it did. */
export async function metricsPort(cli: RunningCli): Promise<number> {
  let port: number | undefined;
  await waitFor(() => {
    for (const line of cli.stderr().split("\n")) {
      if (!line.startsWith("{")) continue;
      const record = JSON.parse(line);
      if (typeof record.properties?.port === "number") port = record.properties.port;
    }
    return port !== undefined;
  }, `the metrics port in the logs; stderr so far:\n${cli.stderr()}`);
  return port!;
}

/** Scrapes and parses `/metrics`. */
export async function scrape(port: number): Promise<Map<string, ParsedFamily>> {
  const response = await fetch(`http://127.0.0.1:${port}/metrics`);
  if (response.status !== 200) throw new Error(`/metrics answered ${response.status}`);
  return parseExposition(await response.text());
}

/** True when a CLI's error output is a one-line message, not a stack trace. */
export function noStackTrace(stderr: string): boolean {
  return !/^\s+at /m.test(stderr);
}

/** Writes a handler module into a new temporary directory; returns its path. */
export async function writeHandler(source: string, name = "handler.ts"): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "troupe-cli-" });
  const path = `${dir}/${name}`;
  await Deno.writeTextFile(path, source);
  return path;
}

/** Removes the directory of a file {@linkcode writeHandler} wrote. */
export async function removeHandler(path: string): Promise<void> {
  await Deno.remove(path.slice(0, path.lastIndexOf("/")), { recursive: true });
}
