//! What calls run their media on: the media factory (the RTP backend on an audio source) and
//! the media controls that need no signalling (mute, record).

use std::net::IpAddr;

use siperb_media::{MediaSession, RtpSession};

use super::PhoneError;

/// Makes the media session of each call.
pub trait MediaFactory: Send + Sync + std::fmt::Debug {
    /// A session for a call on `local_ip`, with the account's codec order and SRTP choice.
    fn create(
        &self,
        local_ip: IpAddr,
        account: &crate::account::MediaSettings,
    ) -> Result<Box<dyn MediaSession>, PhoneError>;

    /// The devices the user chose in Settings (calls made from now on use them).
    fn remember_devices(&self, _choice: siperb_audio::DeviceChoice) {}

    /// The echo and noise switches from Settings (calls made from now on use them).
    fn remember_processing(&self, _config: siperb_audio::ProcessingConfig) {}
}

/// Where a call's audio comes from and goes to.
#[derive(Debug, Clone, Default)]
pub enum AudioSource {
    /// A silent microphone and a speaker that discards, paced like a device (tests, scripts).
    #[default]
    Silence,
    /// The chosen microphone and speaker (the system's defaults where none is chosen or the
    /// chosen one is absent); silence (with a warning) when there are none, so a call never
    /// fails for want of a sound card.
    Devices(siperb_audio::DeviceChoice),
    /// A WAV file as the microphone, and a WAV file of what the far end sent.
    Files(siperb_audio::FileAudio),
}

impl AudioSource {
    /// Opens the port a new call runs on.
    pub fn open(&self) -> Result<siperb_audio::AudioPort, PhoneError> {
        use siperb_audio::{AudioPort, FileAudio};
        let port = match self {
            Self::Silence => AudioPort::files(FileAudio::default()),
            Self::Devices(choice) => AudioPort::devices(choice.clone()).or_else(|e| {
                if matches!(e, siperb_audio::AudioError::Host(_)) {
                    // A setting the user made and should fix: said plainly.
                    tracing::warn!("{e}: the call runs with silence");
                } else {
                    // No sound card: common on servers and in CI, said once per call.
                    tracing::info!("no usable sound device ({e}): the call runs with silence");
                }
                AudioPort::files(FileAudio::default())
            }),
            Self::Files(files) => AudioPort::files(files.clone()),
        };
        port.map_err(|e| PhoneError::Media(e.to_string()))
    }
}

/// The RTP backend: each call's audio on `audio`, with the account's codecs and SRTP unless
/// this run overrides them.
#[derive(Debug, Clone, Default)]
pub struct RtpFactory {
    pub audio: AudioSource,
    /// The codecs to offer and accept, best first, for every account; empty for each
    /// account's own choice.
    pub codecs: Vec<siperb_media::CodecKind>,
    /// SDES-SRTP for every account; `None` for each account's own choice.
    pub srtp: Option<siperb_media::srtp::SrtpMode>,
    /// The UDP ports media may use, for every account; `None` for each account's own choice.
    pub rtp_ports: Option<siperb_media::PortRange>,
    /// The devices chosen in Settings; those [`AudioSource::Devices`] names go first.
    pub remembered: std::sync::Arc<std::sync::Mutex<siperb_audio::DeviceChoice>>,
    /// Echo cancellation and noise suppression for this run instead of the Settings' (only
    /// sound devices are processed: file devices and silence never are).
    pub processing: Option<siperb_audio::ProcessingConfig>,
    /// The echo and noise switches from Settings (on by default).
    pub remembered_processing: std::sync::Arc<std::sync::Mutex<siperb_audio::ProcessingConfig>>,
}

impl RtpFactory {
    /// Calls on the default devices, with the default codecs and no SRTP: what the app uses.
    pub fn devices() -> Self {
        Self {
            audio: AudioSource::Devices(siperb_audio::DeviceChoice::default()),
            ..Self::default()
        }
    }
}

impl MediaFactory for RtpFactory {
    fn create(
        &self,
        local_ip: IpAddr,
        account: &crate::account::MediaSettings,
    ) -> Result<Box<dyn MediaSession>, PhoneError> {
        let codecs = if self.codecs.is_empty() {
            &account.codecs
        } else {
            &self.codecs
        };
        let srtp = self.srtp.unwrap_or(account.srtp);
        let ports = self.rtp_ports.or(account.rtp_ports);
        let (port, processing) = match &self.audio {
            AudioSource::Devices(over) => {
                let remembered = self
                    .remembered
                    .lock()
                    .map(|c| c.clone())
                    .unwrap_or_default();
                let processing = self.processing.unwrap_or_else(|| {
                    self.remembered_processing
                        .lock()
                        .map(|c| *c)
                        .unwrap_or_default()
                });
                (
                    AudioSource::Devices(remembered.overridden_by(over)).open()?,
                    processing,
                )
            }
            other => (other.open()?, siperb_audio::ProcessingConfig::OFF),
        };
        RtpSession::start_in(local_ip, ports, port)
            .map(|s| {
                s.with_codecs(codecs)
                    .with_srtp(srtp)
                    .with_processing(processing)
            })
            .map(|s| Box::new(s) as Box<dyn MediaSession>)
            .map_err(|e| PhoneError::Media(e.to_string()))
    }

    fn remember_devices(&self, choice: siperb_audio::DeviceChoice) {
        if let Ok(mut c) = self.remembered.lock() {
            *c = choice;
        }
    }

    fn remember_processing(&self, config: siperb_audio::ProcessingConfig) {
        if let Ok(mut c) = self.remembered_processing.lock() {
            *c = config;
        }
    }
}

/// What the user does to a call's media, with no signalling: mute, record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaControl {
    /// Silence (or not) the microphone for this call.
    Mute(bool),
    /// Record the call to a stereo WAV file (us left, the far end right).
    StartRecording(std::path::PathBuf),
    /// Stop recording; the reply holds the seconds recorded.
    StopRecording,
    /// Move the call's microphone or speaker to this device (`None`: the system's default).
    Device(
        siperb_audio::DeviceDirection,
        Option<siperb_audio::ChosenDevice>,
    ),
    /// Play (or stop) the soft call-waiting beeps over this call: another call rings.
    CallWaiting(bool),
    /// Switch echo cancellation, noise suppression and gain control on the microphone.
    Processing(siperb_audio::ProcessingConfig),
}

/// Applies `control` to a call's media; for a stopped recording, the seconds recorded.
pub(super) fn media_control(
    media: &mut dyn MediaSession,
    control: MediaControl,
) -> Result<Option<f64>, String> {
    match control {
        MediaControl::Mute(muted) => {
            media.set_mute(muted);
            Ok(None)
        }
        MediaControl::CallWaiting(on) => {
            media.set_call_waiting(on);
            Ok(None)
        }
        MediaControl::Processing(config) => {
            media.set_processing(config);
            Ok(None)
        }
        MediaControl::StartRecording(path) => media
            .start_recording(&path)
            .map(|()| None)
            .map_err(|e| e.to_string()),
        MediaControl::StopRecording => media.stop_recording().map_err(|e| e.to_string()),
        MediaControl::Device(direction, device) => {
            media.choose_device(direction, device).map(|()| None)
        }
    }
}
