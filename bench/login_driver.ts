/**
 * Load driver of the login scenario, run as its own process (with --no-lock, so the pin below does not touch
 * deno.lock until it is added to deno.json). Prints one JSON line with the result.
 *
 * autocannon POSTs `/users/login` with the same body (one account, the right password) on every request, with
 * `X-Forwarded-For: FORWARDED_FOR` (the API runs with TRUST_FORWARDED_FOR=true, so the run's throttle counters
 * are keyed by an address of its own, not by 127.0.0.1 shared with other users of this Redis). After the
 * warm-up it waits for the API to finish the warm-up's abandoned requests, then prints `{"phase":"measuring"}`
 * (the harness starts its CPU count there) and runs the measured period.
 *
 * Environment: API_URL, CONNECTIONS, DURATION (seconds), WARMUP (seconds), EMAIL, PASSWORD, FORWARDED_FOR.
 */
// deno-lint-ignore no-import-prefix
import autocannon from "npm:autocannon@8.0.0";
import { runSummary } from "./autocannon_result.ts";

const url = Deno.env.get("API_URL") ?? "http://127.0.0.1:8080";
const connections = Number(Deno.env.get("CONNECTIONS") ?? 4);
const duration = Number(Deno.env.get("DURATION") ?? 10);
const warmup = Number(Deno.env.get("WARMUP") ?? 0);
const email = Deno.env.get("EMAIL");
const password = Deno.env.get("PASSWORD");
const forwardedFor = Deno.env.get("FORWARDED_FOR") ?? "bench-login";
if (!email || !password) throw new Error("EMAIL and PASSWORD are required");

async function run(seconds: number) {
  return await autocannon({
    url: `${url}/users/login`,
    connections,
    duration: seconds,
    method: "POST",
    headers: { "content-type": "application/json", "x-forwarded-for": forwardedFor },
    body: JSON.stringify({ email, password }),
  });
}

if (warmup > 0) {
  await run(warmup);
  // autocannon stops with requests in flight, and the API still verifies their hashes one by one (about a
  // second of work at 16 connections): one more sign-in, queued behind them, answers once they are done, so the
  // measured run does not start on the warm-up's leftovers.
  const response = await fetch(`${url}/users/login`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-forwarded-for": forwardedFor },
    body: JSON.stringify({ email, password }),
  });
  await response.body?.cancel();
  if (response.status !== 200) throw new Error(`the sign-in after the warm-up answered ${response.status}`);
}
// The harness measures the API's CPU from this line to the exit: the warm-up does not count.
console.log(JSON.stringify({ phase: "measuring" }));
const result = await run(duration);
console.log(JSON.stringify({
  connections,
  duration,
  ...runSummary(result),
  statusCodes: result.statusCodeStats,
}));
Deno.exit(0);
