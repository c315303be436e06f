/**
 * Kafka on the wire, for tests of what a producer really does: the Produce requests this process writes to the
 * broker's socket (acks, topic), and the record batches the broker stored (producer id, sequence numbers).
 */
import assert from "node:assert/strict";
import net from "node:net";
import { Kafka, logLevel } from "kafkajs";
import { env, uniqueId } from "./helpers.ts";

/** The API key of Kafka's Produce request. */
const produceKey = 0;

/** What the test reads of a Produce request: its version, the acknowledgement it asks for, its first topic. */
export interface ProduceRequest {
  readonly version: number;
  readonly acks: number;
  readonly topic: string | null;
}

/** Reads Kafka's protocol primitives from one request frame (size prefix removed). */
class FrameReader {
  #at = 0;
  readonly #view: DataView;
  constructor(readonly frame: Uint8Array) {
    this.#view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  }
  int16(): number {
    const value = this.#view.getInt16(this.#at);
    this.#at += 2;
    return value;
  }
  int32(): number {
    const value = this.#view.getInt32(this.#at);
    this.#at += 4;
    return value;
  }
  uvarint(): number {
    let value = 0;
    for (let shift = 0;; shift += 7) {
      const byte = this.frame[this.#at++];
      value += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) return value;
    }
  }
  advance(bytes: number): void {
    this.#at += Math.max(0, bytes);
  }
  /** STRING / NULLABLE_STRING (int16 length), or COMPACT_(NULLABLE_)STRING (uvarint length + 1). */
  string(compact: boolean): string | null {
    const length = compact ? this.uvarint() - 1 : this.int16();
    if (length < 0) return null;
    const text = new TextDecoder().decode(this.frame.subarray(this.#at, this.#at + length));
    this.#at += length;
    return text;
  }
  /** A TAG_BUFFER: tagged fields, skipped. */
  taggedFields(): void {
    for (let count = this.uvarint(); count > 0; count--) {
      this.uvarint();
      this.advance(this.uvarint());
    }
  }
}

/**
 * Decodes the start of a Produce request (v3 and later; Kafka 4 accepts no older one): header v1, or v2 from
 * v9 (flexible versions), then transactional_id, acks, timeout_ms and the topics.
 */
export function produceRequest(frame: Uint8Array): ProduceRequest | undefined {
  const reader = new FrameReader(frame);
  if (reader.int16() !== produceKey) return undefined;
  const version = reader.int16();
  assert.ok(version >= 3, `Produce v${version}`);
  const flexible = version >= 9;
  reader.int32(); // correlation id
  reader.string(false); // client id: NULLABLE_STRING in both header versions
  if (flexible) reader.taggedFields();
  reader.string(flexible); // transactional id
  const acks = reader.int16();
  reader.int32(); // timeout
  const topics = flexible ? reader.uvarint() - 1 : reader.int32();
  // The first topic's name only: the tests publish to one topic.
  return { version, acks, topic: topics > 0 ? reader.string(flexible) : null };
}

/**
 * Records every Kafka request frame this process writes to a socket while `work` runs (both clients write
 * their requests with net.Socket's write), then puts the socket's write back.
 */
export async function requestsWrittenDuring(work: () => Promise<void>): Promise<Uint8Array[]> {
  const frames: Uint8Array[] = [];
  const partial = new WeakMap<object, Uint8Array>();
  const prototype = net.Socket.prototype as unknown as { write: (...args: unknown[]) => boolean };
  const write = prototype.write;
  prototype.write = function (this: object, chunk: unknown, ...rest: unknown[]): boolean {
    if (chunk instanceof Uint8Array) {
      const before = partial.get(this) ?? new Uint8Array();
      let bytes = new Uint8Array(before.length + chunk.length);
      bytes.set(before);
      bytes.set(chunk, before.length);
      while (bytes.length >= 4) {
        const size = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getInt32(0);
        if (bytes.length < 4 + size) break;
        frames.push(bytes.slice(4, 4 + size));
        bytes = bytes.slice(4 + size);
      }
      partial.set(this, bytes);
    }
    return write.call(this, chunk, ...rest);
  };
  try {
    await work();
  } finally {
    prototype.write = write;
  }
  return frames;
}

/** The batch facts kafkajs decodes with each record (not in its type declarations). */
export interface BatchContext {
  readonly producerId: string;
  readonly producerEpoch: number;
  readonly firstSequence: number;
  readonly firstOffset: string;
}

/** Each record of `topic` (one partition) with the batch it was stored in, read with a throw-away group. */
export async function storedBatches(
  topic: string,
  count: number,
  timeoutMs = 30_000,
): Promise<{ value: string; batch: BatchContext }[]> {
  const kafka = new Kafka({ brokers: env.brokers, logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({ groupId: `producer-contract-${uniqueId()}`, maxWaitTimeInMs: 250 });
  const records: { value: string; batch: BatchContext }[] = [];
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    let enough = () => {};
    const done = new Promise<void>((resolve) => (enough = resolve));
    await consumer.run({
      eachBatch: ({ batch }) => {
        for (const message of batch.messages) {
          const { batchContext } = message as unknown as { batchContext: BatchContext };
          records.push({ value: String(message.value), batch: batchContext });
        }
        if (records.length >= count) enough();
        return Promise.resolve();
      },
    });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<void>((resolve) => timer = setTimeout(resolve, timeoutMs));
    await Promise.race([done, deadline]);
    clearTimeout(timer);
  } finally {
    await consumer.disconnect();
  }
  assert.equal(records.length, count, `the ${count} records of ${topic}`);
  return records;
}
