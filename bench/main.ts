/**
 * `deno task bench [--quick] [--client kafkajs|platformatic|both]
 *   [--only drain,latency,scale,api,embedded,login,chat] [--count N] [--profile auto|always|never]`
 *   (profile: default always for a full run, never for --quick; auto profiles the relay only when it misses
 *   0.6× ProducerPerformance)
 *
 * Starts what it needs (Kafka through deploy/kafka.sh when 9092 does not answer), runs the scenarios with
 * progress lines, prints the summary table, and writes a JSON and a Markdown file under bench/results/.
 */
import {
  cleanUpAll,
  type ClientName,
  ensureServers,
  platformaticAvailable,
  progress,
  resultsDir,
} from "./common.ts";
import { machineFacts } from "./machine.ts";
import { runRelayDrain } from "./relay_drain.ts";
import { type PipelineVariant, runLatency } from "./latency.ts";
import { runScaleOut } from "./scale_out.ts";
import { runApiLoad } from "./api_load.ts";
import { runEmbedded } from "./embedded.ts";
import { runLogin } from "./login.ts";
import { runChat } from "./chat.ts";
import { type BenchReport, tableRows, textTable, writeReport } from "./report.ts";

const scenarios = ["drain", "latency", "scale", "api", "embedded", "login", "chat"] as const;
type Scenario = typeof scenarios[number];

/** Parsed command line. */
export interface BenchArgs {
  readonly quick: boolean;
  readonly client: "kafkajs" | "platformatic" | "both";
  readonly only: readonly Scenario[];
  readonly count?: number;
  readonly profile: "auto" | "always" | "never";
}

/** Parses `--flag value` and `--flag=value` arguments; throws on anything unknown. */
export function parseArgs(args: readonly string[]): BenchArgs {
  const values = new Map<string, string>();
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (!arg.startsWith("--")) throw new Error(`unexpected argument: ${arg}`);
    const [name, inline] = arg.slice(2).split("=", 2);
    if (name === "quick") values.set(name, "true");
    else values.set(name, inline ?? args[++i] ?? "");
  }
  for (const name of values.keys()) {
    if (!["quick", "client", "only", "count", "profile"].includes(name)) {
      throw new Error(`unknown flag --${name}`);
    }
  }
  const client = values.get("client") ?? "both";
  if (!["kafkajs", "platformatic", "both"].includes(client)) {
    throw new Error(`--client: kafkajs, platformatic or both`);
  }
  const only = (values.get("only") ?? scenarios.join(",")).split(",").map((s) => s.trim()) as Scenario[];
  for (const s of only) {
    if (!scenarios.includes(s)) throw new Error(`--only: one or more of ${scenarios.join(",")}`);
  }
  // A full run profiles the relay by default (it names where the relay's time goes); a quick run does not.
  const profile = values.get("profile") ?? (values.has("quick") ? "never" : "always");
  if (!["auto", "always", "never"].includes(profile)) throw new Error("--profile: auto, always or never");
  const count = values.has("count") ? Number(values.get("count")) : undefined;
  if (count !== undefined && !(Number.isInteger(count) && count > 0)) {
    throw new Error("--count: a positive integer");
  }
  return {
    quick: values.has("quick"),
    client: client as BenchArgs["client"],
    only,
    count,
    profile: profile as BenchArgs["profile"],
  };
}

async function loadAverage(): Promise<string> {
  try {
    return (await Deno.readTextFile("/proc/loadavg")).split(" ").slice(0, 3).join(" ");
  } catch {
    return "unknown";
  }
}

async function main(): Promise<void> {
  const args = parseArgs(Deno.args);
  const notes: string[] = [];
  const errors: string[] = [];
  let clients: ClientName[] = args.client === "both" ? ["kafkajs", "platformatic"] : [args.client];
  if (clients.includes("platformatic") && !(await platformaticAvailable())) {
    if (args.client === "platformatic") throw new Error("adapters/kafka/platformatic.ts does not exist yet");
    clients = clients.filter((c) => c !== "platformatic");
    notes.push("adapters/kafka/platformatic.ts does not exist yet: only kafkajs was measured");
  }
  const quick = args.quick;
  const count = args.count ?? (quick ? 5_000 : 200_000);
  const partitions = 6;
  const startedAt = new Date().toISOString();
  progress("setup", `${quick ? "quick" : "full"} run; clients ${clients.join(", ")}; N = ${count}`);
  await ensureServers();
  const machine = await machineFacts(clients);
  const loadBefore = await loadAverage();
  progress(
    "setup",
    `${machine.cores} cores, ${machine.memoryGiB} GiB, load ${loadBefore}; ${machine.postgres}`,
  );
  if (Number(loadBefore.split(" ")[0]) > machine.cores * 0.5) {
    notes.push(`the machine was busy when the run started (load ${loadBefore}): figures are disturbed`);
    progress("setup", "warning: the machine is busy; figures will be disturbed");
  }

  const report: {
    -readonly [K in "drain" | "latency" | "scaleOut" | "api" | "embedded" | "login" | "chat"]?:
      BenchReport[K];
  } = {};
  if (args.only.includes("drain")) {
    report.drain = await runRelayDrain({
      count,
      clients,
      peerCapSeconds: quick ? 4 : 20,
      profile: args.profile,
      partitions,
    });
    errors.push(...report.drain.errors);
  }
  if (args.only.includes("latency")) {
    const rate = quick ? 500 : 2000;
    // Each client at the scenario's rate; in a full run also the first client at 500/s (below the database's
    // NOTIFY-serialized commit limit), batched and one event per transaction.
    const variants: PipelineVariant[] = clients.map((client) => ({ client, rate, batched: true }));
    if (!quick) {
      variants.push({ client: clients[0], rate: 500, batched: true }, {
        client: clients[0],
        rate: 500,
        batched: false,
      });
    }
    report.latency = await runLatency({
      rate,
      seconds: quick ? 5 : 30,
      variants,
      peerSeconds: quick ? 0 : 10,
      settleSeconds: quick ? 10 : 15,
      warmupSeconds: 1,
      partitions,
    });
    errors.push(...report.latency.errors);
  }
  if (args.only.includes("scale")) {
    report.scaleOut = await runScaleOut({ count, relays: [1, 2, 4], clients, partitions });
    errors.push(...report.scaleOut.errors);
  }
  if (args.only.includes("api")) {
    report.api = await runApiLoad({
      connections: 10,
      seconds: quick ? 3 : 20,
      warmupSeconds: quick ? 1 : 3,
      rounds: quick ? 1 : 2,
      profileDir: args.profile === "always"
        ? `${resultsDir}/profiles/${startedAt.replace(/[:.]/g, "-")}-api`
        : undefined,
    });
    errors.push(...report.api.errors);
  }
  if (args.only.includes("embedded")) {
    try {
      report.embedded = await runEmbedded({ likes: quick ? 300 : 5000 });
    } catch (error) {
      errors.push(`embedded: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  if (args.only.includes("login")) {
    report.login = await runLogin({
      connections: [4, 16],
      seconds: quick ? 3 : 10,
      warmupSeconds: quick ? 1 : 2,
      hashSeconds: quick ? 2 : 5,
      timingAttempts: 40,
      cheaper: true,
    });
    errors.push(...report.login.errors);
  }
  if (args.only.includes("chat")) {
    // The processes' own default client (platformatic) unless --client names one.
    const client: ClientName = args.client === "both" ? clients.at(-1)! : args.client;
    report.chat = await runChat({
      pairs: 10,
      rates: [50, 200],
      seconds: quick ? 3 : 20,
      warmupSeconds: quick ? 1 : 2,
      settleSeconds: quick ? 15 : 30,
      pollMs: 20,
      client,
      flushMs: 100,
    });
    errors.push(...report.chat.errors);
  }
  if (quick) notes.push("quick run: tiny counts, a smoke check of the harness; its figures mean little");

  const full: BenchReport = {
    mode: quick ? "quick" : "full",
    args: Deno.args,
    startedAt,
    finishedAt: new Date().toISOString(),
    machine,
    load: { before: loadBefore, after: await loadAverage() },
    ...report,
    notes,
    errors,
  };
  const files = await writeReport(resultsDir, full);
  console.log("");
  console.log(textTable(tableRows(full)));
  console.log("");
  for (const note of notes) console.log(`note: ${note}`);
  for (const error of errors) console.log(`error: ${error}`);
  console.log(`results: ${files.json}\n         ${files.md}`);
  // A scenario that could not run is a broken harness: fail, so CI's smoke run notices.
  if (errors.length > 0) throw new Error(`${errors.length} scenario(s) failed; see the errors above`);
}

if (import.meta.main) {
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(signal, () => {
      console.error(`\n${signal}: stopping the processes, dropping the schemas and topics of this run`);
      cleanUpAll().finally(() => Deno.exit(130));
    });
  }
  try {
    await main();
    Deno.exit(0);
  } catch (error) {
    console.error(`bench failed: ${error instanceof Error ? error.stack : error}`);
    Deno.exit(1);
  }
}
