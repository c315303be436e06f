import assert from "node:assert/strict";
import type { Decider } from "./decider.ts";
import { scenario } from "./scenario.ts";

const counter: Decider<{ add: number }, number, { added: number }, "too_much"> = {
  initialState: 0,
  decide: (command, state) =>
    state + command.add > 10
      ? { ok: false, error: "too_much" }
      : { ok: true, events: [{ added: command.add }] },
  evolve: (state, event) => state + event.added,
};

Deno.test("given/when/then passes on the expected events or refusal, and fails on anything else", () => {
  const { given } = scenario(counter);
  given([{ added: 4 }]).when({ add: 5 }).then([{ added: 5 }]);
  given([{ added: 4 }, { added: 5 }]).when({ add: 2 }).then("too_much");
  assert.throws(() => given([]).when({ add: 1 }).then([{ added: 2 }]), /expected \[\{"added":2\}\]/);
  assert.throws(() => given([{ added: 10 }]).when({ add: 1 }).then([{ added: 1 }]), /got "too_much"/);
});
