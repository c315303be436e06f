/**
 * Run before `deno test`: checks PostgreSQL and Redis answer, and starts Kafka through deploy/ when nothing
 * answers on KAFKA_BROKERS' first address (a fresh machine has no broker running).
 */
import { env } from "./helpers.ts";

async function answers(host: string, port: number): Promise<boolean> {
  try {
    const conn = await Deno.connect({ hostname: host, port });
    conn.close();
    return true;
  } catch {
    return false;
  }
}

function hostPort(url: string, fallbackPort: number): [string, number] {
  const parsed = new URL(url);
  return [parsed.hostname, Number(parsed.port || fallbackPort)];
}

const [pgHost, pgPort] = hostPort(env.databaseUrl, 5432);
const [redisHost, redisPort] = hostPort(env.redisUrl, 6379);
const missing: string[] = [];
if (!(await answers(pgHost, pgPort))) missing.push(`PostgreSQL at ${pgHost}:${pgPort} (DATABASE_URL)`);
if (!(await answers(redisHost, redisPort))) missing.push(`Redis at ${redisHost}:${redisPort} (REDIS_URL)`);
if (missing.length > 0) {
  console.error(`not answering: ${missing.join(", ")}; start them (see README, "Services") and try again`);
  Deno.exit(1);
}

const [kafkaHost, kafkaPort] = env.brokers[0].split(":");
if (await answers(kafkaHost, Number(kafkaPort))) {
  console.error(`kafka: ${env.brokers[0]} answers`);
} else {
  console.error(`kafka: nothing answers on ${env.brokers[0]}; starting it with deploy/kafka.sh`);
  const status = await new Deno.Command("bash", {
    args: [new URL("../deploy/kafka.sh", import.meta.url).pathname, "start"],
    env: { KAFKA_PORT: kafkaPort },
    stdout: "inherit",
    stderr: "inherit",
  }).spawn().status;
  if (!status.success) Deno.exit(status.code || 1);
}
