/** Consumer runtime: inbox dedupe, retries with backoff, dead-letter, offsets committed after effects. */
import type { Logger, UnitOfWork } from "../application/ports.ts";
import { silentLogger } from "../application/ports.ts";
import { BatchProcessor } from "./batch_processor.ts";
import { sendToDeadLetter } from "./dead_letter.ts";
import { decodeEnvelope, type Envelope, PoisonMessageError } from "./envelope.ts";
import type {
  InboxStore,
  PartitionBatch,
  Position,
  Publisher,
  ReceivedMessage,
  Subscriber,
  Subscription,
} from "./ports.ts";
import { type RetryPolicy, withRetries } from "./retry.ts";

/**
 * The effect of a batch of new (never applied) events, run in the transaction that records them in the inbox.
 * It may return work to run after that transaction commits (a cache refresh); that work is best effort.
 */
export type BatchHandler<Tx> = (events: readonly Envelope[], tx: Tx) => Promise<void | AfterCommit>;

/** Work to run once the effect's transaction has committed. */
export type AfterCommit = () => Promise<void>;

/** Counters a consumer reports (wired to metrics by the composition root). */
export interface ConsumerObserver {
  processed?(group: string, count: number): void;
  duplicates?(group: string, count: number): void;
  retried?(group: string): void;
  failed?(group: string): void;
  deadLettered?(group: string, topic: string): void;
  flushed?(group: string, size: number, seconds: number): void;
}

/** How a consumer group runs. */
export interface ConsumerOptions<Tx extends { readonly inbox: InboxStore }> {
  /** Consumer group id; also the consumer name in the inbox. */
  readonly group: string;
  readonly topics: readonly string[];
  readonly handle: BatchHandler<Tx>;
  readonly subscriber: Subscriber;
  readonly unitOfWork: UnitOfWork<Tx>;
  /** Publishes dead letters to `<topic>.dlq`. */
  readonly deadLetters: Publisher;
  readonly retry: RetryPolicy;
  /** When set, events are applied in batches (the seed's BatchProcessor); otherwise one at a time. */
  readonly batch?: {
    readonly maxSize: number;
    readonly flushEveryMs: number;
    /**
     * Also flush as soon as a delivered batch is buffered, group-commit style (one write at a time; what arrives
     * meanwhile goes into the next): when idle an event is applied at once instead of waiting for the timer,
     * under load batches grow by themselves (default false: the seed's rule).
     */
    readonly flushOnDelivery?: boolean;
  };
  /** Infrastructure errors (database unreachable): retried without limit instead of dead-lettering. */
  readonly isTransient?: (error: unknown) => boolean;
  readonly logger?: Logger;
  readonly observer?: ConsumerObserver;
  /** How long `stop` waits for the last batch before giving up on it (default 10 000 ms). */
  readonly stopTimeoutMs?: number;
}

/** A running consumer. */
export interface RunningConsumer {
  /** Finishes the work in flight, commits its offsets, and leaves the group. */
  stop(): Promise<void>;
}

interface Item {
  readonly message: ReceivedMessage;
  readonly envelope: Envelope;
}

class StoppingError extends Error {
  override readonly name = "StoppingError";
}

/** Starts a consumer group member that applies each event's effect exactly once. */
export async function startConsumer<Tx extends { readonly inbox: InboxStore }>(
  options: ConsumerOptions<Tx>,
): Promise<RunningConsumer> {
  const logger = options.logger ?? silentLogger;
  const observer = options.observer ?? {};
  const { group } = options;
  const stopping = new AbortController();
  // Aborted only when stop's deadline passes: then a commit stuck on an unreachable broker is abandoned.
  const givingUp = new AbortController();
  let closing = false;
  let subscription: Subscription | undefined;
  // A flush may retry for long (database down): it keeps the group membership alive with the latest heartbeat.
  let lastHeartbeat: (() => Promise<void>) | undefined;

  async function deadLetter(message: ReceivedMessage, error: unknown, attempts: number): Promise<void> {
    logger.error("event dead-lettered", {
      group,
      topic: message.topic,
      partition: message.partition,
      offset: message.offset,
      key: message.key,
      eventId: message.headers["event-id"],
      attempts,
      error: String(error),
    });
    await sendToDeadLetter(options.deadLetters, message, {
      consumer: group,
      error,
      attempts,
      failedAt: new Date(),
    });
    observer.deadLettered?.(group, message.topic);
  }

  async function applyOnce(items: readonly Item[]): Promise<void> {
    const unique = new Map<string, Envelope>();
    for (const { envelope } of items) {
      if (!unique.has(envelope.eventId)) unique.set(envelope.eventId, envelope);
    }
    const started = performance.now();
    const { applied, afterCommit } = await options.unitOfWork.inTransaction(async (tx) => {
      const fresh = await tx.inbox.claim(group, [...unique.keys()]);
      const events = [...unique.values()].filter((event) => fresh.has(event.eventId));
      const afterCommit = events.length > 0 ? await options.handle(events, tx) : undefined;
      return { applied: events.length, afterCommit };
    });
    if (afterCommit) {
      await afterCommit().catch((error) =>
        logger.warn("after-commit work failed", { group, error: String(error) })
      );
    }
    observer.processed?.(group, applied);
    if (items.length > applied) observer.duplicates?.(group, items.length - applied);
    if (options.batch) observer.flushed?.(group, items.length, (performance.now() - started) / 1000);
  }

  /** Applies items with retries; a batch that keeps failing is split so only the poison is dead-lettered. */
  async function apply(items: readonly Item[], heartbeat?: () => Promise<void>): Promise<void> {
    const outcome = await withRetries(options.retry, () => applyOnce(items), {
      isPermanent: (error) => error instanceof PoisonMessageError,
      isTransient: options.isTransient,
      signal: stopping.signal,
      onRetry: (error, attempt, delayMs) => {
        observer.retried?.(group);
        logger.warn("event processing failed, retrying", {
          group,
          events: items.length,
          eventId: items.length === 1 ? items[0].envelope.eventId : undefined,
          attempt,
          delayMs,
          error: String(error),
        });
        heartbeat?.().catch(() => {});
      },
    });
    if (outcome.ok) return;
    if (stopping.signal.aborted) throw new StoppingError("consumer is stopping");
    observer.failed?.(group);
    if (items.length > 1) {
      for (const item of items) await apply([item], heartbeat);
      return;
    }
    await deadLetter(items[0].message, outcome.error, outcome.attempts);
  }

  /** Decodes a message; an undecodable one goes straight to the dead-letter topic. */
  async function decode(message: ReceivedMessage): Promise<Item | undefined> {
    try {
      return { message, envelope: decodeEnvelope(message.value) };
    } catch (error) {
      observer.failed?.(group);
      await deadLetter(message, error, 1);
      return undefined;
    }
  }

  function nextPositions(messages: readonly ReceivedMessage[]): Position[] {
    const last = new Map<string, Position>();
    for (const message of messages) {
      last.set(`${message.topic}\u0000${message.partition}`, {
        topic: message.topic,
        partition: message.partition,
        offset: (BigInt(message.offset) + 1n).toString(),
      });
    }
    return [...last.values()];
  }

  async function commit(positions: readonly Position[]): Promise<void> {
    if (positions.length === 0 || !subscription) return;
    try {
      // Past stop's deadline a commit stuck on an unreachable broker is abandoned (redelivery is safe).
      await untilAborted(subscription.commit(positions), givingUp.signal);
    } catch (error) {
      // A lost commit only means a redelivery, which the inbox absorbs.
      logger.warn("offset commit failed; events will be redelivered and deduplicated", {
        group,
        error: String(error),
      });
    }
  }

  const processor = options.batch
    ? new BatchProcessor<{ message: ReceivedMessage; item?: Item }>({
      maxSize: options.batch.maxSize,
      flushEveryMs: options.batch.flushEveryMs,
      write: async (entries) => {
        const items = entries.flatMap((entry) => entry.item ? [entry.item] : []);
        if (items.length > 0) await apply(items, lastHeartbeat);
        await commit(nextPositions(entries.map((entry) => entry.message)));
      },
      onTimerError: (error) => {
        if (!(error instanceof StoppingError)) {
          logger.error("batch flush failed", { group, error: String(error) });
        }
      },
    })
    : undefined;

  async function onBatch(batch: PartitionBatch, member: Subscription): Promise<void> {
    subscription = member;
    lastHeartbeat = batch.heartbeat;
    const handled: ReceivedMessage[] = [];
    for (const message of batch.messages) {
      if (closing) break;
      const item = await decode(message);
      if (processor) {
        await processor.add({ message, item });
        continue;
      }
      try {
        if (item) await apply([item], batch.heartbeat);
      } catch (error) {
        if (error instanceof StoppingError) break;
        throw error;
      }
      handled.push(message);
    }
    if (!processor) await commit(nextPositions(handled));
    else if (options.batch?.flushOnDelivery && !closing) processor.kick();
  }

  subscription = await options.subscriber.subscribe({ group, topics: options.topics, onBatch });
  processor?.start();
  logger.info("consumer started", { group, topics: options.topics, batched: Boolean(options.batch) });

  return {
    async stop() {
      closing = true;
      if (processor) {
        // The final flush gets a deadline: with the database down it would otherwise retry forever.
        const deadline = setTimeout(() => {
          stopping.abort();
          givingUp.abort();
        }, options.stopTimeoutMs ?? 10_000);
        try {
          await processor.stop();
        } catch (error) {
          logger.warn("final flush failed; events will be redelivered", { group, error: String(error) });
        } finally {
          clearTimeout(deadline);
        }
      }
      stopping.abort();
      const leaving = subscription?.close().catch((error) =>
        logger.warn("leaving the group failed", { group, error: String(error) })
      );
      // Leaving the group is bounded too: with the broker gone it would retry for minutes.
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        leaving,
        new Promise((resolve) =>
          timer = setTimeout(() => {
            givingUp.abort();
            resolve(undefined);
          }, options.stopTimeoutMs ?? 10_000)
        ),
      ]);
      clearTimeout(timer);
      logger.info("consumer stopped", { group });
    },
  };
}

/** Resolves with `promise`, or rejects once `signal` aborts. */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(new StoppingError("consumer stopped"));
  return new Promise<T>((resolve, reject) => {
    const abort = () => reject(new StoppingError("consumer stopped"));
    signal.addEventListener("abort", abort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", abort));
  });
}
