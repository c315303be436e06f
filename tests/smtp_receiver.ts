/** A real SMTP server for tests: accepts plain SMTP on 127.0.0.1 and keeps every message it received. */
import { simpleParser } from "mailparser";
import { SMTPServer } from "smtp-server";

/** A message the receiver accepted. */
export interface ReceivedMail {
  /** The envelope sender (MAIL FROM). */
  readonly from: string;
  /** The envelope recipients (RCPT TO). */
  readonly to: readonly string[];
  /** Decoded from its MIME encoding. */
  readonly subject: string;
  /** Decoded, line breaks as "\n", without the line break SMTP ends every body with. */
  readonly text: string;
  /** With its angle brackets: `<id@domain>`. */
  readonly messageId: string;
  /** The user the client authenticated as (any user and password are accepted), if it did. */
  readonly user?: string;
}

/** The receiver's handle; `await using` closes it. */
export interface SmtpReceiver extends AsyncDisposable {
  /** `smtp://127.0.0.1:<port>`. */
  readonly url: string;
  /** The accepted messages, oldest first. */
  readonly messages: readonly ReceivedMail[];
  /** The first message, received or to come, that satisfies `predicate`; rejects after `timeoutMs`. */
  waitFor(predicate: (mail: ReceivedMail) => boolean, timeoutMs?: number): Promise<ReceivedMail>;
  /** Answers the next `count` messages with `code` after DATA: a 5xx refusal by default, a 4xx defers. */
  refuseNext(count: number, code?: number): void;
}

interface Waiter {
  readonly predicate: (mail: ReceivedMail) => boolean;
  readonly resolve: (mail: ReceivedMail) => void;
  readonly reject: (error: Error) => void;
  readonly timer: ReturnType<typeof setTimeout>;
}

/** Starts a receiver on a free port of 127.0.0.1: no TLS (STARTTLS is not offered), no login needed. */
export async function smtpReceiver(): Promise<SmtpReceiver> {
  const messages: ReceivedMail[] = [];
  const waiters = new Set<Waiter>();
  let refusals: { count: number; code: number } = { count: 0, code: 550 };

  const received = (mail: ReceivedMail) => {
    messages.push(mail);
    for (const waiter of waiters) {
      if (!waiter.predicate(mail)) continue;
      waiters.delete(waiter);
      clearTimeout(waiter.timer);
      waiter.resolve(mail);
    }
  };

  const server = new SMTPServer({
    disabledCommands: ["STARTTLS"],
    authOptional: true,
    allowInsecureAuth: true,
    logger: false,
    // Connections a test left open are cut soon after closing, not after the default 30 s.
    closeTimeout: 500,
    onAuth(auth, _session, callback) {
      callback(null, { user: auth.username });
    },
    onData(stream, session, callback) {
      simpleParser(stream).then((parsed) => {
        if (refusals.count > 0) {
          refusals = { ...refusals, count: refusals.count - 1 };
          const refusal = Object.assign(new Error("refused by the test receiver"), {
            responseCode: refusals.code,
          });
          return callback(refusal);
        }
        const user: unknown = session.user;
        received({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : "",
          to: session.envelope.rcptTo.map((recipient) => recipient.address),
          subject: parsed.subject ?? "",
          text: (parsed.text ?? "").replace(/\r?\n$/, ""),
          messageId: parsed.messageId ?? "",
          ...(typeof user === "string" ? { user } : {}),
        });
        callback();
      }, (error: Error) => callback(error));
    },
  });
  // A client dropping its connection is the client's business, not a failure of the receiver.
  server.on("error", () => {});

  await new Promise<void>((resolve, reject) => {
    server.server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      server.server.off("error", reject);
      resolve();
    });
  });
  const address = server.server.address();
  if (address === null || typeof address === "string") throw new Error("the SMTP receiver has no TCP port");

  return {
    url: `smtp://127.0.0.1:${address.port}`,
    messages,
    waitFor(predicate, timeoutMs = 5_000) {
      const found = messages.find(predicate);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const waiter: Waiter = {
          predicate,
          resolve,
          reject,
          timer: setTimeout(() => {
            waiters.delete(waiter);
            reject(new Error(`no matching message within ${timeoutMs} ms; ${messages.length} received`));
          }, timeoutMs),
        };
        waiters.add(waiter);
      });
    },
    refuseNext(count, code = 550) {
      refusals = { count, code };
    },
    async [Symbol.asyncDispose]() {
      for (const waiter of waiters) {
        clearTimeout(waiter.timer);
        waiter.reject(new Error("the SMTP receiver closed"));
      }
      waiters.clear();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
