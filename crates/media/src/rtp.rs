//! Sans-IO RTP/RTCP session core: what one audio stream's RTP needs besides sockets and codecs.
//!
//! Time comes in as `now: Instant` (never read here); nothing here opens sockets, starts
//! threads or logs. Packet layouts are the webrtc-rs crates' ([`::rtp::header::Header`] and the
//! RTCP [`SenderReport`], [`ReceiverReport`], [`SourceDescription`] and [`Goodbye`]); this module
//! holds the state around them:
//!
//! - [`RtpSender`]: our SSRC, sequence number and timestamp. The timeline follows wall-clock time
//!   across gaps (hold, DTX), so the first packet after a 3 s hold is 3 s of samples later and its
//!   sequence number is the next one (RFC 3550 §5.1); a new clock rate starts a new timestamp
//!   base. Packets are written into the caller's buffer, without allocating.
//! - [`RtpReceiver`]: one remote SSRC, with RFC 3550 A.1 sequence validation (probation,
//!   extended highest sequence number, wrap cycles, restarts), A.3 loss accounting and A.8
//!   interarrival jitter, plus duplicate and reordering counts.
//! - [`RtpSession`]: both of them for one call, with symmetric RTP and comedia latching (we send
//!   to where the far end's media really comes from once it has proven itself, and a stray packet
//!   from elsewhere cannot move us), SSRC changes, RTCP SR/RR + SDES CNAME on an RFC 3550 §6.2
//!   randomised schedule, BYE on stop, RTT from LSR/DLSR, rtcp-mux (RFC 5761) and a
//!   [`CallStats`] snapshot.
//!
//! The webrtc-rs header parser trusts RFC 8285 extension element lengths, so [`parse_rtp`]
//! checks the packet's layout (CSRCs, extension block and elements, padding) before handing it
//! over: parsing never panics, whatever the bytes. RTCP compounds are split here and only SR, RR
//! and BYE are decoded (each from its own exactly sized slice); other RTCP packets are skipped.

use std::net::SocketAddr;
use std::ops::Range;
use std::time::{Duration, Instant};

use ::rtcp::goodbye::Goodbye;
use ::rtcp::receiver_report::ReceiverReport;
use ::rtcp::reception_report::ReceptionReport;
use ::rtcp::sender_report::SenderReport;
use ::rtcp::source_description::{
    SdesType, SourceDescription, SourceDescriptionChunk, SourceDescriptionItem,
};
use ::rtp::header::Header;
use bytes::Bytes;
use serde::Serialize;
use webrtc_util::marshal::{Marshal, Unmarshal};

/// The fixed RTP header: what [`RtpSender::write_packet`] puts before the payload.
pub const RTP_HEADER_LEN: usize = 12;
/// The nominal RTCP report interval (RFC 3550 §6.2 minimum for a two-party call).
pub const DEFAULT_RTCP_INTERVAL: Duration = Duration::from_secs(5);
/// Consecutive packets (same SSRC, next sequence number) a new source address must send before
/// we latch to it.
pub const DEFAULT_LATCH_PACKETS: u32 = 3;
/// How long the latched source must have been silent before another address may take over.
/// Until then packets from elsewhere are dropped, so a spoofer cannot steal a live stream.
pub const DEFAULT_RELATCH_IDLE: Duration = Duration::from_secs(1);
/// A sending gap at least this much longer than the last packet's duration (hold, DTX) moves the
/// RTP timestamp on by the wall-clock time that passed; shorter gaps keep the timeline
/// contiguous (timer jitter must not bend it).
pub const TIMESTAMP_RESYNC_GAP: Duration = Duration::from_millis(200);
/// RTT and the far end's loss and jitter figures are dropped from [`CallStats`] when no report
/// about us has arrived for this long.
pub const REPORT_STALE_AFTER: Duration = Duration::from_secs(30);
/// Seconds from the NTP epoch (1900-01-01) to the Unix epoch.
pub const NTP_UNIX_OFFSET_SECS: u64 = 2_208_988_800;

/// RFC 3550 A.1: packets a new source must send in sequence before it is valid.
const MIN_SEQUENTIAL: u32 = 2;
/// RFC 3550 A.1: the largest forward jump still taken as the same sequence.
const MAX_DROPOUT: u16 = 3000;
/// RFC 3550 A.1: the farthest back a packet may be and still count as reordered.
const MAX_MISORDER: u16 = 100;
const RTP_SEQ_MOD: u32 = 1 << 16;
/// RFC 3550 §6.5.1: SDES items are at most 255 bytes.
const MAX_CNAME_LEN: usize = 255;

const RTCP_SR: u8 = 200;
const RTCP_RR: u8 = 201;
const RTCP_BYE: u8 = 203;

/// Why a packet could not be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RtpError {
    #[error("buffer too small: {needed} bytes needed, {available} available")]
    BufferTooSmall { needed: usize, available: usize },
    #[error("packet encoding failed: {0}")]
    Encode(String),
}

// ---------------------------------------------------------------------------------------------
// Time, randomness
// ---------------------------------------------------------------------------------------------

/// The 64-bit NTP timestamp (32.32 fixed point, seconds since 1900) of a time given as the
/// duration since the Unix epoch, e.g. `SystemTime::now().duration_since(UNIX_EPOCH)` read by
/// the caller once to fill [`RtpConfig::ntp_at_start`].
pub fn ntp_from_unix(since_unix_epoch: Duration) -> u64 {
    let secs = since_unix_epoch
        .as_secs()
        .wrapping_add(NTP_UNIX_OFFSET_SECS);
    (secs << 32).wrapping_add(ntp_fraction(since_unix_epoch.subsec_nanos()))
}

/// The middle 32 bits of an NTP timestamp (16.16 seconds): the LSR field of RFC 3550 §6.4.1.
pub fn ntp_middle32(ntp: u64) -> u32 {
    (ntp >> 16) as u32
}

fn ntp_fraction(nanos: u32) -> u64 {
    (u64::from(nanos) << 32) / 1_000_000_000
}

fn duration_to_ntp(d: Duration) -> u64 {
    (d.as_secs() << 32).wrapping_add(ntp_fraction(d.subsec_nanos()))
}

/// A duration in units of 1/65536 s (DLSR, RTT in RTCP).
fn duration_to_q16(d: Duration) -> u32 {
    (d.as_nanos() * 65_536 / 1_000_000_000).min(u128::from(u32::MAX)) as u32
}

fn q16_to_ms(v: u32) -> f32 {
    (f64::from(v) * 1000.0 / 65_536.0) as f32
}

/// A duration in RTP timestamp units (floor).
fn duration_to_units(d: Duration, clock_rate: u32) -> u64 {
    (d.as_nanos() * u128::from(clock_rate) / 1_000_000_000).min(u128::from(u64::MAX)) as u64
}

fn units_to_ms(units: f64, clock_rate: u32) -> f32 {
    if clock_rate == 0 {
        0.0
    } else {
        (units * 1000.0 / f64::from(clock_rate)) as f32
    }
}

/// xorshift64* seeded through splitmix64: SSRCs, initial sequence numbers and timestamps, and
/// RTCP interval randomisation. Not cryptographic (RFC 3550 only asks for unpredictability
/// against collisions); the caller seeds it from a real random source.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        Rng(if z == 0 { 0x9E37_79B9_7F4A_7C15 } else { z })
    }

    fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

// ---------------------------------------------------------------------------------------------
// Parsing and classification
// ---------------------------------------------------------------------------------------------

/// What a datagram on a media port is (RFC 7983 first-byte ranges, RFC 5761 §4 for RTP/RTCP).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PacketClass {
    Rtp,
    Rtcp,
    /// STUN (first byte 0..=3), e.g. ICE connectivity checks or keep-alives.
    Stun,
    /// DTLS (first byte 20..=63).
    Dtls,
    Unknown,
}

/// Tells RTP from RTCP (and STUN/DTLS) on one port: version 2, then RTCP when the second byte
/// with the marker bit masked off is 64..=95 (RTCP packet types 192..=223, RFC 5761 §4).
pub fn classify(packet: &[u8]) -> PacketClass {
    let Some(&b0) = packet.first() else {
        return PacketClass::Unknown;
    };
    match b0 {
        0..=3 => PacketClass::Stun,
        20..=63 => PacketClass::Dtls,
        128..=191 => match packet.get(1) {
            Some(b1) if (64..=95).contains(&(b1 & 0x7F)) => {
                if packet.len() >= 4 {
                    PacketClass::Rtcp
                } else {
                    PacketClass::Unknown
                }
            }
            Some(_) if packet.len() >= RTP_HEADER_LEN => PacketClass::Rtp,
            _ => PacketClass::Unknown,
        },
        _ => PacketClass::Unknown,
    }
}

/// Where an RTP packet's header ends and its payload (without padding) ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct RtpLayout {
    header_len: usize,
    payload_end: usize,
}

/// Checks everything the header parser relies on: version, CSRC list, the extension block and
/// (RFC 8285 one- and two-byte) its elements, padding.
fn rtp_layout(p: &[u8]) -> Option<RtpLayout> {
    if p.len() < RTP_HEADER_LEN || p[0] >> 6 != 2 {
        return None;
    }
    let cc = usize::from(p[0] & 0x0F);
    let mut header_len = RTP_HEADER_LEN + 4 * cc;
    if p[0] & 0x10 != 0 {
        let ext = p.get(header_len..header_len + 4)?;
        let profile = u16::from_be_bytes([ext[0], ext[1]]);
        let words = usize::from(u16::from_be_bytes([ext[2], ext[3]]));
        let start = header_len + 4;
        let end = start + 4 * words;
        if end > p.len() {
            return None;
        }
        match profile {
            ::rtp::header::EXTENSION_PROFILE_ONE_BYTE => {
                let mut off = start;
                while off < end {
                    let b = p[off];
                    off += 1;
                    if b == 0 {
                        continue;
                    }
                    if b >> 4 == 0x0F {
                        break;
                    }
                    off += usize::from(b & 0x0F) + 1;
                    if off > end {
                        return None;
                    }
                }
            }
            ::rtp::header::EXTENSION_PROFILE_TWO_BYTE => {
                let mut off = start;
                while off < end {
                    let b = p[off];
                    off += 1;
                    if b == 0 {
                        continue;
                    }
                    let len = usize::from(*p.get(off).filter(|_| off < end)?);
                    off += 1 + len;
                    if off > end {
                        return None;
                    }
                }
            }
            _ => {}
        }
        header_len = end;
    }
    if header_len > p.len() {
        return None;
    }
    let mut payload_end = p.len();
    if p[0] & 0x20 != 0 {
        let pad = usize::from(p[p.len() - 1]);
        if pad == 0 || pad > p.len() - header_len {
            return None;
        }
        payload_end -= pad;
    }
    Some(RtpLayout {
        header_len,
        payload_end,
    })
}

/// Parses an RTP packet: its header (webrtc-rs) and the payload's range in `packet` (after
/// CSRCs and extensions, before padding). `None` for anything malformed; never panics.
pub fn parse_rtp(packet: &[u8]) -> Option<(Header, Range<usize>)> {
    let layout = rtp_layout(packet)?;
    let header = Header::unmarshal(&mut &packet[..layout.header_len]).ok()?;
    Some((header, layout.header_len..layout.payload_end))
}

/// What this module takes from one RTCP compound packet.
#[derive(Debug, Clone, Default, PartialEq)]
struct ParsedRtcp {
    /// The SSRC of the first SR or RR (else the first BYE source).
    sender_ssrc: Option<u32>,
    /// From an SR: its sender's SSRC and NTP timestamp.
    sender_report: Option<(u32, u64)>,
    /// The last report block whose SSRC is ours.
    about_us: Option<ReceptionReport>,
    bye_sources: Vec<u32>,
}

/// Splits a compound RTCP packet and decodes its SR, RR and BYE packets with webrtc-rs, each
/// from its own length-checked slice; other packet types are skipped. `None` when any packet is
/// malformed or the lengths do not add up.
fn parse_rtcp(packet: &[u8], our_ssrc: u32) -> Option<ParsedRtcp> {
    let mut parsed = ParsedRtcp::default();
    let mut off = 0;
    let mut packets = 0;
    while off < packet.len() {
        let rest = &packet[off..];
        if rest.len() < 4 || rest[0] >> 6 != 2 {
            return None;
        }
        let size = (usize::from(u16::from_be_bytes([rest[2], rest[3]])) + 1) * 4;
        let sub = rest.get(..size)?;
        match rest[1] {
            RTCP_SR => {
                let sr = SenderReport::unmarshal(&mut &sub[..]).ok()?;
                parsed.sender_ssrc.get_or_insert(sr.ssrc);
                parsed.sender_report = Some((sr.ssrc, sr.ntp_time));
                if let Some(r) = sr.reports.iter().rev().find(|r| r.ssrc == our_ssrc) {
                    parsed.about_us = Some(r.clone());
                }
            }
            RTCP_RR => {
                let rr = ReceiverReport::unmarshal(&mut &sub[..]).ok()?;
                parsed.sender_ssrc.get_or_insert(rr.ssrc);
                if let Some(r) = rr.reports.iter().rev().find(|r| r.ssrc == our_ssrc) {
                    parsed.about_us = Some(r.clone());
                }
            }
            RTCP_BYE => {
                let bye = Goodbye::unmarshal(&mut &sub[..]).ok()?;
                parsed.bye_sources.extend_from_slice(&bye.sources);
            }
            _ => {}
        }
        off += size;
        packets += 1;
    }
    if packets == 0 {
        return None;
    }
    if parsed.sender_ssrc.is_none() {
        parsed.sender_ssrc = parsed.bye_sources.first().copied();
    }
    Some(parsed)
}

/// RTT from a report block (RFC 3550 §6.4.1): arrival − LSR − DLSR, all in 1/65536 s. `None`
/// when the block carries no LSR, or the result is clearly impossible; a few milliseconds below
/// zero (DLSR rounding on a LAN) reads as 0.
fn rtt_q16(arrival_mid: u32, lsr: u32, dlsr: u32) -> Option<u32> {
    if lsr == 0 {
        return None;
    }
    let rtt = arrival_mid.wrapping_sub(lsr).wrapping_sub(dlsr) as i32;
    if rtt >= 0 {
        Some(rtt as u32)
    } else if rtt > -(65_536 / 100) {
        Some(0)
    } else {
        None
    }
}

fn marshal_into<P: Marshal>(packet: &P, out: &mut [u8]) -> Result<usize, RtpError> {
    let needed = packet.marshal_size();
    let available = out.len();
    let dst = out
        .get_mut(..needed)
        .ok_or(RtpError::BufferTooSmall { needed, available })?;
    packet
        .marshal_to(dst)
        .map_err(|e| RtpError::Encode(e.to_string()))
}

// ---------------------------------------------------------------------------------------------
// Sender
// ---------------------------------------------------------------------------------------------

/// One outgoing packet's media parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendParams {
    pub payload_type: u8,
    /// The packet's duration in timestamp units (e.g. 160 for 20 ms at 8 kHz): the next
    /// packet's timestamp is this much later.
    pub samples: u32,
    /// Start of a talkspurt (RFC 3551 §4.1). Set automatically on the first packet, after a
    /// clock-rate change and after a gap (hold, DTX).
    pub marker: bool,
}

/// Our RTP stream: SSRC, sequence number, timestamp, and the counts an SR reports.
#[derive(Debug, Clone)]
pub struct RtpSender {
    ssrc: u32,
    seq: u16,
    clock_rate: u32,
    /// The timestamp the next packet gets when it follows the last one without a gap.
    next_ts: u32,
    /// Send time and timestamp of the last packet.
    last: Option<(Instant, u32)>,
    last_samples: u32,
    force_marker: bool,
    packets: u64,
    octets: u64,
    rng: Rng,
}

impl RtpSender {
    /// A stream with a random SSRC, sequence number and timestamp base drawn from `seed`.
    pub fn new(seed: u64, clock_rate: u32) -> Self {
        let mut rng = Rng::new(seed);
        let ssrc = rng.next_u32();
        let seq = rng.next_u32() as u16;
        let next_ts = rng.next_u32();
        RtpSender {
            ssrc,
            seq,
            clock_rate: clock_rate.max(1),
            next_ts,
            last: None,
            last_samples: 0,
            force_marker: true,
            packets: 0,
            octets: 0,
            rng,
        }
    }

    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    pub fn clock_rate(&self) -> u32 {
        self.clock_rate
    }

    /// The sequence number the next packet gets.
    pub fn next_sequence(&self) -> u16 {
        self.seq
    }

    pub fn packets_sent(&self) -> u64 {
        self.packets
    }

    /// Payload octets sent (RFC 3550's SR octet count: headers and padding excluded).
    pub fn octets_sent(&self) -> u64 {
        self.octets
    }

    /// Switches the timestamp clock (a re-INVITE moved to a codec with another rate). The old
    /// timeline cannot continue in the new units, so a new random timestamp base starts, the
    /// next packet carries the marker bit, and the sequence number and SSRC go on. Returns false
    /// (and changes nothing) when the rate is the same: a re-INVITE that keeps the rate keeps
    /// the timeline, even if the payload type changes.
    pub fn set_clock_rate(&mut self, clock_rate: u32) -> bool {
        let clock_rate = clock_rate.max(1);
        if clock_rate == self.clock_rate {
            return false;
        }
        self.clock_rate = clock_rate;
        self.next_ts = self.rng.next_u32();
        self.last = None;
        self.last_samples = 0;
        self.force_marker = true;
        true
    }

    /// The header of the next packet (allocation-free: no CSRCs or extensions), counting it as
    /// sent with `payload_len` payload octets.
    pub fn next_header(&mut self, now: Instant, params: SendParams, payload_len: usize) -> Header {
        let mut marker = params.marker || self.force_marker;
        let mut ts = self.next_ts;
        if let Some((at, _)) = self.last {
            let elapsed = duration_to_units(now.saturating_duration_since(at), self.clock_rate);
            let contiguous = u64::from(self.last_samples);
            let gap = duration_to_units(TIMESTAMP_RESYNC_GAP, self.clock_rate);
            if elapsed >= contiguous + gap {
                // Keep to the frame grid: move on by whole packets nearest to the time passed.
                let lead = elapsed - contiguous;
                let step = u64::from(self.last_samples.max(1));
                let jump = (lead + step / 2) / step * step;
                ts = ts.wrapping_add(jump as u32);
                marker = true;
            }
        }
        let header = Header {
            version: 2,
            marker,
            payload_type: params.payload_type & 0x7F,
            sequence_number: self.seq,
            timestamp: ts,
            ssrc: self.ssrc,
            ..Header::default()
        };
        self.seq = self.seq.wrapping_add(1);
        self.next_ts = ts.wrapping_add(params.samples);
        self.last = Some((now, ts));
        self.last_samples = params.samples;
        self.force_marker = false;
        self.packets += 1;
        self.octets += payload_len as u64;
        header
    }

    /// Writes the next packet (12-byte header, then `payload`) into `out` and returns its
    /// length. Nothing is allocated; on error nothing is counted and the sequence number stays.
    pub fn write_packet(
        &mut self,
        now: Instant,
        params: SendParams,
        payload: &[u8],
        out: &mut [u8],
    ) -> Result<usize, RtpError> {
        let needed = RTP_HEADER_LEN + payload.len();
        if out.len() < needed {
            return Err(RtpError::BufferTooSmall {
                needed,
                available: out.len(),
            });
        }
        let header = self.next_header(now, params, payload.len());
        let n = header
            .marshal_to(&mut out[..RTP_HEADER_LEN])
            .map_err(|e| RtpError::Encode(e.to_string()))?;
        out[n..n + payload.len()].copy_from_slice(payload);
        Ok(n + payload.len())
    }

    /// The RTP timestamp that corresponds to `now` on our timeline (for an SR).
    pub fn rtp_time_at(&self, now: Instant) -> u32 {
        match self.last {
            Some((at, ts)) => ts
                .wrapping_add(
                    duration_to_units(now.saturating_duration_since(at), self.clock_rate) as u32,
                ),
            None => self.next_ts,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Receiver
// ---------------------------------------------------------------------------------------------

/// What [`RtpReceiver::on_packet`] made of a sequence number (RFC 3550 A.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeqOutcome {
    /// Deliver it. `reordered`: older than the highest seen; `restarted`: the source restarted
    /// its sequence (two in-order packets after a large jump), so the caller's jitter buffer
    /// should start over.
    Valid {
        extended_seq: u64,
        reordered: bool,
        restarted: bool,
    },
    /// The source is still on probation (not yet [`MIN_SEQUENTIAL`] packets in order).
    Probation,
    /// Seen already.
    Duplicate,
    /// A jump too large to believe (more than 3000 ahead or 100 behind); two in sequence after
    /// it restart the stream.
    Jump,
}

/// A/B snapshot of expected and received packets, for loss over an interval (RFC 3550 A.3).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct IntervalMark {
    expected: u64,
    received: u64,
}

/// Loss over one interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct IntervalLoss {
    expected: u64,
    lost: u64,
    /// RFC 3550's 8-bit fraction lost.
    fraction: u8,
}

/// Reception state for one remote SSRC.
#[derive(Debug, Clone)]
pub struct RtpReceiver {
    ssrc: u32,
    clock_rate: u32,
    epoch: Instant,
    probation: u32,
    max_seq: u16,
    /// Wrap count (A.1's `cycles` divided by 2^16).
    cycles: u64,
    base_seq: u64,
    bad_seq: u32,
    received: u64,
    /// Packets lost before the last restart, so call totals survive one.
    lost_before_restart: u64,
    /// Bit i: extended sequence `max − i` received (duplicate detection).
    seen: u128,
    rtcp_mark: IntervalMark,
    stats_mark: IntervalMark,
    transit: Option<u32>,
    jitter: f64,
    duplicates: u64,
    reordered: u64,
    restarts: u64,
    last_packet_at: Option<Instant>,
}

impl RtpReceiver {
    /// A new source, on probation until [`MIN_SEQUENTIAL`] packets arrive in sequence.
    pub fn new(now: Instant, ssrc: u32, clock_rate: u32) -> Self {
        RtpReceiver {
            ssrc,
            clock_rate: clock_rate.max(1),
            epoch: now,
            probation: MIN_SEQUENTIAL,
            max_seq: 0,
            cycles: 0,
            base_seq: 0,
            bad_seq: RTP_SEQ_MOD + 1,
            received: 0,
            lost_before_restart: 0,
            seen: 0,
            rtcp_mark: IntervalMark::default(),
            stats_mark: IntervalMark::default(),
            transit: None,
            jitter: 0.0,
            duplicates: 0,
            reordered: 0,
            restarts: 0,
            last_packet_at: None,
        }
    }

    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    pub fn clock_rate(&self) -> u32 {
        self.clock_rate
    }

    /// Past probation.
    pub fn is_valid(&self) -> bool {
        self.probation == 0
    }

    /// The timestamp clock changed (payload type with another rate): jitter continues from the
    /// next two packets in the new units.
    pub fn set_clock_rate(&mut self, clock_rate: u32) {
        let clock_rate = clock_rate.max(1);
        if clock_rate != self.clock_rate {
            self.jitter = self.jitter * f64::from(clock_rate) / f64::from(self.clock_rate);
            self.clock_rate = clock_rate;
            self.transit = None;
        }
    }

    fn ext_max(&self) -> u64 {
        (self.cycles << 16) + u64::from(self.max_seq)
    }

    /// Extended highest sequence number received (the RR field: wrap count in the high 16 bits).
    pub fn extended_max_seq(&self) -> u32 {
        self.ext_max() as u32
    }

    /// Packets expected since the stream (re)started.
    pub fn expected(&self) -> u64 {
        if self.is_valid() {
            self.ext_max() + 1 - self.base_seq
        } else {
            0
        }
    }

    /// Valid packets received since the stream (re)started (duplicates not counted, late
    /// packets counted: unlike RFC 3550's count, so the loss below never goes negative).
    pub fn received(&self) -> u64 {
        self.received
    }

    /// Packets lost since the stream (re)started.
    pub fn lost(&self) -> u64 {
        self.expected().saturating_sub(self.received)
    }

    /// Packets lost over the receiver's life, restarts included.
    pub fn total_lost(&self) -> u64 {
        self.lost_before_restart + self.lost()
    }

    /// Interarrival jitter (RFC 3550 A.8) in timestamp units.
    pub fn jitter_units(&self) -> f64 {
        self.jitter
    }

    pub fn jitter_ms(&self) -> f32 {
        units_to_ms(self.jitter, self.clock_rate)
    }

    pub fn duplicates(&self) -> u64 {
        self.duplicates
    }

    pub fn reordered(&self) -> u64 {
        self.reordered
    }

    pub fn restarts(&self) -> u64 {
        self.restarts
    }

    pub fn last_packet_at(&self) -> Option<Instant> {
        self.last_packet_at
    }

    fn init_seq(&mut self, seq: u16) {
        self.base_seq = u64::from(seq);
        self.max_seq = seq;
        self.bad_seq = RTP_SEQ_MOD + 1;
        self.cycles = 0;
        self.received = 0;
        self.seen = 1;
        self.rtcp_mark = IntervalMark::default();
        self.stats_mark = IntervalMark::default();
    }

    /// Takes one packet's sequence number and timestamp: RFC 3550 A.1 validation, then jitter
    /// (A.8) for every packet that is not a duplicate.
    pub fn on_packet(&mut self, now: Instant, seq: u16, timestamp: u32) -> SeqOutcome {
        let outcome = self.update_seq(seq);
        match outcome {
            SeqOutcome::Valid { restarted, .. } => {
                if restarted {
                    self.transit = None;
                }
                self.update_jitter(now, timestamp);
                self.last_packet_at = Some(now);
            }
            SeqOutcome::Probation => {
                self.last_packet_at = Some(now);
            }
            SeqOutcome::Duplicate | SeqOutcome::Jump => {}
        }
        outcome
    }

    fn update_seq(&mut self, seq: u16) -> SeqOutcome {
        let udelta = seq.wrapping_sub(self.max_seq);
        if self.probation > 0 {
            if seq == self.max_seq.wrapping_add(1) {
                self.probation -= 1;
                self.max_seq = seq;
                if self.probation == 0 {
                    self.init_seq(seq);
                    self.received = 1;
                    return SeqOutcome::Valid {
                        extended_seq: self.ext_max(),
                        reordered: false,
                        restarted: false,
                    };
                }
            } else {
                self.probation = MIN_SEQUENTIAL - 1;
                self.max_seq = seq;
            }
            return SeqOutcome::Probation;
        }
        if udelta == 0 {
            self.duplicates += 1;
            return SeqOutcome::Duplicate;
        }
        if udelta < MAX_DROPOUT {
            // In order, possibly with a gap.
            if seq < self.max_seq {
                self.cycles += 1;
            }
            self.seen = if udelta >= 128 {
                1
            } else {
                (self.seen << udelta) | 1
            };
            self.max_seq = seq;
            self.received += 1;
            return SeqOutcome::Valid {
                extended_seq: self.ext_max(),
                reordered: false,
                restarted: false,
            };
        }
        if u32::from(udelta) <= RTP_SEQ_MOD - u32::from(MAX_MISORDER) {
            // A very large jump: believe it only when the next packet follows it.
            if u32::from(seq) == self.bad_seq {
                self.lost_before_restart += self.lost();
                self.init_seq(seq);
                self.received = 1;
                self.restarts += 1;
                return SeqOutcome::Valid {
                    extended_seq: self.ext_max(),
                    reordered: false,
                    restarted: true,
                };
            }
            self.bad_seq = (u32::from(seq) + 1) & (RTP_SEQ_MOD - 1);
            return SeqOutcome::Jump;
        }
        // Behind the highest by 1..MAX_MISORDER: reordered or duplicate.
        let back = u64::from(RTP_SEQ_MOD - u32::from(udelta));
        let bit = 1u128 << back;
        if self.seen & bit != 0 {
            self.duplicates += 1;
            return SeqOutcome::Duplicate;
        }
        self.seen |= bit;
        self.reordered += 1;
        let ext_max = self.ext_max();
        let extended_seq = ext_max.saturating_sub(back);
        // A straggler from before the stream's start (e.g. the probation packet) is delivered
        // but not counted: `expected` does not include it.
        if ext_max - self.base_seq >= back {
            self.received += 1;
        }
        SeqOutcome::Valid {
            extended_seq,
            reordered: true,
            restarted: false,
        }
    }

    fn update_jitter(&mut self, now: Instant, timestamp: u32) {
        let arrival =
            duration_to_units(now.saturating_duration_since(self.epoch), self.clock_rate) as u32;
        let transit = arrival.wrapping_sub(timestamp);
        if let Some(prev) = self.transit {
            let d = f64::from((transit.wrapping_sub(prev) as i32).unsigned_abs());
            // A jump of more than a second is a timeline discontinuity (a sender whose
            // timestamps stood still during hold), not network jitter: re-anchor only.
            if d <= f64::from(self.clock_rate) {
                self.jitter += (d - self.jitter) / 16.0;
            }
        }
        self.transit = Some(transit);
    }

    fn interval_since(&self, mark: IntervalMark) -> (IntervalLoss, IntervalMark) {
        let now = IntervalMark {
            expected: self.expected(),
            received: self.received,
        };
        let expected = now.expected.saturating_sub(mark.expected);
        let received = now.received.saturating_sub(mark.received);
        let lost = expected.saturating_sub(received);
        let fraction = (lost << 8)
            .checked_div(expected)
            .map_or(0, |f| f.min(255) as u8);
        (
            IntervalLoss {
                expected,
                lost,
                fraction,
            },
            now,
        )
    }

    /// The report block about this source; `last_sr` is the middle of the NTP timestamp of its
    /// last SR and when that arrived. Pure: the interval is committed by the caller.
    fn report_block(
        &self,
        now: Instant,
        last_sr: Option<(u32, Instant)>,
    ) -> (ReceptionReport, IntervalMark) {
        let (interval, mark) = self.interval_since(self.rtcp_mark);
        // Cumulative lost is a 24-bit field; never negative here.
        let total_lost = self.total_lost().min(0x7F_FFFF) as u32;
        let (lsr, delay) = match last_sr {
            Some((lsr, at)) => (lsr, duration_to_q16(now.saturating_duration_since(at))),
            None => (0, 0),
        };
        let block = ReceptionReport {
            ssrc: self.ssrc,
            fraction_lost: interval.fraction,
            total_lost,
            last_sequence_number: self.extended_max_seq(),
            jitter: self.jitter.min(f64::from(u32::MAX)) as u32,
            last_sender_report: lsr,
            delay,
        };
        (block, mark)
    }
}

// ---------------------------------------------------------------------------------------------
// Session
// ---------------------------------------------------------------------------------------------

/// How an [`RtpSession`] starts.
#[derive(Debug, Clone, PartialEq)]
pub struct RtpConfig {
    /// Seeds our SSRC, initial sequence number and timestamp and the RTCP randomisation.
    pub seed: u64,
    /// Our SDES CNAME (RFC 7022: random per call is fine). Empty: one is made from the seed.
    pub cname: String,
    /// The far end's RTP address from its SDP (c= and m= lines).
    pub remote_rtp: SocketAddr,
    /// Its RTCP address (a=rtcp); `None`: RTP port + 1. Unused with rtcp-mux.
    pub remote_rtcp: Option<SocketAddr>,
    /// rtcp-mux negotiated (RFC 5761): RTCP goes to and comes from the RTP address.
    pub rtcp_mux: bool,
    /// Our sending codec's RTP clock rate.
    pub send_clock_rate: u32,
    /// Payload types we accept and their clock rates (from the SDP), e.g. `[(0, 8000),
    /// (101, 8000)]`. Empty: any payload type, at `send_clock_rate`.
    pub payload_types: Vec<(u8, u32)>,
    /// The NTP time (see [`ntp_from_unix`]) at the `now` given to [`RtpSession::new`]; the
    /// session's NTP clock runs from it on the caller's `Instant`s.
    pub ntp_at_start: u64,
    pub rtcp_interval: Duration,
    pub latch_packets: u32,
    pub relatch_idle: Duration,
}

impl RtpConfig {
    /// Defaults: 5 s RTCP, latch after 3 packets, 1 s idle before re-latching, no rtcp-mux,
    /// NTP clock starting at 0 (set `ntp_at_start` for SRs with real wall-clock time).
    pub fn new(remote_rtp: SocketAddr, send_clock_rate: u32, seed: u64) -> Self {
        RtpConfig {
            seed,
            cname: String::new(),
            remote_rtp,
            remote_rtcp: None,
            rtcp_mux: false,
            send_clock_rate,
            payload_types: Vec::new(),
            ntp_at_start: 0,
            rtcp_interval: DEFAULT_RTCP_INTERVAL,
            latch_packets: DEFAULT_LATCH_PACKETS,
            relatch_idle: DEFAULT_RELATCH_IDLE,
        }
    }
}

/// Why a packet was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// Not a well-formed RTP or RTCP packet.
    Malformed,
    /// STUN, DTLS or something else that is not RTP/RTCP.
    NotRtp,
    /// A payload type the SDP did not negotiate.
    UnknownPayloadType,
    /// From an address other than the one we are latched to, while that one is live.
    UnexpectedSource,
    /// A new SSRC still on probation (a stray packet, or the first of a new stream).
    Probation,
    Duplicate,
    /// An implausible sequence number jump (see [`SeqOutcome::Jump`]).
    SequenceJump,
    /// From an SSRC the far end has replaced (late packets of its old stream).
    RetiredSsrc,
}

/// An accepted RTP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpInfo {
    pub ssrc: u32,
    pub payload_type: u8,
    pub marker: bool,
    pub sequence_number: u16,
    pub extended_seq: u64,
    pub timestamp: u32,
    pub clock_rate: u32,
    pub payload_offset: usize,
    pub payload_len: usize,
    pub reordered: bool,
    /// The far end restarted its sequence: reset the jitter buffer.
    pub restarted: bool,
}

impl RtpInfo {
    /// The payload within the packet this describes.
    pub fn payload<'a>(&self, packet: &'a [u8]) -> &'a [u8] {
        packet
            .get(self.payload_offset..self.payload_offset + self.payload_len)
            .unwrap_or(&[])
    }
}

/// The far end's report about our stream.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RemoteReport {
    /// Loss over their last interval, 0–100 %.
    pub loss_pct: f32,
    pub cumulative_lost: i32,
    pub jitter_ms: f32,
    pub rtt_ms: Option<f32>,
}

/// An accepted RTCP compound.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RtcpInfo {
    pub sender_ssrc: Option<u32>,
    /// It had an SR (their LSR is now echoed in our reports).
    pub sender_report: bool,
    pub about_us: Option<RemoteReport>,
    /// The far end's stream said BYE.
    pub bye: bool,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Received {
    Rtp(RtpInfo),
    Rtcp(RtcpInfo),
    Dropped(DropReason),
}

/// We now send RTP (or RTCP) to `to` instead of `from`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Latched {
    pub rtcp: bool,
    pub from: SocketAddr,
    pub to: SocketAddr,
}

/// The far end's media SSRC changed (`old: None` for its first stream): reset the jitter
/// buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SsrcChange {
    pub old: Option<u32>,
    pub new: u32,
}

/// What [`RtpSession::on_packet`] made of a datagram.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Incoming {
    pub received: Received,
    /// Where to send RTP from now on (symmetric RTP: from the socket it came in on).
    pub send_to: SocketAddr,
    pub latched: Option<Latched>,
    pub ssrc_change: Option<SsrcChange>,
}

impl Incoming {
    /// RTP to play or RTCP taken into account.
    pub fn accepted(&self) -> bool {
        !matches!(self.received, Received::Dropped(_))
    }
}

/// Call statistics at one moment, for the once-a-second event.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, specta::Type)]
pub struct CallStats {
    pub packets_sent: u64,
    /// RTP packets accepted (duplicates, stray and probation packets not counted).
    pub packets_received: u64,
    /// Cumulative, over every stream the far end sent in this call.
    pub packets_lost: u64,
    /// Loss since the previous snapshot, 0–100 %.
    pub loss_pct: f32,
    /// Interarrival jitter of what we receive (RFC 3550 A.8).
    pub jitter_ms: f32,
    /// From the far end's last report about us; `None` before one with an LSR, or when stale.
    pub rtt_ms: Option<f32>,
    /// Loss the far end reports over its last interval (0 when unknown).
    pub remote_loss_pct: f32,
    /// Jitter the far end reports for our stream (0 when unknown).
    pub remote_jitter_ms: f32,
    /// Not filled here (0): the jitter buffer's current delay, set by the caller.
    pub jitter_buffer_ms: f32,
    /// Not filled here (0): audio decoded and waiting for the speaker (the device's queue),
    /// on top of the jitter buffer's delay.
    pub speaker_queue_ms: f32,
    /// Not filled here (0): packets that came after their time to play (concealed), so far.
    pub late_packets: u64,
    /// Not filled here (0): frames concealed (lost or late), so far.
    pub concealed_frames: u64,
    /// Not filled here (0): of those, rebuilt from the next packet's FEC data (Opus).
    pub fec_frames: u64,
    /// Not filled here (0): the caller's MOS estimate (`quality::mos`) from these figures.
    pub mos: f32,
    /// Not filled here: the codec the call sends and receives.
    pub codec: Option<crate::CodecKind>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct LatchCandidate {
    addr: SocketAddr,
    ssrc: u32,
    seq: u16,
    count: u32,
}

/// Symmetric RTP with comedia latching.
#[derive(Debug, Clone)]
struct LatchState {
    /// The address the SDP gave.
    sdp: SocketAddr,
    /// Where we send (and the only source we take once confirmed).
    current: SocketAddr,
    /// Media has come from `current`.
    confirmed: bool,
    last_from_current: Option<Instant>,
    candidate: Option<LatchCandidate>,
}

impl LatchState {
    fn new(sdp: SocketAddr) -> Self {
        LatchState {
            sdp,
            current: sdp,
            confirmed: false,
            last_from_current: None,
            candidate: None,
        }
    }

    /// Decides on a well-formed RTP packet from `from`: `Err(())` to drop it, else whether we
    /// moved.
    fn on_rtp(
        &mut self,
        now: Instant,
        from: SocketAddr,
        ssrc: u32,
        seq: u16,
        latch_packets: u32,
        relatch_idle: Duration,
    ) -> Result<Option<Latched>, ()> {
        if from == self.current {
            self.confirmed = true;
            self.last_from_current = Some(now);
            return Ok(None);
        }
        let count = match &mut self.candidate {
            Some(c) if c.addr == from && c.ssrc == ssrc && seq == c.seq.wrapping_add(1) => {
                c.count += 1;
                c.seq = seq;
                c.count
            }
            Some(c) if c.addr == from && c.ssrc == ssrc && seq == c.seq => c.count,
            _ => {
                self.candidate = Some(LatchCandidate {
                    addr: from,
                    ssrc,
                    seq,
                    count: 1,
                });
                1
            }
        };
        let current_idle = self
            .last_from_current
            .is_none_or(|t| now.saturating_duration_since(t) >= relatch_idle);
        if count >= latch_packets.max(1) && current_idle {
            let old = self.current;
            self.current = from;
            self.confirmed = true;
            self.last_from_current = Some(now);
            self.candidate = None;
            return Ok(Some(Latched {
                rtcp: false,
                from: old,
                to: from,
            }));
        }
        if self.confirmed { Err(()) } else { Ok(None) }
    }
}

/// One call's RTP/RTCP state: our stream, the far end's stream, where to send, RTCP.
#[derive(Debug, Clone)]
pub struct RtpSession {
    start: Instant,
    ntp_at_start: u64,
    cname: Bytes,
    rng: Rng,
    sender: RtpSender,
    sent_since_report: bool,
    payload_types: Vec<(u8, u32)>,
    remote: Option<RtpReceiver>,
    candidate: Option<RtpReceiver>,
    retired_ssrc: Option<u32>,
    prior_lost: u64,
    packets_received: u64,
    latch: LatchState,
    latch_packets: u32,
    relatch_idle: Duration,
    rtcp_mux: bool,
    rtcp_sdp: Option<SocketAddr>,
    rtcp_latched: Option<SocketAddr>,
    rtcp_interval: Duration,
    next_rtcp: Instant,
    stopped: bool,
    /// The far end's last SR: its SSRC, LSR (NTP middle 32 bits) and when it arrived.
    remote_sr: Option<(u32, u32, Instant)>,
    remote_report: Option<(RemoteReport, Instant)>,
    rtt: Option<(f32, Instant)>,
    remote_bye: bool,
}

impl RtpSession {
    pub fn new(now: Instant, cfg: RtpConfig) -> Self {
        let mut rng = Rng::new(cfg.seed ^ 0x5EED_C0FF_EE00_0001);
        let sender = RtpSender::new(cfg.seed, cfg.send_clock_rate);
        let cname = if cfg.cname.is_empty() {
            const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
            let mut bits = rng.next_u64();
            (0..12)
                .map(|_| {
                    let c = ALPHABET[(bits & 31) as usize];
                    bits >>= 5;
                    c
                })
                .collect::<Vec<u8>>()
        } else {
            let mut end = cfg.cname.len().min(MAX_CNAME_LEN);
            while !cfg.cname.is_char_boundary(end) {
                end -= 1;
            }
            cfg.cname.as_bytes()[..end].to_vec()
        };
        let rtcp_interval = cfg.rtcp_interval.max(Duration::from_millis(100));
        let mut session = RtpSession {
            start: now,
            ntp_at_start: cfg.ntp_at_start,
            cname: Bytes::from(cname),
            rng,
            sender,
            sent_since_report: false,
            payload_types: cfg.payload_types,
            remote: None,
            candidate: None,
            retired_ssrc: None,
            prior_lost: 0,
            packets_received: 0,
            latch: LatchState::new(cfg.remote_rtp),
            latch_packets: cfg.latch_packets,
            relatch_idle: cfg.relatch_idle,
            rtcp_mux: cfg.rtcp_mux,
            rtcp_sdp: cfg.remote_rtcp,
            rtcp_latched: None,
            rtcp_interval,
            next_rtcp: now,
            stopped: false,
            remote_sr: None,
            remote_report: None,
            rtt: None,
            remote_bye: false,
        };
        session.next_rtcp = now + session.randomized_interval(true);
        session
    }

    pub fn ssrc(&self) -> u32 {
        self.sender.ssrc()
    }

    pub fn cname(&self) -> &[u8] {
        &self.cname
    }

    pub fn sender(&self) -> &RtpSender {
        &self.sender
    }

    /// The far end's current (validated) stream.
    pub fn receiver(&self) -> Option<&RtpReceiver> {
        self.remote.as_ref()
    }

    pub fn remote_ssrc(&self) -> Option<u32> {
        self.remote.as_ref().map(RtpReceiver::ssrc)
    }

    /// The far end sent BYE for its stream.
    pub fn remote_bye(&self) -> bool {
        self.remote_bye
    }

    pub fn rtcp_mux(&self) -> bool {
        self.rtcp_mux
    }

    /// Where RTP goes: the SDP address until media from elsewhere has latched us.
    pub fn rtp_destination(&self) -> SocketAddr {
        self.latch.current
    }

    /// Where RTCP goes: the RTP address with rtcp-mux; else where the far end's RTCP comes
    /// from once it has, else (RTP latched elsewhere) the latched address's next port, else the
    /// SDP's a=rtcp or RTP port + 1.
    pub fn rtcp_destination(&self) -> SocketAddr {
        let next_port =
            |a: SocketAddr| SocketAddr::new(a.ip(), a.port().checked_add(1).unwrap_or(a.port()));
        if self.rtcp_mux {
            self.latch.current
        } else if let Some(addr) = self.rtcp_latched {
            addr
        } else if self.latch.current != self.latch.sdp {
            next_port(self.latch.current)
        } else {
            self.rtcp_sdp.unwrap_or_else(|| next_port(self.latch.sdp))
        }
    }

    /// A re-INVITE's SDP. The same RTP address keeps what latching learnt (a NATed peer
    /// re-sends its private address on every hold/resume); a new one starts learning again.
    /// Our SSRC, sequence and timestamp go on either way.
    pub fn update_remote(
        &mut self,
        remote_rtp: SocketAddr,
        remote_rtcp: Option<SocketAddr>,
        rtcp_mux: bool,
    ) {
        if remote_rtp != self.latch.sdp {
            self.latch = LatchState::new(remote_rtp);
            self.rtcp_latched = None;
        }
        if remote_rtcp != self.rtcp_sdp {
            self.rtcp_sdp = remote_rtcp;
            self.rtcp_latched = None;
        }
        self.rtcp_mux = rtcp_mux;
    }

    /// The payload types (and clock rates) a re-INVITE negotiated for receiving.
    pub fn set_payload_types(&mut self, payload_types: &[(u8, u32)]) {
        self.payload_types.clear();
        self.payload_types.extend_from_slice(payload_types);
    }

    /// Our sending codec's clock rate; see [`RtpSender::set_clock_rate`].
    pub fn set_send_clock_rate(&mut self, clock_rate: u32) -> bool {
        self.sender.set_clock_rate(clock_rate)
    }

    fn clock_rate_for(&self, payload_type: u8) -> Option<u32> {
        if self.payload_types.is_empty() {
            return Some(self.sender.clock_rate());
        }
        self.payload_types
            .iter()
            .find(|(pt, _)| *pt == payload_type)
            .map(|&(_, rate)| rate)
    }

    fn ntp_at(&self, now: Instant) -> u64 {
        self.ntp_at_start
            .wrapping_add(duration_to_ntp(now.saturating_duration_since(self.start)))
    }

    fn randomized_interval(&mut self, first: bool) -> Duration {
        let nominal = if first {
            self.rtcp_interval / 2
        } else {
            self.rtcp_interval
        };
        nominal.mul_f64(0.5 + self.rng.unit())
    }

    /// The next RTP packet's header (see [`RtpSender::next_header`]).
    pub fn next_header(&mut self, now: Instant, params: SendParams, payload_len: usize) -> Header {
        self.sent_since_report = true;
        self.sender.next_header(now, params, payload_len)
    }

    /// Writes the next RTP packet into `out` (see [`RtpSender::write_packet`]); send it to
    /// [`Self::rtp_destination`].
    pub fn write_rtp(
        &mut self,
        now: Instant,
        params: SendParams,
        payload: &[u8],
        out: &mut [u8],
    ) -> Result<usize, RtpError> {
        let n = self.sender.write_packet(now, params, payload, out)?;
        self.sent_since_report = true;
        Ok(n)
    }

    fn incoming(&self, received: Received) -> Incoming {
        Incoming {
            received,
            send_to: self.latch.current,
            latched: None,
            ssrc_change: None,
        }
    }

    /// A datagram from the RTP socket: RTP, or RTCP when multiplexed (RFC 5761 §4; also taken
    /// without rtcp-mux when its type cannot be one of our payload types).
    pub fn on_packet(&mut self, now: Instant, from: SocketAddr, packet: &[u8]) -> Incoming {
        match classify(packet) {
            PacketClass::Rtp => self.on_rtp(now, from, packet),
            PacketClass::Rtcp => {
                let pt = packet[1] & 0x7F;
                if self.rtcp_mux || self.clock_rate_for(pt).is_none() {
                    self.handle_rtcp(now, from, packet, false)
                } else {
                    self.on_rtp(now, from, packet)
                }
            }
            PacketClass::Stun | PacketClass::Dtls => {
                self.incoming(Received::Dropped(DropReason::NotRtp))
            }
            PacketClass::Unknown => self.incoming(Received::Dropped(DropReason::Malformed)),
        }
    }

    fn on_rtp(&mut self, now: Instant, from: SocketAddr, packet: &[u8]) -> Incoming {
        let Some((header, payload)) = parse_rtp(packet) else {
            return self.incoming(Received::Dropped(DropReason::Malformed));
        };
        let Some(clock_rate) = self.clock_rate_for(header.payload_type) else {
            return self.incoming(Received::Dropped(DropReason::UnknownPayloadType));
        };
        let (ssrc, seq) = (header.ssrc, header.sequence_number);
        let latched =
            match self
                .latch
                .on_rtp(now, from, ssrc, seq, self.latch_packets, self.relatch_idle)
            {
                Ok(latched) => latched,
                Err(()) => return self.incoming(Received::Dropped(DropReason::UnexpectedSource)),
            };
        let mut result = self.incoming(Received::Dropped(DropReason::Probation));
        result.latched = latched;

        let outcome = match &mut self.remote {
            Some(r) if r.ssrc == ssrc => {
                r.set_clock_rate(clock_rate);
                r.on_packet(now, seq, header.timestamp)
            }
            _ => {
                if self.retired_ssrc == Some(ssrc) {
                    result.received = Received::Dropped(DropReason::RetiredSsrc);
                    return result;
                }
                let candidate = match &mut self.candidate {
                    Some(c) if c.ssrc == ssrc => c,
                    slot => slot.insert(RtpReceiver::new(now, ssrc, clock_rate)),
                };
                candidate.set_clock_rate(clock_rate);
                let outcome = candidate.on_packet(now, seq, header.timestamp);
                if matches!(outcome, SeqOutcome::Valid { .. }) {
                    let old = self.remote.take();
                    if let Some(old) = &old {
                        self.prior_lost += old.total_lost();
                        self.retired_ssrc = Some(old.ssrc);
                    }
                    self.remote = self.candidate.take();
                    self.remote_bye = false;
                    result.ssrc_change = Some(SsrcChange {
                        old: old.map(|o| o.ssrc),
                        new: ssrc,
                    });
                }
                outcome
            }
        };
        result.received = match outcome {
            SeqOutcome::Valid {
                extended_seq,
                reordered,
                restarted,
            } => {
                self.packets_received += 1;
                Received::Rtp(RtpInfo {
                    ssrc,
                    payload_type: header.payload_type,
                    marker: header.marker,
                    sequence_number: seq,
                    extended_seq,
                    timestamp: header.timestamp,
                    clock_rate,
                    payload_offset: payload.start,
                    payload_len: payload.len(),
                    reordered,
                    restarted,
                })
            }
            SeqOutcome::Probation => Received::Dropped(DropReason::Probation),
            SeqOutcome::Duplicate => Received::Dropped(DropReason::Duplicate),
            SeqOutcome::Jump => Received::Dropped(DropReason::SequenceJump),
        };
        result
    }

    /// A datagram from the RTCP socket (without rtcp-mux), or RTCP demultiplexed by
    /// [`Self::on_packet`].
    pub fn on_rtcp_packet(&mut self, now: Instant, from: SocketAddr, packet: &[u8]) -> Incoming {
        let rtcp_socket = !self.rtcp_mux;
        self.handle_rtcp(now, from, packet, rtcp_socket)
    }

    /// RTCP from the RTCP socket (`rtcp_socket`: checked against, and latching, the RTCP
    /// destination) or from the RTP socket (checked against the RTP destination).
    fn handle_rtcp(
        &mut self,
        now: Instant,
        from: SocketAddr,
        packet: &[u8],
        rtcp_socket: bool,
    ) -> Incoming {
        let our_ssrc = self.sender.ssrc();
        let Some(parsed) = parse_rtcp(packet, our_ssrc) else {
            return self.incoming(Received::Dropped(DropReason::Malformed));
        };
        let remote_ssrc = self.remote_ssrc();
        let ssrc_matches = remote_ssrc.is_some() && parsed.sender_ssrc == remote_ssrc;
        let expected_from = if rtcp_socket {
            self.rtcp_destination()
        } else {
            self.latch.current
        };
        if from != expected_from && !ssrc_matches && remote_ssrc.is_some() {
            return self.incoming(Received::Dropped(DropReason::UnexpectedSource));
        }
        let mut result = self.incoming(Received::Dropped(DropReason::Malformed));
        if rtcp_socket && ssrc_matches && from != expected_from {
            self.rtcp_latched = Some(from);
            result.latched = Some(Latched {
                rtcp: true,
                from: expected_from,
                to: from,
            });
        }

        if let Some((ssrc, ntp)) = parsed.sender_report {
            self.remote_sr = Some((ssrc, ntp_middle32(ntp), now));
        }
        let about_us = parsed.about_us.map(|block| {
            let arrival = ntp_middle32(self.ntp_at(now));
            let rtt_ms = rtt_q16(arrival, block.last_sender_report, block.delay).map(q16_to_ms);
            if let Some(rtt) = rtt_ms {
                self.rtt = Some((rtt, now));
            }
            // 24-bit two's complement.
            let cumulative_lost = ((block.total_lost << 8) as i32) >> 8;
            let report = RemoteReport {
                loss_pct: f32::from(block.fraction_lost) * 100.0 / 256.0,
                cumulative_lost,
                jitter_ms: units_to_ms(f64::from(block.jitter), self.sender.clock_rate()),
                rtt_ms,
            };
            self.remote_report = Some((report, now));
            report
        });
        let bye_ssrc = remote_ssrc.or(parsed.sender_ssrc);
        let bye = bye_ssrc.is_some_and(|s| parsed.bye_sources.contains(&s));
        if bye {
            self.remote_bye = true;
        }
        result.received = Received::Rtcp(RtcpInfo {
            sender_ssrc: parsed.sender_ssrc,
            sender_report: parsed.sender_report.is_some(),
            about_us,
            bye,
        });
        result
    }

    /// When the next RTCP report is due (`None` after [`Self::stop`]).
    pub fn poll_timeout(&self) -> Option<Instant> {
        (!self.stopped).then_some(self.next_rtcp)
    }

    /// The RTCP report, when due: an SR if we sent RTP since the last report, else an RR, with a
    /// report block for the far end's stream once we have one, and our SDES CNAME. Send it to
    /// [`Self::rtcp_destination`]. The next one is scheduled 0.5–1.5 intervals later (the first
    /// one at half the interval). 1500 bytes are always enough.
    pub fn poll_rtcp(&mut self, now: Instant, out: &mut [u8]) -> Result<Option<usize>, RtpError> {
        if self.stopped || now < self.next_rtcp {
            return Ok(None);
        }
        let n = self.write_compound(now, out, false)?;
        self.next_rtcp = now + self.randomized_interval(false);
        Ok(Some(n))
    }

    /// The closing RTCP compound (SR or RR, SDES, BYE) for our stream; stops the schedule.
    pub fn stop(&mut self, now: Instant, out: &mut [u8]) -> Result<usize, RtpError> {
        let n = self.write_compound(now, out, true)?;
        self.stopped = true;
        Ok(n)
    }

    fn write_compound(
        &mut self,
        now: Instant,
        out: &mut [u8],
        bye: bool,
    ) -> Result<usize, RtpError> {
        let ssrc = self.sender.ssrc();
        let last_sr = match (self.remote_sr, self.remote_ssrc()) {
            (Some((sr_ssrc, lsr, at)), Some(remote)) if sr_ssrc == remote => Some((lsr, at)),
            _ => None,
        };
        let block = self
            .remote
            .as_ref()
            .filter(|r| r.is_valid())
            .map(|r| r.report_block(now, last_sr));
        let (reports, mark) = match block {
            Some((b, mark)) => (vec![b], Some(mark)),
            None => (Vec::new(), None),
        };
        let mut n = if self.sent_since_report {
            let sr = SenderReport {
                ssrc,
                ntp_time: self.ntp_at(now),
                rtp_time: self.sender.rtp_time_at(now),
                packet_count: self.sender.packets_sent() as u32,
                octet_count: self.sender.octets_sent() as u32,
                reports,
                profile_extensions: Bytes::new(),
            };
            marshal_into(&sr, out)?
        } else {
            let rr = ReceiverReport {
                ssrc,
                reports,
                profile_extensions: Bytes::new(),
            };
            marshal_into(&rr, out)?
        };
        let sdes = SourceDescription {
            chunks: vec![SourceDescriptionChunk {
                source: ssrc,
                items: vec![SourceDescriptionItem {
                    sdes_type: SdesType::SdesCname,
                    text: self.cname.clone(),
                }],
            }],
        };
        n += marshal_into(&sdes, &mut out[n..])?;
        if bye {
            let goodbye = Goodbye {
                sources: vec![ssrc],
                reason: Bytes::new(),
            };
            n += marshal_into(&goodbye, &mut out[n..])?;
        }
        if let (Some(mark), Some(r)) = (mark, self.remote.as_mut()) {
            r.rtcp_mark = mark;
        }
        self.sent_since_report = false;
        Ok(n)
    }

    /// The statistics at `now`. `loss_pct` covers the time since the previous call (call it
    /// once a second); RTT and the far end's figures are left out when its last report about
    /// us is older than [`REPORT_STALE_AFTER`]. `jitter_buffer_ms` and `mos` are 0: the caller
    /// fills them.
    pub fn stats(&mut self, now: Instant) -> CallStats {
        let (packets_lost, loss_pct, jitter_ms) = match self.remote.as_mut() {
            Some(r) => {
                let (interval, mark) = r.interval_since(r.stats_mark);
                r.stats_mark = mark;
                let pct = if interval.expected == 0 {
                    0.0
                } else {
                    (interval.lost as f64 * 100.0 / interval.expected as f64) as f32
                };
                (self.prior_lost + r.total_lost(), pct, r.jitter_ms())
            }
            None => (self.prior_lost, 0.0, 0.0),
        };
        let fresh = |at: Instant| now.saturating_duration_since(at) <= REPORT_STALE_AFTER;
        let remote = self
            .remote_report
            .filter(|&(_, at)| fresh(at))
            .map(|(r, _)| r);
        CallStats {
            packets_sent: self.sender.packets_sent(),
            packets_received: self.packets_received,
            packets_lost,
            loss_pct,
            jitter_ms,
            rtt_ms: self.rtt.filter(|&(_, at)| fresh(at)).map(|(rtt, _)| rtt),
            remote_loss_pct: remote.map_or(0.0, |r| r.loss_pct),
            remote_jitter_ms: remote.map_or(0.0, |r| r.jitter_ms),
            jitter_buffer_ms: 0.0,
            speaker_queue_ms: 0.0,
            late_packets: 0,
            concealed_frames: 0,
            fec_frames: 0,
            mos: 0.0,
            codec: None,
        }
    }
}

#[cfg(test)]
mod tests;
