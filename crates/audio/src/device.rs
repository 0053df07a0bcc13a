use serde::{Deserialize, Serialize};
use specta::Type;

/// A device identifier that stays the same across restarts (the sound server's name for it).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, Type)]
#[serde(transparent)]
pub struct DeviceId(pub String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "lowercase")]
pub enum DeviceDirection {
    Input,
    Output,
}

/// What the user chose a device for: the ringer can differ from the call's speaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Type)]
#[serde(rename_all = "lowercase")]
pub enum DeviceRole {
    Microphone,
    Speaker,
    Ringer,
}

impl DeviceRole {
    pub fn direction(self) -> DeviceDirection {
        match self {
            Self::Microphone => DeviceDirection::Input,
            Self::Speaker | Self::Ringer => DeviceDirection::Output,
        }
    }
}

/// A device the user chose, remembered by its stable id and its name: when the id is gone
/// (the same headset in another USB port, say), a device with the same name stands in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
pub struct ChosenDevice {
    pub id: DeviceId,
    pub name: String,
}

impl From<&DeviceInfo> for ChosenDevice {
    fn from(d: &DeviceInfo) -> Self {
        Self {
            id: d.id.clone(),
            name: d.name.clone(),
        }
    }
}

/// The devices a call should use; `None` for the system's default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct DeviceChoice {
    pub microphone: Option<ChosenDevice>,
    pub speaker: Option<ChosenDevice>,
    /// Move calls to a headset (or Bluetooth device) when one appears (unless a chosen
    /// device is there). On by default.
    #[serde(default = "yes")]
    pub follow_headsets: bool,
}

fn yes() -> bool {
    true
}

impl DeviceChoice {
    /// This choice, with the devices `over` names taking the place of its own.
    pub fn overridden_by(&self, over: &DeviceChoice) -> DeviceChoice {
        DeviceChoice {
            microphone: over.microphone.clone().or_else(|| self.microphone.clone()),
            speaker: over.speaker.clone().or_else(|| self.speaker.clone()),
            follow_headsets: self.follow_headsets && over.follow_headsets,
        }
    }
}

impl Default for DeviceChoice {
    fn default() -> Self {
        Self {
            microphone: None,
            speaker: None,
            follow_headsets: true,
        }
    }
}

/// Why a device the user named cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeviceNameError {
    #[error("no {what} is called \"{name}\" (there are: {known})")]
    Unknown {
        what: &'static str,
        name: String,
        known: String,
    },
    #[error("\"{name}\" could be several {what}s: {matches}")]
    Ambiguous {
        what: &'static str,
        name: String,
        matches: String,
    },
}

/// Finds the device of `direction` the user means by `name`: its id, its whole name (any
/// case), or a part of one name only.
pub fn find_device(
    devices: &[DeviceInfo],
    direction: DeviceDirection,
    name: &str,
) -> Result<DeviceInfo, DeviceNameError> {
    let what = match direction {
        DeviceDirection::Input => "microphone",
        DeviceDirection::Output => "speaker",
    };
    let candidates: Vec<&DeviceInfo> = devices
        .iter()
        .filter(|d| d.direction == direction)
        .collect();
    let wanted = name.trim().to_lowercase();
    if let Some(d) = candidates
        .iter()
        .find(|d| d.id.0 == name.trim() || d.name.to_lowercase() == wanted)
    {
        return Ok((*d).clone());
    }
    let partial: Vec<&&DeviceInfo> = candidates
        .iter()
        .filter(|d| !wanted.is_empty() && d.name.to_lowercase().contains(&wanted))
        .collect();
    let names = |list: &mut dyn Iterator<Item = &DeviceInfo>| {
        list.map(|d| format!("\"{}\"", d.name))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match partial.as_slice() {
        [one] => Ok((**one).clone()),
        [] => Err(DeviceNameError::Unknown {
            what,
            name: name.to_owned(),
            known: names(&mut candidates.iter().copied()),
        }),
        many => Err(DeviceNameError::Ambiguous {
            what,
            name: name.to_owned(),
            matches: names(&mut many.iter().map(|d| **d)),
        }),
    }
}

/// A device as the UI lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct DeviceInfo {
    pub id: DeviceId,
    /// The human name ("Jabra Evolve2 65", "Built-in Audio Analog Stereo").
    pub name: String,
    pub direction: DeviceDirection,
    pub is_default: bool,
    /// A headset, headphones or a hands-free device: calls move to it when it appears (if the
    /// user wants that).
    pub headset: bool,
    /// Connected over Bluetooth.
    pub bluetooth: bool,
}

impl DeviceInfo {
    /// Whether the name suggests a headset (for sound systems that say nothing else about a
    /// device; the sound server's form factor and bus set [`DeviceInfo::headset`]).
    pub fn looks_like_headset(&self) -> bool {
        let name = self.name.to_lowercase();
        [
            "headset",
            "headphone",
            "earbud",
            "bluetooth",
            "airpods",
            "hands-free",
            "handsfree",
        ]
        .iter()
        .any(|w| name.contains(w))
    }
}

#[cfg(test)]
impl DeviceInfo {
    /// A plain device for tests: `id`, with `name`; not the default, no headset.
    pub(crate) fn test(id: &str, name: &str, direction: DeviceDirection) -> Self {
        Self {
            id: DeviceId(id.into()),
            name: name.into(),
            direction,
            is_default: false,
            headset: false,
            bluetooth: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_map_to_directions() {
        assert_eq!(DeviceRole::Microphone.direction(), DeviceDirection::Input);
        assert_eq!(DeviceRole::Ringer.direction(), DeviceDirection::Output);
    }

    #[test]
    fn a_device_is_found_by_id_whole_name_or_a_unique_part() {
        let dev = DeviceInfo::test;
        use DeviceDirection::{Input, Output};
        let list = vec![
            dev("alsa_output.pci", "Built-in Audio Analog Stereo", Output),
            dev("bluez_sink.aa", "WH-1000XM4", Output),
            dev("alsa_input.usb", "Jabra Evolve Mono", Input),
            dev("alsa_output.usb", "Jabra Evolve Stereo", Output),
        ];
        let id = |r: Result<DeviceInfo, DeviceNameError>| r.map(|d| d.id.0);
        assert_eq!(
            id(find_device(&list, Output, "bluez_sink.aa")),
            Ok("bluez_sink.aa".into())
        );
        assert_eq!(
            id(find_device(&list, Output, "wh-1000xm4")),
            Ok("bluez_sink.aa".into())
        );
        assert_eq!(
            id(find_device(&list, Output, "built-in")),
            Ok("alsa_output.pci".into())
        );
        // "Jabra" names a microphone and a speaker: the direction decides.
        assert_eq!(
            id(find_device(&list, Input, "jabra")),
            Ok("alsa_input.usb".into())
        );
        assert_eq!(
            id(find_device(&list, Output, "jabra")),
            Ok("alsa_output.usb".into())
        );
        let err = find_device(&list, Output, "hdmi").unwrap_err().to_string();
        assert_eq!(
            err,
            "no speaker is called \"hdmi\" (there are: \"Built-in Audio Analog Stereo\", \
             \"WH-1000XM4\", \"Jabra Evolve Stereo\")"
        );
        let err = find_device(&list, Output, "st").unwrap_err();
        assert!(matches!(err, DeviceNameError::Ambiguous { .. }), "{err}");
    }

    #[test]
    fn headset_names_are_recognised() {
        let dev = |name: &str| DeviceInfo::test(name, name, DeviceDirection::Output);
        assert!(dev("Jabra USB Headset").looks_like_headset());
        assert!(dev("WH-1000XM4 (Bluetooth)").looks_like_headset());
        assert!(!dev("Built-in Audio Analog Stereo").looks_like_headset());
    }
}
