/** MailSender over SMTP with nodemailer. */
import nodemailer, { type SMTPSentMessageInfo, type Transporter } from "nodemailer";
import type { Mail, MailSender } from "../../application/mail.ts";
import { messageIdFor, senderDomain } from "./message_id.ts";

/** How the SMTP mailer sends. */
export interface SmtpMailerOptions {
  /** From address (`noreply@example.com`, `"Likes" <noreply@example.com>`); its domain ends Message-IDs. */
  readonly from: string;
  /**
   * Longest wait for the connection, the greeting and each later answer of the server (default 5 s): a dead
   * or stuck server fails the send, and the caller retries it later, instead of holding it for minutes.
   */
  readonly timeoutMs?: number;
}

/**
 * Sends each mail over SMTP to the server of `url` (`smtp://user:pass@host:587`, `smtps://host:465`):
 * STARTTLS when the server offers it, a connection per message unless the url asks for `?pool=true`. The
 * Message-ID derives from the mail's id, so a resend after a crash is recognisably the same message.
 */
export class SmtpMailer implements MailSender {
  readonly #transport: Transporter<SMTPSentMessageInfo>;
  readonly #from: string;
  readonly #domain: string;

  constructor(url: string, options: SmtpMailerOptions) {
    // The url is not quoted in the error: it may hold a password.
    if (!/^smtps?:\/\//i.test(url)) throw new Error("an SMTP url starts with smtp:// or smtps://");
    this.#from = options.from;
    this.#domain = senderDomain(options.from);
    const timeoutMs = options.timeoutMs ?? 5_000;
    this.#transport = nodemailer.createTransport({
      url,
      connectionTimeout: timeoutMs,
      greetingTimeout: timeoutMs,
      socketTimeout: timeoutMs,
      // Plain text only: nothing in a message may make the mailer read a file or fetch a url.
      disableFileAccess: true,
      disableUrlAccess: true,
    });
  }

  async send(mail: Mail): Promise<void> {
    const info = await this.#transport.sendMail({
      from: this.#from,
      to: mail.to,
      subject: mail.subject,
      text: mail.text,
      messageId: messageIdFor(mail.id, this.#domain),
    });
    // A `to` listing several addresses can be accepted for some only: that is not a delivered mail either.
    if (info.rejected.length > 0) {
      throw new Error(`the SMTP server refused ${info.rejected.length} recipient(s): ${info.response}`);
    }
  }

  close(): Promise<void> {
    this.#transport.close();
    return Promise.resolve();
  }
}
