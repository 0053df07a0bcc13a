//! Audio for Siperb Desktop.
//!
//! Audio ports (lock-free rings between device callbacks and the media thread) over the
//! default cpal devices or file devices, frame resampling, WAV files, the device model, the
//! level meter the Settings view shows and the test tone generator. Hot-plug watching and
//! echo/noise processing grow here (issue 5). Everything that runs inside an audio callback
//! is allocation-free and lock-free.

mod device;
mod device_watch;
mod devices;
mod files;
#[cfg(target_os = "linux")]
mod jack_duplex;
mod level;
mod port;
pub mod processing;
mod resample;
mod ringer;
mod ringtone;
mod routing;
mod tone;
pub mod wav;

pub use device::{
    ChosenDevice, DeviceChoice, DeviceDirection, DeviceId, DeviceInfo, DeviceNameError, DeviceRole,
    find_device,
};
pub use device_watch::{DeviceEvent, DeviceWatcher, changes, list_devices};
pub use files::{FILE_RATE, FileAudio};
pub use level::{Level, LevelMeter, MicLevels};
pub use port::{AudioError, AudioPort, CaptureSide, Device, PlaybackSide, PortCounters, PortStats};
pub use processing::{AudioProcessor, ProcessingConfig, ProcessingError, ProcessingStats};
pub use resample::FrameResampler;
pub use ringer::{Looper, RINGER_STREAM, Ringer, RingerSettings};
pub use ringtone::{Ringtone, call_waiting_cycle, test_tone, volume_gain};
pub use routing::{AudioRoute, RouteReason, Routing};
pub use tone::ToneGenerator;
