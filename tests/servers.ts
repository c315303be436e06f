/**
 * What the tests and the benchmark share: the servers' addresses, starting what is missing, and migrated
 * schemas of their own.
 */
import { connectPostgres } from "../adapters/postgres/postgres_js.ts";
import { migrate } from "../adapters/postgres/migrate.ts";
import type { SqlDatabase } from "../adapters/postgres/sql_client.ts";
import { loadConfig } from "../bin/config.ts";
import { modules } from "../bin/modules.ts";
import { migrationScopes, recordBucketCount } from "../bin/runtime.ts";

/** Server addresses, overridable like the processes'. */
export const env = {
  databaseUrl: Deno.env.get("DATABASE_URL") ?? "postgres://postgres@127.0.0.1:5432/postgres",
  redisUrl: Deno.env.get("REDIS_URL") ?? "redis://127.0.0.1:6379",
  brokers: (Deno.env.get("KAFKA_BROKERS") ?? "127.0.0.1:9092").split(","),
  mongoUrl: Deno.env.get("MONGO_URL") ?? "mongodb://127.0.0.1:27017",
};

/** The repository root (for spawning the processes and deploy/ scripts). */
export const repoRoot = new URL("../", import.meta.url).pathname;

/** A short unique id for names. */
export function uniqueId(): string {
  return crypto.randomUUID().replaceAll("-", "").slice(0, 12);
}

/** Whether something accepts TCP connections on host:port. */
export async function answers(host: string, port: number): Promise<boolean> {
  try {
    const conn = await Deno.connect({ hostname: host, port });
    conn.close();
    return true;
  } catch {
    return false;
  }
}

/** Runs `deploy/kafka.sh <command>` with the output shown; throws when it fails. */
export async function kafkaScript(command: "fetch" | "start", port?: string): Promise<void> {
  const status = await new Deno.Command("bash", {
    args: [`${repoRoot}deploy/kafka.sh`, command],
    env: port ? { KAFKA_PORT: port } : {},
    stdout: "inherit",
    stderr: "inherit",
  }).spawn().status;
  if (!status.success) throw new Error(`deploy/kafka.sh ${command} failed (code ${status.code})`);
}

/** Runs `deploy/mongo.sh <command>` for host:port with the output shown; throws when it fails. */
export async function mongoScript(command: "fetch" | "start", host: string, port: string): Promise<void> {
  const status = await new Deno.Command("bash", {
    args: [`${repoRoot}deploy/mongo.sh`, command],
    env: { MONGO_HOST: host, MONGO_PORT: port },
    stdout: "inherit",
    stderr: "inherit",
  }).spawn().status;
  if (!status.success) throw new Error(`deploy/mongo.sh ${command} failed (code ${status.code})`);
}

/** The first host and port of a `mongodb://[user:pass@]host[:port][,host…][/db][?…]` URL. */
export function mongoAddress(url: string): { host: string; port: string } {
  const match = /^mongodb:\/\/(?:[^@/]*@)?(\[[^\]]+\]|[^:,/?]+)(?::(\d+))?/.exec(url);
  if (!match) throw new Error(`MONGO_URL must be mongodb://host[:port]… (got ${url})`);
  return { host: match[1].replace(/^\[(.*)\]$/, "$1"), port: match[2] ?? "27017" };
}

/**
 * Checks PostgreSQL and Redis answer, and starts Kafka through deploy/kafka.sh when nothing answers on
 * KAFKA_BROKERS' first address, and the MongoDB-compatible server through deploy/mongo.sh when nothing answers
 * on MONGO_URL's first host. `tools` also fetches Kafka's jars (its Java tools included) when missing.
 */
export async function ensureServers(log: (line: string) => void, options: { tools?: boolean } = {}) {
  const pg = new URL(env.databaseUrl);
  const redis = new URL(env.redisUrl);
  const missing: string[] = [];
  if (!(await answers(pg.hostname, Number(pg.port || 5432)))) {
    missing.push(`PostgreSQL at ${pg.host} (DATABASE_URL)`);
  }
  if (!(await answers(redis.hostname, Number(redis.port || 6379)))) {
    missing.push(`Redis at ${redis.host} (REDIS_URL)`);
  }
  if (missing.length > 0) {
    throw new Error(`not answering: ${missing.join(", ")}; start them (see README) and try again`);
  }
  if (options.tools) await kafkaScript("fetch");
  const [host, port] = env.brokers[0].split(":");
  if (await answers(host, Number(port))) {
    log(`kafka: ${env.brokers[0]} answers`);
  } else {
    log(`kafka: nothing answers on ${env.brokers[0]}; starting it with deploy/kafka.sh`);
    await kafkaScript("start", port);
  }
  const mongo = mongoAddress(env.mongoUrl);
  if (await answers(mongo.host, Number(mongo.port))) return log(`mongo: ${mongo.host}:${mongo.port} answers`);
  log(`mongo: nothing answers on ${mongo.host}:${mongo.port}; starting it with deploy/mongo.sh`);
  await mongoScript("start", mongo.host, mongo.port);
}

/** Opens a pool on a new schema and migrates it as `deno task migrate` does. */
export async function migratedSchema(schema: string, pool: number): Promise<SqlDatabase> {
  const db = await connectPostgres(env.databaseUrl, { schema, max: pool });
  await migrate(db, migrationScopes(modules));
  await recordBucketCount(db, loadConfig({}));
  return db;
}
