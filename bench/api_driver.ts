/**
 * Load driver of the API scenario, run as its own process (with --no-lock, so the pin below does not touch
 * deno.lock until it is added to deno.json). Prints one JSON line with the result.
 *
 * Every request is signed in: TOKENS_FILE holds a JSON array of `Authorization` values, one per user of a pool
 * the harness created. Like k (0, 1, 2, …) is by user k % users on video k % 1000 + 1: with a pool size prime to
 * 10, a user's likes fall on distinct videos, so the first 1 000 × users likes are each a new (user, video).
 *
 * MODE=post (default): autocannon POSTs likes k = 0, 1, 2, …, so every request changes state and records an
 * event. The line names the likes of the measured run (firstLike..lastLike, the warm-up's likes before them).
 *
 * MODE=get: autocannon GETs `/videos/<n>/likes` as the user of a like among LIKE_FIRST..LIKE_LAST (the likes of
 * a POST run): each request picks such a like at random, and with probability OWN_VIDEO_SHARE asks for its video
 * (the user's state there is in the cache since the like), otherwise for one of the 1 000 videos at random (the
 * user's state there rarely is, only if that user liked it too: a miss, read from the database and filled).
 * Either way the videos requested are spread evenly over the same 1 000.
 *
 * Environment: API_URL, TOKENS_FILE, CONNECTIONS, DURATION (seconds), WARMUP (seconds), MODE; for get
 * LIKE_FIRST, LIKE_LAST, OWN_VIDEO_SHARE (0–1, default 0.5).
 */
// deno-lint-ignore no-import-prefix
import autocannon from "npm:autocannon@8.0.0";
import { runSummary } from "./autocannon_result.ts";

const url = Deno.env.get("API_URL") ?? "http://127.0.0.1:8080";
const connections = Number(Deno.env.get("CONNECTIONS") ?? 10);
const duration = Number(Deno.env.get("DURATION") ?? 10);
const warmup = Number(Deno.env.get("WARMUP") ?? 0);
const mode = Deno.env.get("MODE") ?? "post";
if (mode !== "post" && mode !== "get") throw new Error(`MODE: post or get, not ${mode}`);
const tokensFile = Deno.env.get("TOKENS_FILE");
if (!tokensFile) throw new Error("TOKENS_FILE: a JSON array of Authorization header values");
const tokens: string[] = JSON.parse(await Deno.readTextFile(tokensFile));
if (!(tokens.length > 0 && tokens.length % 2 !== 0 && tokens.length % 5 !== 0)) {
  throw new Error(`TOKENS_FILE: a pool of users whose size is prime to 10, not ${tokens.length}`);
}
let next = 0;
const readFirst = Number(Deno.env.get("LIKE_FIRST") ?? 0);
const readLast = Number(Deno.env.get("LIKE_LAST") ?? readFirst);
const ownVideoShare = Number(Deno.env.get("OWN_VIDEO_SHARE") ?? 0.5);
if (mode === "get" && !(Number.isSafeInteger(readFirst) && Number.isSafeInteger(readLast))) {
  throw new Error("LIKE_FIRST and LIKE_LAST: whole numbers");
}
if (mode === "get" && readLast < readFirst) throw new Error("LIKE_LAST before LIKE_FIRST");
if (!(ownVideoShare >= 0 && ownVideoShare <= 1)) throw new Error("OWN_VIDEO_SHARE: between 0 and 1");

interface Request {
  method?: string;
  path?: string;
  headers?: Record<string, string>;
}

/** The video of like `k`. */
const videoOf = (k: number) => (k % 1000) + 1;
/** The `Authorization` header of the user of like `k`. */
const userOf = (k: number) => ({ authorization: tokens[k % tokens.length] });

function likeRequest(request: Request): Request {
  const k = next++;
  return { ...request, method: "POST", path: `/videos/${videoOf(k)}/likes`, headers: userOf(k) };
}

let ownVideoRequests = 0;

function readRequest(request: Request): Request {
  const k = readFirst + Math.floor(Math.random() * (readLast - readFirst + 1));
  const own = Math.random() < ownVideoShare;
  if (own) ownVideoRequests++;
  const video = own ? videoOf(k) : 1 + Math.floor(Math.random() * 1000);
  return { ...request, method: "GET", path: `/videos/${video}/likes`, headers: userOf(k) };
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
const firstLike = next;
const result = await run(duration);
console.log(JSON.stringify({
  mode,
  connections,
  duration,
  ...runSummary(result),
  users: tokens.length,
  ...(mode === "post"
    ? { likesSent: next - firstLike, firstLike, lastLike: next - 1 }
    : { firstLike: readFirst, lastLike: readLast, ownVideoShare, ownVideoRequests }),
}));
Deno.exit(0);
