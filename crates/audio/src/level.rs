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

/// A level report: RMS and peak in dBFS over the last interval (-100 for silence).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct Level {
    pub rms_dbfs: f32,
    pub peak_dbfs: f32,
}

impl Level {
    /// The floor reported for silence (JSON has no -infinity).
    pub const SILENCE: f32 = -100.0;

    fn of(meter: &LevelMeter) -> Self {
        let floor = |db: f32| {
            if db.is_finite() {
                db.max(Self::SILENCE)
            } else {
                Self::SILENCE
            }
        };
        Self {
            rms_dbfs: floor(meter.rms_dbfs()),
            peak_dbfs: floor(meter.peak_dbfs()),
        }
    }
}

/// The microphone's level for the Settings view's meter: the chosen microphone (or the
/// default) is read on a thread of its own, and `report` hears its level every `every`,
/// until this is dropped.
pub struct MicLevels {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for MicLevels {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MicLevels").finish_non_exhaustive()
    }
}

impl MicLevels {
    pub fn start(
        microphone: Option<crate::ChosenDevice>,
        every: std::time::Duration,
        mut report: impl FnMut(Level) + Send + 'static,
    ) -> Result<Self, crate::AudioError> {
        use std::sync::atomic::Ordering;
        let mut port = crate::AudioPort::devices(crate::DeviceChoice {
            microphone,
            speaker: None,
            follow_headsets: false,
        })?;
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let halt = stop.clone();
        let thread = std::thread::Builder::new()
            .name("siperb-mic-level".into())
            .spawn(move || {
                let mut piece = vec![0f32; (port.rate() as usize / 100).max(1)];
                let mut meter = LevelMeter::new();
                let mut since = std::time::Instant::now();
                while !halt.load(Ordering::Relaxed) {
                    while port.read(&mut piece) {
                        meter.feed(&piece);
                    }
                    if since.elapsed() >= every {
                        report(Level::of(&meter));
                        meter.reset();
                        since = std::time::Instant::now();
                    }
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                let _ = port.close();
            })
            .map_err(|e| crate::AudioError::Device {
                what: "microphone",
                detail: e.to_string(),
            })?;
        Ok(Self {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for MicLevels {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod level_tests {
    use super::*;

    #[test]
    fn levels_report_silence_as_the_floor() {
        let meter = LevelMeter::new();
        assert_eq!(
            Level::of(&meter),
            Level {
                rms_dbfs: Level::SILENCE,
                peak_dbfs: Level::SILENCE
            }
        );
        let mut meter = LevelMeter::new();
        meter.feed(&[0.5, -0.5]);
        let l = Level::of(&meter);
        assert!((l.rms_dbfs + 6.02).abs() < 0.01 && (l.peak_dbfs + 6.02).abs() < 0.01);
    }
}
