/**
 * Contract of the hot ranking (Redis and in-memory), driven through the `cache-refresh` effect with real
 * LikeEvent envelopes, on a clock the test sets (no sleeping).
 */
import assert from "node:assert/strict";
import {
  type HotRanking,
  type HotVideo,
  refreshHotRanking,
  videoLikeChanges,
} from "../../application/interaction/hot_ranking.ts";
import { likeEnvelope } from "../../application/interaction/like_event.ts";
import { type Clock, silentLogger } from "../../application/ports.ts";
import { LikeAction, type TargetType } from "../../domain/interaction/like.ts";
import type { Envelope } from "../../outbox/envelope.ts";

/** A clock the test moves by hand. */
export class TestClock implements Clock {
  #now: Date;

  constructor(start: Date) {
    this.#now = start;
  }

  now(): Date {
    return this.#now;
  }

  /** Moves the clock forward by `minutes`. */
  advance(minutes: number): void {
    this.#now = new Date(this.#now.getTime() + minutes * 60_000);
  }
}

/** Opens the ranking under test over `clock`; `close` cleans up. */
export type OpenHotRanking = (clock: Clock) => Promise<{ ranking: HotRanking; close(): Promise<void> }>;

// Not aligned to an hour, so windows end in partial hours at both ends.
const start = new Date("2031-03-14T10:30:20Z");
const minute = 60_000;

let users = 0;

/** A LikeEvent envelope: a like (or unlike) of a video (or comment) at a time, by a fresh user. */
function liked(
  id: string,
  at: Date,
  options: { action?: "like" | "unlike"; type?: TargetType } = {},
): Envelope {
  const action = options.action === "unlike" ? LikeAction.unlike : LikeAction.like;
  return likeEnvelope({
    type: action === LikeAction.like ? "LikeAdded" : "LikeRemoved",
    userId: String(++users),
    target: { type: options.type ?? "video", id },
    action,
    at,
  });
}

/** `count` likes of video `id` at `at`. */
function likes(id: string, count: number, at = start): Envelope[] {
  return Array.from({ length: count }, () => liked(id, at));
}

function ago(minutes: number, from = start): Date {
  return new Date(from.getTime() - minutes * minute);
}

/** The ids of a ranking, sorted (for windows whose scores are all equal). */
function idsOf(videos: readonly HotVideo[]): string[] {
  return videos.map((video) => video.videoId).sort();
}

/** Registers the hot-ranking contract for one adapter. */
export function hotRankingContract(name: string, open: OpenHotRanking) {
  const test = (title: string, body: (ranking: HotRanking, clock: TestClock) => Promise<void>) =>
    Deno.test(`${name}: ${title}`, async () => {
      const clock = new TestClock(start);
      const { ranking, close } = await open(clock);
      try {
        await body(ranking, clock);
      } finally {
        await close();
      }
    });
  const deliver = (ranking: HotRanking, events: readonly Envelope[]) =>
    refreshHotRanking({ ranking, logger: silentLogger })(events, undefined);

  test("ranks the window's videos by score, highest first, up to the limit", async (ranking) => {
    assert.deepEqual(await ranking.top("1h", 20), [], "nothing recorded, nothing ranked");

    // given video 1 liked 3 times, video 3 twice, videos 2 and 10 once (in two batches)
    await deliver(ranking, [...likes("1", 2), ...likes("10", 1), ...likes("3", 2)]);
    await deliver(ranking, [...likes("2", 1), ...likes("1", 1)]);

    // then they rank by score; equal scores by id descending as bytes ("2" before "10")
    assert.deepEqual(await ranking.top("1h", 20), [
      { videoId: "1", score: 3 },
      { videoId: "3", score: 2 },
      { videoId: "2", score: 1 },
      { videoId: "10", score: 1 },
    ]);
    assert.deepEqual(await ranking.top("5m", 2), [{ videoId: "1", score: 3 }, { videoId: "3", score: 2 }]);
  });

  test("a batch delivered again, whole or in part, counts once", async (ranking) => {
    // given a batch of three likes of video 7, one event repeated inside it
    const batch = likes("7", 3);
    await deliver(ranking, [...batch, batch[0]]);

    // when it is delivered again, then again overlapping a new like
    await deliver(ranking, batch);
    const fresh = liked("7", start);
    await deliver(ranking, [batch[2], fresh]);

    // then each event counted once
    assert.deepEqual(await ranking.top("24h", 20), [{ videoId: "7", score: 4 }]);
    assert.equal(await ranking.record(videoLikeChanges([...batch, fresh])), 0, "nothing left to apply");
    assert.equal(await ranking.record(videoLikeChanges([liked("7", start)])), 1);
  });

  test("an unlike takes one off; a video at zero or below is not ranked", async (ranking) => {
    await deliver(ranking, [
      ...likes("5", 2),
      liked("5", start, { action: "unlike" }),
      liked("6", start),
      liked("6", start, { action: "unlike" }),
      // liked before the window, unliked within it
      liked("8", start, { action: "unlike" }),
      ...likes("9", 2),
    ]);
    assert.deepEqual(await ranking.top("1h", 20), [{ videoId: "9", score: 2 }, { videoId: "5", score: 1 }]);
  });

  test("likes of comments do not rank", async (ranking) => {
    await deliver(ranking, [
      ...Array.from({ length: 3 }, () => liked("42", start, { type: "comment" })),
      liked("43", start, { type: "comment" }),
      liked("42", start),
    ]);
    assert.deepEqual(await ranking.top("1h", 20), [{ videoId: "42", score: 1 }]);
  });

  test("a window covers whole minutes up to the clock's, and moves with it", async (ranking, clock) => {
    // given likes at the current minute (10:30) and back to 24 h ago, one of each video
    const at: Record<string, Date> = {
      "100": start, // 10:30
      "101": ago(4), // 10:26, the first minute of 5m
      "102": ago(5), // 10:25
      "103": ago(59), // 09:31, the first minute of 1h
      "104": new Date(ago(60).getTime() + 39_999), // 09:30:59.999
      "105": ago(600), // 00:30, an hour every 24 h window covers whole
      "106": ago(1439), // yesterday 10:31, the first minute of 24h
      "107": new Date(ago(1440).getTime() + 39_999), // yesterday 10:30:59.999: older than every window
      "108": ago(1425), // yesterday 10:45
      "109": ago(1410), // yesterday 11:00
      "110": ago(1409), // yesterday 11:01
    };
    await deliver(ranking, Object.entries(at).map(([id, when]) => liked(id, when)));

    assert.deepEqual(idsOf(await ranking.top("5m", 100)), ["100", "101"]);
    assert.deepEqual(idsOf(await ranking.top("1h", 100)), ["100", "101", "102", "103"]);
    assert.deepEqual(
      idsOf(await ranking.top("24h", 100)),
      ["100", "101", "102", "103", "104", "105", "106", "108", "109", "110"],
    );

    // when the clock moves to 11:00:20 and a video is liked then
    clock.advance(30);
    await deliver(ranking, [liked("111", clock.now())]);

    // then 5m holds only that like, 1h starts at 10:01, and 24h at yesterday 11:01 (its first hour is partial)
    assert.deepEqual(idsOf(await ranking.top("5m", 100)), ["111"]);
    assert.deepEqual(idsOf(await ranking.top("1h", 100)), ["100", "101", "102", "111"]);
    assert.deepEqual(
      idsOf(await ranking.top("24h", 100)),
      ["100", "101", "102", "103", "104", "105", "110", "111"],
    );
  });

  test("a change older than every window is not recorded", async (ranking) => {
    assert.equal(await ranking.record(videoLikeChanges([liked("12", ago(1440))])), 0);
    assert.equal(await ranking.record(videoLikeChanges([liked("12", ago(1439))])), 1);
    assert.deepEqual(await ranking.top("24h", 20), [{ videoId: "12", score: 1 }]);
  });
}
