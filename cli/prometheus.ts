/**
 * The Prometheus text exposition format (version 0.0.4), written from plain figures.
 *
 * troupe's figures are snapshots (`processor.status()`, the processing-time histogram), so
 * a scrape only has to render them: nothing is counted on the per-message path.
 *
 * @module
 */

/** Label names and values of one sample. */
export type Labels = Readonly<Record<string, string>>;

/** One value of a counter or gauge. */
export interface Sample {
  /** Its labels (none when omitted). */
  readonly labels?: Labels;
  /** Its value. */
  readonly value: number;
}

/** One histogram series: cumulative bucket counts, as `le` buckets expect. */
export interface HistogramSeries {
  /** Its labels (none when omitted). */
  readonly labels?: Labels;
  /** Upper bounds, increasing; `+Inf` is implied. */
  readonly bounds: readonly number[];
  /** Observations at or below each bound, one per bound. */
  readonly cumulative: readonly number[];
  /** All observations (the `+Inf` bucket). */
  readonly count: number;
  /** Sum of the observations. */
  readonly sum: number;
}

/** A metric family: a name, its help and type, and its series. */
export type MetricFamily =
  & { readonly name: string; readonly help: string }
  & (
    | { readonly type: "counter" | "gauge"; readonly samples: readonly Sample[] }
    | { readonly type: "histogram"; readonly series: readonly HistogramSeries[] }
  );

/** The `Content-Type` of the text format. */
export const EXPOSITION_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/**
 * Renders metric families in the text format. Families without series are still declared
 * (`# HELP`, `# TYPE`), so a scraper sees every metric from the first scrape.
 *
 * @example
 * ```ts
 * import { renderExposition } from "./prometheus.ts";
 * const text = renderExposition([{
 *   name: "jobs_total",
 *   help: "Jobs done.",
 *   type: "counter",
 *   samples: [{ labels: { queue: "a" }, value: 3 }],
 * }]);
 * console.log(text); // # HELP jobs_total Jobs done.\n# TYPE jobs_total counter\njobs_total{queue="a"} 3\n
 * ```
 *
 * @throws {TypeError} for an invalid metric or label name (a programming error).
 */
export function renderExposition(families: readonly MetricFamily[]): string {
  const lines: string[] = [];
  for (const family of families) {
    if (!METRIC_NAME.test(family.name)) throw new TypeError(`bad metric name ${family.name}`);
    lines.push(`# HELP ${family.name} ${escapeHelp(family.help)}`);
    lines.push(`# TYPE ${family.name} ${family.type}`);
    if (family.type === "histogram") {
      for (const series of family.series) {
        series.bounds.forEach((bound, i) => {
          lines.push(
            `${family.name}_bucket${renderLabels({ ...series.labels, le: formatValue(bound) })} ${
              formatValue(series.cumulative[i])
            }`,
          );
        });
        lines.push(
          `${family.name}_bucket${renderLabels({ ...series.labels, le: "+Inf" })} ${
            formatValue(series.count)
          }`,
        );
        lines.push(`${family.name}_sum${renderLabels(series.labels)} ${formatValue(series.sum)}`);
        lines.push(
          `${family.name}_count${renderLabels(series.labels)} ${formatValue(series.count)}`,
        );
      }
    } else {
      for (const sample of family.samples) {
        lines.push(`${family.name}${renderLabels(sample.labels)} ${formatValue(sample.value)}`);
      }
    }
  }
  return lines.length === 0 ? "" : lines.join("\n") + "\n";
}

/**
 * A number as the text format writes it: `NaN`, `+Inf`, `-Inf`, or the shortest decimal
 * that reads back as the same double.
 */
export function formatValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}

function renderLabels(labels: Labels | undefined): string {
  if (!labels) return "";
  const entries = Object.entries(labels);
  if (entries.length === 0) return "";
  return `{${
    entries.map(([name, value]) => {
      if (!LABEL_NAME.test(name) || name.startsWith("__")) {
        throw new TypeError(`bad label name ${name}`);
      }
      return `${name}="${escapeLabelValue(value)}"`;
    }).join(",")
  }}`;
}

/** Label values escape backslash, double quote and line feed. */
function escapeLabelValue(value: string): string {
  return value.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n");
}

/** Help text escapes backslash and line feed. */
function escapeHelp(text: string): string {
  return text.replaceAll("\\", "\\\\").replaceAll("\n", "\\n");
}
