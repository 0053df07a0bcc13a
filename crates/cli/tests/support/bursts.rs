//! Test signals for the echo tests: tone bursts, and where bursts start in a recording.
// Shared by several test crates; each uses a part.
#![allow(dead_code)]

use siperb_audio::wav::Pcm;

/// 440 Hz bursts of 200 ms starting at each of `at` (seconds), in `secs` of silence, at `rate`.
pub(crate) fn bursts(at: &[f64], secs: f64, rate: u32) -> Pcm {
    let samples = (0..(secs * f64::from(rate)) as usize)
        .map(|i| {
            let t = i as f64 / f64::from(rate);
            if at.iter().any(|a| (*a..a + 0.2).contains(&t)) {
                ((std::f64::consts::TAU * 440.0 * t).sin() * 12_000.0) as i16
            } else {
                0
            }
        })
        .collect();
    Pcm { rate, samples }
}

/// Where bursts start in `samples` (seconds): 10 ms windows with a sample above `threshold`
/// after one without. A start within 350 ms of the previous one is the same 200 ms burst with
/// a dropout inside it, not a new burst: on a loaded machine the jitter buffer may conceal a
/// late packet or grow its delay mid-burst (seen in CI: a gap 180 ms into an echoed burst).
/// The test signals space their bursts 600 ms or more apart.
pub(crate) fn onsets(samples: &[i16], rate: u32, threshold: u16) -> Vec<f64> {
    let window = rate as usize / 100;
    let mut out = Vec::new();
    let mut loud_before = false;
    for (i, w) in samples.chunks(window).enumerate() {
        let loud = w.iter().any(|s| s.unsigned_abs() > threshold);
        let t = i as f64 / 100.0;
        if loud && !loud_before && out.last().is_none_or(|last| t - last > 0.35) {
            out.push(t);
        }
        loud_before = loud;
    }
    out
}
