/** Given/when/then for deciders, as code: `given(events).when(command).then(events | error)`. */
import { type Decider, fold } from "./decider.ts";

/** Starts a decider scenario from the events that already happened. */
export function scenario<C, S, E, Err extends string>(decider: Decider<C, S, E, Err>) {
  return {
    given(history: readonly E[]) {
      const state = fold(decider, decider.initialState, history);
      return {
        when(command: C) {
          const decision = decider.decide(command, state);
          return {
            /** Fails unless the decision recorded exactly `expected` (events) or refused with it (a string). */
            then(expected: readonly E[] | Err): void {
              const actual = decision.ok ? decision.events : decision.error;
              const same = JSON.stringify(actual) === JSON.stringify(expected);
              if (!same) {
                throw new Error(
                  `expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)} (state ${
                    JSON.stringify(state)
                  })`,
                );
              }
            },
          };
        },
      };
    },
  };
}
