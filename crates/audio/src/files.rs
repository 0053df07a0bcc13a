//! File devices: a WAV file plays as the microphone in real time, paced like a sound card (a
//! period every 10 ms on a steady clock, catching up after a stall), and everything the call
//! plays to the speaker is written to another, in order. Without files the same device is a silent
//! microphone and a speaker that discards: a clock for calls on machines without sound.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::port::{AudioError, AudioPort, CaptureSide, Device, PlaybackSide};
use crate::wav::{Pcm, WavWriter};

/// The rate file devices run at, like most sound cards.
pub const FILE_RATE: u32 = 48_000;
/// One device period.
const PERIOD: Duration = Duration::from_millis(10);

/// What file devices play and record.
#[derive(Debug, Clone, Default)]
pub struct FileAudio {
    /// Played as the microphone (then silence).
    pub play: Option<Pcm>,
    /// Where what the speaker plays is written: from the first sound the call queues, with
    /// the silences after it, so the file keeps time.
    pub record_to: Option<PathBuf>,
}

struct FileDevice {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<Result<(), AudioError>>>,
}

impl Device for FileDevice {
    fn close(&mut self) -> Result<(), AudioError> {
        self.stop.store(true, Ordering::Relaxed);
        match self.thread.take().map(std::thread::JoinHandle::join) {
            Some(Ok(done)) => done,
            Some(Err(_)) => Err(AudioError::Device {
                what: "file",
                detail: "its thread stopped unexpectedly".into(),
            }),
            None => Ok(()),
        }
    }
}

impl AudioPort {
    /// Opens file devices (see the module docs) at [`FILE_RATE`].
    pub fn files(audio: FileAudio) -> Result<AudioPort, AudioError> {
        let name = match (&audio.play, &audio.record_to) {
            (None, None) => "silence",
            _ => "files",
        };
        let (mut port, capture, playback) = AudioPort::new(FILE_RATE, name);
        port.keep_everything();
        // The file to play, at the device's rate, as floats.
        let source: Vec<f32> = audio
            .play
            .map(|p| {
                p.resampled(FILE_RATE)
                    .samples
                    .iter()
                    .map(|s| f32::from(*s) / 32768.0)
                    .collect()
            })
            .unwrap_or_default();
        let writer = audio
            .record_to
            .map(|path| WavWriter::create(&path, FILE_RATE, 1))
            .transpose()?;
        let stop = Arc::new(AtomicBool::new(false));
        let thread = std::thread::Builder::new()
            .name("siperb-file-audio".into())
            .spawn({
                let stop = stop.clone();
                move || run(source, writer, capture, playback, &stop)
            })
            .map_err(|e| AudioError::Device {
                what: "file",
                detail: e.to_string(),
            })?;
        port.attach(Box::new(FileDevice {
            stop,
            thread: Some(thread),
        }));
        Ok(port)
    }
}

fn run(
    source: Vec<f32>,
    mut writer: Option<WavWriter>,
    mut capture: CaptureSide,
    mut playback: PlaybackSide,
    stop: &AtomicBool,
) -> Result<(), AudioError> {
    let period = (FILE_RATE as usize) / 100;
    let silence = vec![0f32; period];
    let mut heard = vec![0f32; period];
    let mut pcm = vec![0i16; period];
    let mut at = 0usize;
    let mut next = Instant::now();
    let mut failed = None;
    while !stop.load(Ordering::Relaxed) {
        // One period of microphone: the file, then silence.
        let end = (at + period).min(source.len());
        let from_file = source.get(at..end).unwrap_or_default();
        capture.push(from_file);
        capture.push(&silence[..period - from_file.len()]);
        at += period;
        // The speaker: everything the call queued, in order. The call makes one frame of
        // output per frame of microphone (silence included once the far end has begun), so
        // the file keeps the call's time even when this thread or the media ran late.
        loop {
            let got = playback.take(&mut heard);
            if got == 0 {
                break;
            }
            if failed.is_none()
                && let Some(w) = writer.as_mut()
            {
                for (o, s) in pcm.iter_mut().zip(&heard[..got]) {
                    *o = (s.clamp(-1.0, 1.0) * 32767.0).round() as i16;
                }
                if let Err(e) = w.write(&pcm[..got]) {
                    failed = Some(e);
                }
            }
        }
        next += PERIOD;
        let now = Instant::now();
        if next > now {
            std::thread::sleep(next - now);
        } else if now - next > Duration::from_secs(1) {
            // A stall of more than a second (a suspended machine): start the clock again
            // rather than rushing through the backlog.
            next = now;
        }
    }
    if let Some(e) = failed {
        return Err(e.into());
    }
    match writer {
        Some(w) => w.finish().map_err(AudioError::from),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_devices_run_in_real_time_and_record_what_is_played() {
        let dir = tempfile::tempdir().expect("dir");
        let out = dir.path().join("out.wav");
        let tone = Pcm {
            rate: 8000,
            samples: (0..8000)
                .map(|i| ((f64::from(i) * 0.3).sin() * 10_000.0) as i16)
                .collect(),
        };
        let mut port = AudioPort::files(FileAudio {
            play: Some(tone),
            record_to: Some(out.clone()),
        })
        .expect("open");
        assert_eq!(port.rate(), FILE_RATE);
        let start = Instant::now();
        // Read 300 ms of microphone as it comes and send it straight back to the speaker.
        let mut frame = vec![0f32; 960];
        let mut frames = 0;
        while frames < 15 {
            if port.read(&mut frame) {
                port.write(&frame);
                frames += 1;
            } else {
                std::thread::sleep(Duration::from_millis(2));
            }
        }
        let took = start.elapsed();
        assert!(
            took >= Duration::from_millis(280),
            "300 ms of audio came in {took:?}: not paced"
        );
        std::thread::sleep(Duration::from_millis(50));
        port.close().expect("close");
        let heard = crate::wav::read(&out).expect("recording");
        assert_eq!(heard.rate, FILE_RATE);
        let loud = heard.samples.iter().filter(|s| s.abs() > 3000).count();
        assert!(loud > 4000, "the tone did not come back: {loud}");
    }

    #[test]
    fn an_unwritable_recording_is_a_clear_error() {
        let err = AudioPort::files(FileAudio {
            play: None,
            record_to: Some("/nonexistent/dir/out.wav".into()),
        })
        .expect_err("cannot create");
        assert!(
            err.to_string().contains("/nonexistent/dir/out.wav"),
            "{err}"
        );
    }
}
