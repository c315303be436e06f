/** The relay: moves committed outbox rows to the broker, in order per key, with backoff when it is down. */
import type { Logger } from "../application/ports.ts";
import { silentLogger } from "../application/ports.ts";
import type { OutboxRecord, OutboxSource, Publisher } from "./ports.ts";
import { backoffDelay, type RetryPolicy, sleep } from "./retry.ts";

/** Counters the relay reports (wired to metrics by the composition root). */
export interface RelayObserver {
  published?(count: number, seconds: number): void;
  failed?(error: unknown): void;
  backoff?(delayMs: number): void;
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
  readonly logger?: Logger;
  readonly observer?: RelayObserver;
}

/** A running relay. */
export interface RunningRelay {
  /** Lets the batches in flight finish (published and deleted), then resolves. */
  stop(): Promise<void>;
}

/** Starts the relay's claim loops. */
export function startRelay(options: RelayOptions): RunningRelay {
  const logger = options.logger ?? silentLogger;
  const observer = options.observer ?? {};
  const batchSize = options.batchSize ?? 500;
  const backoff = options.backoff ?? { maxRetries: 0, baseDelayMs: 250, factor: 2, maxDelayMs: 30_000 };
  const stopping = new AbortController();
  let publishedTotal = 0;

  async function publish(rows: readonly OutboxRecord[]): Promise<void> {
    const started = performance.now();
    await options.publisher.publish(rows);
    publishedTotal += rows.length;
    observer.published?.(rows.length, (performance.now() - started) / 1000);
  }

  async function loop(index: number): Promise<void> {
    let failures = 0;
    while (!stopping.signal.aborted) {
      try {
        const count = await options.source.drain(batchSize, publish);
        if (failures > 0) logger.info("relay recovered", { loop: index, afterFailures: failures });
        failures = 0;
        observer.backoff?.(0);
        if (count === 0) {
          await options.source.waitForRows(options.pollIntervalMs ?? 1000, stopping.signal);
          if (options.settleMs) await sleep(options.settleMs, stopping.signal);
        }
      } catch (error) {
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
      }
    }
  }

  const loops = Array.from({ length: options.concurrency ?? 4 }, (_, index) => loop(index));
  logger.info("relay started", { concurrency: loops.length, batchSize });
  return {
    async stop() {
      stopping.abort();
      await Promise.all(loops);
      logger.info("relay stopped", { published: publishedTotal });
    },
  };
}
