/** `deno task worker`: every context's consumer groups and periodic jobs (inbox purge included). */
import { Metrics } from "../adapters/metrics/prometheus.ts";
import { RedisLock } from "../adapters/redis/lock.ts";
import type { SqlDatabase } from "../adapters/postgres/sql_client.ts";
import type { RunningConsumer } from "../outbox/consumer.ts";
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
  buildModules,
  checkBucketCount,
  checkInboxRetention,
  checksOf,
  consumerChecks,
  ensureTopics,
  jobsOf,
  platformJobs,
  serveOps,
  settingsProblems,
  startConsumerGroups,
  startJobs,
  startupCheck,
  subscriptionsOf,
} from "./runtime.ts";

const { config, logger } = boot("worker", { settingsProblems: () => settingsProblems(modules) });
const { signal, stopped } = shutdownSignal(logger);
const metrics = new Metrics({ process: "worker" });
const redis = openRedis(config, logger);
const transport = kafkaTransport(config, logger);
const admin = kafkaAdmin(config, logger);
let db: SqlDatabase | undefined;
let consumers: RunningConsumer[] = [];
const startup = startupCheck();
const checks = {
  started: startup.check,
  postgres: () => db ? db.query("select 1") : Promise.reject(new Error("not connected yet")),
  redis: () => redis.ping(),
  kafka: () => admin.ping(),
  ...consumerChecks(() => consumers),
};
const ops = serveOps({ host: config.HOST, port: config.METRICS_PORT ?? 9465, metrics, logger, checks });

let jobs: { stop(): void } | undefined;
try {
  db = await openDatabase(config, logger, signal);
  await checkBucketCount(db, config, logger, signal);
  const built = buildModules(modules, { db, redis, config, logger, metrics });
  Object.assign(checks, checksOf(built));
  await ensureTopics(admin, modules, { config, logger, signal });
  const subscriptions = subscriptionsOf(built, config);
  await untilReady("the broker (topic retention)", () => checkInboxRetention(admin, subscriptions, config), {
    logger,
    signal,
  });
  metrics.watchLag(admin, subscriptions);
  consumers = await startConsumerGroups(built, { transport, config, logger, metrics, signal });
  jobs = startJobs([...platformJobs(db, config), ...jobsOf(built)], { lock: new RedisLock(redis), logger });
  startup.done();
  logger.info("worker ready", { groups: consumers.length });
} catch (error) {
  failStart(signal, error, logger);
}

logger.info("stopping: flushing and committing", { signal: await stopped });
jobs?.stop();
// In parallel: each stop has its own deadline, and they must not add up.
await Promise.all(consumers.map((consumer) => consumer.stop()));
await ops.shutdown();
await withDeadline("closing the Kafka client", transport.close(), config.SHUTDOWN_TIMEOUT_MS, logger);
redis.disconnect();
await db?.close();
Deno.exit(0);
