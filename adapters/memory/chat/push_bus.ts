/** The push bus in one process (embedded mode): deliveries go straight to the subscribers. */
import type { PushBus, PushDelivery } from "../../../application/chat/ports.ts";

export class MemoryPushBus implements PushBus {
  readonly #subscribers = new Set<(delivery: PushDelivery) => void>();

  publish(delivery: PushDelivery): Promise<void> {
    for (const deliver of this.#subscribers) deliver(delivery);
    return Promise.resolve();
  }

  subscribe(deliver: (delivery: PushDelivery) => void): Promise<() => Promise<void>> {
    this.#subscribers.add(deliver);
    return Promise.resolve(() => {
      this.#subscribers.delete(deliver);
      return Promise.resolve();
    });
  }
}
