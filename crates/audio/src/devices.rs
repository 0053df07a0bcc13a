//! The system's default microphone and speaker through cpal.
//!
//! Both streams run mono samples through an [`AudioPort`]'s rings at the microphone's rate;
//! their callbacks only convert, mix down and move samples. The streams live on a thread of
//! their own (cpal streams are not `Send` on every platform) until the port closes.
//!
//! That thread also watches them: a stream that stops moving samples is rebuilt on the same
//! ring, so the call goes on. Through ALSA's PulseAudio plugin (null sinks, here) a speaker
//! stream sometimes stops calling back for good, at times after `snd_pcm_avail_delay` I/O
//! errors (EIO, which cpal does not recover from as it does an xrun); a new stream plays.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use cpal::{FromSample, SampleFormat, SizedSample, StreamConfig};

use crate::DeviceChoice;
use crate::port::{AudioError, AudioPort, CaptureSide, Device, PlaybackSide, PortCounters};

/// How often the device thread checks the streams.
const WATCH_EVERY: Duration = Duration::from_millis(250);
/// Looks without a sample moved before a running stream is taken for stalled (a device's
/// period is far shorter).
const STALL_CHECKS: u32 = 2;
/// The same before a new stream's first samples (sound servers can take a while to start).
const START_CHECKS: u32 = 16;

/// What the device thread is told.
enum DeviceCommand {
    Stop,
    /// The user picked a device for one direction (`None`: the system's default).
    Choose(crate::DeviceDirection, Option<crate::ChosenDevice>),
}

struct DeviceThread {
    commands: mpsc::Sender<DeviceCommand>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// Where the call's audio went (devices came or went).
    routes: mpsc::Receiver<crate::AudioRoute>,
}

impl Device for DeviceThread {
    fn routes(&mut self) -> Vec<crate::AudioRoute> {
        self.routes.try_iter().collect()
    }

    fn choose(
        &mut self,
        direction: crate::DeviceDirection,
        device: Option<crate::ChosenDevice>,
    ) -> Result<(), AudioError> {
        self.commands
            .send(DeviceCommand::Choose(direction, device))
            .map_err(|_| AudioError::Device {
                what: "audio",
                detail: "the device thread stopped".into(),
            })
    }

    fn close(&mut self) -> Result<(), AudioError> {
        let _ = self.commands.send(DeviceCommand::Stop);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        Ok(())
    }
}

impl AudioPort {
    /// Opens the default microphone and speaker.
    pub fn default_devices() -> Result<AudioPort, AudioError> {
        Self::devices(DeviceChoice::default())
    }

    /// Opens the chosen microphone and speaker (the defaults where there is no choice, or
    /// where the chosen one is not there: a call never fails for a missing device).
    pub fn devices(choice: DeviceChoice) -> Result<AudioPort, AudioError> {
        // On JACK both directions are one client (one real-time thread, not two); the user
        // patches its ports, so there is no device to choose.
        #[cfg(target_os = "linux")]
        if wants_jack() {
            return crate::jack_duplex::open();
        }
        let (ready_tx, ready_rx) = mpsc::channel();
        let (commands, inbox) = mpsc::channel::<DeviceCommand>();
        let (said, routes) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("siperb-audio-devices".into())
            .spawn(move || {
                // alsa-lib prints what it cannot open straight to stderr (a dozen lines on a
                // machine without a sound card); on this thread they go to a buffer instead,
                // and into our log.
                #[cfg(target_os = "linux")]
                let alsa_messages = alsa::Output::local_error_handler().ok();
                let opened = Streams::open(&choice, said);
                #[cfg(target_os = "linux")]
                if let Some(out) = alsa_messages {
                    let text = out.borrow().to_string();
                    if !text.trim().is_empty() {
                        tracing::debug!("alsa-lib: {}", text.trim());
                    }
                }
                match opened {
                    Ok((port, streams)) => {
                        let _ = ready_tx.send(Ok(port));
                        streams.watch(&inbox);
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                    }
                }
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
            commands,
            thread: Some(thread),
            routes,
        }));
        Ok(port)
    }
}

/// A ring side lent to a stream's callback: when the stream (and its callback) is dropped,
/// the side comes back, so a new stream can take over the same ring.
struct Lent<T: Send + 'static> {
    side: Option<T>,
    back: mpsc::Sender<T>,
}

impl<T: Send + 'static> Drop for Lent<T> {
    fn drop(&mut self) {
        if let Some(side) = self.side.take() {
            let _ = self.back.send(side);
        }
    }
}

/// One direction's device, config and stream, and what the watchdog saw of it.
struct Direction<T: Send + 'static> {
    what: &'static str,
    device: cpal::Device,
    config: StreamConfig,
    format: SampleFormat,
    stream: Option<cpal::Stream>,
    /// The ring side while no stream holds it, and where streams give it back.
    idle: Option<T>,
    back: (mpsc::Sender<T>, mpsc::Receiver<T>),
    /// Errors this stream reported (the callback adds, the watchdog reads).
    errors: Arc<AtomicU64>,
    /// Samples moved at the last look, looks since they last changed, and whether this stream
    /// has moved any.
    moved: u64,
    still: u32,
    started: bool,
    rebuilt: u32,
}

struct Streams {
    input: Direction<CaptureSide>,
    output: Direction<PlaybackSide>,
    counters: Arc<PortCounters>,
    /// Linux: the sound server's connection that keeps our streams (opened on its default
    /// device through ALSA) on the devices the call wants, as devices come and go.
    #[cfg(target_os = "linux")]
    router: Option<crate::device_watch::linux::Router>,
}

impl Streams {
    fn open(
        choice: &DeviceChoice,
        said: mpsc::Sender<crate::AudioRoute>,
    ) -> Result<(AudioPort, Streams), AudioError> {
        let host = host()?;
        // A chosen device cpal knows by that id (Windows, macOS, ALSA names) is opened
        // directly; any other (the sound server's names on Linux) is moved to after opening.
        let direct = |chosen: &Option<crate::ChosenDevice>| {
            chosen
                .as_ref()
                .and_then(|c| c.id.0.parse::<cpal::DeviceId>().ok())
                .and_then(|id| host.device_by_id(&id))
        };
        let chosen_input = direct(&choice.microphone);
        let chosen_output = direct(&choice.speaker);
        #[cfg(target_os = "linux")]
        let (direct_input, direct_output) = (chosen_input.is_some(), chosen_output.is_some());
        // On JACK a missing device means the server is not there: a setting to fix.
        #[cfg(target_os = "linux")]
        let jack = host.id() == cpal::HostId::Jack;
        #[cfg(not(target_os = "linux"))]
        let jack = false;
        let missing = |what: &'static str| {
            if jack {
                AudioError::Host(format!("JACK has no {what}: is a JACK server running?"))
            } else {
                AudioError::NoDevice(what)
            }
        };
        let input = chosen_input
            .or_else(|| host.default_input_device())
            .ok_or_else(|| missing("microphone"))?;
        let output = chosen_output
            .or_else(|| host.default_output_device())
            .ok_or_else(|| missing("speaker"))?;
        let in_supported = input
            .default_input_config()
            .map_err(device_error("microphone"))?;
        let out_supported = output
            .default_output_config()
            .map_err(device_error("speaker"))?;
        // The microphone's rate paces the call; the speaker is opened at the same rate.
        let rate = in_supported.sample_rate();
        let (port, capture, playback) = AudioPort::new(rate, "default devices");
        let mut streams = Streams {
            input: Direction::new("microphone", input, &in_supported, rate, capture),
            output: Direction::new("speaker", output, &out_supported, rate, playback),
            counters: port.counters(),
            #[cfg(target_os = "linux")]
            router: None,
        };
        streams.input.start(&streams.counters, input_stream)?;
        streams.output.start(&streams.counters, output_stream)?;
        #[cfg(target_os = "linux")]
        if !jack {
            // Devices cpal opened by their own id stay where they are.
            let routed = DeviceChoice {
                microphone: choice.microphone.clone().filter(|_| !direct_input),
                speaker: choice.speaker.clone().filter(|_| !direct_output),
                follow_headsets: choice.follow_headsets,
            };
            match crate::device_watch::linux::Router::start(routed, said) {
                Ok(router) => streams.router = Some(router),
                Err(e) if choice.microphone.is_some() || choice.speaker.is_some() => {
                    tracing::warn!("cannot use the chosen devices: {e}; using the defaults");
                }
                Err(e) => tracing::debug!("no device routing: {e}"),
            }
        }
        #[cfg(not(target_os = "linux"))]
        drop(said);
        Ok((port, streams))
    }

    /// Keeps the streams running until told to stop (or the port is gone), and follows the
    /// user's picks.
    fn watch(mut self, inbox: &mpsc::Receiver<DeviceCommand>) {
        loop {
            match inbox.recv_timeout(WATCH_EVERY) {
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Ok(DeviceCommand::Choose(direction, device)) => {
                    self.choose(direction, device);
                    continue;
                }
                Ok(DeviceCommand::Stop) | Err(mpsc::RecvTimeoutError::Disconnected) => return,
            }
            let c = self.counters.clone();
            // Samples a stream moved, taken or lost, played or not: a stalled stream moves none.
            let captured =
                c.captured.load(Ordering::Relaxed) + c.capture_overruns.load(Ordering::Relaxed);
            let mut rebuilt = self.input.check(captured, &c, input_stream);
            let played = c.played.load(Ordering::Relaxed) + c.underruns.load(Ordering::Relaxed);
            rebuilt |= self.output.check(played, &c, output_stream);
            #[cfg(target_os = "linux")]
            if let Some(router) = self.router.as_mut() {
                if rebuilt {
                    // A new stream starts on the default device: back to where it belongs.
                    router.reapply();
                }
                router.poll();
            }
            #[cfg(not(target_os = "linux"))]
            let _ = rebuilt;
        }
    }

    /// The user picked a device mid-call: the sound server moves the streams there.
    fn choose(&mut self, direction: crate::DeviceDirection, device: Option<crate::ChosenDevice>) {
        #[cfg(target_os = "linux")]
        if let Some(router) = self.router.as_mut() {
            router.choose(direction, device);
            return;
        }
        let _ = (direction, device);
        tracing::warn!("this sound system cannot move a call to another device yet");
    }
}

/// The sound system: the OS default (ALSA on Linux, through the PulseAudio/PipeWire plugin;
/// CoreAudio; WASAPI), or JACK when `SIPERB_AUDIO_HOST=jack` (Linux studio setups, and the
/// media benchmark, which gives every phone under test one JACK clock). A call on JACK is one
/// client of its own (`jack_duplex`); the ringer and the device list use cpal's JACK host.
pub(crate) fn host() -> Result<cpal::Host, AudioError> {
    let choice = std::env::var("SIPERB_AUDIO_HOST").unwrap_or_default();
    match choice.as_str() {
        "" | "default" => Ok(cpal::default_host()),
        #[cfg(target_os = "linux")]
        "jack" => cpal::host_from_id(cpal::HostId::Jack)
            .map_err(|e| AudioError::Host(format!("JACK: {e} (is a JACK server running?)"))),
        other => Err(AudioError::Host(format!(
            "SIPERB_AUDIO_HOST={other} is not known here (use \"default\"{})",
            if cfg!(target_os = "linux") {
                " or \"jack\""
            } else {
                ""
            }
        ))),
    }
}

/// Whether the user asked for JACK (then the sound server is not where the devices are).
pub(crate) fn wants_jack() -> bool {
    std::env::var("SIPERB_AUDIO_HOST").is_ok_and(|h| h == "jack")
}

/// Builds a stream of one direction on a lent ring side.
type Build<T> = fn(
    &cpal::Device,
    StreamConfig,
    SampleFormat,
    Lent<T>,
    Arc<AtomicU64>,
    Arc<PortCounters>,
) -> Result<cpal::Stream, AudioError>;

impl<T: Send + 'static> Direction<T> {
    fn new(
        what: &'static str,
        device: cpal::Device,
        supported: &cpal::SupportedStreamConfig,
        rate: u32,
        side: T,
    ) -> Self {
        Self {
            what,
            device,
            config: config_at(supported, rate),
            format: supported.sample_format(),
            stream: None,
            idle: Some(side),
            back: mpsc::channel(),
            errors: Arc::new(AtomicU64::new(0)),
            moved: 0,
            still: 0,
            started: false,
            rebuilt: 0,
        }
    }

    /// Builds and starts a stream with the idle ring side.
    fn start(&mut self, counters: &Arc<PortCounters>, build: Build<T>) -> Result<(), AudioError> {
        let side = self.idle.take().ok_or(AudioError::Device {
            what: self.what,
            detail: "its ring is still held by the old stream".into(),
        })?;
        let lent = Lent {
            side: Some(side),
            back: self.back.0.clone(),
        };
        let stream = build(
            &self.device,
            self.config,
            self.format,
            lent,
            self.errors.clone(),
            counters.clone(),
        );
        let stream = match stream {
            Ok(s) => s,
            Err(e) => {
                // The callback (and the side it held) was dropped with the failed build.
                self.idle = self.back.1.recv_timeout(Duration::from_secs(1)).ok();
                return Err(e);
            }
        };
        if let Err(e) = stream.play() {
            drop(stream);
            self.idle = self.back.1.recv_timeout(Duration::from_secs(1)).ok();
            return Err(device_error(self.what)(e));
        }
        self.stream = Some(stream);
        Ok(())
    }

    /// Rebuilds the stream when it stopped moving samples: for [`STALL_CHECKS`] looks in a row
    /// once it has run, or [`START_CHECKS`] before its first samples. Says whether it did.
    fn check(&mut self, moved: u64, counters: &Arc<PortCounters>, build: Build<T>) -> bool {
        let errors = self.errors.load(Ordering::Relaxed);
        if moved != self.moved {
            self.moved = moved;
            self.still = 0;
            self.started = true;
            return false;
        }
        self.still += 1;
        let limit = if self.started {
            STALL_CHECKS
        } else {
            START_CHECKS
        };
        if self.still < limit && self.stream.is_some() {
            return false;
        }
        self.still = 0;
        self.started = false;
        if let Some(old) = self.stream.take() {
            drop(old);
            self.idle = self.back.1.recv_timeout(Duration::from_secs(1)).ok();
        }
        self.rebuilt += 1;
        match self.start(counters, build) {
            Ok(()) => tracing::warn!(
                "the {} stream stopped ({errors} errors so far): opened it again (time {})",
                self.what,
                self.rebuilt
            ),
            Err(e) => tracing::warn!("the {} stream stopped and cannot reopen: {e}", self.what),
        }
        true
    }
}

fn device_error(what: &'static str) -> impl Fn(cpal::Error) -> AudioError {
    move |e| AudioError::Device {
        what,
        detail: e.to_string(),
    }
}

/// A stream config at `rate` with the device's channel count. The period is left to the
/// device: through ALSA's PulseAudio plugin, fixed 10-40 ms periods made the microphone start
/// about two seconds late where the default started at once (see the device echo test's delay
/// in the notes).
fn config_at(supported: &cpal::SupportedStreamConfig, rate: u32) -> StreamConfig {
    StreamConfig {
        channels: supported.channels(),
        sample_rate: rate,
        buffer_size: cpal::BufferSize::Default,
    }
}

fn unsupported(what: &'static str, format: SampleFormat) -> AudioError {
    AudioError::Device {
        what,
        detail: format!("unsupported sample format {format}"),
    }
}

fn input_stream(
    device: &cpal::Device,
    config: StreamConfig,
    format: SampleFormat,
    lent: Lent<CaptureSide>,
    errors: Arc<AtomicU64>,
    counters: Arc<PortCounters>,
) -> Result<cpal::Stream, AudioError> {
    match format {
        SampleFormat::F32 => input_of::<f32>(device, config, lent, errors, counters),
        SampleFormat::I16 => input_of::<i16>(device, config, lent, errors, counters),
        SampleFormat::I32 => input_of::<i32>(device, config, lent, errors, counters),
        other => Err(unsupported("microphone", other)),
    }
}

fn output_stream(
    device: &cpal::Device,
    config: StreamConfig,
    format: SampleFormat,
    lent: Lent<PlaybackSide>,
    errors: Arc<AtomicU64>,
    counters: Arc<PortCounters>,
) -> Result<cpal::Stream, AudioError> {
    match format {
        SampleFormat::F32 => output_of::<f32>(device, config, lent, errors, counters),
        SampleFormat::I16 => output_of::<i16>(device, config, lent, errors, counters),
        SampleFormat::I32 => output_of::<i32>(device, config, lent, errors, counters),
        other => Err(unsupported("speaker", other)),
    }
}

fn input_of<T>(
    device: &cpal::Device,
    config: StreamConfig,
    mut lent: Lent<CaptureSide>,
    errors: Arc<AtomicU64>,
    counters: Arc<PortCounters>,
) -> Result<cpal::Stream, AudioError>
where
    T: SizedSample,
    f32: FromSample<T>,
{
    let channels = usize::from(config.channels);
    let latency = counters.clone();
    device
        .build_input_stream::<T, _, _>(
            config,
            move |data: &[T], info: &cpal::InputCallbackInfo| {
                let t = info.timestamp();
                latency.latency(true, t.callback.duration_since(t.capture));
                if let Some(capture) = lent.side.as_mut() {
                    capture.push_interleaved(data, channels, <f32 as FromSample<T>>::from_sample_);
                }
            },
            counted_errors(errors, counters),
            None,
        )
        .map_err(device_error("microphone"))
}

/// A stream's error callback: counts the error for the watchdog and the port's counters.
fn counted_errors(
    errors: Arc<AtomicU64>,
    counters: Arc<PortCounters>,
) -> impl FnMut(cpal::Error) + Send + 'static {
    move |_| {
        errors.fetch_add(1, Ordering::Relaxed);
        counters.device_error();
    }
}

fn output_of<T>(
    device: &cpal::Device,
    config: StreamConfig,
    mut lent: Lent<PlaybackSide>,
    errors: Arc<AtomicU64>,
    counters: Arc<PortCounters>,
) -> Result<cpal::Stream, AudioError>
where
    T: SizedSample + FromSample<f32>,
{
    let channels = usize::from(config.channels);
    let latency = counters.clone();
    // Until the call's audio starts, and whenever it runs late, the speaker plays silence.
    device
        .build_output_stream::<T, _, _>(
            config,
            move |out: &mut [T], info: &cpal::OutputCallbackInfo| {
                let t = info.timestamp();
                latency.latency(false, t.playback.duration_since(t.callback));
                if let Some(playback) = lent.side.as_mut() {
                    playback.fill_interleaved(out, channels, <T as FromSample<f32>>::from_sample_);
                }
            },
            counted_errors(errors, counters),
            None,
        )
        .map_err(device_error("speaker"))
}
