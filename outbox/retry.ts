/** Retry with exponential backoff, shared by the relay and the consumers. */

/** How often and how patiently to retry. */
export interface RetryPolicy {
  /** Retries after the first attempt (the seed's default: 3). */
  readonly maxRetries: number;
  /** Delay before the first retry, in milliseconds (default 1 000). */
  readonly baseDelayMs: number;
  /** Growth of the delay per retry (default 2). */
  readonly factor: number;
  /** Cap on one delay, in milliseconds. */
  readonly maxDelayMs: number;
}

/** The seed's policy: 3 retries, 1 s, doubling, capped at 30 s. */
export const defaultRetryPolicy: RetryPolicy = {
  maxRetries: 3,
  baseDelayMs: 1000,
  factor: 2,
  maxDelayMs: 30_000,
};

/** Delay before retry number `retry` (1-based). */
export function backoffDelay(policy: RetryPolicy, retry: number): number {
  return Math.min(policy.maxDelayMs, policy.baseDelayMs * policy.factor ** Math.max(0, retry - 1));
}

/** Sleeps `ms`, waking early (without error) when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted || ms <= 0) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}

/** Resolves with `promise`, or rejects with `stopped()` once `signal` aborts (the work itself goes on). */
export function untilAborted<T>(promise: Promise<T>, signal: AbortSignal, stopped: () => Error): Promise<T> {
  if (signal.aborted) return Promise.reject(stopped());
  return new Promise<T>((resolve, reject) => {
    const abort = () => reject(stopped());
    signal.addEventListener("abort", abort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", abort));
  });
}

/** Result of running work under a retry policy. */
export type RetryOutcome<T> =
  | { readonly ok: true; readonly value: T; readonly attempts: number }
  | { readonly ok: false; readonly error: unknown; readonly attempts: number };

/** Options of `withRetries`. */
export interface WithRetriesOptions {
  /** Errors that retrying cannot fix; they end the loop at once. */
  readonly isPermanent?: (error: unknown) => boolean;
  /**
   * Errors of the infrastructure (a database down or read-only, a table missing): retried without limit, the
   * delay growing to the policy's maxDelayMs, since the message is not at fault. They do not use up maxRetries.
   */
  readonly isInfrastructure?: (error: unknown) => boolean;
  /** Called before each wait, told whether the failure was the infrastructure's. */
  readonly onRetry?: (error: unknown, retry: number, delayMs: number, infrastructure: boolean) => void;
  /** Stops waiting and returns the last failure when aborted. */
  readonly signal?: AbortSignal;
}

/** Runs `work` until it succeeds or the policy's retries are spent. Never throws. */
export async function withRetries<T>(
  policy: RetryPolicy,
  work: () => Promise<T>,
  options: WithRetriesOptions = {},
): Promise<RetryOutcome<T>> {
  let retries = 0;
  let outageRetries = 0;
  for (let attempts = 1;; attempts++) {
    try {
      return { ok: true, value: await work(), attempts };
    } catch (error) {
      if (options.isPermanent?.(error) || options.signal?.aborted) return { ok: false, error, attempts };
      const infrastructure = options.isInfrastructure?.(error) ?? false;
      if (!infrastructure && retries >= policy.maxRetries) return { ok: false, error, attempts };
      const delay = backoffDelay(policy, infrastructure ? ++outageRetries : ++retries);
      options.onRetry?.(error, attempts, delay, infrastructure);
      await sleep(delay, options.signal);
    }
  }
}
