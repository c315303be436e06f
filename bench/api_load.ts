/**
 * Scenario 4, API: the like endpoint (bin/api.ts spawned) under autocannon load, each request a new like, and
 * beside it pgbench running the endpoint's transaction (read the like, insert the like, insert the outbox row
 * with its NOTIFY) at the same concurrency on the same database: the database's own limit for that work.
 *
 * Every request is signed in as one of a pool of accounts created in the schema (bench/api_driver.ts tells
 * which user makes which like), so the API verifies a token per request, and reads the account when its session
 * is not cached; pgbench does neither. The per-user rate limit is raised out of the way: the pool's users like
 * far more often than a person would, and the limiter still spends a point per write.
 *
 * After each round's POST run, a read phase on the same API process: autocannon GETs `/videos/:id/likes` (same
 * connections, half the duration) as users of the POST run, then `GET /cache/stats` (operator token) gives the
 * like cache's hits and misses, which only those reads make (the POST path reads no cache).
 */
import { Redis } from "ioredis";
import { envelopeHeaders } from "../outbox/buckets.ts";
import { likeEnvelope } from "../application/interaction/like_event.ts";
import {
  type BenchSchema,
  cpuDelta,
  cpuSnapshot,
  type CpuUsage,
  createSchema,
  env,
  type Percentiles,
  percentiles,
  progress,
  spawnDeno,
  type Spawned,
  spawnLogged,
  waitUntil,
} from "./common.ts";
import { newestProfile, type ProfileSummary, summarizeProfile } from "./profile.ts";
import { signedIn, testJwtSecret } from "../tests/users.ts";

/** Options of the API scenario. */
export interface ApiOptions {
  readonly connections: number;
  /** Rounds of (API, pgbench), alternated so that drifting load on the machine hits both alike. */
  readonly rounds: number;
  /** Where to write a CPU profile of the API (an extra round); none when undefined. */
  readonly profileDir?: string;
  readonly seconds: number;
  readonly warmupSeconds: number;
}

/** The endpoint under autocannon. */
export interface ApiRun {
  readonly requests: number;
  readonly requestsPerSecond: number;
  readonly latencyMs: { p50: number; p90: number; p99: number; max: number; mean: number };
  readonly non2xx: number;
  readonly errors: number;
  readonly likeRows: number;
  readonly outboxRows: number;
  /** The likes of the measured run, by number (bench/api_driver.ts derives the user and video of each). */
  readonly likes: { readonly first: number; readonly last: number };
  readonly cpu: CpuUsage;
}

/** What `GET /cache/stats` answers. */
export interface CacheStatsAnswer {
  readonly backend: string;
  readonly hits: number;
  readonly misses: number;
  readonly hitRatio: number;
  readonly keys: Readonly<Record<string, number>>;
  readonly memoryBytes?: number;
  readonly warmUp: unknown;
}

/** The read phase after a round's POST run: `GET /videos/:id/likes` under autocannon, and the cache's counters. */
export interface ApiReadRun {
  /** The round (1-based) whose API process and POST users it read. */
  readonly round: number;
  readonly seconds: number;
  readonly requests: number;
  readonly requestsPerSecond: number;
  readonly latencyMs: { p50: number; p90: number; p99: number; max: number; mean: number };
  readonly non2xx: number;
  readonly errors: number;
  /** Share of the requests asking for the video the user liked in the POST run (the rest: a random one). */
  readonly ownVideoShare: number;
  /** Cache hits and misses during the run (each GET reads the count and the user's state). */
  readonly hits: number;
  readonly misses: number;
  /** hits / (hits + misses). */
  readonly hitRatio: number;
  /** Cache reads the process had counted before the run (0: the POST path reads no cache). */
  readonly readsBefore: number;
  /** `GET /cache/stats` after the run, as answered. */
  readonly stats: CacheStatsAnswer;
  readonly cpu: CpuUsage;
}

/** pgbench running the same transaction. */
export interface PgbenchRun {
  readonly transactions: number;
  readonly tps: number;
  readonly latencyMs: Percentiles;
  readonly failed: number;
  readonly cpu: CpuUsage;
  readonly script: string;
}

/** What the API scenario reports: means over the rounds, each round, and pgbench without NOTIFY. */
export interface ApiResult {
  readonly connections: number;
  readonly seconds: number;
  readonly rounds: number;
  readonly api?: ApiRun;
  readonly pgbench?: PgbenchRun;
  readonly apiRounds: ApiRun[];
  readonly pgbenchRounds: PgbenchRun[];
  /** The read phase: rates and latencies averaged over the rounds, hits and misses summed. */
  readonly read?: ApiReadRun;
  readonly readRounds: ApiReadRun[];
  readonly withoutNotify?: PgbenchRun;
  /** CPU profile of the API process under load, when asked for. */
  readonly profile?: ProfileSummary;
  readonly errors: string[];
}

const scope = "api";

/** Share of the read phase's requests on the video the reading user liked (see bench/api_driver.ts). */
const ownVideoShare = 0.5;

/** The 1 000 videos' cache keys, as the API's RedisLikeCache names them (no prefix). */
const cacheKeys = Array.from(
  { length: 1000 },
  (_, i) => [`like:target:video:${i + 1}`, `like:users:video:${i + 1}`],
).flat();

/** Deletes the 1 000 videos' cache entries, so that a round starts with an empty cache as with empty tables. */
async function clearLikeCache(): Promise<void> {
  const redis = new Redis(env.redisUrl, { maxRetriesPerRequest: 1, lazyConnect: true });
  try {
    await redis.connect();
    await redis.del(...cacheKeys);
  } finally {
    redis.disconnect();
  }
}

/** Accounts of the pool the drivers sign in as: a count prime to 10 (see bench/api_driver.ts). */
const poolUsers = 10_001;

/**
 * Creates the pool's accounts in the schema (when missing) and writes a fresh access token for each, signed with
 * the secret the API is given, to a file for the drivers; the file's path.
 */
async function writeUserTokens(schema: BenchSchema, path: string): Promise<string> {
  const ids = Array.from({ length: poolUsers }, (_, i) => i + 1);
  const headers = await signedIn(schema.db, ids);
  await Deno.writeTextFile(path, JSON.stringify(ids.map((id) => headers.get(String(id))!.authorization)));
  return path;
}

/** A random token of 32 hexadecimal characters for the API's operator endpoints. */
function operatorToken(): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0"))
    .join("");
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

async function count(db: { query<T>(text: string): Promise<T[]> }, table: string): Promise<number> {
  return (await db.query<{ n: number }>(`select count(*)::int as n from ${table}`))[0].n;
}

/** The pgbench script: the statements setLike sends for a new like, with an outbox row of the same size. */
function pgbenchScript(channel: string): string {
  const sample = likeEnvelope(
    {
      type: "LikeAdded",
      userId: "1234567890",
      target: { type: "video", id: "123" },
      action: 1,
      at: new Date(),
    },
    { "x-request-id": crypto.randomUUID() },
  );
  const quote = (text: string) => `'${text.replaceAll("'", "''")}'`;
  const value = quote(JSON.stringify(sample));
  const headers = quote(JSON.stringify(envelopeHeaders(sample)));
  const topic = quote("interaction-events");
  return [
    "\\set uid random(1, 9000000000000000)",
    "\\set vid random(1, 1000)",
    "\\set bucket random(0, 63)",
    "BEGIN;",
    "SELECT 1 FROM likes WHERE target_type = 'video' AND target_id = :vid AND user_id = :uid;",
    "INSERT INTO likes (target_type, target_id, user_id, created_at) VALUES ('video', :vid, :uid, now()) " +
    "ON CONFLICT DO NOTHING RETURNING 1;",
    "WITH inserted AS (INSERT INTO outbox (bucket, topic, key, event_id, event_type, value, headers) " +
    `VALUES (:bucket, ${topic}, 'video:' || :vid, gen_random_uuid(), 'LikeEvent', ${value}, ${headers}::jsonb) ` +
    `RETURNING 1) SELECT pg_notify(${quote(channel)}, '') FROM (SELECT count(*) FROM inserted) AS done;`,
    "COMMIT;",
    "",
  ].join("\n");
}

async function checkpoint(db: { exec(text: string): Promise<void> }): Promise<void> {
  await db.exec("checkpoint").catch(() => {});
}

/** The same script with the NOTIFY taken out of the outbox statement. */
function withoutNotifyScript(script: string): string {
  return script.replace(
    /SELECT pg_notify\([^)]*\) FROM \(SELECT count\(\*\) FROM inserted\) AS done;/,
    "SELECT count(*) FROM inserted;",
  );
}

/** Spawns bin/api.ts over `schema` on a free port; resolves once it is ready (/health/ready). */
async function startApi(
  schemaName: string,
  token: string,
  denoFlags: string[] = [],
): Promise<{ api: Spawned; port: number }> {
  const port = freePort();
  const api = await spawnDeno("api", "bin/api.ts", {
    PORT: String(port),
    DATABASE_SCHEMA: schemaName,
    DATABASE_URL: env.databaseUrl,
    REDIS_URL: env.redisUrl,
    KAFKA_BROKERS: env.brokers.join(","),
    LOG_LEVEL: "warn",
    OPERATOR_TOKEN: token,
    JWT_SECRET: testJwtSecret,
    RATE_LIMIT_POINTS: "1000000000",
  }, denoFlags);
  await waitUntil(
    async () => {
      try {
        return (await fetch(`http://127.0.0.1:${port}/health/ready`)).ok;
      } catch {
        return false;
      }
    },
    "the API to be ready",
    60_000,
    200,
  );
  return { api, port };
}

/** The JSON line bench/api_driver.ts prints (likes: the measured run's for post, those read as for get). */
interface DriverResult {
  readonly requests: number;
  readonly requestsPerSecond: number;
  readonly latencyMs: { p50: number; p90: number; p99: number; max: number; mean: number };
  readonly non2xx: number;
  readonly errors: number;
  readonly firstLike: number;
  readonly lastLike: number;
}

/** Runs bench/api_driver.ts with `envVars` against the API; its JSON line and the API's CPU meanwhile. */
async function drive(
  label: string,
  api: Spawned,
  envVars: Record<string, string>,
): Promise<{ result: DriverResult; cpu: CpuUsage }> {
  const before = await cpuSnapshot({ api: [api.pid] });
  const driver = await spawnLogged(label, Deno.execPath(), [
    "run",
    "-A",
    "--no-lock",
    "bench/api_driver.ts",
  ], envVars);
  await driver.status;
  const after = await cpuSnapshot({ api: [api.pid] });
  const line = (await driver.log()).split("\n").reverse().find((l) => l.startsWith("{"));
  if (!line) throw new Error(`autocannon printed no result:\n${(await driver.log()).slice(-2000)}`);
  return { result: JSON.parse(line) as DriverResult, cpu: cpuDelta(before, after) };
}

/**
 * One autocannon run against the API (in a driver process), on emptied tables after a checkpoint, with the
 * 1 000 videos' cache entries deleted (a previous round's read phase filled counts).
 */
async function apiRound(
  schema: BenchSchema,
  api: Spawned,
  port: number,
  tokensFile: string,
  options: ApiOptions,
): Promise<ApiRun> {
  await schema.db.exec("truncate likes, outbox");
  await clearLikeCache();
  await checkpoint(schema.db);
  progress(
    scope,
    `autocannon: ${options.connections} connections, ${options.warmupSeconds} s warm-up + ${options.seconds} s`,
  );
  const { result, cpu } = await drive("autocannon", api, {
    API_URL: `http://127.0.0.1:${port}`,
    CONNECTIONS: String(options.connections),
    DURATION: String(options.seconds),
    WARMUP: String(options.warmupSeconds),
    TOKENS_FILE: tokensFile,
  });
  const run: ApiRun = {
    requests: result.requests,
    requestsPerSecond: Math.round(result.requestsPerSecond),
    latencyMs: result.latencyMs,
    non2xx: result.non2xx,
    errors: result.errors,
    likeRows: await count(schema.db, "likes"),
    outboxRows: await count(schema.db, "outbox"),
    likes: { first: result.firstLike, last: result.lastLike },
    cpu,
  };
  progress(scope, `API: ${run.requestsPerSecond} req/s, p99 ${run.latencyMs.p99} ms, non-2xx ${run.non2xx}`);
  return run;
}

/** `GET /cache/stats` of the API on `port`. */
async function cacheStats(port: number, token: string): Promise<CacheStatsAnswer> {
  const response = await fetch(`http://127.0.0.1:${port}/cache/stats`, {
    headers: { authorization: `Bearer ${token}` },
  });
  const body = await response.text();
  if (!response.ok) throw new Error(`GET /cache/stats answered ${response.status}: ${body.slice(0, 500)}`);
  return JSON.parse(body) as CacheStatsAnswer;
}

/**
 * The read phase after a POST run, on the same API process: `GET /videos/:id/likes` with the same connections
 * for half the duration, as users of that run, then the cache's counters from `GET /cache/stats`.
 */
async function readRound(
  round: number,
  api: Spawned,
  port: number,
  post: ApiRun,
  token: string,
  tokensFile: string,
  options: ApiOptions,
): Promise<ApiReadRun> {
  if (!(post.likes.last >= post.likes.first)) {
    throw new Error("the POST run liked nothing: no users to read as");
  }
  const seconds = options.seconds / 2;
  const statsBefore = await cacheStats(port, token);
  progress(
    scope,
    `autocannon GET: ${options.connections} connections, ${seconds} s, as the users of the POST run's ${
      post.likes.last - post.likes.first + 1
    } likes`,
  );
  const { result, cpu } = await drive("autocannon-get", api, {
    API_URL: `http://127.0.0.1:${port}`,
    CONNECTIONS: String(options.connections),
    DURATION: String(seconds),
    WARMUP: "0",
    MODE: "get",
    TOKENS_FILE: tokensFile,
    LIKE_FIRST: String(post.likes.first),
    LIKE_LAST: String(post.likes.last),
    OWN_VIDEO_SHARE: String(ownVideoShare),
  });
  const stats = await cacheStats(port, token);
  const hits = stats.hits - statsBefore.hits;
  const misses = stats.misses - statsBefore.misses;
  if (!(hits + misses > 0)) {
    throw new Error(`the GET run counted no cache reads: GET /cache/stats ${JSON.stringify(stats)}`);
  }
  const run: ApiReadRun = {
    round,
    seconds,
    requests: result.requests,
    requestsPerSecond: Math.round(result.requestsPerSecond),
    latencyMs: result.latencyMs,
    non2xx: result.non2xx,
    errors: result.errors,
    ownVideoShare,
    hits,
    misses,
    hitRatio: hits / (hits + misses),
    readsBefore: statsBefore.hits + statsBefore.misses,
    stats,
    cpu,
  };
  progress(
    scope,
    `API GET: ${run.requestsPerSecond} req/s, p99 ${run.latencyMs.p99} ms, non-2xx ${run.non2xx}; ` +
      `cache hit ratio ${run.hitRatio.toFixed(3)} (${hits} hits, ${misses} misses)`,
  );
  return run;
}

/** One pgbench run of `script` at the same concurrency, on emptied tables after a checkpoint. */
async function pgbenchRound(schema: BenchSchema, script: string, options: ApiOptions): Promise<PgbenchRun> {
  await schema.db.exec("truncate likes, outbox");
  await checkpoint(schema.db);
  const dir = await Deno.makeTempDir({ prefix: "bench-pgbench-" });
  try {
    await Deno.writeTextFile(`${dir}/like.sql`, script);
    const url = new URL(env.databaseUrl);
    const base = [
      "-h",
      url.hostname,
      "-p",
      url.port || "5432",
      "-U",
      decodeURIComponent(url.username || "postgres"),
      "-n",
      "-M",
      "prepared",
      "-c",
      String(options.connections),
      "-j",
      "2",
      "-f",
      `${dir}/like.sql`,
    ];
    const pgEnv = {
      PGOPTIONS: `-c search_path=${schema.name}`,
      ...(url.password ? { PGPASSWORD: decodeURIComponent(url.password) } : {}),
    };
    const database = url.pathname.slice(1) || "postgres";
    if (options.warmupSeconds > 0) {
      const warm = await spawnLogged(
        "pgbench-warmup",
        "pgbench",
        [...base, "-T", String(options.warmupSeconds), database],
        pgEnv,
        dir,
      );
      await warm.status;
    }
    progress(scope, `pgbench: ${options.connections} clients, ${options.seconds} s`);
    const before = await cpuSnapshot();
    const run = await spawnLogged(
      "pgbench",
      "pgbench",
      [...base, "-T", String(options.seconds), "-l", `--log-prefix=${dir}/tx`, database],
      pgEnv,
      dir,
    );
    const status = await run.status;
    const after = await cpuSnapshot();
    const log = await run.log();
    const tps = Number(log.match(/tps = ([\d.]+) \(without initial connection time\)/)?.[1] ?? NaN);
    if (!status.success || Number.isNaN(tps)) throw new Error(`pgbench failed:\n${log.slice(-2000)}`);
    const latencies: number[] = [];
    for await (const entry of Deno.readDir(dir)) {
      if (!entry.name.startsWith("tx")) continue;
      for (const line of (await Deno.readTextFile(`${dir}/${entry.name}`)).split("\n")) {
        const fields = line.split(" ");
        if (fields.length >= 3) latencies.push(Number(fields[2]) / 1000);
      }
    }
    const result: PgbenchRun = {
      transactions: Number(
        log.match(/number of transactions actually processed: (\d+)/)?.[1] ?? latencies.length,
      ),
      tps: Math.round(tps),
      latencyMs: percentiles(latencies),
      failed: Number(log.match(/number of failed transactions: (\d+)/)?.[1] ?? 0),
      cpu: cpuDelta(before, after),
      script,
    };
    progress(scope, `pgbench: ${result.tps} tps, p99 ${result.latencyMs.p99.toFixed(1)} ms`);
    return result;
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/** Means of rounds: req/s or tps, and the p50/p99 of each round averaged. */
function mean(values: readonly number[]): number {
  return values.length > 0 ? values.reduce((a, b) => a + b, 0) / values.length : NaN;
}

/** Runs scenario 4: rounds of (API, pgbench) alternated, then pgbench without the NOTIFY once. */
export async function runApiLoad(options: ApiOptions): Promise<ApiResult> {
  const errors: string[] = [];
  const schema = await createSchema("api", 4);
  const apiRounds: ApiRun[] = [];
  const pgbenchRounds: PgbenchRun[] = [];
  const readRounds: ApiReadRun[] = [];
  const token = operatorToken();
  const tokensDir = await Deno.makeTempDir({ prefix: "bench-api-users-" });
  let withoutNotify: PgbenchRun | undefined;
  let profile: ProfileSummary | undefined;
  const fail = (what: string, error: unknown) => {
    errors.push(`${what}: ${error instanceof Error ? error.message : String(error)}`);
    progress(scope, `FAILED ${errors.at(-1)}`);
  };
  try {
    const script = pgbenchScript(schema.channel);
    for (let round = 1; round <= options.rounds; round++) {
      if (options.rounds > 1) progress(scope, `round ${round} of ${options.rounds}`);
      let api: Spawned | undefined;
      try {
        // Fresh tokens each round: they expire after an hour.
        const tokensFile = await writeUserTokens(schema, `${tokensDir}/round${round}.json`);
        const started = await startApi(schema.name, token);
        api = started.api;
        const post = await apiRound(schema, api, started.port, tokensFile, options);
        apiRounds.push(post);
        try {
          readRounds.push(await readRound(round, api, started.port, post, token, tokensFile, options));
        } catch (error) {
          fail("API GET", error);
        }
      } catch (error) {
        fail("API", error);
      } finally {
        await api?.stop("SIGTERM");
      }
      try {
        pgbenchRounds.push(await pgbenchRound(schema, script, options));
      } catch (error) {
        fail("pgbench", error);
      }
    }
    if (options.profileDir) {
      let api: Spawned | undefined;
      try {
        progress(scope, "profiling the API with --cpu-prof (an extra short round, not counted)");
        const started = await startApi(schema.name, token, [
          "--cpu-prof",
          `--cpu-prof-dir=${options.profileDir}`,
        ]);
        api = started.api;
        const tokensFile = await writeUserTokens(schema, `${tokensDir}/profile.json`);
        await apiRound(schema, api, started.port, tokensFile, { ...options, seconds: 5, warmupSeconds: 0 });
        await api.stop("SIGTERM");
        const file = await newestProfile(options.profileDir);
        if (file) profile = await summarizeProfile(file);
      } catch (error) {
        fail("API profile", error);
      } finally {
        await api?.stop("SIGTERM");
      }
    }
    try {
      progress(scope, "pgbench without pg_notify (what the NOTIFY costs)");
      withoutNotify = await pgbenchRound(schema, withoutNotifyScript(script), options);
    } catch (error) {
      fail("pgbench without NOTIFY", error);
    }
  } finally {
    await schema.drop();
    await clearLikeCache().catch(() => {});
    await Deno.remove(tokensDir, { recursive: true }).catch(() => {});
  }
  const api: ApiRun | undefined = apiRounds.length === 0 ? undefined : {
    ...apiRounds[apiRounds.length - 1],
    requests: apiRounds.reduce((a, r) => a + r.requests, 0),
    requestsPerSecond: Math.round(mean(apiRounds.map((r) => r.requestsPerSecond))),
    latencyMs: {
      p50: mean(apiRounds.map((r) => r.latencyMs.p50)),
      p90: mean(apiRounds.map((r) => r.latencyMs.p90)),
      p99: mean(apiRounds.map((r) => r.latencyMs.p99)),
      max: Math.max(...apiRounds.map((r) => r.latencyMs.max)),
      mean: mean(apiRounds.map((r) => r.latencyMs.mean)),
    },
    non2xx: apiRounds.reduce((a, r) => a + r.non2xx, 0),
    errors: apiRounds.reduce((a, r) => a + r.errors, 0),
  };
  const pgbench: PgbenchRun | undefined = pgbenchRounds.length === 0 ? undefined : {
    ...pgbenchRounds[pgbenchRounds.length - 1],
    transactions: pgbenchRounds.reduce((a, r) => a + r.transactions, 0),
    tps: Math.round(mean(pgbenchRounds.map((r) => r.tps))),
    latencyMs: {
      ...pgbenchRounds[pgbenchRounds.length - 1].latencyMs,
      p50: mean(pgbenchRounds.map((r) => r.latencyMs.p50)),
      p95: mean(pgbenchRounds.map((r) => r.latencyMs.p95)),
      p99: mean(pgbenchRounds.map((r) => r.latencyMs.p99)),
      max: Math.max(...pgbenchRounds.map((r) => r.latencyMs.max)),
    },
  };
  const hits = readRounds.reduce((a, r) => a + r.hits, 0);
  const misses = readRounds.reduce((a, r) => a + r.misses, 0);
  const read: ApiReadRun | undefined = readRounds.length === 0 ? undefined : {
    ...readRounds[readRounds.length - 1],
    requests: readRounds.reduce((a, r) => a + r.requests, 0),
    requestsPerSecond: Math.round(mean(readRounds.map((r) => r.requestsPerSecond))),
    latencyMs: {
      p50: mean(readRounds.map((r) => r.latencyMs.p50)),
      p90: mean(readRounds.map((r) => r.latencyMs.p90)),
      p99: mean(readRounds.map((r) => r.latencyMs.p99)),
      max: Math.max(...readRounds.map((r) => r.latencyMs.max)),
      mean: mean(readRounds.map((r) => r.latencyMs.mean)),
    },
    non2xx: readRounds.reduce((a, r) => a + r.non2xx, 0),
    errors: readRounds.reduce((a, r) => a + r.errors, 0),
    hits,
    misses,
    hitRatio: hits / (hits + misses),
    readsBefore: readRounds.reduce((a, r) => a + r.readsBefore, 0),
  };
  return {
    connections: options.connections,
    seconds: options.seconds,
    rounds: options.rounds,
    api,
    pgbench,
    apiRounds,
    pgbenchRounds,
    read,
    readRounds,
    withoutNotify,
    profile,
    errors,
  };
}
