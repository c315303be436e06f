/** Contract of the mail port (SMTP and in-memory): what a sender of mail may count on. */
import assert from "node:assert/strict";
import type { Mail, MailSender } from "../../application/mail.ts";

/** A message as it reached the far side of the mailer. */
export interface DeliveredMail {
  /** The envelope sender. */
  readonly from: string;
  readonly to: readonly string[];
  readonly subject: string;
  readonly text: string;
  readonly messageId: string;
}

/** One adapter under test, with what it delivered and its own way of refusing mail. */
export interface MailFixture {
  readonly mailer: MailSender;
  /** Every message delivered so far, oldest first (complete once `send` has resolved). */
  delivered(): readonly DeliveredMail[];
  /** Makes the next `count` messages be refused. */
  refuseNext(count: number): void;
  close(): Promise<void>;
}

const from = "noreply@example.com";

function aMail(overrides: Partial<Mail> = {}): Mail {
  return {
    id: crypto.randomUUID(),
    to: "ada@example.org",
    subject: "Your video got a like",
    text: "Someone liked your video.",
    ...overrides,
  };
}

/** Registers the mail contract for one adapter; `open` builds a mailer sending as `from`. */
export function mailSenderContract(name: string, open: (options: { from: string }) => Promise<MailFixture>) {
  Deno.test(`${name}: a message arrives as sent, with a Message-ID from its id`, async () => {
    const { mailer, delivered, close } = await open({ from });
    try {
      const mail = aMail();
      await mailer.send(mail);
      assert.deepEqual(delivered(), [{
        from: "noreply@example.com",
        to: ["ada@example.org"],
        subject: "Your video got a like",
        text: "Someone liked your video.",
        messageId: `<${mail.id}@example.com>`,
      }]);
    } finally {
      await close();
    }
  });

  Deno.test(`${name}: a resend with the same id has the same Message-ID, another id another`, async () => {
    const { mailer, delivered, close } = await open({ from });
    try {
      const mail = aMail();
      await mailer.send(mail);
      await mailer.send(mail); // as after a crash between sending and recording it
      await mailer.send(aMail());
      const [first, resent, other] = delivered().map((message) => message.messageId);
      assert.equal(resent, first);
      assert.notEqual(other, first);
    } finally {
      await close();
    }
  });

  Deno.test(`${name}: a unicode subject and a multi-line unicode text survive`, async () => {
    const { mailer, delivered, close } = await open({ from });
    try {
      // Long enough to be folded, with characters of every UTF-8 length; a line starting with "." is
      // dot-stuffed by SMTP.
      const subject =
        "Grüße, Zoë: 日本語の件名 🎉 — a subject long enough that its encoded header must be folded";
      const text = "Bonjour Zoë,\n\n👍 liked « ta vidéo » ✓\n.a line starting with a dot\n日本語";
      await mailer.send(aMail({ subject, text }));
      const [message] = delivered();
      assert.equal(message.subject, subject);
      assert.equal(message.text, text);
    } finally {
      await close();
    }
  });

  Deno.test(`${name}: a refused message throws and is not delivered; the next one goes through`, async () => {
    const { mailer, delivered, refuseNext, close } = await open({ from });
    try {
      refuseNext(1);
      await assert.rejects(mailer.send(aMail({ subject: "refused" })));
      assert.deepEqual(delivered(), []);
      await mailer.send(aMail({ subject: "accepted" }));
      assert.deepEqual(delivered().map((message) => message.subject), ["accepted"]);
    } finally {
      await close();
    }
  });
}
