//! The call commands: dial, answer, decline, hang up, hold, mute, keypad, transfer, swap and
//! record. Each forwards to the engine; the call's progress comes back as engine events.

use siperb_engine::{AccountId, CallInput, CallRef, EngineHandle};
use tauri::State;

use crate::IpcError;

/// The longest number or address the dialpad sends.
const TARGET_MAX_CHARS: usize = 256;

/// Calls `target` (a number, `user@host`, a `sip:`/`tel:` URI, or `echo` for the echo test) on
/// `account`, or on the only account there is.
#[tauri::command]
#[specta::specta]
pub(crate) async fn dial(
    engine: State<'_, EngineHandle>,
    account: Option<String>,
    target: String,
) -> Result<CallRef, IpcError> {
    let target: String = target.trim().chars().take(TARGET_MAX_CHARS).collect();
    if target.is_empty() {
        return Err(IpcError::new(
            "empty_target",
            "Type a number or address to call.",
        ));
    }
    Ok(engine.dial(account.map(AccountId), target).await?)
}

#[tauri::command]
#[specta::specta]
pub(crate) async fn answer(engine: State<'_, EngineHandle>, call: CallRef) -> Result<(), IpcError> {
    Ok(engine.call_command(call, CallInput::Answer).await?)
}

/// Turns a ringing call away (603 Decline).
#[tauri::command]
#[specta::specta]
pub(crate) async fn decline(
    engine: State<'_, EngineHandle>,
    call: CallRef,
) -> Result<(), IpcError> {
    Ok(engine
        .call_command(call, CallInput::Reject { code: 603 })
        .await?)
}

#[tauri::command]
#[specta::specta]
pub(crate) async fn hang_up(
    engine: State<'_, EngineHandle>,
    call: CallRef,
) -> Result<(), IpcError> {
    Ok(engine.call_command(call, CallInput::Hangup).await?)
}

/// Puts the call on hold (`on`) or takes it off; taking it off holds the others.
#[tauri::command]
#[specta::specta]
pub(crate) async fn hold(
    engine: State<'_, EngineHandle>,
    call: CallRef,
    on: bool,
) -> Result<(), IpcError> {
    if on {
        Ok(engine.call_command(call, CallInput::Hold).await?)
    } else {
        Ok(engine.swap_to(call).await?)
    }
}

#[tauri::command]
#[specta::specta]
pub(crate) async fn mute(
    engine: State<'_, EngineHandle>,
    call: CallRef,
    muted: bool,
) -> Result<(), IpcError> {
    Ok(engine.mute(call, muted).await?)
}

/// Sends one keypad digit (0-9, *, #, A-D).
#[tauri::command]
#[specta::specta]
pub(crate) async fn send_digit(
    engine: State<'_, EngineHandle>,
    call: CallRef,
    digit: String,
) -> Result<(), IpcError> {
    let mut chars = digit.chars();
    let (Some(d), None) = (chars.next(), chars.next()) else {
        return Err(IpcError::new(
            "bad_digit",
            "A keypad digit is one of 0-9, *, # or A-D.",
        ));
    };
    let d = d.to_ascii_uppercase();
    if !(d.is_ascii_digit() || matches!(d, '*' | '#' | 'A'..='D')) {
        return Err(IpcError::new(
            "bad_digit",
            "A keypad digit is one of 0-9, *, # or A-D.",
        ));
    }
    Ok(engine.call_command(call, CallInput::SendDtmf(d)).await?)
}

/// Blind transfer: the far end of `call` is asked to call `target`.
#[tauri::command]
#[specta::specta]
pub(crate) async fn transfer(
    engine: State<'_, EngineHandle>,
    call: CallRef,
    target: String,
) -> Result<(), IpcError> {
    let target: String = target.trim().chars().take(TARGET_MAX_CHARS).collect();
    if target.is_empty() {
        return Err(IpcError::new(
            "empty_target",
            "Type the number or address to transfer to.",
        ));
    }
    Ok(engine
        .call_command(call, CallInput::Transfer { target })
        .await?)
}

/// Attended transfer: the far end of `call` takes over `to` (our call with the target).
#[tauri::command]
#[specta::specta]
pub(crate) async fn attended_transfer(
    engine: State<'_, EngineHandle>,
    call: CallRef,
    to: CallRef,
) -> Result<(), IpcError> {
    Ok(engine.attended_transfer(call, to).await?)
}

/// Starts recording `call` into the profile's recordings folder; returns the file's path.
#[tauri::command]
#[specta::specta]
pub(crate) async fn start_recording(
    engine: State<'_, EngineHandle>,
    call: CallRef,
) -> Result<String, IpcError> {
    let status = engine.status().await?;
    let dir = std::path::Path::new(&status.data_dir).join("recordings");
    std::fs::create_dir_all(&dir).map_err(|e| {
        IpcError::new(
            "recording_folder",
            &format!(
                "The recordings folder {} cannot be made: {e}",
                dir.display()
            ),
        )
    })?;
    let stamp = time_stamp();
    let path = dir.join(format!("call-{stamp}-{}.wav", call.0));
    engine.start_recording(call, path.clone()).await?;
    Ok(path.display().to_string())
}

/// Stops recording `call`; the seconds recorded.
#[tauri::command]
#[specta::specta]
pub(crate) async fn stop_recording(
    engine: State<'_, EngineHandle>,
    call: CallRef,
) -> Result<Option<f64>, IpcError> {
    Ok(engine.stop_recording(call).await?)
}

/// The name of the contact `address` (a caller ID or a number) belongs to, if any.
#[tauri::command]
#[specta::specta]
pub(crate) async fn contact_name(
    engine: State<'_, EngineHandle>,
    address: String,
) -> Result<Option<String>, IpcError> {
    let address: String = address.chars().take(TARGET_MAX_CHARS).collect();
    let found = engine
        .contacts(move |c| c.find_by_address(&address))
        .await?;
    Ok(found.map(|c| c.name))
}

/// `YYYYMMDD-HHMMSS` in UTC, for file names.
fn time_stamp() -> String {
    let t = siperb_engine::UtcDateTime::now();
    format!(
        "{:04}{:02}{:02}-{:02}{:02}{:02}",
        t.year, t.month, t.day, t.hour, t.minute, t.second
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn time_stamps_are_civil_dates() {
        let s = super::time_stamp();
        assert_eq!(s.len(), 15, "{s}");
        assert!(s.starts_with("20"), "{s}");
        assert_eq!(&s[8..9], "-");
    }
}
