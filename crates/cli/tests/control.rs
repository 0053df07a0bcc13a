//! `--control`: scripts drive calls line by line on stdin. Three CLIs on local lines: alice
//! calls bob, calls carol (bob goes on hold by himself), swaps between them, then hands bob
//! over to carol with an attended transfer; bob and carol end up talking.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

struct Phone {
    name: &'static str,
    child: Child,
    stdin: Option<ChildStdin>,
    events: mpsc::Receiver<Value>,
    seen: Vec<Value>,
    pending: Vec<Value>,
    _profile: tempfile::TempDir,
}

impl Phone {
    fn start(name: &'static str, args: &[&str]) -> Self {
        let profile = tempfile::tempdir().expect("dir");
        let mut child = Command::new(env!("CARGO_BIN_EXE_siperb-cli"))
            .env_remove("SIPERB_PROFILE")
            .env("USER", name)
            .arg("--profile")
            .arg(profile.path())
            .arg("--json")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("siperb-cli");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, events) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Ok(v) = serde_json::from_str::<Value>(&line) {
                    let _ = tx.send(v);
                }
            }
        });
        Self {
            name,
            stdin: child.stdin.take(),
            child,
            events,
            seen: Vec::new(),
            pending: Vec::new(),
            _profile: profile,
        }
    }

    fn say(&mut self, command: &str) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        writeln!(stdin, "{command}").expect("write a command");
        stdin.flush().expect("flush");
    }

    /// The first event not taken yet that `want` accepts, waiting up to 10 s for it. Events
    /// passed over stay for later calls, so independent events may come in any order.
    fn expect(&mut self, what: &str, want: impl Fn(&Value) -> bool) -> Value {
        if let Some(i) = self.pending.iter().position(&want) {
            return self.pending.remove(i);
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.events.recv_timeout(left) {
                Ok(e) => {
                    self.seen.push(e.clone());
                    if want(&e) {
                        return e;
                    }
                    self.pending.push(e);
                }
                Err(_) => panic!(
                    "{}: no {what}; it said:\n{}",
                    self.name,
                    self.seen
                        .iter()
                        .map(Value::to_string)
                        .collect::<Vec<_>>()
                        .join("\n")
                ),
            }
        }
    }

    fn wait_exit(&mut self) -> bool {
        for _ in 0..100 {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("{} did not exit", self.name);
    }
}

impl Drop for Phone {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn is(event: &'static str, call: u64) -> impl Fn(&Value) -> bool {
    move |e| e["event"] == event && e["call"] == call
}

fn state(call: u64, s: &'static str) -> impl Fn(&Value) -> bool {
    move |e| e["event"] == "call_state" && e["call"] == call && e["state"] == s
}

fn hold(call: u64, local: bool) -> impl Fn(&Value) -> bool {
    move |e| e["event"] == "hold" && e["call"] == call && e["local"] == local
}

fn free_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .expect("port")
        .port()
}

#[test]
fn a_script_holds_swaps_and_hands_a_call_over_with_an_attended_transfer() {
    let (pb, pc) = (free_port(), free_port());
    let bob_addr = format!("127.0.0.1:{pb}");
    let carol_addr = format!("127.0.0.1:{pc}");
    let mut bob = Phone::start("bob", &["listen", "--control", "--bind", &bob_addr]);
    bob.expect("listening", |e| e["event"] == "listening");
    let mut carol = Phone::start("carol", &["listen", "--auto-answer", "--bind", &carol_addr]);
    carol.expect("listening", |e| e["event"] == "listening");

    let mut alice = Phone::start(
        "alice",
        &["call", "--control", &format!("sip:bob@{bob_addr}")],
    );
    let incoming = bob.expect("an incoming call", |e| e["event"] == "incoming_call");
    let b1 = incoming["call"].as_u64().expect("call number");
    bob.say("answer");
    alice.expect("call 1 established", state(1, "established"));

    // A command the CLI does not know is reported, and the run goes on.
    alice.say("fly to the moon");
    let failed = alice.expect("command_failed", |e| e["event"] == "command_failed");
    assert!(
        failed["message"]
            .as_str()
            .is_some_and(|m| m.contains("unknown command")),
        "{failed}"
    );

    // A second call puts the first on hold.
    alice.say(&format!("call sip:carol@{carol_addr}"));
    alice.expect("call 1 held", hold(1, true));
    alice.expect("call 2 established", state(2, "established"));
    bob.expect("held by alice", |e| {
        e["event"] == "hold" && e["remote"] == true
    });

    // Swap to bob and back: one call is always on hold.
    alice.say("swap 1");
    alice.expect("call 2 held", hold(2, true));
    alice.expect("call 1 resumed", hold(1, false));
    alice.say("swap 2");
    alice.expect("call 1 held again", hold(1, true));
    alice.expect("call 2 resumed", hold(2, false));

    // Attended transfer: bob calls carol replacing alice's call with her; both of alice's
    // calls end and her run is over.
    alice.say("attended 1 2");
    let e = alice.expect("call 1 ended", is("call_ended", 1));
    assert_eq!(e["cause"], "transferred", "{e}");
    let e = alice.expect("call 2 ended", is("call_ended", 2));
    assert!(
        e["cause"] == "transferred" || e["cause"] == "remote_hangup",
        "{e}"
    );
    assert!(
        alice.wait_exit(),
        "alice's run ends well once her calls are over"
    );

    let requested = bob.expect("transfer_requested", |e| e["event"] == "transfer_requested");
    assert!(
        requested["target"]
            .as_str()
            .is_some_and(|t| t.contains("Replaces=")),
        "{requested}"
    );
    let out = bob.expect("the call to carol", |e| e["event"] == "outgoing_call");
    let b2 = out["call"].as_u64().expect("call number");
    bob.expect("the new call up", state(b2, "established"));
    let e = bob.expect("the old call over", is("call_ended", b1));
    assert_eq!(e["cause"], "transferred", "{e}");
    let replaced = carol.expect("call_replaced", |e| e["event"] == "call_replaced");
    let c2 = replaced["call"].as_u64().expect("call number");
    assert!(
        !carol
            .seen
            .iter()
            .any(|e| e["event"] == "incoming_call" && e["call"] == c2),
        "the replacing call does not ring"
    );
    carol.expect("the new call up", state(c2, "established"));

    // bob and carol talk; bob's script hangs up and quits.
    bob.say("hangup");
    let e = carol.expect("bob hung up", is("call_ended", c2));
    assert_eq!(e["cause"], "remote_hangup", "{e}");
    bob.say("quit");
    assert!(bob.wait_exit(), "bob's quit ends his run well");
}
