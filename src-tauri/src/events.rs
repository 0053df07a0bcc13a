//! Engine events, forwarded to the UI as one typed event.

use serde::Serialize;
use siperb_engine::{CallEvent, CallPhase, CallRef, EngineEvent, EngineHandle};
use specta::Type;
use tauri::{AppHandle, Manager};
use tauri_specta::Event;
use tokio::sync::broadcast::{Receiver, error::RecvError};

/// What the engine said, as the UI receives it.
#[derive(Debug, Clone, Serialize, Type, tauri_specta::Event)]
pub(crate) struct EngineNotice(pub EngineEvent);

/// A call starting or stopping to ring here: what the popup and the notifications follow.
pub(crate) enum Ringing<'a> {
    Starts {
        account: &'a str,
        call: CallRef,
        from: &'a str,
        waiting: bool,
    },
    /// Answered, declined, given up or ending.
    Stops(CallRef),
}

/// Whether `event` starts or stops a call's ringing.
pub(crate) fn ringing(event: &EngineEvent) -> Option<Ringing<'_>> {
    let EngineEvent::Call { account, event } = event else {
        return None;
    };
    match event {
        CallEvent::IncomingCall {
            call,
            from,
            waiting,
            ..
        } => Some(Ringing::Starts {
            account,
            call: *call,
            from,
            waiting: *waiting,
        }),
        CallEvent::State { call, phase } if *phase != CallPhase::Incoming => {
            Some(Ringing::Stops(*call))
        }
        CallEvent::CallEnded { call, .. } => Some(Ringing::Stops(*call)),
        _ => None,
    }
}

/// Forwards every engine event to the webviews until the engine stops.
pub(crate) fn forward(app: AppHandle, mut events: Receiver<EngineEvent>) {
    tauri::async_runtime::spawn(async move {
        loop {
            match events.recv().await {
                Ok(event) => emit(&app, event),
                Err(RecvError::Lagged(missed)) => {
                    // The UI missed events: send the current state so it is right again.
                    tracing::warn!(missed, "UI event forwarder fell behind; resending status");
                    let engine = app.state::<EngineHandle>().inner().clone();
                    if let Ok(status) = engine.status().await {
                        emit(&app, EngineEvent::StatusChanged { status });
                    }
                }
                Err(RecvError::Closed) => break,
            }
        }
    });
}

fn emit(app: &AppHandle, event: EngineEvent) {
    crate::popup::follow(app, &event);
    crate::tray::follow(app, &event);
    crate::notify::follow(app, &event);
    if let Err(e) = EngineNotice(event).emit(app) {
        tracing::warn!("could not send an event to the UI: {e}");
    }
}
