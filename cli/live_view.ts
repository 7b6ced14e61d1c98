/**
 * A live view of a processor on the terminal: one row per partition (actor state,
 * processed, lag, mailbox, restarts, fetching) under a summary line with the throughput,
 * redrawn in place on a TTY; a plain progress line now and then otherwise.
 *
 * @module
 */

import type { ProcessorStatus } from "../mod.ts";

/** What the view shows and where. */
export interface LiveViewOptions {
  /** Reads the processor's status. */
  status: () => ProcessorStatus;
  /**
   * Reads the end offset of each partition, keyed `topic:partition`; refreshed every second.
   * Default: the lag the processor measured at its last fetch.
   */
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
  /** The terminal's size. Default: `Deno.consoleSize()`, else 120 x 40. */
  size?: () => { columns: number; rows: number };
}

/** A running view. */
export interface LiveView {
  /** Shows a short note under the table (the last few stay visible). */
  note(text: string): void;
  /**
   * Writes text (lines ending in a newline) above the table, e.g. a log record, without
   * breaking the redraw.
   */
  print(text: string): void;
  /** Draws a last time and stops. */
  stop(): void;
}

const encoder = new TextEncoder();
const stdoutWrite = (text: string) => {
  const bytes = encoder.encode(text);
  let written = 0;
  while (written < bytes.length) written += Deno.stdout.writeSync(bytes.subarray(written));
};

function terminalSize(): { columns: number; rows: number } {
  try {
    return Deno.consoleSize();
  } catch {
    return { columns: 120, rows: 40 };
  }
}

const HEADINGS = ["partition", "actor", "processed", "lag", "mailbox", "restarts", "fetch"];

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
  const size = options.size ?? terminalSize;
  const started = performance.now();
  const notes: string[] = [];
  let ends: Map<string, number> | undefined;
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
      rate = Math.max(0, status.totals.processed - lastProcessed) / ((now - lastAt) / 1000);
      lastProcessed = status.totals.processed;
      lastAt = now;
    }
  };

  const lagOf = (row: ProcessorStatus["partitions"][number]): string => {
    if (!ends) return row.lag === null ? "" : String(row.lag);
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
    const kafka = status.connection.connected ? "" : "  KAFKA UNREACHABLE";
    return `${seconds}s  ${status.state}${kafka}  processed ${processed}${share}  ` +
      `${Math.round(rate)}/s  ` +
      `partitions ${status.partitions.length}  restarts ${status.totals.restarts}  ` +
      `mailboxes ${status.totals.mailboxSize}`;
  };

  /** The table and notes, clipped to the terminal so that redrawing in place stays exact. */
  const frame = (status: ProcessorStatus): string[] => {
    const { columns, rows: height } = size();
    const rows = status.partitions.map((row) => [
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
        : row.pausedBy.initializing
        ? "paused (starting)"
        : row.pausedBy.stopping
        ? "paused (stopping)"
        : "fetching",
    ]);
    // Room for the title, the headings, the notes and a line of slack.
    const room = Math.max(1, height - 3 - notes.length);
    const shown = rows.length > room ? rows.slice(0, room - 1) : rows;
    const widths = HEADINGS.map((heading, i) =>
      Math.max(heading.length, ...shown.map((cells) => cells[i].length))
    );
    const line = (cells: string[]) =>
      cells.map((cell, i) => cell.padEnd(widths[i])).join("  ").trimEnd();
    const lines = [
      `${options.title}  ${summary(status)}`,
      line(HEADINGS),
      ...shown.map(line),
      ...(shown.length < rows.length ? [`... ${rows.length - shown.length} more partitions`] : []),
      ...notes.map((note) => `  ${note}`),
    ];
    // A wrapped line would throw the cursor arithmetic off: cut at the terminal's width.
    return lines.map((text) => (text.length >= columns ? text.slice(0, columns - 1) : text));
  };

  const erase = () => (drawnLines > 0 ? `\x1b[${drawnLines}F\x1b[J` : "");

  const draw = () => {
    const status = options.status();
    measure(status);
    if (!interactive) {
      write(`[${options.title}] ${summary(status)}\n`);
      return;
    }
    const lines = frame(status);
    const [title, ...rest] = lines;
    write(erase() + [`\x1b[1m${title}\x1b[0m`, ...rest].join("\n") + "\n");
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
    print(text) {
      if (!interactive || stopped) {
        write(text);
        return;
      }
      write(erase() + text);
      drawnLines = 0;
      draw();
    },
    stop() {
      if (stopped) return;
      clearInterval(timer);
      clearInterval(endsTimer);
      draw();
      stopped = true;
    },
  };
}
