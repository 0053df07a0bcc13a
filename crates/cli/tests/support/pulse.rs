//! A PulseAudio daemon of the test's own (the recipe in ../shared/PEERS.md): two null sinks,
//! "spk" (the default speaker) and "mic" (whose monitor is the default microphone).
// Shared by several test crates; each uses a part.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A PulseAudio daemon of the test's own, stopped (by process group) on drop.
pub(crate) struct Pulse {
    daemon: Child,
    runtime: tempfile::TempDir,
    home: tempfile::TempDir,
}

impl Pulse {
    pub(crate) fn start() -> Pulse {
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
        .args([
            "-L",
            "module-null-sink sink_name=spk sink_properties='device.description=\"Laptop speakers\"'",
        ])
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
    pub(crate) fn client<'a>(&self, cmd: &'a mut Command) -> &'a mut Command {
        Self::env_of(cmd, self.runtime.path(), self.home.path())
    }

    pub(crate) fn pactl(&self, args: &[&str]) -> bool {
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

impl Pulse {
    /// `pactl`'s output, when it succeeds.
    pub(crate) fn pactl_output(&self, args: &[&str]) -> Option<String> {
        let out = self
            .client(Command::new("pactl").args(args))
            .stderr(Stdio::null())
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Loads a null sink named like a device (`properties` as PulseAudio reads them:
    /// `device.description="Jabra Evolve" device.form_factor=headset`); returns the module's
    /// index.
    pub(crate) fn add_sink(&self, name: &str, properties: &str) -> String {
        let props = format!("sink_properties='{properties}'");
        self.pactl_output(&[
            "load-module",
            "module-null-sink",
            &format!("sink_name={name}"),
            &props,
        ])
        .map(|s| s.trim().to_owned())
        .expect("load-module")
    }
}
