//! The bundled ringtones and the call-waiting tone, synthesised here (no sound files, so no
//! licences to track): each is one cycle of sound and silence that the ringer loops.

use std::f64::consts::TAU;

use serde::{Deserialize, Serialize};
use specta::Type;

/// A bundled ringtone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, Type)]
#[serde(rename_all = "lowercase")]
pub enum Ringtone {
    /// An old telephone bell: two trills, then a pause.
    #[default]
    Classic,
    /// Three descending chime notes.
    Chime,
    /// A marimba arpeggio.
    Marimba,
    /// Two gentle swells, for quiet rooms.
    Soft,
}

/// The peak every ringtone is scaled to, below full scale so a loud setting never clips.
const PEAK: f32 = 0.708; // -3 dBFS
/// The call-waiting beeps are much softer: they play over the call's own audio.
const WAITING_PEAK: f32 = 0.1; // -20 dBFS

impl Ringtone {
    pub const ALL: [Ringtone; 4] = [Self::Classic, Self::Chime, Self::Marimba, Self::Soft];

    /// The name users type and settings store.
    pub fn name(self) -> &'static str {
        match self {
            Self::Classic => "classic",
            Self::Chime => "chime",
            Self::Marimba => "marimba",
            Self::Soft => "soft",
        }
    }

    /// One cycle (the sound and the pause after it) at `rate` Hz, mono, peak -3 dBFS.
    pub fn cycle(self, rate: u32) -> Vec<f32> {
        let rate = f64::from(rate.max(8000));
        let mut out = match self {
            Self::Classic => classic(rate),
            Self::Chime => notes(
                rate,
                3.5,
                &[(0.0, 1318.5), (0.35, 1046.5), (0.7, 784.0)],
                &[(1.0, 1.0, 0.5), (2.0, 0.3, 0.25), (3.0, 0.12, 0.12)],
            ),
            Self::Marimba => notes(
                rate,
                3.0,
                &[
                    (0.0, 523.25),
                    (0.15, 659.25),
                    (0.3, 783.99),
                    (0.45, 1046.5),
                    (0.75, 659.25),
                    (0.9, 783.99),
                    (1.05, 1046.5),
                ],
                &[(1.0, 1.0, 0.3), (4.0, 0.25, 0.05), (10.0, 0.05, 0.02)],
            ),
            Self::Soft => soft(rate),
        };
        normalise(&mut out, PEAK);
        out
    }
}

impl std::str::FromStr for Ringtone {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim().to_ascii_lowercase();
        Self::ALL
            .into_iter()
            .find(|r| r.name() == wanted)
            .ok_or_else(|| {
                let names: Vec<&str> = Self::ALL.iter().map(|r| r.name()).collect();
                format!(
                    "there is no ringtone called '{s}'; the ringtones are {}",
                    names.join(", ")
                )
            })
    }
}

impl std::fmt::Display for Ringtone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One cycle of the call-waiting tone at `rate` Hz: two short soft beeps, then five seconds
/// of nothing (it plays into a call, so it must not hide the voice).
pub fn call_waiting_cycle(rate: u32) -> Vec<f32> {
    let r = f64::from(rate.max(8000));
    let mut out = vec![0f32; (5.5 * r) as usize];
    for start in [0.0, 0.3] {
        let from = (start * r) as usize;
        let len = (0.15 * r) as usize;
        for i in 0..len {
            let t = i as f64 / r;
            let ramp = ramp(t, 0.15, 0.01);
            out[from + i] = (ramp * (TAU * 440.0 * t).sin()) as f32;
        }
    }
    normalise(&mut out, WAITING_PEAK);
    out
}

/// The speaker test tone at `rate` Hz: four rising notes (C5 E5 G5 C6) in 1.6 s, peak -6 dBFS,
/// played once by the Settings view's "test speaker".
pub fn test_tone(rate: u32) -> Vec<f32> {
    let r = f64::from(rate.max(8000));
    let mut out = notes(
        r,
        1.6,
        &[(0.0, 523.25), (0.25, 659.25), (0.5, 783.99), (0.75, 1046.5)],
        &[(1.0, 1.0, 0.35), (2.0, 0.2, 0.15)],
    );
    normalise(&mut out, 0.5);
    out
}

/// The gain for a ringer volume of 0 (mute) to 100 (full): 0.4 dB a step, so 50 is -20 dB
/// and 1 is about -40 dB; the ear hears steps of equal size.
pub fn volume_gain(volume: u8) -> f32 {
    match volume.min(100) {
        0 => 0.0,
        v => 10f32.powf((f32::from(v) - 100.0) * 0.4 / 20.0),
    }
}

/// A raised-cosine ramp of `edge` seconds at both ends of a `len`-second sound.
fn ramp(t: f64, len: f64, edge: f64) -> f64 {
    let edge_pos = t.min(len - t).max(0.0);
    if edge_pos >= edge {
        1.0
    } else {
        0.5 - 0.5 * (std::f64::consts::PI * edge_pos / edge).cos()
    }
}

/// A bell struck twenty times a second by the hammer: partials of a small bell, each strike
/// decaying fast. Two trills of 0.4 s 0.2 s apart, then 2.4 s of pause.
fn classic(r: f64) -> Vec<f32> {
    let mut out = vec![0f32; (3.4 * r) as usize];
    let partials = [(1000.0, 1.0), (1710.0, 0.5), (2760.0, 0.25)];
    for start in [0.0, 0.6] {
        let from = (start * r) as usize;
        let len = (0.4 * r) as usize;
        for i in 0..len {
            let t = i as f64 / r;
            let since_strike = t % 0.05;
            let strike = (-since_strike / 0.03).exp();
            let s: f64 = partials.iter().map(|(f, a)| a * (TAU * f * t).sin()).sum();
            out[from + i] = (ramp(t, 0.4, 0.005) * strike * s) as f32;
        }
    }
    out
}

/// Struck notes `(start s, frequency Hz)` in a cycle of `len` seconds, each with the partials
/// `(multiple, amplitude, decay time constant s)`; partials the rate cannot carry are left out.
fn notes(r: f64, len: f64, notes: &[(f64, f64)], partials: &[(f64, f64, f64)]) -> Vec<f32> {
    let mut out = vec![0f64; (len * r) as usize];
    for &(start, f) in notes {
        let from = (start * r) as usize;
        for (i, o) in out[from..].iter_mut().enumerate() {
            let t = i as f64 / r;
            let attack = (t / 0.004).min(1.0);
            *o += partials
                .iter()
                .filter(|(m, _, _)| f * m < r / 2.0)
                .map(|(m, a, tau)| attack * a * (-t / tau).exp() * (TAU * f * m * t).sin())
                .sum::<f64>();
        }
    }
    // Fade the cycle's end so the loop joins without a click.
    let fade = (0.05 * r) as usize;
    let n = out.len();
    for (k, o) in out[n - fade..].iter_mut().enumerate() {
        *o *= 1.0 - k as f64 / fade as f64;
    }
    out.into_iter().map(|s| s as f32).collect()
}

/// Two swells of a soft fifth (D5 and A5), 1 s each with a 0.3 s gap, then 2.2 s of pause.
fn soft(r: f64) -> Vec<f32> {
    let mut out = vec![0f32; (4.5 * r) as usize];
    for start in [0.0, 1.3] {
        let from = (start * r) as usize;
        for i in 0..r as usize {
            let t = i as f64 / r;
            let swell = (std::f64::consts::PI * t).sin().powi(2);
            let s = (TAU * 587.33 * t).sin() + 0.6 * (TAU * 880.0 * t).sin();
            out[from + i] = (swell * s) as f32;
        }
    }
    out
}

fn normalise(samples: &mut [f32], peak: f32) {
    let max = samples.iter().fold(0f32, |m, s| m.max(s.abs()));
    if max > 0.0 {
        let gain = peak / max;
        samples.iter_mut().for_each(|s| *s *= gain);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rms(s: &[f32]) -> f32 {
        (s.iter().map(|x| x * x).sum::<f32>() / s.len().max(1) as f32).sqrt()
    }

    #[test]
    fn every_ringtone_sounds_then_pauses_and_never_clips() {
        for tone in Ringtone::ALL {
            for rate in [8000, 16000, 44100, 48000] {
                let c = tone.cycle(rate);
                let secs = c.len() as f32 / rate as f32;
                assert!((3.0..=5.0).contains(&secs), "{tone}: {secs} s");
                let peak = c.iter().fold(0f32, |m, s| m.max(s.abs()));
                assert!((peak - PEAK).abs() < 1e-3, "{tone} peaks at {peak}");
                // Loud in its first half second, quiet in its last half second (the pause).
                let head = &c[..rate as usize / 2];
                let tail = &c[c.len() - rate as usize / 2..];
                assert!(rms(head) > 0.1, "{tone} at {rate}: head rms {}", rms(head));
                assert!(rms(tail) < 0.01, "{tone} at {rate}: tail rms {}", rms(tail));
                // The loop joins without a click: the last sample is near the first (silence).
                assert!(c[c.len() - 1].abs() < 0.01 && c[0].abs() < 0.05, "{tone}");
            }
        }
    }

    #[test]
    fn the_ringtones_differ() {
        let cycles: Vec<Vec<f32>> = Ringtone::ALL.iter().map(|t| t.cycle(16000)).collect();
        for (i, a) in cycles.iter().enumerate() {
            for b in &cycles[i + 1..] {
                let n = a.len().min(b.len());
                let diff = rms(&a[..n]
                    .iter()
                    .zip(&b[..n])
                    .map(|(x, y)| x - y)
                    .collect::<Vec<_>>());
                assert!(diff > 0.05);
            }
        }
    }

    #[test]
    fn names_parse_in_any_case_and_a_wrong_one_lists_the_choices() {
        assert_eq!(" Chime ".parse::<Ringtone>(), Ok(Ringtone::Chime));
        for t in Ringtone::ALL {
            assert_eq!(t.name().parse::<Ringtone>(), Ok(t));
            assert_eq!(
                serde_json::to_string(&t).expect("json"),
                format!("\"{}\"", t.name())
            );
        }
        let e = "trumpet".parse::<Ringtone>().unwrap_err();
        assert!(
            e.contains("trumpet") && e.contains("classic, chime, marimba, soft"),
            "{e}"
        );
    }

    #[test]
    fn the_call_waiting_tone_is_two_soft_beeps_then_quiet() {
        let c = call_waiting_cycle(8000);
        let peak = c.iter().fold(0f32, |m, s| m.max(s.abs()));
        assert!((peak - WAITING_PEAK).abs() < 1e-3);
        let beep = &c[..1200];
        let crossings = beep
            .windows(2)
            .filter(|w| w[0] < 0.0 && w[1] >= 0.0)
            .count();
        assert!(
            (64..=67).contains(&crossings),
            "{crossings} cycles in 150 ms"
        );
        assert!(rms(&c[1200..2400]) < 1e-4, "gap");
        assert!(rms(&c[2400..3600]) > 0.05, "second beep");
        assert!(rms(&c[4000..]) < 1e-4, "pause");
    }

    #[test]
    fn the_test_tone_rises_and_fades_out() {
        let t = test_tone(48_000);
        assert_eq!(t.len(), 76_800);
        let peak = t.iter().fold(0f32, |m, s| m.max(s.abs()));
        assert!((peak - 0.5).abs() < 1e-3);
        // Each quarter second a note begins: its zero crossings rise.
        let pitch = |from: usize| {
            let part = &t[from + 1200..from + 10_800];
            part.windows(2)
                .filter(|w| w[0] < 0.0 && w[1] >= 0.0)
                .count() as f64
                / 0.2
        };
        let notes: Vec<f64> = (0..4).map(|i| pitch(i * 12_000)).collect();
        assert!(notes.windows(2).all(|w| w[1] > w[0]), "{notes:?}");
        assert!(t[t.len() - 1].abs() < 1e-3);
    }

    #[test]
    fn volume_is_logarithmic_and_zero_is_mute() {
        assert_eq!(volume_gain(0), 0.0);
        assert!((volume_gain(100) - 1.0).abs() < 1e-6);
        assert!((20.0 * volume_gain(50).log10() + 20.0).abs() < 0.01);
        assert_eq!(volume_gain(200), volume_gain(100));
        for v in 1..100u8 {
            assert!(volume_gain(v) < volume_gain(v + 1));
        }
    }
}
