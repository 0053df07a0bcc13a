//! The ringer: a ringtone looped on the ringer device while a call rings, on a stream of its
//! own, so it can ring on the laptop's speaker while calls go to the headset.
//!
//! On Linux the sound server plays it straight to the device by name (its stream is called
//! [`RINGER_STREAM`], and the call's device routing leaves it alone); when devices come or go
//! while it rings, it follows the same rules as a call's speaker (the chosen device, else a
//! new headset if the user wants that, else the default). Elsewhere, and on Linux with no
//! sound server, cpal plays it on the chosen device or the default.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use specta::Type;

use crate::{AudioError, ChosenDevice, Ringtone};

/// The name of the ringer's stream on the sound server.
pub const RINGER_STREAM: &str = "Siperb ringtone";

/// The rate ringtones are rendered at for the sound server (it converts as needed).
const RATE: u32 = 48_000;

/// How the phone rings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct RingerSettings {
    /// The ringer device (`None`: where calls' audio goes, the default or a new headset).
    #[serde(default)]
    pub device: Option<ChosenDevice>,
    /// Ring on a headset that appears (when no ringer device is chosen).
    #[serde(default = "yes")]
    pub follow_headsets: bool,
    #[serde(default)]
    pub ringtone: Ringtone,
    /// 0 (silent) to 100.
    #[serde(default = "default_volume")]
    pub volume: u8,
}

fn yes() -> bool {
    true
}

fn default_volume() -> u8 {
    80
}

impl Default for RingerSettings {
    fn default() -> Self {
        Self {
            device: None,
            follow_headsets: true,
            ringtone: Ringtone::default(),
            volume: default_volume(),
        }
    }
}

/// A sound cycle played in a loop: the ringer's ringtone, the call-waiting beeps mixed into a
/// call. Fixed buffer, no allocation after [`Looper::new`].
#[derive(Debug, Clone)]
pub struct Looper {
    cycle: Vec<f32>,
    at: usize,
}

impl Looper {
    pub fn new(cycle: Vec<f32>) -> Self {
        Self { cycle, at: 0 }
    }

    /// Writes the next samples, times `gain`, over `out`.
    pub fn fill(&mut self, out: &mut [f32], gain: f32) {
        self.each(out, |o, s| *o = s * gain);
    }

    /// Adds the next samples, times `gain`, to `out` (clamped to full scale).
    pub fn mix(&mut self, out: &mut [f32], gain: f32) {
        self.each(out, |o, s| *o = (*o + s * gain).clamp(-1.0, 1.0));
    }

    fn each(&mut self, out: &mut [f32], mut f: impl FnMut(&mut f32, f32)) {
        if self.cycle.is_empty() {
            return;
        }
        for o in out {
            f(o, self.cycle[self.at]);
            self.at = (self.at + 1) % self.cycle.len();
        }
    }
}

/// What a [`Ringer`] plays.
#[derive(Debug, Clone, Copy)]
enum Sound {
    /// Looped until stopped.
    Ringtone(crate::Ringtone),
    /// Played once.
    TestTone,
}

impl Sound {
    fn render(self, rate: u32) -> Vec<f32> {
        match self {
            Self::Ringtone(r) => r.cycle(rate),
            Self::TestTone => {
                // A tenth of a second of silence after it: the last chunk written (or the
                // device period past its end) never wraps round to its start.
                let mut t = crate::ringtone::test_tone(rate);
                t.resize(t.len() + rate as usize / 10, 0.0);
                t
            }
        }
    }

    fn once(self) -> bool {
        matches!(self, Self::TestTone)
    }
}

/// Rings until stopped or dropped (or, for the test tone, until it has played).
pub struct Ringer {
    stop: Arc<AtomicBool>,
    gain: Arc<AtomicU32>,
    thread: Option<JoinHandle<()>>,
    device: String,
}

impl std::fmt::Debug for Ringer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ringer")
            .field("device", &self.device)
            .finish()
    }
}

impl Ringer {
    /// Starts ringing; fails (with nothing playing) when no device can ring.
    pub fn start(settings: &RingerSettings) -> Result<Self, AudioError> {
        Self::play(settings, Sound::Ringtone(settings.ringtone))
    }

    /// Plays the speaker test tone once on `device` (`None`: the default) at `volume`; it
    /// ends by itself ([`Ringer::finished`]) or when stopped.
    pub fn test_tone(device: Option<ChosenDevice>, volume: u8) -> Result<Self, AudioError> {
        let settings = RingerSettings {
            device,
            follow_headsets: false,
            volume,
            ..RingerSettings::default()
        };
        Self::play(&settings, Sound::TestTone)
    }

    /// Whether it has stopped playing (a test tone that has played out).
    pub fn finished(&self) -> bool {
        self.thread.as_ref().is_none_or(JoinHandle::is_finished)
    }

    fn play(settings: &RingerSettings, sound: Sound) -> Result<Self, AudioError> {
        let stop = Arc::new(AtomicBool::new(false));
        let gain = Arc::new(AtomicU32::new(
            crate::volume_gain(settings.volume).to_bits(),
        ));
        let (said, started) = mpsc::channel();
        let run = {
            let (settings, stop, gain) = (settings.clone(), stop.clone(), gain.clone());
            move || ring(&settings, sound, &stop, &gain, &said)
        };
        let thread = std::thread::Builder::new()
            .name("siperb-ringer".into())
            .spawn(run)
            .map_err(|e| AudioError::Device {
                what: "ringer",
                detail: e.to_string(),
            })?;
        match started.recv() {
            Ok(Ok(device)) => Ok(Self {
                stop,
                gain,
                thread: Some(thread),
                device,
            }),
            Ok(Err(e)) => {
                let _ = thread.join();
                Err(e)
            }
            Err(_) => {
                let _ = thread.join();
                Err(AudioError::Device {
                    what: "ringer",
                    detail: "the ringer stopped before it started".into(),
                })
            }
        }
    }

    /// The device it rang on first ("the default speaker" when no device was picked).
    pub fn device(&self) -> &str {
        &self.device
    }

    /// Changes the volume (0 to 100) while it rings.
    pub fn set_volume(&self, volume: u8) {
        self.gain
            .store(crate::volume_gain(volume).to_bits(), Ordering::Relaxed);
    }

    /// Stops ringing (the sound ends within about a tenth of a second).
    pub fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Ringer {
    fn drop(&mut self) {
        self.halt();
    }
}

type Started = mpsc::Sender<Result<String, AudioError>>;

/// The ringer thread: the sound server when there is one, else cpal.
fn ring(
    settings: &RingerSettings,
    sound: Sound,
    stop: &AtomicBool,
    gain: &Arc<AtomicU32>,
    said: &Started,
) {
    #[cfg(target_os = "linux")]
    if !crate::devices::wants_jack() {
        match crate::device_watch::linux::SoundServer::connect() {
            Ok(server) => {
                if let Err(e) = pulse::ring(server, settings, sound, stop, gain, said) {
                    tracing::warn!("the ringer stopped: {e}");
                }
                return;
            }
            Err(e) => tracing::debug!("no sound server; the ringer uses cpal: {e}"),
        }
    }
    // alsa-lib's own complaints (a machine without a sound card) go to our log, not stderr.
    #[cfg(target_os = "linux")]
    let alsa_messages = alsa::Output::local_error_handler().ok();
    if let Err(e) = with_cpal(settings, sound, stop, gain, said) {
        let _ = said.send(Err(e));
    }
    #[cfg(target_os = "linux")]
    if let Some(out) = alsa_messages {
        let text = out.borrow().to_string();
        if !text.trim().is_empty() {
            tracing::debug!("alsa-lib: {}", text.trim());
        }
    }
}

/// cpal: an output stream on the chosen device (when cpal knows it by that id) or the
/// default, whose callback reads the pre-rendered cycle (no allocation, no lock).
fn with_cpal(
    settings: &RingerSettings,
    sound: Sound,
    stop: &AtomicBool,
    gain: &Arc<AtomicU32>,
    said: &Started,
) -> Result<(), AudioError> {
    use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
    let host = crate::devices::host()?;
    let chosen = settings
        .device
        .as_ref()
        .and_then(|c| c.id.0.parse::<cpal::DeviceId>().ok())
        .and_then(|id| host.device_by_id(&id));
    let device = chosen
        .or_else(|| host.default_output_device())
        .ok_or(AudioError::NoDevice("ringer"))?;
    let failed = |e: &dyn std::fmt::Display| AudioError::Device {
        what: "ringer",
        detail: e.to_string(),
    };
    let supported = device.default_output_config().map_err(|e| failed(&e))?;
    let config: cpal::StreamConfig = supported.config();
    let channels = usize::from(config.channels.max(1));
    let cycle = sound.render(config.sample_rate);
    let lasts = Duration::from_secs_f64(cycle.len() as f64 / f64::from(config.sample_rate.max(1)));
    // A sound played once is followed by silence until the stream closes.
    let cycle = if sound.once() {
        let mut c = cycle;
        c.resize(c.len() * 2, 0.0);
        c
    } else {
        cycle
    };
    let looper = Looper::new(cycle);
    let stream = match supported.sample_format() {
        cpal::SampleFormat::F32 => {
            cpal_output::<f32>(&device, config, channels, looper, gain.clone())
        }
        cpal::SampleFormat::I16 => {
            cpal_output::<i16>(&device, config, channels, looper, gain.clone())
        }
        other => {
            return Err(AudioError::Device {
                what: "ringer",
                detail: format!("the device plays {other:?} samples, which the ringer cannot"),
            });
        }
    }
    .map_err(|e| failed(&e))?;
    stream.play().map_err(|e| failed(&e))?;
    let name = settings
        .device
        .as_ref()
        .filter(|_| chosen_is_open(&settings.device, &device))
        .map_or_else(|| "the default speaker".to_string(), |c| c.name.clone());
    let _ = said.send(Ok(name));
    let began = std::time::Instant::now();
    let done = || sound.once() && began.elapsed() > lasts;
    while !(stop.load(Ordering::Relaxed) || done()) {
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

/// The ringer's cpal stream in the device's sample format: each frame the next sample of the
/// cycle at the current volume, on every channel (no allocation, no lock).
fn cpal_output<T>(
    device: &cpal::Device,
    config: cpal::StreamConfig,
    channels: usize,
    mut looper: Looper,
    gain: Arc<AtomicU32>,
) -> Result<cpal::Stream, cpal::Error>
where
    T: cpal::SizedSample + cpal::FromSample<f32>,
{
    use cpal::traits::DeviceTrait;
    device.build_output_stream::<T, _, _>(
        config,
        move |out: &mut [T], _| {
            let g = f32::from_bits(gain.load(Ordering::Relaxed));
            for frame in out.chunks_mut(channels) {
                let mut s = [0f32];
                looper.fill(&mut s, g);
                frame.fill(T::from_sample(s[0]));
            }
        },
        |_| {},
        None,
    )
}

fn chosen_is_open(chosen: &Option<ChosenDevice>, device: &cpal::Device) -> bool {
    use cpal::traits::DeviceTrait;
    chosen
        .as_ref()
        .is_some_and(|c| device.id().ok().is_some_and(|id| id.to_string() == c.id.0))
}

#[cfg(target_os = "linux")]
mod pulse {
    use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
    use std::time::Duration;

    use libpulse_binding::def::BufferAttr;
    use libpulse_binding::sample::{Format, Spec};
    use libpulse_binding::stream::Direction;
    use libpulse_simple_binding::Simple;

    use super::{Looper, RATE, RINGER_STREAM, RingerSettings, Sound, Started};
    use crate::device_watch::Source;
    use crate::device_watch::linux::SoundServer;
    use crate::{AudioError, DeviceChoice, DeviceDirection, DeviceId, Routing};

    /// Samples written at a time (20 ms).
    const CHUNK: usize = (RATE / 50) as usize;
    /// Chunks between looks at the devices (about 200 ms).
    const LOOK_EVERY: u32 = 10;

    fn failed(detail: impl std::fmt::Display) -> AudioError {
        AudioError::Device {
            what: "ringer",
            detail: detail.to_string(),
        }
    }

    fn open(device: Option<&DeviceId>) -> Result<Simple, AudioError> {
        let spec = Spec {
            format: Format::F32le,
            rate: RATE,
            channels: 1,
        };
        // A short buffer (about 100 ms): ringing stops promptly.
        let bytes = |ms: u32| RATE / 1000 * ms * 4;
        let attr = BufferAttr {
            maxlength: u32::MAX,
            tlength: bytes(100),
            prebuf: u32::MAX,
            minreq: bytes(20),
            fragsize: u32::MAX,
        };
        Simple::new(
            None,
            "Siperb",
            Direction::Playback,
            device.map(|d| d.0.as_str()),
            RINGER_STREAM,
            &spec,
            None,
            Some(&attr),
        )
        .map_err(|e| failed(format!("the sound server cannot play the ringtone: {e}")))
    }

    pub(super) fn ring(
        mut server: SoundServer,
        settings: &RingerSettings,
        sound: Sound,
        stop: &AtomicBool,
        gain: &AtomicU32,
        said: &Started,
    ) -> Result<(), AudioError> {
        let mut routing = Routing::new(DeviceChoice {
            microphone: None,
            speaker: settings.device.clone(),
            follow_headsets: settings.follow_headsets,
        });
        let mut devices = match server.devices() {
            Ok(d) => d,
            Err(e) => {
                let _ = said.send(Err(e));
                return Ok(());
            }
        };
        routing.start(devices.clone());
        let name_of = |devices: &[crate::DeviceInfo], id: Option<&DeviceId>| {
            id.and_then(|id| devices.iter().find(|d| d.id == *id))
                .map_or_else(|| "the default speaker".to_string(), |d| d.name.clone())
        };
        let mut target = routing.current(DeviceDirection::Output).cloned();
        let mut stream = match open(target.as_ref()) {
            Ok(s) => s,
            Err(e) => {
                let _ = said.send(Err(e));
                return Ok(());
            }
        };
        let _ = said.send(Ok(name_of(&devices, target.as_ref())));
        let cycle = sound.render(RATE);
        let chunks = (cycle.len() / CHUNK) as u32;
        let mut looper = Looper::new(cycle);
        let mut chunk = [0f32; CHUNK];
        let mut bytes = [0u8; CHUNK * 4];
        let mut written = 0u32;
        while !stop.load(Ordering::Relaxed) {
            if sound.once() && written >= chunks {
                // Played once: let it play out, then end.
                let _ = stream.drain();
                return Ok(());
            }
            looper.fill(&mut chunk, f32::from_bits(gain.load(Ordering::Relaxed)));
            for (b, s) in bytes.chunks_exact_mut(4).zip(&chunk) {
                b.copy_from_slice(&s.to_le_bytes());
            }
            stream.write(&bytes).map_err(failed)?;
            written += 1;
            if written.is_multiple_of(LOOK_EVERY) && server.wait_change(Duration::ZERO)? {
                let now = server.devices()?;
                let events = crate::changes(&devices, &now);
                devices = now;
                routing.changed(devices.clone(), &events);
                let wanted = routing.current(DeviceDirection::Output).cloned();
                if wanted != target {
                    tracing::info!("the ringer moves to {}", name_of(&devices, wanted.as_ref()));
                    let _ = stream.flush();
                    stream = open(wanted.as_ref())?;
                    target = wanted;
                }
            }
        }
        // Stop at once rather than play out what is queued.
        let _ = stream.flush();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_looper_repeats_its_cycle_across_any_buffer_sizes_and_mixes() {
        let mut l = Looper::new(vec![0.1, 0.2, 0.3]);
        let mut out = [0f32; 7];
        l.fill(&mut out, 2.0);
        assert_eq!(out, [0.2, 0.4, 0.6, 0.2, 0.4, 0.6, 0.2]);
        let mut out = [0.9f32; 2];
        l.mix(&mut out, 1.0);
        assert_eq!(out, [1.0, 1.0]); // 0.9 + 0.2 and 0.9 + 0.3, clamped
        let mut empty = Looper::new(Vec::new());
        let mut out = [0.5f32; 3];
        empty.fill(&mut out, 1.0);
        assert_eq!(out, [0.5; 3]);
    }

    #[test]
    fn settings_have_sensible_defaults_and_old_files_load() {
        let s: RingerSettings = serde_json::from_str("{}").expect("empty settings");
        assert_eq!(s, RingerSettings::default());
        assert!(s.follow_headsets && s.volume == 80 && s.device.is_none());
        let s: RingerSettings =
            serde_json::from_str(r#"{"ringtone":"chime","volume":30}"#).expect("settings");
        assert_eq!((s.ringtone, s.volume), (Ringtone::Chime, 30));
    }
}
