import assert from "node:assert/strict";
import { createApp } from "../adapters/http/app.ts";
import { hotRoutes } from "../adapters/http/interaction/hot_routes.ts";
import { MemoryHotRanking } from "../adapters/memory/interaction/hot_ranking.ts";
import { refreshHotRanking } from "../application/interaction/hot_ranking.ts";
import { likeEnvelope } from "../application/interaction/like_event.ts";
import { silentLogger } from "../application/ports.ts";
import { LikeAction } from "../domain/interaction/like.ts";
import { TestClock } from "./contracts/hot_ranking_contract.ts";

const now = new Date("2031-03-14T10:30:20Z");

/** The body of a good answer. */
interface HotBody {
  readonly window: string;
  readonly items: readonly { readonly videoId: string; readonly score: number }[];
}

/** The API with the hot route over a memory ranking, and a way to like videos in it. */
function hotApi() {
  const ranking = new MemoryHotRanking({ clock: new TestClock(now) });
  const app = createApp({ routes: [{ path: "/", app: hotRoutes({ ranking }) }], logger: silentLogger });
  let user = 0;
  return {
    get: (path: string) => app.request(path),
    like: (videoId: string, times: number, minutesAgo = 0) =>
      refreshHotRanking({ ranking, logger: silentLogger })(
        Array.from({ length: times }, () =>
          likeEnvelope({
            type: "LikeAdded",
            userId: String(++user),
            target: { type: "video", id: videoId },
            action: LikeAction.like,
            at: new Date(now.getTime() - minutesAgo * 60_000),
          })),
        undefined,
      ),
  };
}

Deno.test("GET /videos/hot with a bad window or limit is a 400 problem", async (t) => {
  const api = hotApi();
  for (
    const query of [
      "window=2h",
      "window=",
      "window=1H",
      "limit=0",
      "limit=101",
      "limit=abc",
      "limit=1.5",
      "limit=-1",
    ]
  ) {
    await t.step(query, async () => {
      const response = await api.get(`/videos/hot?${query}`);
      assert.equal(response.status, 400);
      assert.match(response.headers.get("content-type") ?? "", /application\/problem\+json/);
      const body: { type: string; status: number; errors: { path: string }[] } = await response.json();
      assert.equal(body.type, "urn:problem:validation");
      assert.equal(body.status, 400);
      assert.equal(body.errors[0].path, query.split("=")[0]);
    });
  }
});

Deno.test("GET /videos/hot answers the window's top videos with their scores", async () => {
  // given video 1 liked 3 times now, video 2 twice now, video 3 four times 30 minutes ago
  const api = hotApi();
  await api.like("1", 3);
  await api.like("2", 2);
  await api.like("3", 4, 30);

  // when the last 5 minutes are asked for, then videos 1 and 2 rank
  const fiveMinutes = await api.get("/videos/hot?window=5m&limit=20");
  assert.equal(fiveMinutes.status, 200);
  assert.deepEqual(await fiveMinutes.json(), {
    window: "5m",
    items: [{ videoId: "1", score: 3 }, { videoId: "2", score: 2 }],
  });

  // and the last hour, limited to 2: video 3 first
  assert.deepEqual(await (await api.get("/videos/hot?window=1h&limit=2")).json(), {
    window: "1h",
    items: [{ videoId: "3", score: 4 }, { videoId: "1", score: 3 }],
  });
});

Deno.test("GET /videos/hot defaults to the last hour and 20 videos", async () => {
  const api = hotApi();
  for (let video = 1; video <= 25; video++) await api.like(String(video), 1);
  await api.like("99", 1, 90);
  const body: HotBody = await (await api.get("/videos/hot")).json();
  assert.equal(body.window, "1h");
  assert.equal(body.items.length, 20);
  assert.ok(!body.items.some((item) => item.videoId === "99"), "older than an hour");
});
