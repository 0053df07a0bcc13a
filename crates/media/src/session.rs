//! The one place signalling meets media: a [`MediaSession`] per call (DESIGN.md §2).
//!
//! The call logic asks for offers and answers and sets the direction; it never sees RTP. This
//! file also holds the minimal backend issue 3 runs on, [`RtpSession`]: G.711 over plain RTP,
//! paced by a timer, playing an optional WAV file (else silence) and recording what arrives.
//! Issue 4 replaces it with the real pipeline (jitter buffer, devices, Opus, SRTP).

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::watch;

use crate::jitter::{JitterBuffer, JitterConfig, Playout};
use crate::sdp::{DEFAULT_CODECS, Direction, LocalAudio, RemoteAudio, SdpError};
use crate::wav::Pcm;
use crate::{AudioCodec, CodecKind};

/// What a call did with its media, for `call_ended` and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, specta::Type)]
pub struct MediaStats {
    pub packets_sent: u64,
    pub packets_received: u64,
    /// RTP packets that were not for us (wrong version, payload type, or too short).
    pub packets_ignored: u64,
}

/// Signalling's view of a call's media.
pub trait MediaSession: Send {
    /// An SDP offer (initial INVITE, or a re-INVITE for hold/resume/refresh).
    fn create_offer(&mut self, direction: Direction) -> String;
    /// The far end's answer to our last offer.
    fn apply_answer(&mut self, answer: &str) -> Result<(), SdpError>;
    /// Our answer to the far end's offer.
    fn answer_offer(&mut self, offer: &str, local_hold: bool) -> Result<String, SdpError>;
    fn set_direction(&mut self, direction: Direction);
    /// Sends `digit` as RFC 4733 telephone-events when the far end negotiated them (at the
    /// audio's clock rate); false when it cannot, so signalling sends a SIP INFO instead.
    fn send_dtmf(&mut self, digit: char) -> bool {
        let _ = digit;
        false
    }
    /// The latest call statistics (refreshed every second while media flows).
    fn stats(&self) -> Option<crate::rtp::CallStats> {
        None
    }
    /// The digits the far end sends as RFC 4733 events, once each; taken once by the call.
    fn dtmf_received(&mut self) -> Option<tokio::sync::mpsc::UnboundedReceiver<char>> {
        None
    }
    /// Stops the media and says what it did.
    fn stop(&mut self) -> MediaStats;
}

#[derive(Debug, Clone)]
struct Flow {
    remote: Option<RemoteAudio>,
    direction: Direction,
}

#[derive(Default)]
struct Counters {
    sent: AtomicU64,
    received: AtomicU64,
    ignored: AtomicU64,
}

/// The minimal RTP backend (see the module docs).
pub struct RtpSession {
    local: LocalAudio,
    flow: watch::Sender<Flow>,
    counters: Arc<Counters>,
    recording: Arc<Mutex<Pcm>>,
    stop: tokio_util::sync::CancellationToken,
    record_to: Option<std::path::PathBuf>,
    /// The pacing task's statistics, refreshed every second.
    stats: Arc<Mutex<Option<crate::rtp::CallStats>>>,
    /// Digits to send in-band, to the pacing task.
    dtmf_out: tokio::sync::mpsc::UnboundedSender<char>,
    /// Digits received in-band, until the call takes them.
    dtmf_in: Option<tokio::sync::mpsc::UnboundedReceiver<char>>,
}

/// Recording is capped (one hour) so a forgotten call cannot eat memory.
const MAX_RECORDED_SECS: usize = 3600;

impl RtpSession {
    /// Binds an RTP port on `ip` and starts the pacing task (idle until a remote is known).
    /// `play` is sent once then silence follows; what arrives is written to `record_to` on stop.
    pub fn start(
        ip: IpAddr,
        play: Option<Pcm>,
        record_to: Option<std::path::PathBuf>,
    ) -> std::io::Result<Self> {
        let (std_socket, std_rtcp) = bind_pair(ip)?;
        std_socket.set_nonblocking(true)?;
        std_rtcp.set_nonblocking(true)?;
        let socket = tokio::net::UdpSocket::from_std(std_socket)?;
        let rtcp_socket = tokio::net::UdpSocket::from_std(std_rtcp)?;
        let rtp = socket.local_addr()?;
        let (flow, flow_rx) = watch::channel(Flow {
            remote: None,
            direction: Direction::SendRecv,
        });
        let counters = Arc::new(Counters::default());
        let recording = Arc::new(Mutex::new(Pcm {
            rate: 0,
            samples: Vec::new(),
        }));
        let stop = tokio_util::sync::CancellationToken::new();
        let seed = u64::from(rtp.port()) ^ (std::process::id() as u64) << 16;
        let (dtmf_out, dtmf_to_send) = tokio::sync::mpsc::unbounded_channel();
        let (dtmf_heard, dtmf_in) = tokio::sync::mpsc::unbounded_channel();
        let stats = Arc::new(Mutex::new(None));
        tokio::spawn(pace(Pacing {
            socket,
            rtcp_socket,
            flow: flow_rx,
            play,
            counters: counters.clone(),
            recording: recording.clone(),
            stop: stop.clone(),
            seed,
            dtmf_to_send,
            dtmf_heard,
            stats: stats.clone(),
        }));
        Ok(Self {
            local: LocalAudio {
                rtp,
                session_id: seed & 0xffff_ffff,
                version: 1,
                codecs: DEFAULT_CODECS.to_vec(),
                srtp: crate::srtp::SrtpMode::Off,
                offered_crypto: Vec::new(),
            },
            flow,
            counters,
            recording,
            stop,
            record_to,
            dtmf_out,
            dtmf_in: Some(dtmf_in),
            stats,
        })
    }

    /// Encrypts the media with SDES-SRTP: `Optional` offers keys and uses them when the far end
    /// agrees; `Required` offers RTP/SAVP and refuses calls without SRTP.
    pub fn with_srtp(mut self, mode: crate::srtp::SrtpMode) -> Self {
        self.local.srtp = mode;
        self
    }

    /// Offers and accepts only `codecs`, in this order (the account's or the user's choice);
    /// an empty list keeps the defaults.
    pub fn with_codecs(mut self, codecs: &[CodecKind]) -> Self {
        if !codecs.is_empty() {
            self.local.codecs = codecs.to_vec();
        }
        self
    }

    pub fn local_rtp(&self) -> SocketAddr {
        self.local.rtp
    }

    fn set_remote(&mut self, remote: RemoteAudio) {
        self.flow.send_modify(|f| f.remote = Some(remote));
    }
}

impl MediaSession for RtpSession {
    fn create_offer(&mut self, direction: Direction) -> String {
        self.local.offer(direction)
    }

    fn apply_answer(&mut self, answer: &str) -> Result<(), SdpError> {
        let remote = self.local.read_answer(answer)?;
        self.set_remote(remote);
        Ok(())
    }

    fn answer_offer(&mut self, offer: &str, local_hold: bool) -> Result<String, SdpError> {
        let (answer, remote) = self.local.answer(offer, local_hold)?;
        self.set_remote(remote);
        Ok(answer)
    }

    fn set_direction(&mut self, direction: Direction) {
        self.flow.send_modify(|f| f.direction = direction);
    }

    fn send_dtmf(&mut self, digit: char) -> bool {
        let flow = self.flow.borrow();
        let in_band = flow.remote.as_ref().is_some_and(|r| {
            r.dtmf_payload_type.is_some()
                && r.dtmf_clock_rate == r.codec.rtp_clock_rate()
                && r.rtp.is_some()
        }) && flow.direction.sends()
            && crate::dtmf::event_for_digit(digit).is_some();
        in_band && self.dtmf_out.send(digit).is_ok()
    }

    fn dtmf_received(&mut self) -> Option<tokio::sync::mpsc::UnboundedReceiver<char>> {
        self.dtmf_in.take()
    }

    fn stats(&self) -> Option<crate::rtp::CallStats> {
        self.stats.lock().ok().and_then(|s| *s)
    }

    fn stop(&mut self) -> MediaStats {
        self.stop.cancel();
        if let Some(path) = self.record_to.take() {
            let mut heard = self.recording.lock().map(|r| r.clone()).unwrap_or(Pcm {
                rate: 0,
                samples: Vec::new(),
            });
            if heard.rate == 0 {
                heard.rate = 8000;
            }
            if let Err(e) = crate::wav::write(&path, &heard) {
                tracing::warn!("could not save the call's audio: {e}");
            }
        }
        MediaStats {
            packets_sent: self.counters.sent.load(Ordering::Relaxed),
            packets_received: self.counters.received.load(Ordering::Relaxed),
            packets_ignored: self.counters.ignored.load(Ordering::Relaxed),
        }
    }
}

impl Drop for RtpSession {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// The codec of `kind` in `slot`, made anew when the negotiated codec changes.
fn codec_slot(
    slot: &mut Option<(CodecKind, Box<dyn AudioCodec>)>,
    kind: CodecKind,
) -> Option<&mut Box<dyn AudioCodec>> {
    if slot.as_ref().is_none_or(|(k, _)| *k != kind) {
        match crate::codec::new_codec(kind) {
            Ok(codec) => *slot = Some((kind, codec)),
            Err(e) => {
                tracing::warn!("cannot run {kind:?}: {e}");
                *slot = None;
            }
        }
    }
    slot.as_mut().map(|(_, codec)| codec)
}

/// Samples of one frame of `ptime_ms` at the codec's own rate, and the RTP timestamp step.
/// This backend sends 10 to 20 ms frames.
fn frame_of(codec: CodecKind, ptime_ms: u32) -> (usize, u32) {
    let ptime = ptime_ms.clamp(10, 20);
    (
        (codec.sample_rate() / 1000 * ptime) as usize,
        codec.rtp_clock_rate() / 1000 * ptime,
    )
}

/// What the pacing task owns.
struct Pacing {
    socket: tokio::net::UdpSocket,
    /// RTCP, on the port above RTP (RFC 3550 §11).
    rtcp_socket: tokio::net::UdpSocket,
    flow: watch::Receiver<Flow>,
    play: Option<Pcm>,
    counters: Arc<Counters>,
    recording: Arc<Mutex<Pcm>>,
    stop: tokio_util::sync::CancellationToken,
    seed: u64,
    dtmf_to_send: tokio::sync::mpsc::UnboundedReceiver<char>,
    dtmf_heard: tokio::sync::mpsc::UnboundedSender<char>,
    stats: Arc<Mutex<Option<crate::rtp::CallStats>>>,
}

async fn pace(p: Pacing) {
    let Pacing {
        socket,
        rtcp_socket,
        mut flow,
        play,
        counters,
        recording,
        stop,
        seed,
        mut dtmf_to_send,
        dtmf_heard,
        stats,
    } = p;
    // The task's copy of where and how media flows, refreshed when signalling changes it.
    let mut current = flow.borrow_and_update().clone();
    // RFC 3550 bookkeeping of what arrives (loss, jitter, the far end's SSRC, latching to where
    // its packets really come from), made when the far end's address is known.
    let mut rtp_core: Option<(SocketAddr, u32, crate::rtp::RtpSession)> = None;
    let mut ticks = 0u64;
    // What arrives waits in the jitter buffer and is played out (here: recorded) on this
    // task's 20 ms clock, with losses concealed by the codec.
    let started = tokio::time::Instant::now();
    let mut jitter: Option<(u32, JitterBuffer)> = None;
    let mut owed_until = 0u64;
    // RFC 4733 events: made for the telephone-event clock when it is known.
    let mut dtmf_sender: Option<(u32, crate::dtmf::DtmfSender)> = None;
    let mut dtmf_receiver = crate::dtmf::DtmfReceiver::new();
    let mut played = 0usize;
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    // A late tick is caught up (Burst), so a busy machine does not slow the stream down: the
    // file plays and the far end is played out at 50 frames a second on average.
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut packet = [0u8; 12 + 1500];
    let mut payload_buf = [0u8; 1500];
    let mut rtcp_in = [0u8; 1500];
    let mut rtcp_out = [0u8; 1500];
    // SDES-SRTP contexts for the agreed keys (outbound with ours, inbound with theirs), and
    // buffers the protected/unprotected packets pass through (grown once, then reused).
    let mut srtp: Option<Srtp> = None;
    let mut sealed: Vec<u8> = Vec::with_capacity(1600);
    let mut opened: Vec<u8> = Vec::with_capacity(1600);
    let mut incoming = [0u8; 1500];
    let mut pcm = [0i16; 5760];
    // The file to send, at the rate of the codec in use (resampled when the codec changes).
    let mut source: (u32, Vec<i16>) = (0, Vec::new());
    // One encoder and one decoder, made again only when the negotiated codec changes.
    let mut encoder: Option<(CodecKind, Box<dyn AudioCodec>)> = None;
    let mut decoder: Option<(CodecKind, Box<dyn AudioCodec>)> = None;
    loop {
        tokio::select! {
            () = stop.cancelled() => {
                // RTCP BYE: the far end learns the stream ended (RFC 3550 §6.6).
                if let Some((_, _, core)) = rtp_core.as_mut()
                    && let Ok(n) = core.stop(std::time::Instant::now(), &mut rtcp_out)
                    && let Some(wire) = seal(&mut srtp, &rtcp_out[..n], true, &mut sealed)
                {
                    let _ = rtcp_socket.send_to(wire, core.rtcp_destination()).await;
                }
                return;
            }
            _ = tick.tick() => {
                refresh(&mut flow, &mut current);
                let Some(remote) = current.remote.as_ref() else { continue };
                sync_srtp(&mut srtp, remote.srtp.as_ref());
                if current.direction.receives()
                    && let Some((_, jb)) = jitter.as_mut()
                {
                    play_out(jb, &mut decoder, remote.codec, &mut pcm, &recording, started, &mut owed_until);
                }
                let (frame, step) = frame_of(remote.codec, remote.ptime_ms);
                let clock = remote.codec.rtp_clock_rate();
                if let Some(addr) = remote.rtp
                    && rtp_core.as_ref().is_none_or(|(a, c, _)| *a != addr || *c != clock)
                {
                    let mut cfg = crate::rtp::RtpConfig::new(addr, clock, seed);
                    cfg.ntp_at_start = crate::rtp::ntp_from_unix(
                        std::time::SystemTime::now()
                            .duration_since(std::time::UNIX_EPOCH)
                            .unwrap_or_default(),
                    );
                    cfg.payload_types = std::iter::once((remote.payload_type, clock))
                        .chain(remote.dtmf_payload_type.map(|pt| (pt, remote.dtmf_clock_rate)))
                        .collect();
                    rtp_core = Some((addr, clock, crate::rtp::RtpSession::new(std::time::Instant::now(), cfg)));
                }
                ticks += 1;
                // RTCP reports when due (SR while we send, RR otherwise).
                if let Some((_, _, core)) = rtp_core.as_mut()
                    && let Ok(Some(n)) = core.poll_rtcp(std::time::Instant::now(), &mut rtcp_out)
                    && let Some(wire) = seal(&mut srtp, &rtcp_out[..n], true, &mut sealed)
                {
                    let _ = rtcp_socket.send_to(wire, core.rtcp_destination()).await;
                }
                if ticks.is_multiple_of(50)
                    && let Some((_, _, core)) = rtp_core.as_mut()
                {
                    let jb = jitter.as_ref().map(|(_, jb)| jb.stats());
                    let snapshot = call_stats(core, jb, remote.codec, counters.sent.load(Ordering::Relaxed));
                    if let Ok(mut s) = stats.lock() {
                        *s = Some(snapshot);
                    }
                }
                // Symmetric RTP: where the far end's packets really come from (behind NAT).
                let latched = rtp_core.as_ref().map(|(_, _, core)| core.rtp_destination());
                let (Some(to), true) = (latched.or(remote.rtp), current.direction.sends()) else { continue };
                let Some(enc) = codec_slot(&mut encoder, remote.codec) else { continue };
                let rate = remote.codec.sample_rate();
                if source.0 != rate {
                    // Where we are in the file, in time, carries over to the new rate.
                    let at = if source.0 == 0 { 0 } else { played * rate as usize / source.0 as usize };
                    source = (rate, play.as_ref().map(|p| p.resampled(rate).samples).unwrap_or_default());
                    played = at;
                }
                for (i, s) in pcm[..frame].iter_mut().enumerate() {
                    *s = source.1.get(played + i).copied().unwrap_or(0);
                }
                played += frame;
                // While a digit plays, its RFC 4733 event replaces the audio packet.
                let event = match remote.dtmf_payload_type {
                    Some(dpt) if remote.dtmf_clock_rate == remote.codec.rtp_clock_rate() => {
                        let rate = remote.dtmf_clock_rate;
                        if dtmf_sender.as_ref().is_none_or(|(r, _)| *r != rate) {
                            let interval = remote.ptime_ms.clamp(10, 20);
                            dtmf_sender = crate::dtmf::DtmfSender::new(rate, interval)
                                .ok()
                                .map(|sender| (rate, sender));
                        }
                        dtmf_sender.as_mut().and_then(|(_, sender)| {
                            while let Ok(digit) = dtmf_to_send.try_recv() {
                                if let Err(e) = sender.start(digit, None, crate::dtmf::DEFAULT_VOLUME) {
                                    tracing::debug!("digit {digit} not sent: {e}");
                                }
                            }
                            sender.poll().map(|p| (dpt, p))
                        })
                    }
                    _ => None,
                };
                let Some((_, _, core)) = rtp_core.as_mut() else { continue };
                let now = std::time::Instant::now();
                let params = |payload_type, marker| crate::rtp::SendParams {
                    payload_type,
                    samples: step,
                    marker,
                };
                // The RTP core numbers the packets and keeps the timeline (and counts them for
                // its sender reports).
                let len = match event {
                    Some((dpt, p)) => {
                        let mut header = core.next_header(now, params(dpt, p.marker), p.payload.len());
                        header.timestamp = p.rtp_timestamp(header.timestamp);
                        header.marker = p.marker;
                        write_header(&header, &p.payload, &mut packet)
                    }
                    None => match enc.encode(&pcm[..frame], &mut payload_buf) {
                        Ok(n) => core
                            .write_rtp(now, params(remote.payload_type, false), &payload_buf[..n], &mut packet)
                            .ok(),
                        Err(_) => None,
                    },
                };
                if let Some(len) = len
                    && let Some(wire) = seal(&mut srtp, &packet[..len], false, &mut sealed)
                    && socket.send_to(wire, to).await.is_ok()
                {
                    counters.sent.fetch_add(1, Ordering::Relaxed);
                }
            }
            got = rtcp_socket.recv_from(&mut rtcp_in) => {
                let Ok((len, from)) = got else { continue };
                let Some(len) = open(&mut srtp, &mut rtcp_in, len, true, &mut opened) else { continue };
                if let Some((_, _, core)) = rtp_core.as_mut() {
                    core.on_rtcp_packet(std::time::Instant::now(), from, &rtcp_in[..len]);
                }
            }
            got = socket.recv_from(&mut incoming) => {
                let Ok((len, from)) = got else { continue };
                refresh(&mut flow, &mut current);
                if let Some(remote) = current.remote.as_ref() {
                    sync_srtp(&mut srtp, remote.srtp.as_ref());
                }
                // SRTP: packets that fail authentication (or replays) are dropped here.
                let Some(len) = open(&mut srtp, &mut incoming, len, false, &mut opened) else {
                    counters.ignored.fetch_add(1, Ordering::Relaxed);
                    continue;
                };
                if let Some((_, _, core)) = rtp_core.as_mut()
                    && !core.on_packet(std::time::Instant::now(), from, &incoming[..len]).accepted()
                {
                    // Not the far end's stream (a stray or spoofed source): ignored.
                    counters.ignored.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                let Some(remote) = current.remote.as_ref() else {
                    counters.ignored.fetch_add(1, Ordering::Relaxed);
                    continue;
                };
                if let Some(dpt) = remote.dtmf_payload_type
                    && let Some(event) = rtp_payload(&incoming[..len], dpt)
                {
                    counters.received.fetch_add(1, Ordering::Relaxed);
                    let marker = incoming[1] & 0x80 != 0;
                    let timestamp = u32::from_be_bytes([incoming[4], incoming[5], incoming[6], incoming[7]]);
                    if let Some(digit) = dtmf_receiver.on_packet(timestamp, marker, event) {
                        let _ = dtmf_heard.send(digit);
                    }
                    continue;
                }
                let Some(payload) = rtp_payload(&incoming[..len], remote.payload_type) else {
                    counters.ignored.fetch_add(1, Ordering::Relaxed);
                    continue;
                };
                counters.received.fetch_add(1, Ordering::Relaxed);
                if !current.direction.receives() {
                    continue;
                }
                let clock = remote.codec.rtp_clock_rate();
                if jitter.as_ref().is_none_or(|(c, _)| *c != clock) {
                    jitter = Some((clock, JitterBuffer::new(JitterConfig {
                        clock_rate: clock,
                        frame_ms: remote.ptime_ms.clamp(10, 60),
                        ..JitterConfig::default()
                    })));
                }
                if let Some((_, jb)) = jitter.as_mut() {
                    let seq = u16::from_be_bytes([incoming[2], incoming[3]]);
                    let timestamp = u32::from_be_bytes([incoming[4], incoming[5], incoming[6], incoming[7]]);
                    jb.push(micros_since(started), seq, timestamp, payload);
                }
            }
        }
    }
}

/// The statistics the call reports: RFC 3550 figures from the RTP core, the jitter buffer's
/// delay, and the G.107 E-model MOS from them.
fn call_stats(
    core: &mut crate::rtp::RtpSession,
    jb: Option<crate::jitter::JitterStats>,
    codec: CodecKind,
    sent: u64,
) -> crate::rtp::CallStats {
    let mut s = core.stats(std::time::Instant::now());
    s.packets_sent = sent;
    s.jitter_buffer_ms = jb.map_or(0.0, |j| j.buffered_delay_ms as f32);
    let one_way = s.rtt_ms.map_or(0.0, |rtt| f64::from(rtt) / 2.0);
    s.mos = crate::quality::mos(&crate::quality::QualityInput {
        codec,
        one_way_delay_ms: one_way,
        packet_loss_pct: f64::from(s.loss_pct),
        burst_ratio: 1.0,
        jitter_buffer_ms: f64::from(s.jitter_buffer_ms),
    }) as f32;
    s
}

/// The SRTP contexts of a call: the keys they were made from, outbound, inbound.
type Srtp = (
    crate::srtp::SrtpKeys,
    crate::srtp::SrtpContext,
    crate::srtp::SrtpContext,
);

/// Makes (or drops) the SRTP contexts when the agreed keys change.
fn sync_srtp(srtp: &mut Option<Srtp>, keys: Option<&crate::srtp::SrtpKeys>) {
    match keys {
        None => *srtp = None,
        Some(keys) if srtp.as_ref().is_some_and(|(k, _, _)| k == keys) => {}
        Some(keys) => {
            *srtp = match (
                crate::srtp::SrtpContext::outbound(&keys.local),
                crate::srtp::SrtpContext::inbound(&keys.remote),
            ) {
                (Ok(out), Ok(inb)) => Some((keys.clone(), out, inb)),
                (Err(e), _) | (_, Err(e)) => {
                    tracing::warn!("SRTP keys unusable: {e}");
                    None
                }
            };
        }
    }
}

/// The bytes to send: `packet` protected when the call is encrypted, else as it is.
fn seal<'a>(
    srtp: &mut Option<Srtp>,
    packet: &'a [u8],
    rtcp: bool,
    sealed: &'a mut Vec<u8>,
) -> Option<&'a [u8]> {
    let Some((_, out, _)) = srtp.as_mut() else {
        return Some(packet);
    };
    let done = if rtcp {
        out.protect_rtcp(packet, sealed)
    } else {
        out.protect_rtp(packet, sealed)
    };
    done.ok().map(|()| sealed.as_slice())
}

/// Unprotects `buf[..len]` in place when the call is encrypted; the plain length, or `None`
/// for a packet that failed authentication or was replayed.
fn open(
    srtp: &mut Option<Srtp>,
    buf: &mut [u8],
    len: usize,
    rtcp: bool,
    opened: &mut Vec<u8>,
) -> Option<usize> {
    let Some((_, _, inb)) = srtp.as_mut() else {
        return Some(len);
    };
    let done = if rtcp {
        inb.unprotect_rtcp(&buf[..len], opened)
    } else {
        inb.unprotect_rtp(&buf[..len], opened)
    };
    done.ok()?;
    let plain = buf.get_mut(..opened.len())?;
    plain.copy_from_slice(opened);
    Some(opened.len())
}

/// An RTP socket on an even port and its RTCP socket on the next one (RFC 3550 §11), on `ip`.
fn bind_pair(ip: IpAddr) -> std::io::Result<(std::net::UdpSocket, std::net::UdpSocket)> {
    let mut last = None;
    for _ in 0..64 {
        let rtp = std::net::UdpSocket::bind(SocketAddr::new(ip, 0))?;
        let port = rtp.local_addr()?.port();
        if port % 2 != 0 || port == u16::MAX {
            continue;
        }
        match std::net::UdpSocket::bind(SocketAddr::new(ip, port + 1)) {
            Ok(rtcp) => return Ok((rtp, rtcp)),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("no free RTP/RTCP port pair")))
}

/// Writes an RTP `header` and `payload` into `out`; the length, or `None` if it does not fit.
fn write_header(header: &rtp::header::Header, payload: &[u8], out: &mut [u8]) -> Option<usize> {
    use webrtc_util::marshal::{Marshal, MarshalSize};
    let size = header.marshal_size();
    let total = size + payload.len();
    let dest = out.get_mut(..total)?;
    header.marshal_to(&mut dest[..size]).ok()?;
    dest[size..].copy_from_slice(payload);
    Some(total)
}

/// Takes the session's new remote/direction when signalling changed them; otherwise keeps the
/// copy the task already has (no clone per tick or per packet).
fn refresh(flow: &mut watch::Receiver<Flow>, current: &mut Flow) {
    if flow.has_changed().unwrap_or(false) {
        *current = flow.borrow_and_update().clone();
    }
}

fn micros_since(start: tokio::time::Instant) -> u64 {
    u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX)
}

/// Plays out what is due from the jitter buffer: the next frame decoded, a lost one concealed
/// (Opus rebuilds it from the next packet's FEC when it is there), nothing before the first.
/// `owed_until` is when the audio already played runs out, so packets longer than our tick
/// are not popped too early.
fn play_out(
    jb: &mut JitterBuffer,
    decoder: &mut Option<(CodecKind, Box<dyn AudioCodec>)>,
    codec: CodecKind,
    pcm: &mut [i16],
    recording: &Mutex<Pcm>,
    started: tokio::time::Instant,
    owed_until: &mut u64,
) {
    let now = micros_since(started);
    if now + 5_000 < *owed_until {
        return;
    }
    let rate = codec.sample_rate();
    let frame = (u64::from(jb.samples_per_frame()) * u64::from(rate)
        / u64::from(codec.rtp_clock_rate()))
    .clamp(1, pcm.len() as u64) as usize;
    let Some(dec) = codec_slot(decoder, codec) else {
        return;
    };
    let n = match jb.pop(now) {
        Playout::Frame { payload, .. } => dec.decode(payload, pcm).unwrap_or(0),
        Playout::Conceal { fec } => dec.conceal(fec, &mut pcm[..frame]).unwrap_or(0),
        Playout::Silence => {
            // Nothing to play (a pause in the far end's packets): silence, once the call's
            // audio has started, so the recording keeps time.
            if recording.lock().is_ok_and(|r| r.rate == 0) {
                *owed_until = now.max(*owed_until) + 20_000;
                return;
            }
            pcm[..frame].fill(0);
            frame
        }
    };
    *owed_until = now.max(*owed_until) + (n as u64 * 1_000_000 / u64::from(rate)).max(1);
    record(recording, rate, &pcm[..n]);
}

/// Adds played-out audio to the call's recording (which keeps the first codec's rate).
fn record(recording: &Mutex<Pcm>, rate: u32, samples: &[i16]) {
    let Ok(mut rec) = recording.lock() else {
        return;
    };
    if rec.rate == 0 {
        rec.rate = rate;
    }
    let limit = rec.rate as usize * MAX_RECORDED_SECS;
    if rec.rate == rate {
        if rec.samples.len() + samples.len() <= limit {
            rec.samples.extend_from_slice(samples);
        }
    } else {
        let frame = Pcm {
            rate,
            samples: samples.to_vec(),
        }
        .resampled(rec.rate);
        if rec.samples.len() + frame.samples.len() <= limit {
            rec.samples.extend_from_slice(&frame.samples);
        }
    }
}

/// The payload of an RTP packet with payload type `pt`, or `None` for anything else
/// (RFC 3550 §5.1: version 2, CSRCs, extension and padding honoured).
pub fn rtp_payload(packet: &[u8], pt: u8) -> Option<&[u8]> {
    if packet.len() < 12 || packet[0] >> 6 != 2 || packet[1] & 0x7f != pt {
        return None;
    }
    let csrc = usize::from(packet[0] & 0x0f) * 4;
    let mut start = 12 + csrc;
    if packet[0] & 0x10 != 0 {
        let words = u16::from_be_bytes([*packet.get(start + 2)?, *packet.get(start + 3)?]);
        start += 4 + usize::from(words) * 4;
    }
    let mut end = packet.len();
    if packet[0] & 0x20 != 0 {
        end = end.checked_sub(usize::from(*packet.last()?))?;
    }
    packet.get(start..end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rtp_payloads_honour_csrc_extension_and_padding() {
        let mut p = vec![0x80, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1];
        p.extend_from_slice(&[1, 2, 3]);
        assert_eq!(rtp_payload(&p, 0), Some(&[1u8, 2, 3][..]));
        assert_eq!(rtp_payload(&p, 8), None);
        // Padding of 2 bytes.
        let mut padded = p.clone();
        padded[0] |= 0x20;
        padded.extend_from_slice(&[0, 2]);
        assert_eq!(rtp_payload(&padded, 0), Some(&[1u8, 2, 3][..]));
        // Broken headers never panic.
        for cut in 0..p.len() {
            let _ = rtp_payload(&p[..cut], 0);
        }
        let mut ext = p.clone();
        ext[0] |= 0x10;
        let _ = rtp_payload(&ext, 0);
        assert_eq!(rtp_payload(&[0x20; 12], 0), None);
    }

    #[tokio::test]
    async fn two_sessions_exchange_audio_after_offer_and_answer() {
        let ip: IpAddr = [127, 0, 0, 1].into();
        let dir = tempfile::tempdir().expect("dir");
        let tone = Pcm {
            rate: 8000,
            samples: (0..8000)
                .map(|i| ((i as f64 * 0.3).sin() * 8000.0) as i16)
                .collect(),
        };
        let mut a = RtpSession::start(ip, Some(tone), None).expect("a");
        let mut b = RtpSession::start(ip, None, Some(dir.path().join("b.wav"))).expect("b");
        let offer = a.create_offer(Direction::SendRecv);
        let answer = b.answer_offer(&offer, false).expect("answer");
        a.apply_answer(&answer).expect("apply");
        tokio::time::sleep(Duration::from_millis(400)).await;
        let sa = a.stop();
        let sb = b.stop();
        assert!(sa.packets_sent >= 10, "{sa:?}");
        assert!(sb.packets_received >= 10, "{sb:?}");
        let heard = crate::wav::read(&dir.path().join("b.wav")).expect("recording");
        let loud = heard.samples.iter().filter(|s| s.abs() > 2000).count();
        assert!(loud > 100, "the tone did not arrive: {loud} loud samples");
    }
}
