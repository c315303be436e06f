/** Errors the platform classifies: what an event or a message is at fault for, as opposed to an outage. */

/**
 * The broker refused a message for what it is (too large, its topic missing, an invalid record): sending the
 * same message again cannot succeed. Publishers throw it only for such refusals, never for an outage.
 */
export class MessageRejectedError extends Error {
  override readonly name = "MessageRejectedError";

  /** `reason` is the broker's word for the refusal (e.g. MESSAGE_TOO_LARGE, UNKNOWN_TOPIC_OR_PARTITION). */
  constructor(readonly reason: string, message: string, options?: ErrorOptions) {
    super(message, options);
  }
}

/**
 * A handler's declared verdict that an event can never be applied (it breaks a rule of the context): the
 * consumer dead-letters it at once instead of retrying.
 */
export class PermanentEventError extends Error {
  override readonly name = "PermanentEventError";
}

/** An event too large to append to the outbox: refused at write time, so the write fails and nothing commits. */
export class EventTooLargeError extends Error {
  override readonly name = "EventTooLargeError";

  constructor(readonly eventType: string, readonly bytes: number, readonly maxBytes: number) {
    super(`${eventType} is ${bytes} bytes; events are limited to ${maxBytes} bytes (OUTBOX_MAX_EVENT_BYTES)`);
  }
}
