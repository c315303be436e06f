/**
 * What a consumer does when applying events fails: an event's own fault is retried, then its batch is split and
 * only that event dead-lettered; an outage pauses the group and is retried without limit, never dead-lettered.
 */
import type { Logger } from "../application/ports.ts";
import { sendToDeadLetter } from "./dead_letter.ts";
import type { Envelope } from "./envelope.ts";
import { isEventFault, type PauseTracker } from "./outage.ts";
import type { Publisher, ReceivedMessage } from "./ports.ts";
import { type RetryOutcome, type RetryPolicy, withRetries } from "./retry.ts";

/** Thrown instead of finishing work once the consumer is stopping: its messages are redelivered. */
export class StoppingError extends Error {
  override readonly name = "StoppingError";
}

/** A delivered message and its decoded envelope. */
export interface Item {
  readonly message: ReceivedMessage;
  readonly envelope: Envelope;
}

/** Options of a FailurePolicy. */
export interface FailurePolicyOptions {
  readonly group: string;
  /** One attempt at applying items (in one transaction); retried by the policy. */
  readonly applyOnce: (items: readonly Item[]) => Promise<void>;
  readonly retry: RetryPolicy;
  /** Outages of a dependency (from its adapter); an event's fault (poison, permanent) never counts as one. */
  readonly isInfrastructure?: (error: unknown) => boolean;
  readonly deadLetters: Publisher;
  readonly pause: PauseTracker;
  /** Aborted when the consumer stops: retry waits end and the work throws StoppingError. */
  readonly stopping: AbortSignal;
  readonly logger: Logger;
  readonly observer: {
    retried?(group: string): void;
    failed?(group: string): void;
    deadLettered?(group: string, topic: string): void;
  };
}

/** Runs a consumer's work under the platform's failure rules; handlers know nothing of them. */
export class FailurePolicy {
  readonly #options: FailurePolicyOptions;

  constructor(options: FailurePolicyOptions) {
    this.#options = options;
  }

  /**
   * Applies items, retrying. An outage is retried without limit (the group is paused meanwhile); any other
   * failure `retry.maxRetries` times, then a batch is split and a single event dead-lettered. Throws
   * StoppingError when the consumer stops first.
   */
  async apply(items: readonly Item[], heartbeat?: () => Promise<void>): Promise<void> {
    const { group, observer, stopping } = this.#options;
    if (stopping.aborted) throw new StoppingError("consumer is stopping");
    const outcome = await this.#retrying(() => this.#options.applyOnce(items), {
      isOutage: (error) => !isEventFault(error) && (this.#options.isInfrastructure?.(error) ?? false),
      heartbeat,
      fields: { events: items.length, eventId: items.length === 1 ? items[0].envelope.eventId : undefined },
    });
    if (outcome.ok) return;
    // An outage ends its retries only when stopping: it never reaches the split or the dead letters.
    if (stopping.aborted) throw new StoppingError("consumer is stopping");
    observer.failed?.(group);
    if (items.length > 1) {
      for (const item of items) await this.apply([item], heartbeat);
      return;
    }
    await this.deadLetter(items[0].message, outcome.error, outcome.attempts, heartbeat);
  }

  /** Parks a message on `<topic>.dlq`; a broker that cannot take it is an outage, retried until it can. */
  async deadLetter(
    message: ReceivedMessage,
    error: unknown,
    attempts: number,
    heartbeat?: () => Promise<void>,
  ): Promise<void> {
    const { group, logger, observer } = this.#options;
    const fields = {
      topic: message.topic,
      partition: message.partition,
      offset: message.offset,
      key: message.key,
      eventId: message.headers["event-id"],
    };
    logger.error("event dead-lettered", { group, ...fields, attempts, error: String(error) });
    const failedAt = new Date();
    const sent = await this.#retrying(
      () =>
        sendToDeadLetter(this.#options.deadLetters, message, { consumer: group, error, attempts, failedAt }),
      { isOutage: () => true, heartbeat, fields: { ...fields, deadLetter: true } },
    );
    if (!sent.ok) throw new StoppingError("consumer is stopping");
    observer.deadLettered?.(group, message.topic);
  }

  /** Runs work under the retry policy; each outage failure keeps the group paused until the work gets through. */
  async #retrying<T>(
    work: () => Promise<T>,
    how: {
      readonly isOutage: (error: unknown) => boolean;
      readonly heartbeat?: () => Promise<void>;
      readonly fields: Readonly<Record<string, unknown>>;
    },
  ): Promise<RetryOutcome<T>> {
    const { group, logger, observer, pause, stopping } = this.#options;
    const stall = {};
    const outcome = await withRetries(this.#options.retry, work, {
      isPermanent: isEventFault,
      isInfrastructure: how.isOutage,
      signal: stopping,
      onRetry: (error, attempt, delayMs, outage) => {
        if (outage) pause.stalled(stall, error);
        else pause.resumed(stall);
        observer.retried?.(group);
        logger.warn(outage ? "dependency unavailable, retrying" : "event processing failed, retrying", {
          group,
          ...how.fields,
          attempt,
          delayMs,
          error: String(error),
        });
        how.heartbeat?.().catch(() => {});
      },
    });
    // Stopped while stalled: still paused, since nothing got through.
    if (outcome.ok || !stopping.aborted) pause.resumed(stall);
    return outcome;
  }
}
