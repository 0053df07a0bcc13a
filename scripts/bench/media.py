#!/usr/bin/env python3
"""Media benchmark: Siperb's CLI and baresip side by side, in one run.

For each phone, two instances (caller A, callee B) register with one Kamailio and call each
other; their media goes through a user-space relay (scripts/bench/relay.py) that is clean in one
call and loses 5 % of packets with 20 +- 10 ms jitter in the other. Both phones' microphones and
speakers are ports of one JACK dummy server, so one sample clock paces both and this script
plays the test programme into both microphones and records both speakers on the same timeline:
- mouth-to-ear delay: a train of short chirps, each found in the recording by cross-correlation;
- PESQ (ITU-T P.862.2 wideband, PyPI `pesq`) of speech after time alignment: by default a
  woman's recorded voice (the channel announcements alsa-utils ships in /usr/share/sounds/alsa),
  or espeak-ng's synthetic voice (--speech espeak), which no codec renders well;
- the same speech through Opus alone, offline (crates/media/examples/opus_offline.rs: our codec
  settings, no network, no jitter buffer): the ceiling the pipeline is measured against;
- CPU per call (% of one core: the scheduler's exact run time of all the phone's threads over the
  talking part, /proc/PID/task/*/schedstat) and memory (RSS, peak) of
  each phone process, from /proc.
Both phones are native JACK clients: our CLI with one client per call (SIPERB_AUDIO_HOST=jack),
baresip through its jack module (a client for its source and one for its player).

Run it through scripts/bench-media.sh, which installs what it needs and builds the CLI.
"""

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import wave
from pathlib import Path

import jack
import numpy as np
from pesq import pesq
from scipy.signal import correlate, resample_poly

REPO = Path(__file__).resolve().parents[2]
RATE = 48000
USERS = {"alice": "wonderland-7", "bob": "builder-42", "carol": "singer-93", "dave": "diver-55"}
# RTP port ranges: each phone instance its own, so the relay knows every port in advance.
PORTS = {"A": (31000, 31019), "B": (31020, 31039)}
RELAY_OFFSET = 10000
SENTENCES = [
    "The birch canoe slid on the smooth planks.",
    "Glue the sheet to the dark blue background.",
    "It is easy to tell the depth of a well.",
    "These days a chicken leg is a rare dish.",
    "Rice is often served in round bowls.",
    "The juice of lemons makes fine punch.",
    "The box was thrown beside the parked truck.",
    "The hogs were fed chopped corn and garbage.",
]


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def free_port(kind=socket.SOCK_DGRAM):
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Proc:
    """A child in its own process group, stopped with the whole group (and at exit, whatever
    happened: see `Proc.everyone`)."""

    everyone = []

    def __init__(self, args, log_path, env=None, stdin=subprocess.DEVNULL, stdout=None):
        Proc.everyone.append(self)
        self.log_path = log_path
        self.log = open(log_path, "wb")
        self.p = subprocess.Popen(args, env=env, stdin=stdin,
                                  stdout=stdout if stdout is not None else self.log,
                                  stderr=self.log, start_new_session=True)

    @property
    def pid(self):
        return self.p.pid

    def stop(self, timeout=5, sig=signal.SIGTERM):
        if self.p.poll() is None:
            try:
                os.killpg(self.p.pid, sig)
            except ProcessLookupError:
                pass
            try:
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.p.pid, signal.SIGKILL)
                self.p.wait()
        if not self.log.closed:
            self.log.close()

    def text(self):
        try:
            return Path(self.log_path).read_text(errors="replace")
        except OSError:
            return ""


def task_ns(task):
    """A thread's time on a CPU (ns), from the scheduler's own accounting (/proc/.../schedstat):
    exact, where utime/stime are sampled at 100 Hz and a 20 s call's figure moved by +-0.3 %."""
    return int((task / "schedstat").read_text().split()[0])


def threads(pid):
    """Per thread (by name; threads of one name summed): CPU ns and context switches."""
    out = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            stat = (task / "stat").read_text()
            status = (task / "status").read_text()
            ns = task_ns(task)
        except OSError:
            continue  # the thread ended
        name = stat.split("(", 1)[1].rsplit(")", 1)[0]
        switches = sum(int(line.split()[1]) for line in status.splitlines()
                       if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")))
        t, w = out.get(name, (0, 0))
        out[name] = (t + ns, w + switches)
    return out


def cpu_ns(per_thread):
    """All threads' CPU ns, from a `threads` snapshot."""
    return sum(ns for ns, _ in per_thread.values())


def thread_use(before, after, seconds):
    """CPU % of one core and wake-ups (context switches) per second, per thread name."""
    out = {}
    for name, (t1, w1) in after.items():
        t0, w0 = before.get(name, (0, 0))
        cpu = 100.0 * (t1 - t0) / 1e9 / seconds
        if cpu > 0.01 or (w1 - w0) / seconds > 1:
            out[name] = {"cpu_pct": round(cpu, 3), "switches_per_s": round((w1 - w0) / seconds)}
    return out


def memory_kib(pid):
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM", "RssAnon"):
            out[key] = int(value.split()[0])
    return out


# ---------------------------------------------------------------------------------------------
# The test programme
# ---------------------------------------------------------------------------------------------

def chirp():
    """A 12 ms rising chirp (500 Hz to 3 kHz), Hann-windowed: short and codec-proof."""
    n = int(0.012 * RATE)
    t = np.arange(n) / RATE
    f0, f1 = 500.0, 3000.0
    phase = 2 * np.pi * (f0 * t + (f1 - f0) / (2 * t[-1]) * t * t)
    return (0.5 * np.sin(phase) * np.hanning(n)).astype(np.float32)


# Recorded human speech on every Debian machine with alsa-utils: eight short announcements.
VOICE_DIR = Path("/usr/share/sounds/alsa")
VOICE = ["Front_Center", "Front_Left", "Front_Right", "Rear_Center", "Rear_Left", "Rear_Right",
         "Side_Left", "Side_Right"]


def to_float48(src, out):
    subprocess.run(["sox", str(src), "-t", "raw", "-e", "floating-point", "-b", "32", "-c", "1",
                    "-r", str(RATE), str(out)], check=True, capture_output=True)
    return np.fromfile(out, dtype=np.float32)


def speech(work, kind):
    """Speech at 48 kHz, levelled to -26 dBov (active speech): the recorded voice (about 15 s,
    the announcements 0.5 s apart) or espeak-ng (about 16 s)."""
    if kind == "voice":
        parts = []
        for name in VOICE:
            parts.append(to_float48(VOICE_DIR / f"{name}.wav", work / "part.raw"))
            parts.append(np.zeros(RATE // 2, np.float32))
        x = np.concatenate(parts)
    else:
        raw = work / "speech-raw.wav"
        subprocess.run(["espeak-ng", "-s", "150", "-w", str(raw), " ".join(SENTENCES)],
                       check=True, capture_output=True)
        x = to_float48(raw, work / "speech48.raw")
    active = x[np.abs(x) > 1e-3]
    x *= 10 ** (-26 / 20) / np.sqrt(np.mean(active ** 2))
    return x


class Programme:
    """1 s of silence, a chirp every 600 ms for 6 s, silence, then the speech."""

    def __init__(self, work, kind):
        self.chirp = chirp()
        parts = [np.zeros(RATE, np.float32)]
        self.chirp_at = []
        pos = RATE
        for _ in range(10):
            block = np.zeros(int(0.6 * RATE), np.float32)
            block[: len(self.chirp)] = self.chirp
            self.chirp_at.append(pos)
            parts.append(block)
            pos += len(block)
        parts.append(np.zeros(RATE // 2, np.float32))
        pos += RATE // 2
        self.speech = speech(work, kind)
        self.speech_at = pos
        parts.append(self.speech)
        parts.append(np.zeros(RATE, np.float32))
        self.samples = np.concatenate(parts)

    @property
    def seconds(self):
        return len(self.samples) / RATE


# ---------------------------------------------------------------------------------------------
# One JACK server, and this script's two clients on it: one plays into the microphones, the
# other records the speakers, sample-synchronously (both count from the JACK frame time at which
# the programme started). Two clients, as a sound card's capture and playback are: a phone whose
# microphone and speaker are one JACK client would otherwise sit in a loop with a single bench
# client (bench -> phone -> bench), which JACK breaks by delaying one of its connections a period.
# ---------------------------------------------------------------------------------------------

FRAME_MASK = 0xFFFFFFFF


class Bench:
    def __init__(self, server):
        self.player = jack.Client("bench_play", servername=server, no_start_server=True)
        self.recorder = jack.Client("bench_rec", servername=server, no_start_server=True)
        self.client = self.player  # for port queries and connections
        self.mic = {s: self.player.outports.register(f"mic_{s}") for s in "AB"}
        self.spk = {s: self.recorder.inports.register(f"spk_{s}") for s in "AB"}
        self.programme = None
        self.start_frame = None
        self.recorded = {}
        self.done = threading.Event()
        self.xruns = 0
        self.player.set_process_callback(self._play)
        self.recorder.set_process_callback(self._record)
        self.player.set_xrun_callback(self._xrun)
        self.player.activate()
        self.recorder.activate()

    def _xrun(self, _delay):
        if self.programme is not None:
            self.xruns += 1

    def _play(self, frames):
        prog = self.programme
        if prog is not None and self.start_frame is None:
            self.start_frame = self.player.last_frame_time
        if prog is None:
            for p in self.mic.values():
                p.get_array().fill(0)
            return
        pos = (self.player.last_frame_time - self.start_frame) & FRAME_MASK
        end = min(pos + frames, len(prog))
        n = max(0, end - pos)
        for s in "AB":
            out = self.mic[s].get_array()
            out[:n] = prog[pos:pos + n]
            out[n:] = 0

    def _record(self, frames):
        prog, start = self.programme, self.start_frame
        if prog is None or start is None or self.done.is_set():
            return
        # The same cycle's frame time as the player's: sample-synchronous.
        pos = (self.recorder.last_frame_time - start) & FRAME_MASK
        if pos >= len(prog):
            self.done.set()
            return
        n = min(frames, len(prog) - pos)
        for s in "AB":
            self.recorded[s][pos:pos + n] = self.spk[s].get_array()[:n]

    def play(self, samples):
        self.xruns = 0
        self.recorded = {s: np.zeros(len(samples), np.float32) for s in "AB"}
        self.done.clear()
        self.start_frame = None
        self.programme = samples

    def wait(self, timeout):
        if not self.done.wait(timeout):
            raise RuntimeError("the programme did not finish playing (is JACK running?)")
        self.programme = None
        return self.recorded

    def connect(self, side, source, player):
        """Connects this side's microphone to every input port of the JACK client `source`
        and the first output port of the client `player` to this side's speaker."""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            ins = self.client.get_ports(f"^{source}:", is_audio=True, is_input=True)
            outs = self.client.get_ports(f"^{player}:", is_audio=True, is_output=True)
            if ins and outs:
                for p in ins:
                    self.client.connect(self.mic[side], p)
                self.client.connect(outs[0], self.spk[side])
                return
            time.sleep(0.05)
        ports = [p.name for p in self.client.get_ports()]
        raise RuntimeError(f"no JACK ports for {source}/{player} (ports: {ports})")

    def close(self):
        for c in (self.recorder, self.player):
            c.deactivate()
            c.close()


# ---------------------------------------------------------------------------------------------
# Servers: Kamailio (the registrar both phones use) and the relay
# ---------------------------------------------------------------------------------------------

def start_kamailio(work):
    k = work / "kamailio"
    (k / "db").mkdir(parents=True)
    (k / "db" / "version").write_text("table_name(string) table_version(int)\nsubscriber:7\n")
    rows = "".join(f"{i + 1}:{u}:127.0.0.1:{p}:x:x\n" for i, (u, p) in enumerate(USERS.items()))
    (k / "db" / "subscriber").write_text(
        "id(int,auto) username(string) domain(string) password(string) ha1(string) ha1b(string)\n"
        + rows)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-keyout", str(k / "key.pem"), "-out", str(k / "cert.pem")],
                   check=True, capture_output=True)
    (k / "tls.cfg").write_text(
        "[server:default]\nmethod = TLSv1.2+\nverify_certificate = no\nrequire_certificate = no\n"
        f"private_key = {k / 'key.pem'}\ncertificate = {k / 'cert.pem'}\n")
    port, tls_port = free_port(), free_port()
    # Every SDP through the proxy names the relay's ports: the phones' own plus RELAY_OFFSET
    # (their ports are all 310xx, the relay's 410xx).
    rewrite = ('    if (has_body("application/sdp")) {\n'
               "        subst_body('/(m=audio |a=rtcp:)310/\\1410/g');\n"
               '    }\n')
    cfg = ((REPO / "tests/peers/kamailio/kamailio.cfg").read_text()
           .replace("%%LISTEN%%", f"listen=udp:127.0.0.1:{port}\nlisten=tcp:127.0.0.1:{port}\n"
                                  f"listen=tls:127.0.0.1:{tls_port}")
           .replace("%%TLSCFG%%", str(k / "tls.cfg"))
           .replace("%%ALGORITHM%%", "MD5")
           .replace("%%IN_DIALOG_AUTH%%", "")
           .replace("%%DBDIR%%", str(k / "db"))
           .replace("%%MEDIA_HOOK%%", rewrite)
           .replace("%%REPLY_ROUTE%%", "onreply_route {\n" + rewrite + "}\n"))
    (k / "kamailio.cfg").write_text(cfg)
    proc = Proc(["kamailio", "-DD", "-E", "-m", "64", "-M", "8", "-f", str(k / "kamailio.cfg"),
                 "-Y", str(k), "-P", str(k / "kamailio.pid")], k / "kamailio.log")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        s.settimeout(0.2)
        me = s.getsockname()
        for n in range(75):
            msg = (f"OPTIONS sip:127.0.0.1:{port} SIP/2.0\r\nVia: SIP/2.0/UDP {me[0]}:{me[1]};"
                   f"branch=z9hG4bKbench{n}\r\nFrom: <sip:probe@127.0.0.1>;tag=1\r\n"
                   f"To: <sip:127.0.0.1>\r\nCall-ID: bench{n}\r\nCSeq: 1 OPTIONS\r\n"
                   "Max-Forwards: 5\r\nContent-Length: 0\r\n\r\n")
            s.sendto(msg.encode(), ("127.0.0.1", port))
            try:
                if s.recv(2048).startswith(b"SIP/2.0 200"):
                    return proc, port
            except socket.timeout:
                pass
    proc.stop()
    raise RuntimeError("Kamailio did not start:\n" + proc.text())


def start_relay(work, name, loss, delay_ms, jitter_ms, seed):
    args = [sys.executable, str(REPO / "scripts/bench/relay.py"), "--loss", str(loss),
            "--offset", str(RELAY_OFFSET), "--delay-ms", str(delay_ms), "--jitter-ms", str(jitter_ms), "--seed", str(seed)]
    for first, last in PORTS.values():
        args += ["--ports", f"{first}-{last}"]
    out = work / f"relay-{name}.out"
    proc = Proc(args, work / f"relay-{name}.log", stdout=open(out, "wb"))
    proc.out = out
    deadline = time.monotonic() + 10
    while '"ready"' not in out.read_text(errors="replace"):
        if time.monotonic() > deadline or proc.p.poll() is not None:
            raise RuntimeError("the relay did not start:\n" + proc.text())
        time.sleep(0.05)
    return proc


def relay_counters(proc):
    proc.stop()
    for line in proc.out.read_text().splitlines():
        if '"stopped"' in line:
            return json.loads(line)
    return {}


# ---------------------------------------------------------------------------------------------
# The phones
# ---------------------------------------------------------------------------------------------

class Ours:
    name = "siperb"

    # Like baresip as configured here: no echo canceller or noise suppressor on the microphone.
    PROCESSING = False
    FOLDER = "ours"

    def __init__(self, work, jack_server, kamailio_port, cli):
        self.work, self.jack_server, self.kport, self.cli = work / self.FOLDER, jack_server, kamailio_port, cli
        self.work.mkdir()
        self.sides = {}
        for side, user in (("A", "alice"), ("B", "bob")):
            profile = self.work / f"profile-{side}"
            first, last = PORTS[side]
            subprocess.run([cli, "--profile", str(profile), "account", "add", user, "--uri",
                            f"sip:{user}@127.0.0.1", "--server", f"127.0.0.1:{self.kport}",
                            "--rtp-ports", f"{first}-{last}", "--codecs", "opus"],
                           check=True, capture_output=True)
            env = dict(os.environ, SIPERB_AUDIO_HOST="jack", JACK_DEFAULT_SERVER=jack_server,
                       BENCH_PASSWORD=USERS[user],
                       RUST_LOG=os.environ.get("SIPERB_BENCH_LOG", "warn"))
            self.sides[side] = (user, profile, env)

    def _run(self, side, args):
        user, profile, env = self.sides[side]
        events = self.work / f"{side}-{time.monotonic_ns()}.jsonl"
        processing = [] if self.PROCESSING else ["--no-processing"]
        proc = Proc([self.cli, "--profile", str(profile), "--json", *args, "--account", user,
                     "--password-env", "BENCH_PASSWORD", "--codec", "opus", "--stats", *processing],
                    self.work / f"{side}.log", env=env, stdout=open(events, "wb"))
        proc.events = events
        return proc

    @staticmethod
    def _wait_event(proc, pred, what, timeout=15):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in proc.events.read_text(errors="replace").splitlines():
                try:
                    e = json.loads(line)
                except ValueError:
                    continue
                if pred(e):
                    return e
            if proc.p.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError(f"{what}: not seen\n{proc.events.read_text(errors='replace')}\n"
                           f"{proc.text()}")

    def call(self, seconds):
        """Starts B listening and A calling B; returns both processes once the call is up."""
        b = self._run("B", ["listen", "--auto-answer"])
        self._wait_event(b, lambda e: e.get("event") == "registered", "B registered")
        a = self._run("A", ["call", "sip:bob@127.0.0.1", "--duration", str(int(seconds))])
        for side, proc in (("A", a), ("B", b)):
            self._wait_event(proc, lambda e: e.get("event") == "call_state"
                             and e.get("state") == "established", f"{side} established")
        return {"A": a, "B": b}

    def connect(self, bench, procs):
        for side, proc in procs.items():
            # One client per call (JACK adds "-01" to a second); builds before it had cpal's
            # two clients, which --cli may still point at.
            pid = proc.pid
            bench.connect(side, f"(siperb_{pid}|cpal_client_{pid}_in)",
                          f"(siperb_{pid}|cpal_client_{pid}_out)")

    def hang_up(self, procs):
        self._wait_event(procs["A"], lambda e: e.get("event") == "call_ended", "A ended",
                         timeout=30)
        for p in procs.values():
            p.stop(sig=signal.SIGINT)  # Ctrl+C: un-register, then exit

    def stats(self, procs):
        """The last stats event of each side."""
        out = {}
        for side, proc in procs.items():
            last = None
            for line in proc.events.read_text(errors="replace").splitlines():
                if '"stats"' in line:
                    last = json.loads(line)
            out[side] = last
        return out


class OursProcessing(Ours):
    """Our phone as users get it: echo cancellation and noise suppression on."""

    PROCESSING = True
    FOLDER = "ours-processing"


class Baresip:
    name = "baresip"

    def __init__(self, work, jack_server, kamailio_port, _cli):
        self.work, self.jack_server, self.kport = work / "baresip", jack_server, kamailio_port
        self.work.mkdir()
        self.ctrl = {}
        self.dirs = {}
        for side, user in (("A", "carol"), ("B", "dave")):
            d = self.work / side
            d.mkdir()
            first, last = PORTS[side]
            ctrl = free_port(socket.SOCK_STREAM)
            self.ctrl[side] = ctrl
            # Opus set as ours is: mono, 32 kbit/s, in-band FEC expecting 10 % loss.
            (d / "config").write_text(
                f"sip_listen\t\t127.0.0.1:{free_port()}\nnet_interface\t\t127.0.0.1\n"
                f"rtp_ports\t\t{first}-{last}\nmodule_path\t\t/usr/lib/baresip/modules\n"
                "module\t\t\topus.so\nmodule\t\t\tjack.so\n"
                "module_app\t\taccount.so\nmodule_app\t\tmenu.so\nmodule_app\t\tctrl_tcp.so\n"
                f"ctrl_tcp_listen\t\t127.0.0.1:{ctrl}\n"
                "audio_source\t\tjack,\naudio_player\t\tjack,\nausrc_srate\t\t48000\n"
                "auplay_srate\t\t48000\nausrc_format\t\tfloat\nauplay_format\t\tfloat\n"
                f"jack_connect_ports\tno\njack_client_name\tbaresip{side}\n"
                "opus_stereo\t\tno\nopus_sprop_stereo\tno\nopus_bitrate\t\t32000\n"
                "opus_inbandfec\t\tyes\nopus_packet_loss\t10\n")
            answer = ";answermode=auto" if side == "B" else ""
            (d / "accounts").write_text(
                f"<sip:{user}@127.0.0.1:{self.kport};transport=udp>;auth_pass={USERS[user]};"
                f"regint=300{answer};audio_codecs=opus/48000/1\n")
            self.dirs[side] = d

    def _start(self, side):
        env = dict(os.environ, JACK_DEFAULT_SERVER=self.jack_server)
        proc = Proc(["baresip", "-f", str(self.dirs[side])], self.dirs[side] / "baresip.log",
                    env=env)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if "200 OK" in proc.text():
                return proc
            time.sleep(0.05)
        raise RuntimeError(f"baresip {side} did not register:\n{proc.text()}")

    def _command(self, side, command, params=""):
        body = json.dumps({"command": command, "params": params, "token": "b"})
        with socket.create_connection(("127.0.0.1", self.ctrl[side]), timeout=3) as s:
            s.sendall(f"{len(body)}:{body},".encode())
            s.settimeout(3)
            data = b""
            while b'"response"' not in data:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
            return data.decode(errors="replace")

    def call(self, seconds):
        b = self._start("B")
        a = self._start("A")
        # Through the registrar (an account has no outbound proxy here).
        self._command("A", "dial", f"sip:dave@127.0.0.1:{self.kport}")
        deadline = time.monotonic() + 15
        procs = {"A": a, "B": b}
        while time.monotonic() < deadline:
            if all("Call established" in p.text() for p in procs.values()):
                return procs
            time.sleep(0.05)
        raise RuntimeError("baresip call not established:\n" + a.text() + "\n" + b.text())

    def connect(self, bench, procs):
        for side in procs:
            # Its source and player are two JACK clients of that name (JACK adds "-01").
            name = f"baresip{side}(-01)?"
            bench.connect(side, name, name)

    def hang_up(self, procs):
        try:
            self._command("A", "hangup")
        except OSError:
            pass
        time.sleep(0.5)
        for p in procs.values():
            p.stop()

    def stats(self, procs):
        return {}


# ---------------------------------------------------------------------------------------------
# Measuring
# ---------------------------------------------------------------------------------------------

def mouth_to_ear(prog, rec):
    """The delay (ms) of each chirp, found by cross-correlation within 400 ms after it was
    played; chirps not found (lost, or buried) are left out."""
    delays = []
    for at in prog.chirp_at:
        window = rec[at: at + int(0.4 * RATE) + len(prog.chirp)]
        if len(window) < len(prog.chirp):
            continue
        c = correlate(window, prog.chirp, mode="valid")
        k = int(np.argmax(np.abs(c)))
        energy = np.sqrt(np.sum(window[k:k + len(prog.chirp)] ** 2) * np.sum(prog.chirp ** 2))
        if energy > 0 and abs(c[k]) / energy > 0.5:
            delays.append(k / RATE * 1000)
    return delays


def speech_quality(prog, rec, delay_ms):
    """PESQ wideband of the received speech against the source, aligned to the best lag near
    the chirps' delay."""
    ref = prog.speech
    start = prog.speech_at + int(delay_ms * RATE / 1000)
    lo, hi = start - int(0.1 * RATE), start + int(0.1 * RATE)
    seg = rec[max(lo, 0): hi + len(ref)]
    c = correlate(seg, ref[: RATE * 4], mode="valid")
    k = int(np.argmax(c))
    deg = seg[k: k + len(ref)]
    if len(deg) < len(ref):
        deg = np.pad(deg, (0, len(ref) - len(deg)))
    ref16 = resample_poly(ref, 1, 3)
    deg16 = resample_poly(deg, 1, 3)
    try:
        return float(pesq(16000, ref16, deg16, "wb"))
    except Exception as e:  # pesq raises on silence ("no utterances detected")
        log(f"  PESQ failed: {e}")
        return float("nan")


PERF = None


def run_call(phone, bench, prog, label, work, relay):
    log(f"{phone.name}: {label} call")
    procs = phone.call(prog.seconds + 4)
    phone.connect(bench, procs)
    time.sleep(1.0)
    pids = {s: p.pid for s, p in procs.items()}
    t0 = time.monotonic()
    threads0 = {s: threads(pid) for s, pid in pids.items()}
    perf = []
    if PERF and label == "clean":
        # Where each phone's time goes (perf's software clock: no hardware counters needed).
        for s, pid in pids.items():
            out = Path(PERF) / f"{phone.name}-{s}.perf.data"
            perf.append(Proc(["perf", "record", "-q", "-e", "cpu-clock", "-F", "4000", "-g",
                              "-p", str(pid), "-o", str(out)], work / f"perf-{s}.log"))
    bench.play(prog.samples)
    recorded = bench.wait(prog.seconds + 10)
    t1 = time.monotonic()
    threads1 = {s: threads(pid) for s, pid in pids.items()}
    for p in perf:
        p.stop(sig=signal.SIGINT)
    mem = {s: memory_kib(pid) for s, pid in pids.items()}
    stats = phone.stats(procs)
    phone.hang_up(procs)
    counters = relay_counters(relay)
    result = {"relay": counters, "stats": stats, "sides": {}, "jack_xruns": bench.xruns}
    for s in "AB":
        # What side s heard was played into the other side's microphone.
        rec = recorded[s]
        np.save(work / f"{phone.name}-{label}-{s}.npy", rec)
        delays = mouth_to_ear(prog, rec)
        m2e = float(np.median(delays)) if delays else float("nan")
        result["sides"][s] = {
            "cpu_pct": 100.0 * (cpu_ns(threads1[s]) - cpu_ns(threads0[s])) / 1e9 / (t1 - t0),
            "rss_kib": mem[s].get("VmRSS"),
            "private_kib": mem[s].get("RssAnon"),
            "peak_rss_kib": mem[s].get("VmHWM"),
            "mouth_to_ear_ms": m2e,
            "chirps_found": len(delays),
            "pesq_wb": speech_quality(prog, rec, m2e if delays else 0.0),
            "threads": thread_use(threads0[s], threads1[s], t1 - t0),
        }
        log(f"  {s}: {json.dumps(result['sides'][s])}")
    log(f"  relay: {json.dumps(counters)}; JACK xruns while playing: {bench.xruns}")
    return result


def calibrate(bench, prog):
    """The harness alone: side A's microphone port wired straight to its speaker port. Its
    PESQ is the ceiling the phones are measured against, its delay JACK's own."""
    bench.client.connect(bench.mic["A"], bench.spk["A"])
    bench.play(prog.samples)
    rec = bench.wait(prog.seconds + 10)["A"]
    bench.client.disconnect(bench.mic["A"], bench.spk["A"])
    delays = mouth_to_ear(prog, rec)
    m2e = float(np.median(delays)) if delays else float("nan")
    out = {"mouth_to_ear_ms": m2e, "pesq_wb": speech_quality(prog, rec, m2e if delays else 0),
           "jack_xruns": bench.xruns}
    log(f"harness: {json.dumps(out)}")
    return out


def codec_alone(prog, work, tool, seed):
    """The programme's speech through Opus alone (the calls' codec and settings: 32 kbit/s VBR,
    VoIP, wideband, complexity 6 in speech and 1 between words), clean, and with 5 % seeded
    loss recovered by FEC (8 % expected) or PLC as the jitter buffer would: what a perfect
    pipeline around this codec would score."""
    src = work / "codec-in.wav"
    pcm = np.clip(prog.speech * 32767, -32768, 32767).astype("<i2")
    with wave.open(str(src), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(pcm.tobytes())
    out = {}
    for label, extra in (("clean", []), ("lossy", ["--loss", "5", "--fec-loss", "8"])):
        dst = work / f"codec-{label}.wav"
        r = subprocess.run([tool, str(src), str(dst), "--seed", str(seed)] + extra,
                           check=True, capture_output=True, text=True)
        info = json.loads(r.stdout)
        with wave.open(str(dst)) as w:
            deg = np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float32) / 32768
        ref = prog.speech
        deg = np.pad(deg, (0, max(0, len(ref) + RATE - len(deg))))
        c = correlate(deg[: RATE * 5], ref[: RATE * 4], mode="valid")
        k = int(np.argmax(c))
        score = float(pesq(16000, resample_poly(ref, 1, 3),
                           resample_poly(deg[k: k + len(ref)], 1, 3), "wb"))
        out[label] = {"pesq_wb": score, **info}
    log(f"Opus alone: {json.dumps(out)}")
    return out


def summary(results):
    rows = []
    for phone, calls in results.items():
        clean, lossy = calls["clean"]["sides"], calls["lossy"]["sides"]

        def mean(d, key):
            vals = [v[key] for v in d.values() if v[key] is not None and v[key] == v[key]]
            return sum(vals) / len(vals) if vals else float("nan")

        rows.append({
            "phone": phone,
            "cpu_pct": mean(clean, "cpu_pct"),
            "mouth_to_ear_ms": mean(clean, "mouth_to_ear_ms"),
            "pesq_clean": mean(clean, "pesq_wb"),
            "pesq_lossy": mean(lossy, "pesq_wb"),
            "mouth_to_ear_lossy_ms": mean(lossy, "mouth_to_ear_ms"),
            "rss_mib": mean(clean, "rss_kib") / 1024,
            "private_mib": mean(clean, "private_kib") / 1024,
            "xruns": [calls["clean"]["jack_xruns"], calls["lossy"]["jack_xruns"]],
            "peak_rss_mib": max(v["peak_rss_kib"] or 0 for c in calls.values()
                                for v in c["sides"].values()) / 1024,
        })
    return rows


def main():
    ap = argparse.ArgumentParser(description="Siperb vs baresip: CPU, delay, PESQ, memory")
    ap.add_argument("--cli", default=str(REPO / "target/release/siperb-cli"))
    ap.add_argument("--phones", default="siperb,siperb+ap,baresip",
                    help="siperb (no echo/noise processing, like baresip here), siperb+ap (with it, "
                         "as users get it), baresip")
    ap.add_argument("--jack-period", type=int, default=480, help="frames per JACK period")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--attempts", type=int, default=3,
                    help="runs of a call whose JACK clock stuttered, at most")
    ap.add_argument("--max-xruns", type=int, default=10,
                    help="JACK xruns a call may see and still count at once")
    ap.add_argument("--out", default=str(REPO / "artifacts/bench/media.json"))
    ap.add_argument("--keep", action="store_true", help="keep the work folder")
    ap.add_argument("--perf", metavar="DIR",
                    help="profile each phone's clean call with perf into DIR (perf report -i)")
    ap.add_argument("--speech", choices=["voice", "espeak"], default="voice",
                    help="recorded voice (alsa-utils) or espeak-ng's synthetic voice")
    ap.add_argument("--codec-tool",
                    default=str(REPO / "target/release/examples/opus_offline"))
    args = ap.parse_args()
    global PERF
    PERF = args.perf
    if PERF:
        Path(PERF).mkdir(parents=True, exist_ok=True)

    work = Path(tempfile.mkdtemp(prefix="siperb-bench-"))
    jack_name = f"siperb-bench-{os.getpid()}"
    try:
        prog = Programme(work, args.speech)
        alone = codec_alone(prog, work, args.codec_tool, args.seed)
        jackd = Proc(["jackd", "-n", jack_name, "-d", "dummy", "-r", str(RATE),
                      "-p", str(args.jack_period)], work / "jackd.log")
        deadline = time.monotonic() + 10
        bench = None
        while bench is None:
            try:
                bench = Bench(jack_name)
            except jack.JackError:
                if time.monotonic() > deadline:
                    raise RuntimeError("jackd did not start:\n" + jackd.text())
                time.sleep(0.2)
        harness = calibrate(bench, prog)
        kamailio, kport = start_kamailio(work)
        results = {}
        for name in args.phones.split(","):
            cls = {"siperb": Ours, "siperb+ap": OursProcessing, "baresip": Baresip}[name]
            phone = cls(work, jack_name, kport, args.cli)
            results[name] = {}
            for label, loss, delay, jitter in (("clean", 0.0, 0, 0), ("lossy", 0.05, 20, 10)):
                # A call during which the JACK clock stuttered (xruns: this VM's scheduling,
                # not the phones) is run again, up to --attempts times; the steadiest counts.
                best = None
                for attempt in range(1, args.attempts + 1):
                    relay = start_relay(work, f"{name}-{label}-{attempt}", loss, delay, jitter,
                                        args.seed)
                    r = run_call(phone, bench, prog, label, work, relay)
                    r["attempt"] = attempt
                    if best is None or r["jack_xruns"] < best["jack_xruns"]:
                        best = r
                    if r["jack_xruns"] <= args.max_xruns:
                        break
                    log(f"  {r['jack_xruns']} JACK xruns during the call: once more")
                results[name][label] = best
        rows = summary(results)
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({"summary": rows, "calls": results, "harness": harness,
                                   "opus_alone": alone, "speech": args.speech,
                                   "jack_period": args.jack_period, "seed": args.seed}, indent=1))
        print(f"\nSpeech: {args.speech}. Opus 48 kHz mono, wideband, 32 kbit/s, FEC; JACK dummy clock {args.jack_period} frames; "
              f"relay seed {args.seed}. CPU: % of one core per phone in a call (mean of both ends).")
        print("RSS counts JACK's shared memory the client maps; 'own MiB' is the private part "
              "(RssAnon).")
        print(f"{'phone':<10}{'CPU %':>7}{'mouth-ear ms':>14}{'PESQ clean':>12}"
              f"{'PESQ 5%+jit':>13}{'RSS MiB':>9}{'own MiB':>9}")
        print(f"{'(harness)':<10}{'':>7}{harness['mouth_to_ear_ms']:>14.1f}"
              f"{harness['pesq_wb']:>12.2f}")
        print(f"{'(opus)':<10}{'':>7}{'':>14}{alone['clean']['pesq_wb']:>12.2f}"
              f"{alone['lossy']['pesq_wb']:>13.2f}   Opus alone, offline, same loss rate")
        for r in rows:
            print(f"{r['phone']:<10}{r['cpu_pct']:>7.2f}{r['mouth_to_ear_ms']:>14.1f}"
                  f"{r['pesq_clean']:>12.2f}{r['pesq_lossy']:>13.2f}{r['rss_mib']:>9.1f}"
                  f"{r['private_mib']:>9.1f}   xruns {r['xruns']}")
        print(f"(details: {out})")
        bench.close()
    finally:
        for p in reversed(Proc.everyone):
            p.stop()
        if args.keep:
            log(f"work folder kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
