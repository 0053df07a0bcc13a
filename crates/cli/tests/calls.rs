//! `siperb-cli listen --auto-answer` and `siperb-cli call` on the local line, as scripts use them.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

fn cli(profile: &std::path::Path, user: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_siperb-cli"));
    c.env_remove("SIPERB_PROFILE")
        .env("USER", user)
        .arg("--profile")
        .arg(profile);
    c
}

fn free_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .expect("port")
        .port()
}

/// `siperb-cli listen` as bob on `port`, once it says it is listening.
fn listen(
    profile: &std::path::Path,
    port: u16,
    extra: impl FnOnce(&mut Command),
) -> (std::process::Child, BufReader<std::process::ChildStdout>) {
    let mut c = cli(profile, "bob");
    c.args(["--json", "listen", "--bind"])
        .arg(format!("127.0.0.1:{port}"));
    extra(&mut c);
    let mut listener = c.stdout(Stdio::piped()).spawn().expect("listen");
    let mut out = BufReader::new(listener.stdout.take().expect("stdout"));
    let mut first = String::new();
    out.read_line(&mut first).expect("line");
    assert!(first.contains("\"listening\""), "{first}");
    (listener, out)
}

fn events(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

#[test]
fn a_call_between_two_clis_is_answered_carries_digits_and_ends_after_its_duration() {
    let (p1, p2) = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );
    let port = free_port();
    let dir = tempfile::tempdir().expect("dir");
    let heard = dir.path().join("heard.wav");
    let (mut listener, out) = listen(p1.path(), port, |c| {
        c.arg("--auto-answer").arg("--audio-out").arg(&heard);
    });

    let call = cli(p2.path(), "alice")
        .args(["--json", "call", "--duration", "1", "--dtmf", "4#"])
        .arg(format!("sip:bob@127.0.0.1:{port}"))
        .output()
        .expect("call");
    let stdout = String::from_utf8_lossy(&call.stdout);
    assert!(
        call.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&call.stderr)
    );
    let ev = events(&stdout);
    let states: Vec<&str> = ev
        .iter()
        .filter(|e| e["event"] == "call_state")
        .filter_map(|e| e["state"].as_str())
        .collect();
    assert_eq!(
        states,
        ["dialing", "ringing", "established", "ended"],
        "{stdout}"
    );
    let ended = ev
        .iter()
        .find(|e| e["event"] == "call_ended")
        .expect("call_ended");
    assert_eq!(ended["cause"], "local_hangup");
    assert!(ended["talk_secs"].as_f64().unwrap_or(0.0) >= 1.0);

    // The listener saw the call, both digits and the hang-up, and keeps listening. Its events
    // may trail the caller's exit a little on a busy machine: read until the hang-up (or 10 s).
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in out.lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut rest = String::new();
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(10)) {
        rest.push_str(&line);
        rest.push('\n');
        if line.contains("\"call_ended\"") {
            break;
        }
    }
    let _ = Command::new("kill")
        .args(["-INT", &listener.id().to_string()])
        .status();
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(10)) {
        rest.push_str(&line);
        rest.push('\n');
    }
    assert!(listener.wait().expect("wait").success());
    let ev = events(&rest);
    assert!(ev.iter().any(|e| e["event"] == "incoming_call"), "{rest}");
    let digits: String = ev
        .iter()
        .filter(|e| e["event"] == "dtmf")
        .filter_map(|e| e["digit"].as_str())
        .collect();
    assert_eq!(digits, "4#", "{rest}");
    assert!(
        ev.iter()
            .any(|e| e["event"] == "call_ended" && e["cause"] == "remote_hangup"),
        "{rest}"
    );
    // What the caller sent (silence) was recorded: about a second of audio. Both ends offer
    // Opus first, so the file is at Opus's 48 kHz.
    let wav = std::fs::read(&heard).expect("recording");
    let rate = u32::from_le_bytes([wav[24], wav[25], wav[26], wav[27]]);
    assert_eq!(rate, 48_000, "the call did not run on Opus");
    // The two digits travel as RFC 4733 events (about 0.4 s in which no audio packet flows),
    // so somewhat more than half a second of audio arrived.
    assert!(wav.len() > 48_000 * 2 / 2, "{} bytes", wav.len());
}

#[test]
fn a_refused_call_exits_non_zero_with_one_line_saying_why() {
    let (p1, p2) = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );
    let port = free_port();
    let (mut listener, _out) = listen(p1.path(), port, |_| {});
    // Calling a user who is not there: the ghost filter refuses it (403).
    let call = cli(p2.path(), "alice")
        .args(["call", "--duration", "1"])
        .arg(format!("sip:carol@127.0.0.1:{port}"))
        .output()
        .expect("call");
    let _ = listener.kill();
    let _ = listener.wait();
    assert!(!call.status.success());
    let err = String::from_utf8_lossy(&call.stderr);
    assert!(err.trim().ends_with("[call_failed]"), "{err}");
    assert!(err.contains("403"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}

/// `--codec` puts a codec first: a caller preferring G.722 gets G.722 (its stats say so, and
/// the listener hears it), even though both ends would otherwise pick Opus.
#[test]
fn the_preferred_codec_is_offered_first() {
    let (p1, p2) = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );
    let port = free_port();
    let dir = tempfile::tempdir().expect("dir");
    let heard = dir.path().join("heard.wav");
    let (mut listener, _out) = listen(p1.path(), port, |c| {
        c.arg("--auto-answer").arg("--audio-out").arg(&heard);
    });
    let call = cli(p2.path(), "alice")
        .args([
            "--json",
            "call",
            "--duration",
            "2",
            "--stats",
            "--codec",
            "g722",
        ])
        .arg(format!("sip:bob@127.0.0.1:{port}"))
        .output()
        .expect("call");
    assert!(
        call.status.success(),
        "{}",
        String::from_utf8_lossy(&call.stderr)
    );
    std::thread::sleep(Duration::from_millis(500));
    let _ = Command::new("kill")
        .args(["-INT", &listener.id().to_string()])
        .status();
    assert!(listener.wait().expect("wait").success());
    let out = String::from_utf8_lossy(&call.stdout);
    let codecs: Vec<&str> = out
        .lines()
        .filter(|l| l.contains("\"event\":\"stats\""))
        .filter_map(|l| l.split("\"codec\":\"").nth(1)?.split('"').next())
        .collect();
    assert!(!codecs.is_empty(), "no stats: {out}");
    assert!(codecs.iter().all(|c| *c == "g722"), "{codecs:?}");
    // The listener recorded the call (from the far end's first sound, at the file rate).
    let wav = siperb_audio::wav::read(&heard).expect("recording");
    assert_eq!(wav.rate, 48_000);
    let bad = cli(p2.path(), "alice")
        .args(["call", "--codec", "gsm", "sip:bob@127.0.0.1:9"])
        .output()
        .expect("run");
    assert_eq!(bad.status.code(), Some(2));
}

/// `--stats` prints the call's statistics every second: packets both ways, no loss on
/// loopback, and a MOS; without it there are none.
#[test]
fn stats_come_every_second_with_a_mos() {
    let (p1, p2) = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );
    let port = free_port();
    let (mut listener, _out) = listen(p1.path(), port, |c| {
        c.arg("--auto-answer");
    });
    let run = |extra: &[&str], secs: &str| {
        cli(p2.path(), "alice")
            .args(["--json", "call", "--duration", secs])
            .args(extra)
            .arg(format!("sip:bob@127.0.0.1:{port}"))
            .output()
            .expect("call")
    };
    let quiet = run(&[], "2");
    // Four seconds: on a machine that stalls (this VM does, for up to 200 ms), the last
    // event still covers well over a second of packets.
    let call = run(&["--stats"], "4");
    let _ = Command::new("kill")
        .args(["-INT", &listener.id().to_string()])
        .status();
    let _ = listener.wait();
    assert!(!String::from_utf8_lossy(&quiet.stdout).contains("\"stats\""));
    let stdout = String::from_utf8_lossy(&call.stdout);
    assert!(call.status.success(), "{stdout}");
    let stats: Vec<serde_json::Value> = events(&stdout)
        .into_iter()
        .filter(|e| e["event"] == "stats")
        .collect();
    assert!(stats.len() >= 2, "{stdout}");
    let last = stats.last().expect("stats");
    println!("{last}");
    assert!(
        last["packets_received"].as_u64().unwrap_or(0) > 50,
        "{last}"
    );
    assert!(last["packets_sent"].as_u64().unwrap_or(0) > 50, "{last}");
    assert_eq!(last["packets_lost"], 0, "{last}");
    let mos = last["mos"].as_f64().unwrap_or(0.0);
    // Its value depends on the delay a loaded machine adds: only its range is checked.
    assert!((1.0..=4.5).contains(&mos), "{last}");
    assert!(
        last["jitter_buffer_ms"].as_f64().unwrap_or(-1.0) >= 0.0,
        "{last}"
    );
}

/// `--srtp`: an encrypted call between two CLIs carries audio; a caller that requires SRTP is
/// refused (488) by a listener that has it off, with the reason on stderr.
#[test]
fn srtp_calls_work_and_a_required_srtp_call_fails_clearly_without_it() {
    let (p1, p2, p3) = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );
    let dir = tempfile::tempdir().expect("dir");
    let heard = dir.path().join("heard.wav");
    let secure_port = free_port();
    let (mut secure, _o1) = listen(p1.path(), secure_port, |c| {
        c.args(["--auto-answer", "--srtp", "required", "--audio-out"])
            .arg(&heard);
    });
    let plain_port = free_port();
    let (mut plain, _o2) = listen(p3.path(), plain_port, |c| {
        c.arg("--auto-answer");
    });
    let ok = cli(p2.path(), "alice")
        .args([
            "--json",
            "call",
            "--duration",
            "2",
            "--srtp",
            "optional",
            "--stats",
        ])
        .arg(format!("sip:bob@127.0.0.1:{secure_port}"))
        .env("SIPERB_LOG", "trace")
        .output()
        .expect("call");
    let refused = cli(p2.path(), "alice")
        .args(["call", "--duration", "1", "--srtp", "required"])
        .arg(format!("sip:bob@127.0.0.1:{plain_port}"))
        .output()
        .expect("call");
    for l in [&mut secure, &mut plain] {
        let _ = Command::new("kill")
            .args(["-INT", &l.id().to_string()])
            .status();
        let _ = l.wait();
    }
    let stdout = String::from_utf8_lossy(&ok.stdout);
    assert!(
        ok.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    // Even with every log on, no SRTP key (the `inline:` key of an a=crypto line) is logged.
    let logged = String::from_utf8_lossy(&ok.stderr);
    assert!(
        logged.contains("engine started"),
        "logging was off: {logged}"
    );
    assert!(!logged.contains("inline:"), "an SRTP key was logged");
    // Packets that fail SRTP authentication are not counted as received.
    let received = events(&stdout)
        .iter()
        .find(|e| e["event"] == "call_ended")
        .and_then(|e| e["media"]["packets_received"].as_u64())
        .unwrap_or(0);
    assert!(received > 50, "nothing decrypted: {stdout}");
    let wav = std::fs::read(&heard).expect("recording");
    assert!(wav.len() > 48_000, "{} bytes", wav.len());
    assert_eq!(refused.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("488") && stderr.contains("[call_failed]"),
        "{stderr}"
    );
}
