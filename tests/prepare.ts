/**
 * Run before `deno test`: checks PostgreSQL and Redis answer, and starts Kafka through deploy/ when nothing
 * answers on KAFKA_BROKERS' first address (a fresh machine has no broker running).
 */
import { ensureServers } from "./servers.ts";

try {
  await ensureServers((line) => console.error(line));
} catch (error) {
  console.error(error instanceof Error ? error.message : String(error));
  Deno.exit(1);
}
