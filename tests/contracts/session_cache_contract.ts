/** Contract of the session cache (Redis and in-memory): a short-lived copy of what every request checks. */
import assert from "node:assert/strict";
import type { SessionCache, SessionState } from "../../application/usercenter/ports.ts";

const active: SessionState = { status: "active", role: "user", tokenVersion: 3 };

/** A cache under test, with a way to let time pass for it. */
export interface OpenedSessionCache {
  readonly cache: SessionCache;
  /** The cache's ttl. */
  readonly ttlSeconds: number;
  /** Lets `ms` pass for the cache (a clock the test controls, or real time). */
  elapse(ms: number): Promise<void>;
  close(): Promise<void>;
}

/** Registers the session-cache contract for one adapter. */
export function sessionCacheContract(name: string, open: () => Promise<OpenedSessionCache>) {
  Deno.test(`${name}: an account not cached is a miss (undefined)`, async () => {
    const { cache, close } = await open();
    try {
      assert.equal(await cache.get("7"), undefined);
    } finally {
      await close();
    }
  });

  Deno.test(`${name}: a state set is read back as it was, per account; a later set replaces it`, async () => {
    const { cache, close } = await open();
    try {
      const suspendedAdmin: SessionState = { status: "suspended", role: "admin", tokenVersion: 0 };
      await cache.set("7", active);
      await cache.set("8", suspendedAdmin);
      assert.deepEqual(await cache.get("7"), active);
      assert.deepEqual(await cache.get("8"), suspendedAdmin);
      assert.equal(await cache.get("9"), undefined);

      const deleted: SessionState = { status: "deleted", role: "user", tokenVersion: 4 };
      await cache.set("7", deleted);
      assert.deepEqual(await cache.get("7"), deleted);
    } finally {
      await close();
    }
  });

  Deno.test(`${name}: a set never puts back an older token version; an equal or newer one replaces`, async () => {
    const { cache, close } = await open();
    try {
      const suspended: SessionState = { status: "suspended", role: "user", tokenVersion: 5 };
      await cache.set("7", suspended);
      // a read that began before the suspension comes back with the account as it was
      await cache.set("7", { status: "active", role: "user", tokenVersion: 4 });
      assert.deepEqual(await cache.get("7"), suspended);
      const reactivated: SessionState = { status: "active", role: "user", tokenVersion: 6 };
      await cache.set("7", reactivated);
      assert.deepEqual(await cache.get("7"), reactivated);
      await cache.set("7", { status: "active", role: "admin", tokenVersion: 6 });
      assert.equal((await cache.get("7"))?.role, "admin");
    } finally {
      await close();
    }
  });

  Deno.test(`${name}: a dropped account is a miss; others stay; dropping a miss is no error`, async () => {
    const { cache, close } = await open();
    try {
      await cache.set("7", active);
      await cache.set("8", active);
      await cache.drop("7");
      assert.equal(await cache.get("7"), undefined);
      assert.deepEqual(await cache.get("8"), active);
      await cache.drop("7");
      await cache.drop("never-cached");
    } finally {
      await close();
    }
  });

  Deno.test(`${name}: an entry is a miss once its ttl has passed`, async () => {
    const { cache, ttlSeconds, elapse, close } = await open();
    try {
      await cache.set("7", active);
      assert.deepEqual(await cache.get("7"), active);
      await elapse(ttlSeconds * 1000 + 200);
      assert.equal(await cache.get("7"), undefined);
      // a new set starts a new ttl
      await cache.set("7", active);
      assert.deepEqual(await cache.get("7"), active);
    } finally {
      await close();
    }
  });
}
