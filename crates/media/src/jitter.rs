//! Adaptive jitter buffer with in-place loss concealment (sans-IO).
//!
//! The buffer sits between the RTP receiver and the audio decoder. The network side
//! [`push`](JitterBuffer::push)es packets as they arrive; the audio clock
//! [`pop`](JitterBuffer::pop)s one frame per frame period and is told to play a packet
//! ([`Playout::Frame`]), to conceal a missing one ([`Playout::Conceal`]: the decoder's PLC, or
//! Opus in-band FEC taken from the packet that follows) or to play nothing
//! ([`Playout::Silence`]). Both calls take the receiver's monotonic clock in microseconds; there
//! is no clock, timer, thread, allocation, logging or I/O inside. So it can run on a real-time
//! audio thread, and the tests drive it through minutes of simulated network in milliseconds.
//!
//! # The model
//!
//! **Timeline.** Sequence numbers and timestamps are unwrapped to 64 bits (wrap-around is
//! invisible past [`push`](JitterBuffer::push)). The *playout point* is the RTP timestamp of the
//! next frame due. Every pop advances it by the duration of what it output, with one exception
//! (an insertion, below). A missing frame is concealed *in place*: the playout point moves on as
//! if the frame had been played, so a packet that turns up after its time is counted late and
//! dropped, and nothing after it moves. Packets are kept in timestamp order, so reordering
//! within the buffer's delay costs nothing.
//!
//! **Delay.** For every packet we note its *transit*, arrival time minus timestamp (the two
//! clocks are unrelated, so only differences mean anything), in a window of the last 128
//! packets (about 2.5 s at 20 ms). The window's minimum, the *base*, is the fastest
//! recent path through the network. The *playout delay* at a pop is
//! `now - time(playout point) - base`: how long a packet that took the fastest path waits in the
//! buffer. A packet that took `j` longer than the fastest is on time exactly when
//! `j <= delay`; that is what the delay is for.
//!
//! **Jitter and target.** The jitter is the 97th percentile of `transit - base` over the window.
//! The three largest samples are ignored, so one very late packet changes nothing, while a real
//! rise in jitter shows after a handful of packets. The target delay is
//! `clamp(jitter + headroom, min_delay, max_delay)`, the headroom being the band's half-width
//! (below) and 3 ms: the band's low edge sits just above the jitter, and a packet's wait
//! settles at the least its phase to the pops allows (15.5 ms on average on a clean network,
//! where a whole frame of headroom gave 20). The target rises at once, and it falls only once the high samples have left the window,
//! then exponentially with a time constant of 2.56 s: quick to protect, slow to trust (the
//! idea behind WebRTC NetEq's relative-delay estimator, written afresh here). One exception:
//! when the base itself rises (the fastest packets left the window because the route got
//! slower), the target is measured from a higher floor, so it comes down by as much at once and
//! the playout point does not move. Delay *peaks* are kept apart: a sender that stalls for 400 ms
//! and then sends everything at once would otherwise lift the target by 400 ms for seconds,
//! for a loss that has already happened. Samples far above the target are left out of the
//! percentile unless such peaks recur (two within 10 s), and then the target covers them (see
//! `delay.rs`). The RFC 3550 interarrival jitter is kept for the statistics
//! only: it measures packet-to-packet variation, which says little about the delay a buffer
//! needs.
//!
//! **FEC margin.** With a codec that carries the previous frame in each packet (Opus in-band
//! FEC, [`JitterConfig::fec`]), a lost frame can only be rebuilt if the next packet is already
//! here when the lost frame is due: one frame later than the target allows for. So while
//! packets are being lost (over 1 % of the recent frames, until it falls under 0.5 %), the
//! target holds one frame more. On a clean network it costs nothing.
//!
//! **Control.** Frames are whole, so the delay can only move in steps of one frame; it is kept
//! within half a frame of the target, with a little hysteresis so that a step never lands across
//! the other edge:
//!
//! * Below the band (delay too short: packets would come late), the buffer *inserts* a
//!   concealed frame without moving the playout point, which adds one frame of delay. That is
//!   free when the frame due is missing anyway (it is probably late, not lost), so it is done at
//!   once; before a packet that is present it waits for two pops in a row and happens at most
//!   once every 60 ms.
//! * Above the band for 160 ms, it *drops* one frame: at most one every 200 ms, so at most
//!   five a second, never two back to back. If the frame due is missing, it skips that frame
//!   instead of concealing it, which costs nothing. Otherwise it waits up to 100 ms for a
//!   packet no bigger than the average: with a variable-bitrate codec such as Opus, a small
//!   packet is a quiet or simple one, where a missing frame is least audible.
//!
//! (These durations are counted in frames of the current size.) This follows the target as it
//! moves, and it absorbs clock drift: a sender 0.5 % fast fills the buffer by one 20 ms frame
//! every 4 s, and that is one drop every 4 s.
//!
//! **Loss and FEC.** When the frame due is missing and the packet that starts right after it
//! is already buffered, [`Playout::Conceal`] carries that packet's payload so an Opus decoder
//! can decode its in-band FEC (the low-bitrate copy of the previous frame) instead of guessing;
//! the same packet is then played normally at the next pop. After 100 ms of concealed frames in
//! a row (five of 20 ms: end of a talk-spurt, DTX, hold, a long burst of loss), the buffer stops
//! concealing and returns [`Playout::Silence`], and the next packets start playout afresh as at
//! start-up, at the target delay: a free chance to re-place the playout point, since nothing is
//! playing.
//!
//! **Start-up.** Nothing plays until the first packet has waited for the target delay (measured
//! as above). When a pile of packets is waiting (the caller stopped popping for a while, say),
//! the stale ones are skipped, so playout starts at the target delay rather than behind it.
//!
//! **Restarts.** A packet whose sequence number jumps far (over 3000 ahead or 100 behind) or
//! whose timestamp is more than 2 s away from where the arrival time says it should be is
//! not trusted on its own: it is held ([`PushOutcome::Probation`]). If the next such packet
//! continues from it, the stream restarted (new encoder, re-INVITE, timestamp jump): the buffer
//! resets, keeps both packets and plays them after the target delay ([`PushOutcome::Reset`]).
//! A lone stray packet is simply replaced by the next candidate and never played. Smaller
//! inconsistencies (a sender whose timestamps stood still while on hold, for instance) are
//! resolved at the next talk-spurt: when nothing is playing, a packet that disagrees with the
//! base by more than the maximum delay rebuilds the delay window from scratch.
//!
//! **Frame size.** The duration of a frame is learnt from the timestamp step between packets
//! with consecutive sequence numbers (a new step is adopted once seen twice in a row), so 10,
//! 20, 30, 40 or 60 ms packets work, and so does a change in mid-stream. A packet's duration is
//! taken from its successor when that is buffered, and the playout point never jumps over a
//! buffered packet. [`Playout::Conceal`] and [`Playout::Silence`] each stand for one frame of
//! [`samples_per_frame`](JitterBuffer::samples_per_frame) samples.
//!
//! # Real time
//!
//! All storage is allocated by [`JitterBuffer::new`]: a pool of `capacity` slots, each with a
//! `max_payload` byte area, plus one for a packet on probation, and the fixed-size windows of
//! the estimator. [`push`](JitterBuffer::push) and [`pop`](JitterBuffer::pop) only copy bytes
//! and scan the (small) pool; the percentile is an in-place sort of 128 integers.
//!
//! # Using it
//!
//! Call [`pop`](JitterBuffer::pop) whenever the audio device needs the next frame: normally
//! once per frame period (every 20 ms). Strictly, one pop per output: after a
//! [`Playout::Frame`], once the decoded samples have been consumed; after a concealment or
//! silence, after one frame. A new SSRC is the caller's business: call
//! [`reset`](JitterBuffer::reset).

use core::fmt;

use delay::DelayEstimator;

mod delay;

/// Sequence numbers remembered for duplicate detection (a power of two, a multiple of 64).
const HISTORY: usize = 1024;
const HISTORY_WORDS: usize = HISTORY / 64;
/// A sequence number this far ahead is a restart, not a loss (RFC 3550, appendix A.1).
const MAX_DROPOUT: i64 = 3000;
/// A sequence number this far behind is a restart, not reordering (RFC 3550, appendix A.1).
const MAX_MISORDER: i64 = 100;
/// A timestamp further than this from where the arrival time puts it is a jump.
const JUMP_US: i64 = 2_000_000;
/// How long a packet on probation waits for a successor that confirms a restart.
const PROBATION_US: i64 = 1_000_000;
/// How far in sequence the confirming packet may be from the one on probation.
const PROBATION_SEQ: i64 = 16;
// The durations below are counted in frames (pops) of the current size, at least one.
/// Concealment in a row before the buffer gives up and plays silence (5 frames of 20 ms).
const MAX_CONCEAL_MS: i64 = 100;
/// How long the delay stays above the band before a frame is dropped.
const DROP_PERSIST_MS: i64 = 160;
/// Minimum time between two adjustments when dropping: at most five drops a second.
const DROP_SPACING_MS: i64 = 200;
/// How long a pending drop waits for a small (quiet) packet before dropping any.
const DROP_PATIENCE_MS: i64 = 100;
/// Pops below the band before a frame is inserted in front of a packet that is present.
const INSERT_PERSIST: u32 = 2;
/// Minimum time between two adjustments when inserting in front of a packet that is present.
const INSERT_SPACING_MS: i64 = 60;
/// Frames the loss estimate averages over (for the FEC margin).
const LOSS_WINDOW: i64 = 256;
/// The receiver's clock is clamped below this (µs, some 36 000 years), so that no delay
/// arithmetic can overflow.
const MAX_CLOCK_US: i64 = 1 << 60;
/// The longest frame a packet may carry (Opus's maximum).
const MAX_FRAME_MS: i64 = 120;
/// Upper bounds for the configuration.
const MAX_DELAY_MS: u32 = 10_000;
const MAX_CAPACITY: usize = 4096;
const MAX_PAYLOAD: usize = 65_536;

/// What the buffer is configured with. Out-of-range values are corrected by
/// [`JitterBuffer::new`] (see [`JitterBuffer::config`] for the values in use).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JitterConfig {
    /// The RTP clock rate in Hz: 48000 for Opus, 8000 for G.711 (at least 1000).
    pub clock_rate: u32,
    /// The expected packet duration in ms (1 to 120). Only a first guess: the real one is
    /// learnt from the timestamps.
    pub frame_ms: u32,
    /// The lowest target delay in ms (at most 10 s). On a clean network the target is the
    /// headroom above the jitter instead when that is more: 15.5 ms for 20 ms packets.
    pub min_delay_ms: u32,
    /// The highest target delay in ms (from `min_delay_ms` to 10 s).
    pub max_delay_ms: u32,
    /// Packet slots (2 to 4096). Should hold `max_delay_ms` of the shortest packets, plus some.
    pub capacity: usize,
    /// The largest payload in bytes (1 to 65536); bigger packets are refused.
    pub max_payload: usize,
    /// The codec can rebuild a lost frame from the next packet (Opus in-band FEC). While
    /// packets are being lost, the buffer then holds one frame more, so that the next packet
    /// is usually there when the lost frame is due.
    pub fec: bool,
}

impl Default for JitterConfig {
    fn default() -> Self {
        Self {
            clock_rate: 48_000,
            frame_ms: 20,
            min_delay_ms: 10,
            max_delay_ms: 400,
            capacity: 64,
            max_payload: 1500,
            fec: false,
        }
    }
}

impl JitterConfig {
    fn sanitized(self) -> Self {
        let min_delay_ms = self.min_delay_ms.min(MAX_DELAY_MS);
        Self {
            clock_rate: self.clock_rate.max(1000),
            frame_ms: self.frame_ms.clamp(1, MAX_FRAME_MS as u32),
            min_delay_ms,
            max_delay_ms: self.max_delay_ms.clamp(min_delay_ms, MAX_DELAY_MS),
            capacity: self.capacity.clamp(2, MAX_CAPACITY),
            max_payload: self.max_payload.clamp(1, MAX_PAYLOAD),
            fec: self.fec,
        }
    }
}

/// What [`JitterBuffer::push`] did with a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushOutcome {
    /// Buffered for playout.
    Stored,
    /// Already received: ignored.
    Duplicate,
    /// Its playout time has passed (the frame was concealed): counted and dropped.
    TooLate,
    /// Bigger than `max_payload`: refused.
    TooLarge,
    /// No payload: ignored (the frame is concealed if nothing else comes for it).
    Empty,
    /// Far outside the stream (sequence or timestamp jump): held until the next packet says
    /// whether the stream restarted or this one is a stray.
    Probation,
    /// The stream restarted: the buffer was reset, and this packet and the one on probation
    /// are buffered for playout.
    Reset,
    /// The buffer is full and this packet is older than everything in it: dropped.
    Overflow,
}

/// What to play next: the answer of [`JitterBuffer::pop`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Playout<'a> {
    /// Decode and play this packet.
    Frame {
        /// The packet's payload.
        payload: &'a [u8],
        /// Its RTP timestamp.
        timestamp: u32,
    },
    /// One frame is missing (or one more is needed to grow the delay): conceal it. With
    /// `fec`, decode the in-band FEC of that payload (the packet that follows the missing
    /// frame; it is played normally at the next pop); without, run the decoder's packet loss
    /// concealment.
    Conceal {
        /// The next packet, when it is already here.
        fec: Option<&'a [u8]>,
    },
    /// Nothing to play (buffering, or a gap in the stream): one frame of silence or comfort
    /// noise, without concealment.
    Silence,
}

/// A snapshot of the buffer's state and counters ([`JitterBuffer::stats`]).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct JitterStats {
    /// The delay the buffer is aiming for.
    pub target_delay_ms: u32,
    /// The playout delay of the last frame played or concealed: how long a packet that
    /// took the fastest recent path waited in the buffer.
    pub buffered_delay_ms: u32,
    /// The audio in the buffer now, from the playout point to the end of the newest packet.
    pub queued_ms: u32,
    /// The jitter the target is built on: the 97th percentile of the transit time above the
    /// fastest recent packet.
    pub jitter_ms: f32,
    /// The RFC 3550 interarrival jitter (for reports; not used for playout).
    pub interarrival_jitter_ms: f32,
    /// The frame duration learnt from the timestamps.
    pub frame_ms: f32,
    /// Calls to [`JitterBuffer::push`].
    pub received: u64,
    /// Packets received twice or more (the copies are counted).
    pub duplicates: u64,
    /// Packets that came after their playout time.
    pub late: u64,
    /// Packets that came after a packet with a higher sequence number.
    pub reordered: u64,
    /// Frames concealed because their packet was missing (lost or late), FEC included.
    pub concealed: u64,
    /// Of those, the ones handed the next packet for FEC.
    pub fec: u64,
    /// Stream restarts detected (see [`PushOutcome::Reset`]).
    pub resets: u64,
    /// Frames dropped to shrink the delay (missing frames skipped included, and stale packets
    /// skipped when playout restarts).
    pub dropped: u64,
    /// Frames inserted (concealed without advancing) to grow the delay.
    pub inserted: u64,
    /// Packets lost because the buffer was full.
    pub overflows: u64,
    /// Packets refused as empty or too large.
    pub invalid: u64,
}

#[derive(Debug, Clone, Copy, Default)]
struct Counters {
    received: u64,
    duplicates: u64,
    late: u64,
    reordered: u64,
    concealed: u64,
    fec: u64,
    resets: u64,
    dropped: u64,
    inserted: u64,
    overflows: u64,
    invalid: u64,
}

/// One buffered packet; its payload is at `index * max_payload` in the data area.
#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    used: bool,
    ext_seq: i64,
    ext_ts: i64,
    ts: u32,
    len: usize,
    arrival_us: u64,
}

/// The packet on probation (its payload is in the data area's last slot).
#[derive(Debug, Clone, Copy, Default)]
struct Candidate {
    valid: bool,
    seq: u16,
    ts: u32,
    arrival_us: u64,
    len: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// No timeline: before the first packet, or after a reset.
    Waiting,
    /// Playing: the playout point is the timestamp of the next frame due.
    Playing,
    /// Silent after a gap: the playout point runs on (so that stragglers are known as late)
    /// until the next packets start playout again.
    Gap,
}

/// Where a payload comes from when it is stored.
#[derive(Clone, Copy)]
enum Src<'a> {
    Bytes(&'a [u8]),
    /// The packet on probation, this long.
    Probation(usize),
}

/// The frame output by the last pop, if it was one.
#[derive(Debug, Clone, Copy)]
struct LastFrame {
    ext_seq: i64,
    ext_ts: i64,
    /// Its playout delay.
    delay_us: i64,
}

/// What a pop decided, before the borrow of the payload.
#[derive(Clone, Copy)]
enum Out {
    Frame(usize),
    Conceal(Option<usize>),
    Silence,
}

/// The adaptive jitter buffer (see the module documentation).
pub struct JitterBuffer {
    cfg: JitterConfig,
    clock: i64,
    min_frame: i64,
    max_frame: i64,
    max_delay_us: i64,

    // Storage.
    slots: Vec<Slot>,
    /// `capacity + 1` payload areas of `max_payload` bytes; the last one is for probation.
    data: Vec<u8>,
    used: usize,
    cand: Candidate,

    // Sequence and timestamp tracking.
    have_ref: bool,
    /// The highest extended sequence number received.
    highest_seq: i64,
    /// The extended timestamp of that packet: the reference for unwrapping timestamps.
    ref_ts: i64,
    /// A bit per recent sequence number (`ext_seq mod HISTORY`), for duplicates.
    history: [u64; HISTORY_WORDS],
    /// The previous packet in arrival order (extended seq and timestamp).
    prev_arrival: Option<(i64, i64)>,
    /// A new timestamp step seen once, adopted when seen again.
    step_candidate: i64,
    /// Samples per frame.
    frame: i64,
    /// The average payload length, times 16.
    avg_len_x16: u64,

    // Delay estimation.
    delay: DelayEstimator,
    prev_transit: Option<i64>,
    interarrival_us: f64,

    // Playout.
    mode: Mode,
    play_ts: i64,
    over: u32,
    under: u32,
    since_adjust: u32,
    drop_wait: u32,
    conceal_run: u32,
    last_delay_us: i64,
    last_frame: Option<LastFrame>,
    /// The sequence number of the last packet played (or dropped on purpose) in this
    /// talk-spurt: a gap after it is loss.
    last_seq: Option<i64>,
    /// Recent loss (packets missing at their playout time), a moving average over about 256
    /// frames, times 65536.
    loss_x16: i64,
    /// Whether the buffer holds a frame more for FEC (loss seen, `cfg.fec`).
    fec_margin: bool,

    counters: Counters,
}

impl fmt::Debug for JitterBuffer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JitterBuffer")
            .field("config", &self.cfg)
            .field("mode", &self.mode)
            .field("play_ts", &self.play_ts)
            .field("buffered", &self.used)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl JitterBuffer {
    /// A buffer with all its storage allocated.
    pub fn new(cfg: JitterConfig) -> Self {
        let cfg = cfg.sanitized();
        let clock = i64::from(cfg.clock_rate);
        let frame = (clock * i64::from(cfg.frame_ms) / 1000).max(1);
        let min_delay_us = i64::from(cfg.min_delay_ms) * 1000;
        let max_delay_us = i64::from(cfg.max_delay_ms) * 1000;
        Self {
            cfg,
            clock,
            min_frame: (clock / 400).max(1),
            max_frame: (clock * MAX_FRAME_MS / 1000).max(frame),
            max_delay_us,
            slots: vec![Slot::default(); cfg.capacity],
            data: vec![0; (cfg.capacity + 1) * cfg.max_payload],
            used: 0,
            cand: Candidate::default(),
            have_ref: false,
            highest_seq: 0,
            ref_ts: 0,
            history: [0; HISTORY_WORDS],
            prev_arrival: None,
            step_candidate: 0,
            frame,
            avg_len_x16: 0,
            delay: DelayEstimator::new(min_delay_us, max_delay_us, frame * 1_000_000 / clock),
            prev_transit: None,
            interarrival_us: 0.0,
            mode: Mode::Waiting,
            play_ts: 0,
            over: 0,
            under: 0,
            since_adjust: 0,
            drop_wait: 0,
            conceal_run: 0,
            last_delay_us: 0,
            last_frame: None,
            last_seq: None,
            loss_x16: 0,
            fec_margin: false,
            counters: Counters::default(),
        }
    }

    /// The configuration in use (after correction of out-of-range values).
    pub fn config(&self) -> JitterConfig {
        self.cfg
    }

    /// The frame duration learnt from the timestamps, in samples: what one
    /// [`Playout::Conceal`] or [`Playout::Silence`] stands for.
    pub fn samples_per_frame(&self) -> u32 {
        u32::try_from(self.frame).unwrap_or(u32::MAX)
    }

    /// Packets in the buffer.
    pub fn len(&self) -> usize {
        self.used
    }

    /// Whether the buffer holds no packet.
    pub fn is_empty(&self) -> bool {
        self.used == 0
    }

    /// Forgets the stream (for a new SSRC): the buffer starts again as new, keeping its
    /// counters and its target delay (the network is likely the same).
    pub fn reset(&mut self) {
        self.clear_stream();
    }

    /// Takes a packet that arrived at `now_us` (receiver's monotonic clock, µs).
    pub fn push(&mut self, now_us: u64, seq: u16, timestamp: u32, payload: &[u8]) -> PushOutcome {
        self.counters.received += 1;
        if payload.len() > self.cfg.max_payload {
            self.counters.invalid += 1;
            return PushOutcome::TooLarge;
        }
        if payload.is_empty() {
            self.counters.invalid += 1;
            return PushOutcome::Empty;
        }
        if !self.have_ref {
            self.init_ref(seq, timestamp);
        }
        let (ds, ext_ts) = self.unwrap(seq, timestamp);
        let transit = micros(now_us) - self.ts_to_us(ext_ts);
        let ts_ok = !self.delay.is_known() || (transit - self.delay.base_us()).abs() <= JUMP_US;
        let seq_ok = (-MAX_MISORDER..=MAX_DROPOUT).contains(&ds);
        if ts_ok && seq_ok {
            self.accept(now_us, seq, timestamp, Src::Bytes(payload))
        } else {
            self.probation(now_us, seq, timestamp, payload)
        }
    }

    /// What to play now (`now_us` on the receiver's monotonic clock, µs): call once per
    /// frame period (see the module documentation).
    pub fn pop(&mut self, now_us: u64) -> Playout<'_> {
        let now = micros(now_us);
        self.delay.decay(now, self.frame_us());
        let last = self.last_frame.take();
        let out = if self.mode != Mode::Playing && !self.try_start(now) {
            if self.mode == Mode::Gap {
                self.play_ts += self.frame;
            }
            Out::Silence
        } else {
            self.play(now, last)
        };
        match out {
            Out::Frame(i) => Playout::Frame {
                payload: self.payload(i),
                timestamp: self.slots[i].ts,
            },
            Out::Conceal(fec) => Playout::Conceal {
                fec: fec.map(|i| self.payload(i)),
            },
            Out::Silence => Playout::Silence,
        }
    }

    /// The current state and counters.
    pub fn stats(&self) -> JitterStats {
        let c = self.counters;
        let queued_us = match (self.latest(), self.earliest()) {
            (Some(last), Some(first)) => {
                let from = if self.mode == Mode::Playing {
                    self.play_ts
                } else {
                    self.slots[first].ext_ts
                };
                self.samples_to_us(self.slots[last].ext_ts + self.frame - from)
            }
            _ => 0,
        };
        JitterStats {
            target_delay_ms: ms(self.delay.target_us()),
            buffered_delay_ms: ms(self.last_delay_us),
            queued_ms: ms(queued_us),
            jitter_ms: self.delay.jitter_us() as f32 / 1000.0,
            interarrival_jitter_ms: (self.interarrival_us / 1000.0) as f32,
            frame_ms: self.frame_us() as f32 / 1000.0,
            received: c.received,
            duplicates: c.duplicates,
            late: c.late,
            reordered: c.reordered,
            concealed: c.concealed,
            fec: c.fec,
            resets: c.resets,
            dropped: c.dropped,
            inserted: c.inserted,
            overflows: c.overflows,
            invalid: c.invalid,
        }
    }

    // ----- Push -----

    /// Stores a packet that belongs to the stream, or says why not.
    fn accept(&mut self, now_us: u64, seq: u16, ts: u32, src: Src<'_>) -> PushOutcome {
        let (ds, ext_ts) = self.unwrap(seq, ts);
        let ext_seq = self.highest_seq + ds;
        if self.history_contains(ext_seq) {
            self.counters.duplicates += 1;
            return PushOutcome::Duplicate;
        }
        self.history_insert(ext_seq);
        let newer = ds > 0;
        if newer {
            self.highest_seq = ext_seq;
            self.ref_ts = ext_ts;
        } else if ds < 0 {
            self.counters.reordered += 1;
        }

        let transit = micros(now_us) - self.ts_to_us(ext_ts);
        let inconsistent = self.delay.is_known()
            && (transit - self.delay.base_us()).abs() > self.rebase_threshold_us();
        self.update_interarrival(transit, inconsistent);
        self.update_frame_estimate(now_us, ext_seq, ext_ts);
        let len = match src {
            Src::Bytes(p) => p.len(),
            Src::Probation(len) => len,
        };
        self.update_avg_len(len);

        let late = match self.mode {
            Mode::Playing if ext_ts < self.play_ts => {
                match self.last_frame {
                    // The successor of the frame just played, behind the playout point: that
                    // frame was shorter than the duration guessed for it (its successor was not
                    // here yet), and nothing has been played since. Move the point back to it.
                    Some(last) if ext_seq == last.ext_seq + 1 && ext_ts > last.ext_ts => {
                        self.play_ts = ext_ts;
                        false
                    }
                    _ => true,
                }
            }
            Mode::Playing => false,
            // In a gap the playout point runs on virtually: what is behind it is a straggler of
            // the last talk-spurt, unless it is new (then the sender's timestamps stood still
            // or the network slowed down, and it starts the next talk-spurt).
            Mode::Gap => ext_ts < self.play_ts && !newer,
            Mode::Waiting => false,
        };
        if late {
            if !inconsistent {
                self.delay.add(micros(now_us), transit, self.frame_us());
            }
            self.counters.late += 1;
            return PushOutcome::TooLate;
        }
        if !inconsistent {
            self.delay.add(micros(now_us), transit, self.frame_us());
        } else if self.mode != Mode::Playing {
            // Nothing is playing and this packet disagrees with the base by more than any
            // useful delay: the old base is stale (timestamps stood still, or jumped by less
            // than a restart). Start the window afresh.
            self.delay.clear();
            self.delay.add(micros(now_us), transit, self.frame_us());
        }
        // While playing, such a packet is not allowed to move the base: if it is a stray it
        // is dropped as late or ignored, and if the stream really moved, playout runs dry, goes
        // silent, and the next packet rebuilds the window (above).
        self.store(ext_seq, ext_ts, ts, now_us, src)
    }

    /// Handles a packet far outside the stream: holds it, or confirms a restart.
    fn probation(&mut self, now_us: u64, seq: u16, ts: u32, payload: &[u8]) -> PushOutcome {
        let c = self.cand;
        if c.valid {
            let dseq = i64::from(seq.wrapping_sub(c.seq) as i16);
            let dts = i64::from(ts.wrapping_sub(c.ts) as i32);
            let elapsed = micros(now_us) - micros(c.arrival_us);
            let skew = elapsed - self.samples_to_us(dts);
            if dseq != 0
                && dseq.abs() <= PROBATION_SEQ
                && (0..=PROBATION_US).contains(&elapsed)
                && skew.abs() <= self.rebase_threshold_us()
            {
                return self.restart(now_us, seq, ts, payload);
            }
        }
        let start = self.cfg.capacity * self.cfg.max_payload;
        self.data[start..start + payload.len()].copy_from_slice(payload);
        self.cand = Candidate {
            valid: true,
            seq,
            ts,
            arrival_us: now_us,
            len: payload.len(),
        };
        PushOutcome::Probation
    }

    /// The stream restarted: start again from the packet on probation and this one.
    fn restart(&mut self, now_us: u64, seq: u16, ts: u32, payload: &[u8]) -> PushOutcome {
        let c = self.cand;
        self.clear_stream();
        self.counters.resets += 1;
        self.init_ref(c.seq, c.ts);
        self.accept(c.arrival_us, c.seq, c.ts, Src::Probation(c.len));
        self.accept(now_us, seq, ts, Src::Bytes(payload));
        PushOutcome::Reset
    }

    /// Puts a packet in a free slot (evicting the oldest if the buffer is full).
    fn store(
        &mut self,
        ext_seq: i64,
        ext_ts: i64,
        ts: u32,
        arrival_us: u64,
        src: Src<'_>,
    ) -> PushOutcome {
        let index = match self.slots.iter().position(|s| !s.used) {
            Some(i) => i,
            None => {
                let Some(oldest) = self.earliest() else {
                    return PushOutcome::Overflow;
                };
                self.counters.overflows += 1;
                if self.slots[oldest].ext_ts > ext_ts {
                    return PushOutcome::Overflow;
                }
                self.free(oldest);
                oldest
            }
        };
        let start = index * self.cfg.max_payload;
        let len = match src {
            Src::Bytes(p) => {
                self.data[start..start + p.len()].copy_from_slice(p);
                p.len()
            }
            Src::Probation(len) => {
                let from = self.cfg.capacity * self.cfg.max_payload;
                self.data.copy_within(from..from + len, start);
                len
            }
        };
        self.slots[index] = Slot {
            used: true,
            ext_seq,
            ext_ts,
            ts,
            len,
            arrival_us,
        };
        self.used += 1;
        PushOutcome::Stored
    }

    fn init_ref(&mut self, seq: u16, ts: u32) {
        self.have_ref = true;
        self.highest_seq = i64::from(seq);
        self.ref_ts = i64::from(ts);
    }

    /// The sequence number's distance from the highest received, and the extended timestamp.
    fn unwrap(&self, seq: u16, ts: u32) -> (i64, i64) {
        let ds = i64::from(seq.wrapping_sub(self.highest_seq as u16) as i16);
        let dt = i64::from(ts.wrapping_sub(self.ref_ts as u32) as i32);
        (ds, self.ref_ts + dt)
    }

    fn history_contains(&self, ext_seq: i64) -> bool {
        if ext_seq > self.highest_seq || ext_seq <= self.highest_seq - HISTORY as i64 {
            return false;
        }
        let bit = ext_seq.rem_euclid(HISTORY as i64) as usize;
        self.history[bit / 64] & (1 << (bit % 64)) != 0
    }

    fn history_insert(&mut self, ext_seq: i64) {
        if ext_seq > self.highest_seq {
            if ext_seq - self.highest_seq >= HISTORY as i64 {
                self.history = [0; HISTORY_WORDS];
            } else {
                for s in self.highest_seq + 1..ext_seq {
                    let bit = s.rem_euclid(HISTORY as i64) as usize;
                    self.history[bit / 64] &= !(1 << (bit % 64));
                }
            }
        }
        if ext_seq > self.highest_seq - HISTORY as i64 {
            let bit = ext_seq.rem_euclid(HISTORY as i64) as usize;
            self.history[bit / 64] |= 1 << (bit % 64);
        }
    }

    /// RFC 3550 §6.4.1 interarrival jitter, in arrival order.
    fn update_interarrival(&mut self, transit: i64, inconsistent: bool) {
        if let Some(prev) = self.prev_transit
            && !inconsistent
        {
            let d = (transit - prev).abs() as f64;
            self.interarrival_us += (d - self.interarrival_us) / 16.0;
        }
        self.prev_transit = Some(transit);
    }

    /// Learns the frame duration from packets with consecutive sequence numbers.
    fn update_frame_estimate(&mut self, now_us: u64, ext_seq: i64, ext_ts: i64) {
        if let Some((prev_seq, prev_ts)) = self.prev_arrival {
            let step = match ext_seq - prev_seq {
                1 => ext_ts - prev_ts,
                -1 => prev_ts - ext_ts,
                _ => 0,
            };
            if (self.min_frame..=self.max_frame).contains(&step) {
                if step == self.frame {
                    self.step_candidate = 0;
                } else if step == self.step_candidate {
                    self.frame = step;
                    self.step_candidate = 0;
                    self.delay.frame_changed(micros(now_us), self.frame_us());
                } else {
                    self.step_candidate = step;
                }
            }
        }
        self.prev_arrival = Some((ext_seq, ext_ts));
    }

    fn update_avg_len(&mut self, len: usize) {
        let len_x16 = len as u64 * 16;
        if self.avg_len_x16 == 0 {
            self.avg_len_x16 = len_x16;
        } else {
            self.avg_len_x16 = (self.avg_len_x16 * 15 + len_x16) / 16;
        }
    }

    /// Rebuilds the delay window from the packets in the buffer.
    fn rebase_from_buffer(&mut self, now: i64) {
        let clock = self.clock;
        let transits = self
            .slots
            .iter()
            .filter(|s| s.used)
            .map(|s| micros(s.arrival_us) - ts_to_us(s.ext_ts, clock));
        self.delay.rebuild(now, transits, self.frame_us());
    }

    /// Transit differences beyond this are not jitter but a timeline that moved.
    fn rebase_threshold_us(&self) -> i64 {
        self.max_delay_us + 2 * self.frame_us()
    }

    // ----- Pop -----

    /// Starts (or restarts) playout when the earliest packet has waited for the target delay.
    fn try_start(&mut self, now: i64) -> bool {
        if self.used == 0 {
            return false;
        }
        if !self.delay.is_known() {
            self.rebase_from_buffer(now);
        }
        let half = self.frame_us() / 2;
        let Some(mut first) = self.earliest() else {
            return false;
        };
        let mut delay = self.delay_at(now, self.slots[first].ext_ts);
        // Skip stale packets while a later one has waited long enough too.
        while delay >= self.delay.target_us() + half {
            let Some(next) = self.next_after(first) else {
                break;
            };
            let next_delay = self.delay_at(now, self.slots[next].ext_ts);
            if next_delay < self.delay.target_us() - half {
                break;
            }
            self.free(first);
            self.counters.dropped += 1;
            first = next;
            delay = next_delay;
        }
        if delay - self.delay.target_us() > self.max_delay_us {
            // Even the newest packet is far behind the base: the base is stale.
            self.rebase_from_buffer(now);
            delay = self.delay_at(now, self.slots[first].ext_ts);
        }
        if delay < self.delay.target_us() - half {
            return false;
        }
        self.mode = Mode::Playing;
        self.last_seq = None;
        self.play_ts = self.slots[first].ext_ts;
        self.over = 0;
        self.under = 0;
        self.drop_wait = 0;
        self.since_adjust = 0;
        self.conceal_run = 0;
        true
    }

    /// One pop while playing; `last` is the frame the previous pop output, if any.
    fn play(&mut self, now: i64, last: Option<LastFrame>) -> Out {
        self.purge_stale();
        let mut delay = self.delay_at(now, self.play_ts);
        if delay - self.delay.target_us() > self.max_delay_us {
            // Far too much delay (the caller stopped popping, say): restart playout.
            self.mode = Mode::Gap;
            if !self.try_start(now) {
                self.play_ts += self.frame;
                return Out::Silence;
            }
            delay = self.delay_at(now, self.play_ts);
        }

        let frame_us = self.frame_us();
        let half = frame_us / 2;
        let hysteresis = frame_us / 8;
        let low = self.delay.target_us() - half - hysteresis;
        let high = self.delay.target_us() + half + hysteresis;
        self.under = if delay < low {
            self.under.saturating_add(1)
        } else {
            0
        };
        if delay >= high {
            self.over = self.over.saturating_add(1);
        } else {
            self.over = 0;
            self.drop_wait = 0;
        }
        self.since_adjust = self.since_adjust.saturating_add(1);
        let want_drop = self.over >= self.frames(DROP_PERSIST_MS)
            && self.since_adjust >= self.frames(DROP_SPACING_MS);
        let max_conceal = self.frames(MAX_CONCEAL_MS);

        let tolerance = (self.frame / 2).max(1);
        let current = self.earliest();
        let gap = current.map(|c| self.slots[c].ext_ts - self.play_ts);

        if let (Some(c), Some(g)) = (current, gap)
            && g < tolerance
        {
            // The frame due is here.
            if self.under >= INSERT_PERSIST
                && self.since_adjust >= self.frames(INSERT_SPACING_MS)
                && self.conceal_run < max_conceal
            {
                return self.insert(delay);
            }
            if want_drop {
                let quiet = self.slots[c].len as u64 * 16 <= self.avg_len_x16
                    || self.drop_wait >= self.frames(DROP_PATIENCE_MS);
                if quiet && let Some(next) = self.successor(c) {
                    self.last_seq = Some(self.slots[c].ext_seq);
                    self.free(c);
                    self.counters.dropped += 1;
                    self.adjusted();
                    return self.emit(next, now);
                }
                self.drop_wait += 1;
            }
            return self.emit(c, now);
        }

        // The frame due is missing. Unless: the packet that follows the frame just played is
        // here, and the caller's clock says that frame lasted until this one's timestamp (its
        // delay is the same). Then the duration guessed for it was short (its successor was not
        // here yet when it played, and the packet time changed): nothing is missing.
        if let (Some(c), Some(g), Some(last)) = (current, gap, last)
            && self.slots[c].ext_seq == last.ext_seq + 1
            && g <= self.max_frame
            && (self.delay_at(now, self.slots[c].ext_ts) - last.delay_us).abs() < half
        {
            return self.emit(c, now);
        }
        if self.conceal_run >= max_conceal {
            self.mode = Mode::Gap;
            self.play_ts += self.frame;
            self.adjusted();
            return Out::Silence;
        }
        if delay < low {
            // Too little delay and the packet is missing: it is probably late. Wait for it.
            return self.insert(delay);
        }
        if want_drop
            && let (Some(c), Some(g)) = (current, gap)
            && g <= self.frame + tolerance
        {
            // Too much delay: skip the missing frame instead of concealing it.
            self.counters.dropped += 1;
            self.adjusted();
            return self.emit(c, now);
        }
        let fec = match (current, gap) {
            (Some(c), Some(g)) if g <= self.frame => Some(c),
            _ => None,
        };
        let step = match gap {
            Some(g) if g < self.frame => g,
            _ => self.frame,
        };
        self.play_ts += step;
        self.counters.concealed += 1;
        if fec.is_some() {
            self.counters.fec += 1;
        }
        self.conceal_run += 1;
        self.last_delay_us = delay;
        Out::Conceal(fec)
    }

    /// A concealed frame that does not advance the playout point: one frame more delay.
    fn insert(&mut self, delay: i64) -> Out {
        self.counters.inserted += 1;
        self.conceal_run += 1;
        self.last_delay_us = delay;
        self.adjusted();
        Out::Conceal(None)
    }

    /// Plays the packet in slot `i`.
    fn emit(&mut self, i: usize, now: i64) -> Out {
        self.count_loss(self.slots[i].ext_seq, now);
        let duration = self.duration_of(i);
        let ext_ts = self.slots[i].ext_ts;
        self.play_ts = ext_ts + duration;
        self.last_delay_us = self.delay_at(now, ext_ts);
        self.last_frame = Some(LastFrame {
            ext_seq: self.slots[i].ext_seq,
            ext_ts,
            delay_us: self.last_delay_us,
        });
        self.conceal_run = 0;
        // The payload stays in place until the next push: `pop`'s borrow covers it.
        self.free(i);
        Out::Frame(i)
    }

    /// Loss seen at playout: packets missing between the last one played and this one.
    /// Turns the FEC margin on above 1 % and off below 0.5 %.
    fn count_loss(&mut self, ext_seq: i64, now: i64) {
        let missing = self
            .last_seq
            .map_or(0, |last| (ext_seq - last - 1).clamp(0, LOSS_WINDOW));
        for lost in std::iter::repeat_n(1, missing as usize).chain([0]) {
            self.loss_x16 += ((lost << 16) - self.loss_x16) / LOSS_WINDOW;
        }
        self.last_seq = Some(ext_seq);
        let margin = if self.fec_margin {
            self.loss_x16 > (1 << 16) / 200
        } else {
            self.loss_x16 > (1 << 16) / 100
        };
        if margin != self.fec_margin && self.cfg.fec {
            self.fec_margin = margin;
            let extra = if margin { self.frame_us() } else { 0 };
            self.delay.set_margin(now, extra, self.frame_us());
        }
    }

    fn adjusted(&mut self) {
        self.since_adjust = 0;
        self.over = 0;
        self.under = 0;
        self.drop_wait = 0;
    }

    /// Removes packets the playout point has passed (none in normal operation).
    fn purge_stale(&mut self) {
        for i in 0..self.slots.len() {
            if self.slots[i].used && self.slots[i].ext_ts < self.play_ts {
                self.free(i);
                self.counters.late += 1;
            }
        }
    }

    /// How long a packet with this timestamp that took the fastest path has waited at `now`.
    fn delay_at(&self, now: i64, ext_ts: i64) -> i64 {
        now - self.ts_to_us(ext_ts) - self.delay.base_us()
    }

    /// The duration of the packet in slot `i`, in samples: from its successor in sequence if
    /// that is here, else the learnt frame size; never past the next buffered packet.
    fn duration_of(&self, i: usize) -> i64 {
        let s = self.slots[i];
        let mut duration = self.frame;
        let mut next_ts: Option<i64> = None;
        for o in self.slots.iter().filter(|o| o.used) {
            if o.ext_seq == s.ext_seq + 1 {
                let step = o.ext_ts - s.ext_ts;
                if (self.min_frame..=self.max_frame).contains(&step) {
                    duration = step;
                }
            }
            if o.ext_ts > s.ext_ts && next_ts.is_none_or(|n| o.ext_ts < n) {
                next_ts = Some(o.ext_ts);
            }
        }
        match next_ts {
            Some(n) => duration.min(n - s.ext_ts),
            None => duration,
        }
    }

    /// The packet that follows slot `c` without a gap, if buffered.
    fn successor(&self, c: usize) -> Option<usize> {
        let next = self.next_after(c)?;
        let end = self.slots[c].ext_ts + self.duration_of(c);
        (self.slots[next].ext_ts - end < (self.frame / 2).max(1)).then_some(next)
    }

    fn earliest(&self) -> Option<usize> {
        let mut best: Option<usize> = None;
        for (i, s) in self.slots.iter().enumerate() {
            if s.used && best.is_none_or(|b| s.ext_ts < self.slots[b].ext_ts) {
                best = Some(i);
            }
        }
        best
    }

    fn latest(&self) -> Option<usize> {
        let mut best: Option<usize> = None;
        for (i, s) in self.slots.iter().enumerate() {
            if s.used && best.is_none_or(|b| s.ext_ts > self.slots[b].ext_ts) {
                best = Some(i);
            }
        }
        best
    }

    /// The buffered packet with the smallest timestamp after slot `i`'s.
    fn next_after(&self, i: usize) -> Option<usize> {
        let ts = self.slots[i].ext_ts;
        let mut best: Option<usize> = None;
        for (j, s) in self.slots.iter().enumerate() {
            if s.used && s.ext_ts > ts && best.is_none_or(|b| s.ext_ts < self.slots[b].ext_ts) {
                best = Some(j);
            }
        }
        best
    }

    fn free(&mut self, i: usize) {
        if self.slots[i].used {
            self.slots[i].used = false;
            self.used -= 1;
        }
    }

    fn payload(&self, i: usize) -> &[u8] {
        let start = i * self.cfg.max_payload;
        &self.data[start..start + self.slots[i].len]
    }

    /// Forgets the stream, keeping the counters, the target and the frame size.
    fn clear_stream(&mut self) {
        for s in &mut self.slots {
            s.used = false;
        }
        self.used = 0;
        self.cand.valid = false;
        self.have_ref = false;
        self.history = [0; HISTORY_WORDS];
        self.prev_arrival = None;
        self.step_candidate = 0;
        self.delay.clear();
        self.prev_transit = None;
        self.last_frame = None;
        self.mode = Mode::Waiting;
        self.adjusted();
        self.conceal_run = 0;
    }

    // ----- Units -----

    /// A duration as a number of frames of the current size (rounded up, at least one).
    fn frames(&self, ms: i64) -> u32 {
        let frames = (ms * 1000 + self.frame_us() - 1) / self.frame_us().max(1);
        u32::try_from(frames.max(1)).unwrap_or(u32::MAX)
    }

    fn frame_us(&self) -> i64 {
        self.samples_to_us(self.frame)
    }

    fn samples_to_us(&self, samples: i64) -> i64 {
        samples * 1_000_000 / self.clock
    }

    fn ts_to_us(&self, ext_ts: i64) -> i64 {
        ts_to_us(ext_ts, self.clock)
    }
}

/// An extended timestamp as microseconds of its clock (rounded down, also below zero).
fn ts_to_us(ext_ts: i64, clock: i64) -> i64 {
    (ext_ts * 1_000_000).div_euclid(clock)
}

/// The receiver's clock as a signed number (clamped: see [`MAX_CLOCK_US`]).
fn micros(us: u64) -> i64 {
    i64::try_from(us).unwrap_or(MAX_CLOCK_US).min(MAX_CLOCK_US)
}

/// Microseconds as whole milliseconds, rounded, at least zero.
fn ms(us: i64) -> u32 {
    u32::try_from((us.max(0) + 500) / 1000).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests;
