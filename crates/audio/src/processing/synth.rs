//! Deterministic synthetic signals to measure the processing with, without sound files or
//! devices: a speech-like voice, white noise, tones and a loudspeaker-to-microphone echo
//! path. Used by the tests and by `examples/erle.rs`; they allocate, unlike the processing.

use std::f64::consts::{PI, TAU};

/// A small seeded generator (xorshift64*): the same seed gives the same signal everywhere.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [lo, hi).
    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.uniform()
    }

    /// Standard normal (Box-Muller).
    pub fn normal(&mut self) -> f64 {
        let u = self.uniform().max(1e-300);
        let v = self.uniform();
        (-2.0 * u.ln()).sqrt() * (TAU * v).cos()
    }
}

/// A two-pole resonator (one formant) whose centre and bandwidth may move per sample.
#[derive(Debug, Default, Clone)]
struct Resonator {
    y1: f64,
    y2: f64,
}

impl Resonator {
    fn step(&mut self, x: f64, hz: f64, bandwidth: f64, rate: f64) -> f64 {
        let r = (-PI * bandwidth / rate).exp();
        let theta = TAU * hz.min(0.45 * rate) / rate;
        // Scaled so the peak gain is about 1 wherever the formant sits.
        let gain = (1.0 - r) * (1.0 - 2.0 * r * (2.0 * theta).cos() + r * r).sqrt();
        let y = gain * x + 2.0 * r * theta.cos() * self.y1 - r * r * self.y2;
        self.y2 = self.y1;
        self.y1 = y;
        y
    }
}

/// `seconds` of a speech-like voice at `rate`: syllables of 100 to 300 ms grouped in words
/// with pauses between them, each syllable voiced (a glottal pulse train at a drifting pitch
/// through three moving formants) or, one time in four, a fricative (noise through a high
/// resonance), under a rising and falling envelope. Active parts are near -20 dBFS RMS,
/// peaks stay below 0.9. Different seeds give different talkers and texts.
pub fn speech_like(rate: u32, seconds: f64, seed: u64) -> Vec<f32> {
    let fs = f64::from(rate);
    let n = (seconds * fs) as usize;
    let mut rng = Rng::new(seed);
    let mut out = vec![0.0f64; n];
    let base_pitch = rng.range(95.0, 210.0);
    let mut formants = [
        Resonator::default(),
        Resonator::default(),
        Resonator::default(),
    ];
    let mut fricative = Resonator::default();
    let mut i = 0usize;
    let mut phase = 0.0f64;
    let mut syllables_left = 0u32;
    while i < n {
        if syllables_left == 0 {
            // A pause between words, then a word of 1 to 4 syllables.
            i += (rng.range(0.06, 0.35) * fs) as usize;
            syllables_left = 1 + (rng.next_u64() % 4) as u32;
            continue;
        }
        syllables_left -= 1;
        let len = (rng.range(0.10, 0.30) * fs) as usize;
        let voiced = rng.uniform() < 0.75;
        let (f1a, f1b) = (rng.range(280.0, 850.0), rng.range(280.0, 850.0));
        let (f2a, f2b) = (rng.range(850.0, 2300.0), rng.range(850.0, 2300.0));
        let (f3a, f3b) = (rng.range(2400.0, 3200.0), rng.range(2400.0, 3200.0));
        let (p0, p1) = (
            base_pitch * rng.range(0.85, 1.2),
            base_pitch * rng.range(0.8, 1.15),
        );
        let hiss = rng.range(3000.0, 6500.0);
        let level = rng.range(0.5, 1.0);
        let end = (i + len).min(n);
        for (k, o) in out[i..end].iter_mut().enumerate() {
            let t = k as f64 / len as f64;
            *o = if voiced {
                let pitch = p0 + (p1 - p0) * t;
                phase += pitch / fs;
                // A glottal pulse once per period, a little breath between.
                let excitation = if phase >= 1.0 {
                    phase -= 1.0;
                    1.0
                } else {
                    0.0
                } + 0.01 * rng.normal();
                let f = [
                    f1a + (f1b - f1a) * t,
                    f2a + (f2b - f2a) * t,
                    f3a + (f3b - f3a) * t,
                ];
                let b = [90.0, 120.0, 180.0];
                let g = [1.0, 0.6, 0.3];
                (0..3)
                    .map(|j| g[j] * formants[j].step(excitation, f[j], b[j], fs))
                    .sum::<f64>()
            } else {
                fricative.step(rng.normal(), hiss, 1500.0, fs)
            };
        }
        // Each syllable at its own level (a fricative about 8 dB below a vowel), under a
        // rising and falling envelope.
        let syllable = &mut out[i..end];
        let rms = (syllable.iter().map(|s| s * s).sum::<f64>() / syllable.len().max(1) as f64)
            .sqrt()
            .max(1e-12);
        let gain = level * if voiced { 1.0 } else { 0.4 } / rms;
        for (k, o) in syllable.iter_mut().enumerate() {
            let t = k as f64 / len as f64;
            *o *= gain * (PI * t).sin().powf(0.6);
        }
        i += len;
    }
    normalise_active(&mut out, -20.0);
    out.into_iter().map(|s| s.clamp(-0.9, 0.9) as f32).collect()
}

/// Scales so the parts louder than 1/100 of the peak have `dbfs` RMS.
fn normalise_active(x: &mut [f64], dbfs: f64) {
    let peak = x.iter().fold(0.0f64, |m, s| m.max(s.abs()));
    if peak == 0.0 {
        return;
    }
    let (sum, count) = x
        .iter()
        .filter(|s| s.abs() > peak / 100.0)
        .fold((0.0, 0usize), |(e, c), s| (e + s * s, c + 1));
    let rms = (sum / count.max(1) as f64).sqrt();
    let gain = 10f64.powf(dbfs / 20.0) / rms.max(1e-12);
    x.iter_mut().for_each(|s| *s *= gain);
}

/// `n` samples of white Gaussian noise at `dbfs` RMS.
pub fn white_noise(n: usize, dbfs: f64, seed: u64) -> Vec<f32> {
    let mut rng = Rng::new(seed);
    let sd = 10f64.powf(dbfs / 20.0);
    (0..n).map(|_| (sd * rng.normal()) as f32).collect()
}

/// `n` samples of a sine of `hz` at `rate` with peak `amplitude`.
pub fn tone(rate: u32, hz: f64, amplitude: f64, n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| (amplitude * (TAU * hz * i as f64 / f64::from(rate)).sin()) as f32)
        .collect()
}

/// A loudspeaker-to-microphone path: a pure delay, then a short, decaying impulse response.
#[derive(Debug, Clone)]
pub struct EchoPath {
    pub delay: usize,
    pub response: Vec<f32>,
}

impl EchoPath {
    /// `delay_ms` of delay then a desk-like response at `rate`: a direct tap and five
    /// reflections within 12 ms, alternating in sign and decaying, about -10 dB in all
    /// (echo return loss ~10 dB, a laptop's speaker and microphone).
    pub fn desk(rate: u32, delay_ms: u32) -> Self {
        let at = |ms: f64| (ms * f64::from(rate) / 1000.0).round() as usize;
        let taps = [
            (0.0, 0.25),
            (1.1, -0.14),
            (2.7, 0.10),
            (4.3, -0.07),
            (7.9, 0.05),
            (12.0, 0.03),
        ];
        let mut response = vec![0.0f32; at(12.0) + 1];
        for (ms, gain) in taps {
            response[at(ms)] += gain;
        }
        Self {
            delay: at(f64::from(delay_ms)),
            response,
        }
    }

    /// The echo of `far` (same length).
    pub fn apply(&self, far: &[f32]) -> Vec<f32> {
        let mut out = vec![0.0f32; far.len()];
        for (k, &h) in self.response.iter().enumerate() {
            if h == 0.0 {
                continue;
            }
            let shift = self.delay + k;
            for (o, x) in out.iter_mut().skip(shift).zip(far) {
                *o += h * x;
            }
        }
        out
    }

    /// The energy gain of the path in dB (negative: a loss).
    pub fn gain_db(&self) -> f64 {
        10.0 * self
            .response
            .iter()
            .map(|h| f64::from(h * h))
            .sum::<f64>()
            .log10()
    }
}

/// Energy of a signal (sum of squares).
pub fn energy(x: &[f32]) -> f64 {
    x.iter().map(|s| f64::from(*s) * f64::from(*s)).sum()
}

/// `10·log10(a / b)`, with a floor so silence gives a large finite figure.
pub fn ratio_db(a: f64, b: f64) -> f64 {
    10.0 * (a.max(1e-20) / b.max(1e-20)).log10()
}

/// Normalised correlation of two equally long signals (1: the same up to a gain).
pub fn correlation(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| f64::from(*x) * f64::from(*y))
        .sum();
    dot / (energy(a) * energy(b)).sqrt().max(1e-30)
}

/// The lag in `0..max_lag` at which `output[lag..]` best matches `reference` (by
/// correlation over `range` of the reference): how much later the processing put it out.
pub fn best_lag(
    output: &[f32],
    reference: &[f32],
    range: std::ops::Range<usize>,
    max_lag: usize,
) -> usize {
    let end = range
        .end
        .min(reference.len())
        .min(output.len().saturating_sub(max_lag));
    let r = range.start.min(end)..end;
    let reference = &reference[r.clone()];
    let score = |lag: usize| {
        let o = &output[r.start + lag..r.end + lag];
        let dot: f64 = o
            .iter()
            .zip(reference)
            .map(|(x, y)| f64::from(*x) * f64::from(*y))
            .sum();
        dot / energy(o).sqrt().max(1e-30)
    };
    (0..max_lag)
        .map(|lag| (lag, score(lag)))
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map_or(0, |(lag, _)| lag)
}
