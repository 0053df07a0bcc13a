//! The typed commands the UI may call. Each one forwards to the engine and nothing more.

use siperb_engine::{EngineHandle, EngineStatus, Settings, ThemePreference};
use tauri::State;
use tauri_specta::{collect_commands, collect_events};

use crate::IpcError;
use crate::events::EngineNotice;

/// The accounts, their registration and the phone's overall state.
#[tauri::command]
#[specta::specta]
async fn get_status(engine: State<'_, EngineHandle>) -> Result<EngineStatus, IpcError> {
    Ok(engine.status().await?)
}

#[tauri::command]
#[specta::specta]
async fn get_settings(engine: State<'_, EngineHandle>) -> Result<Settings, IpcError> {
    Ok(engine.settings().await?)
}

#[tauri::command]
#[specta::specta]
async fn set_theme(
    engine: State<'_, EngineHandle>,
    theme: ThemePreference,
) -> Result<Settings, IpcError> {
    Ok(engine.set_theme(theme).await?)
}

/// Every command and event the UI sees. `tests/bindings.rs` checks that `ui/src/bindings.ts`
/// matches it.
pub fn specta_builder() -> tauri_specta::Builder<tauri::Wry> {
    tauri_specta::Builder::<tauri::Wry>::new()
        .commands(collect_commands![get_status, get_settings, set_theme])
        .events(collect_events![EngineNotice])
}
