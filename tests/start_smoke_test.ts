import assert from "node:assert/strict";
import { env as servers, eventually, metricValue, repoRoot, testDatabase, testTopics } from "./helpers.ts";
import { as, testJwtSecret } from "./users.ts";
import { JwtTokens } from "../adapters/jwt/tokens.ts";
import { systemClock } from "../application/ports.ts";

/**
 * `deno task start` as a user runs it: no DATABASE_URL, KAFKA_BROKERS or REDIS_URL, a data folder of its own.
 * It signs tokens with the tests' secret, as every test process does, unless `extra` says otherwise.
 */
async function start(dataDir: string, extra: Record<string, string> = {}) {
  const env: Record<string, string> = {
    DATA_DIR: dataDir,
    PORT: "0",
    BATCH_FLUSH_MS: "100",
    RELAY_POLL_MS: "100",
    JWT_SECRET: testJwtSecret,
    ...extra,
  };
  for (const name of ["PATH", "HOME", "DENO_DIR", "XDG_CACHE_HOME"]) {
    const value = Deno.env.get(name);
    if (value) env[name] = value;
  }
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "bin/start.ts"],
    cwd: repoRoot,
    clearEnv: true,
    env,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const output: string[] = [];
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const stderr = new Response(child.stderr).text();
  let url: string | undefined;
  const reading = (async () => {
    let buffer = "";
    for (;;) {
      const { value, done } = await lines.read();
      if (done) return;
      buffer += value;
      const parts = buffer.split("\n");
      buffer = parts.pop()!;
      for (const line of parts) {
        output.push(line);
        url ??= line.match(/ready in \d+ ms: (http:\/\/\S+)/)?.[1];
      }
    }
  })();
  const exited = child.status;
  const stop = async (signal: Deno.Signal) => {
    try {
      child.kill(signal);
    } catch { /* already gone */ }
    const status = await exited;
    await reading;
    await stderr;
    return status;
  };
  try {
    await Promise.race([
      eventually(() => Promise.resolve(url), (u) => u !== undefined, {
        timeoutMs: 60_000,
        what: "ready line",
      }),
      exited.then(async (s) => {
        if (!url) throw new Error(`start exited with ${s.code}: ${output.join("\n")}\n${await stderr}`);
      }),
    ]);
  } catch (error) {
    await stop("SIGKILL");
    throw error;
  }
  return {
    url: url!,
    output,
    /** What the process wrote to stderr (its logs), once it has exited. */
    stderr,
    /** Sends `signal` (unless the process already exited) and waits for the exit. */
    stop,
  };
}

type Started = Awaited<ReturnType<typeof start>>;

/** `Authorization` headers of a signed-in user. */
type UserHeaders = { authorization: string };

const like = (url: string, user: UserHeaders, video: number) =>
  fetch(`${url}/videos/${video}/likes`, { method: "POST", headers: user });

/**
 * Registers an account over HTTP and signs in with it (the embedded database is the process's own): the
 * account's id and its `Authorization` headers.
 */
async function signUp(url: string, username: string): Promise<{ id: string; headers: UserHeaders }> {
  const email = `${username}@example.test`;
  const password = "correct horse battery staple";
  const json = { "content-type": "application/json" };
  const registered = await fetch(`${url}/users/register`, {
    method: "POST",
    headers: json,
    body: JSON.stringify({ username, email, password }),
  });
  const account = await registered.json();
  assert.equal(registered.status, 201, JSON.stringify(account));
  const login = await fetch(`${url}/users/login`, {
    method: "POST",
    headers: json,
    body: JSON.stringify({ email, password }),
  });
  const body = await login.json();
  assert.equal(login.status, 200, JSON.stringify(body));
  assert.equal(body.tokenType, "Bearer");
  return { id: account.id, headers: { authorization: `Bearer ${body.accessToken}` } };
}

/** Events the like projection applied in this process, from start's /metrics (a counter per process). */
async function processed(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return metricValue(text, "consumer_events_processed_total", { group: "like-persistence-group" });
}

/** Log lines at level error, and anything on stderr that is not a log line (an uncaught error). */
function errorLines(stderr: string): string[] {
  return stderr.split("\n").filter((line) => {
    if (line.trim() === "") return false;
    try {
      return JSON.parse(line).level === "error";
    } catch {
      return true;
    }
  });
}

async function status(
  url: string,
  video: number,
  user?: UserHeaders,
): Promise<{ count: number; liked: boolean }> {
  const response = await fetch(`${url}/videos/${video}/likes`, { headers: user ?? {} });
  return await response.json();
}

Deno.test("deno task start: embedded platform keeps its data across SIGTERM and SIGKILL, each like applied once", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "start-smoke-" });
  const started: Started[] = [];
  const launch = async () => {
    const app = await start(dataDir);
    started.push(app);
    return app;
  };
  try {
    // given a fresh data folder, when a user likes a video
    let app = await launch();
    assert.ok(app.output.some((line) => line.includes("PGlite created")), app.output.join("\n"));
    const { headers: ada } = await signUp(app.url, "ada");
    const response = await like(app.url, ada, 42);
    assert.equal(response.status, 200);
    await response.body?.cancel();
    // then the consumer's projection counts it
    await eventually(() => status(app.url, 42), (s) => s.count === 1, { what: "count 1" });

    // when stopped with SIGTERM and started again, the data is there
    assert.equal((await app.stop("SIGTERM")).code, 0);
    app = await launch();
    assert.ok(app.output.some((line) => line.includes("PGlite opened")));
    assert.deepEqual(await status(app.url, 42, ada), { count: 1, liked: true });

    // when it is killed with SIGKILL in the middle of 2 000 likes: 100 users liking each of 20 videos once
    // (20 likes each, within a user's rate limit), like n by user ceil(n / 20) on video (n % 20) + 1
    const users: UserHeaders[] = [];
    for (let i = 1; i <= 100; i++) users.push((await signUp(app.url, `liker${i}`)).headers);
    const userOf = (n: number) => users[Math.ceil(n / 20) - 1];
    const total = 2000;
    let next = 1;
    let answered = 0;
    let killed = false;
    const failures: string[] = [];
    const liker = async () => {
      while (next <= total) {
        const n = next++;
        let response: Response;
        try {
          response = await like(app.url, userOf(n), (n % 20) + 1);
        } catch (error) {
          // Requests cut by the kill fail; one that failed before it is a failure of the platform.
          if (!killed) failures.push(`like ${n}: ${error}`);
          return;
        }
        // Any status that arrived was given before the kill, and each must be a success.
        if (response.status === 200) answered++;
        else failures.push(`like ${n}: HTTP ${response.status} ${await response.text().catch(() => "")}`);
        await response.body?.cancel().catch(() => {});
      }
    };
    const liking = Promise.all(Array.from({ length: 8 }, liker));
    await eventually(() => Promise.resolve(answered), (n) => n >= 600, {
      timeoutMs: 60_000,
      what: "600 likes",
    });
    killed = true;
    assert.equal((await app.stop("SIGKILL")).signal, "SIGKILL");
    await liking;
    assert.ok(answered < total, `killed mid-stream (${answered} answered)`);
    assert.deepEqual(failures, [], "every like before the kill answered 200");
    assert.deepEqual(errorLines(await app.stderr), [], "no error logged before the kill");

    // then after a restart, every committed like is counted exactly once (the tokens from before still hold)
    app = await launch();
    const truth = new Map<number, number>();
    for (let n = 1; n < next; n++) {
      const video = (n % 20) + 1;
      if ((await status(app.url, video, userOf(n))).liked) truth.set(video, (truth.get(video) ?? 0) + 1);
    }
    const committed = [...truth.values()].reduce((a, b) => a + b, 0);
    assert.ok(committed >= answered, `every answered like committed (${committed} >= ${answered})`);
    for (let video = 1; video <= 20; video++) {
      await eventually(() => status(app.url, video), (s) => s.count === (truth.get(video) ?? 0), {
        timeoutMs: 30_000,
        what: `video ${video} counted ${truth.get(video) ?? 0} times`,
      });
    }
    // and the projection was behind when the process died: the restarted process, which got no new likes,
    // applied likes the killed one had committed but not applied
    assert.ok(await processed(app.url) > 0, "the restarted process had committed likes left to apply");
    assert.equal((await app.stop("SIGTERM")).code, 0);
  } finally {
    for (const app of started) await app.stop("SIGKILL");
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("deno task start without JWT_SECRET generates one into the data folder, says so, and reuses it: a token outlives a restart", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "start-secret-" });
  const secretPath = `${dataDir}/secrets/JWT_SECRET`;
  const started: Started[] = [];
  const launch = async () => {
    const app = await start(dataDir, { JWT_SECRET: "" });
    started.push(app);
    return app;
  };
  const me = async (url: string, headers: UserHeaders) => {
    const response = await fetch(`${url}/users/me`, { headers });
    await response.body?.cancel();
    return response.status;
  };
  try {
    // given a fresh data folder and no JWT_SECRET, when start runs
    let app = await launch();

    // then it generated a secret into <DATA_DIR>/secrets/JWT_SECRET, for its owner only, and said so
    const secret = (await Deno.readTextFile(secretPath)).trim();
    assert.ok(secret.length >= 32, `a secret of ${secret.length} characters`);
    assert.equal((await Deno.stat(secretPath)).mode! & 0o777, 0o600);
    const said = app.output.filter((line) => line.startsWith("✓"));
    assert.ok(
      said.some((line) => /secret/.test(line) && /generated/.test(line) && line.includes(secretPath)),
      said.join("\n"),
    );
    // and signing in works with it, and only with it: a token signed with another secret is refused
    const ada = await signUp(app.url, "ada");
    assert.equal(await me(app.url, ada.headers), 200);
    const other = new JwtTokens({ secret: testJwtSecret, ttlSeconds: 3600, clock: systemClock });
    const { token: forged } = await other.issue({ userId: ada.id, role: "user", tokenVersion: 0 });
    assert.equal(await me(app.url, { authorization: `Bearer ${forged}` }), 401);

    // when it is started again on the same data folder
    assert.equal((await app.stop("SIGTERM")).code, 0);
    app = await launch();

    // then the secret is reused, not generated again, and the token issued before the restart still holds
    assert.equal((await Deno.readTextFile(secretPath)).trim(), secret);
    assert.ok(
      !app.output.some((line) => line.startsWith("✓") && /generated/.test(line)),
      app.output.join("\n"),
    );
    assert.equal(await me(app.url, ada.headers), 200);
    const liked = await like(app.url, ada.headers, 5);
    assert.equal(liked.status, 200);
    await liked.body?.cancel();
    assert.equal((await app.stop("SIGTERM")).code, 0);
  } finally {
    for (const app of started) await app.stop("SIGKILL");
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("a second deno task start on the same data folder refuses at once, and the first is unharmed", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "start-lock-" });
  let first: Started | undefined;
  try {
    first = await start(dataDir);
    const url = first.url;
    const { headers: user } = await signUp(url, "ada");
    const liked = await like(first.url, user, 1);
    await liked.body?.cancel();
    const second = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "bin/start.ts"],
      cwd: repoRoot,
      env: { DATA_DIR: dataDir, PORT: "0", DATABASE_URL: "", KAFKA_BROKERS: "", REDIS_URL: "" },
    });
    const result = await second.output();
    assert.equal(result.code, 1);
    const message = new TextDecoder().decode(result.stderr);
    assert.match(message, new RegExp(`data folder ${dataDir} is in use`));
    await eventually(() => status(url, 1, user), (s) => s.liked && s.count === 1, {
      what: "first unharmed",
    });
    assert.equal((await first.stop("SIGTERM")).code, 0);
  } finally {
    await first?.stop("SIGKILL");
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("a malformed DATABASE_URL stops deno task start with the variable named, touching nothing", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "start-config-" });
  try {
    const result = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "bin/start.ts"],
      cwd: repoRoot,
      env: { DATA_DIR: dataDir, DATABASE_URL: "nonsense" },
    }).output();
    assert.equal(result.code, 2);
    assert.match(new TextDecoder().decode(result.stderr), /DATABASE_URL="nonsense": must be a postgres/);
    assert.deepEqual([...Deno.readDirSync(dataDir)], [], "nothing written");
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});

for (
  const mode of [
    {
      // Two connections and four claim loops: each claim holds a connection while the in-process publish needs
      // another, which hung the process before the loops were capped at DATABASE_POOL - 1.
      name:
        "DATABASE_URL alone (pool of 2, 4 relay loops asked for): PostgreSQL with the in-process transport",
      kafka: false,
      redis: false,
      extra: { DATABASE_POOL: "2", RELAY_CONCURRENCY: "4" },
    },
    {
      name: "DATABASE_URL, KAFKA_BROKERS and REDIS_URL: the real deployment in one process",
      kafka: true,
      redis: true,
      extra: {} as Record<string, string>,
    },
  ]
) {
  Deno.test(`deno task start with ${mode.name}`, async () => {
    await using db = await testDatabase();
    const [topic] = await testTopics(2, "interaction-events");
    const dataDir = await Deno.makeTempDir({ prefix: "start-real-" });
    let started: Started | undefined;
    try {
      const app = started = await start(dataDir, {
        DATABASE_URL: servers.databaseUrl,
        DATABASE_SCHEMA: db.schema,
        NAME_PREFIX: topic.slice(0, topic.indexOf(".")),
        ...(mode.kafka ? { KAFKA_BROKERS: servers.brokers.join(",") } : {}),
        ...(mode.redis ? { REDIS_URL: servers.redisUrl } : {}),
        ...mode.extra,
      });
      assert.ok(app.output.some((line) => line.includes("PostgreSQL")), app.output.join("\n"));
      assert.ok(app.output.some((line) => line.includes(mode.kafka ? "transport  Kafka" : "in-process")));
      assert.ok(app.output.some((line) => line.includes(mode.redis ? "Redis cache" : "memory cache")));
      const response = await like(app.url, await as(db, 3), 9);
      assert.equal(response.status, 200);
      await response.body?.cancel();
      const counted = await eventually(
        () => db.query<{ count: string }>("select count::text from like_counts where target_id = 9"),
        (rows) => rows[0]?.count === "1",
        { what: "the projection row in PostgreSQL" },
      );
      assert.equal(counted.length, 1);
      assert.deepEqual([...Deno.readDirSync(dataDir)], [], "no embedded database nor secret was created");

      // and start's /metrics shows the relay and the consumer at work, as the relay and worker processes do
      const group = `${topic.slice(0, topic.indexOf("."))}.like-persistence-group`;
      const text = await eventually(
        async () => await (await fetch(`${app.url}/metrics`)).text(),
        (t) => metricValue(t, "consumer_events_processed_total", { group }) >= 1,
        { what: "consumer series on start's /metrics" },
      );
      assert.ok(metricValue(text, "relay_events_published_total") >= 1, "relay_events_published_total");
      assert.ok(text.includes("batch_processor_flush_size"), "BatchProcessor series");
      assert.equal((await app.stop("SIGTERM")).code, 0);
    } finally {
      await started?.stop("SIGKILL");
      await Deno.remove(dataDir, { recursive: true });
    }
  });
}
