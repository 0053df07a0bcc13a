//! Bluetooth headsets in calls. A headset in its stereo music profile (A2DP) has no
//! microphone: while a call uses it, its card is switched to a headset profile (HFP/HSP, the
//! wideband mSBC one when there is one) and back to the music profile when the call ends.
//! This module decides (sans-IO, from the sound server's card description); the sound server
//! connection applies it.

/// A card's profile as the sound server describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Profile {
    pub(crate) name: String,
    pub(crate) sinks: u32,
    pub(crate) sources: u32,
    pub(crate) priority: u32,
    pub(crate) available: bool,
}

/// A card (one Bluetooth headset) and its profiles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Card {
    pub(crate) index: u32,
    pub(crate) name: String,
    pub(crate) active: Option<String>,
    pub(crate) profiles: Vec<Profile>,
}

/// What a call needs done to a card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CallProfile {
    /// The active profile already has a microphone and a speaker.
    Ready,
    /// Switch to this profile for the call.
    Switch(String),
    /// No profile of this card can carry a call (a speaker, or headphones without a
    /// microphone): the call keeps another microphone, and the user is told.
    None,
}

impl Card {
    fn active(&self) -> Option<&Profile> {
        let name = self.active.as_deref()?;
        self.profiles.iter().find(|p| p.name == name)
    }

    /// What the card needs for a call.
    pub(crate) fn for_call(&self) -> CallProfile {
        let two_way = |p: &&Profile| p.sinks > 0 && p.sources > 0 && p.available;
        if self.active().is_some_and(|p| two_way(&p)) {
            return CallProfile::Ready;
        }
        // Wideband speech (mSBC) first, then the server's own preference.
        let wideband = |p: &Profile| {
            let n = p.name.to_ascii_lowercase();
            n.contains("msbc") || n.contains("lc3") || n.contains("wideband")
        };
        self.profiles
            .iter()
            .filter(two_way)
            .max_by_key(|p| (wideband(p), p.priority))
            .map_or(CallProfile::None, |p| CallProfile::Switch(p.name.clone()))
    }
}

/// A profile this phone switched for a call, to give back at its end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Switched {
    pub(crate) card: u32,
    /// The profile before the call (the music profile), given back after.
    pub(crate) before: String,
    /// The one set for the call.
    pub(crate) call: String,
}

impl Switched {
    /// The profile to give back at the call's end: only when the card is still on the one we
    /// set (the user may have changed it since, and that choice stands).
    pub(crate) fn restore(&self, card: &Card) -> Option<String> {
        (card.index == self.card && card.active.as_deref() == Some(self.call.as_str()))
            .then(|| self.before.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(name: &str, sinks: u32, sources: u32, priority: u32) -> Profile {
        Profile {
            name: name.into(),
            sinks,
            sources,
            priority,
            available: true,
        }
    }

    /// A headset as PulseAudio 16 describes it.
    fn pulseaudio_headset(active: &str) -> Card {
        Card {
            index: 7,
            name: "bluez_card.00_1B_66_AA_BB_CC".into(),
            active: Some(active.into()),
            profiles: vec![
                profile("a2dp_sink", 1, 0, 40),
                profile("headset_head_unit", 1, 1, 30),
                profile("off", 0, 0, 0),
            ],
        }
    }

    /// The same as PipeWire describes it, with mSBC.
    fn pipewire_headset(active: &str) -> Card {
        Card {
            index: 52,
            name: "bluez_card.00_1B_66_AA_BB_CC".into(),
            active: Some(active.into()),
            profiles: vec![
                profile("off", 0, 0, 0),
                profile("a2dp-sink-sbc", 1, 0, 18),
                profile("a2dp-sink", 1, 0, 19),
                profile("headset-head-unit-cvsd", 1, 1, 1),
                profile("headset-head-unit", 1, 1, 2),
                profile("headset-head-unit-msbc", 1, 1, 3),
            ],
        }
    }

    #[test]
    fn a_headset_playing_music_is_switched_to_its_headset_profile() {
        assert_eq!(
            pulseaudio_headset("a2dp_sink").for_call(),
            CallProfile::Switch("headset_head_unit".into())
        );
        // PipeWire: the wideband (mSBC) profile, though not the highest priority.
        assert_eq!(
            pipewire_headset("a2dp-sink").for_call(),
            CallProfile::Switch("headset-head-unit-msbc".into())
        );
    }

    #[test]
    fn a_headset_already_in_its_headset_profile_is_left_alone() {
        assert_eq!(
            pulseaudio_headset("headset_head_unit").for_call(),
            CallProfile::Ready
        );
        assert_eq!(
            pipewire_headset("headset-head-unit-cvsd").for_call(),
            CallProfile::Ready
        );
    }

    #[test]
    fn headphones_without_a_microphone_have_no_call_profile() {
        let mut card = pulseaudio_headset("a2dp_sink");
        card.profiles.retain(|p| p.name != "headset_head_unit");
        assert_eq!(card.for_call(), CallProfile::None);
        // An unavailable headset profile (HFP not connected) does not count either.
        let mut card = pulseaudio_headset("a2dp_sink");
        card.profiles[1].available = false;
        assert_eq!(card.for_call(), CallProfile::None);
    }

    #[test]
    fn the_music_profile_comes_back_unless_the_user_changed_it() {
        let switched = Switched {
            card: 7,
            before: "a2dp_sink".into(),
            call: "headset_head_unit".into(),
        };
        assert_eq!(
            switched.restore(&pulseaudio_headset("headset_head_unit")),
            Some("a2dp_sink".into())
        );
        assert_eq!(switched.restore(&pulseaudio_headset("off")), None);
        let mut other = pulseaudio_headset("headset_head_unit");
        other.index = 8;
        assert_eq!(switched.restore(&other), None);
    }
}
