//! The sound settings: devices (microphone, speaker, ringer), the ringtone and its volume,
//! echo and noise processing, the microphone meter and the test tones. Each forwards to the
//! engine.

use siperb_engine::{EngineHandle, Settings};
use tauri::State;

use crate::IpcError;

/// The microphones and speakers there are now.
#[tauri::command]
#[specta::specta]
pub(crate) async fn list_devices(
    engine: State<'_, EngineHandle>,
) -> Result<Vec<siperb_audio::DeviceInfo>, IpcError> {
    Ok(engine.devices().await?)
}

/// The microphone and speaker calls use, and whether a headset that appears takes over.
#[tauri::command]
#[specta::specta]
pub(crate) async fn set_devices(
    engine: State<'_, EngineHandle>,
    devices: siperb_audio::DeviceChoice,
) -> Result<Settings, IpcError> {
    Ok(engine.set_devices(devices).await?)
}

/// The ringer device, ringtone and volume (0-100; more is taken as 100).
#[tauri::command]
#[specta::specta]
pub(crate) async fn set_ringer(
    engine: State<'_, EngineHandle>,
    mut ringer: siperb_audio::RingerSettings,
) -> Result<Settings, IpcError> {
    ringer.volume = ringer.volume.min(100);
    Ok(engine.set_ringer(ringer).await?)
}

/// Echo cancellation, noise suppression and gain control (calls in progress follow).
#[tauri::command]
#[specta::specta]
pub(crate) async fn set_processing(
    engine: State<'_, EngineHandle>,
    processing: siperb_audio::ProcessingConfig,
) -> Result<Settings, IpcError> {
    Ok(engine.set_processing(processing).await?)
}

/// Starts or stops the microphone meter (`micLevel` events every 100 ms while on).
#[tauri::command]
#[specta::specta]
pub(crate) async fn meter_microphone(
    engine: State<'_, EngineHandle>,
    on: bool,
) -> Result<(), IpcError> {
    Ok(engine.meter_microphone(on).await?)
}

/// Plays a short test sound on the speaker, or the ringtone on the ringer (`ringer`).
#[tauri::command]
#[specta::specta]
pub(crate) async fn test_tone(
    engine: State<'_, EngineHandle>,
    ringer: bool,
) -> Result<(), IpcError> {
    Ok(engine.test_tone(ringer).await?)
}

/// Moves one call's microphone or speaker to `device` (`None`: the system's default).
#[tauri::command]
#[specta::specta]
pub(crate) async fn set_call_device(
    engine: State<'_, EngineHandle>,
    call: siperb_engine::CallRef,
    direction: siperb_audio::DeviceDirection,
    device: Option<siperb_audio::ChosenDevice>,
) -> Result<(), IpcError> {
    Ok(engine.choose_device(call, direction, device).await?)
}

/// Opens the folder with the logs (and the SIP trace) in the file manager.
#[tauri::command]
#[specta::specta]
pub(crate) async fn open_logs(logs: State<'_, crate::LogDir>) -> Result<String, IpcError> {
    let dir = logs.0.clone();
    let _ = std::fs::create_dir_all(&dir);
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else if cfg!(windows) {
        "explorer"
    } else {
        "xdg-open"
    };
    std::process::Command::new(opener)
        .arg(&dir)
        .spawn()
        .map_err(|e| {
            IpcError::new(
                "open_failed",
                &format!("The log folder {} could not be opened: {e}", dir.display()),
            )
        })?;
    Ok(dir.display().to_string())
}
