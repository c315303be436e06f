/** Dead-letter topic: where a message goes when its retries are spent. */
import type { Publisher, ReceivedMessage } from "./ports.ts";

/** The dead-letter topic of `topic`. */
export function deadLetterTopic(topic: string): string {
  return `${topic}.dlq`;
}

/** Why and where a message failed. */
export interface DeadLetterReason {
  readonly consumer: string;
  readonly error: unknown;
  readonly attempts: number;
  readonly failedAt: Date;
}

/** Publishes the original message unchanged (key, value, headers) to `<topic>.dlq`, the failure in headers. */
export async function sendToDeadLetter(
  publisher: Publisher,
  message: ReceivedMessage,
  reason: DeadLetterReason,
): Promise<void> {
  const error = reason.error instanceof Error ? reason.error : new Error(String(reason.error));
  await publisher.publish([{
    topic: deadLetterTopic(message.topic),
    key: message.key,
    value: message.value,
    headers: {
      ...message.headers,
      "dlq-error": error.message.slice(0, 4000),
      "dlq-error-type": error.name,
      "dlq-consumer": reason.consumer,
      "dlq-attempts": String(reason.attempts),
      "dlq-original-topic": message.topic,
      "dlq-original-partition": String(message.partition),
      "dlq-original-offset": message.offset,
      "dlq-failed-at": reason.failedAt.toISOString(),
    },
  }]);
}
