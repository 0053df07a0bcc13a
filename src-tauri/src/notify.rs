//! Desktop notifications: a ringing call (with Answer and Decline actions) and a missed call.
//! They go to the desktop's notification server over D-Bus (notify-rust); with none running,
//! the popup window and the tray still tell the user.

use std::collections::HashMap;
use std::sync::Mutex;

use siperb_engine::{
    CallEvent, CallInput, CallPhase, CallRef, EndCause, EngineEvent, EngineHandle,
};
use tauri::{AppHandle, Manager};

/// The ringing calls' notifications and callers (kept in the app's state).
#[derive(Default)]
pub(crate) struct Notices {
    ringing: Mutex<HashMap<CallRef, Ringing>>,
}

struct Ringing {
    from: String,
    handle: Option<notify_rust::NotificationHandle>,
    /// It stopped ringing (answered, declined, ending): no notification should stay.
    closed: bool,
}

const ANSWER: &str = "answer";
const DECLINE: &str = "decline";

/// Shows, closes and follows up notifications as calls ring and end.
pub(crate) fn follow(app: &AppHandle, event: &EngineEvent) {
    let EngineEvent::Call { event, .. } = event else {
        return;
    };
    match event {
        CallEvent::IncomingCall {
            call,
            from,
            waiting,
            ..
        } => ring(app, *call, from, *waiting),
        // Answered, or ending: the ringing notification goes (the caller is kept until the
        // call's end says whether it was missed).
        CallEvent::State { call, phase } if *phase != CallPhase::Incoming => {
            close(app, *call);
        }
        CallEvent::CallEnded { call, cause, .. } => {
            if let Some(from) = stop(app, *call)
                && matches!(cause, EndCause::CallerCancelled | EndCause::NoAnswer)
            {
                missed(&from);
            }
        }
        _ => {}
    }
}

fn caller(from: &str) -> String {
    // `"Ann" <sip:1002@pbx>` → `Ann (1002)`; `sip:1002@pbx` → `1002`.
    let uri = from
        .split_once('<')
        .map_or(from, |(_, rest)| rest.split('>').next().unwrap_or(rest));
    let user = uri
        .trim_start_matches("sips:")
        .trim_start_matches("sip:")
        .trim_start_matches("tel:")
        .split(['@', ';'])
        .next()
        .unwrap_or(uri);
    let name = from
        .split_once('<')
        .map(|(n, _)| n.trim().trim_matches('"').trim())
        .filter(|n| !n.is_empty());
    match name {
        Some(n) if n != user => format!("{n} ({user})"),
        _ => user.to_owned(),
    }
}

fn ring(app: &AppHandle, call: CallRef, from: &str, waiting: bool) {
    let Some(notices) = app.try_state::<Notices>() else {
        return;
    };
    if let Ok(mut ringing) = notices.ringing.lock() {
        ringing.insert(
            call,
            Ringing {
                from: from.to_owned(),
                handle: None,
                closed: false,
            },
        );
    }
    let body = caller(from);
    // Showing is a D-Bus call, and the wait for the user's choice blocks: a thread of its own.
    let app = app.clone();
    std::thread::spawn(move || {
        let shown = notify_rust::Notification::new()
            .appname("Siperb")
            .summary(if waiting {
                "Call waiting"
            } else {
                "Incoming call"
            })
            .body(&body)
            .icon("call-start")
            .action(ANSWER, "Answer")
            .action(DECLINE, "Decline")
            .urgency(notify_rust::Urgency::Critical)
            .timeout(notify_rust::Timeout::Never)
            .show();
        let handle = match shown {
            Ok(h) => h,
            Err(e) => {
                tracing::info!("no incoming-call notification (no notification server?): {e}");
                return;
            }
        };
        let id = handle.id();
        // Still ringing? Then keep the handle to close it when it stops; else close it now.
        let notices = app.state::<Notices>();
        let leftover = match notices.ringing.lock() {
            Ok(mut ringing) => match ringing.get_mut(&call) {
                Some(r) if !r.closed => {
                    r.handle = Some(handle);
                    None
                }
                _ => Some(handle),
            },
            Err(_) => Some(handle),
        };
        if let Some(handle) = leftover {
            handle.close();
            return;
        }
        let engine = app.state::<EngineHandle>().inner().clone();
        let result = notify_rust::handle_action(id, |response| {
            let notify_rust::ActionResponse::Custom(action) = response else {
                return;
            };
            let input = match *action {
                ANSWER => Some(CallInput::Answer),
                DECLINE => Some(CallInput::Reject { code: 603 }),
                // A click on the notification itself.
                "default" => {
                    crate::show_main(&app);
                    None
                }
                _ => None,
            };
            if let Some(input) = input {
                let answered = input == CallInput::Answer;
                let engine = engine.clone();
                let app = app.clone();
                tauri::async_runtime::spawn(async move {
                    match engine.call_command(call, input).await {
                        Ok(()) if answered => crate::show_main(&app),
                        Ok(()) => {}
                        Err(e) => tracing::warn!("the notification's action failed: {e}"),
                    }
                });
            }
        });
        if let Err(e) = result {
            tracing::debug!("notification actions: {e}");
        }
    });
}

/// Closes the call's ringing notification, if it has one.
fn close(app: &AppHandle, call: CallRef) {
    let Some(notices) = app.try_state::<Notices>() else {
        return;
    };
    let handle = notices.ringing.lock().ok().and_then(|mut r| {
        r.get_mut(&call).and_then(|r| {
            r.closed = true;
            r.handle.take()
        })
    });
    if let Some(handle) = handle {
        // Closing is a D-Bus call: not on the event path.
        std::thread::spawn(move || handle.close());
    }
}

/// The call ended: its notification goes. Returns who called, if it rang here.
fn stop(app: &AppHandle, call: CallRef) -> Option<String> {
    close(app, call);
    let notices = app.try_state::<Notices>()?;
    let ringing = notices.ringing.lock().ok()?.remove(&call)?;
    Some(ringing.from)
}

fn missed(from: &str) {
    let body = caller(from);
    std::thread::spawn(move || {
        let shown = notify_rust::Notification::new()
            .appname("Siperb")
            .summary("Missed call")
            .body(&body)
            .icon("call-missed")
            .show();
        if let Err(e) = shown {
            tracing::info!("no missed-call notification: {e}");
        }
    });
}

#[cfg(test)]
mod tests {
    #[test]
    fn callers_read_as_people_write_them() {
        assert_eq!(
            super::caller("\"Ann Lee\" <sip:1002@pbx>;tag=1"),
            "Ann Lee (1002)"
        );
        assert_eq!(super::caller("sip:bob@127.0.0.1:5060"), "bob");
        assert_eq!(super::caller("<sip:+4412@carrier;user=phone>"), "+4412");
    }
}
