/**
 * Load driver of the API scenario, run as its own process (with --no-lock, so the pin below does not touch
 * deno.lock until it is added to deno.json): autocannon POSTs likes, each request with a new user id and one of
 * 1 000 videos, so every request changes state and records an event. Prints one JSON line with the result.
 *
 * Environment: API_URL, CONNECTIONS, DURATION (seconds), WARMUP (seconds), USER_BASE (first user id).
 */
// deno-lint-ignore no-import-prefix
import autocannon from "npm:autocannon@8.0.0";

const url = Deno.env.get("API_URL") ?? "http://127.0.0.1:8080";
const connections = Number(Deno.env.get("CONNECTIONS") ?? 10);
const duration = Number(Deno.env.get("DURATION") ?? 10);
const warmup = Number(Deno.env.get("WARMUP") ?? 0);
let user = Number(Deno.env.get("USER_BASE") ?? 1);

interface Request {
  method?: string;
  path?: string;
  headers?: Record<string, string>;
}

function likeRequest(request: Request): Request {
  user++;
  return {
    ...request,
    method: "POST",
    path: `/videos/${(user % 1000) + 1}/likes`,
    headers: { "x-user-id": String(user) },
  };
}

async function run(seconds: number) {
  return await autocannon({
    url,
    connections,
    duration: seconds,
    requests: [{ setupRequest: likeRequest }],
  });
}

if (warmup > 0) await run(warmup);
const firstUser = user;
const result = await run(duration);
console.log(JSON.stringify({
  connections,
  duration,
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
  usersUsed: user - firstUser,
}));
Deno.exit(0);
