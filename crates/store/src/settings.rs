use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};
use specta::Type;

use crate::StoreError;

/// The colour theme. `System` follows the OS light/dark preference live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, Type)]
#[serde(rename_all = "lowercase")]
pub enum ThemePreference {
    #[default]
    System,
    Light,
    Dark,
}

/// The user's settings, typed, each with a default. Unknown or missing fields fall back to
/// defaults, so an older or newer settings file never stops the app.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, Type)]
#[serde(default, rename_all = "camelCase")]
pub struct Settings {
    pub theme: ThemePreference,
    /// The microphone and speaker calls use (by id and name), and whether a headset that
    /// appears takes the call.
    pub devices: siperb_audio::DeviceChoice,
    /// The country national phone numbers belong to (ISO 3166 code, `GB`, `US`…): numbers are
    /// matched to contacts in their international form. Unset: the locale's.
    pub region: Option<String>,
    /// Echo cancellation, noise suppression and gain control on the microphone.
    pub processing: siperb_audio::ProcessingConfig,
    /// How the phone rings: the ringer device, ringtone and volume.
    #[serde(default)]
    pub ringer: siperb_audio::RingerSettings,
    /// Ringtones chosen for particular accounts (by account id); the others use the ringer's.
    #[serde(default)]
    pub account_ringtones: std::collections::BTreeMap<String, siperb_audio::Ringtone>,
    /// How the app behaves on the desktop: do not disturb, start at login, links.
    #[serde(default)]
    pub app: AppPreferences,
}

/// How the app behaves on the desktop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, Type)]
#[serde(default, rename_all = "camelCase")]
pub struct AppPreferences {
    /// Incoming calls are turned away busy without ringing.
    pub do_not_disturb: bool,
    /// The app starts when the user logs in, in the tray (no window).
    pub start_at_login: bool,
    /// A `tel:`/`sip:` link dials at once (otherwise it opens the dialpad with the number).
    pub dial_links_at_once: bool,
}

impl Settings {
    /// Reads `path`; a missing file gives the defaults. A damaged file is kept aside (never
    /// deleted) and reported, so nothing the user set is lost silently.
    pub fn load(path: &Path) -> Result<Self, StoreError> {
        read_json(path)
    }

    /// Writes atomically: a temp file in the same folder, flushed, then renamed over the old one.
    pub fn save(&self, path: &Path) -> Result<(), StoreError> {
        write_json_atomically(path, self)
    }
}

/// Loads a JSON file; a missing file gives the default, a damaged one is kept aside (never
/// deleted) and reported, so nothing the user set is lost silently.
pub(crate) fn read_json<T: serde::de::DeserializeOwned + Default>(
    path: &Path,
) -> Result<T, StoreError> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(T::default()),
        Err(source) => {
            return Err(StoreError::Read {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    serde_json::from_slice(&bytes).map_err(|source| {
        let backup = path.with_extension("json.damaged");
        // Best effort: if the rename fails the original stays where it is, which is also safe.
        let _ = std::fs::rename(path, &backup);
        StoreError::Corrupt {
            path: path.to_path_buf(),
            backup,
            source,
        }
    })
}

/// Writes atomically: a temp file in the same folder, flushed, then renamed over the old one.
pub(crate) fn write_json_atomically<T: Serialize>(
    path: &Path,
    value: &T,
) -> Result<(), StoreError> {
    let write_err = |source| StoreError::Write {
        path: path.to_path_buf(),
        source,
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(write_err)?;
    let tmp = path.with_extension("json.tmp");
    let json = serde_json::to_vec_pretty(value).map_err(|e| write_err(std::io::Error::other(e)))?;
    let mut file = std::fs::File::create(&tmp).map_err(write_err)?;
    file.write_all(&json).map_err(write_err)?;
    file.sync_all().map_err(write_err)?;
    drop(file);
    std::fs::rename(&tmp, path).map_err(write_err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_file_gives_defaults_and_save_round_trips() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let path = tmp.path().join("config/settings.json");
        assert_eq!(Settings::load(&path).expect("load"), Settings::default());
        let s = Settings {
            theme: ThemePreference::Dark,
            devices: siperb_audio::DeviceChoice {
                speaker: Some(siperb_audio::ChosenDevice {
                    id: siperb_audio::DeviceId("alsa_output.usb-Jabra".into()),
                    name: "Jabra Evolve".into(),
                }),
                follow_headsets: false,
                ..Default::default()
            },
            ringer: siperb_audio::RingerSettings {
                ringtone: siperb_audio::Ringtone::Marimba,
                volume: 35,
                ..Default::default()
            },
            account_ringtones: [("work".to_string(), siperb_audio::Ringtone::Soft)].into(),
            processing: siperb_audio::ProcessingConfig {
                noise_suppression: false,
                ..Default::default()
            },
            region: Some("GB".into()),
            app: AppPreferences {
                do_not_disturb: true,
                start_at_login: true,
                dial_links_at_once: false,
            },
        };
        s.save(&path).expect("save");
        assert_eq!(Settings::load(&path).expect("load"), s);
        assert!(
            !path.with_extension("json.tmp").exists(),
            "no temp file left behind"
        );
    }

    #[test]
    fn unknown_fields_are_ignored_and_missing_ones_default() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let path = tmp.path().join("settings.json");
        std::fs::write(&path, br#"{"future_option": 3}"#).expect("write");
        assert_eq!(Settings::load(&path).expect("load"), Settings::default());
        // A file from before device choices: the defaults (headsets followed).
        std::fs::write(&path, br#"{"theme": "dark", "devices": {}}"#).expect("write");
        let s = Settings::load(&path).expect("load");
        assert!(s.devices.follow_headsets && s.devices.speaker.is_none());
        // ... and from before the ringer settings: the default ringer.
        assert_eq!(s.ringer, siperb_audio::RingerSettings::default());
        assert_eq!(s.processing, siperb_audio::ProcessingConfig::default());
        assert!(s.processing.echo_cancellation && s.processing.noise_suppression);
        assert!(s.account_ringtones.is_empty());
    }

    #[test]
    fn a_damaged_file_is_reported_and_kept() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let path = tmp.path().join("settings.json");
        std::fs::write(&path, b"{ not json").expect("write");
        let err = Settings::load(&path).expect_err("damaged");
        assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
        assert_eq!(
            std::fs::read(path.with_extension("json.damaged")).expect("backup kept"),
            b"{ not json"
        );
        // The next start works with defaults.
        assert_eq!(Settings::load(&path).expect("load"), Settings::default());
    }
}
