/**
 * The platform runtime the composition roots share: it builds the registered modules and runs their parts
 * (routes, consumer groups, jobs, start-up hooks, checks) with the platform's policies. It names no context.
 */
import { Hono } from "hono";
import type { Redis } from "ioredis";
import type { ConsumerGroup, ContextModule, ContextParts, PeriodicJob } from "../adapters/context_module.ts";
import { opsRoutes, type ReadinessCheck } from "../adapters/http/app.ts";
import { type Authenticator, bearerAuthenticator } from "../adapters/http/identity.ts";
import type { Metrics } from "../adapters/metrics/prometheus.ts";
import { PostgresOutboxSource, purgeInbox } from "../adapters/postgres/outbox_store.ts";
import { expectSetting, recordSetting } from "../adapters/postgres/platform_settings.ts";
import { isInfrastructureError, type SqlClient, type SqlDatabase } from "../adapters/postgres/sql_client.ts";
import { isRedisUnavailable } from "../adapters/redis/errors.ts";
import { isMongoUnavailable } from "../adapters/mongo/errors.ts";
import { type DistributedLock, type Logger, systemClock } from "../application/ports.ts";
import type { RunningConsumer } from "../outbox/consumer.ts";
import type { Publisher, Subscriber, TopicAdmin, TopicSpec } from "../outbox/ports.ts";
import { type RelayObserver, type RunningRelay, startRelay } from "../outbox/relay.ts";
import { type Config, prefixed } from "./config.ts";
import { describe, outboxSettings, StartRefusedError, untilReady } from "./infrastructure.ts";

/** A module and the parts it built in this process. */
export interface BuiltModule {
  readonly module: ContextModule;
  readonly parts: ContextParts;
}

/** Builds every module over this process's infrastructure. */
export function buildModules(
  modules: readonly ContextModule[],
  deps: {
    db: SqlDatabase;
    redis?: Redis;
    config: Config;
    logger: Logger;
    metrics: Metrics;
    env?: Readonly<Record<string, string | undefined>>;
  },
): BuiltModule[] {
  const { config } = deps;
  const env = deps.env ?? Deno.env.toObject();
  return modules.map((module) => ({
    module,
    parts: module.build({
      db: deps.db,
      redis: deps.redis,
      outbox: outboxSettings(config),
      clock: systemClock,
      logger: deps.logger,
      metrics: deps.metrics.registry,
      topic: (name) => prefixed(config, name),
      cacheWarmLimit: config.CACHE_WARM_LIMIT,
      env,
    }),
  }));
}

/** Every bad setting of the modules, one line each (empty when all are valid). */
export function settingsProblems(
  modules: readonly ContextModule[],
  env: Readonly<Record<string, string | undefined>> = Deno.env.toObject(),
): string[] {
  return modules.flatMap((module) => module.checkSettings?.(env) ?? []);
}

/** The migration scopes of the modules. */
export function migrationScopes(modules: readonly ContextModule[]) {
  return modules.flatMap((module) =>
    module.migrations ? [{ scope: module.name, folder: module.migrations }] : []
  );
}

/** The topics the modules own, with the configured prefix, partitions and retention. */
export function topicSpecs(modules: readonly ContextModule[], config: Config): TopicSpec[] {
  return modules.flatMap((module) =>
    (module.topics ?? []).map((topic) => ({
      topic: prefixed(config, topic.name),
      partitions: topic.partitions ?? config.TOPIC_PARTITIONS,
      replicationFactor: config.TOPIC_REPLICATION_FACTOR,
      configs: {
        "retention.ms": String(config.TOPIC_RETENTION_HOURS * 3_600_000),
        // Segments of a day: a message then lives at most retention + 1 day (Kafka deletes whole segments).
        "segment.ms": String(86_400_000),
        ...topic.configs,
      },
    }))
  );
}

/** Creates the modules' topics (and `.dlq`s), waiting for the broker. */
export async function ensureTopics(
  admin: TopicAdmin,
  modules: readonly ContextModule[],
  deps: { config: Config; logger: Logger; signal?: AbortSignal },
): Promise<void> {
  const created = await untilReady(
    "the broker (creating topics)",
    () => admin.ensure(topicSpecs(modules, deps.config)),
    deps,
  );
  if (created.length > 0) deps.logger.info("topics created", { topics: created });
}

/**
 * Records the outbox bucket count at the first migrate and refuses a process configured with another: rows
 * written with one count are never claimed correctly by a relay running another.
 */
export function recordBucketCount(db: SqlClient, config: Config): Promise<void> {
  return recordSetting(db, "OUTBOX_BUCKETS", "outbox bucket count", String(config.OUTBOX_BUCKETS));
}

/** Waits until the database is migrated, then checks the bucket count (exits naming both values if not). */
export function checkBucketCount(db: SqlClient, config: Config, logger: Logger, signal?: AbortSignal) {
  return untilReady(
    "a migrated database",
    () => expectSetting(db, "OUTBOX_BUCKETS", "outbox bucket count", String(config.OUTBOX_BUCKETS)),
    { logger, signal },
  );
}

/** The routes of every module. */
export function routesOf(built: readonly BuiltModule[]) {
  return built.flatMap(({ parts }) => parts.routes ?? []);
}

/**
 * How the API authenticates: the operator token (when configured) and the token verifier a module supplies.
 * Two modules supplying one is a wiring error.
 */
export function authenticatorOf(
  built: readonly BuiltModule[],
  config: Pick<Config, "OPERATOR_TOKEN">,
): Authenticator {
  const verifiers = built.filter(({ parts }) => parts.verifyToken);
  if (verifiers.length > 1) {
    throw new Error(
      `several modules verify tokens: ${verifiers.map(({ module }) => module.name).join(", ")}`,
    );
  }
  return bearerAuthenticator({
    verify: verifiers[0]?.parts.verifyToken,
    operatorToken: config.OPERATOR_TOKEN,
  });
}

/** Refuses to start an API whose modules say it cannot serve in this configuration (one line each). */
export function checkApiRefusals(built: readonly BuiltModule[]): void {
  const refusals = built.flatMap(({ module, parts }) =>
    (parts.apiRefusals ?? []).map((r) => `${module.name}: ${r}`)
  );
  if (refusals.length > 0) throw new StartRefusedError(refusals.join("\n"));
}

/**
 * The secrets the modules want generated when unset (`deno task start`): each is created once, kept in
 * `<dataDir>/secrets/<NAME>` (readable by the owner only) and reused at the next start.
 */
export async function generatedSecrets(
  modules: readonly ContextModule[],
  env: Readonly<Record<string, string | undefined>>,
  dataDir: string,
): Promise<{ env: Record<string, string | undefined>; created: string[] }> {
  const result: Record<string, string | undefined> = { ...env };
  const created: string[] = [];
  for (const name of modules.flatMap((module) => module.generatedSecrets ?? [])) {
    if (result[name]) continue;
    const path = `${dataDir}/secrets/${name}`;
    try {
      result[name] = (await Deno.readTextFile(path)).trim();
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
      const bytes = crypto.getRandomValues(new Uint8Array(48));
      const secret = btoa(String.fromCharCode(...bytes));
      await Deno.mkdir(`${dataDir}/secrets`, { recursive: true, mode: 0o700 });
      await Deno.writeTextFile(path, `${secret}\n`, { mode: 0o600, createNew: true });
      result[name] = secret;
      created.push(path);
    }
  }
  return { env: result, created };
}

/** The readiness checks of every module, as `<context>.<name>`. */
export function checksOf(built: readonly BuiltModule[]): Record<string, ReadinessCheck> {
  return Object.fromEntries(
    built.flatMap(({ module, parts }) =>
      Object.entries(parts.checks ?? {}).map(([name, check]) => [`${module.name}.${name}`, check])
    ),
  );
}

/** Runs the modules' start-up hooks in order; returns their progress lines. */
export async function runStartHooks(built: readonly BuiltModule[], logger: Logger): Promise<string[]> {
  const lines: string[] = [];
  for (const { module, parts } of built) {
    for (const hook of parts.onStart ?? []) {
      try {
        lines.push(await hook());
      } catch (error) {
        // A warm-up is an optimisation: the process serves without it.
        logger.warn("start-up hook failed", { context: module.name, error: describe(error) });
        lines.push(`${module.name}: start-up hook failed (${describe(error)})`);
      }
    }
  }
  return lines;
}

/** Runs the modules' stop hooks; a failing one is logged and the others still run. */
export async function runStopHooks(built: readonly BuiltModule[], logger: Logger): Promise<void> {
  for (const { module, parts } of built) {
    for (const hook of parts.onStop ?? []) {
      await hook().catch((error) =>
        logger.warn("stop hook failed", { context: module.name, error: describe(error) })
      );
    }
  }
}

/** The modules' example commands (`{url}` stands for the API's address). */
export function examplesOf(built: readonly BuiltModule[]): string[] {
  return built.flatMap(({ parts }) => parts.examples ?? []);
}

/** Every consumer group of the modules. */
export function consumerGroupsOf(built: readonly BuiltModule[]): ConsumerGroup[] {
  return built.flatMap(({ parts }) => parts.consumers ?? []);
}

/** The (group, topic) pairs the modules consume, with prefixes, for lag metrics. */
export function subscriptionsOf(built: readonly BuiltModule[], config: Config) {
  return consumerGroupsOf(built).flatMap((group) =>
    group.topics.map((topic) => ({ group: prefixed(config, group.name), topic: prefixed(config, topic) }))
  );
}

/**
 * Refuses to run a group whose topics keep messages longer than its inbox remembers them: a group whose
 * offsets expired would re-read an event whose inbox row is gone, and apply it twice.
 */
export async function checkInboxRetention(
  admin: Pick<TopicAdmin, "retentionMs">,
  subscriptions: readonly { group: string; topic: string }[],
  config: Config,
): Promise<void> {
  const inboxMs = config.INBOX_RETENTION_HOURS * 3_600_000;
  const retention = await admin.retentionMs([...new Set(subscriptions.map((s) => s.topic))]);
  const tooLong = [...retention].filter(([, ms]) => ms === null || ms > inboxMs);
  if (tooLong.length > 0) {
    const list = tooLong.map(([topic, ms]) =>
      `${topic} keeps messages ${ms === null ? "forever" : `${ms / 3_600_000} h`}`
    );
    throw new StartRefusedError(
      `INBOX_RETENTION_HOURS=${config.INBOX_RETENTION_HOURS} is shorter than the topics' retention (${
        list.join("; ")
      }): a redelivered event could be applied twice. Raise INBOX_RETENTION_HOURS or lower the topics' retention.ms`,
    );
  }
}

/** Starts one member of every consumer group, waiting for the broker; the platform fills in the policies. */
export async function startConsumerGroups(
  built: readonly BuiltModule[],
  deps: {
    transport: Publisher & Subscriber;
    config: Config;
    logger: Logger;
    metrics: Metrics;
    signal?: AbortSignal;
  },
): Promise<RunningConsumer[]> {
  const { config, logger } = deps;
  const running: RunningConsumer[] = [];
  const observer = deps.metrics.consumerObserver();
  for (const group of consumerGroupsOf(built)) {
    const name = prefixed(config, group.name);
    observer.paused?.(name, false);
    running.push(
      await untilReady(`the broker (joining ${name})`, () =>
        group.start({
          group: name,
          topics: group.topics.map((topic) => prefixed(config, topic)),
          subscriber: deps.transport,
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
          // An outage of the database, Redis or MongoDB (a group's effect may live there) pauses; never
          // dead-letters.
          isInfrastructure: (error) =>
            isInfrastructureError(error) || isRedisUnavailable(error) || isMongoUnavailable(error),
          logger,
          observer,
          stopTimeoutMs: config.SHUTDOWN_TIMEOUT_MS,
        }), { logger, signal: deps.signal }),
    );
  }
  return running;
}

/** Readiness of the consumer groups: down while one is paused on an outage of its dependencies. */
export function consumerChecks(consumers: () => readonly RunningConsumer[]): Record<string, ReadinessCheck> {
  return {
    consumers: () => {
      const paused = consumers().map((c) => c.status()).filter((s) => s.paused);
      return paused.length === 0
        ? Promise.resolve()
        : Promise.reject(new Error(`paused: ${paused.map((s) => `${s.group} (${s.reason})`).join(", ")}`));
    },
  };
}

/** The platform's own periodic jobs: the inbox purge, and the in-process log's purge when it is used. */
export function platformJobs(
  db: SqlClient,
  config: Config,
  transportPurge?: () => Promise<number>,
): PeriodicJob[] {
  const hour = 3_600_000;
  return [
    {
      name: "inbox-purge",
      everyMs: hour,
      // Soon after start, not an hour later: a worker restarted every hour would otherwise never purge.
      firstAfterMs: 10_000,
      run: async () => {
        const rows = await purgeInbox(db, config.INBOX_RETENTION_HOURS * hour);
        return rows > 0 ? { inboxRows: rows } : undefined;
      },
    },
    ...(transportPurge
      ? [{
        name: "transport-purge",
        everyMs: hour,
        firstAfterMs: 10_000,
        run: async () => {
          const messages = await transportPurge();
          return messages > 0 ? { transportMessages: messages } : undefined;
        },
      }]
      : []),
  ];
}

/** Runs each job on its schedule, one process at a time under the lock `job:<name>`. */
export function startJobs(
  jobs: readonly PeriodicJob[],
  deps: { lock: DistributedLock; logger: Logger },
): { stop(): void } {
  const timers: ReturnType<typeof setTimeout>[] = [];
  for (const job of jobs) {
    const run = () =>
      deps.lock.tryWithLock(`job:${job.name}`, Math.max(60_000, job.everyMs), job.run).then(
        (outcome) => {
          if (outcome.acquired && outcome.value) deps.logger.info(`job ${job.name} done`, outcome.value);
        },
        (error) => deps.logger.warn(`job ${job.name} failed`, { error: describe(error) }),
      );
    timers.push(setTimeout(() => {
      run();
      timers.push(setInterval(run, job.everyMs));
    }, job.firstAfterMs ?? job.everyMs));
  }
  return {
    stop: () => {
      for (const timer of timers) clearTimeout(timer);
    },
  };
}

/** The jobs of every module. */
export function jobsOf(built: readonly BuiltModule[]): PeriodicJob[] {
  return built.flatMap(({ module, parts }) =>
    (parts.jobs ?? []).map((job) => ({ ...job, name: `${module.name}.${job.name}` }))
  );
}

/** Starts the relay; `exclusive` for a single-session database (PGlite), which allows one claim loop. */
export async function startRelayLoops(
  deps: {
    db: SqlDatabase;
    publisher: Publisher;
    config: Config;
    logger: Logger;
    observer: RelayObserver;
    exclusive?: boolean;
    /** At most this many claim loops (each holds a connection; see `start`). */
    maxConcurrency?: number;
  },
): Promise<{ relay: RunningRelay; source: PostgresOutboxSource }> {
  const { config } = deps;
  const source = new PostgresOutboxSource(deps.db, { ...outboxSettings(config), exclusive: deps.exclusive });
  await untilReady("PostgreSQL (listening for commits)", () => source.listen(), { logger: deps.logger });
  const relay = startRelay({
    source,
    publisher: deps.publisher,
    batchSize: config.RELAY_BATCH_SIZE,
    concurrency: deps.exclusive ? 1 : Math.min(config.RELAY_CONCURRENCY, deps.maxConcurrency ?? Infinity),
    settleMs: deps.exclusive ? 10 : 0,
    pollIntervalMs: config.RELAY_POLL_MS,
    stopTimeoutMs: config.SHUTDOWN_TIMEOUT_MS,
    logger: deps.logger,
    observer: deps.observer,
  });
  return { relay, source };
}

/**
 * Serves /health, /health/ready and /metrics on `port` for processes without an API. When the port is taken
 * (several relays on one host) it serves on a free port instead and says which.
 */
export function serveOps(
  deps: {
    host: string;
    port: number;
    checks: Record<string, ReadinessCheck>;
    metrics: Metrics;
    logger: Logger;
  },
): Deno.HttpServer {
  const app = new Hono().route("/", opsRoutes(deps));
  const serve = (port: number) =>
    Deno.serve({
      port,
      hostname: deps.host,
      onListen: ({ port }) =>
        deps.logger.info("health and metrics listening", { url: `http://${deps.host}:${port}/metrics` }),
    }, app.fetch);
  try {
    return serve(deps.port);
  } catch (error) {
    if (!(error instanceof Deno.errors.AddrInUse)) throw error;
    deps.logger.warn("metrics port in use; serving on a free port", { port: deps.port });
    return serve(0);
  }
}

/**
 * What a process serves before its dependencies answer: health, readiness (not ready yet) and metrics, and a
 * 503 problem for everything else.
 */
export function startingApp(
  deps: { checks: Record<string, ReadinessCheck>; metrics: Metrics; logger: Logger },
): Hono {
  const app = new Hono().route("/", opsRoutes(deps));
  app.all("*", (c) =>
    c.body(
      JSON.stringify({
        type: "urn:problem:starting",
        title: "starting",
        status: 503,
        detail: "the service is waiting for its dependencies; see /health/ready",
      }),
      503,
      { "content-type": "application/problem+json", "retry-after": "1" },
    ));
  return app;
}

/** A readiness check that fails until the process has finished starting (`done`). */
export function startupCheck(): { check: ReadinessCheck; done(): void } {
  let started = false;
  return {
    check: () => started ? Promise.resolve() : Promise.reject(new Error("starting")),
    done: () => void (started = true),
  };
}
