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

/**
 * Checks PostgreSQL and Redis answer, and starts Kafka through deploy/kafka.sh when nothing answers on
 * KAFKA_BROKERS' first address. `tools` also fetches Kafka's jars (its Java tools included) when missing.
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
  if (await answers(host, Number(port))) return log(`kafka: ${env.brokers[0]} answers`);
  log(`kafka: nothing answers on ${env.brokers[0]}; starting it with deploy/kafka.sh`);
  await kafkaScript("start", port);
}

/** Opens a pool on a new schema and migrates it as `deno task migrate` does. */
export async function migratedSchema(schema: string, pool: number): Promise<SqlDatabase> {
  const db = await connectPostgres(env.databaseUrl, { schema, max: pool });
  await migrate(db, migrationScopes(modules));
  await recordBucketCount(db, loadConfig({}));
  return db;
}
