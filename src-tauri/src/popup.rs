//! The incoming-call popup: a small always-on-top window, made when a call rings and closed
//! when it stops ringing. It never takes the keyboard focus from what the user is typing in.
//! The window shows the same web UI (`#popup`) with the call in its address, so it has what to
//! show before any event reaches it.

use siperb_engine::{CallRef, EngineEvent};

use crate::events::Ringing;
use tauri::{AppHandle, Manager, WebviewUrl, WebviewWindowBuilder};

const WIDTH: f64 = 360.0;
const HEIGHT: f64 = 150.0;
/// Space between the popup and the screen's edge.
const MARGIN: f64 = 24.0;

/// The popup window's label for `call`.
pub(crate) fn label(call: CallRef) -> String {
    format!("popup-{}", call.0)
}

/// Opens or closes popups as calls start and stop ringing.
pub(crate) fn follow(app: &AppHandle, event: &EngineEvent) {
    match crate::events::ringing(event) {
        Some(Ringing::Starts {
            account,
            call,
            from,
            waiting,
        }) => open(app, call, account, from, waiting),
        Some(Ringing::Stops(call)) => close(app, call),
        None => {}
    }
}

fn open(app: &AppHandle, call: CallRef, account: &str, from: &str, waiting: bool) {
    let label = label(call);
    if app.get_webview_window(&label).is_some() {
        return;
    }
    let query = format!(
        "popup?call={}&account={}&from={}&waiting={}",
        call.0,
        encode(account),
        encode(from),
        u8::from(waiting)
    );
    let url = WebviewUrl::App(format!("index.html#{query}").into());
    let mut builder = WebviewWindowBuilder::new(app, &label, url)
        .title("Incoming call")
        .inner_size(WIDTH, HEIGHT)
        .resizable(false)
        .decorations(false)
        .always_on_top(true)
        .skip_taskbar(true)
        .focused(false)
        .visible_on_all_workspaces(true);
    // Bottom right of the screen the pointer's window is on (the primary one otherwise).
    if let Ok(Some(monitor)) = app.primary_monitor() {
        let scale = monitor.scale_factor();
        let size = monitor.size().to_logical::<f64>(scale);
        let origin = monitor.position().to_logical::<f64>(scale);
        builder = builder.position(
            origin.x + size.width - WIDTH - MARGIN,
            origin.y + size.height - HEIGHT - MARGIN,
        );
    }
    if let Err(e) = builder.build() {
        tracing::warn!("the incoming-call popup could not open: {e}");
    }
}

fn close(app: &AppHandle, call: CallRef) {
    if let Some(w) = app.get_webview_window(&label(call))
        && let Err(e) = w.close()
    {
        tracing::warn!("the incoming-call popup did not close: {e}");
    }
}

/// Percent-encodes everything but unreserved characters (RFC 3986), for the popup's address.
fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn caller_ids_are_encoded_for_the_address() {
        assert_eq!(
            super::encode("\"Ann Lee\" <sip:1002@pbx>;tag=a&b"),
            "%22Ann%20Lee%22%20%3Csip%3A1002%40pbx%3E%3Btag%3Da%26b"
        );
    }
}
