// The installers: `npx tauri build` made a .deb and an .rpm whose desktop entry launches the app
// with the link (%u) and claims the tel:, sip: and callto: schemes.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ROOT } from "./lib/app.mjs";

const BUNDLE = path.join(ROOT, "target/release/bundle");
const SCHEMES = ["x-scheme-handler/tel", "x-scheme-handler/sip", "x-scheme-handler/callto"];

function only(dir, ext) {
  const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith(ext)) : [];
  assert.equal(files.length, 1, `one ${ext} in ${dir}, found: ${files.join(", ") || "none"}`);
  return path.join(dir, files[0]);
}

function checkDesktopEntry(file) {
  const text = fs.readFileSync(file, "utf8");
  const exec = text.match(/^Exec=(.*)$/m)?.[1];
  assert.ok(exec, "Exec line");
  assert.match(exec, /^siperb-desktop %u$/, "Exec passes the link to the app");
  const mime = text.match(/^MimeType=(.*)$/m)?.[1]?.split(";").filter(Boolean) ?? [];
  for (const s of SCHEMES) assert.ok(mime.includes(s), `${s} in MimeType (${mime})`);
  // desktop-file-validate prints nothing and exits 0 for a valid entry.
  execFileSync("desktop-file-validate", [file]);
}

describe("installers", () => {
  it("the .deb installs the binary, the icon and a desktop entry that takes tel:/sip:/callto: links", () => {
    const deb = only(path.join(BUNDLE, "deb"), ".deb");
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "siperb-deb-"));
    execFileSync("dpkg-deb", ["-x", deb, dir]);
    assert.ok(fs.statSync(path.join(dir, "usr/bin/siperb-desktop")).mode & 0o111, "executable");
    const apps = fs.readdirSync(path.join(dir, "usr/share/applications"));
    assert.equal(apps.length, 1, apps.join(", "));
    checkDesktopEntry(path.join(dir, "usr/share/applications", apps[0]));
    assert.ok(fs.existsSync(path.join(dir, "usr/share/icons/hicolor/128x128/apps/siperb-desktop.png")));
    const info = execFileSync("dpkg-deb", ["-f", deb, "Package", "Version", "Depends"], { encoding: "utf8" });
    assert.match(info, /Version: 0\.1\.0/);
    assert.match(info, /libwebkit2gtk-4\.1/);
  });

  it("the .rpm carries the same desktop entry", () => {
    const rpm = only(path.join(BUNDLE, "rpm"), ".rpm");
    const listing = execFileSync("rpm", ["-qlp", rpm], { encoding: "utf8" });
    assert.match(listing, /^\/usr\/bin\/siperb-desktop$/m);
    const entry = listing.split("\n").find((l) => l.startsWith("/usr/share/applications/") && l.endsWith(".desktop"));
    assert.ok(entry, listing);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "siperb-rpm-"));
    execFileSync("sh", ["-c", `rpm2cpio "$1" | cpio -idm --quiet`, "sh", rpm], { cwd: dir });
    checkDesktopEntry(path.join(dir, entry));
  });
});
