/** The pieces every process is made of, assembled from adapters; the composition roots pick and start them. */
import type { Hono } from "hono";
import { Hono as HonoApp } from "hono";
import { createApp, opsRoutes, type ReadinessCheck } from "../adapters/http/app.ts";
import type { Metrics } from "../adapters/metrics/prometheus.ts";
import { PostgresLikeStore } from "../adapters/postgres/like_store.ts";
import { PostgresOutboxSource, purgeInbox } from "../adapters/postgres/outbox_store.ts";
import { isTransientDatabaseError, type SqlDatabase } from "../adapters/postgres/sql_client.ts";
import { interactionUnitOfWork, likeProjectionUnitOfWork } from "../adapters/postgres/unit_of_work.ts";
import { projectLikeCounts } from "../application/interaction/project_like_counts.ts";
import type { LikeCache } from "../application/interaction/ports.ts";
import { type DistributedLock, type Logger, systemClock } from "../application/ports.ts";
import { type ConsumerObserver, type RunningConsumer, startConsumer } from "../outbox/consumer.ts";
import type { Publisher, Subscriber, TopicAdmin } from "../outbox/ports.ts";
import { type RelayObserver, type RunningRelay, startRelay } from "../outbox/relay.ts";
import { type Config, names } from "./config.ts";
import { outboxSettings } from "./wiring.ts";

/** The HTTP API over a database and a cache. */
export function apiApp(
  deps: {
    db: SqlDatabase;
    cache: LikeCache;
    config: Config;
    logger: Logger;
    checks: Record<string, ReadinessCheck>;
    metrics?: Metrics;
  },
): Hono {
  const { db, cache, config, logger } = deps;
  return createApp({
    logger,
    likes: {
      unitOfWork: interactionUnitOfWork(db, outboxSettings(config)),
      queries: new PostgresLikeStore(db),
      cache,
      clock: systemClock,
      logger,
      topic: names(config).interactionTopic,
    },
    checks: deps.checks,
    metrics: deps.metrics,
  });
}

/** The consumer groups and topics of the worker, for lag metrics. */
export function subscriptions(config: Config): { group: string; topic: string }[] {
  const { interactionTopic, likePersistenceGroup } = names(config);
  return [{ group: likePersistenceGroup, topic: interactionTopic }];
}

/**
 * Serves /health, /health/ready and /metrics on `port` for processes without an API. When the port is taken
 * (several relays on one host) it serves on a free port instead and says which.
 */
export function serveOps(
  deps: { port: number; checks: Record<string, ReadinessCheck>; metrics: Metrics; logger: Logger },
): Deno.HttpServer {
  const app = new HonoApp().route("/", opsRoutes(deps));
  const serve = (port: number) =>
    Deno.serve({
      port,
      hostname: "0.0.0.0",
      onListen: ({ port }) =>
        deps.logger.info("health and metrics listening", { url: `http://127.0.0.1:${port}/metrics` }),
    }, app.fetch);
  try {
    return serve(deps.port);
  } catch (error) {
    if (!(error instanceof Deno.errors.AddrInUse)) throw error;
    deps.logger.warn("metrics port in use; serving on a free port", { port: deps.port });
    return serve(0);
  }
}

/** Creates the project's topics (and `.dlq`s) on the transport. */
export async function ensureTopics(admin: TopicAdmin, config: Config, logger: Logger): Promise<void> {
  const created = await admin.ensure([names(config).interactionTopic].map((topic) => ({
    topic,
    partitions: config.TOPIC_PARTITIONS,
    replicationFactor: config.TOPIC_REPLICATION_FACTOR,
  })));
  if (created.length > 0) logger.info("topics created", { topics: created });
}

/** Starts the relay; `exclusive` for a single-session database (PGlite), which allows one claim loop. */
export async function relayProcess(
  deps: {
    db: SqlDatabase;
    publisher: Publisher;
    config: Config;
    logger: Logger;
    exclusive?: boolean;
    observer?: RelayObserver;
  },
): Promise<{ relay: RunningRelay; source: PostgresOutboxSource }> {
  const { config } = deps;
  const source = new PostgresOutboxSource(deps.db, { ...outboxSettings(config), exclusive: deps.exclusive });
  await source.listen();
  const relay = startRelay({
    source,
    publisher: deps.publisher,
    batchSize: config.RELAY_BATCH_SIZE,
    concurrency: deps.exclusive ? 1 : config.RELAY_CONCURRENCY,
    settleMs: deps.exclusive ? 10 : 0,
    pollIntervalMs: config.RELAY_POLL_MS,
    logger: deps.logger,
    observer: deps.observer,
  });
  return { relay, source };
}

/** Starts every consumer group of the worker. */
export async function startConsumers(
  deps: {
    db: SqlDatabase;
    transport: Publisher & Subscriber;
    cache: LikeCache;
    config: Config;
    logger: Logger;
    observer?: ConsumerObserver;
  },
): Promise<RunningConsumer[]> {
  const { config, logger } = deps;
  const { interactionTopic, likePersistenceGroup } = names(config);
  return [
    await startConsumer({
      group: likePersistenceGroup,
      topics: [interactionTopic],
      handle: projectLikeCounts({ cache: deps.cache, logger }),
      subscriber: deps.transport,
      unitOfWork: likeProjectionUnitOfWork(deps.db),
      deadLetters: deps.transport,
      retry: {
        maxRetries: config.RETRY_MAX,
        baseDelayMs: config.RETRY_BASE_MS,
        factor: config.RETRY_FACTOR,
        maxDelayMs: 30_000,
      },
      batch: {
        maxSize: config.BATCH_SIZE,
        flushEveryMs: config.BATCH_FLUSH_MS,
        flushOnDelivery: config.BATCH_FLUSH_ON_DELIVERY,
      },
      isTransient: isTransientDatabaseError,
      logger,
      observer: deps.observer,
    }),
  ];
}

/** Hourly clean-up of old inbox rows (and whatever else `extra` purges), by one worker at a time. */
export function startPurges(
  deps: {
    db: SqlDatabase;
    lock: DistributedLock;
    config: Config;
    logger: Logger;
    extra?: () => Promise<number>;
  },
): { stop(): void } {
  const retentionMs = deps.config.INBOX_RETENTION_HOURS * 3_600_000;
  const run = () =>
    deps.lock.tryWithLock("purge", 600_000, async () => {
      const inbox = await purgeInbox(deps.db, retentionMs);
      const extra = (await deps.extra?.()) ?? 0;
      if (inbox + extra > 0) deps.logger.info("purged", { inboxRows: inbox, transportMessages: extra });
    }).catch((error) => deps.logger.warn("purge failed", { error: String(error) }));
  const timer = setInterval(run, 3_600_000);
  return { stop: () => clearInterval(timer) };
}
