/**
 * The decider: a context's write rules as three pure pieces. `decide` turns a command and the current state
 * into events (or an expected failure, as a value), `evolve` folds an event into the state, `initialState`
 * is the state before any event. The command handler (application/command_handler.ts) does the I/O around it.
 */

/** An expected refusal: a value, not an exception. */
export interface Refusal<E extends string = string> {
  readonly ok: false;
  readonly error: E;
}

/** The outcome of `decide`: the events to record (possibly none), or a refusal. */
export type Decision<Event, Err extends string> =
  | { readonly ok: true; readonly events: readonly Event[] }
  | Refusal<Err>;

/** A context's pure write rules. */
export interface Decider<Command, State, Event, Err extends string = string> {
  decide(command: Command, state: State): Decision<Event, Err>;
  evolve(state: State, event: Event): State;
  readonly initialState: State;
}

/** The state after `events`, starting from `state`. */
export function fold<State, Event>(
  decider: Pick<Decider<unknown, State, Event>, "evolve">,
  state: State,
  events: readonly Event[],
): State {
  return events.reduce((current, event) => decider.evolve(current, event), state);
}
