/**
 * The chat page in a real browser (Debian's Chromium driven by playwright-core): two browser contexts as two
 * users, each signed in on the page; a message typed in one appears in the other, live.
 */
import assert from "node:assert/strict";
import { chromium } from "playwright-core";
import { eventually, freePort, readiness, spawnProcess, testDatabase, testTopics } from "./helpers.ts";
import { chatProcessEnv, namePrefixOf, relayFor } from "./fixtures.ts";

const chromiumPath = "/usr/bin/chromium";

Deno.test("two users on the chat page: a message typed by one appears live for the other", async () => {
  await using db = await testDatabase();
  const [topic] = await testTopics(3, "interaction-events");
  await using _relay = await relayFor(db);
  const common = chatProcessEnv(db, namePrefixOf(topic));
  const port = freePort();
  const processes = [
    spawnProcess("api", { ...common, PORT: String(port) }),
    spawnProcess("worker", { ...common, METRICS_PORT: String(freePort()) }),
  ];
  const url = `http://127.0.0.1:${port}`;
  const browser = await chromium.launch({ executablePath: chromiumPath, args: ["--no-sandbox"] });
  try {
    await eventually(() => readiness(port), (status) => status === 200, {
      what: "the API ready",
      timeoutMs: 60_000,
    });
    const ids: string[] = [];
    for (const name of ["alice", "bobby"]) {
      const response = await fetch(`${url}/users/register`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          username: name,
          email: `${name}@example.com`,
          password: "correct horse battery",
        }),
      });
      assert.equal(response.status, 201);
      ids.push((await response.json()).id);
    }

    // given both users signed in on the page, each with the other's conversation open
    const open = async (name: string, other: string) => {
      const page = await (await browser.newContext()).newPage();
      await page.goto(`${url}/chat`);
      await page.fill("#email", `${name}@example.com`);
      await page.fill("#password", "correct horse battery");
      await page.click("#login button");
      await page.waitForSelector("#status:text('online')");
      await page.fill("#to", other);
      await page.click("#open");
      await page.waitForSelector("#compose:not([hidden])");
      return page;
    };
    const alice = await open("alice", ids[1]);
    const bobby = await open("bobby", ids[0]);

    // when alice types a message and sends it
    await alice.fill("#content", "hello from the browser ✓");
    await alice.click("#compose button");

    // then it appears in bobby's page without a reload, and in alice's own
    await bobby.waitForSelector(".message .text:text('hello from the browser ✓')", { timeout: 30_000 });
    await alice.waitForSelector(".message.mine .text:text('hello from the browser ✓')", { timeout: 30_000 });
    assert.equal(await bobby.locator(".message").count(), 1);

    // and after a reload bobby reads it from the history
    await bobby.reload();
    await bobby.fill("#email", "bobby@example.com");
    await bobby.fill("#password", "correct horse battery");
    await bobby.click("#login button");
    await bobby.waitForSelector("#status:text('online')");
    await bobby.fill("#to", ids[0]);
    await bobby.click("#open");
    await bobby.waitForSelector(".message .text:text('hello from the browser ✓')", { timeout: 30_000 });
  } finally {
    await browser.close();
    for (const process of processes) await process.stop();
  }
});
