/** The benchmark's output: the summary table, and one JSON and one Markdown file per run. */
import type { EmbeddedResult } from "./embedded.ts";
import type { DrainResult, DrainRun } from "./relay_drain.ts";
import type { LatencyResult } from "./latency.ts";
import type { ScaleOutResult } from "./scale_out.ts";
import type { ApiResult } from "./api_load.ts";
import type { HashRate, LoginResult, LoginRun } from "./login.ts";
import type { ChatResult } from "./chat.ts";
import type { MachineFacts } from "./machine.ts";
import type { CpuUsage, Percentiles } from "./common.ts";

/** Everything one run measured. */
export interface BenchReport {
  readonly mode: "quick" | "full";
  readonly args: readonly string[];
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly machine: MachineFacts;
  /** /proc/loadavg before and after: other work on the machine disturbs the figures. */
  readonly load: { before: string; after: string };
  readonly drain?: DrainResult;
  readonly latency?: LatencyResult;
  readonly scaleOut?: ScaleOutResult;
  readonly api?: ApiResult;
  readonly embedded?: EmbeddedResult;
  readonly login?: LoginResult;
  readonly chat?: ChatResult;
  readonly notes: string[];
  readonly errors: string[];
}

/** One line of the summary table. */
export interface TableRow {
  readonly scenario: string;
  readonly measure: string;
  readonly value: string;
  readonly reference?: string;
  readonly ratio?: string;
  readonly target?: string;
  readonly verdict?: "met" | "missed" | "n/a";
}

const perSecond = (n: number) => `${n.toLocaleString("en-US")}/s`;
const ms = (n: number) => (Number.isFinite(n) ? (n >= 100 ? n.toFixed(0) : n.toFixed(1)) : "–");
const times = (a: number, b: number) => (b > 0 ? `${(a / b).toFixed(2)}×` : "–");
const count = (n: number) => n.toLocaleString("en-US");
const decimal = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : "–");
const signed = (n: number) => (Number.isFinite(n) ? `${n >= 0 ? "+" : ""}${n.toFixed(1)}` : "–");
const share = (n: number) => (Number.isFinite(n) ? `${(n * 100).toFixed(1)}%` : "–");

function spread(p: Percentiles): string {
  return `p50 ${ms(p.p50)} / p95 ${ms(p.p95)} / p99 ${ms(p.p99)} / max ${ms(p.max)} ms`;
}

function drainValue(run: DrainRun): string {
  const partial = run.complete
    ? ""
    : ` (${run.acknowledged}/${run.count} in ${run.seconds.toFixed(0)} s cap)`;
  return `${perSecond(run.eventsPerSecond)}${partial}`;
}

/** Builds the summary table, each figure beside its reference and target. */
export function tableRows(report: BenchReport): TableRow[] {
  const rows: TableRow[] = [];
  const drain = report.drain;
  if (drain) {
    const scenario = `1 drain (N=${drain.count})`;
    const pp = drain.runs.find((r) => r.name === "ProducerPerformance 200 B");
    const peer = drain.runs.find((r) => r.name.startsWith("pg-transactional-outbox"));
    for (const run of drain.runs.filter((r) => r.client === undefined)) {
      rows.push({ scenario, measure: run.name, value: drainValue(run) });
    }
    for (const run of drain.runs.filter((r) => r.client !== undefined && !r.name.includes("cpu-prof"))) {
      if (pp) {
        const ratio = run.eventsPerSecond / pp.eventsPerSecond;
        rows.push({
          scenario,
          measure: run.name,
          value: drainValue(run),
          reference: `ProducerPerformance ${perSecond(pp.eventsPerSecond)}`,
          ratio: times(run.eventsPerSecond, pp.eventsPerSecond),
          target: "≥ 0.6× ProducerPerformance",
          verdict: ratio >= 0.6 ? "met" : "missed",
        });
      } else rows.push({ scenario, measure: run.name, value: drainValue(run) });
      if (peer) {
        rows.push({
          scenario,
          measure: `${run.name} vs peer`,
          value: drainValue(run),
          reference: `pg-transactional-outbox ${perSecond(peer.eventsPerSecond)}`,
          ratio: times(run.eventsPerSecond, peer.eventsPerSecond),
          target: "≥ 3× pg-transactional-outbox",
          verdict: run.eventsPerSecond >= 3 * peer.eventsPerSecond ? "met" : "missed",
        });
      }
    }
  }
  const latency = report.latency;
  if (latency) {
    for (const run of latency.runs) {
      const scenario = `2 latency (${run.targetRate}/s)`;
      const until = run.until === "effect" ? "commit → effect" : "commit → on topic";
      const missing = run.missing > 0 ? `, ${run.missing} missing` : "";
      const ok = run.latencyMs.p99 < 25 && run.missing === 0 && run.achievedRate >= 0.95 * run.targetRate;
      rows.push({
        scenario,
        measure: `${until}: ${run.name}`,
        value: `${spread(run.latencyMs)} (${perSecond(run.achievedRate)} committed${missing})`,
        target: run.until === "effect" ? "p99 < 25 ms at 2 000/s" : undefined,
        verdict: run.until === "effect"
          ? (run.targetRate >= 2000 ? (ok ? "met" : "missed") : "n/a")
          : undefined,
      });
      if (run.topicLatencyMs) {
        rows.push({ scenario, measure: `commit → on topic: ${run.name}`, value: spread(run.topicLatencyMs) });
      }
    }
  }
  const scale = report.scaleOut;
  if (scale) {
    for (const run of scale.runs) {
      const single = scale.runs.find((r) => r.client === run.client && r.relays === 1);
      rows.push({
        scenario: `3 scale-out (N=${run.count})`,
        measure: `${run.relays} relay process${run.relays > 1 ? "es" : ""} (${run.client})`,
        value: `${perSecond(run.eventsPerSecond)}; ${run.order.violations} order violations, ` +
          `${run.order.duplicates} duplicates${
            run.complete ? "" : `, INCOMPLETE ${run.acknowledged}/${run.count}`
          }`,
        reference: single && run.relays > 1 ? `1 relay ${perSecond(single.eventsPerSecond)}` : undefined,
        ratio: single && run.relays > 1 ? times(run.eventsPerSecond, single.eventsPerSecond) : undefined,
        target: "0 order violations",
        verdict: run.order.violations === 0 && run.complete ? "met" : "missed",
      });
    }
  }
  const api = report.api;
  if (api?.api || api?.pgbench) {
    const rounds = api.rounds > 1 ? `, mean of ${api.rounds} rounds` : "";
    const scenario = `4 API (${api.connections} conn, ${api.seconds} s${rounds})`;
    if (api.withoutNotify) {
      rows.push({
        scenario,
        measure: "pgbench, same transaction without pg_notify",
        value: `${perSecond(api.withoutNotify.tps)}; p50 ${ms(api.withoutNotify.latencyMs.p50)} / p99 ${
          ms(api.withoutNotify.latencyMs.p99)
        } ms`,
      });
    }
    if (api.pgbench) {
      rows.push({
        scenario,
        measure: "pgbench, same transaction",
        value: `${perSecond(api.pgbench.tps)}; p50 ${ms(api.pgbench.latencyMs.p50)} / p99 ${
          ms(api.pgbench.latencyMs.p99)
        } ms`,
      });
    }
    if (api.api) {
      const a = api.api;
      rows.push({
        scenario,
        measure: "POST /videos/:id/likes (autocannon)",
        value:
          `${perSecond(a.requestsPerSecond)}; p50 ${ms(a.latencyMs.p50)} / p99 ${ms(a.latencyMs.p99)} ms` +
          (a.non2xx > 0 ? `; ${a.non2xx} non-2xx` : ""),
        reference: api.pgbench ? `pgbench ${perSecond(api.pgbench.tps)}` : undefined,
        ratio: api.pgbench ? times(a.requestsPerSecond, api.pgbench.tps) : undefined,
        target: "≥ 0.7× pgbench",
        verdict: api.pgbench ? (a.requestsPerSecond >= 0.7 * api.pgbench.tps ? "met" : "missed") : "n/a",
      });
    }
    if (api.read) {
      const r = api.read;
      rows.push({
        scenario,
        measure: "GET /videos/:id/likes (after the POST run)",
        value:
          `${perSecond(r.requestsPerSecond)}; p50 ${ms(r.latencyMs.p50)} / p99 ${ms(r.latencyMs.p99)} ms; ` +
          `${count(r.non2xx)} non-2xx (${r.seconds} s)`,
      });
      rows.push({
        scenario,
        measure: "like cache hit ratio",
        value: `${share(r.hitRatio)} (${count(r.hits)} hits / ${count(r.misses)} misses; ` +
          `${share(r.ownVideoShare)} of GETs on the user's liked video)`,
      });
    }
  }
  const embedded = report.embedded;
  if (embedded) {
    const scenario = "5 embedded (deno task start)";
    rows.push({
      scenario,
      measure: "start to ready, new data folder",
      value: `${embedded.startNewMs} ms (process reports ${embedded.readyReportedNewMs} ms)`,
    });
    rows.push({
      scenario,
      measure: "start to ready, existing data folder",
      value: `${embedded.startExistingMs} ms (process reports ${embedded.readyReportedExistingMs} ms)`,
    });
    rows.push({
      scenario,
      measure: `likes HTTP → projection (${embedded.likes}, ${embedded.concurrency} conn)`,
      value: `${perSecond(embedded.projectedLikesPerSecond)} (HTTP alone ${
        perSecond(embedded.httpLikesPerSecond)
      })`,
    });
  }
  const login = report.login;
  if (login) rows.push(...loginRows(login));
  if (report.chat) rows.push(...chatRows(report.chat));
  return rows;
}

function chatRows(chat: ChatResult): TableRow[] {
  const rows: TableRow[] = [];
  const scenario = `7 chat (${chat.processes}, ${chat.pairs} pairs)`;
  for (const run of chat.runs) {
    const measure = `${run.targetRate}/s offered, ${run.seconds} s`;
    rows.push({
      scenario,
      measure: `${measure}: send → push (HTTP POST → receiver's WebSocket)`,
      value: `${spread(run.pushMs)}; ${count(run.sent)} sent (${decimal(run.sentPerSecond)}/s), ` +
        `${count(run.accepted)} 202, ${decimal(run.pushedPerSecond)}/s pushed (first send → last push)`,
      target: "0 lost, 0 duplicates",
      reference: `${count(run.lost)} lost, ${count(run.duplicates)} duplicates, ${
        count(run.misrouted)
      } misrouted`,
      verdict: run.lost === 0 && run.duplicates === 0 && run.misrouted === 0 && run.refused === 0
        ? "met"
        : "missed",
    });
    rows.push({
      scenario,
      measure: `${measure}: send → stored in MongoDB (poll ${run.pollMs} ms)`,
      value: `p50 ${ms(run.storedMs.p50)} / p99 ${ms(run.storedMs.p99)} / max ${ms(run.storedMs.max)} ms` +
        `; ${count(run.notStored)} not stored; poll query ${ms(run.meanQueryMs)} ms`,
    });
    rows.push({
      scenario,
      measure: `${measure}: POST /chat/messages answer; 202 → push`,
      value: `answer p50 ${ms(run.httpMs.p50)} / p99 ${ms(run.httpMs.p99)} ms; 202 → push p50 ${
        ms(run.answerToPushMs.p50)
      } / p99 ${ms(run.answerToPushMs.p99)} ms`,
    });
    rows.push({
      scenario,
      measure: `${measure}: CPU cores (CPU s / s of the window)`,
      value: ["api", "relay", "worker", "postgres", "kafka", "mongo", "redis", "bench", "other"].map((k) =>
        `${k} ${(run.cores[k] ?? 0).toFixed(2)}`
      ).join(", ") + `; machine ${(run.cores.machine ?? 0).toFixed(2)} busy`,
    });
  }
  return rows;
}

function loginRows(login: LoginResult): TableRow[] {
  const rows: TableRow[] = [];
  const variants: [HashRate | undefined, LoginRun[]][] = [[login.hashRate, login.runs]];
  if (login.cheaperHashRate || login.cheaperRuns.length > 0) {
    variants.push([login.cheaperHashRate, login.cheaperRuns]);
  }
  for (const [hash, runs] of variants) {
    const p = hash?.parameters ?? runs[0]?.parameters;
    if (!p) continue;
    const scenario = `6 login (argon2id m=${p.memoryKib} t=${p.iterations} p=${p.parallelism})`;
    if (hash) {
      rows.push({
        scenario,
        measure: "argon2id hash, one thread (hash-wasm loop)",
        value: `${decimal(hash.hashesPerSecond)} hashes/s; ${decimal(hash.msPerHash)} ms per hash`,
      });
    }
    for (const run of runs) {
      rows.push({
        scenario,
        measure: `POST /users/login, ${run.connections} conn, ${run.seconds} s (autocannon)`,
        value: `${decimal(run.requestsPerSecond)}/s; p50 ${ms(run.latencyMs.p50)} / p99 ${
          ms(run.latencyMs.p99)
        } ms; ${count(run.non2xx)} non-2xx; API ${run.apiCores.toFixed(2)} cores`,
        reference: hash ? `argon2id ${decimal(hash.hashesPerSecond)}/s, one thread` : undefined,
        ratio: hash ? times(run.requestsPerSecond, hash.hashesPerSecond) : undefined,
        target: "0 non-2xx",
        verdict: run.non2xx === 0 && run.errors === 0 ? "met" : "missed",
      });
    }
    if (runs === login.runs && login.timing) {
      const t = login.timing;
      const spreadOf = (q: Percentiles) => `mean ${decimal(q.mean)} / p50 ${decimal(q.p50)} ms`;
      rows.push({
        scenario,
        measure: `wrong password, existing account (${t.attempts}, one at a time)`,
        value: spreadOf(t.wrongPasswordMs),
      });
      rows.push({
        scenario,
        measure: `unknown address (${t.attempts}, alternated with the above)`,
        value: spreadOf(t.unknownAddressMs),
      });
      rows.push({
        scenario,
        measure: "wrong password − unknown address",
        value: `mean ${signed(t.meanDifferenceMs)} ms / p50 ${signed(t.p50DifferenceMs)} ms`,
        target: "about equal (reported, not asserted)",
        verdict: "n/a",
      });
    }
  }
  return rows;
}

const columns: (keyof TableRow)[] = [
  "scenario",
  "measure",
  "value",
  "reference",
  "ratio",
  "target",
  "verdict",
];

/** The table as aligned plain text for the terminal. */
export function textTable(rows: readonly TableRow[]): string {
  const cells = [columns.map(String), ...rows.map((row) => columns.map((c) => row[c] ?? ""))];
  const widths = columns.map((_, i) => Math.max(...cells.map((line) => line[i].length)));
  const line = (values: string[]) => values.map((v, i) => v.padEnd(widths[i])).join(" | ").trimEnd();
  return [line(cells[0]), widths.map((w) => "-".repeat(w)).join("-|-"), ...cells.slice(1).map(line)].join(
    "\n",
  );
}

function markdownTable(rows: readonly TableRow[]): string {
  const escape = (text: string) => text.replaceAll("|", "\\|");
  return [
    `| ${columns.join(" | ")} |`,
    `|${columns.map(() => "---").join("|")}|`,
    ...rows.map((row) => `| ${columns.map((c) => escape(row[c] ?? "")).join(" | ")} |`),
  ].join("\n");
}

function short(p: Percentiles | undefined): string {
  return p && p.count > 0 ? `p50 ${ms(p.p50)} / p99 ${ms(p.p99)} ms` : "–";
}

function cpuText(cpu: CpuUsage): string {
  return Object.entries(cpu).filter(([, v]) => v > 0).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(", ");
}

/** The Markdown report: machine, table, CPU per run, profile, notes and errors. */
export function markdown(report: BenchReport): string {
  const m = report.machine;
  const out: string[] = [
    `# Outbox benchmark, ${report.mode} run, ${report.startedAt}`,
    "",
    `- machine: ${m.cores} cores (${m.cpuModel}), ${m.memoryGiB} GiB, ${m.os}`,
    `- Deno ${m.deno} (V8 ${m.v8}); ${m.postgres}; ${m.kafka}; ${m.java}`,
    `- PostgreSQL settings: ${Object.entries(m.postgresSettings).map(([k, v]) => `${k}=${v}`).join(", ")}`,
    `- clients: ${Object.values(m.clients).join(", ")}; git ${m.git}`,
    `- peers and tools: ${Object.entries(m.peers).map(([k, v]) => `${k} ${v}`).join("; ")}`,
    `- load average before: ${report.load.before}; after: ${report.load.after}`,
    `- arguments: ${report.args.join(" ") || "(none)"}; ${report.startedAt} → ${report.finishedAt}`,
    "",
    markdownTable(tableRows(report)),
    "",
    "## CPU seconds per process group during each measurement",
    "",
    "`machine` is all cores; `other` is what the machine spent outside the named groups (work of other users).",
    "",
  ];
  for (const run of report.drain?.runs ?? []) {
    const own = run.cpu.relay ?? run.cpu.java;
    const per = own
      ? `; ${((own / Math.max(1, run.acknowledged)) * 1e6).toFixed(0)} µs of CPU per event in the relay`
      : "";
    out.push(`- drain, ${run.name}: ${cpuText(run.cpu)}${per}`);
  }
  for (const run of report.latency?.runs ?? []) out.push(`- latency, ${run.name}: ${cpuText(run.cpu)}`);
  for (const run of report.scaleOut?.runs ?? []) {
    out.push(
      `- scale-out, ${run.relays} relays (${run.client}): ${cpuText(run.cpu)}; per relay ${
        run.perRelay.join(", ")
      }`,
    );
  }
  for (const [i, run] of (report.api?.apiRounds ?? []).entries()) {
    out.push(
      `- API round ${
        i + 1
      }: ${run.requestsPerSecond}/s, p50 ${run.latencyMs.p50} / p99 ${run.latencyMs.p99} ms, ` +
        `${run.likeRows} like rows, ${run.outboxRows} outbox rows; CPU ${cpuText(run.cpu)}`,
    );
  }
  for (const run of report.api?.readRounds ?? []) {
    const keys = Object.entries(run.stats.keys).map(([k, v]) => `${v} ${k}`).join(", ");
    out.push(
      `- API GET round ${run.round} (${run.seconds} s after the POST run): ${run.requestsPerSecond}/s, ` +
        `p50 ${run.latencyMs.p50} / p99 ${run.latencyMs.p99} ms, ${run.non2xx} non-2xx; like cache ` +
        `(${run.stats.backend}) hit ratio ${
          run.hitRatio.toFixed(3)
        }: ${run.hits} hits, ${run.misses} misses ` +
        `(${run.readsBefore} reads before the GET run); ${keys} keys` +
        (run.stats.memoryBytes !== undefined ? `, ${(run.stats.memoryBytes / 2 ** 20).toFixed(1)} MiB` : "") +
        `; CPU ${cpuText(run.cpu)}`,
    );
  }
  for (const [i, run] of (report.api?.pgbenchRounds ?? []).entries()) {
    out.push(
      `- pgbench round ${i + 1}: ${run.tps}/s, p50 ${ms(run.latencyMs.p50)} / p99 ${
        ms(run.latencyMs.p99)
      } ms; ` +
        `CPU ${cpuText(run.cpu)} (pgbench and its backends are in other)`,
    );
  }
  if (report.api?.withoutNotify) {
    out.push(
      `- pgbench without pg_notify: ${report.api.withoutNotify.tps}/s; CPU ${
        cpuText(report.api.withoutNotify.cpu)
      }`,
    );
  }
  for (const run of [...(report.login?.runs ?? []), ...(report.login?.cheaperRuns ?? [])]) {
    const p = run.parameters;
    out.push(
      `- login (m=${p.memoryKib} t=${p.iterations}), ${run.connections} connections: ${run.requests} requests, ` +
        `p90 ${ms(run.latencyMs.p90)} / max ${ms(run.latencyMs.max)} ms; CPU ${cpuText(run.cpu)}`,
    );
  }
  for (const run of report.chat?.runs ?? []) {
    out.push(
      `- chat ${run.targetRate}/s (${run.windowSeconds} s from the first measured send until everything ` +
        `settled): ${cpuText(run.cpu)}`,
    );
  }
  const consumers = (report.latency?.runs ?? []).filter((run) => run.consumer);
  if (consumers.length > 0) {
    out.push("", "## Where the latency goes (our pipeline)", "");
    for (const run of consumers) {
      const c = run.consumer!;
      out.push(
        `- ${run.name} at ${run.targetRate}/s offered: writer transaction ${short(run.writeMs)}; ` +
          `commit → on topic ${short(run.topicLatencyMs)}; received by the consumer → effect ` +
          `${
            short(c.receivedToEffectMs)
          }; consumer transactions ${c.transactions} (mean ${c.meanBatch} events) ` +
          `${short(c.transactionMs)}; offset commits ${short(c.offsetCommitMs)}`,
      );
    }
  }
  const profile = report.drain?.profile;
  if (profile) {
    out.push(
      "",
      `## Relay CPU profile (${profile.client}, ${profile.eventsPerSecond}/s while profiled)`,
      "",
      `${profile.file}: ${profile.durationMs} ms, ${profile.busyPercent}% busy (not idle).`,
      "",
      "| top functions (self) | % | ms |",
      "|---|---|---|",
      ...profile.functions.map((f) => `| ${f.name} | ${f.selfPercent} | ${f.selfMs} |`),
      "",
      "| top modules (self) | % | ms |",
      "|---|---|---|",
      ...profile.modules.map((f) => `| ${f.name} | ${f.selfPercent} | ${f.selfMs} |`),
    );
  }
  const apiProfile = report.api?.profile;
  if (apiProfile) {
    out.push(
      "",
      "## API CPU profile (POST /videos/:id/likes under autocannon, extra 5 s round)",
      "",
      `${apiProfile.file}: ${apiProfile.durationMs} ms, ${apiProfile.busyPercent}% busy (not idle).`,
      "",
      "| top functions (self) | % | ms |",
      "|---|---|---|",
      ...apiProfile.functions.map((f) => `| ${f.name} | ${f.selfPercent} | ${f.selfMs} |`),
      "",
      "| top modules (self) | % | ms |",
      "|---|---|---|",
      ...apiProfile.modules.map((f) => `| ${f.name} | ${f.selfPercent} | ${f.selfMs} |`),
    );
  }
  const notes = [...report.notes];
  if (report.api?.read) {
    notes.push(
      `like cache hit ratio: each GET reads the count and the user's state; the GET run asks as users of the ` +
        `POST run, ${share(report.api.read.ownVideoShare)} of the requests for the video the user liked ` +
        `(its state cached by the like), the others for a random one of the 1 000 (state uncached: a miss); ` +
        `counts start uncached each round (the harness deletes the 1 000 videos' cache keys before it)`,
    );
  }
  if (report.login) {
    notes.push(
      "login: hash-wasm runs argon2id synchronously on the JavaScript thread, so one API process verifies one " +
        "password at a time (its ceiling is about 1× the single-thread hash rate, however many connections; a " +
        "second core helps only a second process); each successful login also commits a UserLoggedIn outbox " +
        "row and signs a token",
      "login equal-time check: both refusals verify a hash, but a wrong password for an existing account also " +
        "commits a LoginFailed outbox row (one transaction) that an unknown address does not: part of the " +
        "difference",
    );
  }
  if (report.chat) {
    const c = report.chat;
    const stored = c.storedTotal
      ? `; at the end chat_messages held ${c.storedTotal.documents} documents for ${c.storedTotal.accepted} ` +
        "accepted messages (warm-ups and priming included)"
      : "";
    notes.push(
      `chat: ${c.processes} (KAFKA_CLIENT=${c.client}); ${c.pairs} senders send over ${c.sendVia}, open loop ` +
        "at the stated total rate round-robin over the pairs; each content carries its send time on this " +
        "process's clock, the receiver's arrival is read on the same clock; send → stored is the end of the " +
        "MongoDB poll that first saw the document (an upper bound: resolution the poll interval plus the query " +
        `time); the worker ran with BATCH_SIZE ${c.batchSize} and BATCH_FLUSH_MS ${c.flushMs} (the default ` +
        `5000 would hold a batch up to 5 s before storing; the push group is not batched)${stored}`,
    );
  }
  for (const run of report.drain?.runs ?? []) if (run.note) notes.push(`${run.name}: ${run.note}`);
  for (const run of report.latency?.runs ?? []) if (run.note) notes.push(`${run.name}: ${run.note}`);
  if (notes.length > 0) out.push("", "## Notes", "", ...notes.map((n) => `- ${n}`));
  if (report.errors.length > 0) out.push("", "## Errors", "", ...report.errors.map((e) => `- ${e}`));
  if (report.api?.pgbench) {
    out.push("", "## pgbench script", "", "```sql", report.api.pgbench.script.trim(), "```");
  }
  return out.join("\n") + "\n";
}

/** Writes `<stamp>-<mode>.json` and `.md` under `dir`; returns their paths. */
export async function writeReport(dir: string, report: BenchReport): Promise<{ json: string; md: string }> {
  await Deno.mkdir(dir, { recursive: true });
  const stamp = report.startedAt.replace(/[:.]/g, "-");
  const base = `${dir}/${stamp}-${report.mode}`;
  await Deno.writeTextFile(
    `${base}.json`,
    JSON.stringify({ ...report, table: tableRows(report) }, null, 2) + "\n",
  );
  await Deno.writeTextFile(`${base}.md`, markdown(report));
  return { json: `${base}.json`, md: `${base}.md` };
}
