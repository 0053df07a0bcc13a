//! 16-bit PCM WAV files for `siperb-cli --audio-in/--audio-out` and tests.

use std::path::Path;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WavError {
    #[error("cannot read or write {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} is not a 16-bit PCM WAV file ({why})")]
    Format { path: String, why: &'static str },
}

/// Mono samples and their rate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pcm {
    pub rate: u32,
    pub samples: Vec<i16>,
}

impl Pcm {
    /// Resampled to `rate` by linear interpolation (enough for a test signal; the real
    /// resampler lives in the audio crate).
    pub fn resampled(&self, rate: u32) -> Pcm {
        if self.rate == rate || self.samples.is_empty() || self.rate == 0 {
            return Pcm {
                rate,
                samples: self.samples.clone(),
            };
        }
        let n = (self.samples.len() as u64 * u64::from(rate) / u64::from(self.rate)) as usize;
        let step = f64::from(self.rate) / f64::from(rate);
        let last = self.samples.len() - 1;
        let samples = (0..n)
            .map(|i| {
                let pos = i as f64 * step;
                let j = (pos as usize).min(last);
                let k = (j + 1).min(last);
                let frac = pos - j as f64;
                let v =
                    f64::from(self.samples[j]) * (1.0 - frac) + f64::from(self.samples[k]) * frac;
                v.round() as i16
            })
            .collect();
        Pcm { rate, samples }
    }
}

fn u16_at(b: &[u8], i: usize) -> Option<u16> {
    Some(u16::from_le_bytes([*b.get(i)?, *b.get(i + 1)?]))
}

fn u32_at(b: &[u8], i: usize) -> Option<u32> {
    Some(u32::from_le_bytes([
        *b.get(i)?,
        *b.get(i + 1)?,
        *b.get(i + 2)?,
        *b.get(i + 3)?,
    ]))
}

/// Reads a 16-bit PCM WAV; several channels are mixed down to mono.
pub fn read(path: &Path) -> Result<Pcm, WavError> {
    let name = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| WavError::Io {
        path: name.clone(),
        source,
    })?;
    let bad = |why| WavError::Format {
        path: name.clone(),
        why,
    };
    if bytes.len() < 12 || &bytes[0..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return Err(bad("no RIFF/WAVE header"));
    }
    let mut at = 12;
    let mut format: Option<(u16, u16, u32, u16)> = None;
    while at + 8 <= bytes.len() {
        let id = &bytes[at..at + 4];
        let size = u32_at(&bytes, at + 4).ok_or_else(|| bad("truncated chunk"))? as usize;
        let body = at + 8;
        if id == b"fmt " {
            let f = (|| {
                Some((
                    u16_at(&bytes, body)?,
                    u16_at(&bytes, body + 2)?,
                    u32_at(&bytes, body + 4)?,
                    u16_at(&bytes, body + 14)?,
                ))
            })()
            .ok_or_else(|| bad("truncated fmt chunk"))?;
            format = Some(f);
        } else if id == b"data" {
            let (tag, channels, rate, bits) = format.ok_or_else(|| bad("data before fmt"))?;
            if !(tag == 1 || tag == 0xfffe) || bits != 16 || channels == 0 {
                return Err(bad("only 16-bit PCM is supported"));
            }
            let end = body.saturating_add(size).min(bytes.len());
            let frame = usize::from(channels) * 2;
            let samples = bytes[body..end]
                .chunks_exact(frame)
                .map(|f| {
                    let sum: i32 = f
                        .chunks_exact(2)
                        .map(|s| i32::from(i16::from_le_bytes([s[0], s[1]])))
                        .sum();
                    (sum / i32::from(channels)) as i16
                })
                .collect();
            return Ok(Pcm { rate, samples });
        }
        at = body.saturating_add(size + (size & 1));
    }
    Err(bad("no data chunk"))
}

/// Writes mono 16-bit PCM.
pub fn write(path: &Path, pcm: &Pcm) -> Result<(), WavError> {
    let data_len = (pcm.samples.len() * 2) as u32;
    let mut out = Vec::with_capacity(44 + data_len as usize);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data_len).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&pcm.rate.to_le_bytes());
    out.extend_from_slice(&(pcm.rate * 2).to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    for s in &pcm.samples {
        out.extend_from_slice(&s.to_le_bytes());
    }
    std::fs::write(path, out).map_err(|source| WavError::Io {
        path: path.display().to_string(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_written_file_reads_back_and_resamples() {
        let dir = tempfile::tempdir().expect("dir");
        let p = dir.path().join("a.wav");
        let pcm = Pcm {
            rate: 16_000,
            samples: (0..1600).map(|i| (i * 10) as i16).collect(),
        };
        write(&p, &pcm).expect("write");
        assert_eq!(read(&p).expect("read"), pcm);
        let down = pcm.resampled(8000);
        assert_eq!(down.samples.len(), 800);
        assert_eq!(down.samples[100], pcm.samples[200]);
        std::fs::write(&p, b"RIFF....WAVEjunk").expect("write");
        assert!(matches!(read(&p), Err(WavError::Format { .. })));
    }
}
