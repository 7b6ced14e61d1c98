/**
 * Summarises V8 CPU profiles (`.cpuprofile`, as `deno run --cpu-prof` or `deno task bench
 * --profile` write them): self time per function, and total (inclusive) time per file, so a
 * hot path shows without a browser.
 *
 * ```sh
 * deno run --allow-read bench/profile_summary.ts bench/.build/profiles/*.cpuprofile
 * ```
 *
 * @module
 */

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Shortens a module URL to what identifies it: the npm package or the repository path. */
function shortUrl(url: string): string {
  const npm = /registry\.npmjs\.org\/(.+)$/.exec(url);
  if (npm) return `npm:${npm[1]}`;
  const repo = /\/(bench|supervisor|actors|kafka|testing|cli)\/(.+)$/.exec(url);
  if (repo) return `${repo[1]}/${repo[2]}`;
  return url.replace(/^.*\/ext:/, "ext:") || "(native)";
}

function summarise(profile: Profile, top: number): string {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) {
    for (const child of node.children ?? []) parent.set(child, node.id);
  }
  const self = new Map<string, number>();
  const selfFile = new Map<string, number>();
  const inclusiveFile = new Map<string, number>();
  let total = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = profile.timeDeltas[i] ?? 0;
    total += dt;
    const node = byId.get(profile.samples[i]);
    if (!node) continue;
    const frame = node.callFrame;
    const name = `${frame.functionName || "(anonymous)"} ${shortUrl(frame.url)}:${
      frame.lineNumber + 1
    }`;
    self.set(name, (self.get(name) ?? 0) + dt);
    const file = shortUrl(frame.url);
    selfFile.set(file, (selfFile.get(file) ?? 0) + dt);
    // Each file on the stack counts once per sample.
    const files = new Set<string>();
    for (let id: number | undefined = node.id; id !== undefined; id = parent.get(id)) {
      const url = byId.get(id)!.callFrame.url;
      if (url) files.add(shortUrl(url));
    }
    for (const file of files) inclusiveFile.set(file, (inclusiveFile.get(file) ?? 0) + dt);
  }
  const pct = (us: number) => `${(100 * us / total).toFixed(1).padStart(5)}%`;
  const lines = [`total ${(total / 1000).toFixed(0)} ms sampled`, "", "self time by function:"];
  for (const [name, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    lines.push(`  ${pct(us)}  ${name}`);
  }
  lines.push("", "self time by file:");
  for (const [file, us] of [...selfFile].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    lines.push(`  ${pct(us)}  ${(us / 1000).toFixed(0).padStart(6)} ms  ${file}`);
  }
  lines.push("", "inclusive time by file:");
  for (const [file, us] of [...inclusiveFile].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    lines.push(`  ${pct(us)}  ${file}`);
  }
  return lines.join("\n");
}

if (import.meta.main) {
  const top = 30;
  for (const file of Deno.args) {
    console.log(`== ${file}`);
    console.log(summarise(JSON.parse(await Deno.readTextFile(file)) as Profile, top));
    console.log();
  }
}
