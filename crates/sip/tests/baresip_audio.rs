//! Audio both ways with a real baresip on every codec we offer (Opus, G.722, PCMU, PCMA),
//! both registered at a real Kamailio and calling each other through it: each side sends its
//! own test signal, and each recording is matched against the signal the other side sent, well
//! above a control (the wrong signal).

#[path = "support/baresip.rs"]
mod baresip;
#[path = "support/jack.rs"]
mod jack;

#[path = "support/lines.rs"]
mod lines;

#[path = "support/kamailio.rs"]
mod kamailio;

#[path = "support/registered.rs"]
mod registered;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use baresip::{Baresip, Jack, MediaSetup};
use kamailio::Kamailio;
use lines::{Events, next_event};
use siperb_media::srtp::SrtpMode;
use siperb_media::wav::{self, Pcm};
use siperb_sip::call::{CallPhase, Input};
use siperb_sip::phone::{AudioSource, CallEvent, RtpFactory};

/// How long each signal is (longer than the call: baresip ends a call when its file ends).
const SECONDS: u32 = 15;
/// How long each call talks.
const TALK_SECS: u64 = 6;

/// A speech-like test signal: bursts (60-250 ms) of a few voice-band partials with pauses in
/// between, in a pattern drawn from `seed`, so two seeds give unrelated bursts.
fn signal(seed: u64, rate: u32) -> Pcm {
    let mut x = seed | 1;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let total = (rate * SECONDS) as usize;
    let mut samples = Vec::with_capacity(total);
    while samples.len() < total {
        let on = (rate as u64 * (60 + next() % 190) / 1000) as usize;
        let off = (rate as u64 * (40 + next() % 160) / 1000) as usize;
        let f0 = 150.0 + (next() % 150) as f64;
        let start = samples.len();
        for i in 0..on {
            let t = (start + i) as f64 / f64::from(rate);
            let fade = ((i.min(on - i) as f64) / (f64::from(rate) * 0.01)).min(1.0);
            let v: f64 = (1..=6)
                .map(|h| (t * f0 * f64::from(h) * std::f64::consts::TAU).sin() / f64::from(h))
                .sum();
            samples.push((v * 6_000.0 * fade) as i16);
        }
        samples.extend(std::iter::repeat_n(0, off));
    }
    samples.truncate(total);
    Pcm { rate, samples }
}

/// The pitch of each burst in `pcm`, in order: a burst is at least 40 ms of 10 ms pieces
/// louder than 30 % of the loud level (the 95th percentile); its pitch is measured without its
/// first and last piece.
fn burst_pitches(pcm: &Pcm) -> Vec<f64> {
    const PIECE: usize = 160;
    let x: Vec<f64> = pcm
        .resampled(16_000)
        .samples
        .iter()
        .map(|&s| f64::from(s))
        .collect();
    let rms: Vec<f64> = x
        .chunks_exact(PIECE)
        .map(|c| (c.iter().map(|v| v * v).sum::<f64>() / PIECE as f64).sqrt())
        .collect();
    let mut sorted = rms.clone();
    sorted.sort_by(f64::total_cmp);
    let Some(&loud) = sorted.get(sorted.len() * 95 / 100) else {
        return Vec::new();
    };
    let mut pitches = Vec::new();
    let mut i = 0;
    while i < rms.len() {
        let j = (i..rms.len())
            .find(|&j| rms[j] <= 0.3 * loud)
            .unwrap_or(rms.len());
        if j - i >= 4 {
            pitches.push(pitch(&x[(i + 1) * PIECE..(j - 1) * PIECE]));
        }
        i = j + 1;
    }
    pitches
}

/// The fundamental (Hz) of a steady voiced piece at 16 kHz, between 133 and 355 Hz: the
/// shortest period whose normalised autocorrelation is within 10 % of the best (a multiple of
/// the period correlates as well), refined to a fraction of a sample.
fn pitch(piece: &[f64]) -> f64 {
    let mean = piece.iter().sum::<f64>() / piece.len().max(1) as f64;
    let x: Vec<f64> = piece.iter().map(|v| v - mean).collect();
    let periods = 45..120usize;
    let ac: Vec<f64> = periods
        .clone()
        .map(|p| {
            let (a, b) = (&x[..x.len().saturating_sub(p)], &x[p.min(x.len())..]);
            let dot = |u: &[f64], v: &[f64]| u.iter().zip(v).map(|(p, q)| p * q).sum::<f64>();
            dot(a, b) / (dot(a, a) * dot(b, b)).sqrt().max(1e-9)
        })
        .collect();
    let best = ac.iter().copied().fold(f64::MIN, f64::max);
    let mut k = ac.iter().position(|&v| v >= 0.9 * best).unwrap_or(0);
    while k + 1 < ac.len() && ac[k + 1] > ac[k] {
        k += 1;
    }
    let mut period = (periods.start + k) as f64;
    if k > 0 && k + 1 < ac.len() {
        let (a, b, c) = (ac[k - 1], ac[k], ac[k + 1]);
        let curve = a - 2.0 * b + c;
        if curve.abs() > 1e-12 {
            period += 0.5 * (a - c) / curve;
        }
    }
    16_000.0 / period
}

/// How much of what was heard is the sent signal: of the bursts in `heard`, the share that
/// pair up in order with bursts of `sent` of the same pitch (within 1 %), in the best such
/// pairing. Each burst of the test signal has its own pitch drawn from the seed, so a wrong
/// signal pairs up by chance only; and unlike a loudness correlation at one lag, this holds
/// when a jitter buffer rightly adds delay in a stall (a loaded machine stalls both ends)
/// and takes it out again bit by bit, or when a frame is concealed mid-burst.
fn similarity(sent: &Pcm, heard: &Pcm) -> f64 {
    let (a, b) = (burst_pitches(sent), burst_pitches(heard));
    if b.is_empty() {
        return 0.0;
    }
    // best[i]: the most heard bursts so far that pair, in order, with sent bursts up to i (a
    // burst split in two by a concealed frame pairs twice with the same sent one).
    let mut best = vec![0usize; a.len() + 1];
    for &fb in &b {
        let mut next = vec![0usize; a.len() + 1];
        for (i, &fa) in a.iter().enumerate() {
            let pairs = usize::from((fa - fb).abs() <= 0.01 * fa);
            next[i + 1] = next[i].max(best[i + 1] + pairs);
        }
        best = next;
    }
    best[a.len()] as f64 / b.len() as f64
}

fn newest_wav(dir: &Path, suffix: &str) -> Option<PathBuf> {
    std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with(suffix))
        .max_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
}

async fn next(rx: &mut Events, peer: &Baresip, want: impl Fn(&CallEvent) -> bool) -> CallEvent {
    next_event(
        rx,
        10,
        || format!("baresip log:\n{}", peer.log_text()),
        want,
    )
    .await
}

/// Runs a blocking call to baresip (its ctrl_tcp socket) off the runtime's worker, so our
/// media task, on the same runtime, is never held up behind it: a stalled media task reads
/// its packets late, and the jitter buffer takes that for network jitter.
fn blocking<T>(f: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(f)
}

/// One call on `codecs` (baresip's choice), `we_dial` or baresip dialling us; both
/// recordings checked.
async fn call_on(
    k: &Kamailio,
    jack: &Jack,
    codecs: &str,
    rate: u32,
    we_dial: bool,
    srtp: SrtpMode,
) {
    let dir = tempfile::tempdir().expect("dir");
    let ours = signal(0x5151_2024, rate);
    // baresip's source runs at 48 kHz whatever the codec.
    let theirs = signal(0xbad5_eed1, 48_000);
    let theirs_file = dir.path().join("theirs.wav");
    wav::write(&theirs_file, &theirs).expect("write");
    let peer = Baresip::start_media(
        "bob",
        true,
        &MediaSetup {
            codecs,
            source: &theirs_file,
            jack,
            account_params: if srtp == SrtpMode::Required {
                ";mediaenc=srtp-mand"
            } else {
                ""
            },
            registrar: Some((k.port, kamailio::PASSWORD2)),
        },
    );
    peer.wait_registered();
    let heard_file = dir.path().join("heard.wav");
    let us = registered::registered_with(
        k,
        kamailio::USER,
        kamailio::PASSWORD,
        siperb_sip::Transport::Udp,
        Arc::new(RtpFactory {
            audio: AudioSource::Files(siperb_audio::FileAudio {
                play: Some(ours.clone()),
                record_to: Some(heard_file.clone()),
            }),
            codecs: Vec::new(),
            srtp: Some(srtp),
            ..RtpFactory::default()
        }),
    )
    .await;
    let mut us = us;
    let line = us.line.clone();
    let mut rx = std::mem::replace(&mut us.events, tokio::sync::mpsc::unbounded_channel().1);
    // Both ways through Kamailio: it finds the callee's registered contact.
    let call = if we_dial {
        line.dial(&format!("sip:{}@127.0.0.1", kamailio::USER2))
            .expect("dial")
    } else {
        let target = format!("sip:{}@127.0.0.1:{}", kamailio::USER, k.port);
        let r = blocking(|| peer.command("dial", &target));
        assert!(r.contains("\"ok\":true"), "{r}");
        let CallEvent::IncomingCall { call, .. } = next(&mut rx, &peer, |e| {
            matches!(e, CallEvent::IncomingCall { .. })
        })
        .await
        else {
            unreachable!()
        };
        line.command(call, Input::Answer).await.expect("answer");
        call
    };
    next(
        &mut rx,
        &peer,
        |e| matches!(e, CallEvent::State { call: c, phase: CallPhase::Established } if *c == call),
    )
    .await;
    // Digits both ways mid-call: ours as RFC 4733 events (or SIP INFO when the telephone-event
    // clock does not match the codec's), baresip's as RFC 4733 events.
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    for digit in ['1', '#'] {
        line.command(call, Input::SendDtmf(digit))
            .await
            .expect("dtmf");
    }
    let r = blocking(|| peer.command("sndcode", "7"));
    assert!(r.contains("\"ok\":true"), "{r}");
    tokio::time::sleep(std::time::Duration::from_secs(TALK_SECS - 1)).await;
    let mut digits = String::new();
    let mut stats = Vec::new();
    while let Ok(e) = rx.try_recv() {
        match e {
            CallEvent::Dtmf { digit, .. } => digits.push(digit),
            CallEvent::Stats { stats: s, .. } => stats.push(s),
            _ => {}
        }
    }
    // A stats event every second, with every packet accounted for.
    assert!(stats.len() >= 4, "{} stats events", stats.len());
    let last = stats.last().copied().unwrap_or_default();
    assert!(
        last.packets_received > 150 && last.packets_lost == 0,
        "{last:?}"
    );
    // The MOS depends on the delay the jitter buffer sees, which a loaded CI machine stretches
    // (timing is for benchmarks, not asserts): only its range is checked here.
    assert!((1.0..=4.5).contains(&last.mos), "{last:?}");
    println!(
        "{codecs}: stats after {} s: {} received, jitter {:.1} ms, buffer {:.0} ms, RTT {:?} ms (baresip's RTCP), MOS {:.2}",
        stats.len(),
        last.packets_received,
        last.jitter_ms,
        last.jitter_buffer_ms,
        last.rtt_ms,
        last.mos
    );
    if let Err(e) = line.command(call, Input::Hangup).await {
        panic!(
            "the call on {codecs} ended early ({e})\n{}",
            peer.log_text()
        );
    }
    next(&mut rx, &peer, |e| matches!(e, CallEvent::CallEnded { .. })).await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    // Un-REGISTER, so the next call's line is the only contact Kamailio has for us.
    us.unregister().await;

    assert_eq!(
        digits,
        "7",
        "digits from baresip on {codecs}\n{}",
        peer.log_text()
    );
    let log = peer.log_text();
    // baresip logs a SIP INFO digit as "received DTMF" and an RFC 4733 event's start as
    // "received event: 'D' (end=0)".
    let mut how = Vec::new();
    for digit in ['1', '#'] {
        let info = log.matches(&format!("received DTMF: '{digit}'")).count();
        let rtp = log
            .matches(&format!("received event: '{digit}' (end=0)"))
            .count();
        assert_eq!(
            info + rtp,
            1,
            "baresip did not get {digit} once on {codecs}\n{log}"
        );
        how.push(if rtp == 1 { "RFC 4733" } else { "SIP INFO" });
    }
    println!("{codecs}: our digits reached baresip by {how:?}; its '7' reached us");
    let heard = wav::read(&heard_file).expect("our recording");
    let dec = newest_wav(&peer.recordings(), "-dec.wav")
        .unwrap_or_else(|| panic!("baresip recorded nothing\n{}", peer.log_text()));
    let they_heard = wav::read(&dec).expect("baresip's recording");
    let log = peer.log_text();
    let (ours_ok, ours_control) = (
        similarity(&ours, &they_heard),
        similarity(&theirs, &they_heard),
    );
    let (theirs_ok, theirs_control) = (similarity(&theirs, &heard), similarity(&ours, &heard));
    println!(
        "{codecs} ({}): baresip heard us {ours_ok:.2} (control {ours_control:.2}); we heard baresip {theirs_ok:.2} (control {theirs_control:.2}); our file {} Hz {} samples",
        if we_dial { "we dial" } else { "baresip dials" },
        heard.rate,
        heard.samples.len()
    );
    assert!(
        ours_ok > 0.7 && ours_ok > ours_control + 0.3,
        "baresip did not hear our signal on {codecs}: {ours_ok:.2} vs control {ours_control:.2}\n{log}"
    );
    assert!(
        theirs_ok > 0.7 && theirs_ok > theirs_control + 0.3,
        "we did not hear baresip's signal on {codecs}: {theirs_ok:.2} vs control {theirs_control:.2}\nour last stats: {last:?}\n{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audio_flows_both_ways_with_baresip_on_every_codec_plain_and_srtp() {
    let jack = Jack::start();
    let k = Kamailio::start("MD5");
    call_on(&k, &jack, "opus/48000/1", 48_000, true, SrtpMode::Off).await;
    call_on(&k, &jack, "G722/16000/1", 16_000, false, SrtpMode::Off).await;
    call_on(&k, &jack, "PCMU/8000/1", 8_000, true, SrtpMode::Off).await;
    call_on(&k, &jack, "PCMA/8000/1", 8_000, false, SrtpMode::Off).await;
    // SDES-SRTP with a baresip that requires it (`mediaenc=srtp-mand`): audio and digits both
    // ways, whoever calls; baresip can only hear us if our keys and packets are right. (One
    // test, one JACK server: the calls run one after the other.)
    call_on(&k, &jack, "PCMU/8000/1", 8_000, true, SrtpMode::Required).await;
    call_on(&k, &jack, "opus/48000/1", 48_000, false, SrtpMode::Required).await;
}
