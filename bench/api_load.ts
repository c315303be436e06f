/**
 * Scenario 4, API: the like endpoint (bin/api.ts spawned) under autocannon load, each request a new like, and
 * beside it pgbench running the endpoint's transaction (read the like, insert the like, insert the outbox row
 * with its NOTIFY) at the same concurrency on the same database: the database's own limit for that work.
 */
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
  readonly withoutNotify?: PgbenchRun;
  /** CPU profile of the API process under load, when asked for. */
  readonly profile?: ProfileSummary;
  readonly errors: string[];
}

const scope = "api";

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

/** Spawns bin/api.ts over `schema` on a free port; resolves once /health answers. */
async function startApi(
  schemaName: string,
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
  }, denoFlags);
  await waitUntil(
    async () => {
      try {
        return (await fetch(`http://127.0.0.1:${port}/health`).then((r) => r.text())).includes("ok");
      } catch {
        return false;
      }
    },
    "the API to answer /health",
    60_000,
    200,
  );
  return { api, port };
}

/** One autocannon run against the API (in a driver process), on emptied tables after a checkpoint. */
async function apiRound(
  schema: BenchSchema,
  api: Spawned,
  port: number,
  options: ApiOptions,
): Promise<ApiRun> {
  await schema.db.exec("truncate likes, outbox");
  await checkpoint(schema.db);
  progress(
    scope,
    `autocannon: ${options.connections} connections, ${options.warmupSeconds} s warm-up + ${options.seconds} s`,
  );
  const before = await cpuSnapshot({ api: [api.pid] });
  const driver = await spawnLogged("autocannon", Deno.execPath(), [
    "run",
    "-A",
    "--no-lock",
    "bench/api_driver.ts",
  ], {
    API_URL: `http://127.0.0.1:${port}`,
    CONNECTIONS: String(options.connections),
    DURATION: String(options.seconds),
    WARMUP: String(options.warmupSeconds),
    USER_BASE: String(Date.now() * 1000),
  });
  await driver.status;
  const after = await cpuSnapshot({ api: [api.pid] });
  const line = (await driver.log()).split("\n").reverse().find((l) => l.startsWith("{"));
  if (!line) throw new Error(`autocannon printed no result:\n${(await driver.log()).slice(-2000)}`);
  const result = JSON.parse(line);
  const run: ApiRun = {
    requests: result.requests,
    requestsPerSecond: Math.round(result.requestsPerSecond),
    latencyMs: result.latencyMs,
    non2xx: result.non2xx,
    errors: result.errors,
    likeRows: await count(schema.db, "likes"),
    outboxRows: await count(schema.db, "outbox"),
    cpu: cpuDelta(before, after),
  };
  progress(scope, `API: ${run.requestsPerSecond} req/s, p99 ${run.latencyMs.p99} ms, non-2xx ${run.non2xx}`);
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
        const started = await startApi(schema.name);
        api = started.api;
        apiRounds.push(await apiRound(schema, api, started.port, options));
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
        const started = await startApi(schema.name, ["--cpu-prof", `--cpu-prof-dir=${options.profileDir}`]);
        api = started.api;
        await apiRound(schema, api, started.port, { ...options, seconds: 5, warmupSeconds: 0 });
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
  return {
    connections: options.connections,
    seconds: options.seconds,
    rounds: options.rounds,
    api,
    pgbench,
    apiRounds,
    pgbenchRounds,
    withoutNotify,
    profile,
    errors,
  };
}
