//! The echo test (`siperb-cli call echo`, no server) with recording and mute driven from
//! `--control`, on file devices: the recording's left channel is what we sent, its right
//! channel what came back, one second later.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[path = "support/bursts.rs"]
mod bursts;

use bursts::{bursts, onsets};
use siperb_audio::wav;

fn cli(profile: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_siperb-cli"));
    c.env_remove("SIPERB_PROFILE")
        .env("USER", "alice")
        .arg("--profile")
        .arg(profile);
    c
}

#[test]
fn the_echo_test_plays_us_back_a_second_later_and_the_recording_shows_it() {
    let profile = tempfile::tempdir().expect("dir");
    let dir = tempfile::tempdir().expect("dir");
    let mic = dir.path().join("mic.wav");
    let rec = dir.path().join("call.wav");
    // Bursts at 0.6 s and 1.2 s are heard; the one at 2.4 s is sent while muted.
    wav::write(&mic, &bursts(&[0.6, 1.2, 2.4], 4.0, 16000)).expect("mic file");
    let mut child = cli(profile.path())
        .args(["--json", "call", "--bind", "127.0.0.1:0", "--duration", "5"])
        .args(["--control", "--stats", "--audio-in"])
        .arg(&mic)
        .arg("echo")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("call echo");
    let mut stdin = child.stdin.take().expect("stdin");
    let stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let reader = std::thread::spawn(move || {
        stdout
            .lines()
            .map_while(Result::ok)
            .collect::<Vec<String>>()
    });
    let start = Instant::now();
    writeln!(stdin, "record {}", rec.display()).expect("record");
    std::thread::sleep(Duration::from_millis(2000).saturating_sub(start.elapsed()));
    writeln!(stdin, "mute").expect("mute");
    std::thread::sleep(Duration::from_millis(4000).saturating_sub(start.elapsed()));
    writeln!(stdin, "record stop").expect("stop");
    let status = child.wait().expect("wait");
    let lines = reader.join().expect("lines");
    let text = lines.join("\n");
    assert!(status.success(), "{text}");
    let has = |what: &str| lines.iter().any(|l| l.contains(what));
    assert!(has("\"to\":\"echo\""), "{text}");
    assert!(has("\"state\":\"established\""), "{text}");
    assert!(has("\"event\":\"recording\""), "{text}");
    assert!(has("\"event\":\"muted\""), "{text}");
    assert!(has("\"event\":\"recording_stopped\""), "{text}");
    assert!(has("\"cause\":\"local_hangup\""), "{text}");
    // The echo came through the jitter buffer: packets were received and stats say so.
    assert!(has("\"packets_received\":1"), "{text}");

    let (rate, channels) = wav::read_channels(&rec).expect("recording");
    assert_eq!((rate, channels.len()), (48_000, 2));
    let secs = channels[0].len() as f64 / f64::from(rate);
    assert!((3.0..4.2).contains(&secs), "{secs} s recorded");
    let sent = onsets(&channels[0], rate, 3000);
    let heard = onsets(&channels[1], rate, 3000);
    // What we sent: the two bursts before the mute (the third was muted).
    assert_eq!(sent.len(), 2, "sent {sent:?}, heard {heard:?}");
    assert!((sent[1] - sent[0] - 0.6).abs() < 0.03, "{sent:?}");
    // What came back: the same two, about a second later (plus the media path's own delay),
    // and nothing of the muted one.
    assert_eq!(heard.len(), 2, "sent {sent:?}, heard {heard:?}");
    for (s, h) in sent.iter().zip(&heard) {
        let lag = h - s;
        assert!(
            (1.0..1.3).contains(&lag),
            "echo {lag:.3} s after: {sent:?} {heard:?}"
        );
    }
    eprintln!(
        "echo lag {:.0} ms (1000 ms of it the reflector's)",
        (heard[0] - sent[0]) * 1000.0
    );
}

#[test]
fn recording_without_a_call_or_to_a_bad_place_says_why() {
    let profile = tempfile::tempdir().expect("dir");
    let mut child = cli(profile.path())
        .args(["--json", "call", "--bind", "127.0.0.1:0", "--duration", "2"])
        .args(["--control", "--no-audio", "echo"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("call echo");
    let mut stdin = child.stdin.take().expect("stdin");
    std::thread::sleep(Duration::from_millis(300));
    writeln!(stdin, "record /nonexistent/dir/call.wav").expect("record");
    writeln!(stdin, "record stop 99").expect("stop");
    let out = child.wait_with_output().expect("wait");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    let failures: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("command_failed"))
        .collect();
    assert_eq!(failures.len(), 2, "{text}");
    assert!(failures[0].contains("/nonexistent/dir/call.wav"), "{text}");
    assert!(failures[1].contains("no such call"), "{text}");
}
