//! The echo test on real sound devices: a private PulseAudio daemon with two null sinks, the
//! CLI's default cpal devices through ALSA's PulseAudio plugin. A tone played into the "mic"
//! sink is captured from its monitor (our default microphone), goes round the echo test, and
//! is played to the "spk" sink (our default speaker), whose monitor is recorded.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[path = "support/bursts.rs"]
mod bursts;

use bursts::{bursts, onsets};
use siperb_audio::wav;

/// A PulseAudio daemon of the test's own, stopped (by process group) on drop.
struct Pulse {
    daemon: Child,
    runtime: tempfile::TempDir,
    home: tempfile::TempDir,
}

impl Pulse {
    fn start() -> Pulse {
        let runtime = tempfile::tempdir().expect("runtime dir");
        let home = tempfile::tempdir().expect("home");
        std::fs::set_permissions(
            runtime.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o700),
        )
        .expect("chmod");
        let mut cmd = Command::new("pulseaudio");
        cmd.args([
            "-n",
            "--daemonize=no",
            "--exit-idle-time=-1",
            "--log-target=stderr",
        ])
        .args(["-L", "module-native-protocol-unix"])
        .args(["-L", "module-null-sink sink_name=spk"])
        .args(["-L", "module-null-sink sink_name=mic"])
        .args(["-L", "module-always-sink"])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let pulse = Pulse {
            daemon: Self::env_of(&mut cmd, runtime.path(), home.path())
                .spawn()
                .expect("pulseaudio (Debian package pulseaudio) must be installed"),
            runtime,
            home,
        };
        let deadline = Instant::now() + Duration::from_secs(15);
        while !pulse.pactl(&["info"]) {
            assert!(Instant::now() < deadline, "pulseaudio did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        assert!(pulse.pactl(&["set-default-sink", "spk"]));
        assert!(pulse.pactl(&["set-default-source", "mic.monitor"]));
        pulse
    }

    fn env_of<'a>(cmd: &'a mut Command, runtime: &Path, home: &Path) -> &'a mut Command {
        cmd.env("XDG_RUNTIME_DIR", runtime)
            .env("HOME", home)
            .env_remove("PULSE_SERVER")
    }

    /// `cmd` as a client of this daemon.
    fn client<'a>(&self, cmd: &'a mut Command) -> &'a mut Command {
        Self::env_of(cmd, self.runtime.path(), self.home.path())
    }

    fn pactl(&self, args: &[&str]) -> bool {
        self.client(Command::new("pactl").args(args))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }
}

impl Drop for Pulse {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", "--", &format!("-{}", self.daemon.id())])
            .status();
        let _ = self.daemon.wait();
    }
}

#[test]
fn the_echo_test_runs_on_the_default_sound_devices() {
    let pulse = Pulse::start();
    let dir = tempfile::tempdir().expect("dir");
    let tone: PathBuf = dir.path().join("tone.wav");
    wav::write(&tone, &bursts(&[0.2, 0.8], 1.5, 48000)).expect("tone");
    let heard = dir.path().join("heard.wav");
    let profile = tempfile::tempdir().expect("profile");

    // What our speaker plays, from the start.
    let mut recorder = pulse
        .client(Command::new("parecord").args([
            "--device=spk.monitor",
            "--file-format=wav",
            "--format=s16le",
            "--rate=48000",
            "--channels=1",
        ]))
        .arg(&heard)
        .spawn()
        .expect("parecord");
    let recording_since = Instant::now();

    let mut call = pulse
        .client(&mut Command::new(env!("CARGO_BIN_EXE_siperb-cli")))
        .env_remove("SIPERB_PROFILE")
        .env("USER", "alice")
        .arg("--profile")
        .arg(profile.path())
        .args([
            "--json",
            "call",
            "--bind",
            "127.0.0.1:0",
            "--duration",
            "8",
            "--control",
        ])
        .arg("echo")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("call echo");
    let mut out = BufReader::new(call.stdout.take().expect("stdout"));
    let mut line = String::new();
    while out.read_line(&mut line).expect("read") > 0 && !line.contains("\"established\"") {
        line.clear();
    }
    assert!(line.contains("established"), "the echo call did not start");
    let rec = dir.path().join("call.wav");
    let mut stdin = call.stdin.take().expect("stdin");
    writeln!(stdin, "record {}", rec.display()).expect("record");
    // Null sinks take a moment to start moving samples (about a second here).
    std::thread::sleep(Duration::from_secs(2));
    let played_at = recording_since.elapsed().as_secs_f64();
    let play = pulse
        .client(Command::new("paplay").arg("--device=mic").arg(&tone))
        .status()
        .expect("paplay");
    assert!(play.success());
    let rest: String = out
        .lines()
        .map_while(Result::ok)
        .collect::<Vec<_>>()
        .join("\n");
    assert!(call.wait().expect("wait").success(), "{rest}");
    assert!(rest.contains("\"cause\":\"local_hangup\""), "{rest}");
    let _ = Command::new("kill")
        .args(["-INT", &recorder.id().to_string()])
        .status();
    let _ = recorder.wait();

    drop(stdin);

    // The call's own recording: the microphone device's samples on the left, what came back
    // on the right, a second (and the jitter buffer) later. Null sinks in a busy VM deliver
    // the microphone in uneven bursts, so only what must hold on any machine is asserted
    // here; the exact timing is the file-device echo test's (tests/echo.rs).
    let (rate, channels) = wav::read_channels(&rec).expect("call recording");
    let sent = onsets(&channels[0], rate, 2000);
    let back = onsets(&channels[1], rate, 2000);
    eprintln!("microphone onsets {sent:?}, echoed {back:?}");
    assert!(!sent.is_empty(), "the microphone did not hear the bursts");
    assert!(!back.is_empty(), "nothing came back: sent {sent:?}");
    // (Frames, not wall time: when the sound server drops microphone samples the recording's
    // timeline shrinks, so the echo's second can show as less.)
    assert!(back[0] > sent[0], "sent {sent:?}, back {back:?}");

    // What the speaker device played (reported, see above).
    let got = wav::read(&heard).expect("speaker recording");
    let loud: Vec<f64> = onsets(&got.samples, got.rate, 2000)
        .into_iter()
        .filter(|t| *t > played_at)
        .collect();
    eprintln!("speaker onsets after {played_at:.2} s: {loud:?}");
}
