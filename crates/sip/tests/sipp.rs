//! Scenarios against the real SIPp (Debian package sip-tester) on loopback: SIPp answering
//! our INVITE, SIPp calling us, SIPp challenging our INVITE with 407 (and checking our digest),
//! SIPp streaming RTP (we hear its tone),
//! a registrar that answers 403, and one that never answers. Scenarios live
//! in `tests/peers/sipp/`; on failure the panic shows what SIPp saw (its error and message logs).

#[path = "support/lines.rs"]
mod lines;

use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use lines::{Events, local_line, next_event};
use siperb_sip::call::{CallPhase, EndCause, Input};
use siperb_sip::phone::{CallEvent, CallRef, Line, LineConfig, RtpFactory};
use siperb_sip::ua::{SipEndpoint, registrar_address};
use siperb_sip::{AccountConfig, AccountId, RegistrationFailure, RegistrationState};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

fn scenario(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("../../tests/peers/sipp/{name}"))
}

fn free_udp_port() -> u16 {
    let s = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    s.local_addr().expect("addr").port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registrar_answering_403_is_forbidden_once_not_a_retry_storm() {
    let port = free_udp_port();
    let dir = tempfile::tempdir().expect("dir");
    let errors = dir.path().join("errors.log");
    let mut sipp = Command::new("sipp")
        .args([
            "-i",
            "127.0.0.1",
            "-mi",
            "127.0.0.1",
            "-m",
            "1",
            "-nostdin",
            "-p",
        ])
        .arg(port.to_string())
        .arg("-sf")
        .arg(scenario("register_403.xml"))
        .arg("-trace_err")
        .arg("-error_file")
        .arg(&errors)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start sipp (Debian package sip-tester)");
    tokio::time::sleep(Duration::from_millis(300)).await;

    let endpoint = SipEndpoint::bind_udp("127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("bind");
    let mut account =
        AccountConfig::new(AccountId("t".into()), "sip:alice@127.0.0.1").expect("account");
    account.registrar = Some(format!("127.0.0.1:{port}"));
    let registrar = registrar_address(&account).await.expect("registrar");
    let (tx, mut rx) = mpsc::channel(16);
    let stop = CancellationToken::new();
    let stop2 = stop.clone();
    let task = tokio::spawn(async move {
        endpoint
            .run_registration(&account, registrar, "pw".into(), 9, tx, stop2)
            .await
            .expect("runs");
    });
    let mut next = async || {
        tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .expect("a state in time")
            .expect("open")
    };
    assert_eq!(next().await, RegistrationState::Registering);
    assert_eq!(
        next().await,
        RegistrationState::Failed {
            failure: RegistrationFailure::Forbidden
        }
    );
    // SIPp saw its one REGISTER and finished the scenario cleanly.
    let status = tokio::task::spawn_blocking(move || sipp.wait())
        .await
        .expect("join")
        .expect("wait");
    assert!(
        status.success(),
        "sipp: {status:?}\n{}",
        std::fs::read_to_string(&errors).unwrap_or_default()
    );
    // And nothing follows: a refused account is not retried (no storm) until the user acts.
    let catcher = tokio::net::UdpSocket::bind(("127.0.0.1", port))
        .await
        .expect("rebind the registrar port");
    let mut buf = [0u8; 2048];
    let extra = tokio::time::timeout(Duration::from_secs(4), catcher.recv_from(&mut buf)).await;
    assert!(
        extra.is_err(),
        "a REGISTER after 403: {}",
        extra
            .ok()
            .and_then(Result::ok)
            .map(|(n, _)| String::from_utf8_lossy(&buf[..n]).into_owned())
            .unwrap_or_default()
    );
    stop.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
}

/// One SIPp process; killed by its PID when dropped.
struct Sipp {
    child: Child,
    dir: tempfile::TempDir,
    port: u16,
}

impl Sipp {
    /// Runs `scenario` (a file in `tests/peers/sipp/`) for one call on a free port, with
    /// `extra` arguments (the remote host for a UAC scenario, `-s user`, …).
    fn start(scenario: &str, extra: &[&str]) -> Self {
        Self::start_with(scenario, extra, &[])
    }

    /// [`start`](Self::start) in a directory holding `files` (which scenarios name relative
    /// to it, e.g. an `rtp_stream` file).
    fn start_with(scenario: &str, extra: &[&str], files: &[(&str, &[u8])]) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        for (name, bytes) in files {
            std::fs::write(dir.path().join(name), bytes).expect("scenario file");
        }
        let port = free_udp_port();
        let path = |name: &str| dir.path().join(name).to_string_lossy().into_owned();
        let stdout = std::fs::File::create(dir.path().join("stdout.txt")).expect("stdout file");
        let stderr = stdout.try_clone().expect("stderr file");
        let child = Command::new("sipp")
            .args(extra)
            .arg("-sf")
            .arg(self::scenario(scenario))
            .args(["-i", "127.0.0.1", "-mi", "127.0.0.1"])
            .args(["-p", &port.to_string()])
            .args(["-m", "1", "-nostdin", "-timeout", "40"])
            .args(["-trace_err", "-error_file", &path("errors.log")])
            .args(["-trace_msg", "-message_file", &path("messages.log")])
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .current_dir(dir.path())
            .spawn()
            .expect("sipp runs (package sip-tester)");
        Self { child, dir, port }
    }

    /// A UAS scenario: waits until SIPp holds its port, so our first request is not lost.
    fn start_listening(scenario: &str) -> Self {
        Self::listening(Self::start(scenario, &[]))
    }

    fn listening(sipp: Self) -> Self {
        let deadline = Instant::now() + Duration::from_secs(5);
        while std::net::UdpSocket::bind(("127.0.0.1", sipp.port)).is_ok() {
            assert!(
                Instant::now() < deadline,
                "SIPp never bound its port\n{}",
                sipp.logs()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        sipp
    }

    fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The file SIPp wrote, or a note that it wrote none.
    fn file(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(name))
            .unwrap_or_else(|_| format!("(no {name})"))
    }

    /// Everything SIPp saw and said, for a failure message.
    fn logs(&self) -> String {
        let screen = self.file("stdout.txt");
        let tail: Vec<&str> = screen.lines().rev().take(40).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        format!(
            "=== SIPp errors ===\n{}\n=== SIPp messages ===\n{}\n=== SIPp screen (tail) ===\n{}",
            self.file("errors.log"),
            self.file("messages.log"),
            tail.join("\n")
        )
    }

    /// How many `method` requests SIPp received.
    fn received(&self, method: &str) -> usize {
        let log = self.file("messages.log");
        let mut count = 0;
        let mut lines = log.lines();
        while let Some(line) = lines.next() {
            if line.contains("message received") {
                let first = lines.by_ref().find(|l| !l.trim().is_empty());
                if first.is_some_and(|l| l.starts_with(&format!("{method} "))) {
                    count += 1;
                }
            }
        }
        count
    }

    /// Waits up to `secs` for SIPp to exit.
    async fn exit(&mut self, secs: u64) -> ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "SIPp still runs after {secs} s\n{}",
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIPp must finish with exit code 0: its one call completed the scenario.
    async fn assert_success(&mut self) {
        let status = self.exit(15).await;
        assert_eq!(status.code(), Some(0), "SIPp failed\n{}", self.logs());
    }
}

impl Drop for Sipp {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

async fn next(rx: &mut Events, sipp: &Sipp, want: impl Fn(&CallEvent) -> bool) -> CallEvent {
    next_event(rx, 10, || sipp.logs(), want).await
}

fn phase(call: CallRef, p: CallPhase) -> impl Fn(&CallEvent) -> bool {
    move |e| matches!(e, CallEvent::State { call: c, phase } if *c == call && *phase == p)
}

fn ended(e: &CallEvent) -> bool {
    matches!(e, CallEvent::CallEnded { .. })
}

/// A local line (no server) that answers INVITE challenges as `user`/`password`.
async fn line_with_credential(user: &str, password: &str) -> (SipEndpoint, Line, Events) {
    let ep = SipEndpoint::bind_udp("127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("bind");
    let (tx, rx) = mpsc::unbounded_channel();
    let cfg = LineConfig {
        user: user.into(),
        aor: format!("sip:{user}@{}", ep.local_addr()),
        display_name: None,
        proxy: None,
        credential: Some((user.into(), password.into())),
        ghost_filter: true,
        do_not_disturb: false,
        media: Arc::new(RtpFactory::default()),
        media_settings: Default::default(),
    };
    let line = ep.start_line(cfg, tx).expect("line");
    (ep, line, rx)
}

/// Dials SIPp, expects it to ring and answer, talks briefly and hangs up here.
async fn call_and_hang_up(line: &Line, rx: &mut Events, sipp: &Sipp) {
    let call = line
        .dial(&format!("sip:service@{}", sipp.addr()))
        .expect("dial");
    next(rx, sipp, phase(call, CallPhase::Established)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    line.command(call, Input::Hangup).await.expect("hangup");
    let e = next(rx, sipp, ended).await;
    let CallEvent::CallEnded {
        call: c,
        cause,
        media,
        ..
    } = e
    else {
        unreachable!()
    };
    assert_eq!(c, call);
    assert_eq!(cause, EndCause::LocalHangup, "{}", sipp.logs());
    assert!(media.packets_sent > 5, "RTP went to SIPp's port: {media:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sipp_answers_our_call_and_takes_our_bye() {
    let mut sipp = Sipp::start_listening("uas_answer.xml");
    let (_ep, line, mut rx) = local_line("alice").await;
    let call = line
        .dial(&format!("sip:service@{}", sipp.addr()))
        .expect("dial");
    next(&mut rx, &sipp, phase(call, CallPhase::Ringing)).await;
    next(&mut rx, &sipp, phase(call, CallPhase::Established)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    line.command(call, Input::Hangup).await.expect("hangup");
    let e = next(&mut rx, &sipp, ended).await;
    let CallEvent::CallEnded { cause, media, .. } = e else {
        unreachable!()
    };
    assert_eq!(cause, EndCause::LocalHangup, "{}", sipp.logs());
    assert!(media.packets_sent > 5, "RTP went to SIPp's port: {media:?}");
    sipp.assert_success().await;
    assert_eq!(line.active_calls(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sipp_calls_us_we_answer_and_it_hangs_up() {
    let (ep, line, mut rx) = local_line("bob").await;
    let target = ep.local_addr().to_string();
    let mut sipp = Sipp::start("uac_call.xml", &[&target, "-s", "bob"]);
    let e = next(&mut rx, &sipp, |e| {
        matches!(e, CallEvent::IncomingCall { .. })
    })
    .await;
    let CallEvent::IncomingCall { call, from, .. } = e else {
        unreachable!()
    };
    assert!(from.contains("sipp"), "{from}");
    line.command(call, Input::Answer).await.expect("answer");
    next(&mut rx, &sipp, phase(call, CallPhase::Established)).await;
    let e = next(&mut rx, &sipp, ended).await;
    assert!(
        matches!(e, CallEvent::CallEnded { call: c, cause: EndCause::RemoteHangup, .. } if c == call),
        "{e:?}\n{}",
        sipp.logs()
    );
    sipp.assert_success().await;
    assert_eq!(line.active_calls(), 0);
}

fn md5_hex(text: &str) -> String {
    use md5::{Digest as _, Md5};
    Md5::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The parameters of a `Digest k=v, k="v", …` header value (values without commas).
fn digest_params(value: &str) -> std::collections::HashMap<String, String> {
    value
        .trim()
        .trim_start_matches("Digest")
        .split(',')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().trim_matches('"').to_owned()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_invite_answers_a_407_challenge_with_the_right_digest() {
    let mut sipp = Sipp::start_listening("uas_407.xml");
    let (_ep, line, mut rx) = line_with_credential("alice", "secret").await;
    call_and_hang_up(&line, &mut rx, &sipp).await;
    sipp.assert_success().await;
    assert_eq!(sipp.received("INVITE"), 2, "{}", sipp.logs());
    assert_eq!(sipp.received("ACK"), 2, "{}", sipp.logs());
    assert_eq!(sipp.received("BYE"), 1, "{}", sipp.logs());
    // SIPp 3.6.1's verifyauth reads only Authorization:, so check the Proxy-Authorization
    // here, from SIPp's trace, by RFC 2617 (MD5, qop=auth).
    let log = sipp.file("messages.log");
    let header = log
        .lines()
        .find_map(|l| l.strip_prefix("Proxy-Authorization:"))
        .unwrap_or_else(|| panic!("no Proxy-Authorization\n{}", sipp.logs()));
    let p = digest_params(header);
    let get = |k: &str| {
        p.get(k)
            .cloned()
            .unwrap_or_else(|| panic!("no {k} in {header}"))
    };
    assert_eq!(get("username"), "alice", "{header}");
    assert_eq!(get("realm"), "sipp.test", "{header}");
    assert_eq!(get("nonce"), "4d7a0c1f6e5b3a29", "{header}");
    assert_eq!(get("qop"), "auth", "{header}");
    assert_eq!(
        get("uri"),
        format!("sip:service@{}", sipp.addr()),
        "{header}"
    );
    let ha1 = md5_hex("alice:sipp.test:secret");
    let ha2 = md5_hex(&format!("INVITE:{}", get("uri")));
    let expected = md5_hex(&format!(
        "{ha1}:{}:{}:{}:auth:{ha2}",
        get("nonce"),
        get("nc"),
        get("cnonce")
    ));
    assert_eq!(get("response"), expected, "{header}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_invite_answers_a_401_challenge_and_sipp_verifies_the_digest() {
    let mut sipp = Sipp::start_listening("uas_401.xml");
    let (_ep, line, mut rx) = line_with_credential("alice", "secret").await;
    call_and_hang_up(&line, &mut rx, &sipp).await;
    // The scenario refuses a wrong digest (verifyauth) and then fails its call.
    sipp.assert_success().await;
    assert_eq!(sipp.received("INVITE"), 2, "{}", sipp.logs());
}

/// Starts registering `sip:alice@127.0.0.1` at `registrar` over UDP (password "secret").
async fn start_registration(
    registrar: &str,
) -> (
    mpsc::Receiver<RegistrationState>,
    CancellationToken,
    tokio::task::JoinHandle<()>,
) {
    let endpoint = SipEndpoint::bind_udp("127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("bind");
    let mut account =
        AccountConfig::new(AccountId("t".into()), "sip:alice@127.0.0.1").expect("account");
    account.registrar = Some(registrar.to_owned());
    let registrar = registrar_address(&account).await.expect("registrar");
    let (tx, rx) = mpsc::channel(16);
    let stop = CancellationToken::new();
    let stop2 = stop.clone();
    let task = tokio::spawn(async move {
        endpoint
            .run_registration(&account, registrar, "secret".into(), 0x5eed, tx, stop2)
            .await
            .expect("registration runs");
    });
    (rx, stop, task)
}

async fn next_state(
    rx: &mut mpsc::Receiver<RegistrationState>,
    secs: u64,
    context: impl Fn() -> String,
) -> RegistrationState {
    match tokio::time::timeout(Duration::from_secs(secs), rx.recv()).await {
        Ok(state) => state.expect("channel open"),
        Err(_) => panic!("no registration state in {secs} s\n{}", context()),
    }
}

/// rsipstack's non-INVITE transaction gives up after 64·T1 = 32 s (Timer F). Its
/// `EndpointBuilder::with_option(EndpointOption { t1, t1x64, .. })` could shorten that, but
/// `SipEndpoint::bind_udp` does not expose it, so this test takes about 32 s.
///
/// On Timer F rsipstack hands us a 408 it made itself from our request; the registration must
/// still say `Timeout` (nobody answered), not "the registrar refused with 408".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registrar_that_never_answers_is_a_timeout() {
    let port = free_udp_port();
    let dir = tempfile::tempdir().expect("dir");
    let messages = dir.path().join("messages.log");
    let mut sipp = Command::new("sipp")
        .args([
            "-i",
            "127.0.0.1",
            "-mi",
            "127.0.0.1",
            "-m",
            "1",
            "-nostdin",
            "-p",
        ])
        .arg(port.to_string())
        .arg("-sf")
        .arg(scenario("register_silent.xml"))
        .arg("-trace_msg")
        .arg("-message_file")
        .arg(&messages)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start sipp (Debian package sip-tester)");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let began = Instant::now();
    let (mut rx, stop, task) = start_registration(&format!("127.0.0.1:{port}")).await;
    let s = next_state(&mut rx, 5, String::new).await;
    assert_eq!(s, RegistrationState::Registering);
    let s = next_state(&mut rx, 40, String::new).await;
    let took = began.elapsed();
    assert!(
        (Duration::from_secs(30)..Duration::from_secs(36)).contains(&took),
        "Timer F is 32 s: {took:?}"
    );
    stop.cancel();
    let _ = sipp.kill();
    let _ = sipp.wait();
    // SIPp's message log has every datagram it received, retransmissions included.
    let log = std::fs::read_to_string(&messages).unwrap_or_default();
    let registers: Vec<String> = log
        .split("UDP message received")
        .skip(1)
        .filter(|m| m.contains("REGISTER sip:"))
        .map(|m| m.to_owned())
        .collect();
    // One REGISTER, retransmitted over UDP (Timer E) with the same branch.
    assert!(registers.len() >= 5, "{registers:#?}");
    let branch = |t: &str| {
        t.lines()
            .find(|l| l.trim_start().starts_with("Via:"))
            .and_then(|v| v.split("branch=").nth(1))
            .map(|b| b.split(';').next().unwrap_or(b).trim().to_owned())
    };
    let first = branch(&registers[0]);
    assert!(first.is_some(), "{}", registers[0]);
    assert!(
        registers.iter().all(|r| branch(r) == first),
        "{registers:#?}"
    );
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("the task ends")
        .expect("task");
    // Last, so the checks of the wire above run even while this one fails.
    assert_eq!(
        s,
        RegistrationState::Failed {
            failure: RegistrationFailure::Timeout
        }
    );
}

/// 8 kHz mono μ-law samples of a 440 Hz tone, in a WAV file (format 7), as SIPp's
/// `rtp_stream` plays it: it skips the RIFF header and sends the bytes as PCMU.
fn ulaw_tone_wav(secs: usize) -> Vec<u8> {
    let pcm: Vec<i16> = (0..8000 * secs)
        .map(|i| ((std::f64::consts::TAU * 440.0 * i as f64 / 8000.0).sin() * 8000.0) as i16)
        .collect();
    let mut codec = siperb_media::codec::new_codec(siperb_media::CodecKind::Pcmu).expect("pcmu");
    let mut data = vec![0u8; pcm.len()];
    let n = codec.encode(&pcm, &mut data).expect("encode");
    data.truncate(n);
    let mut wav = Vec::new();
    wav.extend_from_slice(b"RIFF");
    wav.extend_from_slice(&(36 + n as u32).to_le_bytes());
    wav.extend_from_slice(b"WAVEfmt ");
    wav.extend_from_slice(&16u32.to_le_bytes());
    wav.extend_from_slice(&7u16.to_le_bytes());
    wav.extend_from_slice(&1u16.to_le_bytes());
    wav.extend_from_slice(&8000u32.to_le_bytes());
    wav.extend_from_slice(&8000u32.to_le_bytes());
    wav.extend_from_slice(&1u16.to_le_bytes());
    wav.extend_from_slice(&8u16.to_le_bytes());
    wav.extend_from_slice(b"data");
    wav.extend_from_slice(&(n as u32).to_le_bytes());
    wav.extend_from_slice(&data);
    wav
}

/// SIPp answers and streams a tone over RTP (`rtp_stream`, PCMU): we hear it, at its pitch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sipp_uas_streaming_rtp_is_heard() {
    let tone = ulaw_tone_wav(3);
    let mut sipp = Sipp::listening(Sipp::start_with(
        "uas_stream.xml",
        &[],
        &[("tone.wav", &tone)],
    ));
    let dir = tempfile::tempdir().expect("dir");
    let heard_file = dir.path().join("heard.wav");
    let media = Arc::new(RtpFactory {
        audio: siperb_sip::phone::AudioSource::Files(siperb_audio::FileAudio {
            play: None,
            record_to: Some(heard_file.clone()),
        }),
        ..RtpFactory::default()
    });
    let (_ep, line, mut rx) = lines::local_line_with("alice", media).await;
    let call = line
        .dial(&format!("sip:service@{}", sipp.addr()))
        .expect("dial");
    next(&mut rx, &sipp, phase(call, CallPhase::Established)).await;
    tokio::time::sleep(Duration::from_millis(4000)).await;
    line.command(call, Input::Hangup).await.expect("hangup");
    let e = next(&mut rx, &sipp, ended).await;
    let CallEvent::CallEnded { media, .. } = e else {
        unreachable!()
    };
    assert!(media.packets_received > 50, "{media:?}\n{}", sipp.logs());
    sipp.assert_success().await;

    let heard = siperb_audio::wav::read(&heard_file).expect("recording");
    let rate = f64::from(heard.rate);
    // The steady part: past the jitter buffer's start, and past its learning of a loaded
    // machine's stalls (CI: a third of the first seconds concealed), up to just before the end.
    let steady = &heard.samples[(heard.samples.len() * 3 / 10)..(heard.samples.len() * 9 / 10)];
    let rms =
        (steady.iter().map(|s| f64::from(*s).powi(2)).sum::<f64>() / steady.len() as f64).sqrt();
    assert!(
        rms > 3000.0,
        "too quiet: rms {rms:.0} over {} samples",
        steady.len()
    );
    // The pitch where the tone plays. A machine that stalls SIPp delays a few packets: their
    // frames are silence, and the resampler rings for a moment at each edge of it (tens of
    // units around zero). So: zero crossings with hysteresis (a swing from below -1000 to above
    // +1000, which ringing never makes), counted in 10 ms pieces that carry the tone throughout
    // (each quarter loud).
    let piece = heard.rate as usize / 100;
    let loud = |s: &[i16]| {
        (s.iter().map(|s| f64::from(*s).powi(2)).sum::<f64>() / s.len() as f64).sqrt() > 2000.0
    };
    let mut below = false;
    let (mut crossings, mut loud_samples) = (0usize, 0usize);
    for p in steady.chunks_exact(piece) {
        let counts = p.chunks(piece / 4).all(loud);
        for s in p {
            if *s < -1000 {
                below = true;
            } else if *s > 1000 && below {
                below = false;
                crossings += usize::from(counts);
            }
        }
        loud_samples += if counts { piece } else { 0 };
    }
    assert!(
        loud_samples as f64 > steady.len() as f64 * 0.6,
        "the tone plays in only {loud_samples} of {} samples; {media:?}",
        steady.len()
    );
    let hz = crossings as f64 * rate / loud_samples as f64;
    assert!(
        (hz - 440.0).abs() < 10.0,
        "heard {hz:.1} Hz, not 440; {media:?}"
    );
}
