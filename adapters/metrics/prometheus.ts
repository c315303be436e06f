/** Prometheus metrics (prom-client): the series an operator of the pipeline watches. */
import client from "prom-client";
import type { ConsumerObserver } from "../../outbox/consumer.ts";
import type { RelayObserver } from "../../outbox/relay.ts";

/** Reads consumer lag per partition (Kafka admin, or the in-process log). */
export interface LagReader {
  lag(group: string, topic: string): Promise<{ partition: number; lag: number }[]>;
}

/** Reads the outbox backlog. */
export interface BacklogReader {
  backlog(): Promise<{ pending: number; oldestAgeMs: number; parked: number }>;
}

const publishBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
const sizeBuckets = [1, 5, 10, 25, 50, 100, 250, 500, 1000];

/** One registry per process with every series; observers and middleware feed it. */
export class Metrics {
  readonly registry = new client.Registry();
  readonly #published = new client.Counter({
    name: "relay_events_published_total",
    help: "Outbox rows the relay published and Kafka acknowledged",
    registers: [this.registry],
  });
  readonly #batchSize = new client.Histogram({
    name: "relay_publish_batch_size",
    help: "Rows per relay publish",
    buckets: sizeBuckets,
    registers: [this.registry],
  });
  readonly #publishSeconds = new client.Histogram({
    name: "relay_publish_duration_seconds",
    help: "Time to publish one batch until acknowledged",
    buckets: publishBuckets,
    registers: [this.registry],
  });
  readonly #relayErrors = new client.Counter({
    name: "relay_errors_total",
    help: "Relay claims that failed (rows stay in the outbox)",
    registers: [this.registry],
  });
  readonly #parked = this.#counter(
    "relay_events_parked_total",
    "Outbox rows the broker refused for good, moved to outbox_dead_letters",
    ["reason"],
  );
  readonly #backoff = new client.Gauge({
    name: "relay_backoff_seconds",
    help: "Current backoff of the relay (0 when healthy)",
    registers: [this.registry],
  });
  readonly #consumer = {
    processed: this.#counter("consumer_events_processed_total", "Events whose effect was committed", [
      "group",
    ]),
    duplicates: this.#counter("consumer_events_duplicate_total", "Redelivered events skipped by the inbox", [
      "group",
    ]),
    failed: this.#counter(
      "consumer_events_failed_total",
      "Events or batches that failed after their retries",
      [
        "group",
      ],
    ),
    retried: this.#counter("consumer_events_retried_total", "Retries of failed events or batches", ["group"]),
    deadLettered: this.#counter("consumer_events_dead_lettered_total", "Events sent to <topic>.dlq", [
      "group",
      "topic",
    ]),
    skipped: this.#counter(
      "consumer_events_skipped_total",
      "Events of a type the group has no handler for (skipped, never dead-lettered)",
      ["group", "event_type"],
    ),
    paused: new client.Gauge({
      name: "consumer_paused",
      help: "1 while the group is paused on an outage of its dependencies (retrying, nothing dead-lettered)",
      labelNames: ["group"],
      registers: [this.registry],
    }),
  };
  readonly #flushSize = new client.Histogram({
    name: "batch_processor_flush_size",
    help: "Events per BatchProcessor flush",
    labelNames: ["group"],
    buckets: sizeBuckets,
    registers: [this.registry],
  });
  readonly #flushSeconds = new client.Histogram({
    name: "batch_processor_flush_duration_seconds",
    help: "Time of one BatchProcessor flush (effect + inbox transaction)",
    labelNames: ["group"],
    buckets: publishBuckets,
    registers: [this.registry],
  });
  readonly #httpRequests = this.#counter("http_requests_total", "HTTP requests", [
    "method",
    "route",
    "status",
  ]);
  readonly #httpSeconds = new client.Histogram({
    name: "http_request_duration_seconds",
    help: "HTTP request latency",
    labelNames: ["method", "route", "status"],
    buckets: publishBuckets,
    registers: [this.registry],
  });

  constructor(options: { process: string }) {
    this.registry.setDefaultLabels({ process: options.process });
  }

  #counter<L extends string>(name: string, help: string, labelNames: L[]) {
    return new client.Counter<L>({ name, help, labelNames, registers: [this.registry] });
  }

  /** Feeds the relay series. */
  relayObserver(): RelayObserver {
    return {
      published: (count, seconds) => {
        this.#published.inc(count);
        this.#batchSize.observe(count);
        this.#publishSeconds.observe(seconds);
      },
      failed: () => this.#relayErrors.inc(),
      parked: (count, reason) => this.#parked.inc({ reason }, count),
      backoff: (delayMs) => this.#backoff.set(delayMs / 1000),
    };
  }

  /** Feeds the consumer and BatchProcessor series. */
  consumerObserver(): ConsumerObserver {
    const c = this.#consumer;
    return {
      processed: (group, count) => c.processed.inc({ group }, count),
      duplicates: (group, count) => c.duplicates.inc({ group }, count),
      failed: (group) => c.failed.inc({ group }),
      retried: (group) => c.retried.inc({ group }),
      deadLettered: (group, topic) => c.deadLettered.inc({ group, topic }),
      skipped: (group, eventType, count) => c.skipped.inc({ group, event_type: eventType }, count),
      paused: (group, paused) => c.paused.set({ group }, paused ? 1 : 0),
      flushed: (group, size, seconds) => {
        this.#flushSize.observe({ group }, size);
        this.#flushSeconds.observe({ group }, seconds);
      },
    };
  }

  /** Records one HTTP request. */
  observeRequest(method: string, route: string, status: number, seconds: number): void {
    const labels = { method, route, status: String(status) };
    this.#httpRequests.inc(labels);
    this.#httpSeconds.observe(labels, seconds);
  }

  /** Outbox pending rows and oldest-row age, read at each scrape. */
  watchOutbox(reader: BacklogReader): void {
    let last: Promise<{ pending: number; oldestAgeMs: number; parked: number }> | undefined;
    // The gauges come from one query per scrape.
    const read = () => (last ??= reader.backlog()
      .catch(() => ({ pending: Number.NaN, oldestAgeMs: Number.NaN, parked: Number.NaN }))
      .finally(() => setTimeout(() => (last = undefined), 100)));
    new client.Gauge({
      name: "outbox_pending_rows",
      help: "Committed outbox rows not yet published",
      registers: [this.registry],
      async collect() {
        this.set((await read()).pending);
      },
    });
    new client.Gauge({
      name: "outbox_oldest_age_seconds",
      help: "Age of the oldest unpublished outbox row (0 when empty)",
      registers: [this.registry],
      async collect() {
        this.set((await read()).oldestAgeMs / 1000);
      },
    });
    new client.Gauge({
      name: "outbox_parked_rows",
      help: "Outbox rows parked in outbox_dead_letters (refused by the broker; need an operator)",
      registers: [this.registry],
      async collect() {
        this.set((await read()).parked);
      },
    });
  }

  /** Consumer lag per group, topic and partition, read at each scrape. */
  watchLag(reader: LagReader, subscriptions: readonly { group: string; topic: string }[]): void {
    new client.Gauge({
      name: "consumer_lag",
      help: "Messages on the topic not yet committed by the group",
      labelNames: ["group", "topic", "partition"],
      registers: [this.registry],
      async collect() {
        try {
          const all = await Promise.all(
            subscriptions.map(async (s) => ({ ...s, lags: await reader.lag(s.group, s.topic) })),
          );
          this.reset();
          for (const { group, topic, lags } of all) {
            for (const { partition, lag } of lags) {
              this.set({ group, topic, partition: String(partition) }, lag);
            }
          }
        } catch {
          // The broker is unreachable: keep the last values; /health/ready reports the outage.
        }
      },
    });
  }

  /** The exposition text. */
  async text(): Promise<{ body: string; contentType: string }> {
    return { body: await this.registry.metrics(), contentType: this.registry.contentType };
  }
}
