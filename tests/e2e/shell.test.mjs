// The app shell in the real webview: the window opens, every view is reachable by mouse and by
// keyboard, the status bar tells the truth, and the theme setting works and persists.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { Keys } from "./lib/webdriver.mjs";
import { byRole, launchApp, makeUser, runCli, screenshot, startDisplay, waitFor } from "./lib/app.mjs";

const VIEWS = [
  { tab: "Dialpad", proof: () => ["textbox", "Number"] },
  { tab: "Contacts", proof: () => ["heading", "No contacts yet"] },
  { tab: "History", proof: () => ["heading", "No calls yet"] },
  { tab: "Settings", proof: () => ["heading", "Appearance"] },
];

let display;

before(async () => {
  display = await startDisplay();
});

after(async () => {
  await display?.stop();
});

async function selectedTab(app) {
  return app.wd.execute(`return document.querySelector('[role=tab][aria-selected=true]')?.textContent.trim()`);
}

async function focusedId(app) {
  return app.wd.execute(`return document.activeElement?.id ?? ''`);
}

describe("the app shell", () => {
  let app;
  before(async () => {
    app = await launchApp({ display: display.display, user: makeUser("shell"), name: "shell" });
  });
  after(async () => {
    await app?.close();
  });

  it("opens its window with the dialpad and says 'No account' in the status bar", async () => {
    assert.equal(await app.wd.title(), "Siperb");
    assert.equal(await selectedTab(app), "Dialpad");
    const status = await byRole(app, "status", "Registration: No account");
    assert.equal((await app.wd.text(status)).trim(), "No account");
    // The field has focus so a user can type a number at once.
    const number = await byRole(app, "textbox", "Number");
    assert.ok(app.wd.sameElement(await app.wd.execute("return document.activeElement"), number));
    await screenshot(app, "dialpad");
  });

  it("reaches each view by mouse", async () => {
    for (const v of [...VIEWS.slice(1), VIEWS[0]]) {
      await app.wd.click(await byRole(app, "tab", v.tab));
      await waitFor(`${v.tab} selected`, async () => (await selectedTab(app)) === v.tab);
      const [role, name] = v.proof();
      await byRole(app, role, name);
      await screenshot(app, v.tab.toLowerCase());
    }
  });

  it("reaches each view by keyboard", async () => {
    // From the Number field, Shift+Tab reaches the selected tab (one tab stop for the tab list).
    await app.wd.click(await byRole(app, "textbox", "Number"));
    await app.wd.press(Keys.Tab, Keys.Shift);
    assert.equal(await focusedId(app), "tab-dialpad");
    for (const v of VIEWS.slice(1)) {
      await app.wd.press(Keys.ArrowRight);
      assert.equal(await selectedTab(app), v.tab);
      assert.equal(await focusedId(app), `tab-${v.tab.toLowerCase()}`);
      const [role, name] = v.proof();
      await byRole(app, role, name);
    }
    await app.wd.press(Keys.ArrowRight);
    assert.equal(await selectedTab(app), "Dialpad", "arrows wrap around");
    await app.wd.press(Keys.End);
    assert.equal(await selectedTab(app), "Settings");
    await app.wd.press(Keys.Home);
    assert.equal(await selectedTab(app), "Dialpad");
    // Ctrl+digit opens a view from anywhere.
    await app.wd.press("3", Keys.Control);
    assert.equal(await selectedTab(app), "History");
    await app.wd.press("1", Keys.Control);
    assert.equal(await selectedTab(app), "Dialpad");
    // Tab moves from the tab list into the view.
    await app.wd.press(Keys.Tab);
    const number = await byRole(app, "textbox", "Number");
    assert.ok(app.wd.sameElement(await app.wd.execute("return document.activeElement"), number));
  });

  it("types with the keypad, and makes the echo test call with no account", async () => {
    const number = await byRole(app, "textbox", "Number");
    for (const d of ["1", "0", "0", "2"]) await app.wd.click(await byRole(app, "button", d));
    assert.equal(await app.wd.property(number, "value"), "1002");
    await app.wd.click(await byRole(app, "button", "Delete last digit"));
    assert.equal(await app.wd.property(number, "value"), "100");
    await app.wd.type(number, "7");
    assert.equal(await app.wd.property(number, "value"), "1007");
    await screenshot(app, "dialpad-typed");
    // The echo test needs no server: the app's own local line plays the voice back.
    for (let i = 0; i < 4; i++) await app.wd.press(Keys.Backspace);
    await app.wd.type(number, "echo");
    await app.wd.click(await byRole(app, "button", "Call"));
    const status = () => app.wd.execute("return document.querySelector('.call-status')?.textContent ?? null");
    await waitFor("the echo call to be up", async () => /^\d+:\d\d$/.test((await status()) ?? ""), { timeoutMs: 15_000 });
    assert.equal(await app.wd.execute("return document.querySelector('.callee').textContent"), "echo");
    await screenshot(app, "echo-call");
    await app.wd.click(await byRole(app, "button", "Hang up"));
    await waitFor("the call screen to go", async () => (await status()) === null, { timeoutMs: 10_000 });
    await byRole(app, "textbox", "Number");
  });

  it("every control has an accessible name", async () => {
    for (const v of VIEWS) {
      await app.wd.click(await byRole(app, "tab", v.tab));
      const unnamed = await app.wd.execute(`
        const controls = document.querySelectorAll('button, input, select, textarea, [role=tab], a[href]');
        return [...controls]
          .filter((el) => el.offsetParent !== null)
          .filter((el) => !(el.getAttribute('aria-label') || el.labels?.length || el.getAttribute('aria-labelledby') || el.textContent.trim()))
          .map((el) => el.outerHTML.slice(0, 80));`);
      assert.deepEqual(unnamed, [], `unnamed controls in ${v.tab}`);
    }
  });
});

describe("the theme", () => {
  it("follows the user's choice, is saved in the profile and survives a restart", async () => {
    const user = makeUser("theme");
    let app = await launchApp({ display: display.display, user, name: "theme-1" });
    try {
      assert.equal(await app.wd.execute("return document.documentElement.dataset.theme"), "system");
      await app.wd.click(await byRole(app, "tab", "Settings"));
      await app.wd.click(await byRole(app, "radio", "Dark"));
      await waitFor("dark theme", async () => (await app.wd.execute("return document.documentElement.dataset.theme")) === "dark");
      const bg = await app.wd.execute("return getComputedStyle(document.body).backgroundColor");
      assert.equal(bg, "rgb(18, 22, 28)", "the dark palette is applied");
      // The data folder shown is the profile the test gave the app.
      const dataDir = await app.wd.execute("return document.querySelector('.path')?.textContent");
      assert.equal(dataDir, path.join(user.profile, "data"));
      await screenshot(app, "settings-dark");
    } finally {
      await app.close();
    }
    // The CLI reads the same profile.
    assert.match(runCli("--profile", user.profile, "settings", "show"), /"theme": "dark"/);
    assert.ok(fs.existsSync(path.join(user.profile, "data", "siperb.db")));

    app = await launchApp({ display: display.display, user, name: "theme-2" });
    try {
      assert.equal(await app.wd.execute("return document.documentElement.dataset.theme"), "dark");
      await screenshot(app, "dialpad-dark");
      await app.wd.click(await byRole(app, "tab", "Settings"));
      const dark = await byRole(app, "radio", "Dark");
      assert.equal(await app.wd.property(dark, "checked"), true);
      await app.wd.click(await byRole(app, "radio", "Follow the system"));
      await waitFor("system theme", async () => (await app.wd.execute("return document.documentElement.dataset.theme")) === "system");
    } finally {
      await app.close();
    }
    assert.match(runCli("--profile", user.profile, "settings", "show"), /"theme": "system"/);
  });
});

describe("the shared profile", () => {
  it("shows an account added with siperb-cli, honestly not registered", async () => {
    const user = makeUser("account");
    runCli("--profile", user.profile, "account", "add", "work", "--uri", "sip:alice@127.0.0.1", "--server", "127.0.0.1:5060");
    const app = await launchApp({ display: display.display, user, name: "account" });
    try {
      const status = await byRole(app, "status", "Registration: Not registered");
      assert.equal((await app.wd.text(status)).trim(), "Not registered");
      await app.wd.click(await byRole(app, "tab", "Settings"));
      await waitFor("the account listed", async () => (await app.wd.execute("return document.querySelectorAll('.account').length")) === 1);
      const row = await app.wd.execute(
        "const a = document.querySelector('.account'); return [a.querySelector('.account-name').textContent.trim(), a.querySelector('.account-state').textContent.trim()]",
      );
      assert.deepEqual(row, ["sip:alice@127.0.0.1", "Not registered"]);
      await screenshot(app, "settings-account");
    } finally {
      await app.close();
    }
  });
});

describe("a link the app starts with", () => {
  it("fills the dialpad with the number of a tel: link given at launch", async () => {
    const app = await launchApp({ display: display.display, user: makeUser("link"), name: "link", args: ["tel:+1-555-0100"] });
    try {
      await waitFor("the number from the link", async () =>
        (await app.wd.execute("return document.querySelector('input[aria-label=Number]')?.value ?? ''")) === "+15550100",
      );
    } finally {
      await app.close();
    }
  });
});
