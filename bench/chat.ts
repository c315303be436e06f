/**
 * Scenario 7, chat: send → push and send → stored latency on one API process, one relay and one worker.
 *
 * A fresh schema, topics under a name prefix of the run (NAME_PREFIX) and a MongoDB database of the run
 * (MONGO_DATABASE). `pairs` senders and `pairs` receivers are inserted as accounts with tokens signed by the
 * test secret (tests/users.ts). Every receiver holds a real WebSocket on the API (`GET /chat/ws?access_token=`);
 * senders are not connected and send over HTTP (`POST /chat/messages`), open loop at a steady total rate spread
 * round-robin over the pairs. Each message's content carries its send time (performance.timeOrigin +
 * performance.now() of this process, taken just before the request), so the receiver's arrival time on the
 * same clock gives send → push; lost (accepted with 202 but never pushed) and duplicate pushes are counted.
 *
 * Beside it, this process polls MongoDB (`chat_messages`, `_id` = the message id from the 202) every `pollMs`
 * for the accepted ids not yet seen: send → stored is measured up to the end of the poll that first saw the
 * document, an upper bound whose resolution is the poll interval plus the query time (both reported).
 *
 * The path measured: HTTP → send log + outbox row in one PostgreSQL transaction → relay (NOTIFY) → Kafka →
 * worker: push-consumer-group → Redis pub/sub → API → WebSocket; and storage-consumer-group (batched,
 * BATCH_SIZE / BATCH_FLUSH_MS) → MongoDB.
 */
import { Kafka, logLevel } from "kafkajs";
import { type Collection, MongoClient } from "mongodb";
import { signedIn, testJwtSecret } from "../tests/users.ts";
import { mongoAddress } from "../tests/servers.ts";
import {
  type BenchSchema,
  type ClientName,
  cpuDelta,
  cpuSnapshot,
  type CpuUsage,
  createSchema,
  env,
  type Percentiles,
  percentiles,
  progress,
  sleep,
  spawnDeno,
  type Spawned,
  spawnRelay,
  uniqueId,
  waitForLog,
  waitUntil,
} from "./common.ts";

/** Options of the chat scenario. */
export interface ChatOptions {
  /** Sender/receiver pairs: 2 × pairs accounts, `pairs` WebSockets. */
  readonly pairs: number;
  /** Total messages per second offered (all pairs together), one measured run each, in this order. */
  readonly rates: readonly number[];
  /** Measured seconds of sending per rate. */
  readonly seconds: number;
  /** Seconds of sending at the rate before the measured part (not counted). */
  readonly warmupSeconds: number;
  /** Longest wait for the last pushes and stores after the senders stop. */
  readonly settleSeconds: number;
  /** Interval of the MongoDB poll that finds stored messages. */
  readonly pollMs: number;
  /** KAFKA_CLIENT of the three processes. */
  readonly client: ClientName;
  /** BATCH_FLUSH_MS of the worker (the storage group flushes its batches of BATCH_SIZE = 100 this often). */
  readonly flushMs: number;
}

/** One rate's measurement. */
export interface ChatRun {
  readonly targetRate: number;
  readonly seconds: number;
  /** Messages sent in the measured part. */
  readonly sent: number;
  /** Answered 202. */
  readonly accepted: number;
  /** Answered something else, or the request failed. */
  readonly refused: number;
  /** sent / the measured sending time. */
  readonly sentPerSecond: number;
  /** Pushes received in the measured part / the time from its first send to its last push. */
  readonly pushedPerSecond: number;
  /** POST /chat/messages until its answer. */
  readonly httpMs: Percentiles;
  /** Send → the frame on the receiver's WebSocket. */
  readonly pushMs: Percentiles;
  /** The 202 read by the sender → the frame on the receiver's WebSocket (negative: the push came first). */
  readonly answerToPushMs: Percentiles;
  /** Accepted, never pushed before the settle deadline. */
  readonly lost: number;
  /** Pushes beyond the first of a message. */
  readonly duplicates: number;
  /** Pushes to a socket of a user not in the message's conversation. */
  readonly misrouted: number;
  /** Send → first seen in MongoDB by the poll (upper bound). */
  readonly storedMs: Percentiles;
  /** Accepted, not found in MongoDB before the settle deadline. */
  readonly notStored: number;
  readonly pollMs: number;
  /** Mean duration of one poll query. */
  readonly meanQueryMs: number;
  /** CPU seconds from the measured part's first send until everything settled. */
  readonly cpu: CpuUsage;
  /** CPU seconds per second of that window, per process (1.0: one core busy). */
  readonly cores: Readonly<Record<string, number>>;
  readonly windowSeconds: number;
}

/** What the chat scenario reports. */
export interface ChatResult {
  readonly processes: string;
  readonly pairs: number;
  readonly sendVia: string;
  readonly client: ClientName;
  readonly flushMs: number;
  readonly batchSize: number;
  /** Documents in `chat_messages` at the end against messages accepted (warm-ups included). */
  readonly storedTotal?: { documents: number; accepted: number };
  readonly runs: ChatRun[];
  readonly errors: string[];
}

const scope = "chat";
const batchSize = 100;

/** Wall-clock milliseconds of this process with sub-millisecond precision. */
const now = () => performance.timeOrigin + performance.now();

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** Pids whose command line matches `pattern` (Linux; empty elsewhere). */
async function pidsMatching(pattern: RegExp): Promise<number[]> {
  const pids: number[] = [];
  try {
    for await (const entry of Deno.readDir("/proc")) {
      if (!/^[0-9]+$/.test(entry.name)) continue;
      try {
        const cmd = (await Deno.readTextFile(`/proc/${entry.name}/cmdline`)).replaceAll("\0", " ");
        if (pattern.test(cmd)) pids.push(Number(entry.name));
      } catch { /* gone */ }
    }
  } catch { /* not Linux */ }
  return pids;
}

/** One message of the run, sent by pair `pair`'s sender to its receiver. */
interface Sent {
  readonly pair: number;
  readonly warm: boolean;
  /** now() just before the request. */
  readonly sentAt: number;
  answeredAt?: number;
  status?: number;
  messageId?: string;
  pushedAt?: number;
  pushes: number;
  storedAt?: number;
}

/** The messages of one rate run, by sequence number (the content carries it). */
class Ledger {
  readonly messages: Sent[] = [];
  duplicates = 0;
  misrouted = 0;
  /** Accepted ids not yet seen in MongoDB. */
  readonly unstored = new Map<string, Sent>();

  constructor(readonly run: string) {}

  /** The content of message `seq`: the run, the sequence number and the send time. */
  content(seq: number, sentAt: number): string {
    return `chat-bench ${this.run} ${seq} ${sentAt.toFixed(3)}`;
  }

  /** A pushed frame reached receiver `pair` at `arrivedAt`. */
  pushed(pair: number, content: string, arrivedAt: number): void {
    const [tag, run, seq, sentAt] = content.split(" ");
    if (tag !== "chat-bench" || run !== this.run) return;
    const message = this.messages[Number(seq)];
    if (!message || message.sentAt.toFixed(3) !== sentAt) return;
    if (message.pair !== pair) this.misrouted++;
    message.pushes++;
    if (message.pushes > 1) this.duplicates++;
    else message.pushedAt = arrivedAt;
  }

  accepted(message: Sent): boolean {
    return message.status === 202;
  }

  /** Every accepted message (warm-up included) pushed and stored, and every request answered. */
  settled(): boolean {
    return this.messages.every((m) =>
      m.answeredAt !== undefined &&
      (!this.accepted(m) || (m.pushedAt !== undefined && m.storedAt !== undefined))
    );
  }
}

/** A receiver's WebSocket; frames go to the current ledger. */
interface Receiver {
  readonly pair: number;
  readonly socket: WebSocket;
  closed: boolean;
}

async function connectReceiver(
  port: number,
  token: string,
  pair: number,
  ledger: () => Ledger | undefined,
): Promise<Receiver> {
  const socket = new WebSocket(`ws://127.0.0.1:${port}/chat/ws?access_token=${token}`);
  const receiver: Receiver = { pair, socket, closed: false };
  socket.onmessage = (event) => {
    const arrivedAt = now();
    const frame = JSON.parse(String(event.data)) as { type: string; message?: { content: string } };
    if (frame.type === "message" && frame.message) ledger()?.pushed(pair, frame.message.content, arrivedAt);
  };
  socket.onclose = () => (receiver.closed = true);
  await new Promise<void>((resolve, reject) => {
    socket.onopen = () => resolve();
    socket.onerror = () => reject(new Error(`the WebSocket of receiver ${pair} did not open`));
  });
  return receiver;
}

/** Polls `chat_messages` for the ledger's accepted ids not yet seen, every `pollMs`, until stopped. */
function startStoredPoll(
  messages: Collection<{ _id: string }>,
  pollMs: number,
  ledger: () => Ledger | undefined,
): { stop(): Promise<void>; queryMs: number[] } {
  let running = true;
  const queryMs: number[] = [];
  const loop = (async () => {
    while (running) {
      const started = now();
      const current = ledger();
      const ids = current ? [...current.unstored.keys()].slice(0, 2000) : [];
      if (current && ids.length > 0) {
        try {
          const found = await messages.find({ _id: { $in: ids } }, { projection: { _id: 1 } }).toArray();
          const seenAt = now();
          queryMs.push(seenAt - started);
          for (const document of found) {
            const message = current.unstored.get(document._id);
            if (!message) continue;
            message.storedAt = seenAt;
            current.unstored.delete(document._id);
          }
        } catch (error) {
          progress(scope, `MongoDB poll failed: ${error instanceof Error ? error.message : error}`);
          await sleep(500);
        }
      }
      await sleep(Math.max(0, pollMs - (now() - started)));
    }
  })();
  return {
    queryMs,
    async stop() {
      running = false;
      await loop;
    },
  };
}

/** Everything the runs share: processes, tokens, sockets. */
interface Stage {
  readonly port: number;
  /** `Authorization` header of each pair's sender. */
  readonly senders: readonly string[];
  /** User id of each pair's receiver. */
  readonly receivers: readonly number[];
  /** Pids of each process group for the CPU snapshots. */
  readonly named: Record<string, readonly number[]>;
}

/**
 * Sends `rate` messages per second for `seconds` (open loop: each message at its due time, requests not
 * awaited), round-robin over the pairs, `warm` ones not counted. Resolves when every request is answered.
 */
async function offer(stage: Stage, ledger: Ledger, rate: number, seconds: number, warm: boolean) {
  const url = `http://127.0.0.1:${stage.port}/chat/messages`;
  const total = Math.round(rate * seconds);
  const interval = 1000 / rate;
  const inFlight = new Set<Promise<void>>();
  const send = (pair: number) => {
    const seq = ledger.messages.length;
    const sentAt = now();
    const message: Sent = { pair, warm, sentAt, pushes: 0 };
    ledger.messages.push(message);
    const request = (async () => {
      try {
        const response = await fetch(url, {
          method: "POST",
          headers: { "content-type": "application/json", authorization: stage.senders[pair] },
          body: JSON.stringify({
            to: String(stage.receivers[pair]),
            content: ledger.content(seq, sentAt),
            clientMessageId: `${ledger.run}-${seq}`,
          }),
        });
        const body = await response.text();
        message.status = response.status;
        if (response.status === 202) {
          const id = (JSON.parse(body) as { messageId: string }).messageId;
          message.messageId = id;
          if (message.storedAt === undefined) ledger.unstored.set(id, message);
        }
      } catch {
        message.status = 0;
      } finally {
        message.answeredAt = now();
      }
    })();
    inFlight.add(request);
    request.finally(() => inFlight.delete(request));
  };
  const started = performance.now();
  for (let k = 0; k < total;) {
    const due = started + k * interval;
    const wait = due - performance.now();
    if (wait > 0.5) await sleep(wait);
    while (k < total && started + k * interval <= performance.now()) {
      send(k % stage.senders.length);
      k++;
    }
  }
  const sendingMs = performance.now() - started;
  await Promise.all([...inFlight]);
  return { sendingMs };
}

/** One rate: warm-up, the measured part, then until everything settled (or the deadline). */
async function chatRun(
  stage: Stage,
  rate: number,
  options: ChatOptions,
  setLedger: (ledger: Ledger) => void,
  queryMs: number[],
): Promise<ChatRun> {
  const ledger = new Ledger(`r${rate}x${uniqueId().slice(0, 6)}`);
  setLedger(ledger);
  progress(
    scope,
    `${rate} messages/s over ${options.pairs} pairs: ${options.warmupSeconds} s warm-up + ${options.seconds} s`,
  );
  if (options.warmupSeconds > 0) await offer(stage, ledger, rate, options.warmupSeconds, true);
  const before = await cpuSnapshot(stage.named);
  const windowStart = performance.now();
  const queriesBefore = queryMs.length;
  const { sendingMs } = await offer(stage, ledger, rate, options.seconds, false);
  const deadline = performance.now() + options.settleSeconds * 1000;
  while (!ledger.settled() && performance.now() < deadline) await sleep(20);
  const after = await cpuSnapshot(stage.named);
  const windowSeconds = (performance.now() - windowStart) / 1000;
  const cpu = cpuDelta(before, after);
  const measured = ledger.messages.filter((m) => !m.warm);
  const accepted = measured.filter((m) => ledger.accepted(m));
  const pushed = accepted.filter((m) => m.pushedAt !== undefined);
  const stored = accepted.filter((m) => m.storedAt !== undefined);
  const firstSend = measured[0]?.sentAt ?? 0;
  const lastPush = Math.max(...pushed.map((m) => m.pushedAt!));
  const queries = queryMs.slice(queriesBefore);
  const round = (n: number) => Math.round(n * 100) / 100;
  const cores: Record<string, number> = {};
  for (
    const name of [
      "api",
      "relay",
      "worker",
      "postgres",
      "kafka",
      "mongo",
      "redis",
      "bench",
      "other",
      "machine",
    ]
  ) {
    cores[name] = round((cpu[name] ?? 0) / windowSeconds);
  }
  const run: ChatRun = {
    targetRate: rate,
    seconds: options.seconds,
    sent: measured.length,
    accepted: accepted.length,
    refused: measured.length - accepted.length,
    sentPerSecond: Math.round((measured.length / (sendingMs / 1000)) * 10) / 10,
    pushedPerSecond: pushed.length > 0
      ? Math.round((pushed.length / ((lastPush - firstSend) / 1000)) * 10) / 10
      : 0,
    httpMs: percentiles(measured.filter((m) => m.answeredAt).map((m) => m.answeredAt! - m.sentAt)),
    pushMs: percentiles(pushed.map((m) => m.pushedAt! - m.sentAt)),
    answerToPushMs: percentiles(pushed.map((m) => m.pushedAt! - m.answeredAt!)),
    lost: accepted.length - pushed.length,
    duplicates: ledger.duplicates,
    misrouted: ledger.misrouted,
    storedMs: percentiles(stored.map((m) => m.storedAt! - m.sentAt)),
    notStored: accepted.length - stored.length,
    pollMs: options.pollMs,
    meanQueryMs: queries.length > 0 ? round(queries.reduce((a, b) => a + b, 0) / queries.length) : NaN,
    cpu,
    cores,
    windowSeconds: round(windowSeconds),
  };
  const f = (n: number) => n.toFixed(1);
  const spread = (p: Percentiles) => `p50 ${f(p.p50)} / p99 ${f(p.p99)} / max ${f(p.max)} ms`;
  const busy = ["api", "relay", "worker", "postgres", "kafka", "mongo", "redis", "bench", "other"]
    .map((name) => `${name} ${cores[name]}`).join(", ");
  progress(
    scope,
    `${rate}/s: sent ${run.sent} (${run.sentPerSecond}/s), 202 ${run.accepted}, refused ${run.refused}; ` +
      `send → push ${spread(run.pushMs)} (202 → push ${spread(run.answerToPushMs)}), lost ${run.lost}, ` +
      `duplicates ${run.duplicates}, misrouted ${run.misrouted}; send → stored ${spread(run.storedMs)} ` +
      `(poll ${run.pollMs} ms, query ${run.meanQueryMs} ms), not stored ${run.notStored}; ` +
      `HTTP ${spread(run.httpMs)}; cores ${busy} (machine ${cores.machine} busy)`,
  );
  return run;
}

async function readyApi(port: number, api: Spawned): Promise<void> {
  let exited = false;
  api.status.then(() => (exited = true));
  await waitUntil(
    async () => {
      if (exited) throw new Error(`the API exited:\n${(await api.log()).slice(-2000)}`);
      try {
        const response = await fetch(`http://127.0.0.1:${port}/health/ready`);
        await response.body?.cancel();
        return response.ok;
      } catch {
        return false;
      }
    },
    "the API to be ready",
    60_000,
    200,
  );
}

/**
 * Deletes every topic (.dlq included) and consumer group of the run's name prefix, those the processes created
 * too; lists again and retries while some remain. Resolves to a line saying what was deleted and what is left.
 */
async function deletePrefixed(prefix: string): Promise<string> {
  const admin = new Kafka({ clientId: "bench-admin", brokers: env.brokers, logLevel: logLevel.NOTHING })
    .admin();
  const ours = (name: string) => name.startsWith(`${prefix}.`);
  let deletedTopics = 0;
  let deletedGroups = 0;
  let left: string[] = [];
  try {
    await admin.connect();
    const groups = (await admin.listGroups()).groups.map((g) => g.groupId).filter(ours);
    if (groups.length > 0) {
      await admin.deleteGroups(groups).catch(() => {});
      deletedGroups = groups.length;
    }
    for (let attempt = 0; attempt < 3; attempt++) {
      left = (await admin.listTopics()).filter(ours);
      if (left.length === 0) break;
      if (attempt === 0) deletedTopics = left.length;
      await admin.deleteTopics({ topics: left, timeout: 15_000 }).catch(() => {});
      await sleep(1000);
    }
    left = (await admin.listTopics()).filter(ours);
  } catch (error) {
    return `deleting the topics of ${prefix} failed: ${error instanceof Error ? error.message : error}`;
  } finally {
    await admin.disconnect().catch(() => {});
  }
  return `deleted ${deletedTopics} topics and ${deletedGroups} consumer groups of ${prefix}` +
    (left.length > 0 ? `; ${left.length} still listed: ${left.join(", ")}` : "");
}

/** Runs scenario 7: one API, one relay, one worker; send → push and send → stored at each rate. */
export async function runChat(options: ChatOptions): Promise<ChatResult> {
  const errors: string[] = [];
  const runs: ChatRun[] = [];
  let storedTotal: ChatResult["storedTotal"];
  const fail = (what: string, error: unknown) => {
    errors.push(`chat ${what}: ${error instanceof Error ? error.message : String(error)}`);
    progress(scope, `FAILED ${errors.at(-1)}`);
  };
  let schema: BenchSchema | undefined;
  let prefix: string | undefined;
  let mongo: MongoClient | undefined;
  let database: string | undefined;
  const processes: Spawned[] = [];
  const receivers: Receiver[] = [];
  let poll: ReturnType<typeof startStoredPoll> | undefined;
  let ledger: Ledger | undefined;
  const ledgers: Ledger[] = [];
  try {
    schema = await createSchema("chat");
    // The worker creates the modules' topics under this prefix with their configured retention (the inbox
    // retention check refuses topics kept longer); they are deleted by prefix at the end.
    prefix = `b${uniqueId()}`;
    database = `chat_${schema.name}`;
    mongo = new MongoClient(env.mongoUrl, { serverSelectionTimeoutMS: 5_000 });
    const messages = mongo.db(database).collection<{ _id: string }>("chat_messages");
    const senderIds = Array.from({ length: options.pairs }, (_, i) => 1 + i);
    const receiverIds = senderIds.map((id) => id + options.pairs);
    const tokens = await signedIn(schema.db, [...senderIds, ...receiverIds]);
    const common = {
      DATABASE_URL: env.databaseUrl,
      DATABASE_SCHEMA: schema.name,
      NAME_PREFIX: prefix,
      KAFKA_BROKERS: env.brokers.join(","),
      KAFKA_CLIENT: options.client,
      REDIS_URL: env.redisUrl,
      MONGO_URL: env.mongoUrl,
      MONGO_DATABASE: database,
      JWT_SECRET: testJwtSecret,
    };
    progress(
      scope,
      `1 API + 1 relay + 1 worker (${options.client}), schema ${schema.name}, NAME_PREFIX ${prefix}, ` +
        `MongoDB database ${database}; worker BATCH_SIZE ${batchSize}, BATCH_FLUSH_MS ${options.flushMs}`,
    );
    const relay = await spawnRelay(options.client, schema.name, "chat-relay", { NAME_PREFIX: prefix });
    processes.push(relay);
    const worker = await spawnDeno("chat-worker", "bin/worker.ts", {
      ...common,
      METRICS_PORT: "0",
      BATCH_SIZE: String(batchSize),
      BATCH_FLUSH_MS: String(options.flushMs),
    });
    processes.push(worker);
    const port = freePort();
    const api = await spawnDeno("chat-api", "bin/api.ts", {
      ...common,
      PORT: String(port),
      LOG_LEVEL: "warn",
    });
    processes.push(api);
    await Promise.all([readyApi(port, api), waitForLog(worker, '"worker ready"', 120_000)]);
    progress(scope, `processes ready (api ${api.pid}, relay ${relay.pid}, worker ${worker.pid})`);

    const bearer = (id: number) => tokens.get(String(id))!.authorization;
    for (const [pair, id] of receiverIds.entries()) {
      receivers.push(
        await connectReceiver(port, bearer(id).slice("Bearer ".length), pair, () => ledger),
      );
    }
    // The MongoDB-compatible server (a JVM) and Redis by their command lines, for the CPU snapshots.
    const mongoPort = mongoAddress(env.mongoUrl).port;
    const redisPort = new URL(env.redisUrl).port || "6379";
    const stage: Stage = {
      port,
      senders: senderIds.map(bearer),
      receivers: receiverIds,
      named: {
        api: [api.pid],
        relay: [relay.pid],
        worker: [worker.pid],
        mongo: await pidsMatching(new RegExp(`MongoServerMain \\S+ ${mongoPort}\\b`)),
        redis: await pidsMatching(new RegExp(`^redis-server \\S*:${redisPort}\\b`)),
      },
    };
    poll = startStoredPoll(messages, options.pollMs, () => ledger);

    // Priming: one message per pair, until all are pushed and stored (the groups joined, the sockets attached).
    ledger = new Ledger(`prime${uniqueId().slice(0, 6)}`);
    ledgers.push(ledger);
    await offer(
      stage,
      ledger,
      Math.max(options.pairs, 10),
      options.pairs / Math.max(options.pairs, 10),
      true,
    );
    const primed = ledger;
    await waitUntil(() => primed.settled(), "the priming messages to be pushed and stored", 120_000, 50);
    progress(scope, `primed: ${options.pairs} receivers connected, one message each pushed and stored`);

    for (const rate of options.rates) {
      try {
        runs.push(
          await chatRun(stage, rate, options, (l) => {
            ledger = l;
            ledgers.push(l);
          }, poll.queryMs),
        );
        const closed = receivers.filter((r) => r.closed).length;
        if (closed > 0) throw new Error(`${closed} receiver socket(s) closed during the run`);
      } catch (error) {
        fail(`${rate}/s`, error);
      }
    }
    try {
      const accepted = ledgers.reduce((n, l) => n + l.messages.filter((m) => l.accepted(m)).length, 0);
      storedTotal = { documents: await messages.countDocuments({}), accepted };
      progress(
        scope,
        `chat_messages holds ${storedTotal.documents} documents; ${accepted} messages were accepted`,
      );
    } catch (error) {
      fail("counting chat_messages", error);
    }
  } catch (error) {
    fail("setup", error);
  } finally {
    await poll?.stop();
    for (const receiver of receivers) receiver.socket.close();
    for (const process of processes.reverse()) {
      const status = await process.stop("SIGTERM");
      if (!status.success && status.signal !== "SIGTERM") {
        progress(scope, `${process.logPath} exited with code ${status.code}`);
      }
    }
    if (mongo && database) {
      await mongo.db(database).dropDatabase().catch((e) => fail("dropping the MongoDB database", e));
    }
    await mongo?.close().catch(() => {});
    const topics = prefix ? await deletePrefixed(prefix) : "no topics";
    await schema?.drop();
    progress(scope, `stopped the processes; dropped the schema and the MongoDB database; ${topics}`);
  }
  return {
    processes: "1 API + 1 relay + 1 worker",
    pairs: options.pairs,
    sendVia: "HTTP POST /chat/messages (receivers on WebSockets)",
    client: options.client,
    flushMs: options.flushMs,
    batchSize,
    storedTotal,
    runs,
    errors,
  };
}
