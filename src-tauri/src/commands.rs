//! The typed commands the UI may call. Each one forwards to the engine and nothing more.

use siperb_engine::{
    CallRecord, Contact, EngineHandle, EngineStatus, HistoryQuery, Settings, ThemePreference,
};
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

/// Brings the main window to the front (after answering from the popup, from the tray).
#[tauri::command]
#[specta::specta]
async fn show_main_window(app: tauri::AppHandle) -> Result<(), IpcError> {
    crate::show_main(&app);
    Ok(())
}

/// The most calls one history request returns.
const HISTORY_PAGE_MAX: u32 = 500;
/// The longest search text taken (what a person types; longer is cut).
const SEARCH_MAX_CHARS: usize = 200;

/// Calls, newest first: only missed ones with `missed_only`, only those whose name, number or
/// address contains `search` when given; at most `limit` (1 to 500).
#[tauri::command]
#[specta::specta]
async fn get_history(
    engine: State<'_, EngineHandle>,
    missed_only: bool,
    search: Option<String>,
    limit: u32,
) -> Result<Vec<CallRecord>, IpcError> {
    let search = search.map(|s| s.chars().take(SEARCH_MAX_CHARS).collect::<String>());
    let query = HistoryQuery {
        missed_only,
        search,
        limit: limit.clamp(1, HISTORY_PAGE_MAX) as usize,
    };
    Ok(engine.history(query).await?)
}

/// Missed calls the user has not seen yet.
#[tauri::command]
#[specta::specta]
async fn get_missed_count(engine: State<'_, EngineHandle>) -> Result<u32, IpcError> {
    Ok(engine.unseen_missed_calls().await?)
}

/// The user has seen the missed calls (the badge goes).
#[tauri::command]
#[specta::specta]
async fn mark_calls_seen(engine: State<'_, EngineHandle>) -> Result<(), IpcError> {
    Ok(engine.mark_calls_seen().await?)
}

/// Forgets every finished call; how many.
#[tauri::command]
#[specta::specta]
async fn clear_history(engine: State<'_, EngineHandle>) -> Result<u32, IpcError> {
    let n = engine.clear_history().await?;
    Ok(u32::try_from(n).unwrap_or(u32::MAX))
}

/// The most contacts one request returns.
const CONTACTS_PAGE_MAX: u32 = 1000;

/// Contacts, favourites first: all of them, or those whose name, company, number or address
/// contains `search`; at most `limit` (1 to 1000).
#[tauri::command]
#[specta::specta]
async fn get_contacts(
    engine: State<'_, EngineHandle>,
    search: Option<String>,
    limit: u32,
) -> Result<Vec<Contact>, IpcError> {
    let search: String = search
        .unwrap_or_default()
        .chars()
        .take(SEARCH_MAX_CHARS)
        .collect();
    let limit = limit.clamp(1, CONTACTS_PAGE_MAX) as usize;
    Ok(engine.contacts(move |c| c.search(&search, limit)).await?)
}

/// Saves a contact: a new one when it has no id, else the one with that id. Returns it as
/// saved (with its id).
#[tauri::command]
#[specta::specta]
async fn save_contact(
    engine: State<'_, EngineHandle>,
    contact: Contact,
) -> Result<Contact, IpcError> {
    Ok(engine
        .contacts(move |c| {
            let id = match contact.id {
                Some(id) => {
                    c.update(&contact)?;
                    id
                }
                None => c.add(&contact)?,
            };
            c.get(id)?
                .ok_or(siperb_engine::ContactError::NoSuchContact(id))
        })
        .await?)
}

#[tauri::command]
#[specta::specta]
async fn delete_contact(engine: State<'_, EngineHandle>, id: i64) -> Result<(), IpcError> {
    Ok(engine.contacts(move |c| c.delete(id)).await?)
}

/// The longest vCard text taken at once (a few thousand contacts with photos).
const VCARD_MAX_BYTES: usize = 64 * 1024 * 1024;

/// Adds the contacts in a vCard file's text; what was imported and left out.
#[tauri::command]
#[specta::specta]
async fn import_vcards(
    engine: State<'_, EngineHandle>,
    text: String,
) -> Result<siperb_engine::vcard::ImportReport, IpcError> {
    if text.len() > VCARD_MAX_BYTES {
        return Err(IpcError::new(
            "vcard_too_large",
            "That file is too large to be a contacts file (over 64 MB).",
        ));
    }
    Ok(engine.import_vcards(text).await?)
}

/// Writes every contact to `Siperb contacts.vcf` in the user's documents folder (or home);
/// returns the file's path.
#[tauri::command]
#[specta::specta]
async fn export_vcards(
    app: tauri::AppHandle,
    engine: State<'_, EngineHandle>,
) -> Result<String, IpcError> {
    use tauri::Manager;
    let (text, _) = engine.export_vcards().await?;
    let dir = app
        .path()
        .document_dir()
        .or_else(|_| app.path().home_dir())
        .map_err(|e| IpcError::new("no_folder", &format!("No folder to write to: {e}")))?;
    let file = dir.join("Siperb contacts.vcf");
    std::fs::create_dir_all(&dir)
        .and_then(|()| std::fs::write(&file, text))
        .map_err(|e| {
            IpcError::new(
                "export_failed",
                &format!(
                    "The contacts could not be written to {}: {e}",
                    file.display()
                ),
            )
        })?;
    Ok(file.display().to_string())
}

/// Every command and event the UI sees. `tests/bindings.rs` checks that `ui/src/bindings.ts`
/// matches it.
pub fn specta_builder() -> tauri_specta::Builder<tauri::Wry> {
    tauri_specta::Builder::<tauri::Wry>::new()
        .commands(collect_commands![
            get_status,
            get_settings,
            show_main_window,
            set_theme,
            get_history,
            get_missed_count,
            mark_calls_seen,
            clear_history,
            get_contacts,
            save_contact,
            delete_contact,
            import_vcards,
            export_vcards,
            crate::desktop::set_app_preferences,
            crate::links::take_pending_link,
            crate::sound::list_devices,
            crate::sound::set_devices,
            crate::sound::set_ringer,
            crate::sound::set_processing,
            crate::sound::meter_microphone,
            crate::sound::test_tone,
            crate::sound::open_logs,
            crate::sound::set_call_device,
            crate::accounts::get_accounts,
            crate::accounts::save_account,
            crate::accounts::remove_account,
            crate::calls::dial,
            crate::calls::answer,
            crate::calls::decline,
            crate::calls::hang_up,
            crate::calls::hold,
            crate::calls::mute,
            crate::calls::send_digit,
            crate::calls::transfer,
            crate::calls::attended_transfer,
            crate::calls::start_recording,
            crate::calls::stop_recording,
            crate::calls::contact_name
        ])
        .events(collect_events![EngineNotice, crate::links::DialRequested])
}
