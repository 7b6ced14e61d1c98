/**
 * A strict parser of the Prometheus text exposition format (0.0.4), for troupe's tests: it
 * rejects what a Prometheus server would reject, and checks histogram invariants.
 *
 * @module
 */

/** One parsed sample line. */
export interface ParsedSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** One metric family. */
export interface ParsedFamily {
  name: string;
  type: "counter" | "gauge" | "histogram" | "summary" | "untyped";
  help: string;
  samples: ParsedSample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

function parseValue(text: string, line: number): number {
  if (text === "NaN") return NaN;
  if (text === "+Inf") return Infinity;
  if (text === "-Inf") return -Infinity;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) {
    throw new Error(`line ${line}: bad value "${text}"`);
  }
  return Number(text);
}

/** Parses `{a="x",b="y"}` starting at `text[0] === "{"`; returns the labels and the rest. */
function parseLabels(text: string, line: number): [Record<string, string>, string] {
  const labels: Record<string, string> = {};
  let i = 1;
  while (true) {
    if (text[i] === "}") return [labels, text.slice(i + 1)];
    const eq = text.indexOf("=", i);
    if (eq === -1) throw new Error(`line ${line}: unterminated labels`);
    const name = text.slice(i, eq);
    if (!LABEL.test(name)) throw new Error(`line ${line}: bad label name "${name}"`);
    if (name in labels) throw new Error(`line ${line}: label ${name} twice`);
    if (text[eq + 1] !== '"') throw new Error(`line ${line}: label value must be quoted`);
    let value = "";
    let j = eq + 2;
    for (; j < text.length && text[j] !== '"'; j++) {
      if (text[j] === "\\") {
        const next = text[++j];
        if (next === "n") value += "\n";
        else if (next === "\\" || next === '"') value += next;
        else throw new Error(`line ${line}: bad escape \\${next}`);
      } else if (text[j] === "\n") {
        throw new Error(`line ${line}: raw line feed in a label value`);
      } else {
        value += text[j];
      }
    }
    if (j >= text.length) throw new Error(`line ${line}: unterminated label value`);
    labels[name] = value;
    i = j + 1;
    if (text[i] === ",") i++;
    else if (text[i] !== "}") throw new Error(`line ${line}: expected , or } after a label`);
  }
}

/**
 * Parses an exposition; throws on any syntax error, on a sample whose family was not
 * declared with `# TYPE` before it, on a family declared twice, and on a histogram whose
 * buckets are not cumulative or whose `+Inf` bucket differs from its `_count`.
 */
export function parseExposition(text: string): Map<string, ParsedFamily> {
  if (text !== "" && !text.endsWith("\n")) throw new Error("the exposition must end with \\n");
  const families = new Map<string, ParsedFamily>();
  const helps = new Map<string, string>();
  const lines = text.split("\n").slice(0, -1);
  lines.forEach((raw, index) => {
    const line = index + 1;
    if (raw.startsWith("#")) {
      const match = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(raw);
      if (!match) return; // a plain comment
      const [, kind, name, rest] = match;
      if (!NAME.test(name)) throw new Error(`line ${line}: bad metric name ${name}`);
      if (kind === "HELP") {
        helps.set(name, rest.replaceAll("\\n", "\n").replaceAll("\\\\", "\\"));
        return;
      }
      if (!["counter", "gauge", "histogram", "summary", "untyped"].includes(rest)) {
        throw new Error(`line ${line}: bad type ${rest}`);
      }
      if (families.has(name)) throw new Error(`line ${line}: ${name} declared twice`);
      families.set(name, {
        name,
        type: rest as ParsedFamily["type"],
        help: helps.get(name) ?? "",
        samples: [],
      });
      return;
    }
    if (raw.trim() === "") throw new Error(`line ${line}: empty line`);
    const nameMatch = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(raw);
    if (!nameMatch) throw new Error(`line ${line}: no metric name in "${raw}"`);
    const name = nameMatch[0];
    let rest = raw.slice(name.length);
    let labels: Record<string, string> = {};
    if (rest.startsWith("{")) [labels, rest] = parseLabels(rest, line);
    const parts = rest.trim().split(" ");
    if (!rest.startsWith(" ") || parts.length < 1 || parts.length > 2) {
      throw new Error(`line ${line}: expected "name{labels} value [timestamp]"`);
    }
    const value = parseValue(parts[0], line);
    const family = families.get(name) ??
      families.get(name.replace(/_(bucket|sum|count)$/, ""));
    if (!family) throw new Error(`line ${line}: ${name} has no # TYPE before it`);
    if (family.type === "histogram" && family.name === name) {
      throw new Error(`line ${line}: a histogram sample needs _bucket, _sum or _count`);
    }
    if (family.type !== "histogram" && family.name !== name) {
      throw new Error(`line ${line}: ${name} does not belong to ${family.type} ${family.name}`);
    }
    if (family.type === "counter" && !(value >= 0)) {
      throw new Error(`line ${line}: counter ${name} is negative`);
    }
    family.samples.push({ name, labels, value });
  });
  for (const family of families.values()) {
    if (family.type === "histogram") checkHistogram(family);
  }
  return families;
}

function checkHistogram(family: ParsedFamily): void {
  const series = new Map<string, { buckets: [number, number][]; count?: number }>();
  for (const sample of family.samples) {
    const { le, ...rest } = sample.labels;
    const key = JSON.stringify(Object.entries(rest).sort());
    let entry = series.get(key);
    if (!entry) series.set(key, entry = { buckets: [] });
    if (sample.name.endsWith("_bucket")) {
      if (le === undefined) throw new Error(`${family.name}: a bucket without le`);
      entry.buckets.push([parseValue(le, 0), sample.value]);
    } else if (sample.name.endsWith("_count")) {
      entry.count = sample.value;
    }
  }
  for (const entry of series.values()) {
    const last = entry.buckets.at(-1);
    if (!last || last[0] !== Infinity) throw new Error(`${family.name}: no +Inf bucket`);
    for (let i = 1; i < entry.buckets.length; i++) {
      if (entry.buckets[i][0] <= entry.buckets[i - 1][0]) {
        throw new Error(`${family.name}: bucket bounds not increasing`);
      }
      if (entry.buckets[i][1] < entry.buckets[i - 1][1]) {
        throw new Error(`${family.name}: bucket counts not cumulative`);
      }
    }
    if (entry.count !== last[1]) throw new Error(`${family.name}: +Inf bucket != _count`);
  }
}

/** The sum of a family's samples named `name` whose labels include `where`. */
export function sumOf(
  families: Map<string, ParsedFamily>,
  name: string,
  where: Record<string, string> = {},
): number {
  const family = families.get(name.replace(/_(bucket|sum|count)$/, "")) ?? families.get(name);
  if (!family) throw new Error(`no metric ${name}`);
  return family.samples
    .filter((sample) =>
      sample.name === name &&
      Object.entries(where).every(([label, value]) => sample.labels[label] === value)
    )
    .reduce((sum, sample) => sum + sample.value, 0);
}
