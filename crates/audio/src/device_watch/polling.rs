//! Devices from cpal's list (Windows, macOS; Linux without a sound server), read again every
//! second to notice changes: cpal has no hot-plug events.

use std::time::Duration;

use cpal::traits::{DeviceTrait, HostTrait};

use super::Source;
use crate::{AudioError, DeviceDirection, DeviceId, DeviceInfo};

/// Looks again this often.
const EVERY: Duration = Duration::from_secs(1);

pub(crate) struct CpalDevices {
    host: cpal::Host,
    waited: Duration,
}

impl CpalDevices {
    pub(crate) fn new() -> Result<Self, AudioError> {
        Ok(Self {
            host: crate::devices::host()?,
            waited: Duration::ZERO,
        })
    }
}

fn listed(e: cpal::Error) -> AudioError {
    AudioError::Device {
        what: "device list",
        detail: e.to_string(),
    }
}

impl Source for CpalDevices {
    fn devices(&mut self) -> Result<Vec<DeviceInfo>, AudioError> {
        let id = |d: &cpal::Device| d.id().ok().map(|id| DeviceId(id.to_string()));
        let default_in = self.host.default_input_device().and_then(|d| id(&d));
        let default_out = self.host.default_output_device().and_then(|d| id(&d));
        let mut out = Vec::new();
        let inputs = self.host.input_devices().map_err(listed)?;
        let outputs = self.host.output_devices().map_err(listed)?;
        let all = inputs
            .map(|d| (d, DeviceDirection::Input))
            .chain(outputs.map(|d| (d, DeviceDirection::Output)));
        for (device, direction) in all {
            let Some(id) = id(&device) else { continue };
            let name = device
                .description()
                .map(|d| d.name().to_owned())
                .unwrap_or_else(|_| id.0.clone());
            let default = match direction {
                DeviceDirection::Input => &default_in,
                DeviceDirection::Output => &default_out,
            };
            let mut info = DeviceInfo {
                is_default: default.as_ref() == Some(&id),
                id,
                name,
                direction,
                headset: false,
                bluetooth: false,
            };
            let lower = info.name.to_lowercase();
            info.bluetooth = lower.contains("bluetooth");
            info.headset = info.looks_like_headset();
            out.push(info);
        }
        Ok(out)
    }

    fn wait_change(&mut self, timeout: Duration) -> Result<bool, AudioError> {
        std::thread::sleep(timeout);
        self.waited += timeout;
        if self.waited >= EVERY {
            self.waited = Duration::ZERO;
            return Ok(true);
        }
        Ok(false)
    }
}
