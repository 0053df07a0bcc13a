//! G.722 (ITU-T G.722, 64 kbit/s, 16 kHz audio) through `ezk-g722`, a Rust port of the
//! SpanDSP codec maintained with the ezk SIP stack. RTP carries it with an 8000 Hz clock
//! (RFC 3551 §4.5.2) while the audio is 16 kHz.
//!
//! The crate returns a fresh `Vec` per frame; that happens on the media thread, never in an
//! audio device callback, and is copied into the caller's buffer here.

use ezk_g722::libg722::{Bitrate, decoder::Decoder, encoder::Encoder};

use super::{AudioCodec, CodecError, CodecKind};

pub struct G722 {
    encoder: Encoder,
    decoder: Decoder,
}

impl std::fmt::Debug for G722 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("G722")
    }
}

impl Default for G722 {
    fn default() -> Self {
        Self::new()
    }
}

impl G722 {
    pub fn new() -> Self {
        Self {
            encoder: Encoder::new(Bitrate::Mode1_64000, false, false),
            decoder: Decoder::new(Bitrate::Mode1_64000, false, false),
        }
    }
}

fn copy<T: Copy>(from: &[T], to: &mut [T]) -> Result<usize, CodecError> {
    let capacity = to.len();
    let dest = to.get_mut(..from.len()).ok_or(CodecError::OutputTooSmall {
        needed: from.len(),
        capacity,
    })?;
    dest.copy_from_slice(from);
    Ok(from.len())
}

impl AudioCodec for G722 {
    fn kind(&self) -> CodecKind {
        CodecKind::G722
    }

    /// Two 16 kHz samples make one byte.
    fn encode(&mut self, pcm: &[i16], out: &mut [u8]) -> Result<usize, CodecError> {
        if out.len() < pcm.len().div_ceil(2) {
            return Err(CodecError::OutputTooSmall {
                needed: pcm.len().div_ceil(2),
                capacity: out.len(),
            });
        }
        copy(&self.encoder.encode(pcm), out)
    }

    fn decode(&mut self, payload: &[u8], out: &mut [i16]) -> Result<usize, CodecError> {
        if out.len() < payload.len() * 2 {
            return Err(CodecError::OutputTooSmall {
                needed: payload.len() * 2,
                capacity: out.len(),
            });
        }
        copy(&self.decoder.decode(payload), out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wideband_tone_round_trips() {
        let mut codec = G722::new();
        // 20 ms frames at 16 kHz of a 3 kHz tone: above what narrowband carries.
        let frame = |n: usize| -> Vec<i16> {
            (0..320)
                .map(|i| {
                    let t = (n * 320 + i) as f64 / 16_000.0;
                    (6_000.0 * (2.0 * std::f64::consts::PI * 3_000.0 * t).sin()) as i16
                })
                .collect()
        };
        let mut bytes = [0u8; 160];
        let mut out = [0i16; 320];
        let mut err = 0f64;
        let mut sig = 0f64;
        for n in 0..20 {
            let pcm = frame(n);
            assert_eq!(codec.encode(&pcm, &mut bytes).expect("encode"), 160);
            assert_eq!(codec.decode(&bytes, &mut out).expect("decode"), 320);
            if n > 2 {
                // The codec delays by a few samples: compare energies, not samples.
                sig += pcm.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>();
                err += out.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>();
            }
        }
        let ratio = err / sig;
        assert!((0.7..1.3).contains(&ratio), "energy ratio {ratio}");
        assert!(matches!(
            codec.decode(&bytes, &mut [0i16; 10]),
            Err(CodecError::OutputTooSmall { .. })
        ));
    }
}
