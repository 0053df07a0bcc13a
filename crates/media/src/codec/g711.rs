//! G.711 µ-law (PCMU) and A-law (PCMA), ITU-T G.711. One byte per sample, no state.

use super::{AudioCodec, CodecError, CodecKind};

/// PCMU.
#[derive(Debug, Default, Clone, Copy)]
pub struct Ulaw;

/// PCMA.
#[derive(Debug, Default, Clone, Copy)]
pub struct Alaw;

const ULAW_BIAS: i32 = 0x84;
const ULAW_CLIP: i32 = 32_635;

pub(crate) fn ulaw_encode(sample: i16) -> u8 {
    let mut s = i32::from(sample);
    let sign = if s < 0 {
        s = -s;
        0x80
    } else {
        0
    };
    s = s.min(ULAW_CLIP) + ULAW_BIAS;
    // The segment is the position of the highest set bit above bit 7.
    let exponent = (31 - (s as u32).leading_zeros()).saturating_sub(7).min(7) as i32;
    let mantissa = (s >> (exponent + 3)) & 0x0f;
    !(sign | (exponent << 4) as u8 | mantissa as u8)
}

pub(crate) fn ulaw_decode(byte: u8) -> i16 {
    let b = !byte;
    let exponent = i32::from((b >> 4) & 0x07);
    let mantissa = i32::from(b & 0x0f);
    let magnitude = (((mantissa << 3) + ULAW_BIAS) << exponent) - ULAW_BIAS;
    let value = if b & 0x80 != 0 { -magnitude } else { magnitude };
    value as i16
}

pub(crate) fn alaw_encode(sample: i16) -> u8 {
    let s = i32::from(sample) >> 3; // A-law works on 13-bit magnitudes
    let (sign, magnitude) = if s >= 0 {
        (0x80u8, s)
    } else {
        (0x00u8, -s - 1)
    };
    let magnitude = magnitude.min(0x0fff);
    let byte = if magnitude < 32 {
        (magnitude >> 1) as u8
    } else {
        // Segment n (1..=7) holds magnitudes 2^(n+4) ..< 2^(n+5), 16 steps each.
        let segment = (31 - (magnitude as u32).leading_zeros()) as i32 - 4;
        let mantissa = (magnitude >> segment) & 0x0f;
        ((segment << 4) | mantissa) as u8
    };
    (sign | byte) ^ 0x55
}

pub(crate) fn alaw_decode(byte: u8) -> i16 {
    let b = byte ^ 0x55;
    let exponent = i32::from((b >> 4) & 0x07);
    let mantissa = i32::from(b & 0x0f);
    let magnitude = if exponent == 0 {
        (mantissa << 4) + 8
    } else {
        ((mantissa << 4) + 0x108) << (exponent - 1)
    };
    let value = if b & 0x80 != 0 { magnitude } else { -magnitude };
    value as i16
}

/// Maps each input item to one output item: G.711 is one byte per sample both ways.
fn per_sample<A: Copy, B>(input: &[A], out: &mut [B], f: fn(A) -> B) -> Result<usize, CodecError> {
    if out.len() < input.len() {
        return Err(CodecError::OutputTooSmall {
            needed: input.len(),
            capacity: out.len(),
        });
    }
    for (o, &i) in out.iter_mut().zip(input) {
        *o = f(i);
    }
    Ok(input.len())
}

impl AudioCodec for Ulaw {
    fn kind(&self) -> CodecKind {
        CodecKind::Pcmu
    }
    fn encode(&mut self, pcm: &[i16], out: &mut [u8]) -> Result<usize, CodecError> {
        per_sample(pcm, out, ulaw_encode)
    }
    fn decode(&mut self, payload: &[u8], out: &mut [i16]) -> Result<usize, CodecError> {
        per_sample(payload, out, ulaw_decode)
    }
}

impl AudioCodec for Alaw {
    fn kind(&self) -> CodecKind {
        CodecKind::Pcma
    }
    fn encode(&mut self, pcm: &[i16], out: &mut [u8]) -> Result<usize, CodecError> {
        per_sample(pcm, out, alaw_encode)
    }
    fn decode(&mut self, payload: &[u8], out: &mut [i16]) -> Result<usize, CodecError> {
        per_sample(payload, out, alaw_decode)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_code_points() {
        // Silence and full scale, from the G.711 tables.
        assert_eq!(ulaw_encode(0), 0xff);
        assert_eq!(ulaw_encode(i16::MAX), 0x80);
        assert_eq!(ulaw_encode(i16::MIN), 0x00);
        assert_eq!(ulaw_decode(0xff), 0);
        assert_eq!(ulaw_decode(0x80), 32_124);
        assert_eq!(alaw_encode(0), 0xd5);
        assert_eq!(alaw_decode(0xd5), 8);
        assert_eq!(alaw_decode(0xaa), 32_256);
        assert_eq!(alaw_decode(0x2a), -32_256);
    }

    #[test]
    fn every_code_decodes_and_re_encodes_to_itself() {
        for byte in 0..=255u8 {
            let u = ulaw_decode(byte);
            // µ-law has two zeros (0x7f and 0xff); both decode to 0, which encodes as 0xff.
            if byte != 0x7f {
                assert_eq!(ulaw_encode(u), byte, "ulaw {byte:#04x} -> {u}");
            }
            assert_eq!(alaw_encode(alaw_decode(byte)), byte, "alaw {byte:#04x}");
        }
    }

    #[test]
    fn round_trip_error_stays_within_the_segment_step() {
        for s in (i16::MIN..=i16::MAX).step_by(7) {
            let ue = (i32::from(ulaw_decode(ulaw_encode(s))) - i32::from(s)).abs();
            let ae = (i32::from(alaw_decode(alaw_encode(s))) - i32::from(s)).abs();
            // Logarithmic quantisation: the error stays within about 1/32 of the magnitude (we
            // allow 1/16), with a small floor near zero.
            let limit = (i32::from(s).abs() / 16).max(16);
            assert!(ue <= limit, "ulaw error {ue} at {s}");
            assert!(ae <= limit, "alaw error {ae} at {s}");
        }
    }

    #[test]
    fn codec_interface_checks_buffers() {
        let pcm = [0i16, 1000, -1000, 30_000];
        let mut bytes = [0u8; 4];
        let mut back = [0i16; 4];
        let mut c = Ulaw;
        assert_eq!(c.encode(&pcm, &mut bytes), Ok(4));
        assert_eq!(c.decode(&bytes, &mut back), Ok(4));
        assert!(
            back.iter()
                .zip(pcm)
                .all(|(a, b)| (i32::from(*a) - i32::from(b)).abs() < 1100)
        );
        assert_eq!(
            Alaw.encode(&pcm, &mut [0u8; 2]),
            Err(CodecError::OutputTooSmall {
                needed: 4,
                capacity: 2
            })
        );
    }
}
