/** Telling an outage from an event's fault, and the pause an outage puts a consumer group in. */
import { PoisonMessageError } from "./envelope.ts";
import { MessageRejectedError, PermanentEventError } from "./errors.ts";

/** Errors the event itself is at fault for (undecodable, invalid, refused by its handler): dead-lettered at once. */
export function isEventFault(error: unknown): boolean {
  return error instanceof PoisonMessageError || error instanceof PermanentEventError;
}

/**
 * A short, log-safe class of an error: its code (SQLSTATE, errno, broker reason) or its name. Never its message,
 * which may name hosts, roles or data. Looks through `cause` so a wrapped database error keeps its SQLSTATE.
 */
export function errorClass(error: unknown): string {
  let current = error;
  for (let depth = 0; current instanceof Error && depth < 5; depth++) {
    if (current instanceof MessageRejectedError && isShortWord(current.reason)) return current.reason;
    if ("code" in current && typeof current.code === "string" && isShortWord(current.code)) {
      return current.code;
    }
    current = current.cause;
  }
  if (error instanceof Error && isShortWord(error.name)) return error.name;
  return "unknown";
}

function isShortWord(text: string): boolean {
  return /^[A-Za-z0-9_.:-]{1,64}$/.test(text);
}

/** What a consumer group reports about itself. */
export interface ConsumerStatus {
  readonly group: string;
  /** True while work waits on an outage (retried without limit; nothing is dead-lettered meanwhile). */
  readonly paused: boolean;
  /** When the pause began. */
  readonly since?: Date;
  /** The class of the error that keeps it paused (a SQLSTATE, an error code or name; never a message). */
  readonly reason?: string;
}

/**
 * Tracks the pieces of work stalled on an outage (a batch, a dead letter to publish). Several partitions may be
 * in flight at once: the group is paused while any of them is stalled, and resumes when none is.
 */
export class PauseTracker {
  readonly #group: string;
  readonly #onChange: (paused: boolean, reason: string) => void;
  readonly #stalled = new Map<object, { readonly since: Date; reason: string }>();

  /** `onChange` is told when the group becomes paused (with the reason) and when it resumes. */
  constructor(group: string, onChange: (paused: boolean, reason: string) => void) {
    this.#group = group;
    this.#onChange = onChange;
  }

  /** True while some work is stalled on an outage. */
  get paused(): boolean {
    return this.#stalled.size > 0;
  }

  /** Records that `work` failed on an outage; the first stalled work pauses the group. */
  stalled(work: object, error: unknown): void {
    const reason = errorClass(error);
    const known = this.#stalled.get(work);
    if (known) {
      known.reason = reason;
      return;
    }
    this.#stalled.set(work, { since: new Date(), reason });
    if (this.#stalled.size === 1) this.#onChange(true, reason);
  }

  /** Records that `work` got through (or failed for a reason of its own); the last one resumes the group. */
  resumed(work: object): void {
    const known = this.#stalled.get(work);
    if (!known) return;
    this.#stalled.delete(work);
    if (this.#stalled.size === 0) this.#onChange(false, known.reason);
  }

  /** The group's state: since the oldest stall, for the reason of that stall's latest failure. */
  status(): ConsumerStatus {
    let oldest: { readonly since: Date; reason: string } | undefined;
    for (const stall of this.#stalled.values()) {
      if (!oldest || stall.since < oldest.since) oldest = stall;
    }
    return oldest
      ? { group: this.#group, paused: true, since: oldest.since, reason: oldest.reason }
      : { group: this.#group, paused: false };
  }
}
