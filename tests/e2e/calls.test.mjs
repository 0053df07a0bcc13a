// Calls in the real webview against real peers: an account added through Settings registers
// with Kamailio (the microphone meter moves); the dialpad calls baresip, the call is
// established, baresip hears the app's microphone (a 700 Hz tone played into a PulseAudio null
// sink) and the app plays baresip's 440 Hz, also after the call moves to another speaker;
// baresip calls the app, the popup's Answer connects, baresip's hang-up ends it. (The tray,
// notifications, missed calls and links are in desktop.test.mjs.)
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { launchApp, makeUser, screenshot, waitFor } from "./lib/app.mjs";
import { callStatus, control, signIn } from "./lib/flows.mjs";
import { ALICE, readWav, startBaresip, callPeers, startPulse, toneOf, toneWav } from "./lib/peers.mjs";

const peers = callPeers(before, after);

describe("calls in the app", () => {
  it("signs in from Settings, calls baresip with audio both ways, moves the call to another speaker, and answers baresip from the popup", async () => {
    const user = makeUser("calls");
    const files = fs.mkdtempSync(path.join(os.tmpdir(), "siperb-e2e-tones-"));
    const micTone = path.join(files, "mic-700.wav");
    const farTone = path.join(files, "far-440.wav");
    toneWav(micTone, 700, 5);
    toneWav(farTone, 440, 30);
    const pulse = await startPulse(user);
    pulse.play(micTone);
    const bob = await startBaresip({ kamailio: peers.kamailio, jack: peers.jack, source: farTone, autoAnswer: true });
    const app = await launchApp({ display: peers.display.display, user, name: "calls" });
    try {
      // Sign in through Settings, as a new user would.
      await signIn(app, peers.kamailio, ALICE, { screenshotAs: () => screenshot(app, "settings-sign-in") });
      await waitFor("the status bar to say so", async () =>
        (await app.wd.execute("return document.querySelector('.statusbar')?.textContent ?? ''")).includes("Registered"),
      );
      await screenshot(app, "settings-registered");
      // The microphone meter in Settings moves with the tone played into the microphone.
      await waitFor(
        "the microphone meter to show the tone",
        async () => Number(await app.wd.execute("return document.querySelector('[role=meter]')?.getAttribute('aria-valuenow') ?? -100")) > -40,
        { timeoutMs: 10_000 },
      );
      const mics = await app.wd.execute("return [...document.querySelectorAll('select[aria-label=Microphone] option')].map((o) => o.textContent)");
      assert.ok(mics.length >= 2, `the microphones are listed: ${mics}`);
      await app.wd.execute("document.querySelector('[aria-labelledby=settings-sound]').scrollIntoView()");
      await screenshot(app, "settings-sound");

      // Dial baresip from the dialpad.
      await app.wd.click(await control(app, "tab", "Dialpad"));
      await app.wd.type(await control(app, "textbox", "Number"), "bob");
      await app.wd.click(await control(app, "button", "Call"));
      await waitFor("the call to be up", async () => /^\d+:\d\d$/.test((await callStatus(app)) ?? ""), { timeoutMs: 20_000 });
      assert.equal(await app.wd.execute("return document.querySelector('.callee').textContent"), "bob");
      await waitFor("a quality figure", async () =>
        /Quality: (Excellent|Good|Fair|Poor)/.test(await app.wd.execute("return document.querySelector('.quality')?.textContent ?? ''")),
      );
      // What the app plays: baresip's 440 Hz tone (null sinks deliver in bursts: record 3 s).
      const played = path.join(files, "app-heard.wav");
      await pulse.record(played, 3);
      const appHeard = toneOf(readWav(played));
      assert.ok(appHeard.rms > 0.05, `the app played only ${appHeard.rms.toFixed(3)} RMS`);
      assert.ok(Math.abs(appHeard.hz - 440) < 10, `the app played ${appHeard.hz.toFixed(1)} Hz, not baresip's 440 Hz`);
      await screenshot(app, "call-established");
      // Move the call's sound to the desk speaker from the call screen: baresip is heard there.
      await app.wd.click(await control(app, "button", "Audio devices"));
      await waitFor("the call's speakers listed", async () =>
        app.wd.execute(`const s = document.querySelector('select[aria-label="Call speaker"]');
          const o = s && [...s.options].find((o) => o.text === "Desk-Speaker");
          if (!o) return false;
          s.value = o.value;
          s.dispatchEvent(new Event("change", { bubbles: true }));
          return true;`),
      );
      await waitFor("the engine to report the move", async () =>
        (await app.wd.execute(`const s = document.querySelector('select[aria-label="Call speaker"]'); return s.options[s.selectedIndex]?.text`)) === "Desk-Speaker",
      );
      const onDesk = path.join(files, "desk.wav");
      await pulse.record(onDesk, 3, "desk");
      const deskHeard = toneOf(readWav(onDesk));
      assert.ok(deskHeard.rms > 0.05 && Math.abs(deskHeard.hz - 440) < 10, `the desk speaker played ${deskHeard.hz.toFixed(1)} Hz at ${deskHeard.rms.toFixed(3)} RMS`);
      await screenshot(app, "call-audio-devices");
      await app.wd.click(await control(app, "button", "Mute"));
      await waitFor("Mute pressed", async () =>
        (await app.wd.execute("return [...document.querySelectorAll('.controls button')].find((b) => b.textContent.trim() === 'Mute')?.getAttribute('aria-pressed')")) === "true",
      );
      await app.wd.click(await control(app, "button", "Mute"));
      await app.wd.click(await control(app, "button", "Hang up"));
      await waitFor("the call screen to go", async () => (await callStatus(app)) === null, { timeoutMs: 10_000 });

      // What baresip heard: our microphone's 700 Hz tone, not silence and not its own 440 Hz.
      const heardFile = await waitFor("baresip's recording", () => bob.heard());
      await sleep(500);
      const heard = toneOf(readWav(heardFile));
      assert.ok(heard.rms > 0.05, `baresip heard only ${heard.rms.toFixed(3)} RMS\n${bob.log().slice(-1500)}`);
      assert.ok(Math.abs(heard.hz - 700) < 15, `baresip heard ${heard.hz.toFixed(1)} Hz, not 700 Hz`);

      // baresip calls the app: a popup window appears with the caller and Answer/Decline.
      const main = await app.wd.windowHandle();
      const dialled = await bob.command("dial", `sip:${ALICE.user}@127.0.0.1:${peers.kamailio.port}`);
      assert.match(dialled, /"ok":true/);
      const popup = await waitFor("the popup window", async () => (await app.wd.windowHandles()).find((h) => h !== main), { timeoutMs: 15_000 });
      await app.wd.switchToWindow(popup);
      await waitFor("the caller in the popup", async () =>
        (await app.wd.execute("return document.querySelector('#popup-caller')?.textContent ?? ''")) === "bob",
      );
      assert.equal(await app.wd.title(), "Incoming call");
      await screenshot(app, "popup-incoming", "^Incoming call$");
      // The popup closes as the call is answered, maybe before WebDriver hears back.
      await app.wd.click(await control(app, "button", "Answer")).catch((e) => {
        if (!/no such window/.test(e.message)) throw e;
      });
      // The popup closes; the main window shows the call, up.
      await waitFor("the popup to close", async () => !(await app.wd.windowHandles()).includes(popup), { timeoutMs: 10_000 });
      await app.wd.switchToWindow(main);
      await waitFor("the answered call to be up", async () => /^\d+:\d\d$/.test((await callStatus(app)) ?? ""), { timeoutMs: 10_000 });
      await screenshot(app, "call-answered");
      // baresip hangs up: the call ends in the app.
      assert.match(await bob.command("hangup"), /"ok":true/);
      await waitFor("the call to end", async () => (await callStatus(app)) === null, { timeoutMs: 10_000 });
    } finally {
      await app.close();
      await bob.stop();
      await pulse.stop();
    }
  });
});
