import assert from "node:assert/strict";
import { BatchProcessor } from "./batch_processor.ts";

/** A write function that records batches; each call waits on a gate the test opens. */
function gatedWriter<T>() {
  const batches: T[][] = [];
  const gates: PromiseWithResolvers<void>[] = [];
  let running = 0;
  let maxRunning = 0;
  return {
    batches,
    gates,
    get maxRunning() {
      return maxRunning;
    },
    async write(items: readonly T[]): Promise<void> {
      running++;
      maxRunning = Math.max(maxRunning, running);
      batches.push([...items]);
      const gate = Promise.withResolvers<void>();
      gates.push(gate);
      try {
        await gate.promise;
      } finally {
        running--;
      }
    },
  };
}

/** Lets pending promise callbacks run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

/** Polls `condition` every millisecond until it holds (fails after `limitMs`). */
async function until(condition: () => boolean, what: string, limitMs = 1000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

/** Tracks whether a promise has settled. */
function track(promise: Promise<unknown>) {
  const state = { settled: false, error: undefined as unknown };
  promise.then(() => state.settled = true, (error) => {
    state.settled = true;
    state.error = error;
  });
  return state;
}

Deno.test("the add that fills the buffer to maxSize flushes it and waits for the write", async () => {
  // given a processor of maxSize 3 whose write waits on a gate
  const writer = gatedWriter<number>();
  const processor = new BatchProcessor<number>({ maxSize: 3, flushEveryMs: 60_000, write: writer.write });

  // when two items are added, nothing is written yet
  await processor.add(1);
  await processor.add(2);
  assert.equal(writer.batches.length, 0);
  assert.equal(processor.buffered, 2);

  // when the third item is added
  const third = track(processor.add(3));
  await settle();

  // then the batch is being written and the add waits for it
  assert.deepEqual(writer.batches, [[1, 2, 3]]);
  assert.equal(processor.buffered, 0);
  assert.equal(third.settled, false, "the filling add waits for the write (back-pressure)");

  // when the write completes, then the add resolves
  writer.gates[0].resolve();
  await until(() => third.settled, "the add to resolve");
  assert.equal(third.error, undefined);
});

Deno.test("the timer flushes fewer than maxSize items after flushEveryMs", async () => {
  // given a started processor with a large maxSize and a 5 ms flush interval
  const batches: number[][] = [];
  const processor = new BatchProcessor<number>({
    maxSize: 100,
    flushEveryMs: 5,
    write: (items) => {
      batches.push([...items]);
      return Promise.resolve();
    },
  });
  processor.start();

  try {
    // when two items are added
    await processor.add(1);
    await processor.add(2);
    assert.equal(batches.length, 0, "not written before the timer fires");

    // then the timer writes them as one batch
    await until(() => batches.length === 1, "the timer flush", 500);
    assert.deepEqual(batches, [[1, 2]]);
    assert.equal(processor.buffered, 0);
  } finally {
    await processor.stop();
  }
});

Deno.test("a failed timer flush is reported to onTimerError and its items are kept", async () => {
  // given a started processor whose write fails
  const failure = new Error("database down");
  const reported: unknown[] = [];
  const processor = new BatchProcessor<string>({
    maxSize: 100,
    flushEveryMs: 5,
    write: () => Promise.reject(failure),
    onTimerError: (error) => reported.push(error),
  });
  processor.start();

  // when an item waits for the timer
  await processor.add("a");
  await until(() => reported.length > 0, "the timer error", 500);

  // then the error is reported and the item is still buffered
  assert.equal(reported[0], failure);
  assert.equal(processor.buffered, 1);
  assert.deepEqual(processor.discard(), ["a"]);
});

Deno.test("flushes run one at a time and write batches in order", async () => {
  // given a processor whose writes wait on gates
  const writer = gatedWriter<number>();
  const processor = new BatchProcessor<number>({ maxSize: 100, flushEveryMs: 60_000, write: writer.write });

  // when a flush starts, more items are added and a second flush is asked for
  await processor.add(1);
  await processor.add(2);
  const first = processor.flush();
  await settle();
  await processor.add(3);
  const second = processor.flush();
  await settle();

  // then the second write does not start while the first is running
  assert.deepEqual(writer.batches, [[1, 2]]);

  // when the first write completes
  writer.gates[0].resolve();
  await first;
  await until(() => writer.batches.length === 2, "the second write");

  // then the second batch follows, and no two writes ever overlapped
  writer.gates[1].resolve();
  await second;
  assert.deepEqual(writer.batches, [[1, 2], [3]]);
  assert.equal(writer.maxRunning, 1);
});

Deno.test("a failing write puts its items back in front of newer ones and rethrows", async () => {
  // given a processor whose first write will fail
  const writer = gatedWriter<string>();
  const processor = new BatchProcessor<string>({ maxSize: 100, flushEveryMs: 60_000, write: writer.write });
  await processor.add("a");
  await processor.add("b");

  // when a flush is running, another item is added, and the write then fails
  const flushing = processor.flush();
  await settle();
  await processor.add("c");
  const failure = new Error("broker unavailable");
  writer.gates[0].reject(failure);

  // then the flush rethrows the write's error
  await assert.rejects(flushing, (error) => error === failure);

  // and the failed items are kept in front, in order
  assert.equal(processor.buffered, 3);
  const retry = processor.flush();
  await settle();
  writer.gates[1].resolve();
  await retry;
  assert.deepEqual(writer.batches, [["a", "b"], ["a", "b", "c"]]);
  assert.equal(processor.buffered, 0);
});

Deno.test("a flush after a failed flush still runs", async () => {
  // given a processor whose write fails once, then succeeds
  const batches: number[][] = [];
  let calls = 0;
  const processor = new BatchProcessor<number>({
    maxSize: 100,
    flushEveryMs: 60_000,
    write: (items) => {
      calls++;
      if (calls === 1) return Promise.reject(new Error("once"));
      batches.push([...items]);
      return Promise.resolve();
    },
  });
  await processor.add(1);

  // when the first flush fails and another is made
  await assert.rejects(processor.flush(), /once/);
  await processor.flush();

  // then the item is written by the second flush
  assert.deepEqual(batches, [[1]]);
});

Deno.test("adds during a slow write go to the next batch without waiting", async () => {
  // given a processor with a write in progress
  const writer = gatedWriter<number>();
  const processor = new BatchProcessor<number>({ maxSize: 100, flushEveryMs: 60_000, write: writer.write });
  await processor.add(1);
  const flushing = processor.flush();
  await settle();

  // when items are added while the write has not completed
  const added = track(Promise.all([processor.add(2), processor.add(3)]));
  await settle();

  // then the adds complete at once and the items wait in the (swapped) buffer
  assert.equal(added.settled, true, "adds are not blocked by the write in progress");
  assert.equal(processor.buffered, 2);
  assert.deepEqual(writer.batches, [[1]], "the running batch was not extended");

  // when the write completes and the next flush runs, then they form the next batch
  writer.gates[0].resolve();
  await flushing;
  const next = processor.flush();
  await settle();
  writer.gates[1].resolve();
  await next;
  assert.deepEqual(writer.batches, [[1], [2, 3]]);
});

Deno.test("stop() flushes what is left and stops the timer", async () => {
  // given a started processor with buffered items
  const batches: number[][] = [];
  const processor = new BatchProcessor<number>({
    maxSize: 100,
    flushEveryMs: 2,
    write: (items) => {
      batches.push([...items]);
      return Promise.resolve();
    },
  });
  processor.start();
  await processor.add(1);
  await processor.add(2);

  // when it is stopped
  await processor.stop();

  // then the rest is written
  assert.deepEqual(batches.flat(), [1, 2]);
  const written = batches.length;

  // and no timer flushes any more: an item added later stays buffered
  await processor.add(3);
  await new Promise((resolve) => setTimeout(resolve, 15));
  assert.equal(batches.length, written);
  assert.equal(processor.buffered, 1);
});

Deno.test("discard() returns the buffered items without writing them and stops the timer", async () => {
  // given a started processor with buffered items
  let writes = 0;
  const processor = new BatchProcessor<string>({
    maxSize: 100,
    flushEveryMs: 60_000,
    write: () => {
      writes++;
      return Promise.resolve();
    },
  });
  processor.start();
  await processor.add("x");
  await processor.add("y");

  // when they are discarded
  const dropped = processor.discard();

  // then they come back in order, the buffer is empty and nothing was written
  // (the test sanitizer would report the interval if it were still running)
  assert.deepEqual(dropped, ["x", "y"]);
  assert.equal(processor.buffered, 0);
  assert.equal(writes, 0);
  assert.deepEqual(processor.discard(), []);
});

Deno.test("a maxSize below 1 is rejected", () => {
  // given maxSize 0 or negative
  // when a processor is made, then it throws a RangeError
  const write = () => Promise.resolve();
  assert.throws(() => new BatchProcessor({ maxSize: 0, flushEveryMs: 10, write }), RangeError);
  assert.throws(() => new BatchProcessor({ maxSize: -1, flushEveryMs: 10, write }), /maxSize/);
  // and maxSize 1 is accepted
  assert.equal(new BatchProcessor({ maxSize: 1, flushEveryMs: 10, write }).buffered, 0);
});

Deno.test("kick writes at once when idle, and gathers what arrives during a write into the next one", async () => {
  const writes: number[][] = [];
  let release = () => {};
  const processor = new BatchProcessor<number>({
    maxSize: 100,
    flushEveryMs: 60_000,
    write: (items) => {
      writes.push([...items]);
      return writes.length === 1 ? new Promise<void>((resolve) => (release = resolve)) : Promise.resolve();
    },
  });
  await processor.add(1);
  processor.kick();
  await new Promise((r) => setTimeout(r, 5));
  assert.deepEqual(writes, [[1]], "the first item is written without waiting for the timer");
  for (const item of [2, 3, 4]) {
    await processor.add(item);
    processor.kick();
  }
  release();
  for (let i = 0; i < 50 && writes.length < 2; i++) await new Promise((r) => setTimeout(r, 2));
  assert.deepEqual(writes, [[1], [2, 3, 4]], "items that arrived during a write go out together");
  await processor.stop();
});
