//! Call history from real calls between two CLIs on the local line: answered calls on both
//! sides, a missed call counted until seen, and a call whose process is killed (`kill -9`)
//! found in the history afterwards, marked interrupted, in a database that is intact.

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

/// A child killed when the test ends.
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `siperb-cli listen` as bob on `port` (no sound devices), once it listens; its stdout lines.
fn listen(
    profile: &std::path::Path,
    port: u16,
    extra: &[&str],
) -> (Killed, std::sync::mpsc::Receiver<String>) {
    let mut child = Killed(
        cli(profile, "bob")
            .args(["--json", "listen", "--no-audio", "--bind"])
            .arg(format!("127.0.0.1:{port}"))
            .args(extra)
            .stdout(Stdio::piped())
            .spawn()
            .expect("listen"),
    );
    let out = child.0.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    wait_line(&rx, "listening");
    (child, rx)
}

fn wait_line(rx: &std::sync::mpsc::Receiver<String>, what: &str) -> String {
    loop {
        let line = rx
            .recv_timeout(Duration::from_secs(15))
            .unwrap_or_else(|_| panic!("no '{what}' within 15 s"));
        if line.contains(what) {
            return line;
        }
    }
}

/// Waits for `child` to exit, failing the test (not hanging it) after `secs`.
fn exits_within(child: &mut std::process::Child, secs: u64, what: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    while std::time::Instant::now() < deadline {
        if matches!(child.try_wait(), Ok(Some(_))) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{what} did not exit within {secs} s");
}

/// The profile's history as JSON (the CLI's own `history --json`).
fn history(profile: &std::path::Path, extra: &[&str]) -> Vec<serde_json::Value> {
    let out = cli(profile, "x")
        .args(["--json", "history"])
        .args(extra)
        .output()
        .expect("history");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON list")
}

/// Waits until `profile`'s history satisfies `want` (the listener writes on its own thread).
fn history_until(
    profile: &std::path::Path,
    want: impl Fn(&[serde_json::Value]) -> bool,
) -> Vec<serde_json::Value> {
    for _ in 0..50 {
        let h = history(profile, &[]);
        if want(&h) {
            return h;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    history(profile, &[])
}

#[test]
fn answered_calls_go_into_both_histories() {
    let (bob_p, alice_p) = (
        tempfile::tempdir().expect("p"),
        tempfile::tempdir().expect("p"),
    );
    let port = free_port();
    let (_bob, _lines) = listen(bob_p.path(), port, &["--auto-answer"]);
    let call = cli(alice_p.path(), "alice")
        .args(["call", "--no-audio", "--duration", "1"])
        .arg(format!("sip:bob@127.0.0.1:{port}"))
        .output()
        .expect("call");
    assert!(
        call.status.success(),
        "{}",
        String::from_utf8_lossy(&call.stderr)
    );

    let mine = history(alice_p.path(), &[]);
    assert_eq!(mine.len(), 1, "{mine:?}");
    let c = &mine[0];
    assert_eq!(c["direction"], "outgoing");
    assert_eq!(c["disposition"], "answered");
    assert_eq!(c["remoteUri"], format!("sip:bob@127.0.0.1:{port}"));
    assert_eq!(c["number"], "bob");
    assert_eq!(c["account"], "local");
    assert!(c["durationSecs"].as_f64().is_some_and(|d| d >= 1.0), "{c}");
    assert_eq!(c["codec"], "opus", "{c}");
    assert!(c["mos"].as_f64().is_some_and(|m| m > 3.0), "{c}");

    let theirs = history_until(bob_p.path(), |h| {
        h.first().is_some_and(|c| c["disposition"] != "ongoing")
    });
    let c = &theirs[0];
    assert_eq!(c["direction"], "incoming", "{c}");
    assert_eq!(c["disposition"], "answered", "{c}");
    assert_eq!(c["number"], "alice", "{c}");
}

#[test]
fn a_missed_call_counts_until_seen() {
    let (bob_p, alice_p) = (
        tempfile::tempdir().expect("p"),
        tempfile::tempdir().expect("p"),
    );
    // Bob knows Alice: the history names her as his contact does.
    let added = cli(bob_p.path(), "bob")
        .args([
            "contacts",
            "add",
            "Alice from Accounts",
            "--sip",
            "sip:alice@127.0.0.1",
        ])
        .output()
        .expect("contacts add");
    assert!(added.status.success());
    let port = free_port();
    let (_bob, lines) = listen(bob_p.path(), port, &[]);
    // Alice gives up (Ctrl+C) before Bob answers.
    let mut alice = Killed(
        cli(alice_p.path(), "alice")
            .args(["call", "--no-audio"])
            .arg(format!("sip:bob@127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("call"),
    );
    wait_line(&lines, "incoming_call");
    let _ = Command::new("kill")
        .args(["-INT", &alice.0.id().to_string()])
        .status();
    exits_within(&mut alice.0, 15, "the caller after Ctrl+C");
    wait_line(&lines, "call_ended");
    let h = history_until(bob_p.path(), |h| {
        h.first().is_some_and(|c| c["disposition"] == "missed")
    });
    assert_eq!(h[0]["disposition"], "missed", "{h:?}");
    assert_eq!(h[0]["seen"], false);
    assert_eq!(h[0]["displayName"], "Alice from Accounts", "{h:?}");
    assert_eq!(history(alice_p.path(), &[])[0]["disposition"], "cancelled");

    // Listed with --missed, then seen.
    let text = cli(bob_p.path(), "bob")
        .args(["history", "--missed", "--mark-seen"])
        .output()
        .expect("history");
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("MISSED") && text.contains("1 missed call(s) not seen yet"),
        "{text}"
    );
    let h = history(bob_p.path(), &["--missed"]);
    assert_eq!(h.len(), 1);
    assert_eq!(h[0]["seen"], true);
    // Searching by a fragment of the caller's address.
    assert_eq!(history(bob_p.path(), &["--search", "lic"]).len(), 1);
    assert!(history(bob_p.path(), &["--search", "carol"]).is_empty());
}

#[test]
fn a_call_killed_mid_way_is_in_the_history_marked_interrupted() {
    let (bob_p, alice_p) = (
        tempfile::tempdir().expect("p"),
        tempfile::tempdir().expect("p"),
    );
    let port = free_port();
    let (_bob, _lines) = listen(bob_p.path(), port, &["--auto-answer"]);
    let mut alice = Killed(
        cli(alice_p.path(), "alice")
            .args(["--json", "call", "--no-audio", "--duration", "60"])
            .arg(format!("sip:bob@127.0.0.1:{port}"))
            .stdout(Stdio::piped())
            .spawn()
            .expect("call"),
    );
    let out = BufReader::new(alice.0.stdout.take().expect("stdout"));
    for line in out.lines().map_while(Result::ok) {
        if line.contains("\"established\"") {
            break;
        }
    }
    // Two seconds of talk, then the process dies at once.
    std::thread::sleep(Duration::from_secs(2));
    let _ = Command::new("kill")
        .args(["-9", &alice.0.id().to_string()])
        .status();
    let _ = alice.0.wait();

    let h = history(alice_p.path(), &[]);
    assert_eq!(h.len(), 1, "{h:?}");
    let c = &h[0];
    assert_eq!(c["disposition"], "interrupted", "{c}");
    // Its end is when it was last known alive (stats each second): about the kill.
    let talk = c["durationSecs"].as_f64().unwrap_or(-1.0);
    assert!((0.5..=3.0).contains(&talk), "{c}");

    let db = rusqlite::Connection::open(alice_p.path().join("data/siperb.db")).expect("db");
    let check: String = db
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .expect("integrity_check");
    assert_eq!(check, "ok");
}
