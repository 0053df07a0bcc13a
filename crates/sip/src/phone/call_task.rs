//! One task per call: carries the [`Call`] machine's actions to an rsipstack dialog and the
//! media session, and turns dialog states, user commands and timers into its inputs.

use std::collections::HashMap;
use std::time::Instant;

use rsipstack::dialog::dialog::{
    DialogState, DialogStateReceiver, TerminatedReason, TransactionHandle,
};
use rsipstack::dialog::dialog_layer::DialogLayer;
use rsipstack::dialog::invitation::InviteAsyncResult;
use rsipstack::dialog::invite_dialog::InviteDialog;
use rsipstack::sip::{Header, Method, Request, Response, StatusCode};
use siperb_media::{MediaSession, sdp};
use std::sync::Arc;
use tokio::sync::mpsc;

use super::{CallEvent, CallRef};
use crate::call::{
    Action, Call, CallDirection, CallPhase, Input, MediaDirection, SessionTimer, TimerKind,
};
use crate::util::header_value;

/// What the call task is told from outside its dialog.
#[derive(Debug)]
pub(crate) enum Command {
    /// A user action (answer, hang up, hold, DTMF, transfer…).
    User(Input),
    /// Progress of the call we placed for a REFER this call accepted.
    TransferCallProgress(u16),
    /// Mute or record: local to the media, no signalling.
    Media(
        super::MediaControl,
        tokio::sync::oneshot::Sender<Result<Option<f64>, String>>,
    ),
}

/// Results of the requests the task sent in the background.
enum Done {
    Reinvite(Result<Option<Response>, String>),
    Refer(Result<Option<Response>, String>),
}

pub(crate) struct CallTask {
    pub(crate) id: CallRef,
    pub(crate) call: Call,
    pub(crate) dialog: InviteDialog,
    pub(crate) layer: Arc<DialogLayer>,
    /// The line's table of call dialogs: ours is kept current there.
    pub(crate) dialogs: Arc<std::sync::Mutex<HashMap<CallRef, InviteDialog>>>,
    pub(crate) media: Box<dyn MediaSession>,
    pub(crate) states: DialogStateReceiver,
    pub(crate) commands: mpsc::Receiver<Command>,
    pub(crate) events: mpsc::UnboundedSender<CallEvent>,
    /// For an outgoing call: the INVITE transaction's outcome.
    pub(crate) invite: Option<rsipstack::platform::JoinHandle<InviteAsyncResult>>,
    /// For an incoming call: the offer in the INVITE.
    pub(crate) remote_offer: Option<String>,
    /// The SDP our 200 carries, made when the user answers.
    pub(crate) answer_body: Option<String>,
    /// The INVITE had no offer, so our 200 offered and the ACK carries the answer.
    pub(crate) offered_in_200: bool,
    /// Session-Expires of the incoming INVITE (seconds, refresher is the UAC unless it says uas).
    pub(crate) incoming_session: Option<(u64, bool)>,
    /// For an outgoing call with credentials: the INVITE to send again, once, with our answer
    /// to a 401/407 challenge.
    pub(crate) auth_retry: Option<InviteAuth>,
    /// An input to handle right after the current one (e.g. unusable media once the 200 that
    /// carried it is acknowledged).
    pub(crate) after_input: Option<Input>,
    /// Digits to send as SIP INFO, one after the other (made on the first).
    pub(crate) info_digits: Option<mpsc::UnboundedSender<char>>,
}

/// What answering a challenge to our INVITE needs.
pub(crate) struct InviteAuth {
    pub(crate) option: rsipstack::dialog::invitation::InviteOption,
    pub(crate) user: String,
    pub(crate) password: String,
}

fn sdp_header() -> Header {
    Header::ContentType("application/sdp".into())
}

fn body_text(body: &[u8]) -> Option<String> {
    (!body.is_empty()).then(|| String::from_utf8_lossy(body).into_owned())
}

/// `Session-Expires: 1800;refresher=uac` → (1800, refresher is uas).
pub(crate) fn session_expires(headers: &rsipstack::sip::Headers) -> Option<(u64, Option<bool>)> {
    let v = header_value(headers, "Session-Expires").or_else(|| header_value(headers, "x"))?;
    let mut parts = v.split(';');
    let secs = parts.next()?.trim().parse::<u64>().ok()?;
    let refresher = parts.find_map(|p| {
        let (k, val) = p.split_once('=')?;
        (k.trim().eq_ignore_ascii_case("refresher")).then(|| val.trim().eq_ignore_ascii_case("uas"))
    });
    Some((secs.max(90), refresher))
}

/// The digit of a SIP INFO body (`application/dtmf-relay` "Signal=5" or `application/dtmf` "5").
fn info_digit(body: &[u8]) -> Option<char> {
    let text = String::from_utf8_lossy(body);
    let value = text
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once('=')?;
            k.trim()
                .eq_ignore_ascii_case("signal")
                .then(|| v.trim().to_owned())
        })
        .unwrap_or_else(|| text.trim().to_owned());
    let mut chars = value.chars();
    let c = chars.next()?;
    if chars.next().is_some() {
        // RFC 2833 event numbers in dtmf-relay: 10 = '*', 11 = '#'.
        return match value.as_str() {
            "10" => Some('*'),
            "11" => Some('#'),
            _ => None,
        };
    }
    (c.is_ascii_digit() || matches!(c, '*' | '#' | 'A'..='D' | 'a'..='d'))
        .then(|| c.to_ascii_uppercase())
}

/// The status line of a message/sipfrag body ("SIP/2.0 200 OK").
fn sipfrag_status(body: &[u8]) -> Option<u16> {
    let text = String::from_utf8_lossy(body);
    text.split_whitespace().nth(1)?.parse().ok()
}

fn refer_target(req: &Request) -> Option<String> {
    let v = header_value(&req.headers, "Refer-To").or_else(|| header_value(&req.headers, "r"))?;
    let v = v.trim();
    let inner = v
        .strip_prefix('<')
        .and_then(|s| s.split_once('>').map(|(a, _)| a))
        .unwrap_or(v);
    Some(inner.to_owned())
}

impl CallTask {
    fn emit(&self, event: CallEvent) {
        let _ = self.events.send(event);
    }

    pub(crate) async fn run(mut self, first: Vec<Action>) {
        let (done_tx, mut done_rx) = mpsc::unbounded_channel::<Done>();
        let mut timers: HashMap<TimerKind, tokio::time::Instant> = HashMap::new();
        let mut pending_reinvite: Option<(TransactionHandle, Option<String>)> = None;
        let mut pending_refer: Option<TransactionHandle> = None;
        let mut actions = first;
        let (mut states_open, mut commands_open) = (true, true);
        // Digits the media path decodes from RFC 4733 events.
        let mut dtmf_in = self.media.dtmf_received();
        // Call statistics, once a second while the call is up.
        let mut stats_tick = tokio::time::interval_at(
            tokio::time::Instant::now() + std::time::Duration::from_secs(1),
            std::time::Duration::from_secs(1),
        );
        stats_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            for action in std::mem::take(&mut actions) {
                if self
                    .act(
                        action,
                        &done_tx,
                        &mut timers,
                        &mut pending_reinvite,
                        &mut pending_refer,
                    )
                    .await
                {
                    self.layer.remove_dialog(&self.dialog.id());
                    if let Ok(mut d) = self.dialogs.lock() {
                        d.remove(&self.id);
                    }
                    return;
                }
            }
            let next_timer = timers
                .iter()
                .min_by_key(|(_, at)| **at)
                .map(|(k, at)| (*k, *at));
            let input = tokio::select! {
                // Dialog states first: a 180 queued there must be seen before the 200 that
                // completes the INVITE below, or the caller would never see "ringing".
                biased;
                state = self.states.recv(), if states_open => match state {
                    Some(state) => self.dialog_input(state, &mut pending_reinvite, &mut pending_refer).await,
                    None => {
                        states_open = false;
                        None
                    }
                },
                result = async { match self.invite.as_mut() { Some(h) => h.await, None => std::future::pending().await } } => {
                    self.invite = None;
                    if self.answer_challenge(&result) {
                        None
                    } else {
                        Some(self.invite_outcome(result))
                    }
                }
                Some(done) = done_rx.recv() => Some(self.background_done(done)),
                _ = stats_tick.tick(), if self.call.phase() == CallPhase::Established => {
                    if let Some(stats) = self.media.stats() {
                        self.emit(CallEvent::Stats { call: self.id, stats });
                    }
                    for route in self.media.audio_routes() {
                        self.emit(CallEvent::AudioDevice { call: self.id, route });
                    }
                    None
                },
                digit = async { match dtmf_in.as_mut() { Some(rx) => rx.recv().await, None => std::future::pending().await } } => match digit {
                    Some(digit) => Some(Input::DtmfReceived { digit }),
                    None => {
                        dtmf_in = None;
                        None
                    }
                },
                cmd = self.commands.recv(), if commands_open => match cmd {
                    Some(Command::User(input)) => self.prepare_user_input(input),
                    Some(Command::TransferCallProgress(status)) => Some(Input::TransferCallProgress { status }),
                    Some(Command::Media(control, reply)) => {
                        let _ = reply.send(super::media_control(self.media.as_mut(), control));
                        None
                    }
                    // Nobody can control the call any more (the app is quitting): hang up.
                    None => {
                        commands_open = false;
                        Some(Input::Hangup)
                    }
                },
                () = async { match next_timer { Some((_, at)) => tokio::time::sleep_until(at).await, None => std::future::pending().await } } => {
                    let kind = next_timer.map(|(k, _)| k).unwrap_or(TimerKind::NoAnswer);
                    timers.remove(&kind);
                    Some(Input::Timer(kind))
                }
            };
            if let Some(input) = input {
                actions = self.call.handle(Instant::now(), input);
                if let Some(next) = self.after_input.take() {
                    actions.extend(self.call.handle(Instant::now(), next));
                }
            }
        }
    }

    /// Some user inputs need media work first: answering needs our SDP answer.
    fn prepare_user_input(&mut self, input: Input) -> Option<Input> {
        if input == Input::Answer && self.call.phase() == CallPhase::Incoming {
            let body = match self.remote_offer.take().filter(|o| !o.is_empty()) {
                Some(offer) => match self.media.answer_offer(&offer, false) {
                    Ok(answer) => answer,
                    Err(e) => {
                        tracing::info!(call = self.id.0, "cannot answer the offer: {e}");
                        return Some(Input::Reject { code: 488 });
                    }
                },
                None => {
                    // An offerless INVITE: we offer in the 200 (RFC 3264 §5); the ACK answers.
                    self.offered_in_200 = true;
                    self.media.create_offer(MediaDirection::SendRecv)
                }
            };
            self.answer_body = Some(body);
        }
        Some(input)
    }

    /// rsipstack 0.7.14 answers INVITE challenges itself only with MD5 and fails outright on the
    /// `SHA-256` token (RFC 8760), so INVITEs go out without its credential and we answer a
    /// 401/407 here with our own digest: the same INVITE (same Call-ID and offer) once more,
    /// carrying (Proxy-)Authorization, on a new client dialog. True when it was sent.
    fn answer_challenge(
        &mut self,
        result: &Result<InviteAsyncResult, tokio::task::JoinError>,
    ) -> bool {
        let Ok(Ok((_, Some(resp)))) = result else {
            return false;
        };
        let code = resp.status_code.code();
        if !matches!(code, 401 | 407) {
            return false;
        }
        let Some(auth) = self.auth_retry.take() else {
            return false;
        };
        let (challenge_header, answer_header) = if code == 407 {
            ("Proxy-Authenticate", "Proxy-Authorization")
        } else {
            ("WWW-Authenticate", "Authorization")
        };
        let Some(challenge) = header_value(&resp.headers, challenge_header)
            .and_then(|v| crate::digest::Challenge::parse(&v).ok())
        else {
            tracing::info!(call = self.id.0, "a {code} challenge we cannot answer");
            return false;
        };
        let mut option = auth.option;
        let uri = option.callee.to_string();
        let cnonce = format!("{:016x}", crate::random_seed());
        let value = challenge.authorize(&auth.user, &auth.password, "INVITE", &uri, &cnonce, 1);
        let mut headers = option.headers.take().unwrap_or_default();
        headers.push(Header::Other(answer_header.into(), value));
        option.headers = Some(headers);
        // Later requests in this call (re-INVITE, BYE) may be challenged too: rsipstack answers
        // those itself, but only with MD5, so it gets the credential only for an MD5 realm.
        // (With SHA-256 a challenged in-dialog request ends the call, as rsipstack cannot
        // compute it; no server we know challenges in-dialog requests with SHA-256.)
        if challenge.algorithm == crate::digest::Algorithm::Md5 && !challenge.sess {
            option.credential = Some(rsipstack::dialog::authenticate::Credential {
                username: auth.user.clone(),
                password: auth.password.clone(),
                realm: Some(challenge.realm.clone()),
                auth_username: None,
            });
        }
        option.call_id = Some(self.dialog.id().call_id.clone());
        let (state_tx, states) = self.layer.new_dialog_state_channel();
        match self.layer.do_invite_async(option, state_tx) {
            Ok((dialog, invite)) => {
                self.layer.remove_dialog(&self.dialog.id());
                if let Ok(mut d) = self.dialogs.lock() {
                    d.insert(self.id, dialog.clone());
                }
                self.dialog = dialog;
                self.states = states;
                self.invite = Some(invite);
                true
            }
            Err(e) => {
                tracing::info!(
                    call = self.id.0,
                    "cannot send the authenticated INVITE: {e}"
                );
                false
            }
        }
    }

    fn invite_outcome(
        &mut self,
        result: Result<InviteAsyncResult, tokio::task::JoinError>,
    ) -> Input {
        match result {
            Ok(Ok((_, Some(resp)))) => {
                let code = resp.status_code.code();
                if (200..300).contains(&code) {
                    if let Some(answer) = body_text(&resp.body)
                        && let Err(e) = self.media.apply_answer(&answer)
                    {
                        // The 200 is acknowledged (the dialog exists), then the call ends
                        // with the reason instead of running without usable media.
                        tracing::info!(call = self.id.0, "unusable SDP answer: {e}");
                        self.after_input = Some(Input::MediaUnusable {
                            reason: e.to_string(),
                        });
                    }
                    let session_timer =
                        session_expires(&resp.headers).map(|(secs, uas)| SessionTimer {
                            interval: std::time::Duration::from_secs(secs),
                            // We are the UAC: we refresh when the refresher is the UAC.
                            we_refresh: uas == Some(false),
                        });
                    Input::Accepted { session_timer }
                } else {
                    Input::Refused {
                        code,
                        reason: resp.status_code.text().to_string(),
                    }
                }
            }
            Ok(Ok((_, None))) => Input::NoResponse,
            Ok(Err(e)) => {
                let detail = e.to_string();
                if detail.to_ascii_lowercase().contains("timeout") {
                    Input::NoResponse
                } else {
                    Input::NetworkFailed { detail }
                }
            }
            Err(e) => Input::NetworkFailed {
                detail: e.to_string(),
            },
        }
    }

    fn background_done(&mut self, done: Done) -> Input {
        match done {
            Done::Reinvite(result) => {
                let code = match result {
                    Ok(Some(resp)) => {
                        let code = resp.status_code.code();
                        if (200..300).contains(&code)
                            && let Some(answer) = body_text(&resp.body)
                            && let Err(e) = self.media.apply_answer(&answer)
                        {
                            tracing::info!(call = self.id.0, "unusable re-INVITE answer: {e}");
                        }
                        code
                    }
                    Ok(None) => 408,
                    Err(_) => 408,
                };
                Input::ReinviteDone { code }
            }
            Done::Refer(result) => Input::ReferAnswered {
                code: match result {
                    Ok(Some(resp)) => resp.status_code.code(),
                    _ => 408,
                },
            },
        }
    }

    async fn dialog_input(
        &mut self,
        state: DialogState,
        pending_reinvite: &mut Option<(TransactionHandle, Option<String>)>,
        pending_refer: &mut Option<TransactionHandle>,
    ) -> Option<Input> {
        match state {
            DialogState::Trying(_) => Some(Input::Provisional {
                code: 100,
                early_media: false,
            }),
            DialogState::Early(_, resp) => {
                let early_media = if let Some(sdp) = body_text(&resp.body) {
                    self.media.apply_answer(&sdp).is_ok()
                } else {
                    false
                };
                Some(Input::Provisional {
                    code: resp.status_code.code(),
                    early_media,
                })
            }
            DialogState::Confirmed(_, _) => {
                if self.call.direction() == CallDirection::Incoming
                    && self.call.phase() == CallPhase::Connecting
                {
                    if self.offered_in_200
                        && let Some(ack) = self.dialog.last_remote_ack()
                        && let Some(answer) = body_text(&ack.body)
                        && let Err(e) = self.media.apply_answer(&answer)
                    {
                        tracing::info!(call = self.id.0, "unusable SDP answer in the ACK: {e}");
                    }
                    let session_timer = self.incoming_session.map(|(secs, uas)| SessionTimer {
                        interval: std::time::Duration::from_secs(secs),
                        we_refresh: uas,
                    });
                    Some(Input::Acked { session_timer })
                } else {
                    None
                }
            }
            DialogState::Updated(_, req, handle) => {
                if req.method == Method::Invite || !req.body.is_empty() {
                    let offer = body_text(&req.body);
                    let offered = offer
                        .as_deref()
                        .and_then(|o| sdp::offered_direction(o).ok())
                        .unwrap_or(MediaDirection::SendRecv);
                    *pending_reinvite = Some((handle, offer));
                    Some(Input::RemoteReinvite { offered })
                } else {
                    // An UPDATE without SDP only refreshes the session.
                    let _ = handle.reply(StatusCode::OK).await;
                    None
                }
            }
            DialogState::Info(_, req, handle) => {
                let digit = info_digit(&req.body);
                let code = if digit.is_some() || req.body.is_empty() {
                    StatusCode::OK
                } else {
                    StatusCode::UnsupportedMediaType
                };
                let _ = handle.reply(code).await;
                digit.map(|digit| Input::DtmfReceived { digit })
            }
            DialogState::Refer(_, req, handle) => match refer_target(&req) {
                Some(target) => {
                    *pending_refer = Some(handle);
                    Some(Input::ReferRequested { target })
                }
                None => {
                    let _ = handle.reply(StatusCode::BadRequest).await;
                    None
                }
            },
            DialogState::Notify(_, req, handle) => {
                let _ = handle.reply(StatusCode::OK).await;
                sipfrag_status(&req.body).map(|status| Input::TransferNotify { status })
            }
            DialogState::Options(_, _, handle)
            | DialogState::Message(_, _, handle)
            | DialogState::Publish(_, _, handle) => {
                let _ = handle.reply(StatusCode::OK).await;
                None
            }
            DialogState::Terminated(_, reason) => Some(match reason {
                TerminatedReason::UacBye | TerminatedReason::UasBye => Input::RemoteBye,
                TerminatedReason::UacCancel => Input::RemoteCancel,
                TerminatedReason::Timeout => Input::NoResponse,
                TerminatedReason::UacBusy | TerminatedReason::UasBusy => Input::Refused {
                    code: 486,
                    reason: "Busy Here".into(),
                },
                TerminatedReason::UasDecline => Input::Refused {
                    code: 603,
                    reason: "Decline".into(),
                },
                // A challenge we are about to answer (see `answer_challenge`) ends nothing.
                TerminatedReason::ProxyAuthRequired if self.auth_retry.is_some() => return None,
                TerminatedReason::ProxyAuthRequired => Input::Refused {
                    code: 407,
                    reason: "Proxy Authentication Required".into(),
                },
                TerminatedReason::ProxyError(code)
                | TerminatedReason::UacOther(code)
                | TerminatedReason::UasOther(code) => Input::Refused {
                    code: code.code(),
                    reason: code.text().to_string(),
                },
            }),
            DialogState::Calling(_) | DialogState::WaitAck(_, _) => None,
        }
    }

    /// Carries out one action; true when the call is over.
    async fn act(
        &mut self,
        action: Action,
        done: &mpsc::UnboundedSender<Done>,
        timers: &mut HashMap<TimerKind, tokio::time::Instant>,
        pending_reinvite: &mut Option<(TransactionHandle, Option<String>)>,
        pending_refer: &mut Option<TransactionHandle>,
    ) -> bool {
        let id = self.id;
        match action {
            Action::Phase(phase) => self.emit(CallEvent::State { call: id, phase }),
            Action::HoldChanged { local, remote } => {
                self.emit(CallEvent::Hold {
                    call: id,
                    local,
                    remote,
                });
            }
            Action::SendCancel => {
                let d = self.dialog.clone();
                tokio::spawn(async move {
                    if let Err(e) = d.cancel().await {
                        tracing::debug!("CANCEL failed: {e}");
                    }
                });
            }
            Action::SendBye => {
                let d = self.dialog.clone();
                tokio::spawn(async move {
                    if let Err(e) = d.bye().await {
                        tracing::debug!("BYE failed: {e}");
                    }
                });
            }
            Action::AcceptInvite => {
                let body = self.answer_body.take();
                let mut headers = vec![sdp_header()];
                if let Some((secs, uas)) = self.incoming_session {
                    let refresher = if uas { "uas" } else { "uac" };
                    headers.push(Header::Other(
                        "Session-Expires".into(),
                        format!("{secs};refresher={refresher}"),
                    ));
                    headers.push(Header::Other("Require".into(), "timer".into()));
                }
                if let Err(e) = self
                    .dialog
                    .accept(Some(headers), body.map(String::into_bytes))
                {
                    tracing::warn!(call = id.0, "could not answer: {e}");
                }
            }
            Action::Reply { code } => {
                // rsipstack answers a CANCELled INVITE with 487 itself.
                if code != 487
                    && let Err(e) = self.dialog.reject(Some(StatusCode::from(code)), None)
                {
                    tracing::debug!(call = id.0, "could not reject: {e}");
                }
            }
            Action::SendReinvite { direction } => {
                let offer = self.media.create_offer(direction);
                let d = self.dialog.clone();
                let done = done.clone();
                tokio::spawn(async move {
                    let r = d
                        .reinvite(Some(vec![sdp_header()]), Some(offer.into_bytes()))
                        .await
                        .map_err(|e| e.to_string());
                    let _ = done.send(Done::Reinvite(r));
                });
            }
            Action::AnswerReinvite { code, direction } => {
                if let Some((handle, offer)) = pending_reinvite.take() {
                    if code == 200 {
                        let local_hold = self.call.is_on_hold();
                        let body = match offer {
                            Some(o) => self.media.answer_offer(&o, local_hold).ok(),
                            None => Some(
                                self.media
                                    .create_offer(direction.unwrap_or(MediaDirection::SendRecv)),
                            ),
                        };
                        let status = if body.is_some() {
                            StatusCode::OK
                        } else {
                            StatusCode::NotAcceptableHere
                        };
                        let _ = handle
                            .respond(
                                status,
                                Some(vec![sdp_header()]),
                                body.map(String::into_bytes),
                            )
                            .await;
                    } else {
                        let _ = handle.reply(StatusCode::from(code)).await;
                    }
                }
            }
            Action::SetMediaDirection(direction) => self.media.set_direction(direction),
            Action::SendDtmf(digit) => {
                if self.media.send_dtmf(digit) {
                    return false;
                }
                // One INFO at a time, in order: a second one sent before the first is answered
                // can overtake it and the far end refuses the older CSeq (RFC 3261 §12.2.2).
                let sender = self.info_digits.get_or_insert_with(|| {
                    let (tx, mut rx) = mpsc::unbounded_channel::<char>();
                    let d = self.dialog.clone();
                    tokio::spawn(async move {
                        while let Some(digit) = rx.recv().await {
                            let body = format!("Signal={digit}\r\nDuration=160\r\n");
                            let headers =
                                vec![Header::ContentType("application/dtmf-relay".into())];
                            if let Err(e) = d.info(Some(headers), Some(body.into_bytes())).await {
                                tracing::debug!("INFO failed: {e}");
                            }
                        }
                    });
                    tx
                });
                let _ = sender.send(digit);
            }
            Action::Dtmf(digit) => self.emit(CallEvent::Dtmf { call: id, digit }),
            Action::SendRefer { target } => {
                let d = self.dialog.clone();
                let done = done.clone();
                tokio::spawn(async move {
                    let r = if target.contains('?') {
                        // An attended transfer's target carries `?Replaces=…`, escaped by us:
                        // sent as written.
                        d.refer(format!("<{target}>"), None, None)
                            .await
                            .map_err(|e| e.to_string())
                    } else {
                        match crate::util::parse_uri(&target) {
                            Ok(uri) => d.refer(uri, None, None).await.map_err(|e| e.to_string()),
                            Err(e) => Err(e.to_string()),
                        }
                    };
                    let _ = done.send(Done::Refer(r));
                });
            }
            Action::AcceptRefer => {
                if let Some(handle) = pending_refer.take() {
                    let _ = handle.reply(StatusCode::Accepted).await;
                }
            }
            Action::PlaceTransferCall { target } => {
                self.emit(CallEvent::TransferRequested { call: id, target });
            }
            Action::NotifyTransfer { status } => {
                let d = self.dialog.clone();
                tokio::spawn(async move {
                    let state = if status < 200 {
                        "active;expires=60"
                    } else {
                        "terminated;reason=noresource"
                    };
                    if let Err(e) = d.notify_refer(StatusCode::from(status), state).await {
                        tracing::debug!("NOTIFY failed: {e}");
                    }
                });
            }
            Action::TransferProgress { status } => {
                self.emit(CallEvent::Transfer { call: id, status });
            }
            Action::ArmTimer { kind, after } => {
                timers.insert(kind, tokio::time::Instant::now() + after);
            }
            Action::CancelTimer(kind) => {
                timers.remove(&kind);
            }
            Action::Ended { cause, talk_time } => {
                let media = self.media.stop();
                self.emit(CallEvent::CallEnded {
                    call: id,
                    cause,
                    talk_secs: talk_time.as_secs_f64(),
                    media,
                });
                return true;
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_bodies_give_digits() {
        assert_eq!(info_digit(b"Signal=5\r\nDuration=160\r\n"), Some('5'));
        assert_eq!(info_digit(b"Signal= #\r\n"), Some('#'));
        assert_eq!(info_digit(b"Signal=11\r\n"), Some('#'));
        assert_eq!(info_digit(b"7"), Some('7'));
        assert_eq!(info_digit(b"Signal=hello"), None);
        assert_eq!(info_digit(b""), None);
    }

    #[test]
    fn sipfrag_and_refer_to_are_read() {
        assert_eq!(sipfrag_status(b"SIP/2.0 180 Ringing\r\n"), Some(180));
        assert_eq!(sipfrag_status(b"garbage"), None);
    }
}
