//! The echo test on real sound devices: a private PulseAudio daemon with two null sinks, the
//! CLI's default cpal devices through ALSA's PulseAudio plugin. A tone played into the "mic"
//! sink is captured from its monitor (our default microphone), goes round the echo test, and
//! is played to the "spk" sink (our default speaker), whose monitor is recorded.
//! Also: the device list and hot-plug events, from the same daemon.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[path = "support/bursts.rs"]
mod bursts;
#[path = "support/pulse.rs"]
mod pulse;
#[path = "support/session.rs"]
mod session;

use bursts::{bursts, onsets};
use pulse::Pulse;
use session::{Killed, cli, devices_of, lines_of, wait_exit, wait_for, wait_within};
use siperb_audio::wav;

#[test]
fn the_echo_test_runs_on_the_default_sound_devices() {
    let pulse = Pulse::start();
    let dir = tempfile::tempdir().expect("dir");
    let tone: PathBuf = dir.path().join("tone.wav");
    wav::write(&tone, &bursts(&[0.2, 0.8], 1.5, 48000)).expect("tone");
    let heard = dir.path().join("heard.wav");
    let profile = tempfile::tempdir().expect("profile");

    // What our speaker plays, from the start.
    let mut recorder = pulse
        .client(Command::new("parecord").args([
            "--device=spk.monitor",
            "--file-format=wav",
            "--format=s16le",
            "--rate=48000",
            "--channels=1",
        ]))
        .arg(&heard)
        .spawn()
        .expect("parecord");
    let recording_since = Instant::now();

    let mut call = pulse
        .client(&mut Command::new(env!("CARGO_BIN_EXE_siperb-cli")))
        .env_remove("SIPERB_PROFILE")
        .env("USER", "alice")
        .arg("--profile")
        .arg(profile.path())
        .args([
            "--json",
            "call",
            "--bind",
            "127.0.0.1:0",
            "--duration",
            "8",
            "--control",
        ])
        .arg("echo")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("call echo");
    let mut out = BufReader::new(call.stdout.take().expect("stdout"));
    let mut line = String::new();
    while out.read_line(&mut line).expect("read") > 0 && !line.contains("\"established\"") {
        line.clear();
    }
    assert!(line.contains("established"), "the echo call did not start");
    let rec = dir.path().join("call.wav");
    let mut stdin = call.stdin.take().expect("stdin");
    writeln!(stdin, "record {}", rec.display()).expect("record");
    // Null sinks take a moment to start moving samples (about a second here).
    std::thread::sleep(Duration::from_secs(2));
    let played_at = recording_since.elapsed().as_secs_f64();
    let play = pulse
        .client(Command::new("paplay").arg("--device=mic").arg(&tone))
        .status()
        .expect("paplay");
    assert!(play.success());
    let rest: String = out
        .lines()
        .map_while(Result::ok)
        .collect::<Vec<_>>()
        .join("\n");
    assert!(call.wait().expect("wait").success(), "{rest}");
    assert!(rest.contains("\"cause\":\"local_hangup\""), "{rest}");
    let _ = Command::new("kill")
        .args(["-INT", &recorder.id().to_string()])
        .status();
    let _ = recorder.wait();

    drop(stdin);

    // The call's own recording: the microphone device's samples on the left, what came back
    // on the right, a second (and the jitter buffer) later. Null sinks in a busy VM deliver
    // the microphone in uneven bursts, so only what must hold on any machine is asserted
    // here; the exact timing is the file-device echo test's (tests/echo.rs).
    let (rate, channels) = wav::read_channels(&rec).expect("call recording");
    let sent = onsets(&channels[0], rate, 2000);
    let back = onsets(&channels[1], rate, 2000);
    eprintln!("microphone onsets {sent:?}, echoed {back:?}");
    assert!(!sent.is_empty(), "the microphone did not hear the bursts");
    assert!(!back.is_empty(), "nothing came back: sent {sent:?}");
    // (Frames, not wall time: when the sound server drops microphone samples the recording's
    // timeline shrinks, so the echo's second can show as less.)
    assert!(back[0] > sent[0], "sent {sent:?}, back {back:?}");

    // What the speaker device played (reported, see above).
    let got = wav::read(&heard).expect("speaker recording");
    let loud: Vec<f64> = onsets(&got.samples, got.rate, 2000)
        .into_iter()
        .filter(|t| *t > played_at)
        .collect();
    eprintln!("speaker onsets after {played_at:.2} s: {loud:?}");
}

/// An echo-test call of `secs` seconds from the local line (JSON events, stdin open for
/// `--control`), with `extra` options; returns once it is established.
fn echo_call(
    pulse: &Pulse,
    profile: &std::path::Path,
    secs: u32,
    extra: &[&str],
) -> (Killed, std::sync::mpsc::Receiver<String>) {
    let mut call = Killed(
        cli(pulse)
            .env("USER", "alice")
            .arg("--profile")
            .arg(profile)
            .args(["--json", "call", "--bind", "127.0.0.1:0", "--duration"])
            .arg(secs.to_string())
            .args(extra)
            .arg("echo")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("call echo"),
    );
    let lines = lines_of(&mut call.0);
    wait_for(&lines, "the echo call", |v| {
        v.to_string().contains("\"established\"")
    });
    (call, lines)
}

#[test]
fn devices_are_listed_with_their_names_and_changes_are_watched() {
    let pulse = Pulse::start();
    let out = cli(&pulse)
        .args(["--json", "devices"])
        .output()
        .expect("devices");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).expect("JSON list");
    let find = |id: &str, dir: &str| {
        list.iter()
            .find(|d| d["id"] == id && d["direction"] == dir)
            .cloned()
    };
    let spk = find("spk", "output").expect("the spk sink is listed");
    assert_eq!(spk["isDefault"], true);
    assert_eq!(spk["name"], "Laptop speakers");
    assert_eq!(find("mic", "output").expect("mic sink")["isDefault"], false);
    // The default source (a monitor set up as microphone) is listed; other monitors are not.
    assert_eq!(
        find("mic.monitor", "input").expect("mic.monitor")["isDefault"],
        true
    );
    assert!(find("spk.monitor", "input").is_none(), "{list:?}");
    let text = cli(&pulse).arg("devices").output().expect("devices");
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("Laptop speakers [spk] (default)"), "{text}");

    // Watching: a headset comes, becomes the default, and goes.
    let mut watcher = Killed(
        cli(&pulse)
            .args(["--json", "devices", "--watch"])
            .stdout(Stdio::piped())
            .spawn()
            .expect("devices --watch"),
    );
    let lines = lines_of(&mut watcher.0);
    let first = wait_for(&lines, "the device list", |v| v["event"] == "devices");
    assert!(
        first["devices"].as_array().is_some_and(|d| d.len() >= 3),
        "{first}"
    );
    let plugged = Instant::now();
    let module = pulse.add_sink(
        "headset",
        "device.description=\"Jabra Evolve\" device.form_factor=headset",
    );
    let added = wait_for(&lines, "the headset's arrival", |v| {
        v["change"]["kind"] == "added" && v["change"]["device"]["id"] == "headset"
    });
    let seen_after = plugged.elapsed();
    let device = &added["change"]["device"];
    assert_eq!(device["name"], "Jabra Evolve");
    assert_eq!(device["headset"], true);
    assert_eq!(device["direction"], "output");
    assert!(pulse.pactl(&["set-default-sink", "headset"]));
    wait_for(&lines, "the new default", |v| {
        v["change"]["kind"] == "defaultChanged" && v["change"]["id"] == "headset"
    });
    let unplugged = Instant::now();
    assert!(pulse.pactl(&["unload-module", &module]));
    wait_for(&lines, "the headset's removal", |v| {
        v["change"]["kind"] == "removed" && v["change"]["device"]["id"] == "headset"
    });
    let gone_after = unplugged.elapsed();
    wait_for(&lines, "the old default back", |v| {
        v["change"]["kind"] == "defaultChanged" && v["change"]["id"] == "spk"
    });
    eprintln!("hot-plug seen after {seen_after:?} (added), {gone_after:?} (removed)");

    // The sound server goes away: the watcher says so and stops (it does not spin or hang).
    drop(pulse);
    let status = wait_exit(&mut watcher.0, Duration::from_secs(10));
    assert!(status.is_some_and(|s| !s.success()), "{status:?}");
}

#[test]
fn a_call_uses_the_chosen_microphone_and_speaker() {
    let pulse = Pulse::start();
    // A headset: a speaker, and a microphone fed from the "hs_in" sink (a remapped monitor
    // is a real source, as a headset's microphone is).
    let _speaker = pulse.add_sink(
        "headset",
        "device.description=\"Jabra Evolve\" device.form_factor=headset",
    );
    let _feed = pulse.add_sink("hs_in", "device.description=\"Headset feed\"");
    assert!(
        pulse
            .pactl_output(&[
                "load-module",
                "module-remap-source",
                "master=hs_in.monitor",
                "source_name=headset_mic",
                "source_properties='device.description=\"Jabra Evolve Mic\" device.form_factor=headset'",
            ])
            .is_some(),
        "remap-source"
    );
    // Unknown names are refused with the list of what there is.
    let out = cli(&pulse)
        .args(["call", "--output-device", "Polycom", "echo"])
        .output()
        .expect("call");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("no speaker is called \"Polycom\"") && err.contains("\"Jabra Evolve\""),
        "{err}"
    );

    let dir = tempfile::tempdir().expect("dir");
    let tone = dir.path().join("tone.wav");
    wav::write(&tone, &bursts(&[0.2, 0.8], 1.5, 48000)).expect("tone");
    let profile = tempfile::tempdir().expect("profile");
    // (The events are kept flowing: a closed stdout would stop the CLI.)
    let (mut call, _events) = echo_call(
        &pulse,
        profile.path(),
        7,
        &[
            "--control",
            "--input-device",
            "jabra evolve mic",
            "--output-device",
            "Jabra Evolve",
        ],
    );
    let rec = dir.path().join("call.wav");
    let mut stdin = call.0.stdin.take().expect("stdin");
    writeln!(stdin, "record {}", rec.display()).expect("record");
    std::thread::sleep(Duration::from_secs(2));
    // The sound server's own word: our streams are on the headset (a loaded machine may take
    // a moment longer to move them there).
    let pid = call.0.id();
    let on_headset = || {
        devices_of(&pulse, pid, "sink-inputs") == ["headset"]
            && devices_of(&pulse, pid, "source-outputs") == ["headset_mic"]
    };
    let deadline = Instant::now() + Duration::from_secs(3);
    while !on_headset() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(devices_of(&pulse, pid, "sink-inputs"), ["headset"]);
    assert_eq!(devices_of(&pulse, pid, "source-outputs"), ["headset_mic"]);
    let play = pulse
        .client(Command::new("paplay").arg("--device=hs_in").arg(&tone))
        .status()
        .expect("paplay");
    assert!(play.success());
    let status = wait_exit(&mut call.0, Duration::from_secs(20));
    assert!(status.is_some_and(|s| s.success()), "{status:?}");
    drop(stdin);
    // The call's recording: what the chosen microphone heard on the left.
    let (rate, channels) = wav::read_channels(&rec).expect("call recording");
    let sent = onsets(&channels[0], rate, 2000);
    eprintln!("the headset microphone's bursts in the call at {sent:?}");
    assert!(
        !sent.is_empty(),
        "the chosen microphone did not hear the bursts"
    );
}

#[test]
fn a_headset_plugged_in_mid_call_takes_the_audio_and_unplugging_it_gives_it_back() {
    let pulse = Pulse::start();
    let profile = tempfile::tempdir().expect("profile");
    let (call, lines) = echo_call(&pulse, profile.path(), 12, &[]);
    let pid = call.0.id();
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(devices_of(&pulse, pid, "sink-inputs"), ["spk"]);

    let plugged = Instant::now();
    let module = pulse.add_sink(
        "headset",
        "device.description=\"Jabra Evolve\" device.form_factor=headset",
    );
    let moved = wait_for(&lines, "the move to the headset", |v| {
        v["event"] == "audio_device"
    });
    let moved_after = plugged.elapsed();
    assert_eq!(moved["direction"], "output", "{moved}");
    assert_eq!(moved["device"]["id"], "headset", "{moved}");
    assert_eq!(moved["reason"], "newHeadset", "{moved}");
    assert_eq!(devices_of(&pulse, pid, "sink-inputs"), ["headset"]);

    let unplugged = Instant::now();
    assert!(pulse.pactl(&["unload-module", &module]));
    let back = wait_for(&lines, "the move back", |v| v["event"] == "audio_device");
    let back_after = unplugged.elapsed();
    assert_eq!(back["direction"], "output", "{back}");
    assert!(back["device"].is_null(), "{back}");
    assert_eq!(back["reason"], "deviceGone", "{back}");
    assert_eq!(devices_of(&pulse, pid, "sink-inputs"), ["spk"]);
    eprintln!(
        "the call moved to the headset {moved_after:?} after it appeared, back {back_after:?} after it went"
    );

    // The call was never dropped: it runs to its end.
    let ended = wait_within(&lines, 30, "the end of the call", |v| {
        v["event"] == "call_ended"
    });
    assert_eq!(ended["cause"], "local_hangup", "{ended}");
    assert!(
        ended["talk_secs"].as_f64().is_some_and(|t| t >= 11.0),
        "{ended}"
    );
}

#[test]
fn the_chosen_speaker_is_remembered_by_id_and_found_again_by_name() {
    let pulse = Pulse::start();
    let profile = tempfile::tempdir().expect("profile");
    let module = pulse.add_sink("headset", "device.description=\"Jabra Evolve\"");
    let settings = |args: &[&str]| {
        let out = cli(&pulse)
            .arg("--profile")
            .arg(profile.path())
            .args(["settings", "devices"])
            .args(args)
            .output()
            .expect("settings devices");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<serde_json::Value>(&out.stdout).expect("settings JSON")
    };
    let saved = settings(&["--speaker", "jabra", "--follow-headsets", "off"]);
    assert_eq!(saved["devices"]["speaker"]["id"], "headset", "{saved}");
    assert_eq!(
        saved["devices"]["speaker"]["name"], "Jabra Evolve",
        "{saved}"
    );
    assert_eq!(saved["devices"]["followHeadsets"], false, "{saved}");

    // The same headset comes back under another id (another USB port): found by its name.
    assert!(pulse.pactl(&["unload-module", &module]));
    pulse.add_sink("headset_port2", "device.description=\"Jabra Evolve\"");
    let (call, lines) = echo_call(&pulse, profile.path(), 3, &[]);
    let pid = call.0.id();
    let route = wait_for(&lines, "the chosen speaker", |v| {
        v["event"] == "audio_device"
    });
    assert_eq!(route["device"]["id"], "headset_port2", "{route}");
    assert_eq!(route["reason"], "chosen", "{route}");
    assert_eq!(devices_of(&pulse, pid, "sink-inputs"), ["headset_port2"]);
    wait_within(&lines, 30, "the end of the call", |v| {
        v["event"] == "call_ended"
    });

    // `default` forgets the choice.
    let cleared = settings(&["--speaker", "default"]);
    assert!(cleared["devices"]["speaker"].is_null(), "{cleared}");
}

#[test]
fn the_user_moves_a_call_to_another_speaker_and_back_mid_call() {
    let pulse = Pulse::start();
    pulse.add_sink("desk", "device.description=\"Desk speakers\"");
    let profile = tempfile::tempdir().expect("profile");
    let (mut call, lines) = echo_call(&pulse, profile.path(), 8, &["--control"]);
    let pid = call.0.id();
    let mut stdin = call.0.stdin.take().expect("stdin");
    writeln!(stdin, "speaker desk").expect("speaker");
    let moved = wait_for(&lines, "the move", |v| v["event"] == "audio_device");
    assert_eq!(moved["device"]["id"], "desk", "{moved}");
    assert_eq!(moved["reason"], "chosen", "{moved}");
    assert_eq!(devices_of(&pulse, pid, "sink-inputs"), ["desk"]);
    writeln!(stdin, "speaker nonesuch").expect("speaker");
    let refused = wait_for(&lines, "the refusal", |v| v["event"] == "command_failed");
    assert!(
        refused["message"]
            .as_str()
            .is_some_and(|m| m.contains("no speaker is called")),
        "{refused}"
    );
    writeln!(stdin, "speaker default").expect("speaker");
    let back = wait_for(&lines, "the move back", |v| v["event"] == "audio_device");
    assert!(back["device"].is_null(), "{back}");
    assert_eq!(back["reason"], "chosen", "{back}");
    assert_eq!(devices_of(&pulse, pid, "sink-inputs"), ["spk"]);
    let ended = wait_within(&lines, 30, "the end of the call", |v| {
        v["event"] == "call_ended"
    });
    assert_eq!(ended["cause"], "local_hangup", "{ended}");
}
