//! Frame-by-frame sample-rate conversion between a device and a codec (rubato's FFT
//! resampler, fixed sizes on both sides): every 20 ms frame in gives exactly one 20 ms frame
//! out, with no allocation after construction.

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Resampler as _};

use crate::port::AudioError;

/// Converts mono frames of `frame_ms` from one rate to another (a copy when they are equal).
pub struct FrameResampler {
    from: u32,
    to: u32,
    frame_in: usize,
    frame_out: usize,
    fft: Option<Fft<f32>>,
    /// A frame with its non-finite samples silenced (rubato panics on NaN; a broken driver
    /// must not end the call).
    clean: Vec<f32>,
}

impl std::fmt::Debug for FrameResampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameResampler")
            .field("from", &self.from)
            .field("to", &self.to)
            .finish()
    }
}

impl FrameResampler {
    pub fn new(from: u32, to: u32, frame_ms: u32) -> Result<Self, AudioError> {
        let bad = |detail: String| AudioError::Resampler { from, to, detail };
        if from == 0 || to == 0 || frame_ms == 0 {
            return Err(bad("a rate or frame of zero".into()));
        }
        let frame_in = (u64::from(from) * u64::from(frame_ms) / 1000) as usize;
        let frame_out = (u64::from(to) * u64::from(frame_ms) / 1000) as usize;
        if frame_in * 1000 != (from * frame_ms) as usize
            || frame_out * 1000 != (to * frame_ms) as usize
        {
            return Err(bad(format!(
                "{frame_ms} ms is not a whole number of samples"
            )));
        }
        let fft = if from == to {
            None
        } else {
            let fft = Fft::<f32>::new(from as usize, to as usize, frame_in, 1, FixedSync::Both)
                .map_err(|e| bad(e.to_string()))?;
            if fft.input_frames_next() != frame_in || fft.output_frames_next() != frame_out {
                return Err(bad(format!(
                    "frames of {} and {} samples instead of {frame_in} and {frame_out}",
                    fft.input_frames_next(),
                    fft.output_frames_next()
                )));
            }
            Some(fft)
        };
        Ok(Self {
            from,
            to,
            frame_in,
            frame_out,
            fft,
            clean: vec![0.0; frame_in],
        })
    }

    /// Samples per frame in and out.
    pub fn frames(&self) -> (usize, usize) {
        (self.frame_in, self.frame_out)
    }

    pub fn rates(&self) -> (u32, u32) {
        (self.from, self.to)
    }

    /// How much later a sound comes out than it went in, in output samples.
    pub fn delay(&self) -> usize {
        self.fft.as_ref().map_or(0, |f| f.output_delay())
    }

    /// Converts one frame: `input` must hold [`frames`](Self::frames)`.0` samples and `output`
    /// at least `.1`; returns the samples written (0 when the sizes are wrong).
    pub fn process(&mut self, input: &[f32], output: &mut [f32]) -> usize {
        if input.len() != self.frame_in || output.len() < self.frame_out {
            return 0;
        }
        let Some(fft) = self.fft.as_mut() else {
            output[..input.len()].copy_from_slice(input);
            return input.len();
        };
        let input = if input.iter().all(|s| s.is_finite()) {
            input
        } else {
            for (c, s) in self.clean.iter_mut().zip(input) {
                *c = if s.is_finite() { *s } else { 0.0 };
            }
            &self.clean[..]
        };
        let (Ok(inp), Ok(mut out)) = (
            InterleavedSlice::new(input, 1, self.frame_in),
            InterleavedSlice::new_mut(&mut output[..self.frame_out], 1, self.frame_out),
        ) else {
            return 0;
        };
        match fft.process_into_buffer(&inp, &mut out, None) {
            Ok((_, written)) => written,
            Err(_) => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_samples_are_silenced_not_a_panic() {
        let mut r = FrameResampler::new(8000, 48_000, 20).expect("resampler");
        let mut input = vec![0.25f32; 160];
        input[3] = f32::NAN;
        input[7] = f32::INFINITY;
        input[9] = f32::NEG_INFINITY;
        let mut out = vec![0f32; 960];
        for _ in 0..3 {
            assert_eq!(r.process(&input, &mut out), 960);
            assert!(out.iter().all(|s| s.is_finite()));
        }
    }

    fn tone(rate: u32, hz: f64, n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| (std::f64::consts::TAU * hz * i as f64 / f64::from(rate)).sin() as f32 * 0.5)
            .collect()
    }

    /// Frame by frame, the usual device and codec rates convert with exact frame sizes and
    /// keep a tone's level and pitch.
    #[test]
    fn device_and_codec_rates_convert_frame_by_frame() {
        for (from, to) in [
            (48_000, 8000),
            (8000, 48_000),
            (48_000, 16_000),
            (16_000, 48_000),
            (44_100, 8000),
            (44_100, 48_000),
            (48_000, 48_000),
        ] {
            let mut r = FrameResampler::new(from, to, 20).expect("resampler");
            let (fin, fout) = r.frames();
            let input = tone(from, 440.0, fin * 50);
            let mut out = Vec::new();
            let mut buf = vec![0f32; fout];
            for frame in input.chunks_exact(fin) {
                assert_eq!(r.process(frame, &mut buf), fout, "{from}->{to}");
                out.extend_from_slice(&buf);
            }
            // Skip the start (the resampler's delay), then check level and pitch.
            let steady = &out[fout * 5..];
            let rms = (steady.iter().map(|s| s * s).sum::<f32>() / steady.len() as f32).sqrt();
            assert!((rms - 0.3536).abs() < 0.02, "{from}->{to}: rms {rms}");
            let crossings = steady
                .windows(2)
                .filter(|w| w[0] < 0.0 && w[1] >= 0.0)
                .count() as f64;
            let hz = crossings * f64::from(to) / steady.len() as f64;
            assert!((hz - 440.0).abs() < 5.0, "{from}->{to}: {hz} Hz");
            assert!(r.delay() <= fout, "{from}->{to}: delay {}", r.delay());
        }
    }

    #[test]
    fn wrong_sizes_and_rates_are_refused() {
        assert!(FrameResampler::new(0, 8000, 20).is_err());
        assert!(FrameResampler::new(11_025, 8000, 1).is_err());
        let mut r = FrameResampler::new(48_000, 8000, 20).expect("resampler");
        assert_eq!(r.process(&[0.0; 10], &mut [0.0; 160]), 0);
        assert_eq!(r.process(&[0.0; 960], &mut [0.0; 10]), 0);
    }
}
