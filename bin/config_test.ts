import assert from "node:assert/strict";
import { ConfigError, loadConfig, prefixed } from "./config.ts";

/** Asserts that loading `env` throws a ConfigError whose message matches every pattern. */
function assertConfigError(env: Record<string, string | undefined>, ...patterns: RegExp[]): void {
  assert.throws(() => loadConfig(env), (error) => {
    assert.ok(error instanceof ConfigError, `expected ConfigError, got ${error}`);
    assert.equal(error.name, "ConfigError");
    for (const pattern of patterns) assert.match(error.message, pattern);
    return true;
  });
}

Deno.test("an empty environment gives the developer-machine defaults", () => {
  // given no environment variables
  // when the configuration is loaded
  const config = loadConfig({});

  // then the seed's defaults apply
  assert.equal(config.DATABASE_URL, "postgres://postgres@127.0.0.1:5432/postgres");
  assert.deepEqual(config.KAFKA_BROKERS, ["127.0.0.1:9092"]);
  assert.equal(config.BATCH_SIZE, 100);
  assert.equal(config.BATCH_FLUSH_MS, 5000);
  assert.equal(config.RETRY_MAX, 3);
  assert.equal(config.RETRY_BASE_MS, 1000);
  assert.equal(config.RETRY_FACTOR, 2);
  assert.equal(config.NAME_PREFIX, "");
  assert.equal(config.LOG_LEVEL, "info");
});

Deno.test("empty and undefined variables count as unset", () => {
  // given variables set to "" or undefined
  // when the configuration is loaded, then the defaults apply
  const config = loadConfig({ BATCH_SIZE: "", DATABASE_URL: undefined, KAFKA_BROKERS: "" });
  assert.equal(config.BATCH_SIZE, 100);
  assert.equal(config.DATABASE_URL, "postgres://postgres@127.0.0.1:5432/postgres");
  assert.deepEqual(config.KAFKA_BROKERS, ["127.0.0.1:9092"]);
});

Deno.test("set variables are parsed: numbers from text, brokers split on commas", () => {
  // given values for several variables
  const config = loadConfig({
    DATABASE_URL: "postgresql://app:secret@db.internal:6543/likes",
    KAFKA_BROKERS: "kafka-1:9092, kafka-2:9093,,",
    BATCH_SIZE: "250",
    BATCH_FLUSH_MS: "20",
    RETRY_MAX: "0",
    RETRY_FACTOR: "1.5",
  });

  // then they are typed and trimmed
  assert.equal(config.DATABASE_URL, "postgresql://app:secret@db.internal:6543/likes");
  assert.deepEqual(config.KAFKA_BROKERS, ["kafka-1:9092", "kafka-2:9093"]);
  assert.equal(config.BATCH_SIZE, 250);
  assert.equal(config.BATCH_FLUSH_MS, 20);
  assert.equal(config.RETRY_MAX, 0);
  assert.equal(config.RETRY_FACTOR, 1.5);
});

Deno.test("a DATABASE_URL that is not a postgres URL is a ConfigError naming DATABASE_URL", () => {
  // given nonsense, and a URL of another scheme
  // when loaded, then the error names the variable and its value
  assertConfigError({ DATABASE_URL: "nonsense" }, /DATABASE_URL="nonsense"/, /postgres:\/\//);
  assertConfigError({ DATABASE_URL: "mysql://root@localhost/db" }, /DATABASE_URL/);
});

Deno.test("bad KAFKA_BROKERS are a ConfigError naming KAFKA_BROKERS", () => {
  // given broker lists without ports, with a bad port or with a URL scheme
  for (const value of ["localhost", "localhost:abc", "kafka://localhost:9092", "a:1;b:2", ","]) {
    // when loaded, then the error names the variable and shows the expected form
    assertConfigError({ KAFKA_BROKERS: value }, /KAFKA_BROKERS=/, /host:port/);
  }
});

Deno.test("a non-numeric or out-of-range BATCH_SIZE is a ConfigError naming BATCH_SIZE", () => {
  // given sizes that are not positive integers
  for (const value of ["many", "1.5", "0", "-1"]) {
    // when loaded, then the error names the variable and its value
    assertConfigError({ BATCH_SIZE: value }, new RegExp(`BATCH_SIZE=${JSON.stringify(value)}`));
  }
});

Deno.test("every bad variable is named in one error", () => {
  // given two bad variables and a good one
  // when loaded, then both bad ones are named, the good one is not
  assertConfigError(
    { DATABASE_URL: "nonsense", BATCH_SIZE: "many", RETRY_MAX: "5" },
    /DATABASE_URL/,
    /BATCH_SIZE/,
  );
  assert.throws(() => loadConfig({ BATCH_SIZE: "many", RETRY_MAX: "5" }), (error: Error) => {
    assert.doesNotMatch(error.message, /RETRY_MAX/);
    return true;
  });
});

Deno.test("prefixed() puts NAME_PREFIX and a dot before a name, and nothing without a prefix", () => {
  assert.equal(prefixed(loadConfig({ NAME_PREFIX: "x" }), "some-events"), "x.some-events");
  assert.equal(prefixed(loadConfig({}), "some-events"), "some-events");
});

Deno.test("OUTBOX_BUCKETS above the smallint range is a ConfigError naming it", () => {
  assertConfigError({ OUTBOX_BUCKETS: "40000" }, /OUTBOX_BUCKETS/);
  assert.equal(loadConfig({ OUTBOX_BUCKETS: "32767" }).OUTBOX_BUCKETS, 32767);
});

Deno.test("servers listen on 127.0.0.1 unless HOST says otherwise", () => {
  assert.equal(loadConfig({}).HOST, "127.0.0.1");
  assert.equal(loadConfig({ HOST: "0.0.0.0" }).HOST, "0.0.0.0");
  assertConfigError({ HOST: "a b" }, /HOST/);
});

Deno.test("a NAME_PREFIX with characters Kafka does not allow is a ConfigError", () => {
  assertConfigError({ NAME_PREFIX: "my env/1" }, /NAME_PREFIX/);
});

Deno.test("the Kafka producer defaults: acks from all replicas, idempotent, 5 retries from 200 ms to 2 s, no compression", () => {
  const config = loadConfig({});
  assert.equal(config.KAFKA_ACKS, -1);
  assert.equal(config.KAFKA_IDEMPOTENT, true);
  assert.equal(config.KAFKA_RETRIES, 5);
  assert.equal(config.KAFKA_RETRY_BASE_MS, 200);
  assert.equal(config.KAFKA_RETRY_MAX_MS, 2000);
  assert.equal(config.KAFKA_COMPRESSION, "none");
});

Deno.test("Kafka producer settings are parsed: acks as the Produce request carries them, numbers, codecs", () => {
  // given a non-idempotent producer waiting for the leader alone, with its own backoff and zstd
  const config = loadConfig({
    KAFKA_ACKS: "1",
    KAFKA_IDEMPOTENT: "false",
    KAFKA_RETRIES: "0",
    KAFKA_RETRY_BASE_MS: "50",
    KAFKA_RETRY_MAX_MS: "800",
    KAFKA_COMPRESSION: "zstd",
  });

  // then each value is typed
  assert.equal(config.KAFKA_ACKS, 1);
  assert.equal(config.KAFKA_IDEMPOTENT, false);
  assert.equal(config.KAFKA_RETRIES, 0);
  assert.equal(config.KAFKA_RETRY_BASE_MS, 50);
  assert.equal(config.KAFKA_RETRY_MAX_MS, 800);
  assert.equal(config.KAFKA_COMPRESSION, "zstd");
  assert.equal(loadConfig({ KAFKA_ACKS: "0", KAFKA_IDEMPOTENT: "false" }).KAFKA_ACKS, 0);
  assert.equal(loadConfig({ KAFKA_ACKS: "all" }).KAFKA_ACKS, -1);
});

Deno.test("bad Kafka producer values are a ConfigError naming the variable", () => {
  // given values outside each variable's set
  assertConfigError({ KAFKA_ACKS: "2" }, /KAFKA_ACKS="2"/);
  assertConfigError({ KAFKA_ACKS: "-1" }, /KAFKA_ACKS="-1"/);
  assertConfigError({ KAFKA_IDEMPOTENT: "yes" }, /KAFKA_IDEMPOTENT="yes"/);
  assertConfigError({ KAFKA_RETRIES: "many" }, /KAFKA_RETRIES="many"/);
  assertConfigError({ KAFKA_RETRY_BASE_MS: "0" }, /KAFKA_RETRY_BASE_MS="0"/);
  assertConfigError({ KAFKA_COMPRESSION: "brotli" }, /KAFKA_COMPRESSION="brotli"/);
  // and a backoff whose longest delay is below its first one
  assertConfigError(
    { KAFKA_RETRY_BASE_MS: "500", KAFKA_RETRY_MAX_MS: "100" },
    /KAFKA_RETRY_MAX_MS="100"/,
    /below KAFKA_RETRY_BASE_MS=500/,
  );
});

Deno.test("an idempotent producer with acks other than all is refused, naming KAFKA_ACKS and KAFKA_IDEMPOTENT", () => {
  for (const acks of ["1", "0"]) {
    // given acks from the leader alone or none, with idempotence left on (its default) or set
    for (const idempotent of [undefined, "true"]) {
      // when loaded, then the error names both variables and what to change
      assertConfigError(
        { KAFKA_ACKS: acks, KAFKA_IDEMPOTENT: idempotent },
        new RegExp(`KAFKA_ACKS="${acks}"`),
        /KAFKA_ACKS=all/,
        /KAFKA_IDEMPOTENT=false/,
      );
    }
  }
  // and without idempotence the same acks are accepted
  assert.equal(loadConfig({ KAFKA_ACKS: "1", KAFKA_IDEMPOTENT: "false" }).KAFKA_ACKS, 1);
});

Deno.test("a codec KAFKA_CLIENT=kafkajs does not have is refused, naming KAFKA_COMPRESSION and the client", () => {
  for (const codec of ["snappy", "lz4", "zstd"]) {
    // given kafkajs asked to compress with a codec it has no built-in support for
    // when loaded, then the error names the variable, the client and what it supports
    assertConfigError(
      { KAFKA_CLIENT: "kafkajs", KAFKA_COMPRESSION: codec },
      new RegExp(`KAFKA_COMPRESSION="${codec}"`),
      /KAFKA_CLIENT=kafkajs/,
      /none or gzip only/,
    );
    // while platformatic (the default client) accepts it
    assert.equal(loadConfig({ KAFKA_COMPRESSION: codec }).KAFKA_COMPRESSION, codec);
  }
  assert.equal(loadConfig({ KAFKA_CLIENT: "kafkajs", KAFKA_COMPRESSION: "gzip" }).KAFKA_COMPRESSION, "gzip");
});

Deno.test("too few retries for the client's idempotent producer are refused, naming KAFKA_RETRIES", () => {
  // given kafkajs without retries, and platformatic with one (it would retry without end)
  assertConfigError({ KAFKA_CLIENT: "kafkajs", KAFKA_RETRIES: "0" }, /KAFKA_RETRIES="0"/, /at least 1/);
  assertConfigError({ KAFKA_RETRIES: "1" }, /KAFKA_RETRIES="1"/, /KAFKA_CLIENT=platformatic/, /at least 2/);
  // then the fewest each accepts, and any count without idempotence
  assert.equal(loadConfig({ KAFKA_CLIENT: "kafkajs", KAFKA_RETRIES: "1" }).KAFKA_RETRIES, 1);
  assert.equal(loadConfig({ KAFKA_RETRIES: "2" }).KAFKA_RETRIES, 2);
  assert.equal(loadConfig({ KAFKA_RETRIES: "0", KAFKA_IDEMPOTENT: "false" }).KAFKA_RETRIES, 0);
});

Deno.test("a bad Kafka value and another bad variable are both named, the bad value once", () => {
  assert.throws(() => loadConfig({ KAFKA_ACKS: "2", BATCH_SIZE: "many" }), (error: Error) => {
    assert.match(error.message, /BATCH_SIZE/);
    assert.equal(error.message.match(/KAFKA_ACKS/g)?.length, 1, error.message);
    return true;
  });
});

Deno.test("a bad URL is named with its password masked; an operator token must fit in a header", () => {
  assertConfigError({ DATABASE_URL: "mysql://app:s3cret@db/x" }, /DATABASE_URL="mysql:\/\/app:\*\*\*@db\/x"/);
  assert.throws(() => loadConfig({ DATABASE_URL: "mysql://app:s3cret@db/x" }), (error: Error) => {
    assert.doesNotMatch(error.message, /s3cret/);
    return true;
  });
  assertConfigError(
    { OPERATOR_TOKEN: "operator token with spaces!" },
    /OPERATOR_TOKEN=<hidden>/,
    /Authorization/,
  );
});
