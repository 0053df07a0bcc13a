use std::f64::consts::TAU;

/// A phase-continuous sine tone (the speaker test tone, ringback, call-waiting beeps).
#[derive(Debug, Clone)]
pub struct ToneGenerator {
    phase: f64,
    step: f64,
    amplitude: f32,
}

impl ToneGenerator {
    /// `amplitude` is in `0.0..=1.0` of full scale.
    pub fn new(frequency_hz: f64, sample_rate: u32, amplitude: f32) -> Self {
        let rate = f64::from(sample_rate.max(1));
        Self {
            phase: 0.0,
            step: TAU * frequency_hz / rate,
            amplitude: amplitude.clamp(0.0, 1.0),
        }
    }

    /// Fills `out` with the next samples; the phase carries over between calls, so buffers of any
    /// size join without clicks.
    pub fn fill(&mut self, out: &mut [f32]) {
        for s in out {
            *s = self.amplitude * self.phase.sin() as f32;
            self.phase = (self.phase + self.step) % TAU;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frequency_is_right_across_odd_buffer_sizes() {
        let mut tone = ToneGenerator::new(440.0, 48_000, 0.5);
        let mut all = Vec::new();
        for size in [1usize, 7, 480, 333, 47_213] {
            let mut buf = vec![0f32; size];
            tone.fill(&mut buf);
            all.extend_from_slice(&buf);
        }
        all.truncate(48_000);
        let rising = all.windows(2).filter(|w| w[0] < 0.0 && w[1] >= 0.0).count();
        assert!(
            (439..=441).contains(&rising),
            "{rising} cycles in one second"
        );
        assert!(all.iter().all(|s| s.abs() <= 0.5));
    }
}
