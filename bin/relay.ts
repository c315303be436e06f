/** `deno task relay`: publishes committed outbox rows to Kafka. Several may run at once. */
import { Metrics } from "../adapters/metrics/prometheus.ts";
import type { PostgresOutboxSource } from "../adapters/postgres/outbox_store.ts";
import type { SqlDatabase } from "../adapters/postgres/sql_client.ts";
import type { RunningRelay } from "../outbox/relay.ts";
import {
  boot,
  failStart,
  kafkaAdmin,
  kafkaTransport,
  openDatabase,
  shutdownSignal,
  withDeadline,
} from "./infrastructure.ts";
import { modules } from "./modules.ts";
import {
  buildModules,
  checkBucketCount,
  ensureTopics,
  serveOps,
  settingsProblems,
  startRelayLoops,
  startupCheck,
  subscriptionsOf,
} from "./runtime.ts";

const { config, logger } = boot("relay", { settingsProblems: () => settingsProblems(modules) });
const { signal, stopped } = shutdownSignal(logger);
const metrics = new Metrics({ process: "relay" });
const transport = kafkaTransport(config, logger);
const admin = kafkaAdmin(config, logger);
let db: SqlDatabase | undefined;
const startup = startupCheck();
const ops = serveOps({
  host: config.HOST,
  port: config.METRICS_PORT ?? 9464,
  metrics,
  logger,
  checks: {
    started: startup.check,
    postgres: () => db ? db.query("select 1") : Promise.reject(new Error("not connected yet")),
    kafka: () => admin.ping(),
  },
});

let running: { relay: RunningRelay; source: PostgresOutboxSource } | undefined;
try {
  db = await openDatabase(config, logger, signal);
  await checkBucketCount(db, config, logger, signal);
  // Topics exist before the first publish: a row for a missing topic would be parked as undeliverable.
  await ensureTopics(admin, modules, { config, logger, signal });
  const built = buildModules(modules, { db, config, logger, metrics });
  running = await startRelayLoops({
    db,
    publisher: transport,
    config,
    logger,
    observer: metrics.relayObserver(),
  });
  metrics.watchOutbox(running.source);
  metrics.watchLag(admin, subscriptionsOf(built, config));
  startup.done();
} catch (error) {
  failStart(signal, error, logger);
}

logger.info("stopping: finishing the batches in flight", { signal: await stopped });
await running?.relay.stop();
await ops.shutdown();
await running?.source.close();
await withDeadline("closing the producer", transport.close(), config.SHUTDOWN_TIMEOUT_MS, logger);
await db?.close();
Deno.exit(0);
