/**
 * Embedded mode (`deno task start` with nothing but Deno): start-up time to ready on a new and on an existing
 * data folder, and the likes per second it carries from HTTP to the consumer's projection.
 */
import { progress, repoRoot } from "./common.ts";

/** Results of the embedded scenario. */
export interface EmbeddedResult {
  readonly startNewMs: number;
  readonly startExistingMs: number;
  readonly readyReportedNewMs: number;
  readonly readyReportedExistingMs: number;
  readonly likes: number;
  readonly httpLikesPerSecond: number;
  readonly projectedLikesPerSecond: number;
  readonly concurrency: number;
}

async function startEmbedded(dataDir: string) {
  const spawnedAt = performance.now();
  const env: Record<string, string> = { DATA_DIR: dataDir, PORT: "0", BATCH_FLUSH_MS: "100" };
  for (const name of ["PATH", "HOME", "DENO_DIR"]) {
    const value = Deno.env.get(name);
    if (value) env[name] = value;
  }
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "bin/start.ts"],
    cwd: repoRoot,
    clearEnv: true,
    env,
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`start exited before ready:\n${text}`);
    text += value;
    const match = text.match(/ready in (\d+) ms: (http:\/\/\S+)/);
    if (match) {
      const wallMs = performance.now() - spawnedAt;
      (async () => {
        while (!(await reader.read()).done) { /* drain */ }
      })();
      return {
        url: match[2],
        wallMs,
        reportedMs: Number(match[1]),
        async stop() {
          child.kill("SIGTERM");
          await child.status;
        },
      };
    }
  }
}

async function totalCount(url: string, videos: number): Promise<number> {
  let sum = 0;
  for (let video = 1; video <= videos; video++) {
    const response = await fetch(`${url}/videos/${video}/likes`);
    sum += (await response.json()).count;
  }
  return sum;
}

/** Runs the scenario: two starts, then `likes` likes over HTTP at `concurrency`. */
export async function runEmbedded(options: { likes: number; concurrency?: number }): Promise<EmbeddedResult> {
  const concurrency = options.concurrency ?? 32;
  const videos = 50;
  const dataDir = await Deno.makeTempDir({ prefix: "bench-embedded-" });
  try {
    progress("embedded", "start on a new data folder");
    const fresh = await startEmbedded(dataDir);
    await fresh.stop();
    progress("embedded", `ready after ${Math.round(fresh.wallMs)} ms (new folder); start again on it`);
    const app = await startEmbedded(dataDir);
    progress(
      "embedded",
      `ready after ${Math.round(app.wallMs)} ms (existing folder); ${options.likes} likes`,
    );
    try {
      let next = 1;
      const started = performance.now();
      const worker = async () => {
        while (next <= options.likes) {
          const user = next++;
          const response = await fetch(`${app.url}/videos/${(user % videos) + 1}/likes`, {
            method: "POST",
            headers: { "x-user-id": String(user) },
          });
          if (!response.ok) throw new Error(`like failed: ${response.status} ${await response.text()}`);
          await response.body?.cancel();
        }
      };
      await Promise.all(Array.from({ length: concurrency }, worker));
      const httpSeconds = (performance.now() - started) / 1000;
      while ((await totalCount(app.url, videos)) < options.likes) await new Promise((r) => setTimeout(r, 50));
      const projectedSeconds = (performance.now() - started) / 1000;
      progress("embedded", `${options.likes} likes projected in ${projectedSeconds.toFixed(2)} s`);
      return {
        startNewMs: Math.round(fresh.wallMs),
        startExistingMs: Math.round(app.wallMs),
        readyReportedNewMs: fresh.reportedMs,
        readyReportedExistingMs: app.reportedMs,
        likes: options.likes,
        httpLikesPerSecond: Math.round(options.likes / httpSeconds),
        projectedLikesPerSecond: Math.round(options.likes / projectedSeconds),
        concurrency,
      };
    } finally {
      await app.stop();
    }
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
}

if (import.meta.main) {
  const likes = Number(Deno.args[0] ?? 5000);
  console.log(JSON.stringify(await runEmbedded({ likes }), null, 2));
}
