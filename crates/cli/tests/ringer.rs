//! The phone's own sounds on real sound devices: a private PulseAudio daemon with a "Desk
//! Ringer" sink besides the default speaker. An incoming call rings on the ringer device (read
//! back from its monitor) while the call's audio stays on the speaker, and answering stops it;
//! a second call beeps over the first; the Settings view's microphone meter and test tone.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[path = "support/pulse.rs"]
mod pulse;
#[path = "support/session.rs"]
mod session;

use pulse::Pulse;
use session::{Killed, cli, free_port, lines_of, streams_of, wait_for, wait_within};

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

/// The pitch of the loud parts of `samples` (48 kHz): the median time between upward zero
/// crossings (with hysteresis) in the 10 ms pieces whose level is above `floor`; `None` when
/// nothing is that loud. The median, so that a dropout where this machine stalled (a gap in
/// the recording) does not pull the pitch down.
fn pitch_of_loud_parts(samples: &[i16], floor: f64) -> Option<f64> {
    let mut periods = Vec::new();
    let (mut below, mut last_up) = (false, None::<usize>);
    for (p, piece) in samples.chunks_exact(480).enumerate() {
        if rms(piece) < floor {
            last_up = None;
            continue;
        }
        for (i, s) in piece.iter().enumerate() {
            if *s < -500 {
                below = true;
            } else if *s > 500 && below {
                below = false;
                let at = p * 480 + i;
                if let Some(prev) = last_up {
                    periods.push(at - prev);
                }
                last_up = Some(at);
            }
        }
    }
    periods.sort_unstable();
    let median = *periods.get(periods.len() / 2)?;
    Some(48_000.0 / median as f64)
}

#[test]
fn a_second_call_beeps_softly_over_the_first_instead_of_ringing() {
    let pulse = Pulse::start();
    let port = free_port();
    let profiles: Vec<tempfile::TempDir> = (0..3)
        .map(|_| tempfile::tempdir().expect("profile"))
        .collect();
    // Bob's calls play on the default speaker ("spk"); no ringtone, to hear the beeps alone.
    let mut bob = Killed(
        cli(&pulse)
            .env("USER", "bob")
            .arg("--profile")
            .arg(profiles[0].path())
            .args(["--json", "listen", "--control", "--no-ring", "--bind"])
            .arg(format!("127.0.0.1:{port}"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("listen"),
    );
    let events = lines_of(&mut bob.0);
    let mut stdin = bob.0.stdin.take().expect("stdin");
    wait_for(&events, "listening", |v| {
        v.to_string().contains("listening")
    });
    let caller = |who: &str, profile: &std::path::Path| {
        Killed(
            cli(&pulse)
                .env("USER", who)
                .arg("--profile")
                .arg(profile)
                .args(["--json", "call", "--no-audio", "--duration", "30"])
                .arg(format!("sip:bob@127.0.0.1:{port}"))
                .stdout(Stdio::null())
                .spawn()
                .expect("call"),
        )
    };
    // Alice's call (silence) is answered.
    let _alice = caller("alice", profiles[1].path());
    wait_for(&events, "alice's call", |v| v["event"] == "incoming_call");
    writeln!(stdin, "answer").expect("answer");
    wait_for(&events, "the answer", |v| {
        v.to_string().contains("\"established\"")
    });
    std::thread::sleep(Duration::from_millis(500));
    // Carol calls while Bob talks: the call waits, and beeps play over Alice's call.
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("spk.wav");
    let mut rec = Killed(
        pulse
            .client(&mut Command::new("parecord"))
            .args([
                "--device=spk.monitor",
                "--file-format=wav",
                "--format=s16le",
                "--rate=48000",
                "--channels=1",
            ])
            .arg(&file)
            .spawn()
            .expect("parecord"),
    );
    let mut carol = caller("carol", profiles[2].path());
    let waiting = wait_for(&events, "carol's call", |v| v["event"] == "incoming_call");
    assert_eq!(waiting["waiting"], true, "{waiting}");
    std::thread::sleep(Duration::from_secs(4));
    let _ = Command::new("kill")
        .args(["-INT", &rec.0.id().to_string()])
        .status();
    let _ = rec.0.wait();
    let beeps = siperb_audio::wav::read(&file).expect("recording").samples;
    let peak = beeps.iter().map(|s| i32::from(*s).abs()).max().unwrap_or(0);
    let hz = pitch_of_loud_parts(&beeps, 2000.0);
    eprintln!("beeps: peak {peak}, pitch {hz:?}, {} samples", beeps.len());
    assert!(
        hz.is_some_and(|hz| (hz - 440.0).abs() < 10.0),
        "no 440 Hz beeps over the call: {hz:?}"
    );
    // Soft: about -20 dBFS, well under the voice.
    assert!((2000..=4500).contains(&peak), "peak {peak}");

    // Carol gives up: the beeps stop (a beep cycle is 5.5 s: listen longer than one).
    let _ = Command::new("kill")
        .args(["-INT", &carol.0.id().to_string()])
        .status();
    let _ = carol.0.wait();
    wait_for(&events, "carol's call to end", |v| {
        v["event"] == "call_ended" && v["cause"] == "caller_cancelled"
    });
    let after = heard_on(&pulse, "spk", 6.5);
    assert!(
        pitch_of_loud_parts(&after, 1000.0).is_none(),
        "the beeps go on after the waiting call ended (rms {:.0})",
        rms(&after)
    );
    writeln!(stdin, "quit").expect("quit");
}

#[test]
fn the_microphone_meter_and_the_test_tone_work_on_the_chosen_devices() {
    let pulse = Pulse::start();
    let _ringer = pulse.add_sink("desk", "device.description=\"Desk Ringer\"");
    let profile = tempfile::tempdir().expect("profile");
    let run = |args: &[&str]| {
        let out = cli(&pulse)
            .arg("--profile")
            .arg(profile.path())
            .args(args)
            .output()
            .expect("cli");
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };

    // The meter: a 1 kHz tone at -12 dBFS peak plays into the default microphone.
    let dir = tempfile::tempdir().expect("dir");
    let tone = dir.path().join("tone.wav");
    let samples: Vec<i16> = (0..48_000 * 6)
        .map(|i| (8192.0 * (std::f64::consts::TAU * 1000.0 * f64::from(i) / 48_000.0).sin()) as i16)
        .collect();
    siperb_audio::wav::write(
        &tone,
        &siperb_audio::wav::Pcm {
            rate: 48_000,
            samples,
        },
    )
    .expect("tone");
    let quiet = run(&["--json", "devices", "--level", "1.5"]);
    let mut player = Killed(
        pulse
            .client(Command::new("paplay").arg("--device=mic").arg(&tone))
            .spawn()
            .expect("paplay"),
    );
    std::thread::sleep(Duration::from_millis(500));
    let loud = run(&["--json", "devices", "--level", "2.5"]);
    let _ = player.0.wait();
    let levels = |text: &str| -> Vec<f64> {
        text.lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|v| v["event"] == "mic_level")
            .filter_map(|v| v["rmsDbfs"].as_f64())
            .collect()
    };
    let (quiet, loud) = (levels(&quiet), levels(&loud));
    eprintln!("quiet {quiet:?}\nloud {loud:?}");
    assert!(quiet.len() >= 10 && loud.len() >= 15, "ten a second");
    assert!(quiet.iter().all(|db| *db < -60.0), "{quiet:?}");
    // A sine at -12 dBFS peak is -15 dBFS RMS; null sinks deliver in bursts, so some
    // reports in between are empty.
    let top = loud.iter().copied().fold(f64::MIN, f64::max);
    assert!((top + 15.0).abs() < 1.5, "loudest report {top} dBFS");

    // The test tone: on the chosen ringer device for the ringer, on the speaker otherwise.
    run(&[
        "settings",
        "ringer",
        "--device",
        "Desk Ringer",
        "--volume",
        "100",
    ]);
    for (target, sink, other) in [("ringer", "desk", "spk"), ("speaker", "spk", "desk")] {
        let files: Vec<std::path::PathBuf> = [sink, other]
            .iter()
            .map(|s| dir.path().join(format!("{target}-{s}.wav")))
            .collect();
        let recorders: Vec<Killed> = [sink, other]
            .iter()
            .zip(&files)
            .map(|(s, f)| {
                Killed(
                    pulse
                        .client(&mut Command::new("parecord"))
                        .arg(format!("--device={s}.monitor"))
                        .args([
                            "--file-format=wav",
                            "--format=s16le",
                            "--rate=48000",
                            "--channels=1",
                        ])
                        .arg(f)
                        .spawn()
                        .expect("parecord"),
                )
            })
            .collect();
        run(&["devices", "--test-tone", target]);
        for mut r in recorders {
            let _ = Command::new("kill")
                .args(["-INT", &r.0.id().to_string()])
                .status();
            let _ = r.0.wait();
        }
        let heard: Vec<f64> = files
            .iter()
            .map(|f| rms(&siperb_audio::wav::read(f).expect("recording").samples))
            .collect();
        eprintln!("test tone for the {target}: rms {heard:?} on {sink}, {other}");
        assert!(
            heard[0] > 1000.0,
            "the {target} test tone is not on {sink}: {heard:?}"
        );
        assert!(
            heard[1] < 10.0,
            "the {target} test tone is on {other}: {heard:?}"
        );
    }
}
