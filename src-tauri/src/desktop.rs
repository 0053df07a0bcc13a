//! The app's place on the desktop: its preferences (do not disturb, start at login, what a
//! link does) and starting at login, which on Linux is a `.desktop` file in the user's
//! autostart folder (XDG Autostart) that starts the app in the tray.

use std::path::PathBuf;

use siperb_engine::{AppPreferences, EngineHandle, Settings};
use tauri::State;

use crate::IpcError;

/// The argument that starts the app in the tray, with no window.
pub(crate) const MINIMIZED: &str = "--minimized";

/// Saves the app's preferences; starting at login is set up (or removed) at once.
#[tauri::command]
#[specta::specta]
pub(crate) async fn set_app_preferences(
    engine: State<'_, EngineHandle>,
    app: AppPreferences,
) -> Result<Settings, IpcError> {
    let before = engine.settings().await?.app;
    if app.start_at_login != before.start_at_login {
        start_at_login(app.start_at_login).map_err(|e| {
            IpcError::new(
                "autostart",
                &format!("Starting at login could not be changed: {e}"),
            )
        })?;
    }
    Ok(engine.set_app_preferences(app).await?)
}

/// `$XDG_CONFIG_HOME/autostart/siperb-desktop.desktop` (or `~/.config/…`).
fn autostart_file() -> Option<PathBuf> {
    let config = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    Some(config.join("autostart").join("siperb-desktop.desktop"))
}

fn start_at_login(on: bool) -> std::io::Result<()> {
    let Some(file) = autostart_file() else {
        return Err(std::io::Error::other("no home folder"));
    };
    if !on {
        return match std::fs::remove_file(&file) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        };
    }
    let exe = std::env::current_exe()?;
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&file, autostart_entry(&exe.display().to_string()))
}

/// The autostart entry (Desktop Entry spec: the path quoted, quotes and backslashes escaped).
fn autostart_entry(exe: &str) -> String {
    let quoted = exe
        .replace('\\', "\\\\\\\\")
        .replace('"', "\\\\\"")
        .replace('`', "\\\\`")
        .replace('$', "\\\\$");
    format!(
        "[Desktop Entry]\nType=Application\nName=Siperb\nComment=Siperb softphone, in the tray\nExec=\"{quoted}\" {MINIMIZED}\nIcon=siperb-desktop\nTerminal=false\nX-GNOME-Autostart-enabled=true\n"
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_autostart_entry_starts_the_app_in_the_tray() {
        let e = super::autostart_entry("/opt/Siperb Desktop/siperb-desktop");
        assert!(
            e.contains("Exec=\"/opt/Siperb Desktop/siperb-desktop\" --minimized\n"),
            "{e}"
        );
        assert!(e.starts_with("[Desktop Entry]\nType=Application\n"));
    }
}
