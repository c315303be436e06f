import assert from "node:assert/strict";
import type { OutboxRecord, OutboxSource, Publisher, TransportMessage } from "./ports.ts";
import { startRelay } from "./relay.ts";

/** An outbox in memory: `drain` hands out rows in order and removes them once `publish` resolves. */
class MemoryOutbox implements OutboxSource {
  rows: OutboxRecord[] = [];
  #next = 1;

  add(key: string, count: number): void {
    for (let i = 0; i < count; i++) {
      const id = String(this.#next++);
      this.rows.push({ id, topic: "t", key, value: id, headers: {}, createdAt: new Date() });
    }
  }

  async drain(limit: number, publish: (rows: readonly OutboxRecord[]) => Promise<void>): Promise<number> {
    const batch = this.rows.slice(0, limit);
    if (batch.length === 0) return 0;
    await publish(batch);
    this.rows = this.rows.filter((row) => !batch.includes(row));
    return batch.length;
  }

  waitForRows(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, Math.min(timeoutMs, 5)));
  }

  backlog() {
    return Promise.resolve({ pending: this.rows.length, oldestAgeMs: 0 });
  }
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
