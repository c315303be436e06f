/**
 * Rate limiting of writes per user (seed 限流保护): a middleware that spends one point of the user's budget
 * per write and answers 429 with `Retry-After` once it is spent, before the handler runs.
 *
 * Window semantics (rate-limiter-flexible's "enhanced fixed window", the same in Redis and in memory): a
 * user's window opens at their first write and lasts `durationSeconds`; at most `points` writes fit in it,
 * and the next write after it ends opens a new one. Refused writes count but do not extend the window. It is
 * not a sliding window: across a window's end a user can fit up to 2 × `points` writes in a short span. A
 * sliding window would need a Lua script of our own for Redis and a memory twin written to match it; the
 * fixed window keeps one tested implementation for both modes.
 */
import type { Context, MiddlewareHandler } from "hono";
import type { Redis } from "ioredis";
import {
  RateLimiterMemory,
  RateLimiterRedis,
  RateLimiterRes,
  RLWrapperTimeouts,
} from "rate-limiter-flexible";
import type { Logger } from "../../application/ports.ts";
import { optionalUser } from "./identity.ts";
import type { Problem } from "./problem.ts";

/** What a limiter answers for one write: allowed, or refused with how long to wait. */
export type RateDecision =
  | { readonly allowed: true }
  | { readonly allowed: false; readonly retryAfterMs: number };

/** The limiter port: spends one point of `key`'s budget; throws only when its backend fails. */
export interface RateLimiter {
  consume(key: string): Promise<RateDecision>;
}

/** Options of `userRateLimiter`. */
export interface UserRateLimiterOptions {
  /** Redis for the real deployment (budgets shared by every API process); without it, process memory. */
  readonly redis?: Redis;
  /** Writes allowed per window (a positive integer). */
  readonly points: number;
  /** Length of the window in seconds (a positive integer). */
  readonly durationSeconds: number;
  /** Prefix of the keys (`<keyPrefix>:<userId>`): one per limiter, so budgets do not mix. */
  readonly keyPrefix: string;
  /** How long a Redis call may take before the write goes through unlimited (default 500 ms). */
  readonly timeoutMs?: number;
}

/** A limiter over rate-limiter-flexible: `RateLimiterRedis` when given Redis, `RateLimiterMemory` otherwise. */
export function userRateLimiter(options: UserRateLimiterOptions): RateLimiter {
  for (const name of ["points", "durationSeconds"] as const) {
    if (!Number.isInteger(options[name]) || options[name] < 1) {
      throw new RangeError(`${name} must be a positive integer, got ${options[name]}`);
    }
  }
  const settings = {
    points: options.points,
    duration: options.durationSeconds,
    keyPrefix: options.keyPrefix,
  };
  if (!options.redis) return new FlexibleRateLimiter(new RateLimiterMemory(settings));
  return new FlexibleRateLimiter(
    new RLWrapperTimeouts({
      // Fail fast while Redis is down or hangs, instead of holding writes in ioredis' offline queue.
      limiter: new RateLimiterRedis({ ...settings, storeClient: options.redis, rejectIfRedisNotReady: true }),
      timeoutMs: options.timeoutMs ?? 500,
    }),
  );
}

/** Adapts a rate-limiter-flexible limiter (which rejects with a `RateLimiterRes` when over) to the port. */
class FlexibleRateLimiter implements RateLimiter {
  readonly #limiter: RateLimiterMemory | RLWrapperTimeouts;

  constructor(limiter: RateLimiterMemory | RLWrapperTimeouts) {
    this.#limiter = limiter;
  }

  async consume(key: string): Promise<RateDecision> {
    try {
      await this.#limiter.consume(key);
      return { allowed: true };
    } catch (rejection) {
      if (rejection instanceof RateLimiterRes) {
        return { allowed: false, retryAfterMs: rejection.msBeforeNext };
      }
      throw rejection;
    }
  }
}

/** Options of `rateLimit`. */
export interface RateLimitOptions {
  readonly limiter: RateLimiter;
  /** Where a backend failure is reported (once per outage). */
  readonly logger: Logger;
  /**
   * Whose budget a request spends; undefined means not limited here. Default: the authenticated user, so
   * anonymous writes pass (their route answers 401). Mount after `identify`.
   */
  readonly key?: (c: Context) => string | undefined;
  /** Methods limited (default: POST, PUT, PATCH, DELETE); others pass untouched. */
  readonly methods?: readonly string[];
}

/** The methods `rateLimit` limits by default: the writes. */
export const writeMethods: readonly string[] = ["POST", "PUT", "PATCH", "DELETE"];

/** Middleware refusing writes over the limiter's budget with a 429 problem and `Retry-After` (whole seconds). */
export function rateLimit(options: RateLimitOptions): MiddlewareHandler {
  const { limiter, logger, key = optionalUser } = options;
  const methods = new Set((options.methods ?? writeMethods).map((method) => method.toUpperCase()));
  let failing = false;
  return async (c, next) => {
    const subject = methods.has(c.req.method) ? key(c) : undefined;
    if (subject === undefined) return await next();
    let decision: RateDecision;
    try {
      decision = await limiter.consume(subject);
      if (failing) logger.info("rate limiting restored", { requestId: c.get("requestId") });
      failing = false;
    } catch (error) {
      // Fail open: an outage of the limiter's backend (Redis down or slow) must not stop writes, so the
      // request goes through unlimited. Warned once per outage, not once per write.
      if (!failing) {
        logger.warn("rate limiting unavailable, letting writes through", {
          requestId: c.get("requestId"),
          error: error instanceof Error ? error.message : String(error),
        });
      }
      failing = true;
      return await next();
    }
    if (decision.allowed) return await next();
    const retryAfter = Math.max(1, Math.ceil(decision.retryAfterMs / 1000));
    const body: Problem = {
      type: "urn:problem:rate-limited",
      title: "too many requests",
      status: 429,
      detail: `write limit reached; retry in ${retryAfter} s`,
    };
    return c.body(JSON.stringify(body), 429, {
      "content-type": "application/problem+json",
      "retry-after": String(retryAfter),
    });
  };
}
