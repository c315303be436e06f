import assert from "node:assert/strict";
import type { Logger } from "../application/ports.ts";
import { MessageRejectedError } from "./errors.ts";
import type { OutboxRecord, OutboxSource, Publisher, RejectedRow, TransportMessage } from "./ports.ts";
import { startRelay } from "./relay.ts";

/**
 * An outbox in memory: `drain` hands out rows in order; once `publish` resolves it removes them and keeps the
 * refused ones in `parked`; if `publish` throws, nothing changes.
 */
class MemoryOutbox implements OutboxSource {
  rows: OutboxRecord[] = [];
  parked: { row: OutboxRecord; reason: string; error: string }[] = [];
  /** Claims begun and not yet ended (committed or rolled back). */
  claiming = 0;
  #next = 1;

  add(key: string, count: number, value?: string, topic = "t"): void {
    for (let i = 0; i < count; i++) {
      const id = String(this.#next++);
      this.rows.push({
        id,
        topic,
        key,
        value: value ?? id,
        headers: { "event-id": `event-${id}` },
        createdAt: new Date(),
      });
    }
  }

  async drain(
    limit: number,
    publish: (rows: readonly OutboxRecord[]) => Promise<readonly RejectedRow[]>,
  ): Promise<number> {
    const batch = this.rows.slice(0, limit);
    if (batch.length === 0) return 0;
    this.claiming++;
    try {
      const rejected = await publish(batch);
      for (const { id, reason, error } of rejected) {
        this.parked.push({ row: batch.find((row) => row.id === id)!, reason, error });
      }
      this.rows = this.rows.filter((row) => !batch.includes(row));
      return batch.length;
    } finally {
      this.claiming--;
    }
  }

  waitForRows(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, Math.min(timeoutMs, 5)));
  }

  backlog() {
    return Promise.resolve({ pending: this.rows.length, oldestAgeMs: 0, parked: this.parked.length });
  }
}

/** A logger that keeps its error lines. */
function recordingLogger(): Logger & { errors: { message: string; fields?: Record<string, unknown> }[] } {
  const errors: { message: string; fields?: Record<string, unknown> }[] = [];
  return {
    errors,
    debug() {},
    info() {},
    warn() {},
    error: (message, fields) => void errors.push({ message, fields }),
  };
}

async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 400 && !condition(); i++) await new Promise((r) => setTimeout(r, 5));
  assert.ok(condition(), "condition reached");
}

Deno.test("the relay publishes every row in order and leaves the outbox empty", async () => {
  const outbox = new MemoryOutbox();
  outbox.add("k", 25);
  const sent: TransportMessage[] = [];
  const relay = startRelay({
    source: outbox,
    publisher: { publish: (messages) => Promise.resolve(void sent.push(...messages)) },
    batchSize: 10,
    concurrency: 1,
  });
  await until(() => outbox.rows.length === 0);
  await relay.stop();
  assert.deepEqual(sent.map((m) => m.value), Array.from({ length: 25 }, (_, i) => String(i + 1)));
});

Deno.test("while the broker fails, rows stay and the relay backs off; then it catches up", async () => {
  const outbox = new MemoryOutbox();
  outbox.add("k", 5);
  let failing = true;
  let attempts = 0;
  const delays: number[] = [];
  const sent: string[] = [];
  const publisher: Publisher = {
    publish(messages) {
      attempts++;
      if (failing) return Promise.reject(new Error("broker down"));
      sent.push(...messages.map((m) => m.value));
      return Promise.resolve();
    },
  };
  const relay = startRelay({
    source: outbox,
    publisher,
    concurrency: 1,
    backoff: { maxRetries: 0, baseDelayMs: 1, factor: 2, maxDelayMs: 8 },
    observer: { backoff: (ms) => delays.push(ms) },
  });
  await until(() => attempts >= 5);
  assert.equal(outbox.rows.length, 5, "nothing is lost while the broker is down");
  assert.deepEqual(delays.filter((d) => d > 0).slice(0, 5), [1, 2, 4, 8, 8], "exponential, capped");
  failing = false;
  await until(() => outbox.rows.length === 0);
  await relay.stop();
  assert.deepEqual(sent, ["1", "2", "3", "4", "5"]);
  assert.equal(delays.at(-1), 0, "backoff reset after recovery");
});

Deno.test("stop waits for the batch in flight to be published and deleted", async () => {
  const outbox = new MemoryOutbox();
  outbox.add("k", 3);
  let release = () => {};
  let started = false;
  const relay = startRelay({
    source: outbox,
    publisher: {
      publish: () =>
        new Promise<void>((resolve) => {
          started = true;
          release = resolve;
        }),
    },
    concurrency: 1,
  });
  await until(() => started);
  let stopped = false;
  const stopping = relay.stop().then(() => (stopped = true));
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(stopped, false, "stop waits while a batch is being published");
  release();
  await stopping;
  assert.equal(outbox.rows.length, 0, "the batch in flight was completed, not abandoned");
});

Deno.test("a row the broker refuses is split out of its batch and parked; the rest of the batch flows", async () => {
  const outbox = new MemoryOutbox();
  outbox.add("a", 3);
  outbox.add("b", 1, "too large");
  outbox.add("a", 2);
  outbox.add("b", 2);
  const sent: TransportMessage[] = [];
  const parked: [number, string][] = [];
  const logger = recordingLogger();
  const relay = startRelay({
    source: outbox,
    publisher: {
      // Like a broker: a batch holding the refused message is refused whole.
      publish(messages) {
        if (messages.some((m) => m.value === "too large")) {
          return Promise.reject(new MessageRejectedError("MESSAGE_TOO_LARGE", "message too large"));
        }
        sent.push(...messages);
        return Promise.resolve();
      },
    },
    batchSize: 100,
    concurrency: 1,
    logger,
    observer: { parked: (count, reason) => parked.push([count, reason]) },
  });
  await until(() => outbox.rows.length === 0);
  await relay.stop();
  assert.deepEqual(sent.filter((m) => m.key === "a").map((m) => m.value), ["1", "2", "3", "5", "6"]);
  assert.deepEqual(sent.filter((m) => m.key === "b").map((m) => m.value), ["7", "8"]);
  assert.deepEqual(
    outbox.parked.map((p) => [p.row.id, p.reason, p.error]),
    [["4", "MESSAGE_TOO_LARGE", "message too large"]],
  );
  assert.deepEqual(parked, [[1, "MESSAGE_TOO_LARGE"]]);
  assert.equal(logger.errors.length, 1, "one error line per parked row");
  const { eventId, key, topic, reason } = logger.errors[0].fields ?? {};
  assert.deepEqual({ eventId, key, topic, reason }, {
    eventId: "event-4",
    key: "b",
    topic: "t",
    reason: "MESSAGE_TOO_LARGE",
  });
});

Deno.test("an outage never parks: not even when it strikes while a refused batch is being split", async () => {
  const outbox = new MemoryOutbox();
  outbox.add("a", 2);
  outbox.add("a", 1, "too large");
  outbox.add("a", 2);
  let down = false;
  let outageSeen = false;
  let attempts = 0;
  const sent: string[] = [];
  const parked: number[] = [];
  const relay = startRelay({
    source: outbox,
    publisher: {
      publish(messages) {
        attempts++;
        if (down) return Promise.reject(new Error("broker down"));
        if (messages.some((m) => m.value === "too large")) {
          // The first refusal comes just before the broker goes away: the split meets the outage.
          down ||= !outageSeen;
          outageSeen = true;
          return Promise.reject(new MessageRejectedError("MESSAGE_TOO_LARGE", "message too large"));
        }
        sent.push(...messages.map((m) => m.value));
        return Promise.resolve();
      },
    },
    concurrency: 1,
    backoff: { maxRetries: 0, baseDelayMs: 1, factor: 2, maxDelayMs: 4 },
    observer: { parked: (count) => parked.push(count) },
  });
  await until(() => attempts >= 10);
  assert.equal(outbox.parked.length, 0, "nothing parked during the outage");
  assert.deepEqual(parked, []);
  assert.equal(outbox.rows.length, 5, "every row stays while the broker is down");
  down = false;
  await until(() => outbox.rows.length === 0);
  await relay.stop();
  assert.deepEqual(
    outbox.parked.map((p) => p.row.id),
    ["3"],
    "once the broker is back, only the refused row",
  );
  assert.deepEqual(sent.filter((value) => value !== "too large").slice(-4), ["1", "2", "4", "5"]);
});

Deno.test("stop returns past its deadline while a publish hangs, and the hung batch's rows stay", async () => {
  const outbox = new MemoryOutbox();
  outbox.add("k", 3);
  let started = false;
  const relay = startRelay({
    source: outbox,
    publisher: {
      publish: () => {
        started = true;
        return new Promise<void>(() => {}); // an unreachable broker that never answers
      },
    },
    concurrency: 1,
    stopTimeoutMs: 50,
  });
  await until(() => started);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const outcome = await Promise.race([
    relay.stop().then(() => "stopped"),
    new Promise((resolve) => timer = setTimeout(() => resolve("still waiting"), 5_000)),
  ]);
  clearTimeout(timer);
  assert.equal(outcome, "stopped");
  await until(() => outbox.claiming === 0); // the abandoned claim ends: rolled back, its locks released
  assert.equal(outbox.rows.length, 3, "the abandoned claim changed nothing");
  assert.equal(outbox.parked.length, 0);
});

Deno.test("rows of a missing topic are parked together, in one refused publish; other topics flow", async () => {
  // given rows of a topic that exists and of one that does not, interleaved in one claim
  const outbox = new MemoryOutbox();
  outbox.add("a", 2, undefined, "present");
  outbox.add("b", 3, undefined, "missing");
  outbox.add("c", 2, undefined, "present");
  const published: TransportMessage[] = [];
  const attempts: string[][] = [];
  const publisher: Publisher = {
    publish(messages) {
      attempts.push([...new Set(messages.map((m) => m.topic))]);
      if (messages.some((m) => m.topic === "missing")) {
        return Promise.reject(
          new MessageRejectedError("UNKNOWN_TOPIC_OR_PARTITION", "Unknown topic missing"),
        );
      }
      published.push(...messages);
      return Promise.resolve();
    },
  };

  // when the relay drains them
  const relay = startRelay({ source: outbox, publisher, concurrency: 1 });
  await until(() => outbox.rows.length === 0);
  await relay.stop();

  // then the missing topic's three rows are parked after one attempt of their own, the others published
  assert.deepEqual(outbox.parked.map((p) => p.row.key), ["b", "b", "b"]);
  assert.equal(attempts.filter((topics) => topics.length === 1 && topics[0] === "missing").length, 1);
  assert.deepEqual(published.map((m) => m.key), ["a", "a", "c", "c"]);
});
