//! Desktop notifications: a ringing call (with Answer and Decline actions) and a missed call.
//! With no notification server, the popup window and the tray still tell the user.
//!
//! On Linux they go straight over D-Bus (org.freedesktop.Notifications) on one connection kept
//! for the app's life: the server sends the user's choice (`ActionInvoked`) and closings only
//! to the connection that showed the notification, so one task reads them all, and nothing
//! waits per call. Elsewhere notify-rust shows them (without actions).

use std::collections::HashMap;
use std::sync::Mutex;

use siperb_engine::{CallInput, CallRef, EngineEvent};
use tauri::{AppHandle, Manager};

use crate::events::Ringing;

/// The ringing calls' notifications (kept in the app's state).
#[derive(Default)]
pub(crate) struct Notices {
    ringing: Mutex<HashMap<CallRef, Notice>>,
    #[cfg(target_os = "linux")]
    bus: tokio::sync::OnceCell<Option<zbus::Connection>>,
}

/// A ringing call's notification.
struct Notice {
    /// Its id, once shown.
    id: Option<u32>,
    /// It stopped ringing (answered, declined, ending): no notification should stay.
    closed: bool,
}

const ANSWER: &str = "answer";
const DECLINE: &str = "decline";

/// Shows and closes notifications as calls ring and stop, and tells of missed calls.
pub(crate) fn follow(app: &AppHandle, event: &EngineEvent) {
    if let EngineEvent::CallMissed { name, number, .. } = event {
        show(app, None, "Missed call", &who(name, number), false);
        return;
    }
    match crate::events::ringing(event) {
        Some(Ringing::Starts {
            call,
            from,
            waiting,
            ..
        }) => ring(app, call, from, waiting),
        Some(Ringing::Stops(call)) => {
            close(app, call);
            if let Some(n) = app.try_state::<Notices>()
                && let Ok(mut ringing) = n.ringing.lock()
            {
                ringing.remove(&call);
            }
        }
        None => {}
    }
}

/// `Ann (1002)`, or `1002` when there is no name (or it is the number).
fn who(name: &str, number: &str) -> String {
    let name = name.trim();
    if name.is_empty() || name == number {
        number.to_owned()
    } else {
        format!("{name} ({number})")
    }
}

fn ring(app: &AppHandle, call: CallRef, from: &str, waiting: bool) {
    let Some(notices) = app.try_state::<Notices>() else {
        return;
    };
    if let Ok(mut ringing) = notices.ringing.lock() {
        ringing.insert(
            call,
            Notice {
                id: None,
                closed: false,
            },
        );
    }
    let summary = if waiting {
        "Call waiting"
    } else {
        "Incoming call"
    };
    let caller = siperb_engine::Party::parse(from);
    show(
        app,
        Some(call),
        summary,
        &who(&caller.display_name, &caller.number),
        true,
    );
}

/// What the user chose in a ringing call's notification.
fn act(app: &AppHandle, call: CallRef, action: &str) {
    let input = match action {
        ANSWER => CallInput::Answer,
        DECLINE => CallInput::Reject { code: 603 },
        // A click on the notification itself.
        "default" => {
            crate::show_main(app);
            return;
        }
        _ => return,
    };
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let engine = app.state::<siperb_engine::EngineHandle>().inner().clone();
        let answered = input == CallInput::Answer;
        match engine.call_command(call, input).await {
            Ok(()) if answered => crate::show_main(&app),
            Ok(()) => {}
            Err(e) => tracing::warn!("the notification's action failed: {e}"),
        }
    });
}

#[cfg(target_os = "linux")]
fn show(app: &AppHandle, call: Option<CallRef>, summary: &'static str, body: &str, ringing: bool) {
    let app = app.clone();
    let body = body.to_owned();
    tauri::async_runtime::spawn(async move {
        let notices = app.state::<Notices>();
        let Some(bus) = linux::connection(&app, &notices).await else {
            return;
        };
        let id = match linux::notify(&bus, summary, &body, ringing).await {
            Ok(id) => id,
            Err(e) => {
                tracing::info!("no notification (no notification server?): {e}");
                return;
            }
        };
        let Some(call) = call else { return };
        // Still ringing? Then note the id; else close it now.
        let keep = notices
            .ringing
            .lock()
            .is_ok_and(|mut r| match r.get_mut(&call) {
                Some(r) if !r.closed => {
                    r.id = Some(id);
                    true
                }
                _ => false,
            });
        if !keep {
            linux::close(&bus, id).await;
        }
    });
}

#[cfg(not(target_os = "linux"))]
fn show(
    _app: &AppHandle,
    _call: Option<CallRef>,
    summary: &'static str,
    body: &str,
    _ringing: bool,
) {
    let body = body.to_owned();
    std::thread::spawn(move || {
        if let Err(e) = notify_rust::Notification::new()
            .appname("Siperb")
            .summary(summary)
            .body(&body)
            .show()
        {
            tracing::info!("no notification: {e}");
        }
    });
}

/// Closes the call's ringing notification, if it has one.
fn close(app: &AppHandle, call: CallRef) {
    let Some(notices) = app.try_state::<Notices>() else {
        return;
    };
    let id = notices.ringing.lock().ok().and_then(|mut r| {
        r.get_mut(&call).and_then(|r| {
            r.closed = true;
            r.id.take()
        })
    });
    #[cfg(target_os = "linux")]
    if let Some(id) = id {
        let app = app.clone();
        tauri::async_runtime::spawn(async move {
            let notices = app.state::<Notices>();
            if let Some(bus) = linux::connection(&app, &notices).await {
                linux::close(&bus, id).await;
            }
        });
    }
    #[cfg(not(target_os = "linux"))]
    let _ = id;
}

#[cfg(target_os = "linux")]
mod linux {
    use std::collections::HashMap;

    use futures_util::StreamExt;
    use tauri::{AppHandle, Manager};

    use super::{ANSWER, DECLINE, Notices};

    const NAME: &str = "org.freedesktop.Notifications";
    const PATH: &str = "/org/freedesktop/Notifications";

    /// The app's session-bus connection for notifications, made on first use with the task
    /// that reads the server's answers; `None` when there is no session bus.
    pub(super) async fn connection(app: &AppHandle, notices: &Notices) -> Option<zbus::Connection> {
        notices
            .bus
            .get_or_init(|| async {
                match listen(app.clone()).await {
                    Ok(c) => Some(c),
                    Err(e) => {
                        tracing::info!("no notifications (no session bus?): {e}");
                        None
                    }
                }
            })
            .await
            .clone()
    }

    async fn listen(app: AppHandle) -> zbus::Result<zbus::Connection> {
        let bus = zbus::Connection::session().await?;
        let rule = zbus::MatchRule::builder()
            .msg_type(zbus::message::Type::Signal)
            .interface(NAME)
            .path(PATH)
            .build()?;
        let mut signals = zbus::MessageStream::for_match_rule(rule, &bus, None).await?;
        tauri::async_runtime::spawn(async move {
            while let Some(Ok(msg)) = signals.next().await {
                let header = msg.header();
                if header.member().map(|m| m.as_str()) != Some("ActionInvoked") {
                    continue;
                }
                let body = msg.body();
                let parsed: zbus::Result<(u32, String)> = body.deserialize();
                let Ok((id, action)) = parsed else {
                    continue;
                };
                let call = app.try_state::<Notices>().and_then(|n| {
                    let ringing = n.ringing.lock().ok()?;
                    ringing
                        .iter()
                        .find(|(_, r)| r.id == Some(id))
                        .map(|(call, _)| *call)
                });
                if let Some(call) = call {
                    super::act(&app, call, &action);
                }
            }
        });
        Ok(bus)
    }

    /// Shows a notification; a ringing call's has Answer and Decline, stays until closed
    /// and is critical (it shows over full-screen windows).
    pub(super) async fn notify(
        bus: &zbus::Connection,
        summary: &str,
        body: &str,
        ringing: bool,
    ) -> zbus::Result<u32> {
        let actions: Vec<&str> = if ringing {
            vec![ANSWER, "Answer", DECLINE, "Decline"]
        } else {
            Vec::new()
        };
        let mut hints: HashMap<&str, zbus::Variant<'_>> = HashMap::new();
        hints.insert(
            "urgency",
            zbus::Variant::from(if ringing { 2u8 } else { 1u8 }),
        );
        hints.insert(
            "category",
            zbus::Variant::from(if ringing {
                "call.incoming"
            } else {
                "call.unanswered"
            }),
        );
        let icon = if ringing { "call-start" } else { "call-missed" };
        // -1: the server's default time; 0: until closed.
        let timeout: i32 = if ringing { 0 } else { -1 };
        bus.call_method(
            Some(NAME),
            PATH,
            Some(NAME),
            "Notify",
            &("Siperb", 0u32, icon, summary, body, actions, hints, timeout),
        )
        .await?
        .body()
        .deserialize()
    }

    pub(super) async fn close(bus: &zbus::Connection, id: u32) {
        if let Err(e) = bus
            .call_method(Some(NAME), PATH, Some(NAME), "CloseNotification", &(id,))
            .await
        {
            tracing::debug!("the notification could not be closed: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn callers_read_as_people_write_them() {
        let ann = siperb_engine::Party::parse("\"Ann Lee\" <sip:1002@pbx>;tag=1");
        assert_eq!(super::who(&ann.display_name, &ann.number), "Ann Lee (1002)");
        let bob = siperb_engine::Party::parse("sip:bob@127.0.0.1:5060");
        assert_eq!(super::who(&bob.display_name, &bob.number), "bob");
        assert_eq!(super::who(" 1002 ", "1002"), "1002");
    }
}
