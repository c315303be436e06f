import assert from "node:assert/strict";
import { loadConfig } from "./config.ts";
import { StartRefusedError } from "./infrastructure.ts";
import { checkInboxRetention, topicSpecs } from "./runtime.ts";

const hour = 3_600_000;
const admin = (lifetimes: Record<string, number | null>) => ({
  retentionMs: (topics: readonly string[]) =>
    Promise.resolve(new Map(topics.filter((t) => t in lifetimes).map((t) => [t, lifetimes[t]]))),
});
const reads = [{ group: "g", topic: "a" }, { group: "g", topic: "b" }];

Deno.test("a worker refuses topics that keep messages longer than its inbox remembers them", async () => {
  const config = loadConfig({ INBOX_RETENTION_HOURS: "192" });
  // within the inbox's memory: accepted (a missing topic is created later and checked then)
  await checkInboxRetention(admin({ a: 192 * hour, b: 100 * hour }), reads, config);
  await checkInboxRetention(admin({ a: 192 * hour }), reads, config);
  // longer, or forever (retention -1, a compacted topic): refused, naming the topic and the variable
  for (const lifetime of [192 * hour + 1, null]) {
    await assert.rejects(
      checkInboxRetention(admin({ a: 1, b: lifetime }), reads, config),
      (error: Error) =>
        error instanceof StartRefusedError && /INBOX_RETENTION_HOURS=192/.test(error.message) &&
        /\bb keeps messages/.test(error.message),
    );
  }
});

Deno.test("the project's topics are created with its retention and day-long segments, within the default inbox", () => {
  const config = loadConfig({});
  const [spec] = topicSpecs([{ name: "ctx", topics: [{ name: "ctx-events" }], build: () => ({}) }], config);
  assert.equal(spec.topic, "ctx-events");
  const lifetime = Number(spec.configs?.["retention.ms"]) + Number(spec.configs?.["segment.ms"]);
  assert.ok(lifetime <= config.INBOX_RETENTION_HOURS * hour, `a message lives ${lifetime / hour} h at most`);
});
