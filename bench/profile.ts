/** Reads V8 CPU profiles (`deno run --cpu-prof`) and names where the time went. */

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
}

/** One line of a profile summary: a function or a module, with its share of the samples. */
export interface ProfileEntry {
  readonly name: string;
  readonly selfPercent: number;
  readonly selfMs: number;
}

/** Top functions and modules by self time, and the share of samples that were busy (not idle). */
export interface ProfileSummary {
  readonly file: string;
  readonly durationMs: number;
  readonly busyPercent: number;
  readonly functions: ProfileEntry[];
  readonly modules: ProfileEntry[];
}

/** Shortens a script URL to the npm package (`npm:kafkajs`) or the repository path (`outbox/relay.ts`). */
function moduleOf(url: string): string {
  if (!url) return "(native)";
  const npm = url.match(/registry\.npmjs\.org\/((?:@[^/]+\/)?[^/]+)\//) ??
    url.match(/node_modules\/((?:@[^/]+\/)?[^/]+)\//);
  if (npm) return `npm:${npm[1]}`;
  if (url.startsWith("ext:")) return url.replace(/\/internal\//, "/").split("/").slice(0, 2).join("/");
  if (url.startsWith("node:")) return url;
  const local = url.match(/\/work\/[^/]+\/(.*)$/) ??
    url.match(/file:\/\/.*?\/((?:bin|outbox|adapters|bench|application|domain)\/.*)$/);
  return local ? local[1] : url.replace(/^.*\//, "");
}

/** Summarizes a .cpuprofile file: the `top` functions and modules by self time. */
export async function summarizeProfile(file: string, top = 12): Promise<ProfileSummary> {
  const profile = JSON.parse(await Deno.readTextFile(file)) as CpuProfile;
  const durationMs = (profile.endTime - profile.startTime) / 1000;
  const hits = new Map<number, number>();
  if (profile.samples) { for (const id of profile.samples) hits.set(id, (hits.get(id) ?? 0) + 1); }
  else for (const node of profile.nodes) hits.set(node.id, node.hitCount ?? 0);
  const total = [...hits.values()].reduce((a, b) => a + b, 0) || 1;
  const byFunction = new Map<string, number>();
  const byModule = new Map<string, number>();
  let idle = 0;
  for (const node of profile.nodes) {
    const count = hits.get(node.id) ?? 0;
    if (count === 0) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === "(idle)") idle += count;
    const module = moduleOf(url);
    const name = url ? `${functionName || "(anonymous)"} ${module}:${lineNumber + 1}` : functionName;
    byFunction.set(name, (byFunction.get(name) ?? 0) + count);
    byModule.set(url ? module : functionName, (byModule.get(url ? module : functionName) ?? 0) + count);
  }
  const entries = (map: Map<string, number>) =>
    [...map].filter(([name]) => name !== "(idle)").sort((a, b) => b[1] - a[1]).slice(0, top).map((
      [name, count],
    ) => ({
      name,
      selfPercent: Math.round((count / total) * 1000) / 10,
      selfMs: Math.round((count / total) * durationMs),
    }));
  return {
    file,
    durationMs: Math.round(durationMs),
    busyPercent: Math.round(((total - idle) / total) * 1000) / 10,
    functions: entries(byFunction),
    modules: entries(byModule),
  };
}

/** The newest .cpuprofile in `dir`, if any. */
export async function newestProfile(dir: string): Promise<string | undefined> {
  let newest: { path: string; time: number } | undefined;
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (!entry.name.endsWith(".cpuprofile")) continue;
      const path = `${dir}/${entry.name}`;
      const time = (await Deno.stat(path)).mtime?.getTime() ?? 0;
      if (!newest || time > newest.time) newest = { path, time };
    }
  } catch {
    return undefined;
  }
  return newest?.path;
}
