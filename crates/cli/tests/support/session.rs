//! Running the CLI against a test's own PulseAudio daemon: the command, its JSON lines with
//! deadlines, a child killed when dropped, and where the sound server has a process's streams.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::pulse::Pulse;

/// A UDP port free on 127.0.0.1 now (for a listener's --bind).
pub(crate) fn free_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .expect("port")
        .port()
}

pub(crate) fn cli(pulse: &Pulse) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_siperb-cli"));
    pulse.client(&mut cmd).env_remove("SIPERB_PROFILE");
    cmd
}

/// Lines of a child's stdout, as they come, with a deadline.
pub(crate) fn lines_of(child: &mut std::process::Child) -> std::sync::mpsc::Receiver<String> {
    let out = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}

/// The next JSON line that satisfies `want`, within 10 s.
pub(crate) fn wait_for(
    lines: &std::sync::mpsc::Receiver<String>,
    what: &str,
    want: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    wait_within(lines, 10, what, want)
}

/// The next JSON line that satisfies `want`, within `secs`.
pub(crate) fn wait_within(
    lines: &std::sync::mpsc::Receiver<String>,
    secs: u64,
    what: &str,
    want: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = lines
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("no {what} within {secs} s"));
        let v: serde_json::Value = serde_json::from_str(&line).expect("a JSON line");
        if want(&v) {
            return v;
        }
    }
}

/// A child killed when the test ends, passed or not.
pub(crate) struct Killed(pub(crate) std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(crate) fn wait_exit(
    child: &mut std::process::Child,
    within: Duration,
) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

/// The devices (by name) the sound server has this process's streams on: `sink-inputs` or
/// `source-outputs`.
pub(crate) fn devices_of(pulse: &Pulse, pid: u32, streams: &str) -> Vec<String> {
    streams_of(pulse, pid, streams)
        .into_iter()
        .map(|(_, device)| device)
        .collect()
}

/// This process's streams (`sink-inputs` or `source-outputs`) as (stream name, device name).
pub(crate) fn streams_of(pulse: &Pulse, pid: u32, streams: &str) -> Vec<(String, String)> {
    let (list, key, devices) = match streams {
        "sink-inputs" => ("sink-inputs", "Sink: ", "sinks"),
        _ => ("source-outputs", "Source: ", "sources"),
    };
    let names: std::collections::HashMap<String, String> = pulse
        .pactl_output(&["list", "short", devices])
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let mut cols = l.split('\t');
            Some((cols.next()?.to_owned(), cols.next()?.to_owned()))
        })
        .collect();
    let text = pulse.pactl_output(&["list", list]).unwrap_or_default();
    let mut found = Vec::new();
    for block in text.split("\n\n") {
        let ours = block.contains(&format!("application.process.id = \"{pid}\""));
        let device = block
            .lines()
            .find_map(|l| l.trim().strip_prefix(key))
            .and_then(|index| names.get(index.trim()));
        let stream = block
            .lines()
            .find_map(|l| l.trim().strip_prefix("media.name = "))
            .map(|n| n.trim_matches('"').to_owned())
            .unwrap_or_default();
        if let (true, Some(name)) = (ours, device) {
            found.push((stream, name.clone()));
        }
    }
    found
}
