// The app on a desktop session (Xvfb, a session bus with a status-notifier watcher, dunst and a
// keyring): the tray icon and its menu are read and clicked over D-Bus; a call baresip gives
// up on rings in a popup and a notification with Answer/Decline, then is missed: History and
// the tray show it and a "Missed call" notification goes out; Do Not Disturb from the tray
// turns the next call away busy; a call is answered from its notification's Answer action (dunst);
// "Start at login" writes (and removes) an XDG autostart entry;
// `gio open tel:…` reaches the running instance and fills the
// dialpad, and with "links call at once" a sip: link dials.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { SCREENSHOTS, launchApp, makeUser, screenshot, waitFor } from "./lib/app.mjs";
import { callStatus, control, signIn } from "./lib/flows.mjs";
import { ALICE, startBaresip, callPeers, startPulse, toneWav } from "./lib/peers.mjs";

const peers = callPeers(before, after);

/** Runs a command on the app's session bus and desktop environment. */
function onSession(app, cmd, ...args) {
  const bus = fs.readFileSync(path.join(app.user.base, "bus"), "utf8").trim();
  return execFileSync(cmd, args, { encoding: "utf8", env: { ...app.env, DBUS_SESSION_BUS_ADDRESS: bus } });
}

/** The app's status-notifier item: its bus name and object path. */
async function trayItem(app) {
  return waitFor(
    "the tray icon to register with the watcher",
    () => {
      const out = onSession(
        app,
        "gdbus",
        "call", "--session", "--dest", "org.kde.StatusNotifierWatcher", "--object-path", "/StatusNotifierWatcher",
        "--method", "org.freedesktop.DBus.Properties.Get", "org.kde.StatusNotifierWatcher", "RegisteredStatusNotifierItems",
      );
      // An item registers as "name/path", or just its bus name: then find its object.
      const m = /'([^'/]+)(\/[^']*)?'/.exec(out);
      if (!m) return null;
      if (m[2]) return { dest: m[1], path: m[2] };
      const tree = onSession(app, "gdbus", "introspect", "--session", "--dest", m[1], "--object-path", "/", "--recurse");
      let node = null;
      for (const line of tree.split("\n")) {
        const n = /^\s*node (\S+) \{/.exec(line);
        if (n) node = n[1];
        if (line.includes("interface org.kde.StatusNotifierItem ")) return { dest: m[1], path: node };
      }
      return null;
    },
    { timeoutMs: 20_000, intervalMs: 300 },
  );
}

function itemProperty(app, item, name) {
  return onSession(
    app,
    "gdbus",
    "call", "--session", "--dest", item.dest, "--object-path", item.path,
    "--method", "org.freedesktop.DBus.Properties.Get", "org.kde.StatusNotifierItem", name,
  );
}

/** The tray menu's items: id, label and (for check items) state. */
function menuItems(app, item) {
  const menuPath = /objectpath '([^']+)'/.exec(itemProperty(app, item, "Menu"))?.[1];
  assert.ok(menuPath, "the tray item has a menu");
  const layout = onSession(
    app,
    "gdbus",
    "call", "--session", "--dest", item.dest, "--object-path", menuPath, "--method", "com.canonical.dbusmenu.GetLayout", "--", "0", "-1", "[]",
  );
  const items = [];
  for (const m of layout.matchAll(/<\((\d+), \{([^}]*)\}/g)) {
    const label = /'label': <'([^']*)'>/.exec(m[2])?.[1];
    if (label === undefined) continue;
    const state = /'toggle-state': <(\d+)>/.exec(m[2])?.[1];
    items.push({ id: Number(m[1]), label: label.replace(/_/g, ""), checked: state === undefined ? null : state === "1" });
  }
  return {
    items,
    click(label) {
      const it = items.find((i) => i.label === label);
      assert.ok(it, `a "${label}" item in ${JSON.stringify(items)}`);
      onSession(
        app,
        "gdbus",
        "call", "--session", "--dest", item.dest, "--object-path", menuPath, "--method", "com.canonical.dbusmenu.Event",
        String(it.id), "clicked", "<0>", "0",
      );
    },
  };
}

const notifications = (app) => fs.readFileSync(path.join(app.user.base, "notifications.log"), "utf8");
const popupCount = async (app, main) => (await app.wd.windowHandles()).filter((h) => h !== main).length;
const checkbox = (app, text) =>
  app.wd.execute(`return [...document.querySelectorAll('.switches label')].find((l) => l.textContent.includes(${JSON.stringify(text)}))?.querySelector('input')`);

describe("the app on the desktop", () => {
  it("has a tray, shows and notifies a missed call, obeys Do Not Disturb and takes tel:/sip: links", async () => {
    const user = makeUser("desktop");
    const files = fs.mkdtempSync(path.join(os.tmpdir(), "siperb-e2e-desktop-"));
    const tone = path.join(files, "far.wav");
    toneWav(tone, 440, 30);
    const pulse = await startPulse(user);
    const bob = await startBaresip({ kamailio: peers.kamailio, jack: peers.jack, source: tone });
    const app = await launchApp({ display: peers.display.display, user, name: "desktop", desktop: true });
    try {
      const main = await app.wd.windowHandle();
      await signIn(app, peers.kamailio, ALICE);

      // The tray: registered with the watcher, with its menu.
      const item = await trayItem(app);
      const menu = menuItems(app, item);
      assert.deepEqual(
        menu.items.map((i) => i.label),
        ["Show Siperb", "Do Not Disturb", "Quit"],
      );
      assert.equal(menu.items.find((i) => i.label === "Do Not Disturb").checked, false);
      const icon = /'([^']+)'/.exec(itemProperty(app, item, "IconName"))?.[1];
      const themePath = /'([^']*)'/.exec(itemProperty(app, item, "IconThemePath"))?.[1] ?? "";
      fs.mkdirSync(SCREENSHOTS, { recursive: true });
      const iconFile = [icon, path.join(themePath, `${icon}.png`)].find((f) => f && fs.existsSync(f));
      if (iconFile) fs.copyFileSync(iconFile, path.join(SCREENSHOTS, "tray-icon-registered.png"));

      // A call that rings and is given up: popup, notification with actions, then missed.
      const me = `sip:${ALICE.user}@127.0.0.1:${peers.kamailio.port}`;
      assert.match(await bob.command("dial", me), /"ok":true/);
      await waitFor("the popup", async () => (await popupCount(app, main)) === 1, { timeoutMs: 15_000 });
      await waitFor("the ringing notification", () => /"Incoming call"/.test(notifications(app)), { timeoutMs: 10_000 });
      const ringing = notifications(app);
      for (const word of ['"bob"', '"answer"', '"Answer"', '"decline"', '"Decline"']) {
        assert.ok(ringing.includes(word), `${word} in the notification:\n${ringing.slice(-2000)}`);
      }
      await sleep(1000);
      assert.match(await bob.command("hangup"), /"ok":true/);
      await waitFor("the popup to go", async () => (await popupCount(app, main)) === 0, { timeoutMs: 10_000 });
      await waitFor("the missed-call notification", () => /"Missed call"/.test(notifications(app)), { timeoutMs: 10_000 });
      const tab = await app.wd.find("#tab-history");
      await waitFor("the History badge", async () => /^History\s*1 missed$/.test((await app.wd.computedLabel(tab)).trim()));
      await waitFor("the tray's count", () => /'1'/.test(itemProperty(app, item, "XAyatanaLabel")), { timeoutMs: 10_000 });
      const badged = /'([^']+)'/.exec(itemProperty(app, item, "IconName"))?.[1];
      assert.notEqual(badged, icon, "the tray icon changed for the missed call");
      const badgedFile = [badged, path.join(themePath, `${badged}.png`)].find((f) => f && fs.existsSync(f));
      if (badgedFile) fs.copyFileSync(badgedFile, path.join(SCREENSHOTS, "tray-icon-missed.png"));
      await app.wd.click(tab);
      await waitFor("the missed call listed", async () =>
        (await app.wd.execute("return [...document.querySelectorAll('[aria-label=Calls] li')].map((li) => li.textContent)")).some((t) => /Missed/.test(t)),
      );
      await screenshot(app, "history-missed");

      // Do Not Disturb from the tray: the setting follows, and the next call is turned away busy.
      menu.click("Do Not Disturb");
      await app.wd.click(await control(app, "tab", "Settings"));
      await waitFor("Do not disturb on in Settings", async () => (await app.wd.property(await checkbox(app, "Do not disturb"), "checked")) === true);
      assert.equal(menuItems(app, item).items.find((i) => i.label === "Do Not Disturb").checked, true);
      await screenshot(app, "settings-dnd");
      const before = bob.log().length;
      assert.match(await bob.command("dial", me), /"ok":true/);
      await waitFor("baresip to hear busy", () => /486 Busy Here/.test(bob.log().slice(before)), { timeoutMs: 10_000 });
      assert.equal(await popupCount(app, main), 0, "no popup while do not disturb is on");
      menu.click("Do Not Disturb");
      await waitFor("Do not disturb off", async () => (await app.wd.property(await checkbox(app, "Do not disturb"), "checked")) === false);

      // Answer from the notification's own Answer action (dunst's context menu picks it).
      fs.writeFileSync(path.join(user.base, "dmenu-choice"), "Answer");
      const ringsBefore = (notifications(app).match(/"Incoming call"/g) ?? []).length;
      assert.match(await bob.command("dial", me), /"ok":true/);
      await waitFor("the second ringing notification", () => (notifications(app).match(/"Incoming call"/g) ?? []).length > ringsBefore, {
        timeoutMs: 10_000,
      });
      await sleep(500);
      onSession(app, "dunstctl", "context");
      await app.wd.switchToWindow(main);
      await waitFor("the call answered from the notification", async () => /^\d+:\d\d$/.test((await callStatus(app)) ?? ""), { timeoutMs: 10_000 });
      assert.match(await bob.command("hangup"), /"ok":true/);
      await waitFor("that call to end", async () => (await callStatus(app)) === null, { timeoutMs: 10_000 });
      await app.wd.click(await control(app, "tab", "Settings"));

      // Start at login: an XDG autostart entry that starts the app in the tray, and it goes again.
      const autostart = path.join(user.home, ".config/autostart/siperb-desktop.desktop");
      await app.wd.click(await checkbox(app, "Start at login"));
      await waitFor("the autostart entry", () => fs.existsSync(autostart));
      assert.match(fs.readFileSync(autostart, "utf8"), /^Exec=".*siperb-desktop" --minimized$/m);
      await app.wd.click(await checkbox(app, "Start at login"));
      await waitFor("the autostart entry gone", () => !fs.existsSync(autostart));

      // A tel: link opened by the desktop reaches this instance and fills the dialpad.
      onSession(app, "gio", "open", "tel:bob");
      await waitFor("the dialpad with the number", async () => {
        const field = await app.wd.execute("return document.querySelector('input[aria-label=Number]')?.value ?? null");
        return field === "bob";
      }, { timeoutMs: 15_000 });
      await screenshot(app, "dialpad-from-link");

      // With "links call at once", a sip: link dials.
      await app.wd.click(await control(app, "tab", "Settings"));
      await app.wd.click(await checkbox(app, "call at once"));
      await waitFor("the setting saved", async () => (await app.wd.property(await checkbox(app, "call at once"), "checked")) === true);
      onSession(app, "gio", "open", `sip:bob@127.0.0.1:${peers.kamailio.port}`);
      await waitFor("the call from the link", async () => /^(Calling…|Ringing…)$/.test((await callStatus(app)) ?? ""), { timeoutMs: 15_000 });
      assert.equal(await app.wd.execute("return document.querySelector('.callee').textContent"), "bob");
      await app.wd.click(await control(app, "button", "Hang up"));
      await waitFor("the call screen to go", async () => (await callStatus(app)) === null, { timeoutMs: 10_000 });
    } catch (e) {
      e.message += `\n--- app log ---\n${fs.readFileSync(app.logPath, "utf8").slice(-3000)}`;
      const menuInput = path.join(user.base, "dmenu-input");
      if (fs.existsSync(menuInput)) e.message += `\n--- dunst's menu ---\n${fs.readFileSync(menuInput, "utf8")}`;
      throw e;
    } finally {
      await app.close();
      await bob.stop();
      await pulse.stop();
    }
  });
});
