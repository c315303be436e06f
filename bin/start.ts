/**
 * `deno task start`: the whole platform in one process (API, relay, consumers, jobs).
 * With no DATABASE_URL, KAFKA_BROKERS or REDIS_URL it needs nothing but Deno: PGlite in DATA_DIR, the
 * in-process transport, an in-memory cache and lock. Each variable set swaps in the real service on its own.
 */
import type { Hono } from "hono";
import type { Redis } from "ioredis";
import { createApp } from "../adapters/http/app.ts";
import { InProcessTransport } from "../adapters/inprocess/transport.ts";
import { type LagReader, Metrics } from "../adapters/metrics/prometheus.ts";
import { MemoryLock } from "../adapters/memory/lock.ts";
import { DataDirLockedError, lockDataDir } from "../adapters/pglite/data_dir_lock.ts";
import { openPglite } from "../adapters/pglite/pglite.ts";
import { migrate } from "../adapters/postgres/migrate.ts";
import type { SqlDatabase } from "../adapters/postgres/sql_client.ts";
import { RedisLock } from "../adapters/redis/lock.ts";
import type { DistributedLock } from "../application/ports.ts";
import type { RunningConsumer } from "../outbox/consumer.ts";
import type { Publisher, Subscriber, TopicAdmin } from "../outbox/ports.ts";
import {
  boot,
  failStart,
  kafkaAdmin,
  kafkaTransport,
  openDatabase,
  openRedis,
  shutdownSignal,
  untilReady,
  withDeadline,
} from "./infrastructure.ts";
import { modules } from "./modules.ts";
import {
  authenticatorOf,
  buildModules,
  checkApiRefusals,
  checkInboxRetention,
  checksOf,
  consumerChecks,
  ensureTopics,
  examplesOf,
  generatedSecrets,
  jobsOf,
  migrationScopes,
  platformJobs,
  recordBucketCount,
  routesOf,
  runStartHooks,
  runStopHooks,
  settingsProblems,
  startConsumerGroups,
  startingApp,
  startJobs,
  startRelayLoops,
  startupCheck,
  subscriptionsOf,
} from "./runtime.ts";

const started = performance.now();
const { config, logger } = boot("start", { quiet: true, settingsProblems: () => settingsProblems(modules) });
const { signal, stopped } = shutdownSignal(logger);
const real = {
  database: Boolean(Deno.env.get("DATABASE_URL")),
  kafka: Boolean(Deno.env.get("KAFKA_BROKERS")),
  redis: Boolean(Deno.env.get("REDIS_URL")),
};
const say = (line: string) => console.log(line);
const seconds = (since: number) => `${((performance.now() - since) / 1000).toFixed(1)} s`;
const metrics = new Metrics({ process: "start" });

// With the in-process transport on a PostgreSQL pool, each relay claim holds a connection while its publish
// takes another: at most DATABASE_POOL - 1 claim loops, so a publish always finds a free connection.
if (real.database && !real.kafka && config.DATABASE_POOL < 2) {
  console.error("✗ DATABASE_POOL=1: the in-process transport on PostgreSQL needs at least 2 connections");
  Deno.exit(2);
}

let db: SqlDatabase | undefined;
let redis: Redis | undefined;
let consumers: RunningConsumer[] = [];
const startup = startupCheck();
const checks: Record<string, () => Promise<unknown>> = {
  started: startup.check,
  database: () => db ? db.query("select 1") : Promise.reject(new Error("not open yet")),
  ...consumerChecks(() => consumers),
};

// The data folder is locked before anything else, so a second start on it names the folder, not the port.
let releaseDataDir = () => {};
if (!real.database) {
  try {
    releaseDataDir = (await lockDataDir(config.DATA_DIR)).release;
  } catch (error) {
    if (!(error instanceof DataDirLockedError)) throw error;
    console.error(`✗ ${error.message}`);
    Deno.exit(1);
  }
}

// Health and readiness answer at once (the port is printed when everything runs).
let app: Hono = startingApp({ checks, metrics, logger });
const server = Deno.serve(
  { port: config.PORT, hostname: config.HOST, onListen: () => {} },
  (request, info) => app.fetch(request, info),
);

let shutdownParts: (() => Promise<void>) | undefined;
try {
  // Database: PGlite in DATA_DIR (locked: PGlite itself does not lock, and two writers lose commits) or PostgreSQL.
  let step = performance.now();
  if (real.database) {
    db = await openDatabase(config, logger, signal);
    say(
      `✓ database   PostgreSQL ${new URL(config.DATABASE_URL).host}, schema ${config.DATABASE_SCHEMA} (${
        seconds(step)
      })`,
    );
  } else {
    const pglite = await openPglite(`${config.DATA_DIR}/pg`);
    db = pglite;
    say(
      `✓ database   PGlite ${pglite.created ? "created" : "opened"} in ${config.DATA_DIR}/pg (${
        seconds(step)
      })`,
    );
  }
  const database = db;
  step = performance.now();
  const applied = await migrate(database, migrationScopes(modules));
  await recordBucketCount(database, config);
  say(`✓ migrations ${applied.length ? `${applied.length} applied` : "up to date"} (${seconds(step)})`);

  // Transport: Kafka, or the in-process log in the same database.
  step = performance.now();
  let transport: Publisher & Subscriber & { close(): Promise<void> };
  let admin: TopicAdmin & LagReader;
  let inProcess: InProcessTransport | undefined;
  if (real.kafka) {
    transport = kafkaTransport(config, logger);
    const kafka = kafkaAdmin(config, logger);
    checks.kafka = () => kafka.ping();
    admin = kafka;
  } else {
    inProcess = new InProcessTransport(database, {
      logger,
      retentionMs: config.TOPIC_RETENTION_HOURS * 3_600_000,
    });
    transport = admin = inProcess;
  }
  await ensureTopics(admin, modules, { config, logger, signal });
  say(
    `✓ transport  ${
      real.kafka ? `Kafka ${config.KAFKA_BROKERS.join(",")}` : "in-process (log in the database)"
    } (${seconds(step)})`,
  );

  // Cache and lock: Redis or memory.
  let lock: DistributedLock = new MemoryLock();
  if (real.redis) {
    redis = openRedis(config, logger);
    const client = redis;
    checks.redis = () => client.ping();
    lock = new RedisLock(redis);
  }
  // Secrets a module needs and the environment does not give (the token signing key) live in the data folder.
  const secrets = await generatedSecrets(modules, Deno.env.toObject(), config.DATA_DIR);
  for (const path of secrets.created) say(`✓ secret     generated into ${path} (kept for the next start)`);
  const built = buildModules(modules, { db: database, redis, config, logger, metrics, env: secrets.env });
  checkApiRefusals(built);
  Object.assign(checks, checksOf(built));
  step = performance.now();
  for (const line of await runStartHooks(built, logger)) say(`✓ start-up   ${line}`);

  step = performance.now();
  const subscriptions = subscriptionsOf(built, config);
  await untilReady(
    "the transport (topic retention)",
    () => checkInboxRetention(admin, subscriptions, config),
    {
      logger,
      signal,
    },
  );
  metrics.watchLag(admin, subscriptions);
  const { relay, source } = await startRelayLoops({
    db: database,
    publisher: transport,
    config,
    logger,
    observer: metrics.relayObserver(),
    exclusive: !real.database,
    maxConcurrency: real.kafka ? undefined : config.DATABASE_POOL - 1,
  });
  metrics.watchOutbox(source);
  consumers = await startConsumerGroups(built, { transport, config, logger, metrics, signal });
  const jobs = startJobs([
    ...platformJobs(database, config, inProcess && (() => inProcess.purge())),
    ...jobsOf(built),
  ], { lock, logger });
  say(`✓ relay and ${consumers.length} consumer group(s) running (${seconds(step)})`);

  app = createApp({
    routes: routesOf(built),
    authenticator: authenticatorOf(built, config),
    logger,
    metrics,
    checks,
    bodyLimitBytes: config.HTTP_BODY_LIMIT_BYTES,
  });
  shutdownParts = async () => {
    jobs.stop();
    await relay.stop();
    await source.close();
    // In parallel: each stop has its own deadline, and they must not add up.
    await Promise.all(consumers.map((consumer) => consumer.stop()));
    await withDeadline("closing the transport", transport.close(), config.SHUTDOWN_TIMEOUT_MS, logger);
    await runStopHooks(built, logger);
  };
  startup.done();
  const url = `http://${config.HOST}:${server.addr.port}`;
  say(`✓ ready in ${Math.round(performance.now() - started)} ms: ${url}`);
  for (const example of examplesOf(built)) say(`  try: ${example.replaceAll("{url}", url)}`);
} catch (error) {
  failStart(signal, error, logger);
}

say(`stopping (${await stopped}): finishing requests, the relay batch and the consumer buffers`);
await withDeadline("draining requests", server.shutdown(), config.SHUTDOWN_TIMEOUT_MS, logger);
await shutdownParts?.();
redis?.disconnect();
await db?.close();
releaseDataDir();
say("stopped");
Deno.exit(0);
