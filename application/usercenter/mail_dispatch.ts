/**
 * Sends the queued mail. A message is marked sent only after the SMTP server accepted it, so a crash in
 * between sends it again, with the same Message-ID (receivers that dedupe on it show it once). A refused or
 * failed message is retried with a growing delay, and given up after `maxAttempts` (kept, with its error).
 */
import type { MailSender } from "../mail.ts";
import type { Clock, Logger } from "../ports.ts";
import type { QueuedMail } from "./ports.ts";

/** The queue as the dispatcher sees it. */
export interface MailOutbox {
  /**
   * Claims the oldest message not sent yet and due at `now` for `leaseMs`: another dispatcher skips it
   * meanwhile, and takes it over once the lease ends (its dispatcher died).
   */
  claim(now: Date, leaseMs: number): Promise<QueuedMail | undefined>;
  markSent(id: string, at: Date): Promise<void>;
  /** Records the failure and when to try again (null: never). */
  markFailed(id: string, error: string, retryAt: Date | null): Promise<void>;
  attempts(id: string): Promise<number>;
}

export interface MailDispatchDeps {
  readonly outbox: MailOutbox;
  readonly sender: MailSender;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly maxAttempts: number;
  /** How long a claimed mail is left to its dispatcher (longer than a send can take). */
  readonly leaseMs: number;
}

/** Sends what is due; returns how many were sent and how many failed. */
export async function dispatchMail(
  deps: MailDispatchDeps,
  limit = 50,
): Promise<{ sent: number; failed: number }> {
  let sent = 0;
  let failed = 0;
  for (let n = 0; n < limit; n++) {
    // One at a time, each under a lease that outlasts a send (bounded by the mailer's timeouts).
    const mail = await deps.outbox.claim(deps.clock.now(), deps.leaseMs);
    if (!mail) break;
    try {
      await deps.sender.send({ id: mail.id, to: mail.to, subject: mail.subject, text: mail.text });
      await deps.outbox.markSent(mail.id, deps.clock.now());
      sent++;
    } catch (error) {
      failed++;
      const attempts = (await deps.outbox.attempts(mail.id)) + 1;
      const delayMs = Math.min(3_600_000, 5_000 * 2 ** (attempts - 1));
      const retryAt = attempts >= deps.maxAttempts ? null : new Date(deps.clock.now().getTime() + delayMs);
      await deps.outbox.markFailed(mail.id, String(error), retryAt);
      deps.logger.warn("mail not sent", { id: mail.id, kind: mail.kind, attempts, error: String(error) });
    }
  }
  return { sent, failed };
}
