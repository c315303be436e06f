/** LikeEvent: the seed's event on `interaction-events`, as the outbox records it. */
import { z } from "zod";
import {
  LikeAction,
  type LikeTarget,
  type LikeToggled,
  targetKey,
  targetTypes,
} from "../../domain/interaction/like.ts";
import { parseId } from "../../domain/shared/id.ts";
import { createEnvelope, type Envelope, type EventDefinition } from "../../outbox/envelope.ts";

const id = z.string().refine((value) => parseId(value) === value, "must be a positive 64-bit integer");

/** Payload schema: the seed's fields (eventId, eventType, timestamp, userId, videoId|commentId, action). */
const likePayload = z.object({
  eventId: z.uuid(),
  eventType: z.literal("Like"),
  timestamp: z.number().int(),
  userId: id,
  targetType: z.enum(targetTypes),
  targetId: id,
  videoId: id.optional(),
  commentId: id.optional(),
  action: z.union([z.literal(LikeAction.like), z.literal(LikeAction.unlike)]),
}).refine(
  (p) => (p.targetType === "video" ? p.videoId : p.commentId) === p.targetId,
  "videoId or commentId must match targetType and targetId",
);

/** The payload of a LikeEvent. */
export type LikePayload = z.infer<typeof likePayload>;

/** LikeEvent, version 1. */
export const likeEvent: EventDefinition<LikePayload> = {
  eventType: "LikeEvent",
  version: 1,
  payload: likePayload,
};

/** Wraps a domain fact in an envelope keyed by its target. */
export function likeEnvelope(fact: LikeToggled, headers: Record<string, string> = {}): Envelope<LikePayload> {
  const envelope = createEnvelope({
    eventType: likeEvent.eventType,
    version: likeEvent.version,
    aggregateType: fact.target.type,
    aggregateId: targetKey(fact.target),
    occurredAt: fact.at,
    headers,
    payload: undefined as unknown as LikePayload,
  });
  const payload: LikePayload = {
    eventId: envelope.eventId,
    eventType: "Like",
    timestamp: fact.at.getTime(),
    userId: fact.userId,
    targetType: fact.target.type,
    targetId: fact.target.id,
    ...(fact.target.type === "video" ? { videoId: fact.target.id } : { commentId: fact.target.id }),
    action: fact.action,
  };
  return { ...envelope, payload };
}

/** The target of a LikeEvent payload. */
export function targetOf(payload: LikePayload): LikeTarget {
  return { type: payload.targetType, id: payload.targetId };
}
