import assert from "node:assert/strict";
import type { UnitOfWork } from "../application/ports.ts";
import { type ConsumerObserver, type RunningConsumer, startConsumer } from "./consumer.ts";
import { createEnvelope, type Envelope, PoisonMessageError } from "./envelope.ts";
import { PermanentEventError } from "./errors.ts";
import type {
  InboxStore,
  Position,
  Publisher,
  ReceivedMessage,
  SubscribeOptions,
  Subscriber,
  Subscription,
  TransportMessage,
} from "./ports.ts";
import { type RetryPolicy, sleep } from "./retry.ts";

/** Fast retries: 2 retries of an event's failure; outages retried every few milliseconds. */
const fastRetry: RetryPolicy = { maxRetries: 2, baseDelayMs: 1, factor: 2, maxDelayMs: 5 };
const group = "test-group";
const topic = "test-events";

/** A broker in memory: one partition per topic, positions per group, a failed batch redelivered from them. */
class MemoryBroker implements Publisher, Subscriber {
  readonly #topics = new Map<string, ReceivedMessage[]>();
  readonly #positions = new Map<string, bigint>();
  readonly #loops = new Set<Promise<void>>();
  /** A publish throws what this returns (an unreachable broker); undefined lets it through. */
  refuse?: (messages: readonly TransportMessage[]) => Error | undefined;

  constructor(readonly journal: string[] = []) {}

  publish(messages: readonly TransportMessage[]): Promise<void> {
    const refusal = this.refuse?.(messages);
    if (refusal) return Promise.reject(refusal);
    for (const message of messages) {
      const log = this.#topics.get(message.topic) ?? [];
      this.#topics.set(message.topic, log);
      log.push({ ...message, partition: 0, offset: String(log.length) });
    }
    return Promise.resolve();
  }

  /** Every message on `topic`. */
  messages(topic: string): readonly ReceivedMessage[] {
    return this.#topics.get(topic) ?? [];
  }

  /** The committed position of `group` on `topic` (the next offset it reads). */
  position(group: string, topic: string): number {
    return Number(this.#positions.get(`${group}\u0000${topic}`) ?? 0n);
  }

  subscribe(options: SubscribeOptions): Promise<Subscription> {
    const stopping = new AbortController();
    const fetchAt = new Map<string, bigint>();
    const subscription: Subscription = {
      commit: (positions: readonly Position[]) => {
        for (const { topic, partition, offset } of positions) {
          this.#positions.set(`${options.group}\u0000${topic}`, BigInt(offset));
          this.journal.push(`offset ${topic}/${partition}@${offset}`);
        }
        return Promise.resolve();
      },
      close: async () => {
        stopping.abort();
        await loop;
      },
    };
    const loop = (async () => {
      while (!stopping.signal.aborted) {
        let delivered = 0;
        for (const topic of options.topics) {
          const from = fetchAt.get(topic) ?? BigInt(this.position(options.group, topic));
          const messages = this.messages(topic).slice(Number(from), Number(from) + 50);
          if (messages.length === 0 || stopping.signal.aborted) continue;
          try {
            await options.onBatch(
              { topic, partition: 0, messages, heartbeat: () => Promise.resolve() },
              subscription,
            );
            fetchAt.set(topic, from + BigInt(messages.length));
            delivered += messages.length;
          } catch {
            // As a Kafka consumer does: the batch is delivered again from the committed position.
            fetchAt.delete(topic);
          }
        }
        if (delivered === 0) await sleep(2, stopping.signal);
      }
    })();
    this.#loops.add(loop);
    return Promise.resolve(subscription);
  }

  /** Waits until every subscription's delivery loop has ended. */
  async drained(): Promise<void> {
    await Promise.all(this.#loops);
  }
}

/** The transaction handle of the fake database: the inbox, and the effects written in it. */
interface FakeTx {
  readonly inbox: InboxStore;
  readonly effects: string[];
}

/** A database in memory whose transactions are all or nothing; hooks make them fail or hang. */
class MemoryDatabase implements UnitOfWork<FakeTx> {
  readonly inboxRows = new Set<string>();
  readonly effects: string[] = [];
  transactions = 0;
  /** Runs before the work (a connection that fails); throwing fails the transaction. */
  onBegin?: () => void;
  /** Runs when the work is done, before commit; throwing rolls back, a promise that never settles hangs. */
  beforeCommit?: () => Promise<void> | void;

  constructor(readonly journal: string[] = []) {}

  async inTransaction<T>(work: (tx: FakeTx) => Promise<T>): Promise<T> {
    this.transactions++;
    this.onBegin?.();
    const claimed = new Set<string>();
    const tx: FakeTx = {
      inbox: {
        claim: (consumer, eventIds) => {
          const fresh = eventIds.filter((id) =>
            !this.inboxRows.has(`${consumer}/${id}`) && !claimed.has(`${consumer}/${id}`)
          );
          for (const id of fresh) claimed.add(`${consumer}/${id}`);
          return Promise.resolve(new Set(fresh));
        },
      },
      effects: [],
    };
    const result = await work(tx);
    try {
      await this.beforeCommit?.();
    } catch (error) {
      this.journal.push("rollback");
      throw error;
    }
    for (const row of claimed) this.inboxRows.add(row);
    this.effects.push(...tx.effects);
    this.journal.push(`commit ${tx.effects.join(",")}`);
    return result;
  }
}

/** An infrastructure error as a database adapter reports it: a read-only transaction. */
class ReadOnlyError extends Error {
  readonly code = "25006";
}
const isInfrastructure = (error: unknown) => error instanceof ReadOnlyError;

function event(eventType: string, name: string): { envelope: Envelope; wire: TransportMessage } {
  const envelope = createEnvelope({ eventType, aggregateType: "test", aggregateId: name, payload: { name } });
  return {
    envelope,
    wire: { topic, key: name, value: JSON.stringify(envelope), headers: { "event-id": envelope.eventId } },
  };
}

const nameOf = (envelope: Envelope) => (envelope.payload as { name: string }).name;

/** Polls `probe` until it holds; fails naming `what` after `timeoutMs`. */
async function until(probe: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/** A consumer over the fake broker and database that writes each event's name as its effect. */
function effectConsumer(
  broker: MemoryBroker,
  db: MemoryDatabase,
  options: {
    batched?: boolean;
    observer?: ConsumerObserver;
    stopTimeoutMs?: number;
    fail?: (envelope: Envelope) => void;
  } = {},
): Promise<RunningConsumer> {
  const write = (events: readonly Envelope[], tx: FakeTx) => {
    for (const envelope of events) {
      options.fail?.(envelope);
      tx.effects.push(nameOf(envelope));
    }
    return Promise.resolve();
  };
  return startConsumer({
    group,
    topics: [topic],
    subscriber: broker,
    deadLetters: broker,
    inbox: true,
    unitOfWork: db,
    handlers: { Happened: write },
    retry: fastRetry,
    batch: options.batched ? { maxSize: 100, flushEveryMs: 5 } : undefined,
    isInfrastructure,
    observer: options.observer,
    stopTimeoutMs: options.stopTimeoutMs,
  });
}

const modes = [{ batched: false, label: "one by one" }, { batched: true, label: "batched" }];

Deno.test("events are dispatched by type: each type's handler gets its events, in one transaction", async () => {
  // given a batch of three events of two types
  const journal: string[] = [];
  const broker = new MemoryBroker(journal);
  const db = new MemoryDatabase(journal);
  const [a1, b1, a2] = [event("A", "a1"), event("B", "b1"), event("A", "a2")];
  await broker.publish([a1.wire, b1.wire, a2.wire]);
  const calls: string[] = [];
  const txs = new Set<FakeTx>();
  const handler = (label: string) => (events: readonly Envelope[], tx: FakeTx) => {
    calls.push(`${label}:${events.map(nameOf).join(",")}`);
    txs.add(tx);
    tx.effects.push(...events.map(nameOf));
    return Promise.resolve(() => Promise.resolve(void journal.push(`after ${label}`)));
  };

  // when a batched consumer with a handler per type applies them
  const consumer = await startConsumer({
    group,
    topics: [topic],
    subscriber: broker,
    deadLetters: broker,
    inbox: true,
    unitOfWork: db,
    handlers: { A: handler("A"), B: handler("B") },
    retry: fastRetry,
    batch: { maxSize: 3, flushEveryMs: 60_000 },
  });
  try {
    await until(() => broker.position(group, topic) === 3, "the batch committed");
  } finally {
    await consumer.stop();
    await broker.drained();
  }

  // then each handler got its own events in delivery order, types in order of first appearance, in one
  // transaction; the after-commit work of both ran after that commit, and the offset after that
  assert.deepEqual(calls, ["A:a1,a2", "B:b1"]);
  assert.equal(txs.size, 1);
  assert.equal(db.transactions, 1);
  assert.deepEqual(journal, ["commit a1,a2,b1", "after A", "after B", `offset ${topic}/0@3`]);
});

for (const { batched, label } of modes) {
  Deno.test(`an event of a type without handler is skipped, counted and committed, never dead-lettered (${label})`, async () => {
    // given a known event, one of a type the group does not handle, and another known one
    const broker = new MemoryBroker();
    const db = new MemoryDatabase();
    const other = event("SomethingElse", "other");
    await broker.publish([event("Happened", "first").wire, other.wire, event("Happened", "second").wire]);
    const skipped: [string, string, number][] = [];

    // when the consumer runs
    const consumer = await effectConsumer(broker, db, {
      batched,
      observer: { skipped: (...args) => void skipped.push(args) },
    });
    try {
      await until(() => broker.position(group, topic) === 3, "all three committed");
    } finally {
      await consumer.stop();
      await broker.drained();
    }

    // then the known ones took effect, the other was counted, kept out of the inbox and off the DLQ
    assert.deepEqual(db.effects, ["first", "second"]);
    assert.deepEqual(skipped, [[group, "SomethingElse", 1]]);
    assert.ok(![...db.inboxRows].some((row) => row.endsWith(other.envelope.eventId)));
    assert.equal(broker.messages(`${topic}.dlq`).length, 0);
  });
}

Deno.test("a failing batch is split and only the faulty event is dead-lettered", async () => {
  // given three events in one batch, the middle one failing in its handler (a bug or a constraint it breaks)
  const broker = new MemoryBroker();
  const db = new MemoryDatabase();
  const poison = event("Happened", "poison");
  await broker.publish([event("Happened", "a").wire, poison.wire, event("Happened", "b").wire]);
  let poisonCalls = 0;

  // when a batched consumer applies them
  const consumer = await effectConsumer(broker, db, {
    batched: true,
    fail: (envelope) => {
      if (nameOf(envelope) !== "poison") return;
      poisonCalls++;
      throw new Error("check constraint violated");
    },
  });
  try {
    await until(() => broker.position(group, topic) === 3, "the batch committed");
  } finally {
    await consumer.stop();
    await broker.drained();
  }

  // then the good events took effect, and the poison alone is on the DLQ after its retries on its own
  assert.deepEqual(db.effects.toSorted(), ["a", "b"]);
  const dead = broker.messages(`${topic}.dlq`);
  assert.deepEqual(dead.map((m) => m.headers["event-id"]), [poison.envelope.eventId]);
  assert.equal(dead[0].headers["dlq-attempts"], String(1 + fastRetry.maxRetries));
  assert.equal(poisonCalls, 2 * (1 + fastRetry.maxRetries), "retried in the batch, then alone");
});

for (const { batched, label } of modes) {
  Deno.test(`an event's own fault (permanent, poison, undecodable) is dead-lettered at once (${label})`, async () => {
    // given an event its handler refuses for good, one whose payload is invalid, an undecodable message, a good one
    const broker = new MemoryBroker();
    const db = new MemoryDatabase();
    const refused = event("Happened", "refused");
    const invalid = event("Happened", "invalid");
    await broker.publish([
      refused.wire,
      invalid.wire,
      { topic, key: "k", value: "{not json", headers: {} },
      event("Happened", "good").wire,
    ]);
    const calls = new Map<string, number>();
    let retried = 0;

    // when the consumer runs
    const consumer = await effectConsumer(broker, db, {
      batched,
      observer: { retried: () => void retried++ },
      fail: (envelope) => {
        const name = nameOf(envelope);
        calls.set(name, (calls.get(name) ?? 0) + 1);
        if (name === "refused") throw new PermanentEventError("the target does not exist");
        if (name === "invalid") throw new PoisonMessageError("invalid payload");
      },
    });
    try {
      await until(() => broker.position(group, topic) === 4, "all four committed");
    } finally {
      await consumer.stop();
      await broker.drained();
    }

    // then the three are on the DLQ after one attempt each, without any retry, and the good one took effect
    const dead = broker.messages(`${topic}.dlq`);
    assert.deepEqual(dead.map((m) => m.headers["dlq-attempts"]), ["1", "1", "1"]);
    // (batched, the undecodable one is parked as it is read, before the batch is applied)
    assert.deepEqual(dead.map((m) => m.headers["dlq-error-type"]).toSorted(), [
      "PermanentEventError",
      "PoisonMessageError",
      "PoisonMessageError",
    ]);
    assert.deepEqual(
      dead.flatMap((m) => m.headers["event-id"] ? [m.headers["event-id"]] : []).toSorted(),
      [refused.envelope.eventId, invalid.envelope.eventId].toSorted(),
    );
    assert.equal(retried, 0);
    assert.equal(calls.get("refused"), batched ? 2 : 1, "batched: once in the batch, once alone");
    assert.deepEqual(db.effects, ["good"]);
  });
}

for (const { batched, label } of modes) {
  Deno.test(`an outage is retried past maxRetries while the group reports itself paused; nothing is dead-lettered (${label})`, async () => {
    // given a database that is read-only for a while
    const broker = new MemoryBroker();
    const db = new MemoryDatabase();
    let readOnly = true;
    db.onBegin = () => {
      if (readOnly) throw new ReadOnlyError("cannot execute INSERT in a read-only transaction");
    };
    const paused: boolean[] = [];
    await broker.publish([event("Happened", "a").wire, event("Happened", "b").wire]);

    // when the consumer runs into it
    const consumer = await effectConsumer(broker, db, {
      batched,
      observer: { paused: (_group, value) => void paused.push(value) },
    });
    try {
      await until(() => db.transactions > 5 * (1 + fastRetry.maxRetries), "many attempts");

      // then it is paused for that reason, has parked nothing and committed nothing
      assert.deepEqual(paused, [true]);
      const status = consumer.status();
      assert.equal(status.group, group);
      assert.equal(status.paused, true);
      assert.equal(status.reason, "25006");
      assert.ok(status.since instanceof Date);
      assert.equal(broker.messages(`${topic}.dlq`).length, 0);
      assert.equal(broker.position(group, topic), 0);

      // and once the database is writable again, it resumes and applies every event once
      readOnly = false;
      await until(() => broker.position(group, topic) === 2, "both committed");
      assert.deepEqual(paused, [true, false]);
      assert.deepEqual(consumer.status(), { group, paused: false });
    } finally {
      await consumer.stop();
      await broker.drained();
    }
    assert.deepEqual(db.effects.toSorted(), ["a", "b"]);
    assert.equal(broker.messages(`${topic}.dlq`).length, 0);
  });
}

Deno.test("a dead letter the broker cannot take is retried as an outage, not dropped nor committed", async () => {
  // given a poison message and a broker that refuses publishes for a while
  const broker = new MemoryBroker();
  const db = new MemoryDatabase();
  let refusals = 0;
  await broker.publish([{ topic, key: "k", value: "{not json", headers: {} }]);
  broker.refuse = () => {
    refusals++;
    return Object.assign(new Error("connect ECONNREFUSED 10.0.0.1:9092"), { code: "ECONNREFUSED" });
  };

  // when the consumer tries to dead-letter it
  const consumer = await effectConsumer(broker, db);
  try {
    await until(() => refusals > 5, "several refused publishes");

    // then it waits, paused, with the message neither committed nor parked
    assert.equal(consumer.status().paused, true);
    assert.equal(consumer.status().reason, "ECONNREFUSED");
    assert.equal(broker.position(group, topic), 0);

    // and once the broker is back, the message is on the DLQ and committed
    broker.refuse = undefined;
    await until(() => broker.position(group, topic) === 1, "the message committed");
    assert.equal(broker.messages(`${topic}.dlq`).length, 1);
    assert.equal(consumer.status().paused, false);
  } finally {
    await consumer.stop();
    await broker.drained();
  }
});

for (const { batched, label } of modes) {
  Deno.test(`offsets are committed only after the effect's transaction committed (${label})`, async () => {
    // given a database whose commit fails twice (within the retries), then succeeds
    const journal: string[] = [];
    const broker = new MemoryBroker(journal);
    const db = new MemoryDatabase(journal);
    let failures = 0;
    db.beforeCommit = () => {
      if (failures++ < 2) throw new Error("could not serialize access");
    };
    await broker.publish([event("Happened", "a").wire]);

    // when the consumer applies the event
    const consumer = await effectConsumer(broker, db, { batched });
    try {
      await until(() => broker.position(group, topic) === 1, "the event committed");
    } finally {
      await consumer.stop();
      await broker.drained();
    }

    // then no offset moved before the effect's transaction committed
    assert.deepEqual(journal, ["rollback", "rollback", "commit a", `offset ${topic}/0@1`]);
    assert.deepEqual(db.effects, ["a"]);
  });

  Deno.test(`a commit that keeps failing on an outage never moves the position (${label})`, async () => {
    // given a database whose commit fails on an outage every time, after the handler ran
    const broker = new MemoryBroker();
    const db = new MemoryDatabase();
    db.beforeCommit = () => {
      throw new ReadOnlyError("read-only");
    };
    await broker.publish([event("Happened", "a").wire]);

    // when the consumer retries it for a while
    const consumer = await effectConsumer(broker, db, { batched });
    try {
      await until(() => db.transactions > 10, "many attempts");
    } finally {
      await consumer.stop();
      await broker.drained();
    }

    // then neither the effect nor the position moved
    assert.deepEqual(db.effects, []);
    assert.equal(broker.position(group, topic), 0);
  });
}

for (const { batched, label } of modes) {
  Deno.test(`stop returns by its deadline while the unit of work hangs; the abandoned work is not committed (${label})`, async () => {
    // given a database whose commit hangs until released
    const broker = new MemoryBroker();
    const db = new MemoryDatabase();
    let release = () => {};
    const released = new Promise<void>((resolve) => release = resolve);
    let hanging = false;
    db.beforeCommit = () => {
      hanging = true;
      return released;
    };
    let processed = false;
    await broker.publish([event("Happened", "a").wire]);
    const consumer = await effectConsumer(broker, db, {
      batched,
      stopTimeoutMs: 200,
      observer: { processed: () => void (processed = true) },
    });
    await until(() => hanging, "the transaction hanging");

    // when the consumer is stopped
    let guard: ReturnType<typeof setTimeout> | undefined;
    const outcome = await Promise.race([
      consumer.stop().then(() => "stopped"),
      new Promise((resolve) => guard = setTimeout(() => resolve("still stopping"), 20_000)),
    ]);
    clearTimeout(guard);

    // then stop returned, and when the transaction finally commits, the position stays for a redelivery
    assert.equal(outcome, "stopped");
    release();
    await until(() => processed, "the abandoned work finishing");
    await broker.drained();
    assert.deepEqual(db.effects, ["a"]);
    assert.equal(broker.position(group, topic), 0);
  });

  Deno.test(`stop returns while the group is paused on an outage (${label})`, async () => {
    // given a consumer paused on a database that stays read-only
    const broker = new MemoryBroker();
    const db = new MemoryDatabase();
    db.onBegin = () => {
      throw new ReadOnlyError("read-only");
    };
    await broker.publish([event("Happened", "a").wire]);
    const consumer = await effectConsumer(broker, db, { batched, stopTimeoutMs: 5_000 });
    await until(() => consumer.status().paused, "the pause");

    // when it is stopped
    let guard: ReturnType<typeof setTimeout> | undefined;
    const outcome = await Promise.race([
      consumer.stop().then(() => "stopped"),
      new Promise((resolve) => guard = setTimeout(() => resolve("still stopping"), 20_000)),
    ]);
    clearTimeout(guard);
    await broker.drained();

    // then it returned without committing or parking anything
    assert.equal(outcome, "stopped");
    assert.equal(broker.position(group, topic), 0);
    assert.equal(broker.messages(`${topic}.dlq`).length, 0);
  });
}

Deno.test("a group without inbox nor unit of work calls its handlers without a transaction", async () => {
  // given two events, one delivered twice in the same batch
  const broker = new MemoryBroker();
  const first = event("Pushed", "first");
  await broker.publish([first.wire, event("Pushed", "second").wire, first.wire]);
  const pushed: string[] = [];
  const txs: unknown[] = [];

  // when a group without inbox nor unit of work (a live push) consumes them
  const consumer = await startConsumer({
    group,
    topics: [topic],
    subscriber: broker,
    deadLetters: broker,
    inbox: false,
    handlers: {
      Pushed: (events, tx) => {
        txs.push(tx);
        pushed.push(...events.map(nameOf));
        return Promise.resolve();
      },
    },
    retry: fastRetry,
    batch: { maxSize: 3, flushEveryMs: 60_000 },
  });
  try {
    await until(() => broker.position(group, topic) === 3, "the batch committed");
  } finally {
    await consumer.stop();
    await broker.drained();
  }

  // then the handler ran once, without a transaction, the repeat removed
  assert.deepEqual(pushed, ["first", "second"]);
  assert.deepEqual(txs, [undefined]);
});

Deno.test("a group without inbox but with a unit of work runs its handlers in a transaction, no inbox rows", async () => {
  // given an event
  const broker = new MemoryBroker();
  const db = new MemoryDatabase();
  await broker.publish([event("Happened", "a").wire]);

  // when a group without inbox consumes it in a transaction
  const consumer = await startConsumer({
    group,
    topics: [topic],
    subscriber: broker,
    deadLetters: broker,
    inbox: false,
    unitOfWork: db,
    handlers: {
      Happened: (events, tx) => Promise.resolve(void tx.effects.push(...events.map(nameOf))),
    },
    retry: fastRetry,
  });
  try {
    await until(() => broker.position(group, topic) === 1, "the event committed");
  } finally {
    await consumer.stop();
    await broker.drained();
  }

  // then its effect committed, and the inbox was not used
  assert.deepEqual(db.effects, ["a"]);
  assert.equal(db.inboxRows.size, 0);
});
