/** Contract of the login throttle (rate-limiter-flexible on Redis and in process memory). */
import assert from "node:assert/strict";
import type { LoginThrottle } from "../../application/usercenter/ports.ts";
import type { ThrottleBudget } from "../../adapters/redis/usercenter/login_throttle.ts";

/** The budgets every adapter is opened with: 3 attempts per account, 5 per address, in a 60 s window. */
export const budgets: Readonly<Record<"account" | "address", ThrottleBudget>> = {
  account: { failures: 3, windowSeconds: 60 },
  address: { failures: 5, windowSeconds: 60 },
};

/** Registers the login-throttle contract for one adapter, opened with `budgets`. */
export function loginThrottleContract(
  name: string,
  open: () => Promise<{ throttle: LoginThrottle; close(): Promise<void> }>,
) {
  /** Takes `times` attempts on `keys`, returning what each `take` answered. */
  async function takeTimes(throttle: LoginThrottle, keys: readonly string[], times: number) {
    const answers: number[] = [];
    for (let i = 0; i < times; i++) answers.push(await throttle.take(keys));
    return answers;
  }

  Deno.test(`${name}: attempts within the budget pass, the next is refused for at most the window`, async () => {
    const { throttle, close } = await open();
    try {
      assert.deepEqual(await takeTimes(throttle, ["account:x"], budgets.account.failures), [0, 0, 0]);
      const seconds = await throttle.take(["account:x"]);
      assert.ok(seconds > 0 && seconds <= budgets.account.windowSeconds, `refused for ${seconds} s`);
      assert.ok(Number.isInteger(seconds), "whole seconds, as Retry-After takes them");
      // one key over its budget refuses the attempt
      assert.ok((await throttle.take(["account:y", "account:x"])) > 0);
      assert.equal(await throttle.take([]), 0);
    } finally {
      await close();
    }
  });

  Deno.test(`${name}: concurrent attempts count one by one`, async () => {
    const { throttle, close } = await open();
    try {
      const answers = await Promise.all(Array.from({ length: 20 }, () => throttle.take(["account:burst"])));
      assert.equal(answers.filter((s) => s === 0).length, budgets.account.failures, `answers ${answers}`);
    } finally {
      await close();
    }
  });

  Deno.test(`${name}: other keys are unaffected, an address with the same id too`, async () => {
    const { throttle, close } = await open();
    try {
      await takeTimes(throttle, ["account:x"], budgets.account.failures + 1);
      assert.equal(await throttle.take(["account:y"]), 0);
      assert.equal(await throttle.take(["address:x"]), 0);
      assert.equal(await throttle.take(["account:x2"]), 0);
    } finally {
      await close();
    }
  });

  Deno.test(`${name}: an address has its own budget, counted across accounts`, async () => {
    const { throttle, close } = await open();
    try {
      const address = "address:198.51.100.1";
      for (let i = 0; i < budgets.address.failures; i++) {
        assert.equal(await throttle.take([`account:guess${i}`, address]), 0);
      }
      assert.ok((await throttle.take(["account:fresh", address])) > 0, "the address spent its budget");
      assert.equal(await throttle.take(["account:fresh2", "address:198.51.100.2"]), 0);
    } finally {
      await close();
    }
  });

  Deno.test(`${name}: a refund gives an attempt back; reset forgets a key's attempts`, async () => {
    const { throttle, close } = await open();
    try {
      const address = "address:203.0.113.7";
      // successes refunded: any number of them never spends the address's budget
      for (let i = 0; i < budgets.address.failures * 2; i++) {
        assert.equal(await throttle.take([address]), 0);
        await throttle.refund(address);
      }
      await takeTimes(throttle, ["account:x"], budgets.account.failures);
      await throttle.reset("account:x");
      assert.deepEqual(await takeTimes(throttle, ["account:x"], budgets.account.failures), [0, 0, 0]);
      await throttle.reset("account:never-tried");
    } finally {
      await close();
    }
  });
}
