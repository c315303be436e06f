/**
 * Load driver of the API scenario, run as its own process (with --no-lock, so the pin below does not touch
 * deno.lock until it is added to deno.json). Prints one JSON line with the result.
 *
 * MODE=post (default): autocannon POSTs likes, each request with a new user id and one of 1 000 videos (user
 * u likes video u % 1000 + 1), so every request changes state and records an event. The line names the users
 * of the measured run (firstUser..lastUser, the warm-up's users before them).
 *
 * MODE=get: autocannon GETs `/videos/<n>/likes` with an `X-User-Id` among USER_FIRST..USER_LAST (the users of
 * a POST run): each request picks a user at random, and with probability OWN_VIDEO_SHARE asks for the video
 * that user liked (its state is in the cache since the like), otherwise for one of the 1 000 videos at random
 * (its state almost never is: a miss, read from the database and filled). Either way the videos requested are
 * spread evenly over the same 1 000.
 *
 * Environment: API_URL, CONNECTIONS, DURATION (seconds), WARMUP (seconds), MODE; for post USER_BASE (the user
 * before the first); for get USER_FIRST, USER_LAST, OWN_VIDEO_SHARE (0–1, default 0.5).
 */
// deno-lint-ignore no-import-prefix
import autocannon from "npm:autocannon@8.0.0";

const url = Deno.env.get("API_URL") ?? "http://127.0.0.1:8080";
const connections = Number(Deno.env.get("CONNECTIONS") ?? 10);
const duration = Number(Deno.env.get("DURATION") ?? 10);
const warmup = Number(Deno.env.get("WARMUP") ?? 0);
const mode = Deno.env.get("MODE") ?? "post";
if (mode !== "post" && mode !== "get") throw new Error(`MODE: post or get, not ${mode}`);
let user = Number(Deno.env.get("USER_BASE") ?? 1);
const readFirst = Number(Deno.env.get("USER_FIRST") ?? 1);
const readLast = Number(Deno.env.get("USER_LAST") ?? readFirst);
const ownVideoShare = Number(Deno.env.get("OWN_VIDEO_SHARE") ?? 0.5);
if (mode === "get" && !(Number.isSafeInteger(readFirst) && Number.isSafeInteger(readLast))) {
  throw new Error("USER_FIRST and USER_LAST: whole numbers");
}
if (mode === "get" && readLast < readFirst) throw new Error("USER_LAST before USER_FIRST");
if (!(ownVideoShare >= 0 && ownVideoShare <= 1)) throw new Error("OWN_VIDEO_SHARE: between 0 and 1");

interface Request {
  method?: string;
  path?: string;
  headers?: Record<string, string>;
}

/** The video user `u` liked in the POST run. */
const videoOf = (u: number) => (u % 1000) + 1;

function likeRequest(request: Request): Request {
  user++;
  return {
    ...request,
    method: "POST",
    path: `/videos/${videoOf(user)}/likes`,
    headers: { "x-user-id": String(user) },
  };
}

let ownVideoRequests = 0;

function readRequest(request: Request): Request {
  const reader = readFirst + Math.floor(Math.random() * (readLast - readFirst + 1));
  const own = Math.random() < ownVideoShare;
  if (own) ownVideoRequests++;
  const video = own ? videoOf(reader) : 1 + Math.floor(Math.random() * 1000);
  return {
    ...request,
    method: "GET",
    path: `/videos/${video}/likes`,
    headers: { "x-user-id": String(reader) },
  };
}

async function run(seconds: number) {
  return await autocannon({
    url,
    connections,
    duration: seconds,
    requests: [{ setupRequest: mode === "post" ? likeRequest : readRequest }],
  });
}

if (warmup > 0) await run(warmup);
const firstUser = user;
const result = await run(duration);
console.log(JSON.stringify({
  mode,
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
  ...(mode === "post"
    ? { usersUsed: user - firstUser, firstUser: firstUser + 1, lastUser: user }
    : { firstUser: readFirst, lastUser: readLast, ownVideoShare, ownVideoRequests }),
}));
Deno.exit(0);
