// Real peers for the end-to-end tests, on 127.0.0.1 with free ports, stopped by process group:
// Kamailio (the registrar, from tests/peers/kamailio), a JACK dummy clock, baresip (the far
// phone, driven over ctrl_tcp) and a PulseAudio daemon with null sinks for the app's sound.
import { spawn, execFileSync } from "node:child_process";
import dgram from "node:dgram";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { ROOT, freePort, startDisplay, waitFor } from "./app.mjs";

export const ALICE = { user: "alice", password: "wonderland-7" };
export const BOB = { user: "bob", password: "builder-42" };

function stopGroup(child) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  const exited = new Promise((r) => child.once("exit", r));
  try {
    process.kill(-child.pid, "SIGTERM");
  } catch {
    return Promise.resolve();
  }
  return Promise.race([exited, sleep(5000)]).then(() => {
    try {
      process.kill(-child.pid, "SIGKILL");
    } catch {
      /* gone */
    }
  });
}

/** Kamailio with alice and bob as subscribers (digest MD5), on a free UDP port. */
export async function startKamailio() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "siperb-e2e-kamailio-"));
  const db = path.join(dir, "db");
  fs.mkdirSync(db);
  fs.writeFileSync(path.join(db, "version"), "table_name(string) table_version(int)\nsubscriber:7\n");
  fs.writeFileSync(
    path.join(db, "subscriber"),
    "id(int,auto) username(string) domain(string) password(string) ha1(string) ha1b(string)\n" +
      `1:${ALICE.user}:127.0.0.1:${ALICE.password}:x:x\n2:${BOB.user}:127.0.0.1:${BOB.password}:x:x\n`,
  );
  // The configuration loads TLS: give it a throw-away self-signed certificate.
  execFileSync(
    "openssl",
    ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1", "-keyout", "key.pem", "-out", "cert.pem"],
    { cwd: dir, stdio: "ignore" },
  );
  const tlsCfg = path.join(dir, "tls.cfg");
  fs.writeFileSync(
    tlsCfg,
    `[server:default]\nmethod = TLSv1.2+\nverify_certificate = no\nrequire_certificate = no\nprivate_key = ${dir}/key.pem\ncertificate = ${dir}/cert.pem\n`,
  );
  const port = await freePort();
  let tlsPort = await freePort();
  while (tlsPort === port) tlsPort = await freePort();
  const cfg = fs
    .readFileSync(path.join(ROOT, "tests/peers/kamailio/kamailio.cfg"), "utf8")
    .replace("%%LISTEN%%", `listen=udp:127.0.0.1:${port}\nlisten=tls:127.0.0.1:${tlsPort}`)
    .replace("%%TLSCFG%%", tlsCfg)
    .replace("%%ALGORITHM%%", "MD5")
    .replace("%%IN_DIALOG_AUTH%%", "")
    .replace("%%MEDIA_HOOK%%", "")
    .replace("%%REPLY_ROUTE%%", "")
    .replace("%%DBDIR%%", db);
  fs.writeFileSync(path.join(dir, "kamailio.cfg"), cfg);
  const logPath = path.join(dir, "kamailio.log");
  const log = fs.openSync(logPath, "a");
  const child = spawn(
    "kamailio",
    ["-DD", "-E", "-m", "64", "-M", "8", "-f", path.join(dir, "kamailio.cfg"), "-Y", dir, "-P", path.join(dir, "kamailio.pid")],
    { stdio: ["ignore", "ignore", log], detached: true },
  );
  // Ready when it answers an OPTIONS.
  const sock = dgram.createSocket("udp4");
  await new Promise((r) => sock.bind(0, "127.0.0.1", r));
  let ready = false;
  sock.on("message", (m) => {
    if (m.toString().startsWith("SIP/2.0 200")) ready = true;
  });
  try {
    await waitFor(
      "Kamailio",
      () => {
        const me = sock.address();
        const n = Date.now();
        const msg =
          `OPTIONS sip:127.0.0.1:${port} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${me.port};branch=z9hG4bKe2e${n}\r\n` +
          `From: <sip:probe@127.0.0.1>;tag=1\r\nTo: <sip:127.0.0.1>\r\nCall-ID: e2e${n}\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 5\r\nContent-Length: 0\r\n\r\n`;
        sock.send(msg, port, "127.0.0.1");
        return ready;
      },
      { timeoutMs: 15_000, intervalMs: 200 },
    );
  } catch (e) {
    e.message += `\n${fs.readFileSync(logPath, "utf8").slice(-2000)}`;
    await stopGroup(child);
    throw e;
  } finally {
    sock.close();
  }
  return {
    port,
    log: () => fs.readFileSync(logPath, "utf8"),
    async stop() {
      await stopGroup(child);
      fs.closeSync(log);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A JACK server on the dummy driver: baresip's playback clock without sound hardware. */
export async function startJack() {
  const name = `siperb-e2e-${process.pid}-${await freePort()}`;
  const child = spawn("jackd", ["--no-realtime", "--name", name, "-d", "dummy", "-r", "48000", "-p", "480"], {
    stdio: "ignore",
    detached: true,
  });
  await waitFor(
    "jackd",
    () => {
      try {
        execFileSync("jack_wait", ["-s", name, "-c"], { stdio: "ignore" });
        return true;
      } catch {
        return false;
      }
    },
    { timeoutMs: 10_000, intervalMs: 200 },
  );
  return { name, stop: () => stopGroup(child) };
}

/** A mono 16-bit WAV of `seconds` of a `hz` tone at `rate`. */
export function toneWav(file, hz, seconds, rate = 48000) {
  const n = Math.round(rate * seconds);
  const data = Buffer.alloc(n * 2);
  for (let i = 0; i < n; i++) data.writeInt16LE(Math.round(Math.sin((2 * Math.PI * hz * i) / rate) * 8000), i * 2);
  const h = Buffer.alloc(44);
  h.write("RIFF", 0);
  h.writeUInt32LE(36 + data.length, 4);
  h.write("WAVEfmt ", 8);
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20);
  h.writeUInt16LE(1, 22);
  h.writeUInt32LE(rate, 24);
  h.writeUInt32LE(rate * 2, 28);
  h.writeUInt16LE(2, 32);
  h.writeUInt16LE(16, 34);
  h.write("data", 36);
  h.writeUInt32LE(data.length, 40);
  fs.writeFileSync(file, Buffer.concat([h, data]));
}

/** The samples of a PCM WAV file (the first channel), and its rate. */
export function readWav(file) {
  const b = fs.readFileSync(file);
  let off = 12;
  let rate = 8000;
  let channels = 1;
  let bits = 16;
  let samples = [];
  while (off + 8 <= b.length) {
    const id = b.toString("ascii", off, off + 4);
    const size = b.readUInt32LE(off + 4);
    if (id === "fmt ") {
      channels = b.readUInt16LE(off + 10);
      rate = b.readUInt32LE(off + 12);
      bits = b.readUInt16LE(off + 22);
    } else if (id === "data") {
      const end = Math.min(b.length, off + 8 + size);
      const step = (bits / 8) * channels;
      for (let p = off + 8; p + step <= end; p += step) {
        samples.push(bits === 16 ? b.readInt16LE(p) / 32768 : b.readFloatLE(p));
      }
      break;
    }
    off += 8 + size + (size % 2);
  }
  return { rate, samples };
}

/**
 * The strongest tone in `samples` (Hz: the median period between rising zero crossings, with
 * hysteresis, so a gap or a click does not move it) and its level (RMS, full scale 1), over the
 * loudest second.
 */
export function toneOf({ rate, samples }) {
  let best = { start: 0, rms: 0 };
  for (let s = 0; s + rate <= samples.length; s += rate / 4) {
    let sum = 0;
    for (let i = s; i < s + rate; i++) sum += samples[i] * samples[i];
    const rms = Math.sqrt(sum / rate);
    if (rms > best.rms) best = { start: s, rms };
  }
  const part = samples.slice(best.start, best.start + rate);
  const h = best.rms * 0.3;
  const rises = [];
  let state = 0;
  part.forEach((v, i) => {
    if (v > h && state <= 0) {
      if (state < 0) rises.push(i);
      state = 1;
    } else if (v < -h && state >= 0) {
      state = -1;
    }
  });
  const periods = rises.slice(1).map((r, i) => r - rises[i]).sort((a, b) => a - b);
  const median = periods[Math.floor(periods.length / 2)] ?? 0;
  // The mean of the periods near the median: finer than one sample.
  const near = periods.filter((p) => Math.abs(p - median) <= 1);
  const period = near.reduce((a, b) => a + b, 0) / Math.max(1, near.length);
  return { hz: period > 0 ? rate / period : 0, rms: best.rms };
}

/**
 * baresip registered with Kamailio as `who`, sending `source` (a WAV file), playing on the
 * JACK clock and recording what it hears; answers by itself when `autoAnswer`.
 */
export async function startBaresip({ kamailio, jack, who = BOB, source, autoAnswer = false }) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "siperb-e2e-baresip-"));
  const snd = path.join(dir, "snd");
  fs.mkdirSync(snd);
  const sipPort = await freePort();
  const ctrlPort = await freePort();
  const rtp = 20000 + (sipPort % 2000) * 10;
  fs.writeFileSync(
    path.join(dir, "config"),
    [
      `sip_listen\t\t127.0.0.1:${sipPort}`,
      "net_interface\t\t127.0.0.1",
      `rtp_ports\t\t${rtp}-${rtp + 19}`,
      "module_path\t\t/usr/lib/baresip/modules",
      "module\t\t\topus.so",
      "module\t\t\tg722.so",
      "module\t\t\tg711.so",
      "module\t\t\taufile.so",
      "module\t\t\tjack.so",
      "module\t\t\tsndfile.so",
      "module_app\t\taccount.so",
      "module_app\t\tmenu.so",
      "module_app\t\tctrl_tcp.so",
      `ctrl_tcp_listen\t\t127.0.0.1:${ctrlPort}`,
      `audio_source\t\taufile,${source}`,
      "audio_player\t\tjack,",
      "auplay_format\t\tfloat",
      "auplay_srate\t\t48000",
      "ausrc_srate\t\t48000",
      "jack_connect_ports\tno",
      `snd_path\t\t${snd}`,
      "opus_stereo\t\tno",
      "opus_sprop_stereo\tno",
      "",
    ].join("\n"),
  );
  const answer = autoAnswer ? ";answermode=auto" : "";
  fs.writeFileSync(
    path.join(dir, "accounts"),
    `<sip:${who.user}@127.0.0.1:${kamailio.port};transport=udp>;auth_pass=${who.password};regint=60${answer};audio_codecs=opus/48000/1,g722,pcmu,pcma\n`,
  );
  const logPath = path.join(dir, "baresip.log");
  const log = fs.openSync(logPath, "a");
  const child = spawn("baresip", ["-f", dir], {
    stdio: ["ignore", log, log],
    detached: true,
    env: { ...process.env, JACK_DEFAULT_SERVER: jack.name },
  });
  const logText = () => fs.readFileSync(logPath, "utf8");
  await waitFor("baresip to register", () => logText().includes("200 OK"), { timeoutMs: 15_000 }).catch((e) => {
    e.message += `\n${logText().slice(-2000)}`;
    throw e;
  });
  return {
    log: logText,
    /** The newest recording of what baresip received. */
    heard() {
      const files = fs.readdirSync(snd).filter((f) => f.endsWith("-dec.wav")).map((f) => path.join(snd, f));
      files.sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs);
      return files[0] ?? null;
    },
    /** Sends a ctrl_tcp command; resolves with baresip's response text. */
    command(command, params = "") {
      return new Promise((resolve, reject) => {
        const s = net.connect(ctrlPort, "127.0.0.1");
        const json = JSON.stringify({ command, params, token: "t" });
        let got = "";
        const timer = setTimeout(() => {
          s.destroy();
          reject(new Error(`baresip did not answer ${command}: ${got}`));
        }, 5000);
        s.on("connect", () => s.write(`${Buffer.byteLength(json)}:${json},`));
        s.on("data", (d) => {
          got += d;
          if (got.includes('"response"')) {
            clearTimeout(timer);
            s.end();
            resolve(got);
          }
        });
        s.on("error", (e) => {
          clearTimeout(timer);
          reject(e);
        });
      });
    },
    async stop() {
      await stopGroup(child);
      fs.closeSync(log);
    },
  };
}

/**
 * A PulseAudio daemon for the app's user (its XDG_RUNTIME_DIR and HOME), with a null sink
 * "spk" (Speakers) as the speaker, a null sink "mic" whose monitor is the microphone, and a
 * null sink "desk" (Desk-Speaker) to move a call to; `play(file)` plays a WAV into the
 * microphone over and over.
 */
export async function startPulse(user) {
  const env = { ...process.env, XDG_RUNTIME_DIR: user.runtime, HOME: user.home };
  delete env.PULSE_SERVER;
  const child = spawn(
    "pulseaudio",
    [
      "-n",
      "--daemonize=no",
      "--exit-idle-time=-1",
      "-L",
      "module-native-protocol-unix",
      "-L",
      "module-null-sink sink_name=spk sink_properties=device.description=Speakers",
      "-L",
      "module-null-sink sink_name=mic sink_properties=device.description=Line-feed",
      "-L",
      "module-null-sink sink_name=desk sink_properties=device.description=Desk-Speaker",
      "-L",
      "module-always-sink",
    ],
    { env, stdio: "ignore", detached: true },
  );
  const pactl = (...args) => execFileSync("pactl", args, { env, stdio: "ignore" });
  await waitFor(
    "pulseaudio",
    () => {
      try {
        pactl("info");
        return true;
      } catch {
        return false;
      }
    },
    { timeoutMs: 15_000, intervalMs: 200 },
  );
  pactl("set-default-sink", "spk");
  pactl("set-default-source", "mic.monitor");
  const players = [];
  return {
    play(file) {
      const p = spawn("sh", ["-c", `while true; do paplay -d mic '${file}' || exit 1; done`], { env, stdio: "ignore", detached: true });
      players.push(p);
    },
    /** Records `seconds` of what the app plays on `sink` (the default speaker) into a WAV `file`. */
    async record(file, seconds, sink = "spk") {
      const p = spawn("parecord", ["-d", `${sink}.monitor`, "--file-format=wav", "--channels=1", "--rate=48000", "--format=s16le", file], {
        env,
        stdio: "ignore",
        detached: true,
      });
      await sleep(seconds * 1000);
      await stopGroup(p);
    },
    async stop() {
      for (const p of players) await stopGroup(p);
      await stopGroup(child);
    },
  };
}

/**
 * What a test file of calls shares: an X display, Kamailio and a JACK clock, started before
 * its tests (`setup.display`, `setup.kamailio`, `setup.jack`) and stopped after them.
 */
export function callPeers(before, after) {
  const setup = {};
  before(async () => {
    setup.display = await startDisplay();
    setup.kamailio = await startKamailio();
    setup.jack = await startJack();
  });
  after(async () => {
    await setup.jack?.stop();
    await setup.kamailio?.stop();
    await setup.display?.stop();
  });
  return setup;
}
