//! Which device a call's audio should be on, as devices come and go (sans-IO: device lists in,
//! moves out).
//!
//! Per direction, the call wants: the device the user chose, when it is there; else, when
//! "switch to new headsets" is on, the headset that came last (a headset already there at the
//! start counts, in list order: the one most recently plugged in wins); else the system's
//! default. When the device in use goes away the sound server has already moved the stream to
//! its fallback, and the call simply wants the next best device.

use serde::Serialize;
use specta::Type;

#[cfg(test)]
use crate::ChosenDevice;
use crate::device_watch::DeviceEvent;
use crate::{DeviceChoice, DeviceDirection, DeviceId, DeviceInfo};

/// Where a call's audio went, for the UI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct AudioRoute {
    pub direction: DeviceDirection,
    /// The device now in use; `None`: the system's default.
    pub device: Option<DeviceInfo>,
    /// Why: the user's choice, a headset that appeared, or the device in use went away.
    pub reason: RouteReason,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub enum RouteReason {
    /// The device the user chose (at the start, or when it came back).
    Chosen,
    /// A headset appeared ("switch to new headsets").
    NewHeadset,
    /// The device in use went away.
    DeviceGone,
    /// `device` (a Bluetooth speaker or headphones) has no profile with a microphone: the
    /// call's microphone stays where it is (the UI says so).
    NoCallProfile,
}

/// The routing decisions of one call.
#[derive(Debug)]
pub struct Routing {
    choice: DeviceChoice,
    known: Vec<DeviceInfo>,
    /// Headsets in the order they appeared.
    headsets: Vec<(DeviceDirection, DeviceId)>,
    /// Where each direction is now (`None`: the default), input then output.
    now: [Option<DeviceId>; 2],
    /// The device in use went away in the last change (not said yet).
    lost: [bool; 2],
}

fn slot(direction: DeviceDirection) -> usize {
    match direction {
        DeviceDirection::Input => 0,
        DeviceDirection::Output => 1,
    }
}

impl Routing {
    pub fn new(choice: DeviceChoice) -> Self {
        Self {
            choice,
            known: Vec::new(),
            headsets: Vec::new(),
            now: [None, None],
            lost: [false, false],
        }
    }

    /// The devices at the start of the call: where to put its streams (they open on the
    /// default device).
    pub fn start(&mut self, devices: Vec<DeviceInfo>) -> Vec<AudioRoute> {
        self.headsets = devices
            .iter()
            .filter(|d| d.headset)
            .map(|d| (d.direction, d.id.clone()))
            .collect();
        self.known = devices;
        self.settle(true)
    }

    /// Devices came or went: where the streams should go now.
    pub fn changed(&mut self, devices: Vec<DeviceInfo>, events: &[DeviceEvent]) -> Vec<AudioRoute> {
        for e in events {
            match e {
                DeviceEvent::Added { device } if device.headset => {
                    self.headsets.push((device.direction, device.id.clone()));
                }
                DeviceEvent::Removed { device } => {
                    self.headsets
                        .retain(|(dir, id)| !(*dir == device.direction && *id == device.id));
                    if self.now[slot(device.direction)].as_ref() == Some(&device.id) {
                        // The sound server moved the stream to its fallback already.
                        self.now[slot(device.direction)] = None;
                        self.lost[slot(device.direction)] = true;
                    }
                }
                _ => {}
            }
        }
        self.known = devices;
        self.settle(false)
    }

    /// The user picked a device for one direction (`None`: the system's default) during the
    /// call: where the streams go now.
    pub fn choose(
        &mut self,
        direction: DeviceDirection,
        device: Option<crate::ChosenDevice>,
    ) -> Vec<AudioRoute> {
        match direction {
            DeviceDirection::Input => self.choice.microphone = device,
            DeviceDirection::Output => self.choice.speaker = device,
        }
        let picked_default = match direction {
            DeviceDirection::Input => self.choice.microphone.is_none(),
            DeviceDirection::Output => self.choice.speaker.is_none(),
        };
        if picked_default {
            // The system's default, not a headset: the user said so.
            self.headsets.retain(|(dir, _)| *dir != direction);
        }
        let mut routes = self.settle(false);
        for r in &mut routes {
            r.reason = RouteReason::Chosen;
        }
        routes
    }

    /// Where a direction is now (`None`: the default).
    pub fn current(&self, direction: DeviceDirection) -> Option<&DeviceId> {
        self.now[slot(direction)].as_ref()
    }

    /// The chosen device of this direction, when it is here: by its id, or else by its name.
    fn chosen(&self, direction: DeviceDirection) -> Option<DeviceId> {
        let chosen = match direction {
            DeviceDirection::Input => self.choice.microphone.as_ref(),
            DeviceDirection::Output => self.choice.speaker.as_ref(),
        }?;
        let of = |d: &&DeviceInfo| d.direction == direction;
        self.known
            .iter()
            .filter(of)
            .find(|d| d.id == chosen.id)
            .or_else(|| self.known.iter().filter(of).find(|d| d.name == chosen.name))
            .map(|d| d.id.clone())
    }

    fn present(&self, direction: DeviceDirection, id: &DeviceId) -> Option<&DeviceInfo> {
        self.known
            .iter()
            .find(|d| d.direction == direction && d.id == *id)
    }

    /// The device a direction should be on, and why.
    fn wanted(&self, direction: DeviceDirection) -> (Option<DeviceId>, RouteReason) {
        if let Some(id) = self.chosen(direction) {
            return (Some(id), RouteReason::Chosen);
        }
        if self.choice.follow_headsets
            && let Some((_, id)) = self
                .headsets
                .iter()
                .rev()
                .find(|(dir, id)| *dir == direction && self.present(direction, id).is_some())
        {
            return (Some(id.clone()), RouteReason::NewHeadset);
        }
        (None, RouteReason::DeviceGone)
    }

    fn settle(&mut self, starting: bool) -> Vec<AudioRoute> {
        let mut routes = Vec::new();
        for direction in [DeviceDirection::Input, DeviceDirection::Output] {
            let (want, reason) = self.wanted(direction);
            let lost = std::mem::take(&mut self.lost[slot(direction)]);
            // A device that went away is said even when the default is what is wanted now.
            if want == self.now[slot(direction)] && !lost {
                continue;
            }
            if starting && want.is_none() {
                continue;
            }
            self.now[slot(direction)] = want.clone();
            routes.push(AudioRoute {
                direction,
                device: want.and_then(|id| self.present(direction, &id).cloned()),
                reason: if lost && reason != RouteReason::Chosen {
                    RouteReason::DeviceGone
                } else {
                    reason
                },
            });
        }
        routes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use DeviceDirection::{Input, Output};

    fn dev(id: &str, direction: DeviceDirection, headset: bool) -> DeviceInfo {
        DeviceInfo {
            is_default: id.starts_with("builtin"),
            headset,
            ..DeviceInfo::test(id, &id.to_uppercase(), direction)
        }
    }

    fn builtin() -> Vec<DeviceInfo> {
        vec![
            dev("builtin_mic", Input, false),
            dev("builtin_spk", Output, false),
        ]
    }

    fn plug(
        routing: &mut Routing,
        now: &mut Vec<DeviceInfo>,
        add: &[DeviceInfo],
    ) -> Vec<AudioRoute> {
        let old = now.clone();
        now.extend(add.iter().cloned());
        routing.changed(now.clone(), &crate::changes(&old, now))
    }

    fn unplug(routing: &mut Routing, now: &mut Vec<DeviceInfo>, id: &str) -> Vec<AudioRoute> {
        let old = now.clone();
        now.retain(|d| d.id.0 != id);
        routing.changed(now.clone(), &crate::changes(&old, now))
    }

    fn summary(routes: &[AudioRoute]) -> Vec<(DeviceDirection, Option<String>, RouteReason)> {
        routes
            .iter()
            .map(|r| {
                (
                    r.direction,
                    r.device.as_ref().map(|d| d.id.0.clone()),
                    r.reason,
                )
            })
            .collect()
    }

    #[test]
    fn a_new_headset_takes_the_call_and_giving_it_back_falls_to_the_default() {
        let mut r = Routing::new(DeviceChoice::default());
        let mut now = builtin();
        assert!(r.start(now.clone()).is_empty(), "the defaults need no move");
        let headset = [
            dev("usb_headset_mic", Input, true),
            dev("usb_headset", Output, true),
        ];
        assert_eq!(
            summary(&plug(&mut r, &mut now, &headset)),
            [
                (
                    Input,
                    Some("usb_headset_mic".into()),
                    RouteReason::NewHeadset
                ),
                (Output, Some("usb_headset".into()), RouteReason::NewHeadset),
            ]
        );
        // An HDMI output (not a headset) changes nothing.
        assert!(plug(&mut r, &mut now, &[dev("hdmi", Output, false)]).is_empty());
        assert_eq!(
            summary(&unplug(&mut r, &mut now, "usb_headset")),
            [(Output, None, RouteReason::DeviceGone)]
        );
        assert_eq!(
            r.current(Input).map(|d| d.0.as_str()),
            Some("usb_headset_mic")
        );
        assert_eq!(r.current(Output), None);
    }

    #[test]
    fn the_newest_headset_wins_and_the_older_one_takes_over_when_it_goes() {
        let mut r = Routing::new(DeviceChoice::default());
        let mut now = builtin();
        now.push(dev("wired", Output, true));
        assert_eq!(
            summary(&r.start(now.clone())),
            [(Output, Some("wired".into()), RouteReason::NewHeadset)],
            "a headset already there at the start is used"
        );
        plug(&mut r, &mut now, &[dev("bluetooth", Output, true)]);
        assert_eq!(r.current(Output).map(|d| d.0.as_str()), Some("bluetooth"));
        assert_eq!(
            summary(&unplug(&mut r, &mut now, "bluetooth")),
            [(Output, Some("wired".into()), RouteReason::DeviceGone)]
        );
    }

    #[test]
    fn the_chosen_device_wins_and_is_taken_back_when_it_returns() {
        let choice = DeviceChoice {
            speaker: Some(ChosenDevice {
                id: DeviceId("desk_speaker".into()),
                name: "DESK_SPEAKER".into(),
            }),
            ..DeviceChoice::default()
        };
        let mut r = Routing::new(choice);
        let mut now = builtin();
        // Not there at the start: the default (no move), then it comes.
        assert!(r.start(now.clone()).is_empty());
        assert_eq!(
            summary(&plug(
                &mut r,
                &mut now,
                &[dev("desk_speaker", Output, false)]
            )),
            [(Output, Some("desk_speaker".into()), RouteReason::Chosen)]
        );
        // A headset does not take over from the chosen speaker (its microphone does take
        // over from the default microphone).
        let routes = plug(
            &mut r,
            &mut now,
            &[dev("hs", Output, true), dev("hs_mic", Input, true)],
        );
        assert_eq!(
            summary(&routes),
            [(Input, Some("hs_mic".into()), RouteReason::NewHeadset)]
        );
        // The chosen speaker goes: the headset is next best.
        assert_eq!(
            summary(&unplug(&mut r, &mut now, "desk_speaker")),
            [(Output, Some("hs".into()), RouteReason::DeviceGone)]
        );
    }

    #[test]
    fn a_chosen_device_with_a_new_id_is_found_by_its_name() {
        let choice = DeviceChoice {
            microphone: Some(ChosenDevice {
                id: DeviceId("usb-port-1".into()),
                name: "Jabra".into(),
            }),
            follow_headsets: false,
            ..DeviceChoice::default()
        };
        let mut r = Routing::new(choice);
        let mut now = builtin();
        let mut jabra = dev("usb-port-2", Input, false);
        jabra.name = "Jabra".into();
        now.push(jabra);
        assert_eq!(
            summary(&r.start(now)),
            [(Input, Some("usb-port-2".into()), RouteReason::Chosen)]
        );
    }

    #[test]
    fn the_user_picks_a_device_mid_call_and_then_the_default() {
        let mut r = Routing::new(DeviceChoice::default());
        let mut now = builtin();
        now.push(dev("headset", Output, true));
        r.start(now.clone());
        now.push(dev("desk", Output, false));
        let desk = ChosenDevice {
            id: DeviceId("desk".into()),
            name: "DESK".into(),
        };
        r.changed(now.clone(), &[]);
        assert_eq!(
            summary(&r.choose(Output, Some(desk))),
            [(Output, Some("desk".into()), RouteReason::Chosen)]
        );
        // The default, even with a headset there: the user said so.
        assert_eq!(
            summary(&r.choose(Output, None)),
            [(Output, None, RouteReason::Chosen)]
        );
        assert_eq!(r.current(Output), None);
    }

    #[test]
    fn with_following_off_headsets_are_left_alone() {
        let mut r = Routing::new(DeviceChoice {
            follow_headsets: false,
            ..DeviceChoice::default()
        });
        let mut now = builtin();
        r.start(now.clone());
        assert!(plug(&mut r, &mut now, &[dev("hs", Output, true)]).is_empty());
    }
}
