/**
 * Tables on stdout, as the admin commands print them.
 *
 * @module
 */

/**
 * Prints aligned columns under their headings; columns of numbers (some may be `-`) are
 * right-aligned.
 *
 * @example
 * ```ts
 * import { printTable } from "./table.ts";
 * printTable(["TOPIC", "PARTITIONS"], [["orders", "3"], ["payments", "12"]]);
 * ```
 */
export function printTable(headings: readonly string[], rows: readonly string[][]): void {
  const widths = headings.map((heading, i) =>
    Math.max(heading.length, ...rows.map((row) => row[i].length))
  );
  const numeric = headings.map((_, i) =>
    rows.some((row) => /^-?\d+$/.test(row[i])) && rows.every((row) => /^-?\d+$|^-$/.test(row[i]))
  );
  const line = (cells: readonly string[]) =>
    cells.map((cell, i) => numeric[i] ? cell.padStart(widths[i]) : cell.padEnd(widths[i]))
      .join("  ").trimEnd();
  console.log([line(headings), ...rows.map(line)].join("\n"));
}
