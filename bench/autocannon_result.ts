/** What the load drivers print of an autocannon result: one shape for every scenario's JSON line. */

/** The fields of autocannon's result the drivers read. */
export interface AutocannonResult {
  readonly requests: { readonly total: number; readonly average: number };
  readonly latency: {
    readonly p50: number;
    readonly p90: number;
    readonly p99: number;
    readonly max: number;
    readonly average: number;
  };
  readonly non2xx: number;
  readonly errors: number;
  readonly timeouts: number;
}

/** Requests, rate, latency percentiles and failures of a run. */
export function runSummary(result: AutocannonResult) {
  return {
    requests: result.requests.total,
    requestsPerSecond: result.requests.average,
    latencyMs: {
      p50: result.latency.p50,
      p90: result.latency.p90,
      p99: result.latency.p99,
      max: result.latency.max,
      mean: result.latency.average,
    },
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
  };
}
