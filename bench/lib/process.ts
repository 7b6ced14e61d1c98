/**
 * Running one measured program as its own OS process: its protocol lines, its exit, and its
 * peak resident memory (VmHWM from `/proc/<pid>/status`).
 *
 * @module
 */

/** What a finished program left. */
export interface ProcessRun {
  /** Exit code (128 + signal number when killed). */
  code: number;
  /** True when it was killed for overrunning its time limit. */
  killed: boolean;
  /** Every line it printed on stdout. */
  lines: string[];
  /** Its protocol messages (stdout lines that are JSON objects with a `type`). */
  messages: ({ type: string } & Record<string, unknown>)[];
  /** The `result` message, if it printed one. */
  result: Record<string, unknown> | undefined;
  /** Peak RSS in MiB: read when the result arrived, else the highest polled value. */
  peakRssMb: number | undefined;
  /** CPU time (user + system) in ms: read when the result arrived, else the last polled. */
  cpuMs: number | undefined;
  /** The last lines it printed on stderr, for error reports. */
  stderrTail: string;
}

/** Options of {@linkcode runProcess}. */
export interface RunOptions {
  /** Kill it (SIGKILL) after this long, ms. */
  timeoutMs: number;
  /** Extra environment variables. */
  env?: Record<string, string>;
  /** Called for each protocol message as it arrives (e.g. `joined`). */
  onMessage?: (message: { type: string } & Record<string, unknown>) => void;
  /** Appends everything the process writes on stderr to this file. */
  logFile?: string;
}

/** Every child still running, so an interrupted benchmark can end them (and only them). */
const running = new Set<Deno.ChildProcess>();

/** Kills every process {@linkcode runProcess} started that is still running. */
export function killRunning(): void {
  for (const child of running) {
    try {
      child.kill("SIGKILL");
    } catch {
      // Already gone.
    }
  }
}

/** The process's peak resident set size so far, in MiB, or undefined once it is gone. */
export function peakRssMb(pid: number): number | undefined {
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    const match = /^VmHWM:\s+(\d+)\s+kB/m.exec(status);
    return match ? Number(match[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** CPU time (user + system) the process used so far, in ms, or undefined once it is gone. */
export function cpuMs(pid: number): number | undefined {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    // Fields after the command name, which is in parentheses and may hold spaces.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // utime and stime are fields 14 and 15 of the line, in clock ticks (100 per second).
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return undefined;
  }
}

/** Splits a byte stream into text lines. */
async function* lines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let rest = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    rest += chunk;
    let newline: number;
    while ((newline = rest.indexOf("\n")) >= 0) {
      yield rest.slice(0, newline);
      rest = rest.slice(newline + 1);
    }
  }
  if (rest) yield rest;
}

function protocolMessage(line: string): ({ type: string } & Record<string, unknown>) | undefined {
  // KafkaJS or the JVM may print other lines; only JSON objects with a type are ours.
  if (!line.startsWith("{") || !line.includes('"type"')) return undefined;
  try {
    const value = JSON.parse(line);
    return value && typeof value.type === "string" ? value : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Runs `program` with `args` to its end. Its stdin stays open until it printed its result,
 * so a peer that waits for EOF (see `bench/lib/peer.ts`) is still alive when its peak RSS is
 * read; then stdin is closed and the process exits by itself.
 */
export async function runProcess(
  program: string,
  args: string[],
  options: RunOptions,
): Promise<ProcessRun> {
  const child = new Deno.Command(program, {
    args,
    env: options.env,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  running.add(child);
  const pid = child.pid;
  const stdin = child.stdin.getWriter();
  const closeStdin = () => stdin.close().catch(() => {});

  let polledPeak: number | undefined;
  let polledCpu: number | undefined;
  const poll = setInterval(() => {
    const rss = peakRssMb(pid);
    if (rss !== undefined) polledPeak = Math.max(polledPeak ?? 0, rss);
    polledCpu = cpuMs(pid) ?? polledCpu;
  }, 100);

  let killed = false;
  const timer = setTimeout(() => {
    killed = true;
    try {
      child.kill("SIGKILL");
    } catch {
      // Already gone.
    }
  }, options.timeoutMs);

  const run: ProcessRun = {
    code: 0,
    killed: false,
    lines: [],
    messages: [],
    result: undefined,
    peakRssMb: undefined,
    cpuMs: undefined,
    stderrTail: "",
  };

  const stdout = (async () => {
    for await (const line of lines(child.stdout)) {
      run.lines.push(line);
      const message = protocolMessage(line);
      if (!message) continue;
      run.messages.push(message);
      if (message.type === "result") {
        run.result = message;
        run.peakRssMb = peakRssMb(pid) ?? polledPeak;
        run.cpuMs = cpuMs(pid) ?? polledCpu;
        void closeStdin();
      }
      options.onMessage?.(message);
    }
  })();

  const stderr = (async () => {
    const tail: string[] = [];
    const log = options.logFile
      ? await Deno.open(options.logFile, { append: true, create: true })
      : undefined;
    const encoder = new TextEncoder();
    try {
      for await (const line of lines(child.stderr)) {
        tail.push(line);
        if (tail.length > 40) tail.shift();
        await log?.write(encoder.encode(line + "\n"));
      }
    } finally {
      log?.close();
    }
    run.stderrTail = tail.join("\n");
  })();

  const status = await child.status;
  running.delete(child);
  clearTimeout(timer);
  clearInterval(poll);
  await Promise.all([stdout, stderr]);
  await closeStdin();
  run.code = status.signal ? 128 + (status.signal === "SIGKILL" ? 9 : 15) : status.code;
  run.killed = killed;
  run.peakRssMb ??= polledPeak;
  run.cpuMs ??= polledCpu;
  return run;
}
