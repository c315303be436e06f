/**
 * A small pool of hashing workers (adapters/argon2/hash_worker.ts), started on first use. Each task goes to
 * the worker with the fewest tasks in flight; a worker that dies fails its tasks and is replaced. The queue is
 * bounded: beyond `maxQueued` tasks waiting, new ones are refused at once (HasherBusyError) instead of making
 * every sign-in wait behind a flood.
 */
import { HasherBusyError } from "../../application/usercenter/ports.ts";

/** One hashing job. */
export type HashTask =
  | {
    readonly op: "hash";
    readonly password: string;
    readonly salt: Uint8Array;
    readonly memoryKib: number;
    readonly iterations: number;
    readonly parallelism: number;
  }
  | { readonly op: "verify"; readonly password: string; readonly hash: string };

interface Slot {
  worker: Worker;
  pending: Map<number, { resolve(value: unknown): void; reject(error: Error): void }>;
}

export class HashWorkerPool {
  readonly #size: number;
  readonly #slots: Slot[] = [];
  #next = 0;
  #closed = false;

  readonly #maxQueued: number;

  /** `size` workers at most (default 1), `maxQueued` tasks waiting at most (default 64 per worker). */
  constructor(size = 1, maxQueued = 64 * Math.max(1, size)) {
    this.#size = Math.max(1, size);
    this.#maxQueued = maxQueued;
  }

  /** Tasks sent and not answered yet. */
  get pending(): number {
    return this.#slots.reduce((sum, slot) => sum + slot.pending.size, 0);
  }

  run<T extends string | boolean>(task: HashTask): Promise<T> {
    if (this.#closed) return Promise.reject(new Error("the hashing pool is closed"));
    if (this.pending >= this.#maxQueued) {
      return Promise.reject(new HasherBusyError(`${this.pending} password hashes are queued`));
    }
    const slot = this.#pick();
    const id = ++this.#next;
    return new Promise<T>((resolve, reject) => {
      slot.pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      slot.worker.postMessage({ id, task });
    });
  }

  /** Stops the workers; tasks in flight fail. */
  close(): Promise<void> {
    this.#closed = true;
    for (const slot of this.#slots.splice(0)) this.#fail(slot, new Error("the hashing pool closed"));
    return Promise.resolve();
  }

  #pick(): Slot {
    if (this.#slots.length < this.#size) {
      const idle = this.#slots.find((slot) => slot.pending.size === 0);
      if (idle) return idle;
      const slot = this.#start();
      this.#slots.push(slot);
      return slot;
    }
    return this.#slots.reduce((least, slot) => slot.pending.size < least.pending.size ? slot : least);
  }

  #start(): Slot {
    const worker = new Worker(new URL("./hash_worker.ts", import.meta.url).href, { type: "module" });
    const slot: Slot = { worker, pending: new Map() };
    worker.onmessage = (message: MessageEvent<{ id: number; result?: string | boolean; error?: string }>) => {
      const { id, result, error } = message.data;
      const waiter = slot.pending.get(id);
      if (!waiter) return;
      slot.pending.delete(id);
      if (error !== undefined) waiter.reject(new Error(error));
      else waiter.resolve(result);
    };
    worker.onerror = (event) => {
      event.preventDefault();
      const index = this.#slots.indexOf(slot);
      if (index >= 0) this.#slots.splice(index, 1);
      this.#fail(slot, new Error(`hashing worker failed: ${event.message}`));
    };
    return slot;
  }

  #fail(slot: Slot, error: Error): void {
    slot.worker.terminate();
    for (const waiter of slot.pending.values()) waiter.reject(error);
    slot.pending.clear();
  }
}
