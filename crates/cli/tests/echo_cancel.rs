//! Echo cancellation in a real call: Bob's microphone is his speaker's monitor on a private
//! PulseAudio (everything he plays comes straight back, through the sound server's real
//! buffering), Alice talks from a file and records what comes back from Bob. With Bob's echo
//! cancellation on, far less of Alice's own voice returns than with it off.

use std::process::Stdio;

#[path = "support/pulse.rs"]
mod pulse;
#[path = "support/session.rs"]
mod session;

use pulse::Pulse;
use session::{Killed, cli, free_port, lines_of, wait_for};
use siperb_audio::processing::synth;

/// One call: Bob (sound devices, his settings changed by `settings` first, `bob_args`)
/// answers, Alice talks `speech` for its length and records what comes back; returns that
/// recording.
fn echo_returned(
    pulse: &Pulse,
    speech: &std::path::Path,
    settings: &[&str],
    bob_args: &[&str],
) -> Vec<f32> {
    let port = free_port();
    let (bob_profile, alice_profile) = (
        tempfile::tempdir().expect("profile"),
        tempfile::tempdir().expect("profile"),
    );
    if !settings.is_empty() {
        let set = cli(pulse)
            .arg("--profile")
            .arg(bob_profile.path())
            .arg("settings")
            .args(settings)
            .output()
            .expect("settings");
        assert!(
            set.status.success(),
            "{}",
            String::from_utf8_lossy(&set.stderr)
        );
    }
    let mut bob = Killed(
        cli(pulse)
            .env("USER", "bob")
            .arg("--profile")
            .arg(bob_profile.path())
            .args([
                "--json",
                "listen",
                "--auto-answer",
                "--codec",
                "opus",
                "--bind",
            ])
            .arg(format!("127.0.0.1:{port}"))
            .args(bob_args)
            .stdout(Stdio::piped())
            .spawn()
            .expect("listen"),
    );
    let events = lines_of(&mut bob.0);
    wait_for(&events, "listening", |v| {
        v.to_string().contains("listening")
    });
    let dir = tempfile::tempdir().expect("dir");
    let back = dir.path().join("back.wav");
    let alice = cli(pulse)
        .env("USER", "alice")
        .arg("--profile")
        .arg(alice_profile.path())
        .args(["call", "--duration", "12", "--audio-in"])
        .arg(speech)
        .arg("--audio-out")
        .arg(&back)
        .arg(format!("sip:bob@127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .status()
        .expect("call");
    assert!(alice.success());
    let heard = siperb_audio::wav::read(&back).expect("recording");
    heard
        .samples
        .iter()
        .map(|s| f32::from(*s) / 32768.0)
        .collect()
}

#[test]
fn with_echo_cancellation_the_caller_hardly_hears_herself() {
    let pulse = Pulse::start();
    // Bob's microphone hears exactly what his speaker plays.
    assert!(pulse.pactl(&["set-default-source", "spk.monitor"]));
    let dir = tempfile::tempdir().expect("dir");
    let speech = dir.path().join("speech.wav");
    let voice = synth::speech_like(48_000, 11.0, 7);
    let pcm = siperb_audio::wav::Pcm {
        rate: 48_000,
        samples: voice.iter().map(|s| (s * 32767.0) as i16).collect(),
    };
    siperb_audio::wav::write(&speech, &pcm).expect("speech");

    let off = echo_returned(&pulse, &speech, &[], &["--no-processing"]);
    let aec = echo_returned(
        &pulse,
        &speech,
        &["processing", "--noise-suppression", "off"],
        &[],
    );
    let both = echo_returned(&pulse, &speech, &[], &[]);
    // Mean power in the second half of the call (the canceller has converged), in dBFS.
    let tail = |x: &[f32]| -> f64 {
        let from = x.len() / 2;
        let e = synth::energy(&x[from..]) / (x.len() - from).max(1) as f64;
        10.0 * e.max(1e-12).log10()
    };
    let (off, aec, both) = (tail(&off), tail(&aec), tail(&both));
    eprintln!(
        "echo back to the caller: {off:.1} dBFS without processing, {aec:.1} dBFS with the \
         canceller alone ({:.1} dB less), {both:.1} dBFS with noise suppression too ({:.1} dB less)",
        off - aec,
        off - both
    );
    // The echo really came back without processing (the path works)...
    assert!(off > -45.0, "no echo path: {off:.1} dBFS");
    // ... the canceller alone takes most of it away, and the defaults at least as much.
    assert!(
        off - aec > 15.0,
        "the canceller removed only {:.1} dB",
        off - aec
    );
    assert!(
        off - both > 15.0,
        "the defaults removed only {:.1} dB",
        off - both
    );
}
