import assert from "node:assert/strict";
import { Argon2Hasher } from "./password_hasher.ts";
import { HashWorkerPool } from "./worker_pool.ts";
import { HasherBusyError } from "../../application/usercenter/ports.ts";

const cheap = { memoryKib: 8_192, iterations: 1, parallelism: 1 };

Deno.test("hashes made in worker threads verify there and on the calling thread, and the reverse", async () => {
  const pool = new HashWorkerPool(2);
  try {
    const pooled = new Argon2Hasher(cheap, { pool });
    const inline = new Argon2Hasher(cheap);
    const [a, b] = await Promise.all([
      pooled.hash("correct horse battery"),
      inline.hash("correct horse battery"),
    ]);
    assert.match(a, /^\$argon2id\$v=19\$m=8192,t=1,p=1\$/);
    assert.equal(await inline.verify(a, "correct horse battery"), true);
    assert.equal(await pooled.verify(b, "correct horse battery"), true);
    assert.equal(await pooled.verify(a, "wrong horse battery"), false);
    // a hash that does not parse verifies nothing, it does not fail
    assert.equal(await pooled.verify("$argon2id$v=19$garbage", "x"), false);
  } finally {
    await pool.close();
  }
});

Deno.test("the main thread stays free while the workers hash", async () => {
  const pool = new HashWorkerPool(1);
  try {
    const hasher = new Argon2Hasher({ memoryKib: 19_456, iterations: 4, parallelism: 1 }, { pool });
    await hasher.hash("warm the worker up");
    // count timer ticks during a hash: on the calling thread there would be none until it ends
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    await hasher.hash("correct horse battery");
    clearInterval(timer);
    assert.ok(ticks >= 5, `the event loop ran ${ticks} times during the hash`);
  } finally {
    await pool.close();
  }
});

Deno.test("a closed pool refuses work with an error, not a wrong-password answer", async () => {
  const pool = new HashWorkerPool(1);
  const hasher = new Argon2Hasher(cheap, { pool });
  const hash = await hasher.hash("correct horse battery");
  await pool.close();
  await assert.rejects(() => hasher.verify(hash, "correct horse battery"), /closed/);
});

Deno.test("a full queue refuses new work at once instead of making it wait", async () => {
  const pool = new HashWorkerPool(1, 2);
  const hasher = new Argon2Hasher({ memoryKib: 19_456, iterations: 2, parallelism: 1 }, { pool });
  try {
    const queued = [hasher.hash("first password here"), hasher.hash("second password here")];
    await assert.rejects(() => hasher.hash("third password here"), HasherBusyError);
    await Promise.all(queued);
    assert.match(await hasher.hash("after the queue drained"), /^\$argon2id\$/);
  } finally {
    await pool.close();
  }
});
