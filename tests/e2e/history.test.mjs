// The History view in the real webview, over calls really made on the profile by siperb-cli
// (the app and the CLI share it): an answered outgoing call and a missed incoming one are
// listed, the History tab shows the missed count, search narrows the list as you type, and
// marking the missed calls seen takes the badge away.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Keys } from "./lib/webdriver.mjs";
import { CLI_BINARY, byRole, freePort, launchApp, makeUser, runCli, screenshot, startDisplay, waitFor } from "./lib/app.mjs";

let display;

before(async () => {
  display = await startDisplay();
});

after(async () => {
  await display?.stop();
});

/** `siperb-cli listen` on `profile` at `port` (no sound devices), once it listens; stopped by PID. */
async function listen(profile, port, extra = []) {
  const child = spawn(
    CLI_BINARY,
    ["--profile", profile, "--json", "listen", "--no-audio", "--no-ring", "--bind", `127.0.0.1:${port}`, ...extra],
    { stdio: ["ignore", "pipe", "inherit"], env: { ...process.env, SIPERB_PROFILE: "", USER: "bob" } },
  );
  let out = "";
  child.stdout.on("data", (d) => (out += d));
  await waitFor("the listener", () => out.includes("listening"));
  return {
    output: () => out,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGINT");
      await exited;
    },
  };
}

describe("the History view", () => {
  it("lists the profile's calls, counts the missed ones and searches as you type", async () => {
    const user = makeUser("history");
    const other = fs.mkdtempSync(path.join(os.tmpdir(), "siperb-e2e-other-"));
    runCli("--profile", user.profile, "contacts", "add", "Carol Jones", "--sip", "sip:carol@127.0.0.1");

    // An outgoing call from this profile, answered by a listener elsewhere.
    const farPort = await freePort();
    const far = await listen(other, farPort, ["--auto-answer"]);
    try {
      runCli("--profile", user.profile, "call", "--no-audio", "--duration", "1", `sip:bob@127.0.0.1:${farPort}`);
    } finally {
      await far.stop();
    }
    // An incoming call to this profile that Carol gives up on: missed.
    const herePort = await freePort();
    const here = await listen(user.profile, herePort);
    try {
      const carol = spawn(CLI_BINARY, ["--profile", other, "call", "--no-audio", `sip:bob@127.0.0.1:${herePort}`], {
        stdio: "ignore",
        env: { ...process.env, SIPERB_PROFILE: "", USER: "carol" },
      });
      await waitFor("the incoming call", () => here.output().includes("incoming_call"));
      const gone = new Promise((r) => carol.once("exit", r));
      carol.kill("SIGINT");
      await gone;
      await waitFor("the missed call", () => here.output().includes("call_ended"));
      await sleep(300);
    } finally {
      await here.stop();
    }

    const app = await launchApp({ display: display.display, user, name: "history" });
    try {
      // The tab names the missed count (its badge reads "1 missed" to a screen reader).
      const tab = await app.wd.find("#tab-history");
      await waitFor("the missed badge", async () => /^History\s*1 missed$/.test((await app.wd.computedLabel(tab)).trim()));
      await app.wd.click(tab);
      const rows = async () =>
        app.wd.execute("return [...document.querySelectorAll('[aria-label=Calls] li')].map((li) => li.textContent.replace(/\\s+/g, ' ').trim())");
      await waitFor("two calls listed", async () => (await rows()).length === 2);
      const [missed, outgoing] = await rows();
      assert.match(missed, /^Carol Jones .*Missed/, "the contact's name, and what happened");
      assert.match(outgoing, /^bob .*Outgoing 0:0[12]/, "an answered call with its talk time");
      await screenshot(app, "history-calls");

      // Search as you type.
      const search = await byRole(app, "searchbox", "Search history");
      await app.wd.type(search, "caro");
      await waitFor("only Carol", async () => {
        const r = await rows();
        return r.length === 1 && r[0].startsWith("Carol Jones");
      });
      for (let i = 0; i < 4; i++) await app.wd.press(Keys.Backspace);
      await waitFor("both again", async () => (await rows()).length === 2);

      // Seen: the badge goes.
      await app.wd.click(await byRole(app, "button", "Mark 1 missed as seen"));
      await waitFor("the badge gone", async () => (await app.wd.computedLabel(tab)).trim() === "History");
      const badge = await app.wd.execute("return document.querySelector('#tab-history .badge')");
      assert.equal(badge, null);
      await screenshot(app, "history-seen");
    } finally {
      await app.close();
    }
    // The CLI sees the same: nothing unseen.
    assert.doesNotMatch(runCli("--profile", user.profile, "history", "--missed"), /not seen yet/);
  });
});
