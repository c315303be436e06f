import assert from "node:assert/strict";
import { consumerGroup } from "./context_module.ts";

Deno.test("consumerGroup keeps the declared name and topics; a group without a unit of work gets no transaction", () => {
  const group = consumerGroup({
    name: "push-group",
    topics: ["some-events"],
    batched: false,
    inbox: false,
    handlers: { SomethingHappened: (_events, tx) => Promise.resolve(assert.equal(tx, undefined)) },
  });
  assert.equal(group.name, "push-group");
  assert.deepEqual(group.topics, ["some-events"]);

  // Checked by `deno check`: a handler that needs a transaction cannot be declared without a unit of work (it
  // would get undefined and every event would fail into the dead-letter topic).
  consumerGroup<{ store: { apply(): void } }>({
    name: "g",
    topics: ["t"],
    batched: false,
    inbox: false,
    // @ts-expect-error handlers of a group without a unit of work receive no transaction
    handlers: { X: (_events, tx) => Promise.resolve(tx.store.apply()) },
  });
});
