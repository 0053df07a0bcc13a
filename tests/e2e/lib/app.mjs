// Starts the release-built app the way a user's desktop would, but sealed off: its own Xvfb
// display, its own D-Bus session (dbus-run-session), temp HOME/XDG dirs and a temp profile, and
// drives it through tauri-driver + WebKitWebDriver. Everything is stopped by PID.
import { spawn, execFileSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { WebDriver } from "./webdriver.mjs";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
export const APP_BINARY = process.env.SIPERB_APP_BINARY ?? path.join(ROOT, "target/release/siperb-desktop");
export const CLI_BINARY = process.env.SIPERB_CLI_BINARY ?? path.join(ROOT, "target/debug/siperb-cli");
export const ARTIFACTS = process.env.SIPERB_ARTIFACTS ?? path.join(ROOT, "artifacts");
export const SCREENSHOTS = path.join(ARTIFACTS, "screenshots");

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

export async function waitFor(what, fn, { timeoutMs = 20_000, intervalMs = 100 } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ""}`);
    await sleep(intervalMs);
  }
}

function killGroup(child, signal = "SIGTERM") {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    /* already gone */
  }
}

async function stopGroup(child) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  killGroup(child, "SIGTERM");
  const done = await Promise.race([exited.then(() => true), sleep(5_000).then(() => false)]);
  if (!done) {
    killGroup(child, "SIGKILL");
    await exited;
  }
}

/** One Xvfb server per test file; it picks a free display number itself (-displayfd). */
export async function startDisplay() {
  const child = spawn("Xvfb", ["-displayfd", "3", "-screen", "0", "1280x800x24", "-nolisten", "tcp"], {
    stdio: ["ignore", "ignore", "pipe", "pipe"],
    detached: true,
  });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  const display = await new Promise((resolve, reject) => {
    let out = "";
    child.stdio[3].on("data", (d) => {
      out += d;
      if (out.includes("\n")) resolve(`:${out.trim()}`);
    });
    child.once("exit", (code) => reject(new Error(`Xvfb exited (${code}): ${stderr}`)));
  });
  return { display, stop: () => stopGroup(child) };
}

/** A fresh user: temp HOME, XDG dirs and Siperb profile. */
export function makeUser(name) {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), `siperb-e2e-${name}-`));
  const dirs = {
    base,
    home: path.join(base, "home"),
    profile: path.join(base, "profile"),
    runtime: path.join(base, "runtime"),
  };
  for (const d of Object.values(dirs)) fs.mkdirSync(d, { recursive: true, mode: 0o700 });
  return dirs;
}

/**
 * Launches the app for `user` on `display` and returns a WebDriver session on its main window,
 * once the UI has heard from the engine.
 */
export async function launchApp({ display, user, name, desktop = false, args = [] }) {
  if (!fs.existsSync(APP_BINARY)) {
    throw new Error(`${APP_BINARY} is missing: build it with \`npx tauri build\` first`);
  }
  const logDir = path.join(ARTIFACTS, "logs", "e2e");
  fs.mkdirSync(logDir, { recursive: true });
  const logPath = path.join(logDir, `${name}.log`);
  const log = fs.openSync(logPath, "a");
  const port = await freePort();
  const nativePort = await freePort();
  const env = {
    PATH: process.env.PATH,
    LANG: "C.UTF-8",
    DISPLAY: display,
    HOME: user.home,
    XDG_RUNTIME_DIR: user.runtime,
    XDG_DATA_HOME: path.join(user.home, ".local/share"),
    XDG_CONFIG_HOME: path.join(user.home, ".config"),
    XDG_CACHE_HOME: path.join(user.home, ".cache"),
    SIPERB_PROFILE: user.profile,
    SIPERB_LOG: "info",
    // Software rendering: there is no GPU under Xvfb.
    WEBKIT_DISABLE_DMABUF_RENDERER: "1",
    LIBGL_ALWAYS_SOFTWARE: "1",
  };
  // The session bus has a real keyring daemon (unlocked), where the app keeps passwords. With
  // `desktop`, it also has what a desktop provides: a status-notifier watcher (the tray), a
  // notification daemon (dunst), and a log of the notifications sent; its address is saved
  // for the test's own D-Bus calls.
  if (desktop) {
    // dunst's context menu (`dunstctl context`) asks "dmenu" to choose an action: this one
    // picks the line naming the action in the file `dmenu-choice` (for a test to set).
    const pick = path.join(user.base, "dmenu-pick.sh");
    fs.writeFileSync(pick, `#!/bin/sh\ntee -a '${user.base}/dmenu-input' | grep -F -m1 -- "$(cat '${user.base}/dmenu-choice' 2>/dev/null)"\n`, { mode: 0o755 });
    fs.writeFileSync(path.join(user.base, "dunstrc"), `[global]\n    dmenu = ${pick}\n`);
  }
  const desktopPart = desktop
    ? `status-notifier-watcher >/dev/null 2>&1 & dunst -config '${user.base}/dunstrc' >/dev/null 2>&1 & ` +
      `dbus-monitor "interface='org.freedesktop.Notifications'" > '${user.base}/notifications.log' 2>&1 & ` +
      `printf '%s' "$DBUS_SESSION_BUS_ADDRESS" > '${user.base}/bus'; `
    : "";
  const driver = spawn(
    "dbus-run-session",
    [
      "--",
      "sh",
      "-c",
      `printf 'e2e-unlock' | gnome-keyring-daemon --unlock --components=secrets >/dev/null && ${desktopPart}exec tauri-driver --port ${port} --native-port ${nativePort}`,
    ],
    { env, stdio: ["ignore", log, log], detached: true },
  );
  const wd = new WebDriver(port);
  const app = {
    wd,
    user,
    display,
    logPath,
    env,
    async close() {
      try {
        await wd.quit();
      } catch {
        /* the app may already be gone */
      }
      await stopGroup(driver);
      fs.closeSync(log);
    },
  };
  try {
    await waitFor("tauri-driver", async () => (await wd.status()) !== undefined, { timeoutMs: 15_000 });
    await wd.start(APP_BINARY, args);
    await waitFor(
      "the UI to hear from the engine",
      async () => {
        const text = await wd.execute(`return document.querySelector('[role=status]')?.textContent ?? ''`);
        return text && !text.includes("Starting") ? text : null;
      },
      { timeoutMs: 30_000 },
    );
  } catch (e) {
    await app.close();
    e.message += `\n(log: ${logPath})\n${fs.readFileSync(logPath, "utf8").slice(-3000)}`;
    throw e;
  }
  return app;
}

/**
 * Saves a PNG of the app's main window as the X server shows it, to artifacts/screenshots/NAME.png.
 * (WebKitWebDriver's own screenshot command hangs after the page's layout changes under Xvfb, and
 * the X server's pixels are what a person would see anyway.)
 */
export async function screenshot(app, name, title = "^Siperb$") {
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  const file = path.join(SCREENSHOTS, `${name}.png`);
  // Let the last change paint.
  await app.wd.execute("return new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))");
  const env = { ...process.env, DISPLAY: app.display };
  const id = execFileSync("xdotool", ["search", "--onlyvisible", "--name", title], { env, encoding: "utf8" })
    .trim()
    .split("\n")[0];
  execFileSync("import", ["-window", id, file], { env });
  return file;
}

/**
 * The visible element with `role` whose accessible name is `name`, as the accessibility tree
 * computes it (WebDriver's computed label). Fails if there is none or more than one.
 */
export async function byRole(app, role, name) {
  const selectors = {
    button: "button, [role=button]",
    tab: "[role=tab]",
    textbox: "input[type=text], input:not([type]), textarea, [role=textbox]",
    searchbox: "input[type=search], [role=searchbox]",
    checkbox: "input[type=checkbox], [role=checkbox]",
    radio: "input[type=radio], [role=radio]",
    status: "[role=status]",
    heading: "h1, h2, h3, [role=heading]",
  };
  const css = selectors[role];
  if (!css) throw new Error(`unknown role ${role}`);
  const found = [];
  for (const el of await app.wd.findAll(css)) {
    if (!(await app.wd.displayed(el))) continue;
    if ((await app.wd.computedLabel(el)).trim() === name) found.push(el);
  }
  if (found.length !== 1) throw new Error(`expected one visible ${role} named "${name}", found ${found.length}`);
  return found[0];
}

export function runCli(...args) {
  return execFileSync(CLI_BINARY, args, { encoding: "utf8", env: { ...process.env, SIPERB_PROFILE: "" } });
}
