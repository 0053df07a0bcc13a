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

/// A device as the UI lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct DeviceInfo {
    pub id: DeviceId,
    /// The human name ("Jabra Evolve2 65", "Built-in Audio Analog Stereo").
    pub name: String,
    pub direction: DeviceDirection,
    pub is_default: bool,
}

impl DeviceInfo {
    /// Whether the name suggests a headset, which calls move to when it appears (issue 5 refines
    /// this with the sound server's form factor and bus properties).
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
mod tests {
    use super::*;

    #[test]
    fn roles_map_to_directions() {
        assert_eq!(DeviceRole::Microphone.direction(), DeviceDirection::Input);
        assert_eq!(DeviceRole::Ringer.direction(), DeviceDirection::Output);
    }

    #[test]
    fn headset_names_are_recognised() {
        let dev = |name: &str| DeviceInfo {
            id: DeviceId(name.into()),
            name: name.into(),
            direction: DeviceDirection::Output,
            is_default: false,
        };
        assert!(dev("Jabra USB Headset").looks_like_headset());
        assert!(dev("WH-1000XM4 (Bluetooth)").looks_like_headset());
        assert!(!dev("Built-in Audio Analog Stereo").looks_like_headset());
    }
}
