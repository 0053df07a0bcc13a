//! The jitter buffer's delay estimator: base, jitter percentile, target, and delay peaks.
//!
//! Every packet gives a *transit* sample (arrival time minus timestamp, in µs). The last
//! [`WINDOW`] samples are kept; their minimum is the *base* (the fastest recent path), and the
//! 97th percentile of `transit - base` the *jitter*. The target delay is
//! `clamp(jitter + headroom)` (see [`headroom`]); it rises at once and falls slowly (see [`DelayEstimator::decay`]).
//!
//! **Peaks.** A sender (or receiver) that stalls for 400 ms and then sends everything at once
//! produces a burst of samples from 400 ms down to nothing. Counted as jitter, that lifts the
//! target to 400 ms for the next 2.5 s, and then lets it down over seconds more: a single hiccup
//! would cost several seconds of needless delay, and the stall itself is lost anyway. So a
//! sample far above the target (more than twice it and more than [`PEAK_MARGIN_US`] above it)
//! is a *peak*: it is kept out of the percentile, and the samples that follow it while they are
//! still that high belong to the same peak. Peaks are remembered (onset time and height). When
//! two peaks come within [`PEAK_PERIOD_US`] of each other, they are a pattern, not an accident:
//! the target then covers the highest recent peak, until no peak has been seen for
//! [`PEAK_HOLD_US`] (the idea of WebRTC NetEq's delay peak detector, written afresh here).
//! A run of peak samples that goes on for more than [`PEAK_RUN_US`] of arrival time is not a
//! burst but a slower path: its samples count as jitter after all, so the target follows a
//! route change at once as before.

/// What the target holds above the jitter: the playout band's half-width (half a frame and an
/// eighth, see `JitterBuffer::play`) and 3 ms, so that the band's low edge sits 3 ms above the
/// jitter percentile. Packets reach the receiver at a fixed phase to its playout ticks, so a
/// packet's wait settles at that phase plus whole frames, anywhere in the band: on a clean
/// network from 3 to 28 ms, 15.5 on average. A whole frame of headroom (before) kept it
/// between 7.5 and 32.5 ms, 20 on average. With 1 ms instead of 3, a receiver whose clock runs
/// 0.5 % fast had a packet come late before nearly every frame it inserted.
pub(super) fn headroom(frame_us: i64) -> i64 {
    frame_us / 2 + frame_us / 8 + 3_000
}

/// Transit samples the estimator looks at: about 2.5 s of 20 ms packets.
pub(super) const WINDOW: usize = 128;
/// The jitter percentile of the window: the three largest samples of 128 are ignored.
const PERCENTILE: usize = 97;
/// The target falls with this time constant once the high samples have left the window.
const DECAY_MS: i64 = 2560;
/// A peak is this far above the target (and more than twice the target).
const PEAK_MARGIN_US: i64 = 80_000;
/// Peaks this close together are a pattern: the target covers them.
const PEAK_PERIOD_US: i64 = 10_000_000;
/// The target covers peaks until none has been seen for this long.
const PEAK_HOLD_US: i64 = 20_000_000;
/// A run of peak samples longer than this (in arrival time) is a slower path, not a burst.
const PEAK_RUN_US: i64 = 200_000;
/// High samples this close together (in arrival time) belong to the same run, even with
/// normal ones between them (a burst is not always in order).
const PEAK_GAP_US: i64 = 100_000;
/// Peaks remembered.
const PEAKS: usize = 8;

#[derive(Debug, Clone, Copy, Default)]
struct Peak {
    onset_us: i64,
    height_us: i64,
}

/// Base, jitter and target delay from the transit times of the packets (sans-IO, no
/// allocation after [`DelayEstimator::new`]).
#[derive(Debug)]
pub(super) struct DelayEstimator {
    min_delay_us: i64,
    max_delay_us: i64,
    window: Vec<i64>,
    /// Whether the sample at the same index of `window` is a peak.
    peak: Vec<bool>,
    scratch: Vec<i64>,
    len: usize,
    pos: usize,
    base_us: i64,
    /// Whether `base_us` comes from the current window (not from before it was cleared).
    base_known: bool,
    jitter_us: i64,
    /// Added to the target (one frame while FEC is worth waiting for).
    margin_us: i64,
    /// The target without peaks: what the percentile alone asks for.
    calm_target_us: i64,
    /// The target the buffer should move to now (with peaks when they are a pattern).
    raw_target_us: i64,
    /// The target in use: `raw_target_us`, or above it while falling.
    target_us: i64,
    peaks: [Peak; PEAKS],
    /// Peaks recorded (`peaks` is a ring; the newest at `(peak_count - 1) % PEAKS`).
    peak_count: usize,
    run: Run,
}

/// The run of high samples going on: high samples no more than [`PEAK_GAP_US`] apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Run {
    None,
    /// A peak: when it began, and when its last high sample arrived.
    Peak {
        onset_us: i64,
        last_us: i64,
    },
    /// High for too long: a slower path, not a peak. When its last high sample arrived.
    Slower {
        last_us: i64,
    },
}

impl DelayEstimator {
    pub(super) fn new(min_delay_us: i64, max_delay_us: i64, frame_us: i64) -> Self {
        let mut e = Self {
            min_delay_us,
            max_delay_us,
            window: vec![0; WINDOW],
            peak: vec![false; WINDOW],
            scratch: vec![0; WINDOW],
            len: 0,
            pos: 0,
            base_us: 0,
            base_known: false,
            jitter_us: 0,
            margin_us: 0,
            calm_target_us: 0,
            raw_target_us: 0,
            target_us: 0,
            peaks: [Peak::default(); PEAKS],
            peak_count: 0,
            run: Run::None,
        };
        e.calm_target_us = e.clamp(headroom(frame_us));
        e.raw_target_us = e.calm_target_us;
        e.target_us = e.raw_target_us;
        e
    }

    /// Whether the window holds any sample.
    pub(super) fn is_known(&self) -> bool {
        self.len > 0
    }

    /// The fastest recent transit (meaningful when [`is_known`](Self::is_known)).
    pub(super) fn base_us(&self) -> i64 {
        self.base_us
    }

    pub(super) fn jitter_us(&self) -> i64 {
        self.jitter_us
    }

    pub(super) fn target_us(&self) -> i64 {
        self.target_us
    }

    /// Adds the transit of a packet that arrived at `now_us`.
    pub(super) fn add(&mut self, now_us: i64, transit: i64, frame_us: i64) {
        let is_peak = self.classify(now_us, transit);
        self.window[self.pos] = transit;
        self.peak[self.pos] = is_peak;
        self.pos = (self.pos + 1) % WINDOW;
        self.len = (self.len + 1).min(WINDOW);
        self.update(now_us, frame_us);
    }

    /// Forgets the samples (not the target, nor the peaks seen).
    pub(super) fn clear(&mut self) {
        self.len = 0;
        self.pos = 0;
        self.base_known = false;
        self.run = Run::None;
    }

    /// Starts the window afresh from these transit samples (none of them a peak).
    pub(super) fn rebuild(
        &mut self,
        now_us: i64,
        transits: impl Iterator<Item = i64>,
        frame_us: i64,
    ) {
        self.clear();
        for transit in transits {
            self.window[self.pos] = transit;
            self.peak[self.pos] = false;
            self.pos = (self.pos + 1) % WINDOW;
            self.len = (self.len + 1).min(WINDOW);
        }
        if self.len > 0 {
            self.update(now_us, frame_us);
        }
    }

    /// The frame size changed: the target holds one frame of margin, so it moves with the
    /// frame size at once (only its jitter part is meant to fall slowly).
    pub(super) fn frame_changed(&mut self, now_us: i64, frame_us: i64) {
        let old_raw = self.raw_target_us;
        self.calm_target_us = self.clamp(self.jitter_us + headroom(frame_us) + self.margin_us);
        self.raw_target_us = self.with_peaks(now_us, frame_us);
        let target = self.target_us + self.raw_target_us - old_raw;
        self.target_us = self.clamp(target).max(self.raw_target_us);
    }

    /// Sets the margin added to the target: it rises at once, and falls slowly.
    pub(super) fn set_margin(&mut self, now_us: i64, margin_us: i64, frame_us: i64) {
        self.margin_us = margin_us;
        self.calm_target_us = self.clamp(self.jitter_us + headroom(frame_us) + self.margin_us);
        self.raw_target_us = self.with_peaks(now_us, frame_us);
        self.target_us = self.target_us.max(self.raw_target_us);
    }

    /// One frame passed: the target falls towards the raw target, exponentially with a time
    /// constant of [`DECAY_MS`]; peaks that are no longer a pattern stop counting.
    pub(super) fn decay(&mut self, now_us: i64, frame_us: i64) {
        self.raw_target_us = self.with_peaks(now_us, frame_us);
        if self.target_us > self.raw_target_us {
            let excess = self.target_us - self.raw_target_us;
            let step = (excess * frame_us / (DECAY_MS * 1000)).max(1);
            self.target_us = (self.target_us - step).max(self.raw_target_us);
        }
    }

    /// Whether a new sample is a peak; records peaks and recognises slower paths.
    fn classify(&mut self, now_us: i64, transit: i64) -> bool {
        let excess = transit - self.base_us;
        let calm = self.calm_target_us;
        if self.len == 0 {
            self.run = Run::None;
            return false;
        }
        if excess <= (2 * calm).max(calm + PEAK_MARGIN_US) {
            return false;
        }
        match self.run {
            Run::Peak { onset_us, last_us } if now_us - last_us <= PEAK_GAP_US => {
                if now_us - onset_us <= PEAK_RUN_US {
                    self.run = Run::Peak {
                        onset_us,
                        last_us: now_us,
                    };
                    let newest = &mut self.peaks[(self.peak_count - 1) % PEAKS];
                    newest.height_us = newest.height_us.max(excess);
                    return true;
                }
                // Still high after all this time: the path got slower. This run was no peak.
                self.run = Run::Slower { last_us: now_us };
                self.peak_count -= 1;
                self.peak.iter_mut().for_each(|p| *p = false);
                false
            }
            Run::Slower { last_us } if now_us - last_us <= PEAK_GAP_US => {
                self.run = Run::Slower { last_us: now_us };
                false
            }
            _ => {
                self.run = Run::Peak {
                    onset_us: now_us,
                    last_us: now_us,
                };
                self.peaks[self.peak_count % PEAKS] = Peak {
                    onset_us: now_us,
                    height_us: excess,
                };
                self.peak_count += 1;
                true
            }
        }
    }

    /// Base, jitter percentile and target from the window (an in-place sort of a copy).
    fn update(&mut self, now_us: i64, frame_us: i64) {
        let n = self.len;
        let mut m = 0;
        let mut min = i64::MAX;
        for (&t, &p) in self.window[..n].iter().zip(&self.peak[..n]) {
            min = min.min(t);
            if !p {
                self.scratch[m] = t;
                m += 1;
            }
        }
        if m == 0 {
            self.scratch[..n].copy_from_slice(&self.window[..n]);
            m = n;
        }
        let calm = &mut self.scratch[..m];
        calm.sort_unstable();
        let rank = (m * PERCENTILE).div_ceil(100).clamp(1, m) - 1;
        let base_rise = if self.base_known {
            min - self.base_us
        } else {
            0
        };
        self.base_us = min;
        self.base_known = true;
        self.jitter_us = (calm[rank] - min).max(0);
        self.calm_target_us = self.clamp(self.jitter_us + headroom(frame_us) + self.margin_us);
        self.raw_target_us = self.with_peaks(now_us, frame_us);
        if base_rise > 0 {
            // The fastest packets have left the window (the route got slower, or the sender's
            // clock is slow). The target is measured from the base: lower it by as much, so
            // that the playout point stays where it is and only the decay is slow.
            self.target_us -= base_rise;
        }
        // Rise at once; falling is left to `decay`.
        self.target_us = self.target_us.max(self.raw_target_us);
    }

    /// The calm target, raised to cover recent peaks when they are a pattern.
    fn with_peaks(&self, now_us: i64, frame_us: i64) -> i64 {
        let n = self.peak_count.min(PEAKS);
        if n < 2 {
            return self.calm_target_us;
        }
        let newest = self.peaks[(self.peak_count - 1) % PEAKS];
        let previous = self.peaks[(self.peak_count - 2) % PEAKS];
        if newest.onset_us - previous.onset_us > PEAK_PERIOD_US
            || now_us - newest.onset_us > PEAK_HOLD_US
        {
            return self.calm_target_us;
        }
        let highest = (0..n)
            .map(|i| self.peaks[i])
            .filter(|p| now_us - p.onset_us <= PEAK_HOLD_US)
            .map(|p| p.height_us)
            .max()
            .unwrap_or(0);
        self.calm_target_us
            .max(self.clamp(highest + headroom(frame_us)))
    }

    fn clamp(&self, us: i64) -> i64 {
        us.clamp(self.min_delay_us, self.max_delay_us)
    }
}
