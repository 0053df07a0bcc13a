//! The echo test: calling `echo` (a built-in contact, no server needed) loops the user's own
//! voice back one second later through the whole media path (capture, encode, RTP, SRTP when
//! the account uses it, jitter buffer, decode, playback), so a new user can check microphone
//! and speakers.
//!
//! The far end is a reflector on 127.0.0.1 that answers our offer like a peer would and sends
//! every packet back after [`ECHO_DELAY`] (decrypted with our key and encrypted with its own
//! under SDES-SRTP).

use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::Ordering;
use std::time::Duration;

use siperb_media::MediaSession;
use siperb_media::sdp::{DEFAULT_CODECS, Direction, LocalAudio};
use siperb_media::srtp::{SrtpContext, SrtpMode};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::call_task::Command;
use super::{CallEvent, CallRef, CallStatus, Line, NEXT_CALL, PhoneError, media_control};
use crate::call::{CallDirection, CallPhase, EndCause, Input};

/// How late the user hears themselves.
pub const ECHO_DELAY: Duration = Duration::from_secs(1);
/// What the user dials.
pub const ECHO_TARGET: &str = "echo";
/// Packets held by the reflector at most (a few seconds of 20 ms frames).
const MAX_HELD: usize = 500;

/// Whether `target` is the echo test.
pub fn is_echo(target: &str) -> bool {
    target.trim().eq_ignore_ascii_case(ECHO_TARGET)
}

impl Line {
    /// Starts an echo-test call (see the module docs).
    pub(super) fn dial_echo(&self) -> Result<CallRef, PhoneError> {
        let inner = &self.inner;
        let loopback = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let mut media = inner
            .cfg
            .media
            .create(loopback, &inner.cfg.media_settings)?;
        let reflector = Reflector::bind(loopback).map_err(|e| PhoneError::Media(e.to_string()))?;
        let offer = media.create_offer(Direction::SendRecv);
        let mut far = LocalAudio {
            rtp: reflector.rtp_addr,
            session_id: 1,
            version: 1,
            codecs: DEFAULT_CODECS.to_vec(),
            srtp: SrtpMode::Optional,
            offered_crypto: Vec::new(),
        };
        let bad = |e: siperb_media::SdpError| PhoneError::Media(e.to_string());
        let (answer, heard) = far.answer(&offer, false).map_err(bad)?;
        media.apply_answer(&answer).map_err(bad)?;
        let keys = match &heard.srtp {
            Some(k) => match (k.inbound(), k.outbound()) {
                (Ok(inbound), Ok(outbound)) => Some((inbound, outbound)),
                (Err(e), _) | (_, Err(e)) => {
                    return Err(PhoneError::Media(format!("SRTP keys: {e}")));
                }
            },
            None => None,
        };
        let call = CallRef(NEXT_CALL.fetch_add(1, Ordering::Relaxed));
        let (commands_tx, commands) = mpsc::channel(16);
        if let Ok(mut calls) = inner.calls.lock() {
            calls.insert(call, commands_tx);
        }
        if let Ok(mut status) = inner.status.lock() {
            status.insert(
                call,
                CallStatus {
                    direction: CallDirection::Outgoing,
                    phase: CallPhase::Established,
                    on_hold: false,
                },
            );
        }
        let events = inner.relay.clone();
        let _ = events.send(CallEvent::OutgoingCall {
            call,
            to: ECHO_TARGET.into(),
        });
        let _ = events.send(CallEvent::State {
            call,
            phase: CallPhase::Established,
        });
        let stop = CancellationToken::new();
        tokio::spawn(reflector.run(keys, stop.clone()));
        tokio::spawn(run_call(call, media, commands, events, stop));
        Ok(call)
    }
}

/// The echo call's task: the user's controls, stats every second, and the end.
async fn run_call(
    call: CallRef,
    mut media: Box<dyn MediaSession>,
    mut commands: mpsc::Receiver<Command>,
    events: mpsc::UnboundedSender<CallEvent>,
    reflector: CancellationToken,
) {
    let started = tokio::time::Instant::now();
    let mut stats = tokio::time::interval(Duration::from_secs(1));
    stats.tick().await;
    let mut dtmf_in = media.dtmf_received();
    let emit = |event| {
        let _ = events.send(event);
    };
    loop {
        tokio::select! {
            command = commands.recv() => match command {
                None | Some(Command::User(Input::Hangup)) => break,
                Some(Command::User(Input::Hold)) => {
                    media.set_direction(Direction::Inactive);
                    emit(CallEvent::Hold { call, local: true, remote: false });
                }
                Some(Command::User(Input::Resume)) => {
                    media.set_direction(Direction::SendRecv);
                    emit(CallEvent::Hold { call, local: false, remote: false });
                }
                Some(Command::User(Input::SendDtmf(digit))) => {
                    // In-band, so the digit comes back as well.
                    media.send_dtmf(digit);
                }
                Some(Command::User(Input::Transfer { .. })) => {
                    // There is nobody to hand the echo test to.
                    emit(CallEvent::Transfer { call, status: 405 });
                }
                Some(Command::Media(control, reply)) => {
                    let _ = reply.send(media_control(media.as_mut(), control));
                }
                Some(other) => tracing::debug!("echo test: {other:?} ignored"),
            },
            _ = stats.tick() => {
                if let Some(stats) = media.stats() {
                    emit(CallEvent::Stats { call, stats });
                }
                for route in media.audio_routes() {
                    emit(CallEvent::AudioDevice { call, route });
                }
            }
            digit = async { match dtmf_in.as_mut() { Some(rx) => rx.recv().await, None => std::future::pending().await } } => match digit {
                Some(digit) => emit(CallEvent::Dtmf { call, digit }),
                None => dtmf_in = None,
            },
        }
    }
    let media_stats = media.stop();
    reflector.cancel();
    emit(CallEvent::CallEnded {
        call,
        cause: EndCause::LocalHangup,
        talk_secs: started.elapsed().as_secs_f64(),
        media: media_stats,
    });
}

/// The far end of the echo test.
struct Reflector {
    rtp: tokio::net::UdpSocket,
    rtcp: tokio::net::UdpSocket,
    rtp_addr: SocketAddr,
}

impl Reflector {
    fn bind(ip: IpAddr) -> std::io::Result<Self> {
        let rtp = std::net::UdpSocket::bind(SocketAddr::new(ip, 0))?;
        let rtp_addr = rtp.local_addr()?;
        // RTCP is taken on the next port when free (else anywhere): it is read and dropped.
        let rtcp = std::net::UdpSocket::bind(SocketAddr::new(ip, rtp_addr.port().wrapping_add(1)))
            .or_else(|_| std::net::UdpSocket::bind(SocketAddr::new(ip, 0)))?;
        rtp.set_nonblocking(true)?;
        rtcp.set_nonblocking(true)?;
        Ok(Self {
            rtp: tokio::net::UdpSocket::from_std(rtp)?,
            rtcp: tokio::net::UdpSocket::from_std(rtcp)?,
            rtp_addr,
        })
    }

    /// Sends every RTP packet back where it came from, [`ECHO_DELAY`] later.
    async fn run(self, mut keys: Option<(SrtpContext, SrtpContext)>, stop: CancellationToken) {
        let mut held: VecDeque<(tokio::time::Instant, Vec<u8>, SocketAddr)> = VecDeque::new();
        let mut buf = [0u8; 1500];
        let mut rtcp = [0u8; 1500];
        let mut plain = Vec::with_capacity(1600);
        loop {
            let due = held.front().map(|(at, _, _)| *at);
            tokio::select! {
                () = stop.cancelled() => return,
                got = self.rtp.recv_from(&mut buf) => {
                    let Ok((len, from)) = got else { continue };
                    // RTCP (muxed on this port, RFC 5761) is not echoed: only the voice.
                    if buf.get(1).is_some_and(|b| (192..=223).contains(b)) {
                        continue;
                    }
                    let packet = match keys.as_mut() {
                        Some((inbound, outbound)) => {
                            let mut sealed = Vec::with_capacity(len + 16);
                            if inbound.unprotect_rtp(&buf[..len], &mut plain).is_err()
                                || outbound.protect_rtp(&plain, &mut sealed).is_err()
                            {
                                continue;
                            }
                            sealed
                        }
                        None => buf[..len].to_vec(),
                    };
                    if held.len() < MAX_HELD {
                        held.push_back((tokio::time::Instant::now() + ECHO_DELAY, packet, from));
                    }
                }
                _ = self.rtcp.recv_from(&mut rtcp) => {}
                () = async { match due { Some(at) => tokio::time::sleep_until(at).await, None => std::future::pending().await } } => {
                    while let Some((at, packet, to)) = held.pop_front() {
                        if at > tokio::time::Instant::now() {
                            held.push_front((at, packet, to));
                            break;
                        }
                        let _ = self.rtp.send_to(&packet, to).await;
                    }
                }
            }
        }
    }
}
