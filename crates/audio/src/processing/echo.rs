//! The echo canceller and gain control: the WebRTC AudioProcessing module (APM) 0.3 through
//! the `webrtc-audio-processing` 0.5 crate.
//!
//! The crate fixes the module at 48 kHz mono in 10 ms blocks of 480 `f32` samples in
//! [-1, 1]; [`super::AudioProcessor`] converts other device rates to that.
//!
//! The canceller in APM 0.3 is WebRTC's "AEC2" (the one before AEC3): an NLMS adaptive filter
//! in frequency-domain partitions on the lowest 16 kHz band, followed by a non-linear
//! suppressor (NLP) that also covers the upper bands. We run it the way Chromium ran it on
//! platforms whose device delays cannot be trusted:
//! * delay-agnostic mode: the module estimates the delay between the speaker signal it was
//!   given and the echo in the microphone itself (we report none: the media thread does not
//!   know the devices' real latencies);
//! * the extended filter: 32 partitions of 4 ms instead of 12, so echo from 0 to about
//!   120 ms after the far end is in reach without any delay estimate, and more robustness
//!   against a wrong or changing delay, for somewhat more CPU (without it, even a 40 ms echo
//!   here stayed at 10-20 dB ERLE);
//! * [`SUPPRESSION`] for the NLP (see there).

use std::fmt::Write as _;

use webrtc_audio_processing as apm;

use super::ProcessingError;

/// Samples in one block of the module: 10 ms at 48 kHz.
pub(crate) const APM_BLOCK: usize = apm::NUM_SAMPLES_PER_FRAME as usize;

/// The NLP's aggressiveness: APM 0.3's `kModerateSuppression`, its default and what
/// PulseAudio runs. Measured on the tests' double talk, `kLowSuppression` keeps ~2.5 dB more
/// of the near end and lets ~15 dB more echo through in it; `kHighSuppression` costs ~4 dB
/// more of the near end; single-talk ERLE is the same for all three.
///
/// The crate's enum has five levels, from a later WebRTC, and passes their index to APM 0.3,
/// which has three (low, moderate, high = 0, 1, 2): `Lower` is index 1, moderate. The
/// crate's `Moderate` and `High` (3 and 4) are refused by APM 0.3 with an error the crate
/// ignores, leaving whatever level was set before.
const SUPPRESSION: apm::EchoCancellationSuppressionLevel =
    apm::EchoCancellationSuppressionLevel::Lower;

/// The module's view of the canceller's state, from its metrics (`None` until it has some).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct EchoMetrics {
    pub(crate) erl_db: Option<f64>,
    pub(crate) erle_db: Option<f64>,
    pub(crate) delay_median_ms: Option<i32>,
    pub(crate) delay_std_ms: Option<i32>,
    pub(crate) poor_delay_fraction: Option<f64>,
    pub(crate) echo_likely: Option<bool>,
}

/// What came of one call into the module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Done,
    /// `kBadStreamParameterWarning`: a stream parameter was out of range and clamped;
    /// the block was processed.
    Warning,
}

/// One APM instance, mono in and out.
pub(crate) struct EchoCanceller {
    apm: apm::Processor,
    echo: bool,
    gain: bool,
}

impl std::fmt::Debug for EchoCanceller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EchoCanceller")
            .field("echo", &self.echo)
            .field("gain", &self.gain)
            .finish_non_exhaustive()
    }
}

impl EchoCanceller {
    pub(crate) fn new(echo: bool, gain: bool) -> Result<Self, ProcessingError> {
        let init = apm::InitializationConfig {
            num_capture_channels: 1,
            num_render_channels: 1,
            enable_experimental_agc: false,
            enable_intelligibility_enhancer: false,
        };
        let apm = apm::Processor::new(&init).map_err(|e| library_error("start", &e))?;
        let mut canceller = Self {
            apm,
            echo: !echo,
            gain: !gain,
        };
        canceller.configure(echo, gain);
        Ok(canceller)
    }

    /// Switches the canceller and the gain control (the module keeps its other state).
    pub(crate) fn configure(&mut self, echo: bool, gain: bool) {
        if (echo, gain) == (self.echo, self.gain) {
            return;
        }
        self.echo = echo;
        self.gain = gain;
        self.apm.set_config(apm::Config {
            echo_cancellation: echo.then_some(apm::EchoCancellation {
                suppression_level: SUPPRESSION,
                enable_extended_filter: true,
                enable_delay_agnostic: true,
                stream_delay_ms: None,
            }),
            gain_control: gain.then_some(apm::GainControl {
                // No analog volume to steer: a digital gain toward peaks 3 dB below full
                // scale, at most 9 dB of it, with the limiter (Chromium's digital settings).
                mode: apm::GainControlMode::AdaptiveDigital,
                target_level_dbfs: 3,
                compression_gain_db: 9,
                enable_limiter: true,
            }),
            // Our noise suppression is RNNoise, after this module.
            noise_suppression: None,
            voice_detection: None,
            enable_transient_suppressor: false,
            // DC and rumble below ~80 Hz only hurt the adaptive filter.
            enable_high_pass_filter: echo,
        });
    }

    pub(crate) fn active(&self) -> bool {
        self.echo || self.gain
    }

    pub(crate) fn echo(&self) -> bool {
        self.echo
    }

    /// Gives the module one block about to be played (it does not change it).
    pub(crate) fn render(&mut self, block: &mut [f32]) -> Result<Outcome, ProcessingError> {
        outcome(
            self.apm.process_render_frame(block),
            "take the speaker signal",
        )
    }

    /// Cleans one microphone block in place; on an error the block is left as it was.
    pub(crate) fn capture(&mut self, block: &mut [f32]) -> Result<Outcome, ProcessingError> {
        outcome(
            self.apm.process_capture_frame(block),
            "clean the microphone signal",
        )
    }

    pub(crate) fn metrics(&self) -> EchoMetrics {
        if !self.echo {
            return EchoMetrics::default();
        }
        let s = self.apm.get_stats();
        // The module reports -100 for a metric it has no data for yet, and -1 for delays
        // before its estimator has locked on.
        let db = |v: Option<f64>| v.filter(|v| *v > -99.0);
        let ms = |v: Option<i32>| v.filter(|v| *v >= 0);
        EchoMetrics {
            erl_db: db(s.echo_return_loss),
            erle_db: db(s.echo_return_loss_enhancement),
            delay_median_ms: ms(s.delay_median_ms),
            delay_std_ms: ms(s.delay_standard_deviation_ms),
            poor_delay_fraction: s.delay_fraction_poor_delays.filter(|v| *v >= 0.0),
            echo_likely: s.has_echo,
        }
    }
}

fn outcome(r: Result<(), apm::Error>, action: &'static str) -> Result<Outcome, ProcessingError> {
    match r {
        Ok(()) => Ok(Outcome::Done),
        Err(e) if error_code(&e) == Some(BAD_STREAM_PARAMETER_WARNING) => Ok(Outcome::Warning),
        Err(e) => Err(library_error(action, &e)),
    }
}

const BAD_STREAM_PARAMETER_WARNING: i32 = -13;

fn library_error(action: &'static str, e: &apm::Error) -> ProcessingError {
    let code = error_code(e);
    ProcessingError::Library {
        action,
        code: code.unwrap_or(i32::MIN),
        meaning: meaning(code),
    }
}

/// The crate keeps the module's error code private and only shows it in its message
/// ("... code: -8"): read it from there, without allocating.
pub(super) fn error_code(e: &impl std::fmt::Display) -> Option<i32> {
    let mut text = StackText::default();
    write!(text, "{e}").ok()?;
    let s = std::str::from_utf8(&text.buf[..text.len]).ok()?;
    s.rsplit(' ').next()?.trim().parse().ok()
}

/// What `webrtc::AudioProcessing::Error` codes mean, for a person.
pub(super) fn meaning(code: Option<i32>) -> &'static str {
    match code {
        Some(-1) => "an unspecified failure inside the library",
        Some(-2) => "it could not create its processing state",
        Some(-3) => "a component this build of the library lacks",
        Some(-4) => "a function this build of the library lacks",
        Some(-5) => "an internal null pointer",
        Some(-6) => "a setting out of range",
        Some(-7) => "a sample rate it does not support",
        Some(-8) => "a block of the wrong length",
        Some(-9) => "a channel count it does not support",
        Some(-10) => "a file error",
        Some(-11) => "a stream parameter (delay or analog level) that was not set",
        Some(-12) => "a component that is not enabled",
        Some(-13) => "a stream parameter out of range",
        _ => "an error code it does not document",
    }
}

/// A small fixed buffer to format the crate's error message into.
struct StackText {
    buf: [u8; 96],
    len: usize,
}

impl Default for StackText {
    fn default() -> Self {
        Self {
            buf: [0; 96],
            len: 0,
        }
    }
}

impl std::fmt::Write for StackText {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        if end > self.buf.len() {
            return Err(std::fmt::Error);
        }
        self.buf[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}
