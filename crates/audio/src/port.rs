//! An audio port: where the media thread takes the microphone's samples and leaves the
//! speaker's.
//!
//! A port is two wait-free single-producer single-consumer rings (rtrb), allocated once when
//! the port opens. The device side ([`CaptureSide`], [`PlaybackSide`]) runs inside the device's
//! callback (or a file device's pacing thread) and only moves samples and bumps atomic
//! counters: no allocation, lock, log or I/O. The media side reads whole frames as they are
//! captured, so the capture device's clock paces the call.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

/// How much each ring holds: one second, far more than a device period or a media frame.
const RING_SECONDS: usize = 1;
/// On a real device: more captured audio waiting than this, or more queued for the speaker,
/// is delay; the media side drops the excess.
const DEVICE_BACKLOG_MS: usize = 150;

/// What went wrong with audio: a message a person understands.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AudioError {
    #[error("no {0} device is available")]
    NoDevice(&'static str),
    #[error("the {what} device cannot be used: {detail}")]
    Device { what: &'static str, detail: String },
    /// The sound system asked for (`SIPERB_AUDIO_HOST`) is unknown or not running: a
    /// setting to fix, unlike a machine that simply has no sound card.
    #[error("the sound system cannot be used: {0}")]
    Host(String),
    #[error("cannot convert between {from} Hz and {to} Hz: {detail}")]
    Resampler { from: u32, to: u32, detail: String },
    #[error(transparent)]
    File(#[from] crate::wav::WavError),
}

/// Counters the device side keeps (atomics: the callback only adds to them).
#[derive(Debug, Default)]
pub struct PortCounters {
    pub(crate) captured: AtomicU64,
    /// Captured samples lost because the media side did not take them in time.
    pub(crate) capture_overruns: AtomicU64,
    pub(crate) played: AtomicU64,
    /// Samples of silence the speaker played because nothing was queued.
    pub(crate) underruns: AtomicU64,
    /// Samples the media side could not queue for the speaker (ring full).
    playback_dropped: AtomicU64,
    /// Errors the device reported (unplugged, stream broken).
    device_errors: AtomicU64,
    /// The devices' own latency as their callbacks last reported it (µs): from capture to
    /// our callback, and from our callback to the speaker.
    pub(crate) input_latency_us: std::sync::atomic::AtomicU32,
    pub(crate) output_latency_us: std::sync::atomic::AtomicU32,
    /// When the microphone's samples last came, and how many: the device's rhythm, so the
    /// media side can sleep until the next frame is complete instead of polling for it.
    capture_clock: CaptureClock,
}

/// The capture callback's rhythm: the time of its last push (µs since `epoch`) and its size.
#[derive(Debug)]
struct CaptureClock {
    epoch: std::time::Instant,
    last_push_us: AtomicU64,
    last_push_len: std::sync::atomic::AtomicU32,
}

impl Default for CaptureClock {
    fn default() -> Self {
        Self {
            epoch: std::time::Instant::now(),
            last_push_us: AtomicU64::new(0),
            last_push_len: std::sync::atomic::AtomicU32::new(0),
        }
    }
}

impl PortCounters {
    /// Notes a device's latency (from its data callback: atomics only).
    pub(crate) fn latency(&self, input: bool, latency: std::time::Duration) {
        let us = u32::try_from(latency.as_micros()).unwrap_or(u32::MAX);
        let slot = if input {
            &self.input_latency_us
        } else {
            &self.output_latency_us
        };
        slot.store(us, Ordering::Relaxed);
    }

    /// Counts an error the device reported (from its error callback).
    pub fn device_error(&self) {
        self.device_errors.fetch_add(1, Ordering::Relaxed);
    }
}

/// A snapshot of a port's counters, in samples.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, specta::Type)]
pub struct PortStats {
    pub captured: u64,
    pub capture_overruns: u64,
    pub played: u64,
    pub underruns: u64,
    pub playback_dropped: u64,
    pub device_errors: u64,
}

/// Keeps a device (or a file device's thread) running; closing it stops the device.
pub trait Device: Send {
    /// Stops the device and finishes what it writes (a file device's recording).
    fn close(&mut self) -> Result<(), AudioError>;
    /// Moves the audio of one direction to `device` (`None`: the system's default).
    fn choose(
        &mut self,
        _direction: crate::DeviceDirection,
        _device: Option<crate::ChosenDevice>,
    ) -> Result<(), AudioError> {
        Err(AudioError::Device {
            what: "audio",
            detail: "this call's audio is not on sound devices".into(),
        })
    }
    /// Where the audio went since the last call (devices came or went); none for files.
    fn routes(&mut self) -> Vec<crate::AudioRoute> {
        Vec::new()
    }
}

/// The media side of a port.
pub struct AudioPort {
    rate: u32,
    name: String,
    capture: rtrb::Consumer<f32>,
    playback: rtrb::Producer<f32>,
    counters: Arc<PortCounters>,
    device: Option<Box<dyn Device>>,
    /// How late the media side may fall behind before it drops old audio rather than play it
    /// late (samples): short for real devices, the whole ring for file devices, whose output
    /// is a record of everything the call played.
    backlog_limit: usize,
}

impl std::fmt::Debug for AudioPort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AudioPort")
            .field("name", &self.name)
            .field("rate", &self.rate)
            .finish()
    }
}

/// What a device's capture callback holds: it pushes the microphone's samples.
pub struct CaptureSide {
    ring: rtrb::Producer<f32>,
    counters: Arc<PortCounters>,
}

/// What a device's playback callback holds: it pulls the speaker's samples.
pub struct PlaybackSide {
    ring: rtrb::Consumer<f32>,
    counters: Arc<PortCounters>,
}

impl AudioPort {
    /// A port at `rate` (mono) and its two device sides; `attach` gives it the device that
    /// keeps them running.
    pub fn new(rate: u32, name: impl Into<String>) -> (Self, CaptureSide, PlaybackSide) {
        let capacity = (rate.max(8000) as usize) * RING_SECONDS;
        let (cap_tx, cap_rx) = rtrb::RingBuffer::new(capacity);
        let (play_tx, play_rx) = rtrb::RingBuffer::new(capacity);
        let counters = Arc::new(PortCounters::default());
        (
            Self {
                rate,
                name: name.into(),
                capture: cap_rx,
                playback: play_tx,
                counters: counters.clone(),
                device: None,
                backlog_limit: rate as usize / 1000 * DEVICE_BACKLOG_MS,
            },
            CaptureSide {
                ring: cap_tx,
                counters: counters.clone(),
            },
            PlaybackSide {
                ring: play_rx,
                counters,
            },
        )
    }

    pub fn attach(&mut self, device: Box<dyn Device>) {
        self.device = Some(device);
    }

    /// Moves the call's audio of one direction to `device` (`None`: the system's default);
    /// the move shows in [`take_routes`](Self::take_routes).
    pub fn choose_device(
        &mut self,
        direction: crate::DeviceDirection,
        device: Option<crate::ChosenDevice>,
    ) -> Result<(), AudioError> {
        match self.device.as_mut() {
            Some(d) => d.choose(direction, device),
            None => Err(AudioError::Device {
                what: "audio",
                detail: "no device".into(),
            }),
        }
    }

    /// Where the call's audio moved since the last look (a headset came, the device in use
    /// went away, the chosen one returned).
    pub fn take_routes(&mut self) -> Vec<crate::AudioRoute> {
        self.device.as_mut().map(|d| d.routes()).unwrap_or_default()
    }

    /// Samples the media side may leave waiting on either ring before it drops old audio.
    pub fn backlog_limit(&self) -> usize {
        self.backlog_limit
    }

    /// Lets audio wait as long as the rings hold it (file devices).
    pub(crate) fn keep_everything(&mut self) {
        self.backlog_limit = self.playback.buffer().capacity();
    }

    /// Whether the port keeps all audio however late (file devices, whose output is a
    /// record), rather than trimming delay as a live device's must.
    pub fn keeps_everything(&self) -> bool {
        self.backlog_limit >= self.playback.buffer().capacity()
    }

    /// The counters, for a device's error callback.
    pub fn counters(&self) -> Arc<PortCounters> {
        self.counters.clone()
    }

    pub fn rate(&self) -> u32 {
        self.rate
    }

    /// What the port is ("default devices", "files", "silence").
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Captured samples waiting to be read.
    pub fn captured(&self) -> usize {
        self.capture.slots()
    }

    /// How long until `frame` captured samples are waiting, if the device keeps the rhythm of
    /// its last delivery (a delivery of the same size every period); `Some(ZERO)` once they
    /// are there or the next delivery is overdue; `None` before the first delivery.
    pub fn frame_due_in(&self, frame: usize) -> Option<std::time::Duration> {
        let missing = frame.saturating_sub(self.captured()) as u64;
        if missing == 0 {
            return Some(std::time::Duration::ZERO);
        }
        let clock = &self.counters.capture_clock;
        let last_us = clock.last_push_us.load(Ordering::Acquire);
        let period = u64::from(clock.last_push_len.load(Ordering::Relaxed));
        if period == 0 {
            return None;
        }
        let rate = u64::from(self.rate.max(1));
        let deliveries = missing.div_ceil(period);
        let due_us = last_us + deliveries * period * 1_000_000 / rate;
        let now_us = u64::try_from(clock.epoch.elapsed().as_micros()).unwrap_or(u64::MAX);
        Some(std::time::Duration::from_micros(
            due_us.saturating_sub(now_us),
        ))
    }

    /// Fills `out` with the oldest captured samples if that many are there; false otherwise
    /// (nothing is taken).
    pub fn read(&mut self, out: &mut [f32]) -> bool {
        let Ok(chunk) = self.capture.read_chunk(out.len()) else {
            return false;
        };
        let (a, b) = chunk.as_slices();
        out[..a.len()].copy_from_slice(a);
        out[a.len()..].copy_from_slice(b);
        chunk.commit_all();
        true
    }

    /// Throws away captured samples beyond `keep` (after a stall, so the call does not carry
    /// old audio as delay); how many were dropped.
    pub fn drop_captured_beyond(&mut self, keep: usize) -> usize {
        let extra = self.capture.slots().saturating_sub(keep);
        if extra > 0
            && let Ok(chunk) = self.capture.read_chunk(extra)
        {
            chunk.commit_all();
        }
        extra
    }

    /// How long a sound takes from the media side's speaker frame back into the captured
    /// frames it reads, through our rings and the devices (what an echo canceller must allow
    /// for; the room's own path comes on top). Only what is known: devices that report no
    /// latency count as none.
    pub fn echo_path_delay(&self) -> std::time::Duration {
        let rate = u64::from(self.rate().max(1));
        let queued = (self.queued() + self.captured()) as u64 * 1_000_000 / rate;
        let devices = u64::from(self.counters.input_latency_us.load(Ordering::Relaxed))
            + u64::from(self.counters.output_latency_us.load(Ordering::Relaxed));
        std::time::Duration::from_micros(queued + devices)
    }

    /// Samples queued for the speaker and not yet played.
    pub fn queued(&self) -> usize {
        self.playback.buffer().capacity() - self.playback.slots()
    }

    /// Queues samples for the speaker; what does not fit is dropped and counted.
    pub fn write(&mut self, samples: &[f32]) -> usize {
        let n = samples.len().min(self.playback.slots());
        if let Ok(mut chunk) = self.playback.write_chunk(n) {
            let (a, b) = chunk.as_mut_slices();
            let split = a.len();
            a.copy_from_slice(&samples[..split]);
            b.copy_from_slice(&samples[split..n]);
            chunk.commit_all();
        }
        let dropped = samples.len() - n;
        if dropped > 0 {
            self.counters
                .playback_dropped
                .fetch_add(dropped as u64, Ordering::Relaxed);
        }
        n
    }

    pub fn stats(&self) -> PortStats {
        let c = &self.counters;
        PortStats {
            captured: c.captured.load(Ordering::Relaxed),
            capture_overruns: c.capture_overruns.load(Ordering::Relaxed),
            played: c.played.load(Ordering::Relaxed),
            underruns: c.underruns.load(Ordering::Relaxed),
            playback_dropped: c.playback_dropped.load(Ordering::Relaxed),
            device_errors: c.device_errors.load(Ordering::Relaxed),
        }
    }

    /// Stops the device and finishes its output (a file device writes its recording).
    pub fn close(mut self) -> Result<(), AudioError> {
        match self.device.take() {
            Some(mut device) => device.close(),
            None => Ok(()),
        }
    }
}

impl Drop for AudioPort {
    fn drop(&mut self) {
        if let Some(mut device) = self.device.take()
            && let Err(e) = device.close()
        {
            tracing::warn!("closing the audio device: {e}");
        }
    }
}

impl CaptureSide {
    /// Pushes interleaved frames of `channels` channels, mixed down to mono by `to_f32` per
    /// sample. Callback-safe: no allocation, lock or I/O; what does not fit is counted lost.
    pub fn push_interleaved<T: Copy>(
        &mut self,
        data: &[T],
        channels: usize,
        to_f32: impl Fn(T) -> f32,
    ) {
        let channels = channels.max(1);
        let scale = 1.0 / channels as f32;
        let mut lost = 0u64;
        let mut pushed = 0u64;
        for frame in data.chunks_exact(channels) {
            let mono = frame.iter().map(|s| to_f32(*s)).sum::<f32>() * scale;
            if self.ring.push(mono).is_err() {
                lost += 1;
            } else {
                pushed += 1;
            }
        }
        self.counters.captured.fetch_add(pushed, Ordering::Relaxed);
        // Reading the monotonic clock is neither a lock nor I/O (the vDSO on Linux, the
        // performance counter on Windows, mach_absolute_time on macOS).
        let clock = &self.counters.capture_clock;
        let now = u64::try_from(clock.epoch.elapsed().as_micros()).unwrap_or(u64::MAX);
        clock
            .last_push_len
            .store(u32::try_from(pushed).unwrap_or(u32::MAX), Ordering::Relaxed);
        clock.last_push_us.store(now, Ordering::Release);
        if lost > 0 {
            self.counters
                .capture_overruns
                .fetch_add(lost, Ordering::Relaxed);
        }
    }

    /// Pushes mono samples.
    pub fn push(&mut self, data: &[f32]) {
        self.push_interleaved(data, 1, |s| s);
    }
}

impl PlaybackSide {
    /// Fills interleaved frames of `channels` channels with the queued mono samples (the same
    /// sample on every channel), silence where nothing is queued. Callback-safe.
    pub fn fill_interleaved<T: Copy>(
        &mut self,
        out: &mut [T],
        channels: usize,
        from_f32: impl Fn(f32) -> T,
    ) -> usize {
        let channels = channels.max(1);
        let mut missing = 0u64;
        let mut played = 0u64;
        for frame in out.chunks_exact_mut(channels) {
            let s = match self.ring.pop() {
                Ok(s) => {
                    played += 1;
                    s
                }
                Err(_) => {
                    missing += 1;
                    0.0
                }
            };
            frame.fill(from_f32(s));
        }
        self.counters.played.fetch_add(played, Ordering::Relaxed);
        if missing > 0 {
            self.counters
                .underruns
                .fetch_add(missing, Ordering::Relaxed);
        }
        played as usize
    }

    /// Takes up to `out.len()` queued samples, without padding; how many.
    pub fn take(&mut self, out: &mut [f32]) -> usize {
        let n = out.len().min(self.ring.slots());
        if let Ok(chunk) = self.ring.read_chunk(n) {
            let (a, b) = chunk.as_slices();
            out[..a.len()].copy_from_slice(a);
            out[a.len()..n].copy_from_slice(b);
            chunk.commit_all();
        }
        self.counters.played.fetch_add(n as u64, Ordering::Relaxed);
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_cross_both_rings_in_order() {
        let (mut port, mut cap, mut play) = AudioPort::new(8000, "test");
        cap.push_interleaved(&[0.5f32, 0.25, -1.0, 1.0], 2, |s| s);
        assert_eq!(port.captured(), 2);
        let mut two = [0f32; 2];
        let mut three = [0f32; 3];
        assert!(!port.read(&mut three), "not enough yet");
        assert!(port.read(&mut two));
        assert_eq!(two, [0.375, 0.0]);

        assert_eq!(port.write(&[0.1, 0.2]), 2);
        assert_eq!(port.queued(), 2);
        let mut out = [9i16; 6];
        let got = play.fill_interleaved(&mut out, 2, |s| (s * 10.0) as i16);
        assert_eq!(got, 2);
        assert_eq!(out, [1, 1, 2, 2, 0, 0]);
        let s = port.stats();
        assert_eq!((s.captured, s.played, s.underruns), (2, 2, 1));
    }

    #[test]
    fn full_rings_count_losses_instead_of_blocking() {
        let (mut port, mut cap, _play) = AudioPort::new(8000, "test");
        let second = vec![0.1f32; 8000];
        cap.push(&second);
        cap.push(&[0.2; 10]);
        assert_eq!(port.stats().capture_overruns, 10);
        assert_eq!(port.drop_captured_beyond(160), 8000 - 160);
        assert_eq!(port.captured(), 160);
        assert_eq!(port.write(&second), 8000);
        assert_eq!(port.write(&[0.3; 5]), 0);
        assert_eq!(port.stats().playback_dropped, 5);
    }

    /// The next frame is due when the device's rhythm says: at 48 kHz with 10 ms deliveries,
    /// a 20 ms frame half there is one delivery (10 ms after the last) away.
    #[test]
    fn the_next_frame_is_due_at_the_devices_next_delivery() {
        use std::time::{Duration, Instant};
        // Whatever this machine's scheduling: `due` plus the time spent since the delivery
        // is the delivery period(s) (to the microsecond the clock is read at).
        let check = |due: Option<Duration>, since: Instant, expected_ms: u64| {
            let due = due.expect("rhythm known");
            let expected = Duration::from_millis(expected_ms);
            assert!(due <= expected, "{due:?} beyond {expected:?}");
            assert!(
                due + since.elapsed() + Duration::from_micros(2) >= expected,
                "{due:?} + {:?} short of {expected:?}",
                since.elapsed()
            );
        };
        let (mut port, mut cap, _play) = AudioPort::new(48_000, "test");
        assert_eq!(port.frame_due_in(960), None, "no delivery yet");
        let pushed = Instant::now();
        cap.push(&[0.0; 480]);
        check(port.frame_due_in(960), pushed, 10);
        let pushed = Instant::now();
        cap.push(&[0.0; 480]);
        assert_eq!(port.frame_due_in(960), Some(Duration::ZERO));
        let mut frame = [0f32; 960];
        assert!(port.read(&mut frame));
        check(port.frame_due_in(960), pushed, 20);
        // A delivery that is overdue makes the frame due now (the media side then polls).
        std::thread::sleep(Duration::from_millis(25));
        assert_eq!(port.frame_due_in(960), Some(Duration::ZERO));
    }
}
