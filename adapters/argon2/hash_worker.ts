/**
 * A Web Worker that hashes and verifies passwords (argon2id, hash-wasm) off the main thread: the WebAssembly
 * runs synchronously for tens of milliseconds, which on the main thread would hold every other request.
 */
/// <reference lib="deno.worker" />
import { argon2id, argon2Verify } from "hash-wasm";
import type { HashTask } from "./worker_pool.ts";

self.onmessage = async (message: MessageEvent<{ id: number; task: HashTask }>) => {
  const { id, task } = message.data;
  try {
    const result = task.op === "hash"
      ? await argon2id({
        password: task.password,
        salt: task.salt,
        memorySize: task.memoryKib,
        iterations: task.iterations,
        parallelism: task.parallelism,
        hashLength: 32,
        outputType: "encoded",
      })
      : await argon2Verify({ password: task.password, hash: task.hash }).catch(() => false);
    self.postMessage({ id, result });
  } catch (error) {
    self.postMessage({ id, error: error instanceof Error ? error.message : String(error) });
  }
};
