//! Noise suppression: RNNoise (a small recurrent network that sets the gains of 22 bands
//! from the spectrum and pitch of each block) in its pure-Rust port, `nnnoiseless`.
//!
//! RNNoise works on 10 ms blocks at 48 kHz only (480 samples), scaled like 16-bit PCM, and
//! delays its output by one block (10 ms: overlap-add synthesis). [`super::AudioProcessor`]
//! runs it at 48 kHz whatever the device's rate, after the echo canceller.
//!
//! Limits: it is trained on speech with stationary and non-stationary noises (fans, traffic,
//! keyboards, babble); music and tones it takes for noise or speech by how speech-like they
//! look, and it cannot remove noise that overlaps speech in time and frequency without
//! colouring the speech.

use nnnoiseless::DenoiseState;

/// Samples in one RNNoise block: 10 ms at 48 kHz.
pub(crate) const NS_BLOCK: usize = DenoiseState::FRAME_SIZE;

/// `f32` samples in [-1, 1] to RNNoise's 16-bit scale and back.
const SCALE: f32 = 32768.0;

pub(crate) struct NoiseSuppressor {
    state: Box<DenoiseState<'static>>,
    input: Vec<f32>,
    /// RNNoise's voice probability for the last block.
    voice: f32,
}

impl std::fmt::Debug for NoiseSuppressor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NoiseSuppressor")
            .field("voice", &self.voice)
            .finish_non_exhaustive()
    }
}

impl NoiseSuppressor {
    pub(crate) fn new() -> Self {
        Self {
            state: DenoiseState::new(),
            input: vec![0.0; NS_BLOCK],
            voice: 0.0,
        }
    }

    /// Forgets what came before (its 10 ms of history and the gains it had): for when it is
    /// switched back on, so no stale audio leaks out. Allocates (a new state).
    pub(crate) fn reset(&mut self) {
        self.state = DenoiseState::new();
        self.voice = 0.0;
    }

    /// Denoises one block of [`NS_BLOCK`] samples in place (other lengths are left alone).
    pub(crate) fn process(&mut self, block: &mut [f32]) {
        if block.len() != NS_BLOCK {
            return;
        }
        for (i, s) in self.input.iter_mut().zip(block.iter()) {
            *i = (s * SCALE).clamp(-SCALE, SCALE - 1.0);
        }
        self.voice = self.state.process_frame(block, &self.input);
        for s in block.iter_mut() {
            *s = (*s / SCALE).clamp(-1.0, 1.0);
        }
    }

    pub(crate) fn voice_probability(&self) -> f32 {
        self.voice
    }
}
