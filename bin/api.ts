/** `deno task api`: the HTTP API of every context, with /health, /health/ready and /metrics on its port. */
import type { Hono } from "hono";
import { createApp } from "../adapters/http/app.ts";
import { Metrics } from "../adapters/metrics/prometheus.ts";
import { PostgresOutboxSource } from "../adapters/postgres/outbox_store.ts";
import type { SqlDatabase } from "../adapters/postgres/sql_client.ts";
import {
  boot,
  failStart,
  openDatabase,
  openRedis,
  outboxSettings,
  shutdownSignal,
  withDeadline,
} from "./infrastructure.ts";
import { modules } from "./modules.ts";
import {
  authenticatorOf,
  buildModules,
  checkApiRefusals,
  checkBucketCount,
  checksOf,
  routesOf,
  runStartHooks,
  runStopHooks,
  settingsProblems,
  startingApp,
  startupCheck,
} from "./runtime.ts";

const { config, logger } = boot("api", { settingsProblems: () => settingsProblems(modules) });
const { signal, stopped } = shutdownSignal(logger);
const metrics = new Metrics({ process: "api" });
const redis = openRedis(config, logger);
let db: SqlDatabase | undefined;
const startup = startupCheck();
const checks = {
  started: startup.check,
  postgres: () => db ? db.query("select 1") : Promise.reject(new Error("not connected yet")),
  redis: () => redis.ping(),
};

let stopModules = () => Promise.resolve();

// Health and readiness answer at once; the routes join once PostgreSQL answers and the database is migrated.
let app: Hono = startingApp({ checks, metrics, logger });
const server = Deno.serve({
  port: config.PORT,
  hostname: config.HOST,
  onListen: ({ port }) => logger.info("api listening", { url: `http://${config.HOST}:${port}` }),
}, (request, info) => app.fetch(request, info));

try {
  db = await openDatabase(config, logger, signal);
  await checkBucketCount(db, config, logger, signal);
  const built = buildModules(modules, { db, redis, config, logger, metrics });
  checkApiRefusals(built);
  stopModules = () => runStopHooks(built, logger);
  metrics.watchOutbox(new PostgresOutboxSource(db, outboxSettings(config)));
  for (const line of await runStartHooks(built, logger)) logger.info(line);
  app = createApp({
    routes: routesOf(built),
    authenticator: authenticatorOf(built, config),
    logger,
    metrics,
    checks: { ...checks, ...checksOf(built) },
    bodyLimitBytes: config.HTTP_BODY_LIMIT_BYTES,
  });
  startup.done();
  logger.info("api ready");
} catch (error) {
  failStart(signal, error, logger);
}

logger.info("stopping: draining requests", { signal: await stopped });
await withDeadline("draining requests", server.shutdown(), config.SHUTDOWN_TIMEOUT_MS, logger);
await stopModules();
redis.disconnect();
await db?.close();
Deno.exit(0);
