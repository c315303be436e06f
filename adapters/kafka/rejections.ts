/**
 * How the Kafka clients report a broker's refusal of a message, told apart from an outage: the relay parks a
 * refused row (MessageRejectedError) and retries anything else without end, so a wrong call either parks
 * healthy rows or stalls a key. What each client does was measured against Kafka 4.1.2 with the adapters'
 * retry settings (5 retries, 200 ms doubling); the times are from the publish call to its rejection.
 */
import { MessageRejectedError } from "../../outbox/errors.ts";
import type { TransportMessage } from "../../outbox/ports.ts";

/**
 * Error codes with which a broker refuses a message for what it is: too large, an invalid record, or an
 * invalid topic name. UNKNOWN_TOPIC_OR_PARTITION is not among them: brokers also answer it while metadata is
 * stale, so a missing topic is recognised separately, from metadata.
 */
const refusalCodes: ReadonlySet<string> = new Set([
  "MESSAGE_TOO_LARGE",
  "RECORD_LIST_TOO_LARGE",
  "INVALID_RECORD",
  "INVALID_TOPIC_EXCEPTION",
]);

type ErrorFields = Readonly<Record<string, unknown>>;

/**
 * `error` and every error nested in it, outermost first: kafkajs wraps the broker's error in `originalError`
 * (after its retries), @platformatic/kafka in `errors` (AggregateError) and `cause`.
 */
function* nestedErrors(error: unknown): Generator<ErrorFields> {
  const seen = new Set<unknown>();
  const queue: unknown[] = [error];
  while (queue.length > 0) {
    const next = queue.shift();
    if (typeof next !== "object" || next === null || seen.has(next)) continue;
    seen.add(next);
    const fields = next as ErrorFields;
    yield fields;
    queue.push(fields.originalError, fields.cause);
    if (Array.isArray(fields.errors)) queue.push(...fields.errors);
  }
}

/**
 * What a refusal means for the rest of a batch. The broker writes each partition of a request on its own, so
 * others may have been written: the caller publishes them one by one to find the refused one, which
 * at-least-once delivery allows.
 */
function batchNote(messages: readonly TransportMessage[]): string {
  return messages.length === 1
    ? "it was the only message of its batch"
    : `the other ${messages.length - 1} messages of its batch may have been sent`;
}

function topicsOf(messages: readonly TransportMessage[]): string[] {
  return [...new Set(messages.map((message) => message.topic))];
}

function refused(code: string, detail: string, messages: readonly TransportMessage[], cause: unknown) {
  return new MessageRejectedError(code, `${code}: ${detail}; ${batchNote(messages)}`, { cause });
}

function missingTopics(missing: readonly string[], messages: readonly TransportMessage[], cause: unknown) {
  const detail = `topic ${
    missing.join(", ")
  } does not exist (topics are created by the project, never implicitly)`;
  return refused("UNKNOWN_TOPIC_OR_PARTITION", detail, messages, cause);
}

/**
 * The MessageRejectedError a failed kafkajs send amounts to, or undefined for an outage. Measured: a message
 * over max.message.bytes fails at once (about 10 ms) with a KafkaJSProtocolError of type MESSAGE_TOO_LARGE,
 * not retriable, also when the records of one partition only add up to too much; an invalid topic name at
 * once, INVALID_TOPIC_EXCEPTION. A missing topic fails only after the retries, about 4.4 s alone in its batch
 * and 8.3 s beside a topic that exists, as a KafkaJSNumberOfRetriesExceeded whose originalError is a
 * retriable KafkaJSProtocolError UNKNOWN_TOPIC_OR_PARTITION: `listTopics` then confirms which topic is
 * missing, as that code also means stale metadata. A broker down gives KafkaJSNumberOfRetriesExceeded over a
 * KafkaJSConnectionError after about 10 s.
 */
export async function kafkajsRejection(
  error: unknown,
  messages: readonly TransportMessage[],
  listTopics: () => Promise<readonly string[]>,
): Promise<MessageRejectedError | undefined> {
  let unknownTopic = false;
  for (const nested of nestedErrors(error)) {
    if (typeof nested.type === "string" && refusalCodes.has(nested.type)) {
      return refused(
        nested.type,
        `publishing to ${topicsOf(messages).join(", ")}: ${nested.message}`,
        messages,
        error,
      );
    }
    if (nested.type === "UNKNOWN_TOPIC_OR_PARTITION") unknownTopic = true;
  }
  if (!unknownTopic) return undefined;
  let existing: Set<string>;
  try {
    existing = new Set(await listTopics());
  } catch {
    return undefined; // The cluster cannot say: an outage, retried.
  }
  const missing = topicsOf(messages).filter((topic) => !existing.has(topic));
  return missing.length > 0 ? missingTopics(missing, messages, error) : undefined;
}

/**
 * The MessageRejectedError a failed @platformatic/kafka send amounts to, or undefined for an outage.
 * Measured: a message over max.message.bytes fails at once (about 5 ms) with MultipleErrors "Producing
 * messages failed." over a ResponseError over a ProtocolError whose apiId is MESSAGE_TOO_LARGE (one per
 * refused partition); an invalid topic name at once, a ResponseError over a ProtocolError
 * INVALID_TOPIC_EXCEPTION. A missing topic fails after the client's metadata retries, about 5.0 s with or
 * without other topics in the batch, as a bare UserError (code PLT_KFK_USER) "Unknown topic <name>.": the
 * client raises it only when the metadata answers UNKNOWN_TOPIC_OR_PARTITION for the topic on every retry, so
 * it is taken as confirmed. A broker down gives MultipleErrors over NetworkError after about 5 s.
 */
export function platformaticRejection(
  error: unknown,
  messages: readonly TransportMessage[],
): MessageRejectedError | undefined {
  const topics = topicsOf(messages);
  for (const nested of nestedErrors(error)) {
    if (typeof nested.apiId === "string" && refusalCodes.has(nested.apiId)) {
      return refused(nested.apiId, `publishing to ${topics.join(", ")}: ${nested.message}`, messages, error);
    }
    if (nested.code === "PLT_KFK_USER") {
      const missing = topics.filter((topic) => nested.message === `Unknown topic ${topic}.`);
      if (missing.length > 0) return missingTopics(missing, messages, error);
    }
  }
  return undefined;
}
