//! `tel:`, `sip:`, `sips:` and `callto:` links. The app is their handler (the installers'
//! `.desktop` file, and registration at run time); one instance runs, and a second launch with
//! a link hands it to the first. A link dials at once or fills the dialpad (a setting).

use serde::Serialize;
use siperb_engine::EngineHandle;
use specta::Type;
use tauri::{AppHandle, Manager};
use tauri_plugin_deep_link::DeepLinkExt;
use tauri_specta::Event;

/// The schemes the app handles.
pub(crate) const SCHEMES: [&str; 4] = ["tel", "sip", "sips", "callto"];

/// A link asks the UI to fill the dialpad with `target`.
#[derive(Debug, Clone, Serialize, Type, tauri_specta::Event)]
pub(crate) struct DialRequested {
    pub target: String,
}

/// The last link's number not yet taken by the UI (a link given at launch arrives before the
/// page listens for events).
#[derive(Default)]
pub(crate) struct PendingLink(std::sync::Mutex<Option<String>>);

/// The number of the last link, once: for the dialpad when the UI starts.
#[tauri::command]
#[specta::specta]
pub(crate) fn take_pending_link(pending: tauri::State<'_, PendingLink>) -> Option<String> {
    pending.0.lock().ok().and_then(|mut p| p.take())
}

/// What to call from a link, or `None` when it is no link of ours (or empty).
pub(crate) fn target_of(link: &str) -> Option<String> {
    let link = link.trim();
    let (scheme, rest) = link.split_once(':')?;
    let scheme = scheme.to_ascii_lowercase();
    if !SCHEMES.contains(&scheme.as_str()) {
        return None;
    }
    // `callto://bob` and `tel://…` are written by some pages.
    let rest = rest.trim_start_matches("//");
    let decoded = percent_decode(rest);
    let target = match scheme.as_str() {
        // A number: visual separators and parameters go (RFC 3966).
        "tel" | "callto" if !decoded.contains('@') => {
            siperb_engine::without_visual_separators(decoded.split(';').next().unwrap_or_default())
        }
        "sip" | "sips" => format!("{scheme}:{}", decoded.split('?').next().unwrap_or_default()),
        _ => decoded,
    };
    let target = target.trim().trim_end_matches('/').to_owned();
    (!target.is_empty() && !target.ends_with(':') && target.len() <= 256).then_some(target)
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(v) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Handles links given to this instance (at launch, or passed on by a second launch).
pub(crate) fn open(app: &AppHandle, links: impl IntoIterator<Item = String>) {
    for link in links {
        let Some(target) = target_of(&link) else {
            tracing::info!("not a link to call: {link:?}");
            continue;
        };
        tracing::info!(%target, "link opened");
        let app = app.clone();
        tauri::async_runtime::spawn(async move {
            let engine = app.state::<EngineHandle>().inner().clone();
            let at_once = engine
                .settings()
                .await
                .map(|s| s.app.dial_links_at_once)
                .unwrap_or(false);
            crate::show_main(&app);
            if at_once {
                match engine.dial(None, target.clone()).await {
                    Ok(_) => return,
                    // The UI then shows the number to choose an account or fix it.
                    Err(e) => tracing::warn!(%target, "the link could not be dialled: {e}"),
                }
            }
            if let Some(pending) = app.try_state::<PendingLink>()
                && let Ok(mut p) = pending.0.lock()
            {
                *p = Some(target.clone());
            }
            if let Err(e) = (DialRequested { target }).emit(&app) {
                tracing::warn!("the link could not reach the dialpad: {e}");
            }
        });
    }
}

/// Registers the app as the handler of its schemes for this user, and follows links opened
/// while it runs.
pub(crate) fn setup(app: &AppHandle) {
    app.manage(PendingLink::default());
    #[cfg(any(target_os = "linux", windows))]
    if let Err(e) = app.deep_link().register_all() {
        tracing::info!("the link handler could not be registered: {e}");
    }
    let handle = app.clone();
    app.deep_link().on_open_url(move |event| {
        open(&handle, event.urls().iter().map(|u| u.to_string()));
    });
    // A link the app was started with.
    if let Ok(Some(urls)) = app.deep_link().get_current() {
        open(app, urls.iter().map(|u| u.to_string()));
    }
}

#[cfg(test)]
mod tests {
    use super::target_of;

    #[test]
    fn links_become_what_to_dial() {
        assert_eq!(
            target_of("tel:+1-555-010-9999").as_deref(),
            Some("+15550109999")
        );
        assert_eq!(
            target_of("tel:+44%2020%207946;ext=12").as_deref(),
            Some("+44207946")
        );
        assert_eq!(target_of("TEL://0123 456").as_deref(), Some("0123456"));
        assert_eq!(
            target_of("sip:bob@pbx.example.com?subject=hi").as_deref(),
            Some("sip:bob@pbx.example.com")
        );
        assert_eq!(target_of("callto://bob").as_deref(), Some("bob"));
        assert_eq!(
            target_of("callto:bob@example.com").as_deref(),
            Some("bob@example.com")
        );
        assert_eq!(target_of("https://example.com"), None);
        assert_eq!(target_of("tel:"), None);
        assert_eq!(target_of("sip:"), None);
    }
}
