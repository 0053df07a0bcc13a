//! `siperb-cli call` and `siperb-cli listen`: place or take calls, printing every event.

use std::net::SocketAddr;
use std::time::Duration;

use siperb_engine::{
    AccountId, CallEvent, CallInput, CallPhase, CallRef, EndCause, EngineEvent, EngineHandle,
    RegistrationFailure, RegistrationState,
};

use crate::control::{self, LiveCalls};
use crate::error::CliError;

/// Where calls go out and come in: a registered account, or the local line.
pub(crate) struct LineChoice {
    pub(crate) account: Option<String>,
    pub(crate) password_env: Option<String>,
    pub(crate) bind: Option<SocketAddr>,
    /// Print the per-second call statistics (`--stats`).
    pub(crate) stats: bool,
}

/// Registers the chosen account (waiting until it is registered), or opens the local line
/// when no account exists. Returns the account id calls use.
async fn open_line(
    engine: &EngineHandle,
    choice: LineChoice,
    json: bool,
    towards: Option<SocketAddr>,
) -> Result<Option<AccountId>, CliError> {
    let accounts = engine.accounts().await?;
    let id = match (choice.account, accounts.as_slice()) {
        (Some(name), _) => AccountId(name),
        (None, []) => {
            let bind = choice.bind.unwrap_or_else(|| default_bind(towards));
            let user = std::env::var("USER")
                .ok()
                .filter(|u| !u.is_empty())
                .unwrap_or_else(|| "siperb".into());
            let local = engine.start_local_line(bind, user.clone()).await?;
            say(
                json,
                serde_json::json!({"event": "listening", "address": format!("sip:{user}@{local}")}),
                &format!("listening on sip:{user}@{local}"),
            );
            return Ok(None);
        }
        (None, [only]) => only.id.clone(),
        (None, _) => return Err(CliError::Ambiguous),
    };
    let mut events = engine.subscribe();
    crate::password::register(engine, &id, choice.password_env).await?;
    loop {
        let event = tokio::time::timeout(Duration::from_secs(40), events.recv())
            .await
            .map_err(|_| CliError::Failed("the registrar did not answer".into()))?;
        let Ok(EngineEvent::StatusChanged { status }) = event else {
            continue;
        };
        match status
            .accounts
            .iter()
            .find(|a| a.id == id)
            .map(|a| &a.registration)
        {
            Some(RegistrationState::Registered { .. }) => {
                say(
                    json,
                    serde_json::json!({"event": "registered", "account": id.0}),
                    &format!("{}: registered", id.0),
                );
                // The engine hears of the account's line before its first registration
                // state (one inbox, in order), so the line is there to dial on.
                return Ok(Some(id));
            }
            Some(RegistrationState::Failed { failure })
                if matches!(
                    failure,
                    RegistrationFailure::AuthenticationFailed
                        | RegistrationFailure::Forbidden
                        | RegistrationFailure::Dns { .. }
                        | RegistrationFailure::Network { .. }
                ) =>
            {
                return Err(CliError::Failed(failure.describe()));
            }
            _ => {}
        }
    }
}

/// The local address to listen on: the one the OS routes towards `towards` (or the default
/// route), on port 5060 unless calling out.
fn default_bind(towards: Option<SocketAddr>) -> SocketAddr {
    let probe_target = towards.unwrap_or_else(|| ([192, 0, 2, 1], 9).into());
    let ip = std::net::UdpSocket::bind(("0.0.0.0", 0))
        .and_then(|s| s.connect(probe_target).and_then(|()| s.local_addr()))
        .map(|a| a.ip())
        .unwrap_or_else(|_| [127, 0, 0, 1].into());
    let port = if towards.is_some() { 0 } else { 5060 };
    SocketAddr::new(ip, port)
}

fn say(json: bool, obj: serde_json::Value, human: &str) {
    if json {
        println!("{obj}");
    } else {
        println!("{human}");
    }
}

/// A call's event from the engine's events; ringer events are printed on the way, the others
/// are not the command's business.
fn call_event(
    event: Result<EngineEvent, tokio::sync::broadcast::error::RecvError>,
    json: bool,
) -> Option<(String, CallEvent)> {
    match event {
        Ok(EngineEvent::Call { account, event }) => Some((account, event)),
        Ok(EngineEvent::Ringer { event }) => {
            print_ringer(&event, json);
            None
        }
        _ => None,
    }
}

/// The ringer started, stopped, or cannot ring.
fn print_ringer(event: &siperb_engine::RingerEvent, json: bool) {
    use siperb_engine::RingerEvent::*;
    if json {
        let mut obj = serde_json::to_value(event).unwrap_or_default();
        obj["event"] = serde_json::Value::from("ringer");
        println!("{obj}");
        return;
    }
    match event {
        Ringing { device } => println!("ringing on {device}"),
        Stopped => println!("ringing stopped"),
        Failed { reason } => println!("cannot ring: {reason}"),
    }
}

fn print_event(account: &str, event: &CallEvent, json: bool, show_stats: bool) {
    if matches!(event, CallEvent::Stats { .. }) && !show_stats {
        return;
    }
    if json {
        let mut obj = serde_json::to_value(event).unwrap_or_default();
        obj["account"] = serde_json::Value::from(account);
        println!("{obj}");
        return;
    }
    let text = match event {
        CallEvent::IncomingCall {
            call,
            from,
            waiting,
            ..
        } => {
            let w = if *waiting { " (call waiting)" } else { "" };
            format!("call {}: incoming from {from}{w}", call.0)
        }
        CallEvent::OutgoingCall { call, to } => format!("call {}: calling {to}", call.0),
        CallEvent::State { call, phase } => format!("call {}: {}", call.0, phase.name()),
        CallEvent::Hold {
            call,
            local,
            remote,
        } => {
            format!(
                "call {}: on hold here {local}, by the far end {remote}",
                call.0
            )
        }
        CallEvent::Dtmf { call, digit } => format!("call {}: digit {digit}", call.0),
        CallEvent::Transfer { call, status } => format!("call {}: transfer {status}", call.0),
        CallEvent::TransferRequested { call, target } => {
            format!("call {}: transferred to {target}", call.0)
        }
        CallEvent::CallReplaced {
            call,
            replaced,
            from,
        } => format!(
            "call {}: {from} took over call {} (attended transfer)",
            call.0, replaced.0
        ),
        CallEvent::Stats { call, stats: s } => format!(
            "call {}: {} sent, {} received, {} lost ({:.1} %), jitter {:.1} ms, RTT {}, buffer {:.0} ms + speaker {:.0} ms, MOS {:.2}",
            call.0,
            s.packets_sent,
            s.packets_received,
            s.packets_lost,
            s.loss_pct,
            s.jitter_ms,
            s.rtt_ms.map_or("-".to_owned(), |r| format!("{r:.0} ms")),
            s.jitter_buffer_ms,
            s.speaker_queue_ms,
            s.mos
        ),
        CallEvent::AudioDevice { call, route }
            if route.reason == siperb_audio::RouteReason::NoCallProfile =>
        {
            format!(
                "call {}: {} has no microphone profile; the microphone stays where it is",
                call.0,
                route
                    .device
                    .as_ref()
                    .map_or("the device", |d| d.name.as_str())
            )
        }
        CallEvent::AudioDevice { call, route } => format!(
            "call {}: {} now {} ({})",
            call.0,
            match route.direction {
                siperb_audio::DeviceDirection::Input => "microphone",
                siperb_audio::DeviceDirection::Output => "speaker",
            },
            route
                .device
                .as_ref()
                .map_or("the system default", |d| d.name.as_str()),
            match route.reason {
                siperb_audio::RouteReason::Chosen => "your choice",
                siperb_audio::RouteReason::NewHeadset => "a headset appeared",
                siperb_audio::RouteReason::DeviceGone => "the device in use went away",
                siperb_audio::RouteReason::NoCallProfile => "no microphone profile",
            }
        ),
        CallEvent::GhostCallBlocked { from, reason } => {
            format!("blocked a call from {from}: {reason}")
        }
        CallEvent::CallEnded {
            call,
            cause,
            talk_secs,
            ..
        } => {
            format!(
                "call {}: ended ({}) after {talk_secs:.1} s",
                call.0,
                describe(cause)
            )
        }
    };
    println!("{text}");
}

fn describe(cause: &EndCause) -> String {
    match cause {
        EndCause::LocalHangup => "we hung up".into(),
        EndCause::RemoteHangup => "the far end hung up".into(),
        EndCause::CallerCancelled => "the caller gave up".into(),
        EndCause::Rejected { code } => format!("declined here ({code})"),
        EndCause::Refused { code, reason } => format!("{reason} ({code})"),
        EndCause::NoAnswer => "no answer".into(),
        EndCause::SessionExpired => "the session expired".into(),
        EndCause::Transferred => "transferred".into(),
        EndCause::Replaced => "replaced by a transferred call".into(),
        EndCause::Network { detail } => format!("network: {detail}"),
        EndCause::MediaRefused { reason } => format!("unusable media: {reason}"),
    }
}

fn target_addr(target: &str) -> Option<SocketAddr> {
    let host = target.split('@').nth(1)?.split([';', '>']).next()?;
    host.parse().ok()
}

/// Keeps `live` in step with the calls the events mention.
fn track(live: &LiveCalls, event: &CallEvent) {
    match event {
        CallEvent::IncomingCall { call, .. }
        | CallEvent::OutgoingCall { call, .. }
        | CallEvent::CallReplaced { call, .. } => live.add(*call),
        CallEvent::CallEnded { call, .. } => live.remove(*call),
        _ => {}
    }
}

async fn hang_up_all(engine: &EngineHandle, live: &LiveCalls) {
    for call in live.list() {
        let _ = engine.call_command(call, CallInput::Hangup).await;
    }
}

#[allow(clippy::too_many_arguments)]
pub(crate) async fn call(
    engine: &EngineHandle,
    target: String,
    choice: LineChoice,
    duration: Option<u64>,
    dtmf: Option<String>,
    control: bool,
    json: bool,
) -> Result<(), CliError> {
    let stats = choice.stats;
    let account = open_line(engine, choice, json, target_addr(&target)).await?;
    let mut events = engine.subscribe();
    let mut interrupts =
        crate::interrupts::Interrupts::new().map_err(crate::error::CliError::Interrupts)?;
    let live = LiveCalls::default();
    let call = engine.dial(account.clone(), target).await?;
    live.add(call);
    // With --control the run lasts while any call does; a script's `quit` hangs them all up.
    let mut quit = control.then(|| control::spawn(engine.clone(), account, live.clone(), json));
    let mut answered = false;
    let mut hangup_at: Option<tokio::time::Instant> = None;
    loop {
        let deadline = hangup_at;
        tokio::select! {
            () = interrupts.next() => {
                hang_up_all(engine, &live).await;
                hangup_at = None;
            }
            Some(()) = async { match quit.as_mut() { Some(q) => q.recv().await, None => std::future::pending().await } } => {
                quit = None;
                hang_up_all(engine, &live).await;
            }
            () = async { match deadline { Some(t) => tokio::time::sleep_until(t).await, None => std::future::pending().await } } => {
                hangup_at = None;
                let _ = engine.call_command(call, CallInput::Hangup).await;
            }
            event = events.recv() => {
                let Some((account, event)) = call_event(event, json) else { continue };
                if !control && event.call() != Some(call) && !matches!(event, CallEvent::GhostCallBlocked { .. }) {
                    continue;
                }
                track(&live, &event);
                print_event(&account, &event, json, stats);
                match &event {
                    CallEvent::State { call: c, phase: CallPhase::Established } if *c == call && !answered => {
                        answered = true;
                        if let Some(digits) = dtmf.clone() {
                            send_digits(engine.clone(), call, digits);
                        }
                        if let Some(secs) = duration {
                            hangup_at = Some(tokio::time::Instant::now() + Duration::from_secs(secs));
                        }
                    }
                    CallEvent::CallEnded { call: c, cause, .. } if *c == call || control => {
                        if control && !live.list().is_empty() {
                            continue;
                        }
                        return if answered && !matches!(cause, EndCause::MediaRefused { .. }) {
                            Ok(())
                        } else {
                            Err(CliError::CallFailed(describe(cause)))
                        };
                    }
                    _ => {}
                }
            }
        }
    }
}

fn send_digits(engine: EngineHandle, call: CallRef, digits: String) {
    tokio::spawn(async move {
        for d in digits.chars().filter(|c| !c.is_whitespace()) {
            if engine
                .call_command(call, CallInput::SendDtmf(d))
                .await
                .is_err()
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    });
}

pub(crate) async fn listen(
    engine: &EngineHandle,
    choice: LineChoice,
    auto_answer: bool,
    control: bool,
    json: bool,
) -> Result<(), CliError> {
    let mut interrupts =
        crate::interrupts::Interrupts::new().map_err(crate::error::CliError::Interrupts)?;
    let mut events = engine.subscribe();
    let stats = choice.stats;
    let account = open_line(engine, choice, json, None).await?;
    let live = LiveCalls::default();
    let mut quit = control.then(|| control::spawn(engine.clone(), account, live.clone(), json));
    loop {
        tokio::select! {
            () = interrupts.next() => return Ok(()),
            Some(()) = async { match quit.as_mut() { Some(q) => q.recv().await, None => std::future::pending().await } } => {
                hang_up_all(engine, &live).await;
                return Ok(());
            }
            event = events.recv() => {
                let Some((account, event)) = call_event(event, json) else { continue };
                track(&live, &event);
                print_event(&account, &event, json, stats);
                if let CallEvent::IncomingCall { call, .. } = event
                    && auto_answer
                {
                    let _ = engine.call_command(call, CallInput::Answer).await;
                }
            }
        }
    }
}
