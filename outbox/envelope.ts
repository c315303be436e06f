/** The event envelope every outbox row carries and every consumer receives. */
import { z } from "zod";
import { v7 as uuidv7 } from "uuid";

const headerValues = z.record(z.string(), z.string());

/** Schema of an envelope on the wire; consumers validate with it before a handler sees the event. */
export const envelopeSchema = z.object({
  eventId: z.uuid(),
  eventType: z.string().min(1).max(200),
  version: z.number().int().positive(),
  occurredAt: z.iso.datetime({ offset: true }),
  aggregateType: z.string().min(1).max(200),
  aggregateId: z.string().min(1).max(500),
  payload: z.unknown(),
  headers: headerValues.default({}),
});

/** An event in transit: identity, type and version, the aggregate it belongs to, payload and trace headers. */
export type Envelope<P = unknown> = Omit<z.infer<typeof envelopeSchema>, "payload"> & { payload: P };

/** What a use case supplies to record an event; the id and time are filled in. */
export interface NewEvent<P> {
  readonly eventType: string;
  readonly version?: number;
  readonly aggregateType: string;
  readonly aggregateId: string;
  readonly payload: P;
  readonly headers?: Readonly<Record<string, string>>;
  readonly occurredAt?: Date;
  readonly eventId?: string;
}

/** Builds an envelope with a fresh UUIDv7 (time-ordered) id. */
export function createEnvelope<P>(event: NewEvent<P>): Envelope<P> {
  return {
    eventId: event.eventId ?? uuidv7(),
    eventType: event.eventType,
    version: event.version ?? 1,
    occurredAt: (event.occurredAt ?? new Date()).toISOString(),
    aggregateType: event.aggregateType,
    aggregateId: event.aggregateId,
    payload: event.payload,
    headers: { ...event.headers },
  };
}

/** A typed event definition: its type name, schema version, and the payload schema consumers check. */
export interface EventDefinition<P> {
  readonly eventType: string;
  readonly version: number;
  readonly payload: z.ZodType<P>;
}

/** Error for a message that can never be processed, whatever the number of retries. */
export class PoisonMessageError extends Error {
  override readonly name = "PoisonMessageError";
}

/** Parses and validates raw message bytes into an envelope; throws PoisonMessageError on bad input. */
export function decodeEnvelope(value: Uint8Array | string | null): Envelope {
  if (value === null) throw new PoisonMessageError("message has no value");
  const text = typeof value === "string" ? value : new TextDecoder().decode(value);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new PoisonMessageError(`message value is not JSON: ${(error as Error).message}`);
  }
  const parsed = envelopeSchema.safeParse(json);
  if (!parsed.success) throw new PoisonMessageError(`invalid envelope: ${z.prettifyError(parsed.error)}`);
  // The inbox stores uuids, which PostgreSQL returns in lower case: ids are compared in that form.
  return { ...parsed.data, eventId: parsed.data.eventId.toLowerCase() };
}

/** Narrows an envelope's payload with an event definition; throws PoisonMessageError when it does not fit. */
export function payloadOf<P>(envelope: Envelope, definition: EventDefinition<P>): P {
  const parsed = definition.payload.safeParse(envelope.payload);
  if (!parsed.success) {
    throw new PoisonMessageError(
      `invalid ${definition.eventType} payload: ${z.prettifyError(parsed.error)}`,
    );
  }
  return parsed.data;
}
