//! The media task of one call: the audio pipeline run once per captured frame, RTP/RTCP in
//! and out (SRTP, rtcp-mux, latching), the jitter buffer, RFC 4733 events, statistics and the
//! recording.

use std::time::Duration;

use super::microphone::{process_microphone, speaker_processing, tell_echo_delay};
pub(super) use super::socket::MediaSocket;
use super::socket::Now;
use super::wire::{Outbox, Srtp, open, rtp_payload, seal, sync_srtp, write_header};
use super::*;
use crate::jitter::{JitterBuffer, JitterConfig};
use crate::pipeline::Pipeline;

/// What the media task owns.
pub(super) struct Media {
    pub(super) socket: MediaSocket,
    /// RTCP, on the port above RTP (RFC 3550 §11).
    pub(super) rtcp_socket: MediaSocket,
    pub(super) flow: watch::Receiver<Flow>,
    pub(super) port: Arc<Mutex<Option<AudioPort>>>,
    pub(super) switches: Arc<Switches>,
    pub(super) recording: Recording,
    pub(super) counters: Arc<Counters>,
    pub(super) stop: tokio_util::sync::CancellationToken,
    pub(super) seed: u64,
    pub(super) dtmf_to_send: tokio::sync::mpsc::UnboundedReceiver<char>,
    pub(super) dtmf_heard: tokio::sync::mpsc::UnboundedSender<char>,
    pub(super) stats: Arc<Mutex<Option<crate::rtp::CallStats>>>,
}

/// How often the media task looks for a captured frame when the device's rhythm is unknown
/// (before its first delivery) or a delivery is overdue.
const POLL: Duration = Duration::from_millis(3);
/// Once the device's rhythm is known, the task sleeps until the delivery that completes the
/// next frame, and this much more (the callback may run a little behind its period): one
/// wake-up per frame.
const AFTER_DELIVERY: Duration = Duration::from_micros(500);
/// An overdue delivery is looked for this often.
const OVERDUE_POLL: Duration = Duration::from_millis(1);

/// What the media task keeps between frames.
struct State {
    /// The task's copy of where and how media flows, refreshed when signalling changes it.
    current: Flow,
    /// RFC 3550 bookkeeping (loss, jitter, the far end's SSRC, latching), made when the far
    /// end's address is known (again when it, the clock or rtcp-mux change).
    rtp_core: Option<(CoreKey, crate::rtp::RtpSession)>,
    frames: u64,
    started: std::time::Instant,
    jitter: Option<(u32, JitterBuffer)>,
    dtmf_sender: Option<(u32, crate::dtmf::DtmfSender)>,
    dtmf_receiver: crate::dtmf::DtmfReceiver,
    /// SDES-SRTP contexts for the agreed keys (outbound with ours, inbound with theirs), and
    /// buffers the protected/unprotected packets pass through (grown once, then reused).
    srtp: Option<Srtp>,
    sealed: Vec<u8>,
    opened: Vec<u8>,
    pipeline: Option<Pipeline>,
    /// Trims a backlog the speaker's queue never needed (made with the pipeline).
    speaker_queue: Option<crate::speaker_queue::SpeakerQueue>,
    /// The call-waiting beeps at the device's rate (made when first needed), and where they are.
    waiting_tone: Option<siperb_audio::Looper>,
    /// Echo cancellation and noise suppression on the microphone (made when first switched
    /// on; `Err` when the device's rate cannot be processed, said once).
    processor: Option<Result<siperb_audio::AudioProcessor, ()>>,
    /// The least echo path delay seen since the canceller was last told.
    echo_delay_floor: Option<std::time::Duration>,
    captured: Vec<f32>,
    packet: Vec<u8>,
    payload: Vec<u8>,
    rtcp_out: Vec<u8>,
    /// Room for a packet's control messages (its receive time).
    cmsg: Vec<u8>,
}

/// Everything the media task owns while it runs.
struct Task {
    m: Media,
    st: State,
    rtcp_in: [u8; 1500],
    incoming: [u8; 1500],
    outbox: Outbox,
}

impl Task {
    fn new(mut m: Media) -> Self {
        let st = State {
            current: m.flow.borrow_and_update().clone(),
            rtp_core: None,
            frames: 0,
            started: std::time::Instant::now(),
            jitter: None,
            dtmf_sender: None,
            dtmf_receiver: crate::dtmf::DtmfReceiver::new(),
            srtp: None,
            sealed: Vec::with_capacity(1600),
            opened: Vec::with_capacity(1600),
            pipeline: None,
            speaker_queue: None,
            waiting_tone: None,
            processor: None,
            echo_delay_floor: None,
            captured: Vec::new(),
            packet: vec![0; 12 + 1500],
            payload: vec![0; 1500],
            rtcp_out: vec![0; 1500],
            cmsg: super::socket::control_buffer(),
        };
        Self {
            m,
            st,
            rtcp_in: [0; 1500],
            incoming: [0; 1500],
            outbox: Outbox::default(),
        }
    }

    /// Reads what came since the last frame (each packet with its arrival time), runs the
    /// pipeline for every frame the microphone has captured and sends what it made. How long
    /// to wait for the next frame; `None` once the port is gone (the call stopped).
    fn tick(&mut self) -> Option<Duration> {
        self.drain();
        let Task { m, st, outbox, .. } = self;
        let mut wait = POLL;
        {
            let Ok(mut guard) = m.port.lock() else {
                return None;
            };
            let port = guard.as_mut()?;
            let ctx = FrameContext {
                muted: m.switches.muted.load(Ordering::Relaxed),
                call_waiting: m.switches.call_waiting.load(Ordering::Relaxed),
                processing: speaker_processing(
                    siperb_audio::ProcessingConfig::from_bits(
                        m.switches.processing.load(Ordering::Relaxed),
                    ),
                    m.switches.headset.load(Ordering::Relaxed),
                ),
                recording: &m.recording,
                counters: &m.counters,
                stats: &m.stats,
                seed: m.seed,
                dtmf_to_send: &mut m.dtmf_to_send,
            };
            if let Some(due) = frames(st, port, ctx, outbox) {
                wait = if due.is_zero() {
                    OVERDUE_POLL
                } else {
                    due + AFTER_DELIVERY
                };
            }
        }
        let mux = muxed(st);
        for (bytes, to, rtcp) in outbox.take() {
            let sock = if *rtcp && !mux {
                &m.rtcp_socket
            } else {
                &m.socket
            };
            if sock.send_to(bytes, *to) && !*rtcp {
                m.counters.sent.fetch_add(1, Ordering::Relaxed);
            }
        }
        Some(wait)
    }

    /// Everything waiting on both sockets, each packet with its arrival time: RTCP to the RTP
    /// core; RTP (and RTCP with rtcp-mux) through [`received`].
    fn drain(&mut self) {
        let Task {
            m,
            st,
            rtcp_in,
            incoming,
            ..
        } = self;
        refresh(&mut m.flow, &mut st.current);
        let now = Now::read();
        while let Some(got) = m.rtcp_socket.try_recv(rtcp_in, &mut st.cmsg, &now) {
            let Some(len) = open(&mut st.srtp, rtcp_in, got.len, true, &mut st.opened) else {
                continue;
            };
            if let Some((_, core)) = st.rtp_core.as_mut() {
                core.on_rtcp_packet(got.at, got.from, &rtcp_in[..len]);
            }
        }
        while let Some(got) = m.socket.try_recv(incoming, &mut st.cmsg, &now) {
            received(st, &mut m.flow, &m.counters, &m.dtmf_heard, incoming, got);
        }
    }

    /// RTCP BYE: the far end learns the stream ended (RFC 3550 §6.6).
    fn finish(&mut self) {
        let st = &mut self.st;
        let sock = if muxed(st) {
            &self.m.socket
        } else {
            &self.m.rtcp_socket
        };
        if let Some((_, core)) = st.rtp_core.as_mut()
            && let Ok(n) = core.stop(std::time::Instant::now(), &mut st.rtcp_out)
            && let Some(wire) = seal(&mut st.srtp, &st.rtcp_out[..n], true, &mut st.sealed)
        {
            sock.send_to(wire, core.rtcp_destination());
        }
    }
}

/// The media task on its own thread, paced by the capture device: it sleeps until the next
/// frame is due (the kernel's timer, to the microsecond: an async runtime's timer wheel split
/// a 20 ms wait in two whenever it crossed one of the wheel's 64 ms slots, a third of the
/// frames), and reads the sockets then (see socket.rs). Stopping the call unparks it.
#[cfg(unix)]
pub(super) fn run(m: Media) {
    let mut task = Task::new(m);
    let mut wait = POLL;
    loop {
        // A spurious return only makes an early tick, which finds what is there.
        std::thread::park_timeout(wait);
        if task.m.stop.is_cancelled() {
            task.finish();
            return;
        }
        match task.tick() {
            Some(next) => wait = next,
            None => return,
        }
    }
}

/// Where the kernel does not date packets (Windows), the task also wakes for each packet.
#[cfg(not(unix))]
pub(super) async fn run(m: Media) {
    let mut task = Task::new(m);
    let mut wake = tokio::time::Instant::now() + POLL;
    loop {
        let stop = task.m.stop.clone();
        tokio::select! {
            () = stop.cancelled() => {
                task.finish();
                return;
            }
            () = tokio::time::sleep_until(wake) => {
                let Some(next) = task.tick() else { return };
                wake = tokio::time::Instant::now() + next;
            }
            () = task.m.rtcp_socket.readable() => task.drain(),
            () = task.m.socket.readable() => task.drain(),
        }
    }
}

/// What an RTP core was made for: the far end's address, the clock rate, rtcp-mux.
type CoreKey = (SocketAddr, u32, bool);

/// Whether RTCP shares the RTP socket on this call (RFC 5761).
fn muxed(st: &State) -> bool {
    st.current.remote.as_ref().is_some_and(|r| r.rtcp_mux)
}

/// What processing a frame needs besides the task's state.
struct FrameContext<'a> {
    muted: bool,
    call_waiting: bool,
    processing: siperb_audio::ProcessingConfig,
    recording: &'a Recording,
    counters: &'a Counters,
    stats: &'a Mutex<Option<crate::rtp::CallStats>>,
    seed: u64,
    dtmf_to_send: &'a mut tokio::sync::mpsc::UnboundedReceiver<char>,
}

/// Runs the pipeline for every whole frame the microphone has captured: the capture device's
/// clock paces sending, playout, RTCP and statistics. Says how long until the next frame is
/// complete, from the device's rhythm (zero: its delivery is overdue), when that is known.
fn frames(
    st: &mut State,
    port: &mut AudioPort,
    mut ctx: FrameContext<'_>,
    outbox: &mut Outbox,
) -> Option<Duration> {
    if st.pipeline.is_none() {
        st.speaker_queue = Some(crate::speaker_queue::SpeakerQueue::new(port.rate()));
    }
    let pipeline = st
        .pipeline
        .get_or_insert_with(|| Pipeline::new(port.rate()));
    let frame = pipeline.frame();
    if st.captured.len() != frame {
        st.captured = vec![0.0; frame];
    }
    let dropped = port.drop_captured_beyond(port.backlog_limit());
    if dropped > 0 {
        tracing::debug!("media ran late: {dropped} captured samples dropped");
    }
    while port.read(&mut st.captured) {
        if ctx.muted {
            st.captured.fill(0.0);
        }
        one_frame(st, port, &mut ctx, outbox);
    }
    port.frame_due_in(frame)
}

/// One 20 ms frame: playout to the speaker, the recording, RTCP and stats when due, and the
/// captured frame encoded and sent.
fn one_frame(
    st: &mut State,
    port: &mut AudioPort,
    ctx: &mut FrameContext<'_>,
    outbox: &mut Outbox,
) {
    let Some(pipeline) = st.pipeline.as_mut() else {
        return;
    };
    let Some(remote) = st.current.remote.as_ref() else {
        record(pipeline, ctx.recording, &st.captured, false);
        return;
    };
    sync_srtp(&mut st.srtp, remote.srtp.as_ref());
    // The far end, to the speaker.
    let receives = st.current.direction.receives();
    let jb = st.jitter.as_mut().filter(|_| receives).map(|(_, jb)| jb);
    let playout_us = micros_between(st.started, std::time::Instant::now());
    let played = match pipeline.playout(remote.codec, jb, playout_us) {
        Some(speaker) => {
            if ctx.call_waiting {
                st.waiting_tone
                    .get_or_insert_with(|| {
                        siperb_audio::Looper::new(siperb_audio::call_waiting_cycle(port.rate()))
                    })
                    .mix(speaker, 1.0);
            } else {
                // The next call waiting starts with its beeps.
                st.waiting_tone = None;
            }
            let queued = port.queued();
            if queued < port.backlog_limit() {
                // Not while the echo canceller runs: a cut moves the echo against the
                // speaker signal the canceller was given, and it would have to learn the
                // room again (a CI run heard 14 dB of cancellation instead of 29).
                let trim = !port.keeps_everything() && !ctx.processing.echo_cancellation;
                let skip = match st.speaker_queue.as_mut() {
                    Some(sq) if trim => {
                        let skip = sq.before_write(queued, speaker);
                        if skip > 0 {
                            tracing::debug!(
                                "speaker queue: {skip} samples of unneeded backlog cut ({} in all)",
                                sq.cut()
                            );
                        }
                        skip
                    }
                    _ => 0,
                };
                port.write(&speaker[skip..]);
            }
            // What the speaker plays is what the echo canceller removes from the microphone.
            if let Some(Ok(p)) = st.processor.as_mut()
                && ctx.processing.echo_cancellation
            {
                let _ = p.render(speaker);
            }
            true
        }
        None => false,
    };
    process_microphone(
        &mut st.processor,
        ctx.processing,
        port.rate(),
        &mut st.captured,
        ctx.muted,
    );
    tell_echo_delay(&mut st.processor, &mut st.echo_delay_floor, st.frames, port);
    record(pipeline, ctx.recording, &st.captured, played);
    let clock = remote.codec.rtp_clock_rate();
    if let Some(addr) = remote.rtp
        && st
            .rtp_core
            .as_ref()
            .is_none_or(|(key, _)| *key != (addr, clock, remote.rtcp_mux))
    {
        let mut cfg = crate::rtp::RtpConfig::new(addr, clock, ctx.seed);
        cfg.rtcp_mux = remote.rtcp_mux;
        cfg.remote_rtcp = remote.rtcp;
        cfg.ntp_at_start = crate::rtp::ntp_from_unix(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default(),
        );
        cfg.payload_types = std::iter::once((remote.payload_type, clock))
            .chain(
                remote
                    .dtmf_payload_type
                    .map(|pt| (pt, remote.dtmf_clock_rate)),
            )
            .collect();
        let core = crate::rtp::RtpSession::new(std::time::Instant::now(), cfg);
        st.rtp_core = Some(((addr, clock, remote.rtcp_mux), core));
    }
    st.frames += 1;
    // RTCP reports when due (SR while we send, RR otherwise).
    if let Some((_, core)) = st.rtp_core.as_mut()
        && let Ok(Some(n)) = core.poll_rtcp(std::time::Instant::now(), &mut st.rtcp_out)
        && let Some(wire) = seal(&mut st.srtp, &st.rtcp_out[..n], true, &mut st.sealed)
    {
        outbox.push(wire, core.rtcp_destination(), true);
    }
    if st.frames.is_multiple_of(50)
        && let Some((_, core)) = st.rtp_core.as_mut()
    {
        let jb = st.jitter.as_ref().map(|(_, jb)| jb.stats());
        let sent = ctx.counters.sent.load(Ordering::Relaxed);
        let queue =
            Duration::from_micros(port.queued() as u64 * 1_000_000 / u64::from(port.rate().max(1)));
        let snapshot = super::stats::call_stats(core, jb, remote.codec, sent, queue);
        pipeline.loss_reported(snapshot.remote_loss_pct);
        if let Ok(mut s) = ctx.stats.lock() {
            *s = Some(snapshot);
        }
    }
    // Symmetric RTP: where the far end's packets really come from (behind NAT).
    let latched = st.rtp_core.as_ref().map(|(_, core)| core.rtp_destination());
    let (Some(to), true) = (latched.or(remote.rtp), st.current.direction.sends()) else {
        return;
    };
    let step = remote.codec.rtp_clock_rate() / 1000 * crate::pipeline::FRAME_MS;
    // While a digit plays, its RFC 4733 event replaces the audio packet.
    let event = match remote.dtmf_payload_type {
        Some(dpt) if remote.dtmf_clock_rate == remote.codec.rtp_clock_rate() => {
            let rate = remote.dtmf_clock_rate;
            if st.dtmf_sender.as_ref().is_none_or(|(r, _)| *r != rate) {
                st.dtmf_sender = crate::dtmf::DtmfSender::new(rate, crate::pipeline::FRAME_MS)
                    .ok()
                    .map(|sender| (rate, sender));
            }
            st.dtmf_sender.as_mut().and_then(|(_, sender)| {
                while let Ok(digit) = ctx.dtmf_to_send.try_recv() {
                    if let Err(e) = sender.start(digit, None, crate::dtmf::DEFAULT_VOLUME) {
                        tracing::debug!("digit {digit} not sent: {e}");
                    }
                }
                sender.poll().map(|p| (dpt, p))
            })
        }
        _ => None,
    };
    // The audio is encoded even while a digit plays, so the encoder keeps its history.
    let encoded = pipeline.encode(remote.codec, &st.captured, &mut st.payload);
    let Some((_, core)) = st.rtp_core.as_mut() else {
        return;
    };
    let now = std::time::Instant::now();
    let params = |payload_type, marker| crate::rtp::SendParams {
        payload_type,
        samples: step,
        marker,
    };
    // The RTP core numbers the packets and keeps the timeline (and counts them for its
    // sender reports).
    let len = match event {
        Some((dpt, p)) => {
            let mut header = core.next_header(now, params(dpt, p.marker), p.payload.len());
            header.timestamp = p.rtp_timestamp(header.timestamp);
            header.marker = p.marker;
            write_header(&header, &p.payload, &mut st.packet)
        }
        None => encoded.and_then(|n| {
            core.write_rtp(
                now,
                params(remote.payload_type, false),
                &st.payload[..n],
                &mut st.packet,
            )
            .ok()
        }),
    };
    if let Some(len) = len
        && let Some(wire) = seal(&mut st.srtp, &st.packet[..len], false, &mut st.sealed)
    {
        outbox.push(wire, to, false);
    }
}

/// Adds a frame to the call's recording, if one runs; a write error ends the recording.
fn record(pipeline: &mut Pipeline, recording: &Recording, local: &[f32], played: bool) {
    let Ok(mut slot) = recording.lock() else {
        return;
    };
    let Some((writer, name)) = slot.as_mut() else {
        return;
    };
    if let Err(e) = pipeline.record(writer, local, played) {
        tracing::warn!("recording to {name} stopped: {e}");
        if let Some((writer, _)) = slot.take() {
            let _ = writer.finish();
        }
    }
}

/// An RTP or RTCP-less packet from the far end: SRTP, the RTP core's checks, DTMF events,
/// then the jitter buffer.
fn received(
    st: &mut State,
    flow: &mut watch::Receiver<Flow>,
    counters: &Counters,
    dtmf_heard: &tokio::sync::mpsc::UnboundedSender<char>,
    incoming: &mut [u8],
    got: super::socket::Received,
) {
    let super::socket::Received { len, from, at } = got;
    refresh(flow, &mut st.current);
    if let Some(remote) = st.current.remote.as_ref() {
        sync_srtp(&mut st.srtp, remote.srtp.as_ref());
    }
    // With rtcp-mux, RTCP arrives here too: packet types 200-204 in the second byte (the
    // range RFC 5761 §4 sets aside), unprotected as SRTCP and handed to the RTP core.
    if muxed(st) && incoming.get(1).is_some_and(|b| (192..=223).contains(b)) {
        if let Some(len) = open(&mut st.srtp, incoming, len, true, &mut st.opened)
            && let Some((_, core)) = st.rtp_core.as_mut()
        {
            core.on_packet(at, from, &incoming[..len]);
        }
        return;
    }
    // SRTP: packets that fail authentication (or replays) are dropped here.
    let Some(len) = open(&mut st.srtp, incoming, len, false, &mut st.opened) else {
        counters.ignored.fetch_add(1, Ordering::Relaxed);
        return;
    };
    if let Some((_, core)) = st.rtp_core.as_mut()
        && !core.on_packet(at, from, &incoming[..len]).accepted()
    {
        // Not the far end's stream (a stray or spoofed source): ignored.
        counters.ignored.fetch_add(1, Ordering::Relaxed);
        return;
    }
    let Some(remote) = st.current.remote.as_ref() else {
        counters.ignored.fetch_add(1, Ordering::Relaxed);
        return;
    };
    if let Some(dpt) = remote.dtmf_payload_type
        && let Some(event) = rtp_payload(&incoming[..len], dpt)
    {
        counters.received.fetch_add(1, Ordering::Relaxed);
        let marker = incoming[1] & 0x80 != 0;
        let timestamp = u32::from_be_bytes([incoming[4], incoming[5], incoming[6], incoming[7]]);
        if let Some(digit) = st.dtmf_receiver.on_packet(timestamp, marker, event) {
            let _ = dtmf_heard.send(digit);
        }
        return;
    }
    let Some(payload) = rtp_payload(&incoming[..len], remote.payload_type) else {
        counters.ignored.fetch_add(1, Ordering::Relaxed);
        return;
    };
    counters.received.fetch_add(1, Ordering::Relaxed);
    if !st.current.direction.receives() {
        return;
    }
    let clock = remote.codec.rtp_clock_rate();
    if st.jitter.as_ref().is_none_or(|(c, _)| *c != clock) {
        st.jitter = Some((
            clock,
            JitterBuffer::new(JitterConfig {
                clock_rate: clock,
                frame_ms: remote.ptime_ms.clamp(10, 60),
                // Opus rebuilds a lost frame from the next packet's in-band FEC.
                fec: remote.codec == CodecKind::Opus,
                ..JitterConfig::default()
            }),
        ));
    }
    if let Some((_, jb)) = st.jitter.as_mut() {
        let seq = u16::from_be_bytes([incoming[2], incoming[3]]);
        let timestamp = u32::from_be_bytes([incoming[4], incoming[5], incoming[6], incoming[7]]);
        jb.push(micros_between(st.started, at), seq, timestamp, payload);
    }
}

/// Takes the session's new remote/direction when signalling changed them; otherwise keeps the
/// copy the task already has (no clone per tick or per packet).
fn refresh(flow: &mut watch::Receiver<Flow>, current: &mut Flow) {
    if flow.has_changed().unwrap_or(false) {
        *current = flow.borrow_and_update().clone();
    }
}

/// Microseconds from `start` to `at` (none if `at` is earlier): the jitter buffer's clock.
fn micros_between(start: std::time::Instant, at: std::time::Instant) -> u64 {
    u64::try_from(at.saturating_duration_since(start).as_micros()).unwrap_or(u64::MAX)
}
