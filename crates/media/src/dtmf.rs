//! RFC 4733 telephone-events: DTMF digits carried in RTP (sans-IO).
//!
//! Three pieces, none of which touches a socket or a clock:
//!
//! * [`EventPayload`]: the 4-byte event payload (RFC 4733 §2.3) and its encoding.
//! * [`DtmfSender`]: turns queued key presses into one [`DtmfPacket`] per packet interval, with
//!   the timing rules of §2.5.1 (one RTP timestamp per event, growing duration, marker on the
//!   first packet, the end packet sent three times, segments for events longer than the 16-bit
//!   duration field).
//! * [`DtmfReceiver`]: turns received event packets back into digits, reporting each key press
//!   exactly once however the packets were duplicated, reordered or partly lost (§2.5.2).
//!
//! The RTP layer owns sequence numbers, SSRC, the payload type and the RTP timestamp; the contract
//! between it and this module is spelled out on [`DtmfSender`] and [`DtmfReceiver::on_packet`].
//! Neither [`DtmfSender::poll`] nor [`DtmfReceiver::on_packet`] allocates: all state lives in
//! fixed-size arrays, so both can run on the media thread.

/// Length of one event block on the wire (RFC 4733 §2.3).
pub const EVENT_PAYLOAD_LEN: usize = 4;
/// Largest value of the 6-bit volume field: the power level is `-volume` dBm0 (RFC 4733 §2.3.4).
pub const MAX_VOLUME: u8 = 63;
/// A sensible default level for generated digits: −10 dBm0, within the −3…−36 dBm0 range
/// RFC 4733 §2.3.4 says DTMF is normally sent at.
pub const DEFAULT_VOLUME: u8 = 10;
/// Tone length used when [`DtmfSender::start`] is given no duration.
pub const DEFAULT_TONE_MS: u32 = 100;
/// Shortest tone [`DtmfSender::start`] produces; shorter requests are lengthened to this. 40 ms is
/// the minimum tone duration DTMF receivers are required to accept (ITU-T Q.24).
pub const MIN_TONE_MS: u32 = 40;
/// The usual packet interval for telephone-events: the audio `ptime`.
pub const DEFAULT_PACKET_INTERVAL_MS: u32 = 20;
/// How many times the final packet of an event, and of each segment of a long event, is sent
/// (RFC 4733 §2.5.1.4 recommends three in total, for robustness against loss).
pub const END_PACKET_COUNT: u8 = 3;
/// Silence left after an event's last end packet before the next queued digit starts, so the far
/// end hears two separate presses (Q.24 asks for at least 40 ms between digits).
pub const INTER_DIGIT_GAP_MS: u32 = 40;
/// How many digits [`DtmfSender`] can hold waiting to be sent.
pub const QUEUE_CAPACITY: usize = 32;

/// Largest samples-per-packet [`DtmfSender::new`] accepts. Keeping a packet below half the 16-bit
/// duration range guarantees that every segment of a long event is at least 0x8000 units long,
/// which is what lets [`DtmfReceiver`] tell a continuation segment from a new key press.
const MAX_SAMPLES_PER_PACKET: u32 = 0x7FFF;
/// Largest value of the 16-bit duration field (RFC 4733 §2.3.5).
const MAX_DURATION: u32 = 0xFFFF;

/// Errors from encoding, decoding and queueing telephone-events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DtmfError {
    /// The payload is shorter than one 4-byte event block.
    #[error("telephone-event payload is {0} bytes; an event needs 4")]
    PayloadTooShort(usize),
    /// A volume outside `0..=63` (the field is 6 bits wide).
    #[error("telephone-event volume {0} is outside 0..=63")]
    VolumeOutOfRange(u8),
    /// A character that is not one of `0-9 * # A-D`.
    #[error("'{0}' is not a DTMF digit")]
    UnknownDigit(char),
    /// [`DtmfSender`] already holds [`QUEUE_CAPACITY`] digits.
    #[error("the DTMF queue is full ({QUEUE_CAPACITY} digits)")]
    QueueFull,
    /// A clock rate / packet interval pair that gives no whole, usable number of samples per
    /// packet (zero, fractional, or above 0x7FFF).
    #[error(
        "unusable telephone-event timing: {clock_rate} Hz with {packet_interval_ms} ms packets"
    )]
    InvalidTiming {
        clock_rate: u32,
        packet_interval_ms: u32,
    },
}

/// One telephone-event block (RFC 4733 §2.3):
///
/// ```text
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |     event     |E|R| volume    |          duration             |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EventPayload {
    /// Event code; 0–15 are the DTMF digits (see [`digit_for_event`]).
    pub event: u8,
    /// The E bit: this packet reports the end of the event (or segment's event).
    pub end: bool,
    /// Power level as a positive number of dB below 0 dBm0, `0..=63`. Ignored for non-tone events.
    pub volume: u8,
    /// Duration so far, in RTP timestamp units, counted from the packet's RTP timestamp.
    pub duration: u16,
}

impl EventPayload {
    /// A payload with a checked volume.
    pub fn new(event: u8, end: bool, volume: u8, duration: u16) -> Result<Self, DtmfError> {
        if volume > MAX_VOLUME {
            return Err(DtmfError::VolumeOutOfRange(volume));
        }
        Ok(Self {
            event,
            end,
            volume,
            duration,
        })
    }

    /// The wire form. The R bit is always sent as zero (§2.3.3). The fields are public, so a
    /// `volume` above 63 can reach here without [`EventPayload::new`]; it is clamped to 63 (the
    /// quietest level) rather than being allowed to spill into the E and R bits.
    pub fn encode(&self) -> [u8; EVENT_PAYLOAD_LEN] {
        let [hi, lo] = self.duration.to_be_bytes();
        let end = if self.end { 0x80 } else { 0 };
        [self.event, end | self.volume.min(MAX_VOLUME), hi, lo]
    }

    /// Parses the first event block of `payload`.
    ///
    /// Bytes after the first four are ignored: RTP padding is the RTP layer's business, and a
    /// packet carrying several events (§2.5.1.5, which DTMF senders at 20 ms never need) is read
    /// as its first event only. The R bit is ignored, as §2.3.3 requires of receivers. The volume
    /// is six bits wide, so a decoded payload always has a volume in range.
    pub fn decode(payload: &[u8]) -> Result<Self, DtmfError> {
        match payload {
            [event, flags, hi, lo, ..] => Ok(Self::from_block([*event, *flags, *hi, *lo])),
            _ => Err(DtmfError::PayloadTooShort(payload.len())),
        }
    }

    fn from_block([event, flags, hi, lo]: [u8; EVENT_PAYLOAD_LEN]) -> Self {
        Self {
            event,
            end: flags & 0x80 != 0,
            volume: flags & 0x3F,
            duration: u16::from_be_bytes([hi, lo]),
        }
    }
}

/// The event code for a keypad character: `'0'..='9'` → 0–9, `'*'` → 10, `'#'` → 11 and
/// `'A'..='D'` (either case) → 12–15 (RFC 4733 §3.2).
pub fn event_for_digit(c: char) -> Option<u8> {
    match c {
        '0'..='9' => Some(c as u8 - b'0'),
        '*' => Some(10),
        '#' => Some(11),
        'A'..='D' => Some(c as u8 - b'A' + 12),
        'a'..='d' => Some(c as u8 - b'a' + 12),
        _ => None,
    }
}

/// The keypad character for a DTMF event code (0–15); `None` for every other event.
/// Letters come back upper case.
pub fn digit_for_event(e: u8) -> Option<char> {
    match e {
        0..=9 => Some(char::from(b'0' + e)),
        10 => Some('*'),
        11 => Some('#'),
        12..=15 => Some(char::from(b'A' + (e - 12))),
        _ => None,
    }
}

/// What [`DtmfSender::poll`] wants sent this packet interval.
///
/// Send it as an RTP packet with the telephone-event payload type, the stream's SSRC and next
/// sequence number, the marker bit set to [`marker`](Self::marker), and the RTP timestamp
/// [`rtp_timestamp(tick)`](Self::rtp_timestamp), where `tick` is the timestamp the audio packet of
/// this interval would have carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DtmfPacket {
    /// The encoded [`EventPayload`].
    pub payload: [u8; EVENT_PAYLOAD_LEN],
    /// RTP marker bit: set on the first packet of an event only (§2.5.1.2), never on its
    /// retransmitted end packets nor on the first packet of a continuation segment (§2.5.1.3).
    pub marker: bool,
    /// How far, in telephone-event clock units, this packet's RTP timestamp lies *before* the
    /// timestamp of the current packet interval. All packets of one event (segment) share one RTP
    /// timestamp, the moment it started, so this grows by one packet's worth of samples per poll.
    pub timestamp_offset: u32,
}

impl DtmfPacket {
    /// The RTP timestamp to send, given `tick_timestamp`, the RTP timestamp of this packet
    /// interval (what an audio packet sent now would carry). Wraps like RTP timestamps do.
    pub fn rtp_timestamp(&self, tick_timestamp: u32) -> u32 {
        tick_timestamp.wrapping_sub(self.timestamp_offset)
    }

    /// The payload, decoded.
    pub fn event(&self) -> EventPayload {
        EventPayload::from_block(self.payload)
    }
}

/// A digit waiting in the sender's queue.
#[derive(Debug, Clone, Copy, Default)]
struct QueuedDigit {
    event: u8,
    volume: u8,
    /// Tone length in clock units.
    samples: u64,
}

#[derive(Debug, Clone, Copy)]
enum SendState {
    /// Nothing in progress; the next poll starts the next queued digit, if any.
    Idle,
    /// A tone is playing. Positions are in clock units from the event's start.
    Tone {
        event: u8,
        volume: u8,
        total: u64,
        /// Start of the current packet interval.
        tick_start: u64,
        /// Start of the current segment (0 until the event outgrows one duration field).
        segment_start: u64,
        first: bool,
        /// Repetitions of the previous segment's final packet still to send.
        segment_repeats: u8,
    },
    /// Repeating the final packet.
    Ending {
        payload: [u8; EVENT_PAYLOAD_LEN],
        remaining: u8,
        offset: u32,
    },
    /// Quiet intervals left before the next digit may start.
    Gap { remaining: u32 },
}

/// Generates RFC 4733 DTMF packets, one call to [`poll`](Self::poll) per packet interval.
///
/// # Contract with the RTP layer
///
/// * The telephone-event clock rate given to [`new`](Self::new) must be the RTP clock of the
///   stream the events are sent in (8000 for `telephone-event/8000`, 48000 when negotiated next to
///   Opus at 48 kHz), and the packet interval the stream's packetization interval.
/// * Call [`poll`](Self::poll) exactly once per packet interval, at the moment an audio packet
///   would be sent, whether or not a digit is pending (the sender counts time in polls).
///   Let `tick` be the RTP timestamp that audio packet would carry; keep advancing `tick` by one
///   interval per poll as usual.
/// * `Some(packet)`: send a telephone-event packet *instead of* this interval's audio, with RTP
///   timestamp [`packet.rtp_timestamp(tick)`](DtmfPacket::rtp_timestamp), marker
///   [`packet.marker`](DtmfPacket::marker) and the next sequence number.
/// * `None`: send audio as usual.
///
/// # What gets sent
///
/// For a 100 ms digit at 8 kHz / 20 ms: five packets with RTP timestamp `T` and durations 160,
/// 320, 480, 640 and 800, the first with the marker bit and the last with the E bit; the end
/// packet twice more (same duration, same timestamp, no marker); then
/// [`INTER_DIGIT_GAP_MS`] of nothing before the next queued digit starts.
///
/// An event longer than the 16-bit duration field (0xFFFF units: 8.19 s at 8 kHz, 1.37 s at
/// 48 kHz) is cut into segments (§2.5.1.3). A segment that reaches its maximum length ends with a
/// packet reporting that length without the E bit, sent three times like an event's end
/// (§2.5.1.4); the next segment has a new RTP timestamp, the previous one plus the segment's
/// length, durations counted from there, and no marker bit. (Its first packet, sent after those
/// repetitions, therefore already reports three packets' worth.) Each segment's length is the
/// largest whole number of packets that fits in 0xFFFF units, so segment boundaries fall on packet
/// intervals.
#[derive(Debug, Clone)]
pub struct DtmfSender {
    clock_rate: u32,
    packet_interval_ms: u32,
    samples_per_packet: u32,
    segment_len: u32,
    gap_ticks: u32,
    queue: [QueuedDigit; QUEUE_CAPACITY],
    head: usize,
    len: usize,
    state: SendState,
}

impl Default for DtmfSender {
    /// 8000 Hz, 20 ms packets.
    fn default() -> Self {
        Self::with_timing(8_000, DEFAULT_PACKET_INTERVAL_MS, 160)
    }
}

impl DtmfSender {
    /// A sender for a telephone-event clock of `clock_rate` Hz and packets every
    /// `packet_interval_ms`. The pair must give a whole number of samples per packet between 1
    /// and 0x7FFF (8000 Hz × 20 ms = 160, 48000 Hz × 20 ms = 960).
    pub fn new(clock_rate: u32, packet_interval_ms: u32) -> Result<Self, DtmfError> {
        let product = u64::from(clock_rate) * u64::from(packet_interval_ms);
        let samples = product / 1000;
        if product % 1000 != 0 || samples == 0 || samples > u64::from(MAX_SAMPLES_PER_PACKET) {
            return Err(DtmfError::InvalidTiming {
                clock_rate,
                packet_interval_ms,
            });
        }
        // In range by the check above.
        let samples = samples as u32;
        Ok(Self::with_timing(clock_rate, packet_interval_ms, samples))
    }

    fn with_timing(clock_rate: u32, packet_interval_ms: u32, samples_per_packet: u32) -> Self {
        Self {
            clock_rate,
            packet_interval_ms,
            samples_per_packet,
            segment_len: (MAX_DURATION / samples_per_packet) * samples_per_packet,
            gap_ticks: INTER_DIGIT_GAP_MS.div_ceil(packet_interval_ms),
            queue: [QueuedDigit::default(); QUEUE_CAPACITY],
            head: 0,
            len: 0,
            state: SendState::Idle,
        }
    }

    /// The telephone-event RTP clock rate, in Hz.
    pub fn clock_rate(&self) -> u32 {
        self.clock_rate
    }

    /// The packet interval, in milliseconds.
    pub fn packet_interval_ms(&self) -> u32 {
        self.packet_interval_ms
    }

    /// Clock units per packet interval: how far the RTP timestamp advances per poll.
    pub fn samples_per_packet(&self) -> u32 {
        self.samples_per_packet
    }

    /// Queues `digit` (`0-9 * # A-D`, letters in either case) to be sent as a tone of
    /// `duration_ms` (`None`: [`DEFAULT_TONE_MS`]; anything below [`MIN_TONE_MS`] is raised to
    /// it) at `volume` dB below 0 dBm0 ([`DEFAULT_VOLUME`] is a good choice).
    ///
    /// Digits are sent in the order queued. Fails, queueing nothing, for an unknown digit, a
    /// volume above 63, or when [`QUEUE_CAPACITY`] digits are already waiting.
    pub fn start(
        &mut self,
        digit: char,
        duration_ms: Option<u32>,
        volume: u8,
    ) -> Result<(), DtmfError> {
        let event = event_for_digit(digit).ok_or(DtmfError::UnknownDigit(digit))?;
        if volume > MAX_VOLUME {
            return Err(DtmfError::VolumeOutOfRange(volume));
        }
        if self.len == QUEUE_CAPACITY {
            return Err(DtmfError::QueueFull);
        }
        let ms = duration_ms.unwrap_or(DEFAULT_TONE_MS).max(MIN_TONE_MS);
        // At least one unit, so every event has a non-empty final packet.
        let samples = (u64::from(ms) * u64::from(self.clock_rate) / 1000).max(1);
        let slot = (self.head + self.len) % QUEUE_CAPACITY;
        self.queue[slot] = QueuedDigit {
            event,
            volume,
            samples,
        };
        self.len += 1;
        Ok(())
    }

    /// Digits waiting, not counting the one being sent.
    pub fn queued(&self) -> usize {
        self.len
    }

    /// True when nothing is queued or in progress (including the end packets and the gap after
    /// the last digit): polling now would return `None`.
    pub fn is_idle(&self) -> bool {
        self.len == 0 && matches!(self.state, SendState::Idle)
    }

    /// Drops the queued digits. A digit already being sent is finished properly, end packets
    /// included, so the far end never sees an event without an end.
    pub fn clear_queue(&mut self) {
        self.head = 0;
        self.len = 0;
    }

    /// What to send this packet interval; see the contract on [`DtmfSender`]. Never allocates.
    pub fn poll(&mut self) -> Option<DtmfPacket> {
        match self.state {
            SendState::Idle => {
                let next = self.pop()?;
                self.state = SendState::Tone {
                    event: next.event,
                    volume: next.volume,
                    total: next.samples,
                    tick_start: 0,
                    segment_start: 0,
                    first: true,
                    segment_repeats: 0,
                };
                self.tone_packet()
            }
            SendState::Tone { .. } => self.tone_packet(),
            SendState::Ending {
                payload,
                remaining,
                offset,
            } => {
                self.state = if remaining > 1 {
                    SendState::Ending {
                        payload,
                        remaining: remaining - 1,
                        offset: offset + self.samples_per_packet,
                    }
                } else {
                    self.after_event()
                };
                Some(DtmfPacket {
                    payload,
                    marker: false,
                    timestamp_offset: offset,
                })
            }
            SendState::Gap { remaining } => {
                self.state = if remaining > 1 {
                    SendState::Gap {
                        remaining: remaining - 1,
                    }
                } else {
                    SendState::Idle
                };
                None
            }
        }
    }

    fn pop(&mut self) -> Option<QueuedDigit> {
        if self.len == 0 {
            return None;
        }
        let digit = self.queue[self.head];
        self.head = (self.head + 1) % QUEUE_CAPACITY;
        self.len -= 1;
        Some(digit)
    }

    fn after_event(&self) -> SendState {
        if self.gap_ticks == 0 {
            SendState::Idle
        } else {
            SendState::Gap {
                remaining: self.gap_ticks,
            }
        }
    }

    /// The packet for the current interval of a playing tone, advancing the state.
    fn tone_packet(&mut self) -> Option<DtmfPacket> {
        let SendState::Tone {
            event,
            volume,
            total,
            tick_start,
            segment_start,
            first,
            segment_repeats,
        } = self.state
        else {
            return None;
        };
        let spp = u64::from(self.samples_per_packet);
        let segment_len = u64::from(self.segment_len);

        if segment_repeats > 0 {
            // Repeat the final packet of the segment that ended at `segment_start`, with that
            // segment's timestamp, while the tone (and time) goes on.
            let payload = EventPayload {
                event,
                end: false,
                volume,
                // `segment_len` <= 0xFFFF.
                duration: self.segment_len as u16,
            }
            .encode();
            // At most `segment_len` + two packets, far inside u32.
            let offset = (tick_start + segment_len - segment_start) as u32;
            self.state = SendState::Tone {
                event,
                volume,
                total,
                tick_start: tick_start + spp,
                segment_start,
                first: false,
                segment_repeats: segment_repeats - 1,
            };
            return Some(DtmfPacket {
                payload,
                marker: false,
                timestamp_offset: offset,
            });
        }

        let reached = (tick_start + spp).min(total);
        // A segment is closed as soon as it reaches `segment_len`, so this never exceeds it
        // (<= 0xFFFF); the `min` only restates that for the conversion.
        let duration = (reached - segment_start).min(segment_len) as u16;
        // Below `segment_len`, far inside u32.
        let offset = (tick_start - segment_start) as u32;
        let end = reached == total;
        let payload = EventPayload {
            event,
            end,
            volume,
            duration,
        }
        .encode();
        self.state = if end {
            if END_PACKET_COUNT > 1 {
                SendState::Ending {
                    payload,
                    remaining: END_PACKET_COUNT - 1,
                    offset: offset + self.samples_per_packet,
                }
            } else {
                self.after_event()
            }
        } else {
            let full_segment = u32::from(duration) == self.segment_len;
            SendState::Tone {
                event,
                volume,
                total,
                tick_start: tick_start + spp,
                segment_start: if full_segment { reached } else { segment_start },
                first: false,
                segment_repeats: if full_segment {
                    END_PACKET_COUNT.saturating_sub(1)
                } else {
                    0
                },
            }
        };
        Some(DtmfPacket {
            payload,
            marker: first,
            timestamp_offset: offset,
        })
    }
}

/// How many recent events [`DtmfReceiver`] remembers for de-duplication.
const RECEIVER_HISTORY: usize = 16;
/// A packet whose timestamp lies further than this behind the newest event seen cannot be a
/// reordered packet (10 s at 48 kHz, 60 s at 8 kHz): the stream must have restarted (new SSRC,
/// re-INVITE), so the history is forgotten.
const MAX_REORDER: u32 = 480_000;
/// Bounds on the timestamp step from one segment of a long event to the next: a segment is at
/// most 0xFFFF units, and at least 0x8000 given senders' packets are shorter than 0x8000 units.
const MIN_SEGMENT_STEP: u32 = 0x8000;
/// A new timestamp is only taken as the continuation of the previous segment when a packet seen
/// from that segment reported a duration within this much of the step: i.e. we saw it run (nearly)
/// to the full length. A short press of the same digit followed by another press, with every end
/// packet of the first and the marker packet of the second lost, therefore still counts twice.
const SEGMENT_SLACK: u32 = 0x4000;

#[derive(Debug, Clone, Copy, Default)]
struct SeenEvent {
    timestamp: u32,
    event: u8,
    ended: bool,
    max_duration: u16,
}

/// Turns received telephone-event packets into digits, each key press reported exactly once.
///
/// An event is identified by its RTP timestamp and event code (all packets of one event share
/// the timestamp, §2.5.1.2). The receiver remembers the last 16 events, so:
///
/// * the digit is reported on the first packet seen of an event, whichever it is: the marker
///   packet normally, a later or an end packet when the first ones were lost;
/// * further packets of that event (growing durations, the three end packets, retransmissions,
///   packets arriving out of order, even after the next event has started) report nothing;
/// * the same digit pressed twice is two events with different timestamps, reported twice;
/// * a continuation segment of a long event (§2.5.2.3: same code, no marker, timestamp one
///   segment length after an unfinished event that was seen running to nearly that length) is
///   not a new press;
/// * events other than the DTMF digits 0–15, and malformed payloads, are ignored.
///
/// A packet older than everything remembered (with the history full) is dropped as stale; one
/// implausibly far behind (more than 480000 units: 10 s at 48 kHz) is taken as a restarted stream
/// and clears the history.
/// Call [`reset`](Self::reset) when the RTP stream changes (new SSRC) anyway.
#[derive(Debug, Clone, Default)]
pub struct DtmfReceiver {
    seen: [SeenEvent; RECEIVER_HISTORY],
    len: usize,
    /// Where the next entry goes once the history is full (the oldest insertion).
    next: usize,
    /// Index of the entry with the newest timestamp (meaningful when `len > 0`).
    newest: usize,
}

impl DtmfReceiver {
    /// A receiver that has seen no events yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Forgets every event seen.
    pub fn reset(&mut self) {
        *self = Self::default();
    }

    /// Feeds one received RTP packet of the telephone-event payload type: its RTP `timestamp`,
    /// `marker` bit and `payload` (after the RTP header, padding removed). Returns the digit when
    /// this packet is the first seen of a new DTMF event, `None` otherwise. Never allocates,
    /// never panics.
    pub fn on_packet(&mut self, timestamp: u32, marker: bool, payload: &[u8]) -> Option<char> {
        let event = EventPayload::decode(payload).ok()?;
        let digit = digit_for_event(event.event)?;

        if let Some(known) = self.find(timestamp, event.event) {
            known.ended |= event.end;
            known.max_duration = known.max_duration.max(event.duration);
            return None;
        }

        if self.len > 0 {
            let newest = self.seen[self.newest];
            let ahead = timestamp.wrapping_sub(newest.timestamp) as i32;
            if ahead < 0 {
                let behind = ahead.unsigned_abs();
                if behind > MAX_REORDER {
                    self.reset();
                } else if self.len == RECEIVER_HISTORY && behind > self.oldest_behind(newest) {
                    return None;
                }
            } else if self.continues(&newest, timestamp, marker, event.event) {
                self.remember(timestamp, &event);
                return None;
            }
        }
        self.remember(timestamp, &event);
        Some(digit)
    }

    fn find(&mut self, timestamp: u32, event: u8) -> Option<&mut SeenEvent> {
        self.seen[..self.len]
            .iter_mut()
            .find(|s| s.timestamp == timestamp && s.event == event)
    }

    /// Whether a packet at `timestamp` is the next segment of the long event `previous`.
    fn continues(&self, previous: &SeenEvent, timestamp: u32, marker: bool, event: u8) -> bool {
        let step = timestamp.wrapping_sub(previous.timestamp);
        !marker
            && !previous.ended
            && previous.event == event
            && (MIN_SEGMENT_STEP..=MAX_DURATION).contains(&step)
            && u32::from(previous.max_duration) + SEGMENT_SLACK >= step
    }

    /// How far the oldest remembered timestamp lies behind `newest`.
    fn oldest_behind(&self, newest: SeenEvent) -> u32 {
        self.seen[..self.len]
            .iter()
            .map(|s| newest.timestamp.wrapping_sub(s.timestamp))
            .max()
            .unwrap_or(0)
    }

    fn remember(&mut self, timestamp: u32, event: &EventPayload) {
        let slot = if self.len < RECEIVER_HISTORY {
            self.len += 1;
            self.len - 1
        } else {
            let slot = self.next;
            self.next = (self.next + 1) % RECEIVER_HISTORY;
            slot
        };
        self.seen[slot] = SeenEvent {
            timestamp,
            event: event.event,
            ended: event.end,
            max_duration: event.duration,
        };
        // Recompute the newest entry (serial-number order, RFC 1982 style).
        let mut newest = 0;
        for (i, s) in self.seen[..self.len].iter().enumerate() {
            if (s.timestamp.wrapping_sub(self.seen[newest].timestamp) as i32) > 0 {
                newest = i;
            }
        }
        self.newest = newest;
    }
}

#[cfg(test)]
mod tests;
