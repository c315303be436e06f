/**
 * Run before `deno test`: checks PostgreSQL and Redis answer, and starts Kafka and the MongoDB-compatible server
 * through deploy/ when nothing answers on KAFKA_BROKERS' first address or MONGO_URL's first host (a fresh
 * machine has neither running).
 */
import { ensureServers } from "./servers.ts";

try {
  await ensureServers((line) => console.error(line));
} catch (error) {
  console.error(error instanceof Error ? error.message : String(error));
  Deno.exit(1);
}
