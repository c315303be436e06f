/**
 * Whether an error is MongoDB being unreachable (a network error, no server to select, a closed client) rather
 * than the data's fault: a consumer pauses on it and resumes when the server is back, instead of
 * dead-lettering the message. By class name, through `cause`, so the driver need not be loaded to ask.
 */
const unavailable = new Set([
  "MongoNetworkError",
  "MongoNetworkTimeoutError",
  "MongoServerSelectionError",
  "MongoNotConnectedError",
  "MongoTopologyClosedError",
  "PoolClearedError",
  "PoolClosedError",
]);

export function isMongoUnavailable(error: unknown): boolean {
  let current = error;
  for (let depth = 0; current instanceof Error && depth < 5; depth++) {
    if (unavailable.has(current.name)) return true;
    current = current.cause;
  }
  return false;
}
