//! The system's default microphone and speaker through cpal.
//!
//! Both streams run mono samples through an [`AudioPort`]'s rings at the microphone's rate;
//! their callbacks only convert, mix down and move samples. The streams live on a thread of
//! their own (cpal streams are not `Send` on every platform) until the port closes.

use std::sync::Arc;
use std::sync::mpsc;

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use cpal::{FromSample, SampleFormat, SizedSample, StreamConfig};

use crate::port::{AudioError, AudioPort, CaptureSide, Device, PlaybackSide, PortCounters};

/// The device period asked for: short for a low mouth-to-ear delay. Through ALSA's PulseAudio
/// plugin 10 ms periods failed (`snd_pcm_avail_delay` I/O errors, output stalled for a
/// second) where 20 ms ran clean.
const PERIOD_MS: u32 = 20;

struct DeviceThread {
    stop: mpsc::Sender<()>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Device for DeviceThread {
    fn close(&mut self) -> Result<(), AudioError> {
        let _ = self.stop.send(());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        Ok(())
    }
}

impl AudioPort {
    /// Opens the default microphone and speaker.
    pub fn default_devices() -> Result<AudioPort, AudioError> {
        let (ready_tx, ready_rx) = mpsc::channel();
        let (stop_tx, stop_rx) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("siperb-audio-devices".into())
            .spawn(move || {
                // alsa-lib prints what it cannot open straight to stderr (a dozen lines on a
                // machine without a sound card); on this thread they go to a buffer instead,
                // and into our log.
                #[cfg(target_os = "linux")]
                let alsa_messages = alsa::Output::local_error_handler().ok();
                let opened = open_streams();
                #[cfg(target_os = "linux")]
                if let Some(out) = alsa_messages {
                    let text = out.borrow().to_string();
                    if !text.trim().is_empty() {
                        tracing::debug!("alsa-lib: {}", text.trim());
                    }
                }
                let streams = match opened {
                    Ok((port, streams)) => {
                        let _ = ready_tx.send(Ok(port));
                        streams
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                // Until the port closes (or is dropped).
                let _ = stop_rx.recv();
                drop(streams);
            })
            .map_err(|e| AudioError::Device {
                what: "audio",
                detail: e.to_string(),
            })?;
        let mut port = ready_rx.recv().map_err(|_| AudioError::Device {
            what: "audio",
            detail: "the device thread stopped".into(),
        })??;
        port.attach(Box::new(DeviceThread {
            stop: stop_tx,
            thread: Some(thread),
        }));
        Ok(port)
    }
}

fn device_error(what: &'static str) -> impl Fn(cpal::Error) -> AudioError {
    move |e| AudioError::Device {
        what,
        detail: e.to_string(),
    }
}

/// A stream config at `rate` with the device's channel count and a short period when the
/// device allows one.
fn config_at(supported: &cpal::SupportedStreamConfig, rate: u32) -> StreamConfig {
    let period = rate * PERIOD_MS / 1000;
    let buffer_size = match supported.buffer_size() {
        cpal::SupportedBufferSize::Range { min, max } if (*min..=*max).contains(&period) => {
            cpal::BufferSize::Fixed(period)
        }
        _ => cpal::BufferSize::Default,
    };
    StreamConfig {
        channels: supported.channels(),
        sample_rate: rate,
        buffer_size,
    }
}

fn open_streams() -> Result<(AudioPort, (cpal::Stream, cpal::Stream)), AudioError> {
    let host = cpal::default_host();
    let input = host
        .default_input_device()
        .ok_or(AudioError::NoDevice("microphone"))?;
    let output = host
        .default_output_device()
        .ok_or(AudioError::NoDevice("speaker"))?;
    let in_supported = input
        .default_input_config()
        .map_err(device_error("microphone"))?;
    let out_supported = output
        .default_output_config()
        .map_err(device_error("speaker"))?;
    // The microphone's rate paces the call; the speaker is opened at the same rate.
    let rate = in_supported.sample_rate();
    let (port, capture, playback) = AudioPort::new(rate, "default devices");
    let counters = port.counters();
    let in_config = config_at(&in_supported, rate);
    let out_config = config_at(&out_supported, rate);
    let mic = match in_supported.sample_format() {
        SampleFormat::F32 => input_stream::<f32>(&input, in_config, capture, counters.clone()),
        SampleFormat::I16 => input_stream::<i16>(&input, in_config, capture, counters.clone()),
        SampleFormat::I32 => input_stream::<i32>(&input, in_config, capture, counters.clone()),
        other => Err(AudioError::Device {
            what: "microphone",
            detail: format!("unsupported sample format {other}"),
        }),
    }?;
    let speaker = match out_supported.sample_format() {
        SampleFormat::F32 => output_stream::<f32>(&output, out_config, playback, counters),
        SampleFormat::I16 => output_stream::<i16>(&output, out_config, playback, counters),
        SampleFormat::I32 => output_stream::<i32>(&output, out_config, playback, counters),
        other => Err(AudioError::Device {
            what: "speaker",
            detail: format!("unsupported sample format {other}"),
        }),
    }?;
    mic.play().map_err(device_error("microphone"))?;
    speaker.play().map_err(device_error("speaker"))?;
    Ok((port, (mic, speaker)))
}

fn input_stream<T>(
    device: &cpal::Device,
    config: StreamConfig,
    mut capture: CaptureSide,
    counters: Arc<PortCounters>,
) -> Result<cpal::Stream, AudioError>
where
    T: SizedSample,
    f32: FromSample<T>,
{
    let channels = usize::from(config.channels);
    device
        .build_input_stream::<T, _, _>(
            config,
            move |data: &[T], _| {
                capture.push_interleaved(data, channels, <f32 as FromSample<T>>::from_sample_)
            },
            move |_| counters.device_error(),
            None,
        )
        .map_err(device_error("microphone"))
}

fn output_stream<T>(
    device: &cpal::Device,
    config: StreamConfig,
    mut playback: PlaybackSide,
    counters: Arc<PortCounters>,
) -> Result<cpal::Stream, AudioError>
where
    T: SizedSample + FromSample<f32>,
{
    let channels = usize::from(config.channels);
    // Until the call's audio starts, and whenever it runs late, the speaker plays silence.
    device
        .build_output_stream::<T, _, _>(
            config,
            move |out: &mut [T], _| {
                playback.fill_interleaved(out, channels, <T as FromSample<f32>>::from_sample_);
            },
            move |_| counters.device_error(),
            None,
        )
        .map_err(device_error("speaker"))
}
