/// Peak and RMS level of recent audio, for the microphone meter.
///
/// Fixed state, no allocation: safe to feed from an audio thread.
#[derive(Debug, Clone, Default)]
pub struct LevelMeter {
    sum_squares: f64,
    count: u64,
    peak: f32,
}

impl LevelMeter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds samples in `-1.0..=1.0`.
    pub fn feed(&mut self, samples: &[f32]) {
        for &s in samples {
            let s = if s.is_finite() {
                s.clamp(-1.0, 1.0)
            } else {
                0.0
            };
            self.sum_squares += f64::from(s) * f64::from(s);
            self.peak = self.peak.max(s.abs());
        }
        self.count += samples.len() as u64;
    }

    /// RMS level in dBFS since the last [`reset`](Self::reset); `-inf` when silent or empty.
    pub fn rms_dbfs(&self) -> f32 {
        if self.count == 0 {
            return f32::NEG_INFINITY;
        }
        let rms = (self.sum_squares / self.count as f64).sqrt();
        (20.0 * rms.log10()) as f32
    }

    /// Peak level in dBFS.
    pub fn peak_dbfs(&self) -> f32 {
        20.0 * self.peak.log10()
    }

    pub fn reset(&mut self) {
        *self = Self::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ToneGenerator;

    #[test]
    fn full_scale_sine_is_minus_three_dbfs_rms() {
        let mut tone = ToneGenerator::new(1000.0, 48_000, 1.0);
        let mut buf = [0f32; 480];
        let mut meter = LevelMeter::new();
        for _ in 0..100 {
            tone.fill(&mut buf);
            meter.feed(&buf);
        }
        assert!(
            (meter.rms_dbfs() + 3.01).abs() < 0.05,
            "{}",
            meter.rms_dbfs()
        );
        assert!(meter.peak_dbfs().abs() < 0.01, "{}", meter.peak_dbfs());
    }

    #[test]
    fn silence_and_garbage_are_handled() {
        let mut meter = LevelMeter::new();
        assert_eq!(meter.rms_dbfs(), f32::NEG_INFINITY);
        meter.feed(&[0.0; 64]);
        assert_eq!(meter.rms_dbfs(), f32::NEG_INFINITY);
        meter.feed(&[f32::NAN, f32::INFINITY, 4.0]);
        assert!(meter.peak_dbfs() <= 0.0);
        meter.reset();
        assert_eq!(meter.rms_dbfs(), f32::NEG_INFINITY);
    }
}
