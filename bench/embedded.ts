/**
 * Embedded mode (`deno task start` with nothing but Deno): start-up time to ready on a new and on an existing
 * data folder, and the likes per second it carries from HTTP to the consumer's projection.
 *
 * The likes are signed in: before the timed part, a pool of users registers and logs in over HTTP (the
 * embedded database is the process's own), with a cheap argon2id cost and the per-user rate limit raised, since
 * sign-up is not what is measured and each user of the pool likes every video.
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
  const env: Record<string, string> = {
    DATA_DIR: dataDir,
    PORT: "0",
    BATCH_FLUSH_MS: "100",
    ARGON2_MEMORY_KIB: "8192",
    ARGON2_ITERATIONS: "1",
    RATE_LIMIT_POINTS: "1000000000",
  };
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

/** Registers an account over HTTP and logs in: its `Authorization` headers. */
async function signUp(url: string, username: string): Promise<{ authorization: string }> {
  const email = `${username}@example.test`;
  const password = "correct horse battery staple";
  const post = async (path: string, body: unknown, status: number) => {
    const response = await fetch(`${url}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    const text = await response.text();
    if (response.status !== status) throw new Error(`POST ${path}: ${response.status} ${text}`);
    return JSON.parse(text);
  };
  await post("/users/register", { username, email, password }, 201);
  const { accessToken } = await post("/users/login", { email, password }, 200);
  return { authorization: `Bearer ${accessToken}` };
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
      // Like n is by user ceil(n / videos) on video n % videos + 1: each a new (user, video).
      const users: { authorization: string }[] = [];
      let nextUser = 1;
      const registrar = async () => {
        while (nextUser <= Math.ceil(options.likes / videos)) {
          const i = nextUser++;
          users[i - 1] = await signUp(app.url, `liker${i}`);
        }
      };
      await Promise.all(Array.from({ length: 8 }, registrar));
      progress("embedded", `${users.length} users signed up; liking`);
      let next = 1;
      const started = performance.now();
      const worker = async () => {
        while (next <= options.likes) {
          const n = next++;
          const response = await fetch(`${app.url}/videos/${(n % videos) + 1}/likes`, {
            method: "POST",
            headers: users[Math.ceil(n / videos) - 1],
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
