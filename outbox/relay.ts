/** The relay: moves committed outbox rows to the broker, in order per key, with backoff when it is down. */
import type { Logger } from "../application/ports.ts";
import { silentLogger } from "../application/ports.ts";
import { MessageRejectedError } from "./errors.ts";
import type { OutboxRecord, OutboxSource, Publisher, RejectedRow } from "./ports.ts";
import { backoffDelay, type RetryPolicy, sleep, untilAborted } from "./retry.ts";

/** Counters the relay reports (wired to metrics by the composition root). */
export interface RelayObserver {
  published?(count: number, seconds: number): void;
  failed?(error: unknown): void;
  backoff?(delayMs: number): void;
  /** Rows the broker refused for good, moved out of the outbox (`reason` as the broker put it). */
  parked?(count: number, reason: string): void;
}

/** How the relay runs. */
export interface RelayOptions {
  readonly source: OutboxSource;
  readonly publisher: Publisher;
  /** Rows per claim (default 500). */
  readonly batchSize?: number;
  /** Claim loops in this process; each holds its own key buckets (default 4). */
  readonly concurrency?: number;
  /** Poll interval when no notification arrives, in milliseconds (default 1 000). */
  readonly pollIntervalMs?: number;
  /**
   * Pause after a wake-up before claiming, so rows committed in a burst go out in one batch (default 0; the
   * embedded mode uses a few ms because each claim costs its single database session a round of work).
   */
  readonly settleMs?: number;
  /** Backoff while the broker or database fails (default 250 ms doubling to 30 s, never giving up). */
  readonly backoff?: RetryPolicy;
  /**
   * How long `stop` waits for the batches in flight (default 10 000 ms); past it they are abandoned, their
   * claims roll back and their rows are published again later.
   */
  readonly stopTimeoutMs?: number;
  readonly logger?: Logger;
  readonly observer?: RelayObserver;
}

/** A running relay. */
export interface RunningRelay {
  /**
   * Lets the batches in flight finish (published and deleted), then resolves; past `stopTimeoutMs` it resolves
   * anyway and abandons them (their rows stay in the outbox).
   */
  stop(): Promise<void>;
}

/** Why an abandoned claim's publish gave up: makes the source roll the claim back. */
class RelayStoppedError extends Error {
  override readonly name = "RelayStoppedError";
}

/** Starts the relay's claim loops. */
export function startRelay(options: RelayOptions): RunningRelay {
  const logger = options.logger ?? silentLogger;
  const observer = options.observer ?? {};
  const batchSize = options.batchSize ?? 500;
  const backoff = options.backoff ?? { maxRetries: 0, baseDelayMs: 250, factor: 2, maxDelayMs: 30_000 };
  const stopTimeoutMs = options.stopTimeoutMs ?? 10_000;
  const stopping = new AbortController();
  const abandoning = new AbortController();
  let publishedTotal = 0;
  let inFlight = 0;

  async function publishAll(rows: readonly OutboxRecord[]): Promise<void> {
    const started = performance.now();
    // A publish hung on an unreachable broker must not hold its claim past the stop deadline.
    await untilAborted(
      options.publisher.publish(rows),
      abandoning.signal,
      () => new RelayStoppedError("relay stopped"),
    );
    publishedTotal += rows.length;
    observer.published?.(rows.length, (performance.now() - started) / 1000);
  }

  /**
   * Publishes `rows`; when the broker refuses the batch for what a message is, publishes it in halves, first
   * half settled before the second so a key's rows still go out in id order, until each refused row stands
   * alone. Returns those. Any other error is an outage and propagates: the whole claim rolls back.
   */
  async function publishSplitting(rows: readonly OutboxRecord[]): Promise<RejectedRow[]> {
    try {
      await publishAll(rows);
      return [];
    } catch (error) {
      if (!(error instanceof MessageRejectedError)) throw error;
      if (rows.length === 1) return [{ id: rows[0].id, reason: error.reason, error: error.message }];
      const topics = [...new Set(rows.map((row) => row.topic))];
      if (topics.length > 1) {
        // Topic by topic first (a key lives on one topic, so its order holds): a missing topic then costs one
        // refused publish for all its rows instead of one per row.
        const refused: RejectedRow[] = [];
        for (const topic of topics) {
          refused.push(...await publishSplitting(rows.filter((r) => r.topic === topic)));
        }
        return refused;
      }
      if (error.reason === "UNKNOWN_TOPIC_OR_PARTITION") {
        // Every row of a missing topic is refused alike: no need to find them one by one.
        return rows.map((row) => ({ id: row.id, reason: error.reason, error: error.message }));
      }
      const middle = Math.ceil(rows.length / 2);
      const first = await publishSplitting(rows.slice(0, middle));
      return [...first, ...await publishSplitting(rows.slice(middle))];
    }
  }

  // Reported only once the source committed the claim: a claim rolled back afterwards parked nothing.
  function reportParked(claimed: readonly OutboxRecord[], rejected: readonly RejectedRow[]): void {
    const byId = new Map(claimed.map((row) => [row.id, row]));
    const perReason = new Map<string, number>();
    for (const { id, reason, error } of rejected) {
      const row = byId.get(id);
      perReason.set(reason, (perReason.get(reason) ?? 0) + 1);
      logger.error("broker refused an event; parked in the outbox dead letters", {
        eventId: row?.headers["event-id"],
        key: row?.key,
        topic: row?.topic,
        reason,
        error,
        outboxId: id,
      });
    }
    for (const [reason, count] of perReason) observer.parked?.(count, reason);
  }

  async function drainOnce(): Promise<number> {
    let claimed: readonly OutboxRecord[] = [];
    let rejected: readonly RejectedRow[] = [];
    const count = await options.source.drain(batchSize, async (rows) => {
      claimed = rows;
      rejected = await publishSplitting(rows);
      return rejected;
    });
    if (rejected.length > 0) reportParked(claimed, rejected);
    return count;
  }

  async function loop(index: number): Promise<void> {
    let failures = 0;
    while (!stopping.signal.aborted) {
      inFlight++;
      try {
        const count = await drainOnce();
        if (failures > 0) logger.info("relay recovered", { loop: index, afterFailures: failures });
        failures = 0;
        observer.backoff?.(0);
        if (count === 0) {
          await options.source.waitForRows(options.pollIntervalMs ?? 1000, stopping.signal);
          if (options.settleMs) await sleep(options.settleMs, stopping.signal);
        }
      } catch (error) {
        if (abandoning.signal.aborted) return;
        failures++;
        const delayMs = backoffDelay(backoff, failures);
        observer.failed?.(error);
        observer.backoff?.(delayMs);
        logger.warn("relay batch failed; rows stay in the outbox", {
          loop: index,
          failures,
          delayMs,
          error: String(error),
        });
        await sleep(delayMs, stopping.signal);
      } finally {
        inFlight--;
      }
    }
  }

  const loops = Array.from({ length: options.concurrency ?? 4 }, (_, index) => loop(index));
  logger.info("relay started", { concurrency: loops.length, batchSize });
  return {
    async stop() {
      stopping.abort();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const finished = await Promise.race([
        Promise.all(loops).then(() => true),
        new Promise<false>((resolve) => timer = setTimeout(() => resolve(false), stopTimeoutMs)),
      ]);
      clearTimeout(timer);
      if (!finished) {
        logger.warn(
          "relay stop deadline passed; batches in flight abandoned, their rows stay in the outbox",
          {
            stopTimeoutMs,
            inFlight,
          },
        );
        abandoning.abort();
      }
      logger.info("relay stopped", { published: publishedTotal });
    },
  };
}
