//! Echo cancellation, noise suppression and automatic gain for the call's audio, sans IO: the
//! media thread hands every frame it plays to [`AudioProcessor::render`] and every microphone
//! frame to [`AudioProcessor::capture`], which cleans it in place.
//!
//! # Which canceller, and why
//!
//! The echo canceller (and the gain control) is the WebRTC AudioProcessing module 0.3, through
//! the `webrtc-audio-processing` 0.5 crate. On Linux it links the distribution's library
//! (Debian and Ubuntu: `libwebrtc-audio-processing-dev` to build, `libwebrtc-audio-processing1`
//! to run), the same module PulseAudio's module-echo-cancel and PipeWire's echo-cancel load
//! (Debian 12's `pulseaudio` and `libspa-0.2-modules` depend on it), so it is the canceller
//! Linux desktops already use for calls. Where no such library exists (macOS,
//! Windows) the `aec-bundled` feature builds the same source into the binary.
//!
//! Its canceller is WebRTC's AEC2: a partitioned-block frequency-domain adaptive filter
//! followed by a non-linear suppressor. We run it in delay-agnostic mode with the extended
//! filter (see `echo.rs`), since the media thread does not know how late the devices play
//! and record.
//!
//! Noise suppression is RNNoise (`nnnoiseless`, pure Rust), after the canceller.
//!
//! # Rates, blocks and latency
//!
//! The device rate may be 8000, 16000, 32000 or 48000 Hz (mono). Both libraries here work on
//! 10 ms blocks at 48 kHz only (the crate fixes the module's rate at 48 kHz; RNNoise knows no
//! other), so at the lower rates each 10 ms block is converted up to 48 kHz and back (rubato,
//! as the codecs' conversions). A frame may be any whole number of 10 ms blocks (20 ms is the
//! media thread's); it is processed block by block.
//!
//! What it adds to the microphone path (measured by `examples/erle.rs`): 8 ms for the
//! canceller (the module's band splitting and block buffering), 10 ms for noise suppression
//! (RNNoise's overlap-add), 18 ms for both; about 10 ms more below 48 kHz (the two rate
//! conversions). Nothing when everything is off.
//!
//! # Limits
//!
//! * The canceller needs a few seconds of far-end speech to converge at the start of a call
//!   and after the echo path changes (the laptop moved, the volume jumped); until then the
//!   suppressor does most of the work and some echo gets through.
//! * The adaptive filter is linear: distortion from a small speaker driven hard is only
//!   suppressed, at the cost of near-end speech during double talk.
//! * Drift compensation is off (as PulseAudio runs it for one sound card): speaker and
//!   microphone on two devices with independent clocks make the delay wander, which the
//!   delay-agnostic mode follows only slowly.
//! * Both streams must reach it in step: [`AudioProcessor::render`] for each frame as it is
//!   handed to the speaker, [`AudioProcessor::capture`] for each microphone frame. Echo that
//!   comes 0 to about 120 ms after its far-end frame is cancelled from the first seconds;
//!   later echo (up to ~400 ms) only once the module's delay estimator re-aligns it, which
//!   WebRTC 0.3 allows only after 15 s of a call; [`AudioProcessor::set_echo_delay_hint`]
//!   shifts that window when the caller knows part of the delay. Echo that comes *before*
//!   its far-end frame was handed over (render called late) is not cancelled.
//! * At 15 s, when the echo delay is over ~96 ms, that re-alignment itself costs a second or
//!   two of weaker cancellation while the filter re-converges (seen at 120 ms in the
//!   example).
//! * Mono only; stereo devices are mixed down before (the ports already do).
//!
//! # Cost
//!
//! Nothing is allocated per frame by this module; the `webrtc-audio-processing` 0.5 crate
//! itself collects one channel pointer into a `Vec` per 10 ms block it is given (8 bytes,
//! in its safe wrapper; avoiding it would take `unsafe`, which this workspace forbids).
//! [`AudioProcessor::set_config`] may allocate: call it when a setting changes, not per frame.

mod echo;
mod noise;
pub mod synth;
#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};
use specta::Type;

use crate::resample::FrameResampler;
use echo::{APM_BLOCK, EchoCanceller, Outcome};
use noise::{NS_BLOCK, NoiseSuppressor};

/// The device rates the processing takes.
pub const SUPPORTED_RATES: [u32; 4] = [8000, 16_000, 32_000, 48_000];

/// Frames must be a whole number of these.
pub const BLOCK_MS: u32 = 10;

/// The largest [`AudioProcessor::set_echo_delay_hint`] taken.
pub const MAX_ECHO_DELAY_HINT_MS: u32 = 400;

/// The rate both libraries run at.
const PROCESSING_RATE: u32 = 48_000;

const _: () = assert!(APM_BLOCK == NS_BLOCK && APM_BLOCK == 480);

/// Which processing runs on the microphone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase", default)]
pub struct ProcessingConfig {
    /// Remove the far end's voice coming back through the speaker into the microphone.
    pub echo_cancellation: bool,
    /// Remove steady and non-speech noise (RNNoise).
    pub noise_suppression: bool,
    /// Bring the voice toward a steady level (WebRTC's adaptive digital gain with limiter).
    pub auto_gain: bool,
}

impl Default for ProcessingConfig {
    fn default() -> Self {
        Self {
            echo_cancellation: true,
            noise_suppression: true,
            auto_gain: false,
        }
    }
}

impl ProcessingConfig {
    /// Everything off: the microphone passes unchanged.
    pub const OFF: Self = Self {
        echo_cancellation: false,
        noise_suppression: false,
        auto_gain: false,
    };

    /// Whether anything is switched on.
    pub fn any(&self) -> bool {
        self.echo_cancellation || self.noise_suppression || self.auto_gain
    }

    /// The switches as bits (echo 1, noise 2, gain 4), to share through an atomic.
    pub fn bits(self) -> u8 {
        u8::from(self.echo_cancellation)
            | u8::from(self.noise_suppression) << 1
            | u8::from(self.auto_gain) << 2
    }

    /// The switches from [`ProcessingConfig::bits`].
    pub fn from_bits(bits: u8) -> Self {
        Self {
            echo_cancellation: bits & 1 != 0,
            noise_suppression: bits & 2 != 0,
            auto_gain: bits & 4 != 0,
        }
    }
}

/// Why a frame or the processor could not be processed or made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProcessingError {
    #[error("echo and noise processing runs at 8000, 16000, 32000 or 48000 Hz, not at {rate} Hz")]
    UnsupportedRate { rate: u32 },
    #[error(
        "a {side} frame of {len} samples at {rate} Hz is not a whole number of 10 ms blocks \
         ({block} samples each); it was left as it was"
    )]
    FrameLength {
        side: &'static str,
        len: usize,
        rate: u32,
        block: usize,
    },
    #[error(
        "the echo canceller (WebRTC audio processing) could not {action}: {meaning} \
         (library error {code})"
    )]
    Library {
        action: &'static str,
        code: i32,
        meaning: &'static str,
    },
    #[error("cannot convert between {rate} Hz and the processing's 48000 Hz: {detail}")]
    Conversion { rate: u32, detail: String },
    #[error(
        "converting a block between {rate} Hz and 48000 Hz gave the wrong number of samples; \
         it was left unprocessed"
    )]
    ConversionFailed { rate: u32 },
}

/// Counters and the canceller's own measurements, for logs and the call statistics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProcessingStats {
    /// Frames given to [`AudioProcessor::render`] and [`AudioProcessor::capture`] (the
    /// rejected ones too).
    pub render_frames: u64,
    pub capture_frames: u64,
    /// Frames refused for their length (left as they were).
    pub rejected_frames: u64,
    /// 10 ms blocks the WebRTC module (or, below 48 kHz, a rate conversion) failed on,
    /// passed on without that step.
    pub failed_blocks: u64,
    /// Blocks it processed with a warning (a stream parameter out of range and clamped).
    pub library_warnings: u64,
    /// The canceller's measurements while it is on; `None` until it has them. ERL: how much
    /// quieter the echo reaches the microphone than the far end was played, in dB.
    pub echo_return_loss_db: Option<f64>,
    /// ERLE: how much of the echo the canceller removes, in dB (its instant figure).
    pub echo_return_loss_enhancement_db: Option<f64>,
    /// The delay between a far-end frame and its echo it estimates (median, ms), and the
    /// spread of that estimate.
    pub echo_delay_ms: Option<i32>,
    pub echo_delay_spread_ms: Option<i32>,
    /// The share of its delay estimates it considers bad for cancelling (0 to 1).
    pub poor_delay_fraction: Option<f64>,
    /// Whether the last block might hold echo.
    pub echo_in_last_block: Option<bool>,
    /// RNNoise's voice probability for the last block, while noise suppression is on.
    pub voice_probability: Option<f32>,
}

/// Conversions to and from 48 kHz, for the lower device rates.
#[derive(Debug)]
struct Conversions {
    render_up: FrameResampler,
    capture_up: FrameResampler,
    capture_down: FrameResampler,
}

/// Echo cancellation, noise suppression and gain control for one call's microphone, given
/// the signal its speaker plays. Owned by the media thread (it is `Send`); everything per
/// frame is allocation-free (see the [module docs](self)).
pub struct AudioProcessor {
    rate: u32,
    /// Device samples in a 10 ms block.
    block: usize,
    config: ProcessingConfig,
    echo: EchoCanceller,
    noise: NoiseSuppressor,
    conversions: Option<Conversions>,
    /// Holds the far end back by the echo-delay hint before the canceller sees it.
    render_delay: DelayLine,
    /// One block at the device rate, cleaned, before conversion.
    input: Vec<f32>,
    /// One block at 48 kHz.
    work: Vec<f32>,
    stats: ProcessingStats,
}

impl std::fmt::Debug for AudioProcessor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AudioProcessor")
            .field("rate", &self.rate)
            .field("config", &self.config)
            .field("echo_delay_hint_ms", &self.echo_delay_hint())
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl AudioProcessor {
    /// A processor for mono frames at `rate` (one of [`SUPPORTED_RATES`]).
    pub fn new(config: ProcessingConfig, rate: u32) -> Result<Self, ProcessingError> {
        if !SUPPORTED_RATES.contains(&rate) {
            return Err(ProcessingError::UnsupportedRate { rate });
        }
        let conversions = if rate == PROCESSING_RATE {
            None
        } else {
            let make = |from, to| {
                FrameResampler::new(from, to, BLOCK_MS).map_err(|e| ProcessingError::Conversion {
                    rate,
                    detail: e.to_string(),
                })
            };
            Some(Conversions {
                render_up: make(rate, PROCESSING_RATE)?,
                capture_up: make(rate, PROCESSING_RATE)?,
                capture_down: make(PROCESSING_RATE, rate)?,
            })
        };
        Ok(Self {
            rate,
            block: (rate / 1000 * BLOCK_MS) as usize,
            config,
            echo: EchoCanceller::new(config.echo_cancellation, config.auto_gain)?,
            noise: NoiseSuppressor::new(),
            conversions,
            render_delay: DelayLine::new(
                (PROCESSING_RATE / 1000 * MAX_ECHO_DELAY_HINT_MS) as usize + APM_BLOCK,
            ),
            input: vec![0.0; (rate / 1000 * BLOCK_MS) as usize],
            work: vec![0.0; APM_BLOCK],
            stats: ProcessingStats::default(),
        })
    }

    pub fn rate(&self) -> u32 {
        self.rate
    }

    pub fn config(&self) -> ProcessingConfig {
        self.config
    }

    /// Samples in one 10 ms block at the device rate: frames must be a multiple of it.
    pub fn block_len(&self) -> usize {
        self.block
    }

    /// Switches features mid-call. The canceller keeps what it has learnt while it stays on;
    /// noise suppression switched back on starts afresh. May allocate.
    pub fn set_config(&mut self, config: ProcessingConfig) {
        if config.noise_suppression && !self.config.noise_suppression {
            self.noise.reset();
        }
        self.echo
            .configure(config.echo_cancellation, config.auto_gain);
        self.config = config;
    }

    /// Tells the canceller how late, at least, the echo of a frame given to
    /// [`render`](Self::render) reaches [`capture`](Self::capture): the part of the delay the
    /// caller knows (the audio queued toward the speaker, the microphone backlog), in ms, up to
    /// [`MAX_ECHO_DELAY_HINT_MS`]. 0 (the default) suits most devices.
    ///
    /// Why: the canceller covers echo from 0 to about 120 ms after the far end it is given
    /// straight away; for a longer delay (Bluetooth, a deep playback buffer) its delay
    /// estimator re-aligns only after 15 s of a call (a WebRTC 0.3 rule for desktops). The
    /// hint holds the far end back by that much first, so echo from `hint` to about
    /// `hint + 120` ms is cancelled from the start (a hint a little under the real delay also
    /// speeds up the first second). Err on the low side: echo that comes earlier than the
    /// hint is not cancelled at all (measured: a 100 ms hint for a 40 ms echo left it at
    /// 2-9 dB ERLE for 20 s). A change mid-call makes the canceller converge again.
    pub fn set_echo_delay_hint(&mut self, ms: u32) {
        let ms = ms.min(MAX_ECHO_DELAY_HINT_MS);
        self.render_delay.delay = (PROCESSING_RATE / 1000 * ms) as usize;
    }

    /// The echo-delay hint in force, in ms.
    pub fn echo_delay_hint(&self) -> u32 {
        (self.render_delay.delay / (PROCESSING_RATE / 1000) as usize) as u32
    }

    /// Takes the frame about to be played (the far end), `speaker.len()` a whole number of
    /// 10 ms blocks. Call it before [`capture`](Self::capture) for the same period.
    pub fn render(&mut self, speaker: &[f32]) -> Result<(), ProcessingError> {
        self.stats.render_frames += 1;
        self.check(speaker.len(), "speaker")?;
        if !self.echo.echo() {
            return Ok(());
        }
        let mut first_error = None;
        for chunk in speaker.chunks_exact(self.block) {
            let result = if self.load(chunk, Side::Render) {
                self.render_delay.push_pull(&mut self.work);
                self.echo.render(&mut self.work)
            } else {
                Err(self.conversion_failed())
            };
            self.tally(result, &mut first_error);
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Cleans a microphone frame in place, `mic.len()` a whole number of 10 ms blocks. With
    /// everything off it is left exactly as it was. On a library error the frame still
    /// holds usable audio (the failing block without the canceller's work) and the first
    /// error is returned.
    pub fn capture(&mut self, mic: &mut [f32]) -> Result<(), ProcessingError> {
        self.stats.capture_frames += 1;
        self.check(mic.len(), "microphone")?;
        let apm = self.echo.active();
        let ns = self.config.noise_suppression;
        if !apm && !ns {
            return Ok(());
        }
        let mut first_error = None;
        for chunk in mic.chunks_exact_mut(self.block) {
            if !self.load(chunk, Side::Capture) {
                // The block stays as it came; the next one may convert again.
                let e = self.conversion_failed();
                self.tally(Err(e), &mut first_error);
                continue;
            }
            if apm {
                let result = self.echo.capture(&mut self.work);
                self.tally(result, &mut first_error);
            }
            if ns {
                self.noise.process(&mut self.work);
            }
            clean(&mut self.work);
            match self.conversions.as_mut() {
                None => chunk.copy_from_slice(&self.work),
                Some(c) => {
                    if c.capture_down.process(&self.work, chunk) != chunk.len() {
                        let e = self.conversion_failed();
                        self.tally(Err(e), &mut first_error);
                    }
                }
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// The counters and the canceller's measurements now (its delay figures it updates about
    /// once a second). Cheap, but not free: poll it for statistics, not per frame.
    pub fn stats(&self) -> ProcessingStats {
        let m = self.echo.metrics();
        ProcessingStats {
            echo_return_loss_db: m.erl_db,
            echo_return_loss_enhancement_db: m.erle_db,
            echo_delay_ms: m.delay_median_ms,
            echo_delay_spread_ms: m.delay_std_ms,
            poor_delay_fraction: m.poor_delay_fraction,
            echo_in_last_block: m.echo_likely,
            voice_probability: self
                .config
                .noise_suppression
                .then(|| self.noise.voice_probability()),
            ..self.stats
        }
    }

    /// Brings one block at the device rate into `work` at 48 kHz, with NaN and infinities as
    /// silence and the rest within [-1, 1] (both libraries assume that range, and the FFT
    /// resampler panics on NaN). False if the conversion failed.
    fn load(&mut self, chunk: &[f32], side: Side) -> bool {
        match self.conversions.as_mut() {
            None => copy_clean(chunk, &mut self.work),
            Some(c) => {
                if !copy_clean(chunk, &mut self.input) {
                    return false;
                }
                let up = match side {
                    Side::Render => &mut c.render_up,
                    Side::Capture => &mut c.capture_up,
                };
                up.process(&self.input, &mut self.work) == APM_BLOCK
            }
        }
    }

    fn check(&mut self, len: usize, side: &'static str) -> Result<(), ProcessingError> {
        if len == 0 || !len.is_multiple_of(self.block) {
            self.stats.rejected_frames += 1;
            return Err(ProcessingError::FrameLength {
                side,
                len,
                rate: self.rate,
                block: self.block,
            });
        }
        Ok(())
    }

    fn tally(
        &mut self,
        result: Result<Outcome, ProcessingError>,
        first_error: &mut Option<ProcessingError>,
    ) {
        match result {
            Ok(Outcome::Done) => {}
            Ok(Outcome::Warning) => self.stats.library_warnings += 1,
            Err(e) => {
                self.stats.failed_blocks += 1;
                first_error.get_or_insert(e);
            }
        }
    }

    fn conversion_failed(&self) -> ProcessingError {
        ProcessingError::ConversionFailed { rate: self.rate }
    }
}

#[derive(Debug, Clone, Copy)]
enum Side {
    Render,
    Capture,
}

/// A fixed delay for the far end, up to its length less a block.
struct DelayLine {
    ring: Vec<f32>,
    write: usize,
    /// In samples; always below `ring.len()`.
    delay: usize,
}

impl std::fmt::Debug for DelayLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DelayLine")
            .field("delay", &self.delay)
            .finish_non_exhaustive()
    }
}

impl DelayLine {
    fn new(len: usize) -> Self {
        Self {
            ring: vec![0.0; len],
            write: 0,
            delay: 0,
        }
    }

    /// Stores `block` and puts in its place what came `delay` samples before.
    fn push_pull(&mut self, block: &mut [f32]) {
        let len = self.ring.len();
        for s in block {
            self.ring[self.write] = *s;
            *s = self.ring[(self.write + len - self.delay) % len];
            self.write = (self.write + 1) % len;
        }
    }
}

/// Copies a block, with NaN and infinities as silence and the rest within [-1, 1].
fn copy_clean(from: &[f32], to: &mut [f32]) -> bool {
    if from.len() != to.len() {
        return false;
    }
    to.copy_from_slice(from);
    clean(to);
    true
}

fn clean(x: &mut [f32]) {
    for s in x {
        *s = if s.is_finite() {
            s.clamp(-1.0, 1.0)
        } else {
            0.0
        };
    }
}

/// The media thread owns the processor: it must move there.
const _: () = {
    const fn send<T: Send>() {}
    send::<AudioProcessor>();
};
