//! 16-bit PCM WAV files: the file devices (`siperb-cli --audio-in/--audio-out`), call
//! recordings and tests.

use std::io::{Seek, SeekFrom, Write};
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

/// A 16-bit PCM WAV file's bytes, checked: its rate, its channel count, its sample bytes.
struct Parsed {
    rate: u32,
    channels: usize,
    bytes: Vec<u8>,
    data: std::ops::Range<usize>,
}

impl Parsed {
    fn load(path: &Path) -> Result<Self, WavError> {
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
                return Ok(Self {
                    rate,
                    channels: usize::from(channels),
                    bytes,
                    data: body..end,
                });
            }
            at = body.saturating_add(size + (size & 1));
        }
        Err(bad("no data chunk"))
    }

    /// The samples, one frame (a sample per channel) at a time.
    fn frames(&self) -> impl Iterator<Item = impl Iterator<Item = i16> + '_> + '_ {
        self.bytes[self.data.clone()]
            .chunks_exact(self.channels * 2)
            .map(|f| f.chunks_exact(2).map(|s| i16::from_le_bytes([s[0], s[1]])))
    }
}

/// Reads a 16-bit PCM WAV; several channels are mixed down to mono.
pub fn read(path: &Path) -> Result<Pcm, WavError> {
    let wav = Parsed::load(path)?;
    let channels = wav.channels as i32;
    let samples = wav
        .frames()
        .map(|f| (f.map(i32::from).sum::<i32>() / channels) as i16)
        .collect();
    Ok(Pcm {
        rate: wav.rate,
        samples,
    })
}

/// The 44-byte header of a 16-bit PCM WAV holding `data_len` bytes of samples.
fn header(rate: u32, channels: u16, data_len: u32) -> [u8; 44] {
    let mut h = [0u8; 44];
    let block = channels * 2;
    h[0..4].copy_from_slice(b"RIFF");
    h[4..8].copy_from_slice(&data_len.saturating_add(36).to_le_bytes());
    h[8..16].copy_from_slice(b"WAVEfmt ");
    h[16..20].copy_from_slice(&16u32.to_le_bytes());
    h[20..22].copy_from_slice(&1u16.to_le_bytes());
    h[22..24].copy_from_slice(&channels.to_le_bytes());
    h[24..28].copy_from_slice(&rate.to_le_bytes());
    h[28..32].copy_from_slice(&(rate * u32::from(block)).to_le_bytes());
    h[32..34].copy_from_slice(&block.to_le_bytes());
    h[34..36].copy_from_slice(&16u16.to_le_bytes());
    h[36..40].copy_from_slice(b"data");
    h[40..44].copy_from_slice(&data_len.to_le_bytes());
    h
}

/// Writes mono 16-bit PCM.
pub fn write(path: &Path, pcm: &Pcm) -> Result<(), WavError> {
    let data_len = u32::try_from(pcm.samples.len() * 2).unwrap_or(u32::MAX);
    let mut out = Vec::with_capacity(44 + pcm.samples.len() * 2);
    out.extend_from_slice(&header(pcm.rate, 1, data_len));
    for s in &pcm.samples {
        out.extend_from_slice(&s.to_le_bytes());
    }
    std::fs::write(path, out).map_err(|source| WavError::Io {
        path: path.display().to_string(),
        source,
    })
}

/// A WAV file written as the audio comes (a call recording): the header is completed on
/// [`finish`](Self::finish), so a file cut short by a crash still holds its samples.
pub struct WavWriter {
    file: std::io::BufWriter<std::fs::File>,
    path: String,
    rate: u32,
    channels: u16,
    data_len: u32,
}

impl WavWriter {
    /// Creates (or truncates) `path` for `channels` interleaved channels at `rate`.
    pub fn create(path: &Path, rate: u32, channels: u16) -> Result<Self, WavError> {
        let name = path.display().to_string();
        let io = |source| WavError::Io {
            path: name.clone(),
            source,
        };
        let mut file = std::io::BufWriter::new(std::fs::File::create(path).map_err(io)?);
        file.write_all(&header(rate, channels.max(1), 0))
            .map_err(io)?;
        Ok(Self {
            file,
            path: name,
            rate,
            channels: channels.max(1),
            data_len: 0,
        })
    }

    /// Appends interleaved samples. A WAV holds at most 4 GiB: past that, samples are dropped.
    pub fn write(&mut self, samples: &[i16]) -> Result<(), WavError> {
        let bytes = u32::try_from(samples.len() * 2).unwrap_or(u32::MAX);
        if self
            .data_len
            .checked_add(bytes)
            .is_none_or(|n| n > u32::MAX - 36)
        {
            return Ok(());
        }
        for s in samples {
            self.file
                .write_all(&s.to_le_bytes())
                .map_err(|source| WavError::Io {
                    path: self.path.clone(),
                    source,
                })?;
        }
        self.data_len += bytes;
        Ok(())
    }

    /// Seconds written so far.
    pub fn seconds(&self) -> f64 {
        f64::from(self.data_len) / f64::from(self.rate.max(1) * u32::from(self.channels) * 2)
    }

    /// Completes the header and closes the file.
    pub fn finish(mut self) -> Result<(), WavError> {
        let io = |source| WavError::Io {
            path: self.path.clone(),
            source,
        };
        self.file.flush().map_err(io)?;
        let file = self.file.get_mut();
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        file.write_all(&header(self.rate, self.channels, self.data_len))
            .map_err(io)?;
        file.sync_all().map_err(io)
    }
}

/// Reads a 16-bit PCM WAV keeping its channels apart: the rate and one vector per channel.
pub fn read_channels(path: &Path) -> Result<(u32, Vec<Vec<i16>>), WavError> {
    let wav = Parsed::load(path)?;
    let mut out = vec![Vec::new(); wav.channels];
    for frame in wav.frames() {
        for (c, s) in frame.enumerate() {
            out[c].push(s);
        }
    }
    Ok((wav.rate, out))
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

    #[test]
    fn a_streamed_stereo_file_keeps_its_channels() {
        let dir = tempfile::tempdir().expect("dir");
        let p = dir.path().join("rec.wav");
        let mut w = WavWriter::create(&p, 48_000, 2).expect("create");
        for i in 0..480i16 {
            w.write(&[i, -i]).expect("write");
        }
        assert!((w.seconds() - 0.01).abs() < 1e-9);
        w.finish().expect("finish");
        let (rate, ch) = read_channels(&p).expect("read");
        assert_eq!(rate, 48_000);
        assert_eq!(ch.len(), 2);
        assert_eq!(ch[0][100], 100);
        assert_eq!(ch[1][100], -100);
        // Mono reading mixes the two down.
        assert!(read(&p).expect("mono").samples.iter().all(|s| s.abs() <= 1));
    }
}
