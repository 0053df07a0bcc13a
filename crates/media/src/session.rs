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

use crate::codec::{Alaw, Ulaw};
use crate::sdp::{self, Direction, LocalAudio, RemoteAudio, SdpError};
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
    recording: Arc<Mutex<Vec<i16>>>,
    stop: tokio_util::sync::CancellationToken,
    record_to: Option<std::path::PathBuf>,
}

/// Recording is capped (one hour at 8 kHz) so a forgotten call cannot eat memory.
const MAX_RECORDED: usize = 8000 * 3600;

impl RtpSession {
    /// Binds an RTP port on `ip` and starts the pacing task (idle until a remote is known).
    /// `play` is sent once then silence follows; what arrives is written to `record_to` on stop.
    pub fn start(
        ip: IpAddr,
        play: Option<Pcm>,
        record_to: Option<std::path::PathBuf>,
    ) -> std::io::Result<Self> {
        let std_socket = std::net::UdpSocket::bind(SocketAddr::new(ip, 0))?;
        std_socket.set_nonblocking(true)?;
        let socket = tokio::net::UdpSocket::from_std(std_socket)?;
        let rtp = socket.local_addr()?;
        let (flow, flow_rx) = watch::channel(Flow {
            remote: None,
            direction: Direction::SendRecv,
        });
        let counters = Arc::new(Counters::default());
        let recording = Arc::new(Mutex::new(Vec::new()));
        let stop = tokio_util::sync::CancellationToken::new();
        let seed = u64::from(rtp.port()) ^ (std::process::id() as u64) << 16;
        tokio::spawn(pace(
            socket,
            flow_rx,
            play.map(|p| p.resampled(8000).samples).unwrap_or_default(),
            counters.clone(),
            recording.clone(),
            stop.clone(),
            seed,
        ));
        Ok(Self {
            local: LocalAudio {
                rtp,
                session_id: seed & 0xffff_ffff,
                version: 1,
            },
            flow,
            counters,
            recording,
            stop,
            record_to,
        })
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
        let remote = sdp::read_answer(answer)?;
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

    fn stop(&mut self) -> MediaStats {
        self.stop.cancel();
        if let Some(path) = self.record_to.take() {
            let samples = self.recording.lock().map(|r| r.clone()).unwrap_or_default();
            if let Err(e) = crate::wav::write(
                &path,
                &Pcm {
                    rate: 8000,
                    samples,
                },
            ) {
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

fn codec_for(kind: CodecKind) -> Box<dyn AudioCodec> {
    match kind {
        CodecKind::Pcma => Box::new(Alaw),
        _ => Box::new(Ulaw),
    }
}

/// The codec in `slot`, replaced first if the negotiated one is different.
fn codec_slot(
    slot: &mut Option<(CodecKind, Box<dyn AudioCodec>)>,
    kind: CodecKind,
) -> &mut Box<dyn AudioCodec> {
    if slot.as_ref().is_none_or(|(k, _)| *k != kind) {
        *slot = Some((kind, codec_for(kind)));
    }
    let (_, codec) = slot.get_or_insert_with(|| (kind, codec_for(kind)));
    codec
}

async fn pace(
    socket: tokio::net::UdpSocket,
    flow: watch::Receiver<Flow>,
    play: Vec<i16>,
    counters: Arc<Counters>,
    recording: Arc<Mutex<Vec<i16>>>,
    stop: tokio_util::sync::CancellationToken,
    seed: u64,
) {
    let ssrc = (seed as u32) | 1;
    let mut seq = (seed >> 16) as u16;
    let mut ts = (seed >> 32) as u32;
    let mut played = 0usize;
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut packet = [0u8; 12 + 960];
    let mut incoming = [0u8; 1500];
    let mut pcm = [0i16; 960];
    // One encoder and one decoder, made again only when the negotiated codec changes.
    let mut encoder: Option<(CodecKind, Box<dyn AudioCodec>)> = None;
    let mut decoder: Option<(CodecKind, Box<dyn AudioCodec>)> = None;
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = tick.tick() => {
                let current = flow.borrow().clone();
                let Some(remote) = current.remote else { continue };
                let frame = (8 * remote.ptime_ms as usize).min(960);
                ts = ts.wrapping_add(frame as u32);
                let (Some(to), true) = (remote.rtp, current.direction.sends()) else { continue };
                let enc = codec_slot(&mut encoder, remote.codec);
                for (i, s) in pcm[..frame].iter_mut().enumerate() {
                    *s = play.get(played + i).copied().unwrap_or(0);
                }
                played += frame;
                seq = seq.wrapping_add(1);
                packet[0] = 0x80;
                packet[1] = remote.payload_type & 0x7f;
                packet[2..4].copy_from_slice(&seq.to_be_bytes());
                packet[4..8].copy_from_slice(&ts.to_be_bytes());
                packet[8..12].copy_from_slice(&ssrc.to_be_bytes());
                if let Ok(n) = enc.encode(&pcm[..frame], &mut packet[12..])
                    && socket.send_to(&packet[..12 + n], to).await.is_ok()
                {
                    counters.sent.fetch_add(1, Ordering::Relaxed);
                }
            }
            got = socket.recv_from(&mut incoming) => {
                let Ok((len, _from)) = got else { continue };
                let current = flow.borrow().clone();
                let Some(remote) = current.remote else {
                    counters.ignored.fetch_add(1, Ordering::Relaxed);
                    continue;
                };
                let Some(payload) = rtp_payload(&incoming[..len], remote.payload_type) else {
                    counters.ignored.fetch_add(1, Ordering::Relaxed);
                    continue;
                };
                counters.received.fetch_add(1, Ordering::Relaxed);
                if !current.direction.receives() {
                    continue;
                }
                let dec = codec_slot(&mut decoder, remote.codec);
                if let Ok(n) = dec.decode(payload, &mut pcm)
                    && let Ok(mut rec) = recording.lock()
                    && rec.len() + n <= MAX_RECORDED
                {
                    rec.extend_from_slice(&pcm[..n]);
                }
            }
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
