import assert from "node:assert/strict";
import { MemoryMailer } from "../adapters/memory/mailer.ts";
import { SmtpMailer } from "../adapters/smtp/mailer.ts";
import { mailSenderContract } from "./contracts/mail_contract.ts";
import { smtpReceiver } from "./smtp_receiver.ts";

mailSenderContract("SMTP", async ({ from }) => {
  const receiver = await smtpReceiver();
  const mailer = new SmtpMailer(receiver.url, { from });
  return {
    mailer,
    delivered: () => receiver.messages,
    refuseNext: (count) => receiver.refuseNext(count),
    close: async () => {
      await mailer.close();
      await receiver[Symbol.asyncDispose]();
    },
  };
});

mailSenderContract("memory", ({ from }) => {
  const mailer = new MemoryMailer({ from });
  return Promise.resolve({
    mailer,
    delivered: () =>
      mailer.sent.map(({ from, to, subject, text, messageId }) => ({
        from,
        to: [to],
        subject,
        text,
        messageId,
      })),
    refuseNext: (count) => mailer.refuseNext(count),
    close: () => mailer.close(),
  });
});

const mail = { id: crypto.randomUUID(), to: "ada@example.org", subject: "hello", text: "hello" };

Deno.test("SMTP: with no server listening, a send fails within seconds", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr;
  listener.close();
  const mailer = new SmtpMailer(`smtp://127.0.0.1:${port}`, { from: "noreply@example.com" });
  try {
    await assert.rejects(mailer.send(mail));
  } finally {
    await mailer.close();
  }
});

Deno.test("SMTP: a server that accepts but never greets fails the send after the timeout", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const silent: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of listener) silent.push(conn);
  })();
  const mailer = new SmtpMailer(`smtp://127.0.0.1:${listener.addr.port}`, {
    from: "noreply@example.com",
    timeoutMs: 300,
  });
  try {
    await assert.rejects(mailer.send(mail));
  } finally {
    await mailer.close();
    listener.close();
    await accepting;
    for (const conn of silent) conn.close();
  }
});

Deno.test("SMTP: the url's user and password log in; the envelope sender is the From address", async () => {
  await using receiver = await smtpReceiver();
  const url = receiver.url.replace("smtp://", "smtp://mailer:s3cret@");
  const mailer = new SmtpMailer(url, { from: `"Likes" <noreply@example.com>` });
  try {
    await mailer.send(mail);
    const received = await receiver.waitFor((message) => message.messageId === `<${mail.id}@example.com>`);
    assert.equal(received.user, "mailer");
    assert.equal(received.from, "noreply@example.com");
    assert.deepEqual(received.to, ["ada@example.org"]);
  } finally {
    await mailer.close();
  }
});

Deno.test("SMTP: a deferral (4xx) fails the send like a refusal", async () => {
  await using receiver = await smtpReceiver();
  const mailer = new SmtpMailer(receiver.url, { from: "noreply@example.com" });
  try {
    receiver.refuseNext(1, 451);
    await assert.rejects(mailer.send(mail), /451/);
    assert.deepEqual(receiver.messages, []);
  } finally {
    await mailer.close();
  }
});

Deno.test("SMTP: a pooled url (?pool=true) sends, survives a refusal, close() ends it", async () => {
  await using receiver = await smtpReceiver();
  const mailer = new SmtpMailer(`${receiver.url}?pool=true`, { from: "noreply@example.com" });
  try {
    await mailer.send({ ...mail, id: crypto.randomUUID() });
    receiver.refuseNext(1);
    await assert.rejects(mailer.send({ ...mail, id: crypto.randomUUID() }));
    await mailer.send({ ...mail, id: crypto.randomUUID() });
    assert.equal(receiver.messages.length, 2);
  } finally {
    await mailer.close(); // the test's resource sanitizer checks that this ends the pooled connection
  }
});

Deno.test("SMTP: a url of another scheme or a From without a domain is refused at construction", () => {
  assert.throws(() => new SmtpMailer("http://127.0.0.1:25", { from: "noreply@example.com" }), /smtp:\/\//);
  assert.throws(() => new SmtpMailer("smtp://127.0.0.1:25", { from: "noreply" }), /no domain/);
});
