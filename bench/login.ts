/**
 * Scenario 6, login: what sign-in costs when every attempt verifies an argon2id hash.
 *
 * 1. The reference: hash-wasm's `argon2id` in a loop in this process (the API stopped meanwhile), with the
 *    API's parameters: hashes per second and milliseconds per hash on one thread.
 * 2. bin/api.ts spawned on a fresh schema (default settings but for the throttle budgets, set high, and
 *    TRUST_FORWARDED_FOR, so that the run's failure counters are keyed by an address of its own), one account
 *    registered through `POST /users/register`, then autocannon (bench/login_driver.ts, its own process) POSTs
 *    `/users/login` with the right password at a few connection counts.
 * 3. The equal-time check: one request at a time, wrong passwords for the account alternated with an unknown
 *    address; both answer 401 after verifying a hash. Reported, not asserted.
 * 4. Optionally the same throughput and hash rate with OWASP's other row (12 MiB, 3 iterations).
 *
 * hash-wasm runs the WebAssembly synchronously on the calling thread, so an API process hashes one password at
 * a time: its ceiling is about the single-thread hash rate, whatever the connection count.
 */
import { Redis } from "ioredis";
import { argon2id } from "hash-wasm";
import { type Argon2Parameters, owaspArgon2 } from "../adapters/argon2/password_hasher.ts";
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
  uniqueId,
  waitForLog,
  waitUntil,
} from "./common.ts";

/** Options of the login scenario. */
export interface LoginOptions {
  /** autocannon connection counts, one run each. */
  readonly connections: readonly number[];
  readonly seconds: number;
  readonly warmupSeconds: number;
  /** How long the reference hashes in a loop. */
  readonly hashSeconds: number;
  /** Sequential attempts of each kind in the equal-time check (alternated). */
  readonly timingAttempts: number;
  /** Also measure OWASP's cheaper row (ARGON2_MEMORY_KIB=12288, ARGON2_ITERATIONS=3). */
  readonly cheaper: boolean;
}

/** The reference: argon2id hashes in a loop on one thread. */
export interface HashRate {
  readonly parameters: Argon2Parameters;
  readonly hashes: number;
  readonly seconds: number;
  readonly hashesPerSecond: number;
  readonly msPerHash: number;
}

/** One autocannon run of `POST /users/login`. */
export interface LoginRun {
  readonly parameters: Argon2Parameters;
  readonly connections: number;
  readonly seconds: number;
  readonly requests: number;
  /** requests / seconds. */
  readonly requestsPerSecond: number;
  readonly latencyMs: { p50: number; p90: number; p99: number; max: number; mean: number };
  readonly non2xx: number;
  readonly errors: number;
  readonly timeouts: number;
  /** CPU seconds during the measured run (warm-up excluded; the driver process is in `other`). */
  readonly cpu: CpuUsage;
  /** The API process's CPU seconds per second of the measured run (1.0: one core busy). */
  readonly apiCores: number;
  /** requestsPerSecond / the single-thread hash rate of the same parameters. */
  readonly ofHashRate?: number;
}

/** The equal-time check: wrong password for an existing account against an unknown address. */
export interface TimingCheck {
  readonly attempts: number;
  readonly wrongPasswordMs: Percentiles;
  readonly unknownAddressMs: Percentiles;
  /** wrong password − unknown address. */
  readonly meanDifferenceMs: number;
  readonly p50DifferenceMs: number;
  /** Status codes answered (all 401 expected). */
  readonly statuses: Readonly<Record<string, number>>;
}

/** What the login scenario reports. */
export interface LoginResult {
  readonly hashRate?: HashRate;
  readonly runs: LoginRun[];
  readonly timing?: TimingCheck;
  readonly cheaperHashRate?: HashRate;
  readonly cheaperRuns: LoginRun[];
  readonly errors: string[];
}

/** OWASP's other argon2id row: 12 MiB, 3 iterations, 1 lane. */
export const cheaperArgon2: Argon2Parameters = { memoryKib: 12_288, iterations: 3, parallelism: 1 };

const scope = "login";

/** The Redis key prefix of the API's login throttle (adapters/modules/usercenter.ts). */
const throttlePrefix = "rate:usercenter:login";

const describe = (p: Argon2Parameters) => `m=${p.memoryKib} KiB, t=${p.iterations}, p=${p.parallelism}`;

function randomText(bytes: number): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(bytes)), (b) => b.toString(16).padStart(2, "0"))
    .join("");
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** hash-wasm's argon2id in a loop on this thread for `seconds` (after one hash not counted). */
export async function measureHashRate(parameters: Argon2Parameters, seconds: number): Promise<HashRate> {
  const hash = (password: string) =>
    argon2id({
      password,
      salt: crypto.getRandomValues(new Uint8Array(16)),
      memorySize: parameters.memoryKib,
      iterations: parameters.iterations,
      parallelism: parameters.parallelism,
      hashLength: 32,
      outputType: "encoded",
    });
  await hash("warm-up: instantiates the WebAssembly and grows its memory");
  let hashes = 0;
  const started = performance.now();
  while (performance.now() - started < seconds * 1000) {
    await hash(`correct horse battery staple ${hashes}`);
    hashes++;
  }
  const elapsed = (performance.now() - started) / 1000;
  return {
    parameters,
    hashes,
    seconds: Math.round(elapsed * 100) / 100,
    hashesPerSecond: Math.round((hashes / elapsed) * 10) / 10,
    msPerHash: Math.round((elapsed * 1000 / hashes) * 10) / 10,
  };
}

/** A spawned API and the account registered on it. */
interface LoginTarget {
  readonly api: Spawned;
  readonly url: string;
  readonly email: string;
  readonly password: string;
}

/** Everything of one run that must not collide with other users of PostgreSQL and Redis. */
interface RunIdentity {
  readonly schema: BenchSchema;
  readonly jwtSecret: string;
  /** The X-Forwarded-For address of every request of the run (the throttle's per-address key). */
  readonly address: string;
  /** Addresses whose throttle keys the run made (deleted at the end). */
  readonly emails: string[];
}

/** Spawns bin/api.ts with `parameters`, waits for readiness, registers one account and signs in once. */
async function startTarget(run: RunIdentity, parameters: Argon2Parameters): Promise<LoginTarget> {
  const port = freePort();
  const api = await spawnDeno("api-login", "bin/api.ts", {
    PORT: String(port),
    DATABASE_SCHEMA: run.schema.name,
    DATABASE_URL: env.databaseUrl,
    REDIS_URL: env.redisUrl,
    KAFKA_BROKERS: env.brokers.join(","),
    LOG_LEVEL: "warn",
    JWT_SECRET: run.jwtSecret,
    ARGON2_MEMORY_KIB: String(parameters.memoryKib),
    ARGON2_ITERATIONS: String(parameters.iterations),
    ARGON2_PARALLELISM: String(parameters.parallelism),
    // Throttling would turn the equal-time check's failures into 429s: budgets out of reach.
    LOGIN_MAX_FAILURES: "1000000",
    LOGIN_MAX_FAILURES_PER_ADDRESS: "1000000",
    TRUST_FORWARDED_FOR: "true",
  });
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitUntil(
      async () => {
        try {
          const response = await fetch(`${url}/health/ready`);
          await response.body?.cancel();
          return response.ok;
        } catch {
          return false;
        }
      },
      "the API to be ready",
      60_000,
      200,
    );
    const id = uniqueId();
    const email = `bench-${id}@example.test`;
    const password = `bench login ${randomText(12)}`;
    run.emails.push(email);
    const registered = await post(url, "/users/register", { username: `bench${id}`, email, password }, run);
    if (registered.status !== 201) {
      throw new Error(`POST /users/register answered ${registered.status}: ${registered.body.slice(0, 500)}`);
    }
    const login = await post(url, "/users/login", { email, password }, run);
    const answer = login.status === 200 ? JSON.parse(login.body) : undefined;
    if (!answer?.accessToken || answer.tokenType !== "Bearer") {
      throw new Error(`POST /users/login answered ${login.status}: ${login.body.slice(0, 500)}`);
    }
    return { api, url, email, password };
  } catch (error) {
    await api.stop("SIGTERM");
    throw error;
  }
}

async function post(
  url: string,
  path: string,
  body: unknown,
  run: Pick<RunIdentity, "address">,
): Promise<{ status: number; body: string }> {
  const response = await fetch(`${url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-forwarded-for": run.address },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: await response.text() };
}

/** The JSON line bench/login_driver.ts prints. */
interface DriverResult {
  readonly requests: number;
  readonly latencyMs: { p50: number; p90: number; p99: number; max: number; mean: number };
  readonly non2xx: number;
  readonly errors: number;
  readonly timeouts: number;
}

/**
 * One autocannon run (warm-up, then the measured run) in a driver process; the API's CPU is taken from the
 * driver's "measuring" line to its exit, so the warm-up does not count.
 */
async function loginRun(
  target: LoginTarget,
  run: RunIdentity,
  parameters: Argon2Parameters,
  connections: number,
  options: LoginOptions,
  hashRate: HashRate | undefined,
): Promise<LoginRun> {
  progress(
    scope,
    `autocannon POST /users/login (${describe(parameters)}): ${connections} connections, ` +
      `${options.warmupSeconds} s warm-up + ${options.seconds} s`,
  );
  const driver = await spawnLogged("autocannon-login", Deno.execPath(), [
    "run",
    "-A",
    "--no-lock",
    "bench/login_driver.ts",
  ], {
    API_URL: target.url,
    CONNECTIONS: String(connections),
    DURATION: String(options.seconds),
    WARMUP: String(options.warmupSeconds),
    EMAIL: target.email,
    PASSWORD: target.password,
    FORWARDED_FOR: run.address,
  });
  let before: CpuUsage | undefined;
  let started = 0;
  try {
    await waitForLog(driver, '"measuring"', 60_000 + options.warmupSeconds * 1000);
    before = await cpuSnapshot({ api: [target.api.pid] });
    started = performance.now();
  } catch (error) {
    await driver.stop("SIGKILL");
    throw error;
  }
  await driver.status;
  const after = await cpuSnapshot({ api: [target.api.pid] });
  const wall = (performance.now() - started) / 1000;
  const line = (await driver.log()).split("\n").reverse().find((l) => l.startsWith('{"connections"'));
  if (!line) throw new Error(`autocannon printed no result:\n${(await driver.log()).slice(-2000)}`);
  const result = JSON.parse(line) as DriverResult;
  const cpu = cpuDelta(before, after);
  const requestsPerSecond = Math.round((result.requests / options.seconds) * 10) / 10;
  const measured: LoginRun = {
    parameters,
    connections,
    seconds: options.seconds,
    requests: result.requests,
    requestsPerSecond,
    latencyMs: result.latencyMs,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    cpu,
    apiCores: Math.round(((cpu.api ?? 0) / wall) * 100) / 100,
    ofHashRate: hashRate ? Math.round((requestsPerSecond / hashRate.hashesPerSecond) * 100) / 100 : undefined,
  };
  progress(
    scope,
    `login: ${measured.requestsPerSecond} req/s, p50 ${measured.latencyMs.p50} / p99 ${measured.latencyMs.p99} ms, ` +
      `non-2xx ${measured.non2xx}, errors ${measured.errors}; API ${measured.apiCores} cores` +
      (measured.ofHashRate !== undefined ? `; ${measured.ofHashRate}× the single-thread hash rate` : ""),
  );
  return measured;
}

/**
 * One request at a time: a wrong password for the account and an unknown address, alternated, `attempts` of
 * each after one of each not counted (the first unknown address also makes the API's decoy hash).
 */
async function timingCheck(target: LoginTarget, run: RunIdentity, attempts: number): Promise<TimingCheck> {
  progress(
    scope,
    `equal-time check: ${attempts} wrong passwords and ${attempts} unknown addresses, alternated`,
  );
  const unknown = `nobody-${uniqueId()}@example.test`;
  run.emails.push(unknown);
  const wrong = { email: target.email, password: `${target.password} wrong` };
  const absent = { email: unknown, password: target.password };
  const statuses: Record<string, number> = {};
  const attempt = async (body: { email: string; password: string }) => {
    const started = performance.now();
    const { status } = await post(target.url, "/users/login", body, run);
    const ms = performance.now() - started;
    statuses[status] = (statuses[status] ?? 0) + 1;
    return ms;
  };
  await attempt(wrong);
  await attempt(absent);
  for (const key of Object.keys(statuses)) delete statuses[key];
  const wrongMs: number[] = [];
  const absentMs: number[] = [];
  for (let i = 0; i < attempts; i++) {
    wrongMs.push(await attempt(wrong));
    absentMs.push(await attempt(absent));
  }
  const round = (n: number) => Math.round(n * 100) / 100;
  const w = percentiles(wrongMs);
  const a = percentiles(absentMs);
  const check: TimingCheck = {
    attempts,
    wrongPasswordMs: w,
    unknownAddressMs: a,
    meanDifferenceMs: round(w.mean - a.mean),
    p50DifferenceMs: round(w.p50 - a.p50),
    statuses,
  };
  progress(
    scope,
    `wrong password: mean ${w.mean.toFixed(1)} / p50 ${w.p50.toFixed(1)} ms; unknown address: mean ${
      a.mean.toFixed(1)
    } / p50 ${
      a.p50.toFixed(1)
    } ms; difference ${check.meanDifferenceMs} ms (mean), ${check.p50DifferenceMs} ms ` +
      `(p50); statuses ${JSON.stringify(statuses)}`,
  );
  return check;
}

/** Deletes the run's throttle keys (its accounts and its address) from Redis. */
async function clearThrottleKeys(run: RunIdentity): Promise<void> {
  const redis = new Redis(env.redisUrl, { maxRetriesPerRequest: 1, lazyConnect: true });
  try {
    await redis.connect();
    const keys = [
      ...run.emails.map((email) => `${throttlePrefix}:account:${email}`),
      `${throttlePrefix}:address:${run.address}`,
    ];
    await redis.del(...keys);
  } finally {
    redis.disconnect();
  }
}

/** Runs scenario 6: the reference hash rate, login throughput per connection count, the equal-time check. */
export async function runLogin(options: LoginOptions): Promise<LoginResult> {
  const errors: string[] = [];
  const runs: LoginRun[] = [];
  const cheaperRuns: LoginRun[] = [];
  let hashRate: HashRate | undefined;
  let cheaperHashRate: HashRate | undefined;
  let timing: TimingCheck | undefined;
  const fail = (what: string, error: unknown) => {
    errors.push(`login ${what}: ${error instanceof Error ? error.message : String(error)}`);
    progress(scope, `FAILED ${errors.at(-1)}`);
  };

  const variants: { parameters: Argon2Parameters; runs: LoginRun[]; timing: boolean }[] = [
    { parameters: owaspArgon2, runs, timing: true },
  ];
  if (options.cheaper) variants.push({ parameters: cheaperArgon2, runs: cheaperRuns, timing: false });

  // The reference first, with no API running: the machine's two cores are otherwise idle.
  for (const variant of variants) {
    try {
      progress(
        scope,
        `argon2id in a loop on one thread (${describe(variant.parameters)}), ${options.hashSeconds} s`,
      );
      const rate = await measureHashRate(variant.parameters, options.hashSeconds);
      if (variant.parameters === owaspArgon2) hashRate = rate;
      else cheaperHashRate = rate;
      progress(scope, `argon2id: ${rate.hashesPerSecond} hashes/s, ${rate.msPerHash} ms per hash`);
    } catch (error) {
      fail("hash rate", error);
    }
  }

  const schema = await createSchema("login", 4);
  const run: RunIdentity = {
    schema,
    jwtSecret: randomText(32),
    address: `bench-login-${uniqueId()}`,
    emails: [],
  };
  try {
    for (const variant of variants) {
      const reference = variant.parameters === owaspArgon2 ? hashRate : cheaperHashRate;
      let target: LoginTarget | undefined;
      try {
        progress(scope, `starting the API (${describe(variant.parameters)}) and registering an account`);
        target = await startTarget(run, variant.parameters);
        for (const connections of options.connections) {
          try {
            const measured = await loginRun(target, run, variant.parameters, connections, options, reference);
            variant.runs.push(measured);
            if (measured.non2xx > 0 || measured.errors > 0) {
              errors.push(
                `login ${connections} connections (${describe(variant.parameters)}): ${measured.non2xx} ` +
                  `non-2xx, ${measured.errors} errors (expected 0)`,
              );
            }
          } catch (error) {
            fail(`throughput, ${connections} connections (${describe(variant.parameters)})`, error);
          }
        }
        if (variant.timing) {
          try {
            timing = await timingCheck(target, run, options.timingAttempts);
            const others = Object.entries(timing.statuses).filter(([status]) => status !== "401");
            if (others.length > 0) {
              errors.push(
                `login equal-time check: answers other than 401: ${JSON.stringify(timing.statuses)}`,
              );
            }
          } catch (error) {
            fail("equal-time check", error);
          }
        }
      } catch (error) {
        fail(`API (${describe(variant.parameters)})`, error);
      } finally {
        await target?.api.stop("SIGTERM");
      }
    }
  } finally {
    await schema.drop();
    await clearThrottleKeys(run).catch(() => {});
  }
  return { hashRate, runs, timing, cheaperHashRate, cheaperRuns, errors };
}
