/** Errors of the Redis client that mean "Redis is unreachable", not "this event is bad". */

/** Whether `error` (or its cause) is ioredis failing to reach Redis. */
export function isRedisUnavailable(error: unknown): boolean {
  for (let current = error, depth = 0; current instanceof Error && depth < 5; depth++) {
    if (current.name === "MaxRetriesPerRequestError") return true;
    if (
      /Connection is closed|Stream isn't writeable|ECONNREFUSED|ECONNRESET|ETIMEDOUT|Command timed out/.test(
        current.message,
      )
    ) {
      return true;
    }
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}
