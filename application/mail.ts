/** The mail port: one message out to one address. Shared by every context that writes to people. */

/** A plain-text message. */
export interface Mail {
  /**
   * A stable id for this message (the RFC 5322 Message-ID is derived from it): a resend after a crash carries
   * the same id, so a receiver can recognise the duplicate.
   */
  readonly id: string;
  readonly to: string;
  readonly subject: string;
  readonly text: string;
}

/** Delivers mail; throws when the message was not accepted (the caller keeps it and retries later). */
export interface MailSender {
  send(mail: Mail): Promise<void>;
  close(): Promise<void>;
}
