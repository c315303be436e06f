/** Handlers by event type, and the three ways a group applies a batch: with the inbox, in a transaction, directly. */
import type { UnitOfWork } from "../application/ports.ts";
import type { Envelope } from "./envelope.ts";
import type { InboxStore } from "./ports.ts";

/**
 * The effect of a batch of events of one type, run in the group's transaction (with the inbox: the one that
 * records them as processed). It may return work to run once that transaction commits (a cache refresh); that
 * work is best effort.
 */
export type BatchHandler<Tx> = (events: readonly Envelope[], tx: Tx) => Promise<void | AfterCommit>;

/** Work to run once the effect's transaction has committed. */
export type AfterCommit = () => Promise<void>;

/** A group's handlers, keyed by the `eventType` of the envelopes they apply. */
export type HandlersByType<Tx> = Readonly<Record<string, BatchHandler<Tx>>>;

/** A transaction that can record processed events: what a group with the inbox needs. */
export interface InboxTx {
  readonly inbox: InboxStore;
}

/** What applying a batch did: how many events took effect (not duplicates), and what to run after commit. */
export interface AppliedBatch {
  readonly applied: number;
  readonly afterCommit: readonly AfterCommit[];
}

/** Applies events (distinct ids, all of types the group handles) in one go; throws when nothing took effect. */
export type ApplyBatch = (events: readonly Envelope[]) => Promise<AppliedBatch>;

/** Whether `handlers` has a handler of its own for `eventType` (not one inherited from Object's prototype). */
export function handlesType(handlers: object, eventType: string): boolean {
  return Object.hasOwn(handlers, eventType);
}

/** Calls each type's handler with its events in delivery order, types in order of first appearance. */
export async function dispatchByType<Tx>(
  handlers: HandlersByType<Tx>,
  events: readonly Envelope[],
  tx: Tx,
): Promise<AfterCommit[]> {
  const byType = new Map<string, Envelope[]>();
  for (const event of events) {
    const sameType = byType.get(event.eventType);
    if (sameType) sameType.push(event);
    else byType.set(event.eventType, [event]);
  }
  const afterCommit: AfterCommit[] = [];
  for (const [eventType, sameType] of byType) {
    // The runtime skips unhandled types before they get here; this only guards against Object's prototype.
    if (!handlesType(handlers, eventType)) continue;
    const after = await handlers[eventType](sameType, tx);
    if (after) afterCommit.push(after);
  }
  return afterCommit;
}

/** Exactly-once effect: claims the events in the inbox and applies the new ones, in one transaction. */
export function applyWithInbox<Tx extends InboxTx>(
  consumer: string,
  unitOfWork: UnitOfWork<Tx>,
  handlers: HandlersByType<Tx>,
): ApplyBatch {
  return (events) =>
    unitOfWork.inTransaction(async (tx) => {
      const fresh = await tx.inbox.claim(consumer, events.map((event) => event.eventId));
      const news = events.filter((event) => fresh.has(event.eventId));
      return {
        applied: news.length,
        afterCommit: news.length > 0 ? await dispatchByType(handlers, news, tx) : [],
      };
    });
}

/** Applies the events in one transaction without recording them: a redelivery applies them again. */
export function applyInTransaction<Tx>(unitOfWork: UnitOfWork<Tx>, handlers: HandlersByType<Tx>): ApplyBatch {
  return (events) =>
    unitOfWork.inTransaction(async (tx) => ({
      applied: events.length,
      afterCommit: await dispatchByType(handlers, events, tx),
    }));
}

/** Applies the events with no transaction (no database effect, e.g. a live push); after-commit work runs next. */
export function applyDirectly(handlers: HandlersByType<undefined>): ApplyBatch {
  return async (events) => ({
    applied: events.length,
    afterCommit: await dispatchByType(handlers, events, undefined),
  });
}
