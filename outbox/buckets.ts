/** Key buckets: the unit of publishing order. One relay loop at a time owns a bucket's rows. */

/** Default number of key buckets. */
export const defaultBucketCount = 64;

const encoder = new TextEncoder();

/** The bucket of a key: FNV-1a 32-bit hash modulo `count`, identical in every process and language. */
export function bucketOf(key: string, count = defaultBucketCount): number {
  let hash = 0x811c9dc5;
  for (const byte of encoder.encode(key)) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % count;
}

/** The Kafka headers an envelope travels with, besides its own trace headers. */
export function envelopeHeaders(
  envelope: {
    eventId: string;
    eventType: string;
    version: number;
    aggregateType: string;
    headers: Record<string, string>;
  },
): Record<string, string> {
  return {
    ...envelope.headers,
    "event-id": envelope.eventId,
    "event-type": envelope.eventType,
    "event-version": String(envelope.version),
    "aggregate-type": envelope.aggregateType,
  };
}
