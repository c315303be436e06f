/** Facts about the machine and the software a benchmark ran on, recorded with every result. */
import { connectPostgres } from "../adapters/postgres/postgres_js.ts";
import { type ClientName, env, repoRoot } from "./common.ts";

/** What the results file says about the run's machine. */
export interface MachineFacts {
  readonly cores: number;
  readonly cpuModel: string;
  readonly memoryGiB: number;
  readonly os: string;
  readonly deno: string;
  readonly v8: string;
  readonly postgres: string;
  readonly postgresSettings: Record<string, string>;
  readonly kafka: string;
  readonly java: string;
  readonly clients: Record<string, string>;
  /** Versions of the peers and tools the bench pins itself (npm: specifiers in bench/). */
  readonly peers: Record<string, string>;
  readonly git: string;
}

async function output(command: string, args: string[]): Promise<string> {
  try {
    const out = await new Deno.Command(command, { args, stdout: "piped", stderr: "piped" }).output();
    return (new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr)).trim();
  } catch {
    return "";
  }
}

async function readText(path: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch {
    return "";
  }
}

/** Versions pinned in deno.json for an npm package (`npm:name@1.2.3` → `1.2.3`). */
async function pinned(name: string): Promise<string> {
  const config = JSON.parse(await readText(`${repoRoot}deno.json`) || "{}");
  const specifier: string = config.imports?.[name] ?? "";
  return specifier.replace(/^npm:.*@/, "") || "not pinned";
}

/** Gathers the facts (cores, memory, versions of Deno, PostgreSQL, Kafka, Java and the clients). */
export async function machineFacts(clients: readonly ClientName[]): Promise<MachineFacts> {
  const cpuinfo = await readText("/proc/cpuinfo");
  const meminfo = await readText("/proc/meminfo");
  const memKb = Number(meminfo.match(/MemTotal:\s+(\d+)/)?.[1] ?? 0);
  let postgres = "unknown";
  const postgresSettings: Record<string, string> = {};
  try {
    const db = await connectPostgres(env.databaseUrl, { max: 1 });
    postgres = (await db.query<{ v: string }>("select version() as v"))[0].v;
    const rows = await db.query<{ name: string; setting: string }>(
      `select name, setting from pg_settings where name in
       ('fsync','synchronous_commit','shared_buffers','max_connections','wal_level','max_wal_size')`,
    );
    for (const row of rows) postgresSettings[row.name] = row.setting;
    await db.close();
  } catch (error) {
    postgres = `unreachable: ${error}`;
  }
  let kafka = "unknown";
  try {
    for await (const entry of Deno.readDir(`${repoRoot}.kafka/lib`)) {
      const match = entry.name.match(/^kafka_[\d.]+-([\d.]+)\.jar$/);
      if (match) kafka = `Apache Kafka ${match[1]} (KRaft, single node, ${env.brokers.join(",")})`;
    }
  } catch {
    // no local jars: an external broker
  }
  const clientVersions: Record<string, string> = {};
  for (const client of clients) {
    clientVersions[client] = client === "kafkajs"
      ? `kafkajs ${await pinned("kafkajs")}`
      : `@platformatic/kafka ${await pinned("@platformatic/kafka")}`;
  }
  const commit = await output("git", ["-C", repoRoot, "rev-parse", "--short", "HEAD"]);
  const dirty = await output("git", ["-C", repoRoot, "status", "--porcelain", "--untracked-files=no"]);
  return {
    cores: navigator.hardwareConcurrency,
    cpuModel: cpuinfo.match(/model name\s*:\s*(.*)/)?.[1] ?? "unknown",
    memoryGiB: Math.round((memKb / 1024 / 1024) * 10) / 10,
    os: `${Deno.build.os} ${Deno.osRelease()}`,
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    postgres,
    postgresSettings,
    kafka,
    java: (await output("java", ["-version"])).split("\n")[0] ?? "unknown",
    clients: clientVersions,
    peers: {
      "pg-transactional-outbox": "0.5.7 (bench/peers/pg_transactional_outbox.ts, kafkajs producer)",
      autocannon: "8.0.0 (bench/api_driver.ts, run under Deno)",
      pgbench: (await output("pgbench", ["--version"])) || "missing",
    },
    git: dirty ? `${commit} (uncommitted changes)` : commit,
  };
}
