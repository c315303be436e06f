/** Configuration: read once from environment variables, validated, with defaults for a developer machine. */
import { z } from "zod";
import type { LogLevel } from "../adapters/log/logger.ts";
import { boolSetting, intSetting, parseSettings, secretSetting } from "../adapters/settings.ts";

const int = intSetting;
const port = (fallback: number) => int(fallback, 0, 65535);

/** A URL with one of `protocols`, with an example in the error. */
const url = (protocols: string[], example: string) =>
  z.string().refine((value) => {
    try {
      return protocols.includes(new URL(value).protocol);
    } catch {
      return false;
    }
  }, `must be a ${protocols.map((p) => `${p}//`).join(" or ")} URL, e.g. ${example}`);

const postgresUrl = url(["postgres:", "postgresql:"], "postgres://postgres@127.0.0.1:5432/postgres");
const redisUrl = url(["redis:", "rediss:"], "redis://127.0.0.1:6379");

const brokers = z.string().transform((value) => value.split(",").map((b) => b.trim()).filter(Boolean)).refine(
  (list) =>
    list.length > 0 &&
    list.every((b) => /^[A-Za-z0-9.\-_]+:[0-9]{1,5}$/.test(b) && Number(b.split(":")[1]) <= 65535),
  "must be a comma-separated list of host:port, e.g. 127.0.0.1:9092",
);

/** The codecs a Kafka producer can compress its record batches with. */
const kafkaCompressions = ["none", "gzip", "snappy", "lz4", "zstd"] as const;

/**
 * The codecs each KAFKA_CLIENT has without extra packages, as its adapter accepts them: kafkajs has only gzip
 * built in; @platformatic/kafka has gzip and zstd from node:zlib, snappy and lz4 from bundled WebAssembly.
 */
export const kafkaClientCompressions: Readonly<
  Record<"platformatic" | "kafkajs", readonly (typeof kafkaCompressions)[number][]>
> = {
  kafkajs: ["none", "gzip"],
  platformatic: ["none", "gzip", "snappy", "lz4", "zstd"],
};

/**
 * The fewest retries each client's idempotent producer takes: kafkajs refuses 0, and @platformatic/kafka turns
 * 0 or 1 into unlimited retries, which would hold a publish as long as the broker is down.
 */
const idempotentMinRetries = { kafkajs: 1, platformatic: 2 } as const;

/** KAFKA_ACKS as the Produce request carries it: -1 all in-sync replicas, 1 the leader, 0 none. */
const kafkaAcks = z.enum(["all", "1", "0"]).transform((acks) => ({ all: -1, "1": 1, "0": 0 } as const)[acks])
  .default(-1);

/** Every environment variable the processes read, with its default. */
export const configSchema = z.object({
  DATABASE_URL: postgresUrl.default("postgres://postgres@127.0.0.1:5432/postgres"),
  DATABASE_SCHEMA: z.string().regex(/^[a-z_][a-z0-9_]*$/, "must be a lower-case SQL identifier").default(
    "public",
  ),
  DATABASE_POOL: int(10, 1),
  REDIS_URL: redisUrl.default("redis://127.0.0.1:6379"),
  KAFKA_BROKERS: brokers.default(["127.0.0.1:9092"]),
  KAFKA_CLIENT: z.enum(["platformatic", "kafkajs"]).default("platformatic"),
  /** Acknowledgements a publish waits for: `all` in-sync replicas (the seed's), `1` the leader, `0` none. */
  KAFKA_ACKS: kafkaAcks,
  /** Idempotent producer: a batch retried after a lost answer is not written twice; needs KAFKA_ACKS=all. */
  KAFKA_IDEMPOTENT: boolSetting(true),
  /** Retries of a failed Produce request by the client before the publish fails and the relay backs off. */
  KAFKA_RETRIES: int(5, 0),
  /** The client's delay before its first retry, doubling at each next one up to KAFKA_RETRY_MAX_MS. */
  KAFKA_RETRY_BASE_MS: int(200, 1),
  KAFKA_RETRY_MAX_MS: int(2000, 1),
  /** Codec of the record batches the producer sends; which ones depends on KAFKA_CLIENT. */
  KAFKA_COMPRESSION: z.enum(kafkaCompressions).default("none"),
  NAME_PREFIX: z.string().regex(/^[A-Za-z0-9._-]*$/, "letters, digits, '.', '_' and '-' only").default(""),
  TOPIC_PARTITIONS: int(6, 1),
  TOPIC_REPLICATION_FACTOR: int(1, 1),
  /** retention.ms of the topics the project creates; the inbox must remember at least as long. */
  TOPIC_RETENTION_HOURS: int(168, 1),
  /** Interface the servers listen on; 127.0.0.1 keeps them off the network (containers set 0.0.0.0). */
  HOST: z.string().regex(/^[A-Za-z0-9.:\-]+$/, "must be a host name or an IP address").default("127.0.0.1"),
  PORT: port(8080),
  /** Largest HTTP request body, in bytes (413 above). */
  HTTP_BODY_LIMIT_BYTES: int(65_536, 1),
  /** Port of /metrics and /health for relay (default 9464) and worker (default 9465); 0 picks a free one. */
  METRICS_PORT: z.string().regex(/^[0-9]+$/, "must be a whole number").transform(Number)
    .pipe(z.number().max(65535)).optional(),
  // Stored as smallint, and recorded by the first migrate: every process must run with the same count.
  OUTBOX_BUCKETS: int(64, 1, 32_767),
  /** Largest event (value and headers) a write may append; Kafka refuses messages over ~1 MiB by default. */
  OUTBOX_MAX_EVENT_BYTES: int(900_000, 1_000),
  RELAY_BATCH_SIZE: int(500, 1),
  RELAY_CONCURRENCY: int(4, 1),
  RELAY_POLL_MS: int(1000, 10),
  BATCH_SIZE: int(100, 1),
  BATCH_FLUSH_MS: int(5000, 1),
  BATCH_FLUSH_ON_DELIVERY: boolSetting(false),
  RETRY_MAX: int(3, 0),
  RETRY_BASE_MS: int(1000, 0),
  RETRY_FACTOR: z.string().regex(/^[0-9]+(\.[0-9]+)?$/, "must be a number").transform(Number).pipe(
    z.number().min(1),
  ).default(2),
  /** At least the topics' retention plus their segment time (TOPIC_RETENTION_HOURS + 24 with our topics). */
  INBOX_RETENTION_HOURS: int(192, 1),
  /** How long a stop waits for the work in flight before abandoning it (a second signal exits at once). */
  SHUTDOWN_TIMEOUT_MS: int(10_000, 0),
  DATA_DIR: z.string().min(1).default(".data"),
  CACHE_WARM_LIMIT: int(1000, 0),
  /**
   * A machine credential with the administrator role (for scripts and probes): sent as Authorization: Bearer.
   * Unset (the default), only administrators' access tokens open the admin endpoints.
   */
  OPERATOR_TOKEN: secretSetting(),
  LOG_LEVEL: z.enum(["debug", "info", "warn", "error"]).default("info"),
  LOG_FORMAT: z.enum(["json", "pretty"]).optional(),
}).superRefine((config, ctx) => {
  // Combinations of valid values only: a value that is itself invalid is reported once, by its own field.
  const problem = (variable: string, message: string) =>
    ctx.addIssue({ code: "custom", path: [variable], message });
  const client = config.KAFKA_CLIENT;
  const known = client === "kafkajs" || client === "platformatic";
  if (config.KAFKA_IDEMPOTENT === true && (config.KAFKA_ACKS === 1 || config.KAFKA_ACKS === 0)) {
    problem(
      "KAFKA_ACKS",
      "an idempotent producer needs acks from all replicas: set KAFKA_ACKS=all, or KAFKA_IDEMPOTENT=false",
    );
  }
  if (
    known && kafkaCompressions.includes(config.KAFKA_COMPRESSION) &&
    !kafkaClientCompressions[client].includes(config.KAFKA_COMPRESSION)
  ) {
    const supported = kafkaClientCompressions[client].join(" or ");
    problem(
      "KAFKA_COMPRESSION",
      `KAFKA_CLIENT=${client} compresses with ${supported} only (other codecs need packages it does not ship)`,
    );
  }
  if (
    known && config.KAFKA_IDEMPOTENT === true && typeof config.KAFKA_RETRIES === "number" &&
    config.KAFKA_RETRIES < idempotentMinRetries[client]
  ) {
    problem(
      "KAFKA_RETRIES",
      `an idempotent producer (KAFKA_IDEMPOTENT=true) with KAFKA_CLIENT=${client} needs at least ` +
        `${idempotentMinRetries[client]} retries`,
    );
  }
  const [base, max] = [config.KAFKA_RETRY_BASE_MS, config.KAFKA_RETRY_MAX_MS];
  if (typeof base === "number" && typeof max === "number" && max < base) {
    problem(
      "KAFKA_RETRY_MAX_MS",
      `the longest retry delay, ${max} ms (2000 by default), is below KAFKA_RETRY_BASE_MS=${base}`,
    );
  }
});

/** Validated configuration. */
export type Config = z.infer<typeof configSchema> & { LOG_LEVEL: LogLevel };

/** A configuration error naming each bad variable. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

/** Reads and validates the environment; throws ConfigError naming every bad variable. */
export function loadConfig(env: Record<string, string | undefined> = Deno.env.toObject()): Config {
  const parsed = parseSettings(configSchema, env);
  if (!parsed.ok) throw new ConfigError(`invalid configuration:\n${parsed.problems.join("\n")}`);
  return parsed.value as Config;
}

/** A topic or group name with the optional prefix that isolates environments sharing a cluster. */
export function prefixed(config: Pick<Config, "NAME_PREFIX">, name: string): string {
  return config.NAME_PREFIX ? `${config.NAME_PREFIX}.${name}` : name;
}
