/**
 * The one command handler every context uses: load the state, decide, save the change and append the events
 * to the outbox, all in one transaction. A context supplies the decider and how its state is read and written.
 */
import { type Decider, fold, type Refusal } from "../domain/shared/decider.ts";
import type { Envelope } from "../outbox/envelope.ts";
import type { OutboxWriter } from "../outbox/ports.ts";
import type { UnitOfWork } from "./ports.ts";

/** How one kind of command reaches its state and its topic. */
export interface CommandHandling<Command, State, Event, Err extends string, Tx> {
  readonly decider: Decider<Command, State, Event, Err>;
  /** Reads the state the command is decided on, inside the transaction. */
  load(tx: Tx, command: Command): Promise<State>;
  /**
   * Writes the state the events lead to. Returns false when a concurrent writer made the same change first
   * (then nothing is recorded). A writer that needs strict per-aggregate order locks the aggregate row here or
   * in `load`.
   */
  save(tx: Tx, state: State, command: Command): Promise<boolean>;
  /** The topic of the events. */
  readonly topic: string;
  /** Wraps the events for the outbox (keyed by aggregate, so one aggregate keeps its order). */
  toEnvelopes(events: readonly Event[], command: Command): Envelope[];
}

/** What a handled command did. */
export type CommandOutcome<State, Event, Err extends string> =
  | {
    readonly ok: true;
    readonly state: State;
    readonly events: readonly Event[];
    readonly envelopes: readonly Envelope[];
  }
  | (Refusal<Err> & { readonly state: State });

/** Runs `command` through the decider in one transaction with its outbox rows. */
export function handleCommand<Command, State, Event, Err extends string, Tx extends { outbox: OutboxWriter }>(
  unitOfWork: UnitOfWork<Tx>,
  handling: CommandHandling<Command, State, Event, Err, Tx>,
  command: Command,
): Promise<CommandOutcome<State, Event, Err>> {
  return unitOfWork.inTransaction(async (tx) => {
    const state = await handling.load(tx, command);
    const decision = handling.decider.decide(command, state);
    if (!decision.ok) return { ...decision, state };
    const next = fold(handling.decider, state, decision.events);
    if (decision.events.length === 0 || !(await handling.save(tx, next, command))) {
      return { ok: true, state: next, events: [], envelopes: [] };
    }
    const envelopes = handling.toEnvelopes(decision.events, command);
    await tx.outbox.append(handling.topic, envelopes);
    return { ok: true, state: next, events: decision.events, envelopes };
  });
}
