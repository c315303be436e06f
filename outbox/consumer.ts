/**
 * Consumer runtime: handlers by event type, inbox dedupe, retries with backoff, dead letters for an event's own
 * fault, a pause (never a dead letter) on an outage, offsets committed only after the effects.
 */
import type { Logger, UnitOfWork } from "../application/ports.ts";
import { silentLogger } from "../application/ports.ts";
import { BatchProcessor } from "./batch_processor.ts";
import {
  type ApplyBatch,
  applyDirectly,
  applyInTransaction,
  applyWithInbox,
  type BatchHandler,
  handlesType,
  type InboxTx,
} from "./dispatch.ts";
import { decodeEnvelope, type Envelope } from "./envelope.ts";
import { FailurePolicy, type Item, StoppingError } from "./failure_policy.ts";
import { type ConsumerStatus, PauseTracker } from "./outage.ts";
import type {
  PartitionBatch,
  Position,
  Publisher,
  ReceivedMessage,
  Subscriber,
  Subscription,
} from "./ports.ts";
import { type RetryPolicy, untilAborted } from "./retry.ts";

export type { AfterCommit, BatchHandler, InboxTx } from "./dispatch.ts";
export type { ConsumerStatus } from "./outage.ts";

/** Counters a consumer reports (wired to metrics by the composition root). */
export interface ConsumerObserver {
  processed?(group: string, count: number): void;
  duplicates?(group: string, count: number): void;
  retried?(group: string): void;
  failed?(group: string): void;
  deadLettered?(group: string, topic: string): void;
  flushed?(group: string, size: number, seconds: number): void;
  /** Events of a type the group has no handler for: committed without effect, never dead-lettered. */
  skipped?(group: string, eventType: string, count: number): void;
  /** True when an outage starts a pause (events wait, none is dead-lettered), false once work gets through. */
  paused?(group: string, paused: boolean): void;
}

/** What every consumer group sets, whatever its effect. */
export interface ConsumerSettings {
  /** Consumer group id; also the consumer name in the inbox. */
  readonly group: string;
  readonly topics: readonly string[];
  readonly subscriber: Subscriber;
  /** Publishes dead letters to `<topic>.dlq`. */
  readonly deadLetters: Publisher;
  /** Retries of an event's failure (then split and dead-letter); its maxDelayMs also caps outage retries. */
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
  /**
   * Outages of a dependency (database unreachable or read-only, a table missing), supplied by its adapter:
   * retried without limit while the group reports itself paused; never split, never dead-lettered.
   */
  readonly isInfrastructure?: (error: unknown) => boolean;
  readonly logger?: Logger;
  readonly observer?: ConsumerObserver;
  /** Bound on `stop` (default 10 000 ms); past it the work in flight is abandoned, to be redelivered. */
  readonly stopTimeoutMs?: number;
}

/** A group whose effect is deduplicated by the inbox, recorded in the effect's transaction (exactly once). */
export interface InboxConsumerOptions<Tx extends InboxTx> extends ConsumerSettings {
  readonly inbox: true;
  readonly unitOfWork: UnitOfWork<Tx>;
  readonly handlers: Readonly<Record<string, BatchHandler<Tx>>>;
}

/** A group without the inbox whose handlers share a transaction; a redelivery applies an event again. */
export interface TransactionalConsumerOptions<Tx> extends ConsumerSettings {
  readonly inbox: false;
  readonly unitOfWork: UnitOfWork<Tx>;
  readonly handlers: Readonly<Record<string, BatchHandler<Tx>>>;
}

/** A group with no database effect (a live push): handlers get no transaction and must bear a redelivery. */
export interface DirectConsumerOptions extends ConsumerSettings {
  readonly inbox: false;
  readonly unitOfWork?: undefined;
  readonly handlers: Readonly<Record<string, BatchHandler<undefined>>>;
}

/** How a consumer group runs; `Tx` is its unit of work's transaction (`undefined`: no unit of work). */
export type ConsumerOptions<Tx = undefined> =
  | InboxConsumerOptions<Tx & InboxTx>
  | ([Tx] extends [undefined] ? DirectConsumerOptions : TransactionalConsumerOptions<Tx>);

/** A running consumer. */
export interface RunningConsumer {
  /** Finishes the work in flight, commits its offsets and leaves the group, within `stopTimeoutMs`. */
  stop(): Promise<void>;
  /** Whether the group is paused on an outage, since when, and the class of the error. */
  status(): ConsumerStatus;
}

/** Starts a consumer group member that applies each event's effect by its type (with the inbox: once). */
export function startConsumer<Tx = undefined>(options: ConsumerOptions<Tx>): Promise<RunningConsumer> {
  return runConsumer(options, applierOf<Tx>(options));
}

function applierOf<Tx>(
  options: InboxConsumerOptions<Tx & InboxTx> | TransactionalConsumerOptions<Tx> | DirectConsumerOptions,
): ApplyBatch {
  if (options.inbox) return applyWithInbox(options.group, options.unitOfWork, options.handlers);
  if (options.unitOfWork) return applyInTransaction(options.unitOfWork, options.handlers);
  return applyDirectly(options.handlers);
}

/** The options the runtime needs once the effect is bound. */
interface GroupOptions extends ConsumerSettings {
  readonly inbox: boolean;
  readonly unitOfWork?: object;
  readonly handlers: object;
}

async function runConsumer(options: GroupOptions, applyBatch: ApplyBatch): Promise<RunningConsumer> {
  const logger = options.logger ?? silentLogger;
  const observer = options.observer ?? {};
  const { group } = options;
  const stopTimeoutMs = options.stopTimeoutMs ?? 10_000;
  // Ends retry waits: at once when stopping one by one or paused, after the final flush when batched.
  const stopping = new AbortController();
  // Aborted only when stop's deadline passes: the work in flight is abandoned (redelivered, deduplicated).
  const givingUp = new AbortController();
  let closing = false;
  let subscription: Subscription | undefined;
  // A flush may retry for long (database down): it keeps the group membership alive with the latest heartbeat.
  let lastHeartbeat: (() => Promise<void>) | undefined;
  const pause = new PauseTracker(group, (paused, reason) => {
    observer.paused?.(group, paused);
    if (!paused) return logger.info("consumer resumed", { group });
    logger.warn("consumer paused: a dependency is unavailable; events wait, none is dead-lettered", {
      group,
      reason,
    });
    // An outage does not end on cue: a stop does not wait for it, the events are redelivered.
    if (closing) stopping.abort();
  });

  async function applyOnce(items: readonly Item[]): Promise<void> {
    const unique = new Map<string, Envelope>();
    for (const { envelope } of items) {
      if (!unique.has(envelope.eventId)) unique.set(envelope.eventId, envelope);
    }
    const started = performance.now();
    const { applied, afterCommit } = await applyBatch([...unique.values()]);
    for (const work of afterCommit) {
      await work().catch((error) => logger.warn("after-commit work failed", { group, error: String(error) }));
    }
    observer.processed?.(group, applied);
    if (items.length > applied) observer.duplicates?.(group, items.length - applied);
    if (options.batch) observer.flushed?.(group, items.length, (performance.now() - started) / 1000);
  }

  const failures = new FailurePolicy({
    group,
    applyOnce,
    retry: options.retry,
    isInfrastructure: options.isInfrastructure,
    deadLetters: options.deadLetters,
    pause,
    stopping: stopping.signal,
    logger,
    observer,
  });

  /** Decodes a message; an undecodable one goes straight to the dead-letter topic (undefined then). */
  async function decode(message: ReceivedMessage, heartbeat: () => Promise<void>): Promise<Item | undefined> {
    let envelope: Envelope;
    try {
      envelope = decodeEnvelope(message.value);
    } catch (error) {
      observer.failed?.(group);
      await failures.deadLetter(message, error, 1, heartbeat);
      return undefined;
    }
    return { message, envelope };
  }

  async function commit(positions: readonly Position[]): Promise<void> {
    // Past stop's deadline the member is gone: the abandoned work is redelivered from the last commit.
    if (positions.length === 0 || !subscription || givingUp.signal.aborted) return;
    try {
      await untilAborted(
        subscription.commit(positions),
        givingUp.signal,
        () => new StoppingError("consumer stopped"),
      );
    } catch (error) {
      // A lost commit only means a redelivery, which the inbox absorbs.
      if (error instanceof StoppingError) return;
      logger.warn("offset commit failed; events will be redelivered", { group, error: String(error) });
    }
  }

  // An entry without item was dead-lettered or skipped: its offset is committed with the rest.
  const processor = options.batch
    ? new BatchProcessor<{ message: ReceivedMessage; item?: Item }>({
      maxSize: options.batch.maxSize,
      flushEveryMs: options.batch.flushEveryMs,
      write: async (entries) => {
        const items = entries.flatMap((entry) => entry.item ? [entry.item] : []);
        if (items.length > 0) await failures.apply(items, lastHeartbeat);
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
    const skipped = new Map<string, number>();
    try {
      for (const message of batch.messages) {
        if (closing) break;
        let item = await decode(message, batch.heartbeat);
        if (item && !handlesType(options.handlers, item.envelope.eventType)) {
          skipped.set(item.envelope.eventType, (skipped.get(item.envelope.eventType) ?? 0) + 1);
          item = undefined;
        }
        if (processor) {
          await processor.add({ message, item });
          continue;
        }
        if (item) await failures.apply([item], batch.heartbeat);
        handled.push(message);
      }
    } catch (error) {
      if (!(error instanceof StoppingError)) throw error;
    } finally {
      for (const [eventType, count] of skipped) {
        logger.debug("events without a handler skipped", { group, eventType, count });
        observer.skipped?.(group, eventType, count);
      }
    }
    if (!processor) await commit(nextPositions(handled));
    else if (options.batch?.flushOnDelivery && !closing) processor.kick();
  }

  let leaving: Promise<void> | undefined;
  function leave(): Promise<void> {
    leaving ??= (subscription?.close() ?? Promise.resolve()).catch((error) =>
      logger.warn("leaving the group failed", { group, error: String(error) })
    );
    return leaving;
  }

  async function finish(): Promise<void> {
    if (processor) {
      try {
        await processor.stop();
      } catch (error) {
        if (!(error instanceof StoppingError)) {
          logger.warn("final flush failed; events will be redelivered", { group, error: String(error) });
        }
      }
    }
    stopping.abort();
    await leave();
  }

  async function stop(): Promise<void> {
    closing = true;
    // One by one, only the attempt in flight is finished; batched, the final flush may still retry, unless the
    // group is paused: an outage does not end on cue.
    if (!processor || pause.paused) stopping.abort();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<"late">((resolve) =>
      timer = setTimeout(() => resolve("late"), stopTimeoutMs)
    );
    const outcome = await Promise.race([finish(), deadline]);
    clearTimeout(timer);
    if (outcome === "late") {
      stopping.abort();
      givingUp.abort();
      leave();
      logger.warn("stop deadline passed; the work in flight is abandoned and will be redelivered", {
        group,
        stopTimeoutMs,
      });
    }
    logger.info("consumer stopped", { group });
  }

  subscription = await options.subscriber.subscribe({ group, topics: options.topics, onBatch });
  processor?.start();
  logger.info(options.inbox ? "consumer started with the inbox" : "consumer started without an inbox", {
    group,
    topics: options.topics,
    eventTypes: Object.keys(options.handlers),
    inbox: options.inbox,
    transaction: options.unitOfWork !== undefined,
    batched: Boolean(options.batch),
  });

  let stopped: Promise<void> | undefined;
  return {
    stop: () => stopped ??= stop(),
    status: () => pause.status(),
  };
}

/** The position after the last message of each partition. */
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
