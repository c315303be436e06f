/** The infrastructure factory: configuration, logs, and one adapter per real service, each waited for. */
import { Redis } from "ioredis";
import { KafkajsTransport, KafkaTopics } from "../adapters/kafka/kafkajs.ts";
import { PlatformaticTransport } from "../adapters/kafka/platformatic.ts";
import { consoleLogger } from "../adapters/log/logger.ts";
import type { OutboxSourceSettings } from "../adapters/postgres/outbox_store.ts";
import { SettingMismatchError } from "../adapters/postgres/platform_settings.ts";
import { connectPostgres } from "../adapters/postgres/postgres_js.ts";
import type { SqlDatabase } from "../adapters/postgres/sql_client.ts";
import type { Logger } from "../application/ports.ts";
import { sleep } from "../outbox/retry.ts";
import { type Config, ConfigError, loadConfig } from "./config.ts";

/**
 * Loads configuration and a logger for `process`; exits with the variable named on a bad value. A rejected
 * promise nobody awaited is logged, never fatal: an outage must not kill a process.
 */
export function boot(
  process: string,
  options: { quiet?: boolean; settingsProblems?: () => string[] } = {},
): { config: Config; logger: Logger } {
  let config: Config;
  try {
    config = loadConfig();
    const problems = options.settingsProblems?.() ?? [];
    if (problems.length > 0) throw new ConfigError(`invalid configuration:\n${problems.join("\n")}`);
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      Deno.exit(2);
    }
    throw error;
  }
  // A quiet process (start) prints its own progress; its logs show warnings unless LOG_LEVEL asks for more.
  const level = options.quiet && !Deno.env.get("LOG_LEVEL") ? "warn" : config.LOG_LEVEL;
  const logger = consoleLogger({ level, format: config.LOG_FORMAT, base: { process } });
  globalThis.addEventListener("unhandledrejection", (event) => {
    event.preventDefault();
    logger.error("unhandled rejection", { error: describe(event.reason) });
  });
  globalThis.addEventListener("error", (event) => {
    // postgres.js 3.4.9 can write a query on a connection whose socket just closed, from a timer no caller can
    // catch (porsager/postgres#1066): during a database outage that would kill the process. The connection
    // errors the query when it reconnects or is retried by its caller; the process lives on.
    if (isClosedSocketWrite(event.error)) {
      event.preventDefault();
      logger.warn("database client wrote to a closed connection; the query is retried", {
        error: describe(event.error),
      });
    }
  });
  return { config, logger };
}

/** The postgres.js write-after-close race (a TypeError from its write path on a socket set to null). */
function isClosedSocketWrite(error: unknown): boolean {
  return error instanceof TypeError && /reading 'write'/.test(error.message) &&
    /postgres[\/@].*connection\.js/.test(error.stack ?? "");
}

/** A process refuses to run as configured (waiting cannot fix it): it stops with the message. */
export class StartRefusedError extends Error {
  override readonly name = "StartRefusedError";
}

function isFatal(error: unknown): boolean {
  return error instanceof SettingMismatchError || error instanceof ConfigError ||
    error instanceof StartRefusedError;
}

/**
 * Runs `attempt` until it succeeds, logging one line per failed attempt and backing off from 0.5 s to 10 s.
 * A process whose dependency is down at start waits for it (and reports not-ready) instead of dying.
 */
export async function untilReady<T>(
  what: string,
  attempt: () => Promise<T>,
  deps: { logger: Logger; signal?: AbortSignal },
): Promise<T> {
  for (let attempts = 1;; attempts++) {
    try {
      const value = await attempt();
      if (attempts > 1) deps.logger.info(`${what} ready`, { attempts });
      return value;
    } catch (error) {
      if (isFatal(error)) {
        console.error(`✗ ${error instanceof Error ? error.message : String(error)}`);
        Deno.exit(2);
      }
      if (deps.signal?.aborted) throw error;
      const delayMs = Math.min(10_000, 500 * 2 ** Math.min(attempts - 1, 5));
      deps.logger.warn(`waiting for ${what}`, {
        attempt: attempts,
        retryInMs: delayMs,
        error: describe(error),
      });
      await sleep(delayMs, deps.signal);
    }
  }
}

/** A short description of an error for logs: its code and message, one line. */
export function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: unknown }).code;
  return `${typeof code === "string" ? `${code}: ` : ""}${error.message}`.split("\n")[0].slice(0, 300);
}

/** Opens the PostgreSQL pool, waiting for the server. */
export function openDatabase(config: Config, logger: Logger, signal?: AbortSignal): Promise<SqlDatabase> {
  return untilReady(
    "PostgreSQL",
    () => connectPostgres(config.DATABASE_URL, { schema: config.DATABASE_SCHEMA, max: config.DATABASE_POOL }),
    { logger, signal },
  );
}

/** The advisory-lock namespace of a schema's relays, so outboxes in different schemas never block each other. */
export function lockNamespaceOf(schema: string): number {
  let hash = 0;
  for (const char of schema) hash = (Math.imul(hash, 31) + char.charCodeAt(0)) | 0;
  return hash;
}

/** Outbox settings writers and relays share; channel and lock namespace follow the schema. */
export function outboxSettings(config: Config): OutboxSourceSettings {
  return {
    channel: `outbox_${config.DATABASE_SCHEMA}`,
    buckets: config.OUTBOX_BUCKETS,
    lockNamespace: lockNamespaceOf(config.DATABASE_SCHEMA),
    maxEventBytes: config.OUTBOX_MAX_EVENT_BYTES,
  };
}

/** The Kafka transport, on the client KAFKA_CLIENT names (both pass the same contract suite). */
export function kafkaTransport(config: Config, logger: Logger): KafkajsTransport | PlatformaticTransport {
  const settings = {
    brokers: config.KAFKA_BROKERS,
    logger,
    producer: {
      acks: config.KAFKA_ACKS,
      idempotent: config.KAFKA_IDEMPOTENT,
      retries: config.KAFKA_RETRIES,
      retryBaseMs: config.KAFKA_RETRY_BASE_MS,
      retryMaxMs: config.KAFKA_RETRY_MAX_MS,
      compression: config.KAFKA_COMPRESSION,
    },
  };
  return config.KAFKA_CLIENT === "kafkajs"
    ? new KafkajsTransport(settings)
    : new PlatformaticTransport(settings);
}

/** The Kafka admin (topics, retention, lag, ping). */
export function kafkaAdmin(config: Config, logger: Logger): KafkaTopics {
  return new KafkaTopics({ brokers: config.KAFKA_BROKERS, logger });
}

/**
 * The Redis client. Commands fail fast while Redis is down instead of queueing forever; it reconnects by
 * itself (every 0.5–5 s), logging one line per failed attempt.
 */
export function openRedis(config: Config, logger: Logger): Redis {
  const redis = new Redis(config.REDIS_URL, {
    maxRetriesPerRequest: 1,
    enableOfflineQueue: true,
    lazyConnect: false,
    retryStrategy: (times) => Math.min(5_000, 500 * times),
    // A Redis that accepts connections but does not answer must not hold requests: the cache is optional.
    commandTimeout: 2_000,
    // Environments sharing one Redis stay apart, as their topics and groups do.
    keyPrefix: config.NAME_PREFIX ? `${config.NAME_PREFIX}:` : "",
  });
  redis.on("error", (error) => logger.warn("waiting for Redis", { error: describe(error) }));
  return redis;
}

/**
 * The first SIGINT or SIGTERM aborts `signal` and resolves `stopped` (start-up waits end then); a second one
 * exits at once (code 130), for a stop that hangs.
 */
export function shutdownSignal(logger: Logger): { signal: AbortSignal; stopped: Promise<string> } {
  const controller = new AbortController();
  let received = 0;
  const stopped = new Promise<string>((resolve) => {
    for (const signal of ["SIGINT", "SIGTERM"] as const) {
      Deno.addSignalListener(signal, () => {
        if (++received > 1) {
          logger.warn("second signal: exiting without finishing the work in flight", { signal });
          Deno.exit(130);
        }
        controller.abort();
        resolve(signal);
      });
    }
  });
  return { signal: controller.signal, stopped };
}

/**
 * Ends a start-up that failed: quietly (0) when a stop signal cut it short, otherwise with the error printed
 * and code 1 — never a process left running half started and reporting ready.
 */
export function failStart(signal: AbortSignal, error: unknown, logger: Logger): never {
  if (signal.aborted) Deno.exit(0);
  logger.error("start-up failed", { error: describe(error) });
  console.error(`✗ ${error instanceof Error ? error.message : String(error)}`);
  Deno.exit(error instanceof StartRefusedError || error instanceof SettingMismatchError ? 2 : 1);
}

/** Waits for `work` at most `ms`; past it logs `what` and resolves anyway. */
export async function withDeadline(what: string, work: Promise<unknown>, ms: number, logger: Logger) {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<"expired">((resolve) => timer = setTimeout(() => resolve("expired"), ms));
  const outcome = await Promise.race([
    work.then(() => "done" as const, (error) => {
      logger.warn(`${what} failed`, { error: describe(error) });
      return "done" as const;
    }),
    expired,
  ]);
  clearTimeout(timer);
  if (outcome === "expired") logger.warn(`${what} did not finish in ${ms} ms; abandoned`);
}
