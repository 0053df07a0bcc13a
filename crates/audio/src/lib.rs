//! Audio for Siperb Desktop.
//!
//! This first part holds the device model, the level meter the Settings view shows and the test
//! tone generator. cpal devices, hot-plug watching, lock-free rings, resampling and echo/noise
//! processing grow here (issues 4 and 5). Everything that runs inside an audio callback is
//! allocation-free and lock-free.

mod device;
mod level;
mod tone;

pub use device::{DeviceDirection, DeviceId, DeviceInfo, DeviceRole};
pub use level::LevelMeter;
pub use tone::ToneGenerator;
