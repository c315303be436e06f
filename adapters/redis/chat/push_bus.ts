/** The push bus on Redis pub/sub: one channel per environment; each API process subscribes on its own connection. */
import type { Redis } from "ioredis";
import type { PushBus, PushDelivery } from "../../../application/chat/ports.ts";

export class RedisPushBus implements PushBus {
  readonly #redis: Redis;
  readonly #channel: string;

  /** `channel` carries the environment's prefix (ioredis' keyPrefix does not apply to channels). */
  constructor(redis: Redis, channel: string) {
    this.#redis = redis;
    this.#channel = channel;
  }

  async publish(delivery: PushDelivery): Promise<void> {
    await this.#redis.publish(this.#channel, JSON.stringify(delivery));
  }

  async subscribe(deliver: (delivery: PushDelivery) => void): Promise<() => Promise<void>> {
    // A subscribed connection can do nothing else: a connection of its own, which reconnects and resubscribes.
    const subscriber = this.#redis.duplicate();
    subscriber.on("message", (channel: string, text: string) => {
      if (channel !== this.#channel) return;
      try {
        deliver(JSON.parse(text) as PushDelivery);
      } catch {
        // a foreign message on the channel: not ours to deliver
      }
    });
    await subscriber.subscribe(this.#channel);
    return async () => {
      await subscriber.unsubscribe(this.#channel).catch(() => {});
      subscriber.disconnect();
    };
  }
}
