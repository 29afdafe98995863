// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// chat.test.mjs: the chat example's page in a real browser. Headless
// Chromium (driven by puppeteer-core) opens the page in two tabs; both
// join the lobby, the second takes the name "bob" and says something, and
// the first must show the presence notices and the message. A screenshot
// of the first tab is saved. Run by run.sh, which starts the server.
//
//   CHAT_URL=http://127.0.0.1:PORT/ SHOT=out.png node chat.test.mjs
import puppeteer from "puppeteer-core";

const url = process.env.CHAT_URL;
const shot = process.env.SHOT || "chat-browser.png";
const chromium = process.env.CHROMIUM || "/usr/bin/chromium";
const WAIT = 20000; // ms: every wait has this deadline

let passed = 0;
let failed = 0;

async function step(name, fn) {
  try {
    await fn();
    passed++;
    console.log("browser: ok   " + name);
  } catch (e) {
    failed++;
    console.log("browser: FAIL " + name + ": " + e.message);
    throw e;
  }
}

// Waits poll on a timer, not on animation frames (puppeteer's default):
// a background tab gets no frames, so a wait on it would check once and
// then never again.
const POLL = { timeout: WAIT, polling: 100 };

// logHas waits until the page's message log has a line containing text.
function logHas(page, text) {
  return page.waitForFunction(
    (t) => [...document.querySelectorAll("#log li")]
      .some((li) => li.textContent.includes(t)),
    POLL, text);
}

// fill brings the tab to the front and puts text into an input as typing
// would leave it. (Keystrokes go to the focused element, and a headless
// tab's focus moves when the page focuses its message box, so the value is
// set directly; the buttons are still clicked for real.)
async function fill(page, sel, text) {
  await page.bringToFront(); // clicks on a background tab fail here
  await page.$eval(sel, (e, v) => {
    e.value = v;
    e.dispatchEvent(new Event("input", { bubbles: true }));
  }, text);
}

async function setNick(page, name) {
  await fill(page, "#nick", name);
  await page.click("#nick-set");
  await page.waitForFunction(
    (n) => document.querySelector("#status").textContent.includes(n),
    POLL, name);
}

// a_shot saves what the first tab shows, to see why a step failed.
async function a_shot(browser, path) {
  const pages = await browser.pages();
  const p = pages.find((x) => x.url().startsWith("http"));
  if (p) await p.screenshot({ path: path.replace(/\.png$/, "-failed.png") });
}

async function main() {
  if (!url) throw new Error("CHAT_URL is not set");
  const browser = await puppeteer.launch({
    executablePath: chromium,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
    timeout: WAIT,
  });
  try {
    const a = await browser.newPage();
    await a.setViewport({ width: 1000, height: 620 });
    const b = await browser.newPage();
    await b.setViewport({ width: 1000, height: 620 });
    for (const [p, n] of [[a, "tab 1"], [b, "tab 2"]]) {
      p.on("pageerror", (e) => console.log(`browser: ${n} page error: ${e.message}`));
      p.on("console", (m) => console.log(`browser: ${n} console: ${m.text()}`));
    }

    await step("tab 1 loads the page and joins the lobby", async () => {
      await a.goto(url, { waitUntil: "load", timeout: WAIT });
      await logHas(a, "you joined lobby");
      await setNick(a, "alice");
    });
    await step("tab 2 joins; tab 1 sees it arrive and take a name",
      async () => {
        await b.goto(url, { waitUntil: "load", timeout: WAIT });
        await logHas(b, "you joined lobby");
        await setNick(b, "bob");
        await logHas(a, " joined");
        await logHas(a, "is now bob");
      });
    await step("tab 2 says something; both tabs show it", async () => {
      await fill(b, "#text", "hello from tab two");
      await b.click("#send");
      await logHas(b, "hello from tab two");
      await logHas(a, "hello from tab two");
      const line = await a.$$eval("#log li.msg", (lis) =>
        lis.map((li) => li.textContent).find((t) => t.includes("tab two")));
      if (!/bob:\s*hello from tab two/.test(line))
        throw new Error("the line reads: " + line);
    });
    await step("tab 1 lists both members", async () => {
      await a.waitForFunction(() => {
        const m = [...document.querySelectorAll("#members li")]
          .map((li) => li.textContent);
        return m.includes("alice (you)") && m.includes("bob");
      }, POLL);
    });
    await step("tab 1 answers in the page and tab 2 sees it", async () => {
      await fill(a, "#text", "hi bob, this is alice");
      await a.click("#send");
      await logHas(b, "hi bob, this is alice");
      await logHas(a, "hi bob, this is alice");
    });
    await a.screenshot({ path: shot });
    console.log("browser: screenshot " + shot);
  } catch (e) {
    await a_shot(browser, shot);
    throw e;
  } finally {
    await browser.close();
  }
}

main().then(
  () => { console.log(`browser: ${passed} passed, ${failed} failed`); },
  (e) => {
    if (failed === 0) failed++;
    console.log("browser: error: " + e.message);
    console.log(`browser: ${passed} passed, ${failed} failed`);
    process.exitCode = 1;
  });
