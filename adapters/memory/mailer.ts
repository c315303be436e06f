/** MailSender inside one process: the embedded mode's and the unit tests' stand-in for SMTP. */
import type { Mail, MailSender } from "../../application/mail.ts";
import { messageIdFor, senderDomain } from "../smtp/message_id.ts";

/** A mail the memory mailer accepted, with the From and Message-ID an SMTP server would have received. */
export interface SentMail extends Mail {
  readonly from: string;
  readonly messageId: string;
}

/** Keeps every accepted mail in `sent`; `refuseNext` makes it refuse, as a server can. */
export class MemoryMailer implements MailSender {
  /** The accepted mail, oldest first. */
  readonly sent: SentMail[] = [];
  readonly #from: string;
  readonly #domain: string;
  #refusals = 0;

  constructor(options: { from?: string } = {}) {
    this.#from = options.from ?? "noreply@localhost";
    this.#domain = senderDomain(this.#from);
  }

  /** Makes the next `count` sends throw, as a server refusing them. */
  refuseNext(count: number): void {
    this.#refusals = count;
  }

  send(mail: Mail): Promise<void> {
    if (this.#refusals > 0) {
      this.#refusals--;
      return Promise.reject(new Error("the memory mailer refused the message"));
    }
    const { id, to, subject, text } = mail;
    this.sent.push({ id, to, subject, text, from: this.#from, messageId: messageIdFor(id, this.#domain) });
    return Promise.resolve();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
