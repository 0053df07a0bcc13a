//! A call's audio on JACK (`SIPERB_AUDIO_HOST=jack`): one client, `siperb_<pid>`, with the
//! ports `in` and `out` (cpal's JACK host made a client per direction). jack_metro's beeps go
//! into `in`, round the echo test and out of `out`, where jack_rec records them; the call's
//! own recording has them on both sides (what the input port gave, and what came back).

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[path = "support/bursts.rs"]
mod bursts;
#[path = "../../sip/tests/support/jack.rs"]
mod jack;
#[path = "support/pulse.rs"]
mod pulse;
#[path = "support/session.rs"]
mod session;

use bursts::onsets;
use session::{Killed, lines_of, wait_exit, wait_for};
use siperb_audio::wav;

/// The JACK ports whose names start with `prefix` (jack_lsp, Debian's jackd2).
fn ports(server: &str, prefix: &str) -> Vec<String> {
    let out = Command::new("jack_lsp")
        .env("JACK_DEFAULT_SERVER", server)
        .output()
        .expect("jack_lsp");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|p| p.starts_with(prefix))
        .map(str::to_owned)
        .collect()
}

fn connect(server: &str, from: &str, to: &str) {
    let ok = Command::new("jack_connect")
        .env("JACK_DEFAULT_SERVER", server)
        .args([from, to])
        .status()
        .expect("jack_connect");
    assert!(ok.success(), "jack_connect {from} {to}");
}

#[test]
fn an_echo_call_on_jack_is_one_client_that_hears_and_plays() {
    let jack = jack::Jack::start();
    let dir = tempfile::tempdir().expect("dir");
    let profile = tempfile::tempdir().expect("profile");
    let mut call = Killed(
        Command::new(env!("CARGO_BIN_EXE_siperb-cli"))
            .env_remove("SIPERB_PROFILE")
            .env("SIPERB_AUDIO_HOST", "jack")
            .env("JACK_DEFAULT_SERVER", &jack.name)
            .env("USER", "alice")
            .arg("--profile")
            .arg(profile.path())
            .args([
                "--json",
                "call",
                "--bind",
                "127.0.0.1:0",
                "--duration",
                "6",
                "--control",
                "echo",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("call echo"),
    );
    let lines = lines_of(&mut call.0);
    wait_for(&lines, "the echo call", |v| {
        v.to_string().contains("\"established\"")
    });
    let client = format!("siperb_{}", call.0.id());
    // The devices open as the call's media starts, a moment after it is established.
    let deadline = Instant::now() + Duration::from_secs(5);
    let ours = loop {
        let ours = ports(&jack.name, &format!("{client}:"));
        if ours.len() >= 2 || Instant::now() > deadline {
            break ours;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(
        ours,
        [format!("{client}:in"), format!("{client}:out")],
        "one client with an input and an output"
    );
    assert!(
        ports(&jack.name, "cpal_client").is_empty(),
        "no cpal clients besides"
    );
    let rec = dir.path().join("call.wav");
    let mut stdin = call.0.stdin.take().expect("stdin");
    writeln!(stdin, "record {}", rec.display()).expect("record");

    // What our output port plays, and beeps (880 Hz, twice a second) into our input port.
    let heard = dir.path().join("heard.wav");
    let mut recorder = Killed(
        Command::new("jack_rec")
            .env("JACK_DEFAULT_SERVER", &jack.name)
            .args(["-f"])
            .arg(&heard)
            .args(["-d", "4", "-b", "16"])
            .arg(format!("{client}:out"))
            .stdout(Stdio::null())
            .spawn()
            .expect("jack_rec"),
    );
    let _metro = Killed(
        Command::new("jack_metro")
            .env("JACK_DEFAULT_SERVER", &jack.name)
            .args([
                "-n", "beeps", "-b", "120", "-f", "880", "-D", "100", "-A", "0.5",
            ])
            .stdout(Stdio::null())
            .spawn()
            .expect("jack_metro"),
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    let beeps = loop {
        if let Some(p) = ports(&jack.name, "beeps:").into_iter().next() {
            break p;
        }
        assert!(Instant::now() < deadline, "jack_metro has no port");
        std::thread::sleep(Duration::from_millis(50));
    };
    connect(&jack.name, &beeps, &format!("{client}:in"));

    let status = wait_exit(&mut call.0, Duration::from_secs(20)).expect("the call ends");
    assert!(status.success(), "the CLI failed: {status}");
    drop(stdin);
    let _ = wait_exit(&mut recorder.0, Duration::from_secs(10));

    // The call's recording: the input port's beeps on the left, a second later on the right.
    let (rate, channels) = wav::read_channels(&rec).expect("call recording");
    let sent = onsets(&channels[0], rate, 2000);
    let back = onsets(&channels[1], rate, 2000);
    eprintln!("input port onsets {sent:?}, echoed {back:?}");
    assert!(
        sent.len() >= 3,
        "the input port did not give the beeps: {sent:?}"
    );
    assert!(!back.is_empty(), "nothing came back: sent {sent:?}");
    let delay = back[0] - sent[0];
    assert!(
        (0.9..2.0).contains(&delay),
        "the echo test plays back after a second: sent {sent:?}, back {back:?}"
    );

    // And the output port played them.
    let played = wav::read(&heard).expect("jack_rec's file");
    let out = onsets(&played.samples, played.rate, 2000);
    eprintln!("output port onsets {out:?}");
    assert!(!out.is_empty(), "the output port played nothing");
}
