/**
 * A live view of a processor on the terminal: one row per partition, refreshed in place on
 * a TTY, a plain progress line now and then otherwise.
 *
 * @module
 */

import type { ProcessorStatus } from "../supervisor/processor.ts";

/** What the view shows and where. */
export interface LiveViewOptions {
  /** Reads the processor's status. */
  status: () => ProcessorStatus;
  /** Reads the end offset of each partition, keyed `topic:partition`; refreshed every second. */
  endOffsets?: () => Promise<Map<string, number>>;
  /** A title line. */
  title: string;
  /** Total messages expected, when known (shows a percentage). */
  expected?: number;
  /** True to redraw in place (a terminal); false for plain lines. Default: stdout is a terminal. */
  interactive?: boolean;
  /** Where text goes. Default: stdout. */
  write?: (text: string) => void;
  /** Refresh period on a terminal, ms. Default: 250. */
  refreshMs?: number;
  /** Period of plain lines, ms. Default: 2 000. */
  lineMs?: number;
}

/** A running view. */
export interface LiveView {
  /** Shows a short note under the table (the last few stay visible). */
  note(text: string): void;
  /** Draws a last time and stops. */
  stop(): void;
}

const encoder = new TextEncoder();
const stdoutWrite = (text: string) => {
  const bytes = encoder.encode(text);
  let written = 0;
  while (written < bytes.length) written += Deno.stdout.writeSync(bytes.subarray(written));
};

/**
 * Starts a live view.
 *
 * @example
 * ```ts ignore
 * const view = startLiveView({ title: "orders", status: () => processor.status() });
 * await processor.done;
 * view.stop();
 * ```
 */
export function startLiveView(options: LiveViewOptions): LiveView {
  const interactive = options.interactive ?? Deno.stdout.isTerminal();
  const write = options.write ?? stdoutWrite;
  const started = performance.now();
  const notes: string[] = [];
  let ends = new Map<string, number>();
  let drawnLines = 0;
  let lastProcessed = 0;
  let lastAt = started;
  let rate = 0;
  let stopped = false;

  const refreshEnds = async () => {
    if (!options.endOffsets || stopped) return;
    try {
      ends = await options.endOffsets();
    } catch {
      // Keep the previous figures; the next refresh may work.
    }
  };
  void refreshEnds();
  const endsTimer = options.endOffsets ? setInterval(refreshEnds, 1000) : undefined;

  const measure = (status: ProcessorStatus) => {
    const now = performance.now();
    if (now - lastAt >= 900) {
      rate = (status.totals.processed - lastProcessed) / ((now - lastAt) / 1000);
      lastProcessed = status.totals.processed;
      lastAt = now;
    }
  };

  const lagOf = (row: ProcessorStatus["partitions"][number]) => {
    const end = ends.get(`${row.topic}:${row.partition}`);
    if (end === undefined) return "";
    const position = row.processedOffset !== null
      ? row.processedOffset + 1
      : row.committedOffset ?? 0;
    return String(Math.max(0, end - position));
  };

  const summary = (status: ProcessorStatus) => {
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    const processed = status.totals.processed;
    const share = options.expected
      ? ` of ${options.expected} (${Math.floor((100 * processed) / options.expected)}%)`
      : "";
    return `${seconds}s  ${status.state}  processed ${processed}${share}  ${Math.round(rate)}/s  ` +
      `restarts ${status.totals.restarts}  mailboxes ${status.totals.mailboxSize}`;
  };

  const draw = () => {
    const status = options.status();
    measure(status);
    if (!interactive) {
      write(`[${options.title}] ${summary(status)}\n`);
      return;
    }
    const lines = [
      `\x1b[1m${options.title}\x1b[0m  ${summary(status)}`,
      pad(["partition", "actor", "processed", "lag", "mailbox", "restarts", "fetch"]),
      ...status.partitions.map((row) =>
        pad([
          `${row.topic}[${row.partition}]`,
          row.actor,
          String(row.processed),
          lagOf(row),
          String(row.mailboxSize),
          String(row.restarts),
          row.pausedBy.user
            ? "paused (user)"
            : row.pausedBy.backpressure
            ? "paused (full)"
            : "fetching",
        ])
      ),
      ...notes.map((note) => `  ${note}`),
    ];
    const moveUp = drawnLines > 0 ? `\x1b[${drawnLines}F` : "";
    write(moveUp + lines.map((line) => `\x1b[2K${line}`).join("\n") + "\n");
    drawnLines = lines.length;
  };

  draw();
  const timer = setInterval(draw, interactive ? options.refreshMs ?? 250 : options.lineMs ?? 2000);
  return {
    note(text) {
      notes.push(text);
      if (notes.length > 4) notes.shift();
      if (!interactive) write(`[${options.title}] ${text}\n`);
    },
    stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      clearInterval(endsTimer);
      draw();
    },
  };
}

const WIDTHS = [24, 11, 10, 8, 8, 9, 14];

function pad(cells: string[]): string {
  return cells.map((cell, i) => cell.padEnd(WIDTHS[i] ?? 10)).join(" ").trimEnd();
}
