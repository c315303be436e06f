/**
 * Failed sign-ins counted per account and per address (rate-limiter-flexible: Redis shared by every API
 * process, or process memory in the embedded mode). Each attempt spends a point before its password is checked
 * (rate-limiter-flexible's atomic consume); the window opens at a key's first attempt; beyond `failures` attempts
 * in it, attempts are refused until the window ends (`Retry-After` says when). A success gives its points back.
 */
import type { Redis } from "ioredis";
import {
  RateLimiterMemory,
  RateLimiterRedis,
  RateLimiterRes,
  RLWrapperTimeouts,
} from "rate-limiter-flexible";
import type { Logger } from "../../../application/ports.ts";
import type { LoginThrottle } from "../../../application/usercenter/ports.ts";

export interface ThrottleBudget {
  /** Attempts allowed within `windowSeconds` (successes are given back, so: failures); the next is refused. */
  readonly failures: number;
  readonly windowSeconds: number;
}

type Limiter = RateLimiterMemory | RateLimiterRedis;

/**
 * A throttle whose keys start with a kind (`account:`, `address:`), each kind with its own budget. While Redis
 * is down it lets attempts through (warned once per outage): sign-ins keep working, hashing still slows a
 * guesser down.
 */
export class FlexibleLoginThrottle implements LoginThrottle {
  readonly #limiters: Map<string, { limiter: Limiter; wrapped: Limiter | RLWrapperTimeouts }>;
  readonly #logger: Logger;
  #failing = false;

  constructor(options: {
    redis?: Redis;
    budgets: Readonly<Record<string, ThrottleBudget>>;
    keyPrefix: string;
    logger: Logger;
  }) {
    this.#logger = options.logger;
    this.#limiters = new Map(
      Object.entries(options.budgets).map(([kind, budget]) => {
        const settings = {
          points: budget.failures,
          duration: budget.windowSeconds,
          keyPrefix: `${options.keyPrefix}:${kind}`,
        };
        const limiter: Limiter = options.redis
          ? new RateLimiterRedis({ ...settings, storeClient: options.redis, rejectIfRedisNotReady: true })
          : new RateLimiterMemory(settings);
        const wrapped = options.redis ? new RLWrapperTimeouts({ limiter, timeoutMs: 500 }) : limiter;
        return [kind, { limiter, wrapped }];
      }),
    );
  }

  #of(key: string) {
    const colon = key.indexOf(":");
    const entry = this.#limiters.get(key.slice(0, colon));
    if (!entry) throw new Error(`no throttle budget for "${key.slice(0, colon)}"`);
    return { ...entry, id: key.slice(colon + 1) };
  }

  async take(keys: readonly string[]): Promise<number> {
    return await this.#guard(async () => {
      let ms = 0;
      for (const key of keys) {
        const { wrapped, id } = this.#of(key);
        try {
          await wrapped.consume(id);
        } catch (rejection) {
          if (!(rejection instanceof RateLimiterRes)) throw rejection;
          ms = Math.max(ms, rejection.msBeforeNext);
        }
      }
      return seconds(ms);
    }, 0);
  }

  async refund(key: string): Promise<void> {
    const { limiter, id } = this.#of(key);
    await this.#guard(() => limiter.reward(id, 1), undefined);
  }

  async reset(key: string): Promise<void> {
    const { limiter, id } = this.#of(key);
    await this.#guard(() => limiter.delete(id), false);
  }

  async #guard<T>(work: () => Promise<T>, fallback: T): Promise<T> {
    try {
      const value = await work();
      if (this.#failing) this.#logger.info("login throttling restored");
      this.#failing = false;
      return value;
    } catch (error) {
      if (!this.#failing) {
        this.#logger.warn("login throttling unavailable, letting attempts through", { error: String(error) });
      }
      this.#failing = true;
      return fallback;
    }
  }
}

function seconds(ms: number): number {
  return ms > 0 ? Math.max(1, Math.ceil(ms / 1000)) : 0;
}
