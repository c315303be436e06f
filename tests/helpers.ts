/** Test helpers: each test owns a database schema, a name prefix for topics and groups, and cleans up. */
import { Redis } from "ioredis";
import type { SqlDatabase } from "../adapters/postgres/sql_client.ts";
import { env, migratedSchema, repoRoot, uniqueId } from "./servers.ts";
import { testJwtSecret } from "./users.ts";
import { KafkajsTransport, KafkaTopics } from "../adapters/kafka/kafkajs.ts";
import type { ReceivedMessage } from "../outbox/ports.ts";
import { consoleLogger } from "../adapters/log/logger.ts";

export { env, repoRoot, uniqueId };
import type { Logger } from "../application/ports.ts";

/** Logs of the code under test: silent unless TEST_LOG_LEVEL is set. */
export const testLogger: Logger = Deno.env.get("TEST_LOG_LEVEL")
  ? consoleLogger({ level: Deno.env.get("TEST_LOG_LEVEL") as "debug", format: "pretty" })
  : { debug() {}, info() {}, warn() {}, error() {} };

/** A fresh, migrated schema; `[Symbol.asyncDispose]` drops it. */
export async function testDatabase(options: { max?: number } = {}): Promise<
  SqlDatabase & { schema: string; [Symbol.asyncDispose](): Promise<void> }
> {
  const schema = `t_${uniqueId()}`;
  const db = await migratedSchema(schema, options.max ?? 10);
  return Object.assign(db, {
    schema,
    async [Symbol.asyncDispose]() {
      await db.exec(`drop schema if exists ${schema} cascade`).catch(() => {});
      await db.close();
    },
  });
}

/** Creates topics (and their .dlq) with a unique prefix. */
export async function testTopics(partitions: number, ...base: string[]): Promise<string[]> {
  const prefix = `t${uniqueId()}`;
  const topics = base.map((name) => `${prefix}.${name}`);
  // The configs the project gives its own topics (bin/runtime.ts topicSpecs), so workers accept them.
  const configs = { "retention.ms": String(168 * 3_600_000), "segment.ms": String(86_400_000) };
  await new KafkaTopics({ brokers: env.brokers }).ensure(
    topics.map((topic) => ({ topic, partitions, configs })),
  );
  return topics;
}

/** Reads a topic from the beginning with a throw-away group until `enough` says so or the time is up. */
export async function readTopic(
  topic: string,
  enough: (messages: readonly ReceivedMessage[]) => boolean,
  options: { timeoutMs?: number; brokers?: string[] } = {},
): Promise<ReceivedMessage[]> {
  const transport = new KafkajsTransport({ brokers: options.brokers ?? env.brokers });
  const messages: ReceivedMessage[] = [];
  let wake = () => {};
  const done = new Promise<void>((resolve) => (wake = resolve));
  const subscription = await transport.subscribe({
    group: `reader-${uniqueId()}`,
    topics: [topic],
    onBatch: (batch) => {
      messages.push(...batch.messages);
      if (enough(messages)) wake();
      return Promise.resolve();
    },
  });
  const timer = setTimeout(wake, options.timeoutMs ?? 30_000);
  if (enough(messages)) wake();
  await done;
  clearTimeout(timer);
  await subscription.close();
  await transport.close();
  return messages;
}

/** Polls `probe` until it returns a value that satisfies `ok`, or fails with the last value. */
export async function eventually<T>(
  probe: () => Promise<T>,
  ok: (value: T) => boolean,
  options: { timeoutMs?: number; intervalMs?: number; what?: string } = {},
): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  let last: T;
  do {
    last = await probe();
    if (ok(last)) return last;
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 100));
  } while (Date.now() < deadline);
  throw new Error(
    `timed out waiting for ${options.what ?? "condition"}; last value: ${JSON.stringify(last)}`,
  );
}

/** Starts `deno run -A bin/<name>.ts` with extra env; output goes to a log file returned with the child. */
export function spawnProcess(name: string, envVars: Record<string, string>) {
  const logPath = Deno.makeTempFileSync({ prefix: `${name}-`, suffix: ".log" });
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `bin/${name}.ts`],
    cwd: repoRoot,
    // The processes verify tokens signed with the tests' secret (see tests/users.ts).
    // Few partitions for the topics a process creates, as for the tests' own (tests/fixtures.ts).
    env: { LOG_FORMAT: "json", JWT_SECRET: testJwtSecret, TOPIC_PARTITIONS: "2", ...envVars },
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const file = Deno.openSync(logPath, { write: true, append: true });
  const piping = child.stderr.pipeTo(file.writable).catch(() => {});
  return {
    child,
    logPath,
    async log() {
      return await Deno.readTextFile(logPath);
    },
    async stop(signal: Deno.Signal = "SIGTERM") {
      try {
        child.kill(signal);
      } catch { /* already gone */ }
      const status = await child.status;
      await piping;
      return status;
    },
  };
}

/** Runs `deploy/kafka.sh <command>` for the broker on `port` (tests that stop a broker use their own). */
export async function kafkaControl(
  command: "start" | "stop" | "kill" | "reset",
  port: number,
): Promise<void> {
  const output = await new Deno.Command("bash", {
    args: [`${repoRoot}deploy/kafka.sh`, command],
    env: { KAFKA_PORT: String(port) },
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!output.success) {
    const text = new TextDecoder().decode(output.stdout) + new TextDecoder().decode(output.stderr);
    throw new Error(`deploy/kafka.sh ${command} failed:\n${text}`);
  }
}

/** A free TCP port on 127.0.0.1. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/** Sums the samples of `name` in Prometheus text whose labels include `labels`. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split("\n")) {
    const match = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (.+)$/);
    if (!match || match[1] !== name) continue;
    const present = Object.fromEntries(
      [...(match[3] ?? "").matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]),
    );
    if (Object.entries(labels).every(([k, v]) => present[k] === v)) sum += Number(match[4]);
  }
  return sum;
}

/** Fetches `/metrics` of a process. */
export async function scrape(port: number): Promise<string> {
  const response = await fetch(`http://127.0.0.1:${port}/metrics`);
  return await response.text();
}

/**
 * A key prefix of a test's own: `prefixed` is a client that adds it to every key (what the code under test
 * gets), `redis` a plain client for assertions. Disposing deletes the prefix's keys.
 */
export function testRedis() {
  const redis = new Redis(env.redisUrl, { maxRetriesPerRequest: 1 });
  const prefix = `test:${uniqueId()}:`;
  const prefixed = new Redis(env.redisUrl, { maxRetriesPerRequest: 1, keyPrefix: prefix });
  return {
    redis,
    prefixed,
    prefix,
    async [Symbol.asyncDispose]() {
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length > 0) await redis.del(...keys);
      redis.disconnect();
      prefixed.disconnect();
    },
  };
}

/**
 * A TCP proxy on `port` to `targetPort` on 127.0.0.1: a server the test can make unreachable (closed, no
 * listener) and reachable again, without touching the real server.
 */
export function tcpProxy(port: number, targetPort: number) {
  let listener: Deno.Listener | undefined;
  const open = new Set<Deno.Conn>();
  const accept = async (current: Deno.Listener) => {
    for await (const conn of current) {
      try {
        const upstream = await Deno.connect({ hostname: "127.0.0.1", port: targetPort });
        open.add(conn).add(upstream);
        conn.readable.pipeTo(upstream.writable).catch(() => {});
        upstream.readable.pipeTo(conn.writable).catch(() => {});
      } catch {
        conn.close();
      }
    }
  };
  return {
    /** Starts accepting connections. */
    open() {
      listener = Deno.listen({ hostname: "127.0.0.1", port });
      accept(listener).catch(() => {});
    },
    /** Stops accepting and cuts every connection. */
    close() {
      listener?.close();
      listener = undefined;
      for (const conn of open) {
        try {
          conn.close();
        } catch { /* already closed */ }
      }
      open.clear();
    },
  };
}

/** Status of `/health/ready` on `port` (0 while nothing answers). */
export async function readiness(port: number): Promise<number> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}/health/ready`);
    await response.body?.cancel();
    return response.status;
  } catch {
    return 0;
  }
}

/** The child's exit status, or undefined if it is still running after `ms`. */
export async function exitWithin(
  child: Deno.ChildProcess,
  ms: number,
): Promise<Deno.CommandStatus | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<undefined>((resolve) => timer = setTimeout(() => resolve(undefined), ms));
  const status = await Promise.race([child.status, late]);
  clearTimeout(timer);
  return status;
}
