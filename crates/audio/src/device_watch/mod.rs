//! The devices the user can choose, and hot-plug: what the sound system has now, and an event
//! when a device comes, goes, or becomes the default.
//!
//! cpal has no hot-plug events, and on Linux it only sees ALSA's names ("default", "pulse"),
//! not the user's devices. So on Linux the sound server (PulseAudio, or PipeWire's PulseAudio
//! service) is asked directly ([`linux`]): its sinks and sources with their human names, form
//! factor and bus, and its change notifications. Elsewhere (Windows, macOS), and on Linux when
//! no sound server answers (bare ALSA, JACK), cpal's device list is read once a second and
//! compared ([`polling`]).

use std::sync::mpsc;
use std::time::Duration;

use serde::Serialize;
use specta::Type;

use crate::{AudioError, DeviceDirection, DeviceId, DeviceInfo};

#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
pub(crate) mod bluetooth;
#[cfg(target_os = "linux")]
pub(crate) mod linux;
mod polling;

/// Failed looks (a second apart) before the watcher gives up on the sound system.
const GIVE_UP_AFTER: u32 = 5;

/// A change in the devices the sound system offers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Type)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum DeviceEvent {
    /// A device appeared (plugged in, connected, or its profile now offers it).
    Added { device: DeviceInfo },
    /// A device went away.
    Removed { device: DeviceInfo },
    /// The system's default device of this direction changed.
    DefaultChanged {
        direction: DeviceDirection,
        id: DeviceId,
    },
}

/// Where device lists come from: the sound server, or cpal's list read again and again.
pub(crate) trait Source {
    /// The devices now.
    fn devices(&mut self) -> Result<Vec<DeviceInfo>, AudioError>;
    /// Waits up to `timeout` for a sign that the devices changed (true: look again).
    fn wait_change(&mut self, timeout: Duration) -> Result<bool, AudioError>;
}

/// The best source here: the sound server on Linux when it answers, else cpal.
fn source() -> Result<Box<dyn Source>, AudioError> {
    #[cfg(target_os = "linux")]
    if !crate::devices::wants_jack() {
        match linux::SoundServer::connect() {
            Ok(server) => return Ok(Box::new(server)),
            Err(e) => tracing::debug!("no sound server, listing cpal's devices: {e}"),
        }
    }
    Ok(Box::new(polling::CpalDevices::new()?))
}

/// The microphones and speakers the user can choose from, defaults marked.
pub fn list_devices() -> Result<Vec<DeviceInfo>, AudioError> {
    source()?.devices()
}

/// What changed from `old` to `new`: removals first, then additions, then new defaults.
pub fn changes(old: &[DeviceInfo], new: &[DeviceInfo]) -> Vec<DeviceEvent> {
    let key = |d: &DeviceInfo| (d.direction, d.id.clone());
    let mut events: Vec<DeviceEvent> = old
        .iter()
        .filter(|o| !new.iter().any(|n| key(n) == key(o)))
        .map(|d| DeviceEvent::Removed { device: d.clone() })
        .collect();
    events.extend(
        new.iter()
            .filter(|n| !old.iter().any(|o| key(o) == key(n)))
            .map(|d| DeviceEvent::Added { device: d.clone() }),
    );
    for direction in [DeviceDirection::Input, DeviceDirection::Output] {
        let default = |list: &[DeviceInfo]| {
            list.iter()
                .find(|d| d.direction == direction && d.is_default)
                .map(|d| d.id.clone())
        };
        if let Some(id) = default(new)
            && default(old) != Some(id.clone())
        {
            events.push(DeviceEvent::DefaultChanged { direction, id });
        }
    }
    events
}

/// Watches the devices on a thread of its own; events arrive within about a second (the sound
/// server tells at once; cpal's list is read every second).
pub struct DeviceWatcher {
    events: mpsc::Receiver<DeviceEvent>,
    stop: Option<mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    initial: Vec<DeviceInfo>,
}

impl DeviceWatcher {
    pub fn start() -> Result<Self, AudioError> {
        let (ready_tx, ready_rx) = mpsc::channel();
        let (events_tx, events) = mpsc::channel();
        let (stop, stop_rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("siperb-device-watch".into())
            .spawn(move || {
                let mut source = match source() {
                    Ok(s) => s,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                let mut known = match source.devices() {
                    Ok(list) => list,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                let _ = ready_tx.send(Ok(known.clone()));
                watch(source.as_mut(), &mut known, &events_tx, &stop_rx);
            })
            .map_err(|e| AudioError::Device {
                what: "device watcher",
                detail: e.to_string(),
            })?;
        let initial = ready_rx.recv().map_err(|_| AudioError::Device {
            what: "device watcher",
            detail: "its thread stopped".into(),
        })??;
        Ok(Self {
            events,
            stop: Some(stop),
            thread: Some(thread),
            initial,
        })
    }

    /// The devices when the watcher started.
    pub fn initial(&self) -> &[DeviceInfo] {
        &self.initial
    }

    /// The next change, waiting up to `timeout` (`None`: nothing changed); an error when the
    /// watcher has stopped (it lost the sound system for good).
    pub fn next(&self, timeout: Duration) -> Result<Option<DeviceEvent>, AudioError> {
        match self.events.recv_timeout(timeout) {
            Ok(e) => Ok(Some(e)),
            Err(mpsc::RecvTimeoutError::Timeout) => Ok(None),
            Err(mpsc::RecvTimeoutError::Disconnected) => Err(AudioError::Device {
                what: "device watcher",
                detail: "the sound system went away".into(),
            }),
        }
    }
}

impl Drop for DeviceWatcher {
    fn drop(&mut self) {
        self.stop.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The watcher's loop: look again whenever the source says something changed.
fn watch(
    source: &mut dyn Source,
    known: &mut Vec<DeviceInfo>,
    events: &mpsc::Sender<DeviceEvent>,
    stop: &mpsc::Receiver<()>,
) {
    // Failed looks in a row (a second apart).
    let mut failures = 0u32;
    loop {
        match stop.try_recv() {
            Err(mpsc::TryRecvError::Empty) => {}
            _ => return,
        }
        match source.wait_change(Duration::from_millis(250)) {
            Ok(false) => continue,
            Ok(true) => {}
            // Look: if the sound system is gone, the look fails and counts.
            Err(e) => {
                tracing::debug!("device watcher: {e}");
                std::thread::sleep(Duration::from_secs(1));
            }
        }
        match source.devices() {
            Ok(now) => {
                failures = 0;
                for e in changes(known, &now) {
                    if events.send(e).is_err() {
                        return;
                    }
                }
                *known = now;
            }
            Err(e) => {
                failures += 1;
                if failures >= GIVE_UP_AFTER {
                    tracing::warn!("the device watcher stops: the sound system is gone ({e})");
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dev(id: &str, direction: DeviceDirection, is_default: bool) -> DeviceInfo {
        DeviceInfo {
            is_default,
            ..DeviceInfo::test(id, &id.to_uppercase(), direction)
        }
    }

    #[test]
    fn changes_name_what_came_what_went_and_the_new_default() {
        use DeviceDirection::{Input, Output};
        let old = vec![
            dev("speaker", Output, true),
            dev("mic", Input, true),
            dev("hdmi", Output, false),
        ];
        let new = vec![
            dev("speaker", Output, false),
            dev("mic", Input, true),
            dev("headset", Output, true),
        ];
        assert_eq!(
            changes(&old, &new),
            vec![
                DeviceEvent::Removed {
                    device: dev("hdmi", Output, false)
                },
                DeviceEvent::Added {
                    device: dev("headset", Output, true)
                },
                DeviceEvent::DefaultChanged {
                    direction: Output,
                    id: DeviceId("headset".into())
                },
            ]
        );
        assert!(changes(&new, &new).is_empty());
        // The same id in the other direction is another device.
        let both = vec![dev("usb", Output, false), dev("usb", Input, false)];
        assert_eq!(changes(&both[..1], &both).len(), 1);
    }
}
