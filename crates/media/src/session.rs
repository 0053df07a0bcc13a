//! The one place signalling meets media: a [`MediaSession`] per call (DESIGN.md §2).
//!
//! The call logic asks for offers and answers and sets the direction; it never sees RTP. The
//! backend here, [`RtpSession`], runs the call's audio pipeline (see `pipeline.rs`) on an
//! [`AudioPort`] (the default devices, file devices or silence) over RTP/RTCP, with SDES-SRTP,
//! the jitter buffer, RFC 4733 DTMF, statistics and recording.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde::Serialize;
use siperb_audio::AudioPort;
use siperb_audio::wav::WavWriter;
use tokio::sync::watch;

use crate::CodecKind;
use crate::sdp::{DEFAULT_CODECS, Direction, LocalAudio, RemoteAudio, SdpError};

/// What a call did with its media, for `call_ended` and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, specta::Type)]
pub struct MediaStats {
    pub packets_sent: u64,
    pub packets_received: u64,
    /// RTP packets that were not for us (wrong version, payload type, or too short).
    pub packets_ignored: u64,
}

/// Why a recording could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    #[error("this call is already being recorded to {0}")]
    AlreadyRecording(String),
    #[error("cannot record: {0}")]
    File(#[from] siperb_audio::wav::WavError),
    #[error("this call's media cannot be recorded")]
    Unsupported,
}

/// Signalling's view of a call's media.
pub trait MediaSession: Send {
    /// An SDP offer (initial INVITE, or a re-INVITE for hold/resume/refresh).
    fn create_offer(&mut self, direction: Direction) -> String;
    /// The far end's answer to our last offer.
    fn apply_answer(&mut self, answer: &str) -> Result<(), SdpError>;
    /// Our answer to the far end's offer.
    fn answer_offer(&mut self, offer: &str, local_hold: bool) -> Result<String, SdpError>;
    fn set_direction(&mut self, direction: Direction);
    /// Sends `digit` as RFC 4733 telephone-events when the far end negotiated them (at the
    /// audio's clock rate); false when it cannot, so signalling sends a SIP INFO instead.
    fn send_dtmf(&mut self, digit: char) -> bool {
        let _ = digit;
        false
    }
    /// The latest call statistics (refreshed every second while media flows).
    fn stats(&self) -> Option<crate::rtp::CallStats> {
        None
    }
    /// Where the call's audio moved since the last look (devices came or went).
    fn audio_routes(&mut self) -> Vec<siperb_audio::AudioRoute> {
        Vec::new()
    }
    /// Moves one direction of the call's audio to `device` (`None`: the system's default).
    fn choose_device(
        &mut self,
        _direction: siperb_audio::DeviceDirection,
        _device: Option<siperb_audio::ChosenDevice>,
    ) -> Result<(), String> {
        Err("this call has no sound devices".into())
    }
    /// The digits the far end sends as RFC 4733 events, once each; taken once by the call.
    fn dtmf_received(&mut self) -> Option<tokio::sync::mpsc::UnboundedReceiver<char>> {
        None
    }
    /// Mutes (or unmutes) the microphone: silence is sent, the call goes on.
    fn set_mute(&mut self, muted: bool) {
        let _ = muted;
    }
    /// Plays (or stops) the soft call-waiting beeps over the call's audio: another call rings.
    fn set_call_waiting(&mut self, on: bool) {
        let _ = on;
    }
    /// Switches echo cancellation, noise suppression and gain control on the microphone.
    fn set_processing(&mut self, config: siperb_audio::ProcessingConfig) {
        let _ = config;
    }
    /// Starts recording the call to a stereo WAV file (local left, remote right).
    fn start_recording(&mut self, path: &Path) -> Result<(), RecordError> {
        let _ = path;
        Err(RecordError::Unsupported)
    }
    /// Stops the recording and completes the file; the seconds recorded, if one was running.
    fn stop_recording(&mut self) -> Result<Option<f64>, RecordError> {
        Ok(None)
    }
    /// Stops the media and says what it did.
    fn stop(&mut self) -> MediaStats;
}

#[derive(Debug, Clone)]
struct Flow {
    remote: Option<RemoteAudio>,
    direction: Direction,
}

#[derive(Default)]
struct Counters {
    sent: AtomicU64,
    received: AtomicU64,
    ignored: AtomicU64,
}

/// What the call's controls switch, read by the media task at every frame.
#[derive(Default)]
struct Switches {
    /// The microphone is muted: silence is sent.
    muted: AtomicBool,
    /// Another call rings: the call-waiting beeps play over this call.
    call_waiting: AtomicBool,
    /// The microphone's processing ([`siperb_audio::ProcessingConfig::bits`]); none until set.
    processing: std::sync::atomic::AtomicU8,
    /// The call plays on a headset (the last move of its speaker said so): no speaker, no
    /// echo to cancel, and the canceller's suppressor would only cut the user's voice while
    /// the far end talks. Echo cancellation is for loudspeakers.
    headset: AtomicBool,
}

/// A recording in progress: its file and its name.
type Recording = Arc<Mutex<Option<(WavWriter, String)>>>;

/// The RTP backend (see the module docs).
pub struct RtpSession {
    local: LocalAudio,
    flow: watch::Sender<Flow>,
    counters: Arc<Counters>,
    /// The audio port, shared with the media task; taken and closed on stop (so file devices
    /// have written their file when `stop` returns).
    port: Arc<Mutex<Option<AudioPort>>>,
    switches: Arc<Switches>,
    recording: Recording,
    stop: tokio_util::sync::CancellationToken,
    /// The media task's statistics, refreshed every second.
    stats: Arc<Mutex<Option<crate::rtp::CallStats>>>,
    /// The media task's thread, woken when the call stops (it sleeps between frames).
    media_thread: std::thread::Thread,
    /// Digits to send in-band, to the media task.
    dtmf_out: tokio::sync::mpsc::UnboundedSender<char>,
    /// Digits received in-band, until the call takes them.
    dtmf_in: Option<tokio::sync::mpsc::UnboundedReceiver<char>>,
}

impl RtpSession {
    /// Binds an RTP/RTCP port pair on `ip` and starts the media task on `port` (idle until a
    /// remote is known).
    pub fn start(ip: IpAddr, port: AudioPort) -> std::io::Result<Self> {
        Self::start_in(ip, None, port)
    }

    /// Like [`start`](Self::start), with the port pair taken from `ports` when given (the
    /// range a firewall opens); an error says when the whole range is in use.
    pub fn start_in(
        ip: IpAddr,
        ports: Option<crate::PortRange>,
        port: AudioPort,
    ) -> std::io::Result<Self> {
        let (std_socket, std_rtcp) = crate::ports::bind_pair(ip, ports)?;
        // The call's media runs on a thread of its own: paced by the audio clock alone, never
        // held up by signalling or the UI on the shared runtime, and without waking other
        // threads at every tick. On Unix it is a plain thread (task.rs); elsewhere a
        // single-threaded runtime with its I/O driver, as it wakes for each packet there.
        #[cfg(not(unix))]
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let (socket, rtcp_socket) = {
            #[cfg(not(unix))]
            let _entered = runtime.enter();
            (
                task::MediaSocket::new(std_socket)?,
                task::MediaSocket::new(std_rtcp)?,
            )
        };
        let rtp = socket.local_addr()?;
        let (flow, flow_rx) = watch::channel(Flow {
            remote: None,
            direction: Direction::SendRecv,
        });
        let counters = Arc::new(Counters::default());
        let stop = tokio_util::sync::CancellationToken::new();
        let seed = u64::from(rtp.port()) ^ (std::process::id() as u64) << 16;
        let (dtmf_out, dtmf_to_send) = tokio::sync::mpsc::unbounded_channel();
        let (dtmf_heard, dtmf_in) = tokio::sync::mpsc::unbounded_channel();
        let stats = Arc::new(Mutex::new(None));
        let port = Arc::new(Mutex::new(Some(port)));
        let switches = Arc::new(Switches::default());
        let recording: Recording = Arc::new(Mutex::new(None));
        let media = Media {
            socket,
            rtcp_socket,
            flow: flow_rx,
            port: port.clone(),
            switches: switches.clone(),
            recording: recording.clone(),
            counters: counters.clone(),
            stop: stop.clone(),
            seed,
            dtmf_to_send,
            dtmf_heard,
            stats: stats.clone(),
        };
        let media_thread = std::thread::Builder::new()
            .name("siperb-media".into())
            .spawn(move || {
                #[cfg(unix)]
                run(media);
                #[cfg(not(unix))]
                runtime.block_on(run(media));
            })?
            .thread()
            .clone();
        Ok(Self {
            local: LocalAudio {
                rtp,
                session_id: seed & 0xffff_ffff,
                version: 1,
                codecs: DEFAULT_CODECS.to_vec(),
                srtp: crate::srtp::SrtpMode::Off,
                offered_crypto: Vec::new(),
            },
            flow,
            counters,
            port,
            switches,
            recording,
            stop,
            dtmf_out,
            dtmf_in: Some(dtmf_in),
            media_thread,
            stats,
        })
    }

    /// Runs echo cancellation, noise suppression and gain control on the microphone (for real
    /// sound devices; off by default).
    pub fn with_processing(mut self, config: siperb_audio::ProcessingConfig) -> Self {
        MediaSession::set_processing(&mut self, config);
        self
    }

    /// Encrypts the media with SDES-SRTP: `Optional` offers keys and uses them when the far
    /// end agrees; `Required` offers RTP/SAVP and refuses calls without SRTP.
    pub fn with_srtp(mut self, mode: crate::srtp::SrtpMode) -> Self {
        self.local.srtp = mode;
        self
    }

    /// Offers and accepts only `codecs`, in this order (the account's or the user's choice);
    /// an empty list keeps the defaults.
    pub fn with_codecs(mut self, codecs: &[CodecKind]) -> Self {
        if !codecs.is_empty() {
            self.local.codecs = codecs.to_vec();
        }
        self
    }

    pub fn local_rtp(&self) -> SocketAddr {
        self.local.rtp
    }

    /// The audio port's counters (captured, played, underruns…), while the call runs.
    pub fn port_stats(&self) -> Option<siperb_audio::PortStats> {
        self.port.lock().ok()?.as_ref().map(AudioPort::stats)
    }

    fn set_remote(&mut self, remote: RemoteAudio) {
        self.flow.send_modify(|f| f.remote = Some(remote));
    }
}

impl MediaSession for RtpSession {
    fn create_offer(&mut self, direction: Direction) -> String {
        self.local.offer(direction)
    }

    fn apply_answer(&mut self, answer: &str) -> Result<(), SdpError> {
        let remote = self.local.read_answer(answer)?;
        self.set_remote(remote);
        Ok(())
    }

    fn answer_offer(&mut self, offer: &str, local_hold: bool) -> Result<String, SdpError> {
        let (answer, remote) = self.local.answer(offer, local_hold)?;
        self.set_remote(remote);
        Ok(answer)
    }

    fn set_direction(&mut self, direction: Direction) {
        self.flow.send_modify(|f| f.direction = direction);
    }

    fn send_dtmf(&mut self, digit: char) -> bool {
        let flow = self.flow.borrow();
        let in_band = flow.remote.as_ref().is_some_and(|r| {
            r.dtmf_payload_type.is_some()
                && r.dtmf_clock_rate == r.codec.rtp_clock_rate()
                && r.rtp.is_some()
        }) && flow.direction.sends()
            && crate::dtmf::event_for_digit(digit).is_some();
        in_band && self.dtmf_out.send(digit).is_ok()
    }

    fn dtmf_received(&mut self) -> Option<tokio::sync::mpsc::UnboundedReceiver<char>> {
        self.dtmf_in.take()
    }

    fn stats(&self) -> Option<crate::rtp::CallStats> {
        self.stats.lock().ok().and_then(|s| *s)
    }

    fn choose_device(
        &mut self,
        direction: siperb_audio::DeviceDirection,
        device: Option<siperb_audio::ChosenDevice>,
    ) -> Result<(), String> {
        let mut port = self
            .port
            .lock()
            .map_err(|_| "the call's audio failed".to_owned())?;
        let port = port.as_mut().ok_or("the call's audio has stopped")?;
        port.choose_device(direction, device)
            .map_err(|e| e.to_string())
    }

    fn audio_routes(&mut self) -> Vec<siperb_audio::AudioRoute> {
        let routes = match self.port.lock() {
            Ok(mut port) => port.as_mut().map(|p| p.take_routes()).unwrap_or_default(),
            Err(_) => Vec::new(),
        };
        if let Some(speaker) = routes
            .iter()
            .rev()
            .find(|r| r.direction == siperb_audio::DeviceDirection::Output)
        {
            // The system's default counts as a loudspeaker: cancelling an echo that is not
            // there costs little, not cancelling one is heard by the far end.
            let headset = speaker.device.as_ref().is_some_and(|d| d.headset);
            self.switches.headset.store(headset, Ordering::Relaxed);
        }
        routes
    }

    fn set_mute(&mut self, muted: bool) {
        self.switches.muted.store(muted, Ordering::Relaxed);
    }

    fn set_call_waiting(&mut self, on: bool) {
        self.switches.call_waiting.store(on, Ordering::Relaxed);
    }

    fn set_processing(&mut self, config: siperb_audio::ProcessingConfig) {
        self.switches
            .processing
            .store(config.bits(), Ordering::Relaxed);
    }

    fn start_recording(&mut self, path: &Path) -> Result<(), RecordError> {
        let rate = self
            .port
            .lock()
            .ok()
            .and_then(|p| p.as_ref().map(AudioPort::rate))
            .ok_or(RecordError::Unsupported)?;
        let mut slot = self
            .recording
            .lock()
            .map_err(|_| RecordError::Unsupported)?;
        if let Some((_, name)) = slot.as_ref() {
            return Err(RecordError::AlreadyRecording(name.clone()));
        }
        let writer = WavWriter::create(path, rate, 2)?;
        *slot = Some((writer, path.display().to_string()));
        Ok(())
    }

    fn stop_recording(&mut self) -> Result<Option<f64>, RecordError> {
        let taken = self.recording.lock().ok().and_then(|mut r| r.take());
        match taken {
            Some((writer, _)) => {
                let secs = writer.seconds();
                writer.finish()?;
                Ok(Some(secs))
            }
            None => Ok(None),
        }
    }

    fn stop(&mut self) -> MediaStats {
        self.stop.cancel();
        // At once, not at its next frame: it says goodbye (RTCP BYE) and ends.
        self.media_thread.unpark();
        if let Err(e) = self.stop_recording() {
            tracing::warn!("could not complete the call's recording: {e}");
        }
        let port = self.port.lock().ok().and_then(|mut p| p.take());
        if let Some(port) = port
            && let Err(e) = port.close()
        {
            tracing::warn!("could not save the call's audio: {e}");
        }
        MediaStats {
            packets_sent: self.counters.sent.load(Ordering::Relaxed),
            packets_received: self.counters.received.load(Ordering::Relaxed),
            packets_ignored: self.counters.ignored.load(Ordering::Relaxed),
        }
    }
}

impl Drop for RtpSession {
    fn drop(&mut self) {
        self.stop.cancel();
        self.media_thread.unpark();
    }
}

mod microphone;
mod socket;
mod stats;
mod task;
mod wire;

use task::{Media, run};
pub use wire::rtp_payload;

#[cfg(test)]
mod tests;
