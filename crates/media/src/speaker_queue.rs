//! Keeps the speaker's queue short: audio that waits in it is delay on every word.
//!
//! The media task writes a decoded frame for the speaker once per captured frame, and the
//! device takes it in periods. How much is waiting when a frame is written depends on how the
//! two lined up when the call began, or on a stall (the media task fell behind, then wrote
//! several frames at once). With both paced by one clock, that backlog never drains by
//! itself: a call that started 10 ms deep stays 10 ms deep.
//!
//! So the queue is watched just before each write. When, over a whole second, it never fell
//! below [`MARGIN_MS`] plus some excess, that excess was never needed: it is cut from the
//! start of the next quiet frame (a pause between words, where a cut is not heard), or of
//! whatever frame comes after [`PATIENCE_FRAMES`] without a quiet one. The jitter buffer
//! still decides which audio plays; this only removes the wait after it. Sans-IO: the task
//! reports the queue and asks how much of each frame to skip. The task does not cut while
//! the echo canceller runs (a cut shifts the echo against the canceller's speaker signal).

/// Frames in the window the queue's low point is taken over (one second of 20 ms frames).
const WINDOW_FRAMES: u32 = 50;
/// What is kept waiting at the low point: the device's own timing wobbles a little.
const MARGIN_MS: usize = 2;
/// A frame is quiet when no sample goes above this (about -40 dBFS).
const QUIET_PEAK: f32 = 0.01;
/// How long a cut waits for a quiet frame before it is made anyway (two seconds).
const PATIENCE_FRAMES: u32 = 100;

/// The speaker queue's watcher for one call.
#[derive(Debug)]
pub(crate) struct SpeakerQueue {
    margin: usize,
    /// The lowest queue seen before a write in this window, and the writes seen.
    low: usize,
    seen: u32,
    /// Samples still to cut, and the frames waited for a quiet one.
    to_cut: usize,
    waited: u32,
    /// Samples cut so far in the call.
    cut: u64,
}

impl SpeakerQueue {
    pub(crate) fn new(rate: u32) -> Self {
        Self {
            margin: rate as usize / 1000 * MARGIN_MS,
            low: usize::MAX,
            seen: 0,
            to_cut: 0,
            waited: 0,
            cut: 0,
        }
    }

    /// A frame is about to be written with `queued` samples still waiting: how many samples
    /// to leave out from its start (0 unless a cut is due and this is its frame).
    pub(crate) fn before_write(&mut self, queued: usize, frame: &[f32]) -> usize {
        self.low = self.low.min(queued);
        self.seen += 1;
        if self.seen >= WINDOW_FRAMES {
            if self.to_cut == 0 && self.low > self.margin {
                self.to_cut = self.low - self.margin;
                self.waited = 0;
            }
            self.low = usize::MAX;
            self.seen = 0;
        }
        if self.to_cut == 0 {
            return 0;
        }
        let quiet = frame.iter().all(|s| s.abs() <= QUIET_PEAK);
        self.waited += 1;
        if !quiet && self.waited < PATIENCE_FRAMES {
            return 0;
        }
        let skip = self.to_cut.min(frame.len());
        self.to_cut -= skip;
        self.cut += skip as u64;
        // The window in progress saw the queue before the cut: start it again.
        self.low = usize::MAX;
        self.seen = 0;
        skip
    }

    /// Samples cut from the speaker's queue so far.
    pub(crate) fn cut(&self) -> u64 {
        self.cut
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A device taking `period` samples per callback, and the media side writing `frame`
    /// samples after every `frame / period` callbacks, starting `start` samples deep. Returns
    /// the queue just before each write, the samples written and underrun samples.
    fn simulate(
        rate: u32,
        frame: usize,
        period: usize,
        start: usize,
        frames: usize,
        loud: impl Fn(usize) -> bool,
    ) -> (Vec<usize>, u64, usize) {
        let mut sq = SpeakerQueue::new(rate);
        let mut queued = start;
        let mut lows = Vec::new();
        let mut underrun = 0;
        for n in 0..frames {
            let level = if loud(n) { 0.5 } else { 0.001 };
            let samples = vec![level; frame];
            lows.push(queued);
            let skip = sq.before_write(queued, &samples);
            queued += frame - skip;
            for _ in 0..frame / period {
                underrun += period.saturating_sub(queued);
                queued = queued.saturating_sub(period);
            }
        }
        (lows, sq.cut(), underrun)
    }

    #[test]
    fn a_backlog_that_is_never_needed_is_cut_in_a_pause() {
        // 48 kHz, 20 ms frames, 10 ms periods, a call that began 30 ms deep; speech with a
        // pause every 40 frames.
        let (lows, cut, underrun) = simulate(48_000, 960, 480, 1440, 300, |n| n % 40 >= 5);
        assert_eq!(lows[0], 1440);
        let last = *lows.last().expect("writes");
        assert!(last <= 96, "still {last} samples deep");
        assert_eq!(underrun, 0, "the cut never starved the device");
        assert_eq!(cut, 1440 - 96);
    }

    #[test]
    fn without_a_pause_the_cut_is_made_after_two_seconds() {
        let (lows, _, underrun) = simulate(48_000, 960, 480, 960, 200, |_| true);
        // Nothing is cut in the first window nor for the patience after it.
        assert_eq!(lows[100], 960);
        assert!(*lows.last().expect("writes") <= 96);
        assert_eq!(underrun, 0);
    }

    #[test]
    fn a_queue_already_at_its_margin_is_left_alone() {
        let (lows, cut, underrun) = simulate(48_000, 960, 480, 96, 300, |n| n % 7 == 0);
        assert_eq!(cut, 0);
        assert!(lows.iter().all(|q| *q == 96));
        assert_eq!(underrun, 0);
    }

    #[test]
    fn a_queue_that_ran_dry_is_not_cut() {
        // Writes come just in time (nothing waiting before each): nothing to take away.
        let (_, cut, _) = simulate(16_000, 320, 160, 0, 300, |_| false);
        assert_eq!(cut, 0);
    }

    #[test]
    fn a_backlog_longer_than_a_frame_is_cut_over_several_frames() {
        // After a stall the media side wrote 150 ms at once.
        let (lows, cut, underrun) = simulate(48_000, 960, 480, 7200, 300, |n| n % 3 == 0);
        assert!(
            *lows.last().expect("writes") <= 96,
            "{:?}",
            &lows[lows.len() - 5..]
        );
        assert_eq!(cut, 7200 - 96);
        assert_eq!(underrun, 0);
    }
}
