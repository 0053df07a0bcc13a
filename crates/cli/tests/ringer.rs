//! The ringer on real sound devices: a private PulseAudio daemon with a "Desk Ringer" sink
//! besides the default speaker. An incoming call rings on the ringer device (read back from
//! its monitor) while the call's audio stays on the speaker; answering stops the ringing.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[path = "support/pulse.rs"]
mod pulse;
#[path = "support/session.rs"]
mod session;

use pulse::Pulse;
use session::{Killed, cli, lines_of, streams_of, wait_for, wait_within};

fn free_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .expect("port")
        .port()
}

/// What a sink plays over the next `secs`, read from its monitor (16-bit mono, 48 kHz).
fn heard_on(pulse: &Pulse, sink: &str, secs: f64) -> Vec<i16> {
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("heard.wav");
    let mut rec = pulse
        .client(&mut Command::new("parecord"))
        .arg(format!("--device={sink}.monitor"))
        .args([
            "--file-format=wav",
            "--format=s16le",
            "--rate=48000",
            "--channels=1",
        ])
        .arg(&file)
        .spawn()
        .expect("parecord");
    std::thread::sleep(Duration::from_secs_f64(secs));
    let _ = Command::new("kill")
        .args(["-INT", &rec.id().to_string()])
        .status();
    let _ = rec.wait();
    siperb_audio::wav::read(&file).expect("recording").samples
}

fn rms(samples: &[i16]) -> f64 {
    (samples.iter().map(|s| f64::from(*s).powi(2)).sum::<f64>() / samples.len().max(1) as f64)
        .sqrt()
}

#[test]
fn an_incoming_call_rings_on_the_ringer_device_and_the_call_stays_on_the_speaker() {
    let pulse = Pulse::start();
    let _ringer = pulse.add_sink("desk", "device.description=\"Desk Ringer\"");
    let port = free_port();
    let bob = tempfile::tempdir().expect("profile");
    let alice = tempfile::tempdir().expect("profile");

    // Bob listens, ringing on the desk ringer with the chime; his calls use the default
    // devices (the "spk" sink).
    let mut listener = Killed(
        cli(&pulse)
            .env("USER", "bob")
            .arg("--profile")
            .arg(bob.path())
            .args(["--json", "listen", "--control", "--bind"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["--ringer-device", "desk ringer", "--ringtone", "chime"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("listen"),
    );
    let events = lines_of(&mut listener.0);
    wait_for(&events, "listening", |v| {
        v.to_string().contains("listening")
    });
    // Alice calls him (no sound devices of her own).
    let _caller = Killed(
        cli(&pulse)
            .env("USER", "alice")
            .arg("--profile")
            .arg(alice.path())
            .args(["--json", "call", "--no-audio", "--duration", "5"])
            .arg(format!("sip:bob@127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .spawn()
            .expect("call"),
    );
    wait_for(&events, "the incoming call", |v| {
        v["event"] == "incoming_call"
    });
    let ringing = wait_for(&events, "the ringer", |v| v["event"] == "ringer");
    assert_eq!(ringing["state"], "ringing", "{ringing}");
    assert_eq!(ringing["device"], "Desk Ringer", "{ringing}");
    // The sound server's own word: our ringtone stream is on the desk ringer (the call's own
    // stream, already open, is on the speaker), and it is heard there.
    let pid = listener.0.id();
    let streams = streams_of(&pulse, pid, "sink-inputs");
    let ringtone: Vec<&(String, String)> = streams
        .iter()
        .filter(|(name, _)| name == "Siperb ringtone")
        .collect();
    assert_eq!(
        ringtone,
        [&("Siperb ringtone".into(), "desk".into())],
        "{streams:?}"
    );
    assert!(
        streams
            .iter()
            .all(|(name, device)| name == "Siperb ringtone" || device == "spk"),
        "{streams:?}"
    );
    // (A null sink renders in bursts of up to two seconds when no client asks for less.)
    let on_ringer = heard_on(&pulse, "desk", 3.0);
    assert!(on_ringer.len() > 24_000, "{} samples", on_ringer.len());
    let level = rms(&on_ringer);
    assert!(level > 1000.0, "the ringer device is quiet: rms {level:.0}");

    // Bob answers: the ringing stops, the call plays on the speaker and the ringer is quiet.
    let mut stdin = listener.0.stdin.take().expect("stdin");
    writeln!(stdin, "answer").expect("answer");
    let answered = Instant::now();
    // Both happen, in either order: the call is up, and the ringing has stopped.
    let (mut up, mut stopped) = (false, false);
    while !(up && stopped) {
        let v = wait_for(&events, "the answer and the end of the ringing", |v| {
            v.to_string().contains("\"established\"") || v["event"] == "ringer"
        });
        if v["event"] == "ringer" {
            assert_eq!(v["state"], "stopped", "{v}");
            stopped = true;
            eprintln!("ringing stopped {:?} after the answer", answered.elapsed());
        } else {
            up = true;
        }
    }
    std::thread::sleep(Duration::from_millis(500));
    let streams = streams_of(&pulse, pid, "sink-inputs");
    assert!(
        streams.iter().all(|(_, device)| device == "spk")
            && !streams.iter().any(|(name, _)| name == "Siperb ringtone"),
        "{streams:?}"
    );
    let after = heard_on(&pulse, "desk", 3.0);
    assert!(
        rms(&after) < 10.0,
        "the ringer still sounds: rms {}",
        rms(&after)
    );
    wait_within(&events, 15, "the call's end", |v| {
        v["event"] == "call_ended"
    });
    drop(stdin);
}
