/** Ports shared by every context: transactions, time, logging. */

/** Runs work in one database transaction; `Tx` bundles the repositories bound to it. */
export interface UnitOfWork<Tx> {
  /** Commits when `work` resolves, rolls back when it throws. */
  inTransaction<T>(work: (tx: Tx) => Promise<T>): Promise<T>;
}

/** The current time, injectable so tests control it. */
export interface Clock {
  now(): Date;
}

/** The system clock. */
export const systemClock: Clock = { now: () => new Date() };

/** Structured fields of a log line. */
export type LogFields = Readonly<Record<string, unknown>>;

/** Structured logging: one event a call. */
export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

/** A logger that drops everything (for tests that do not look at logs). */
export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/** Outcome of `DistributedLock.tryWithLock`. */
export type LockOutcome<T> = { readonly acquired: true; readonly value: T } | { readonly acquired: false };

/** A lock across processes, for work two workers must not do at once (purges, warm-ups). */
export interface DistributedLock {
  /** Runs `work` holding `name` for at most `ttlMs`; does nothing when another holder has it. */
  tryWithLock<T>(name: string, ttlMs: number, work: () => Promise<T>): Promise<LockOutcome<T>>;
}
