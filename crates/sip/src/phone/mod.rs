//! A line: one account's SIP endpoint with its registration, its incoming calls (through the
//! ghost-call filter) and its outgoing calls. Each call runs in its own task ([`call_task`]).

mod call_task;
mod target;

use target::dial_uri;
pub use target::without_visual_separators;
mod transfer;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use rsipstack::dialog::dialog::Dialog;
use rsipstack::dialog::dialog_layer::DialogLayer;
use rsipstack::dialog::invitation::InviteOption;
use rsipstack::dialog::invite_dialog::InviteDialog;
use rsipstack::sip::{Header, HeadersExt, Method, StatusCode, Uri};
use rsipstack::transaction::TransactionReceiver;
use rsipstack::transaction::transaction::Transaction;
use serde::Serialize;
use siperb_media::{MediaSession, MediaStats};
use tokio::sync::mpsc;

use crate::call::{
    Call, CallConfig, CallDirection, CallPhase, EndCause, GhostFilter, GhostVerdict, Input,
    InviteOrigin,
};
use call_task::{CallTask, Command};

mod echo;
mod media;
pub use echo::{ECHO_DELAY, ECHO_TARGET, is_echo};
use media::media_control;
pub use media::{AudioSource, MediaControl, MediaFactory, RtpFactory};

/// Our handle on one call, unique for the life of the process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize, specta::Type)]
pub struct CallRef(pub u64);

static NEXT_CALL: AtomicU64 = AtomicU64::new(1);

/// The methods our calls handle (Allow on INVITEs and OPTIONS answers).
const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, REFER, NOTIFY";

/// What happens to calls, in the order it happens.
#[derive(Debug, Clone, PartialEq, Serialize, specta::Type)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum CallEvent {
    /// A call rings here. `waiting` when another call is already up (ring softly).
    IncomingCall {
        call: CallRef,
        from: String,
        to: String,
        waiting: bool,
    },
    /// An outgoing call was started.
    OutgoingCall {
        call: CallRef,
        to: String,
    },
    #[serde(rename = "call_state")]
    State {
        call: CallRef,
        #[serde(rename = "state")]
        phase: CallPhase,
    },
    #[serde(rename = "hold")]
    Hold {
        call: CallRef,
        local: bool,
        remote: bool,
    },
    Dtmf {
        call: CallRef,
        digit: char,
    },
    /// Transfer progress as a SIP status (100 trying … 200 done, ≥300 failed).
    Transfer {
        call: CallRef,
        status: u16,
    },
    /// The far end asked us to call `target` for it (blind or attended transfer).
    TransferRequested {
        call: CallRef,
        target: String,
    },
    /// An INVITE with Replaces took over `replaced` (attended transfer to us): `call` is the
    /// new call, answered at once without ringing; `replaced` ends with cause `replaced`.
    CallReplaced {
        call: CallRef,
        replaced: CallRef,
        from: String,
    },
    /// A scanner-style INVITE was refused without ringing.
    GhostCallBlocked {
        from: String,
        reason: String,
    },
    /// Every second while the call is up: packets, loss, jitter, RTT, jitter-buffer delay and
    /// the MOS estimate.
    Stats {
        call: CallRef,
        #[serde(flatten)]
        stats: siperb_media::rtp::CallStats,
    },
    /// The call's audio moved to another device (a headset came, the device in use went
    /// away, the chosen one came back).
    AudioDevice {
        call: CallRef,
        #[serde(flatten)]
        route: siperb_audio::AudioRoute,
    },
    CallEnded {
        call: CallRef,
        #[serde(flatten)]
        cause: EndCause,
        talk_secs: f64,
        media: MediaStats,
    },
}

impl CallEvent {
    pub fn call(&self) -> Option<CallRef> {
        match self {
            Self::IncomingCall { call, .. }
            | Self::OutgoingCall { call, .. }
            | Self::State { call, .. }
            | Self::Hold { call, .. }
            | Self::Dtmf { call, .. }
            | Self::Transfer { call, .. }
            | Self::TransferRequested { call, .. }
            | Self::CallReplaced { call, .. }
            | Self::Stats { call, .. }
            | Self::AudioDevice { call, .. }
            | Self::CallEnded { call, .. } => Some(*call),
            Self::GhostCallBlocked { .. } => None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PhoneError {
    #[error("not a SIP address or number: {0}")]
    BadTarget(String),
    #[error("no such call")]
    NoSuchCall,
    #[error("{0}")]
    NotNow(&'static str),
    #[error("cannot open the media port: {0}")]
    Media(String),
    #[error("cannot start the call: {0}")]
    Sip(String),
}

/// What a line needs to take and place calls.
pub struct LineConfig {
    /// Our user (Contact user part, ghost filter).
    pub user: String,
    /// Our address of record, `sip:user@domain`.
    pub aor: String,
    pub display_name: Option<String>,
    /// Where calls go and come from: the registrar/outbound proxy; `None` for a local account.
    pub proxy: Option<SocketAddr>,
    /// Digest credentials for INVITEs (407).
    pub credential: Option<(String, String)>,
    pub ghost_filter: bool,
    pub do_not_disturb: bool,
    pub media: Arc<dyn MediaFactory>,
    /// The account's codec order and SRTP choice.
    pub media_settings: crate::account::MediaSettings,
}

/// What the line knows of one of its calls, from the call's own events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, specta::Type)]
pub struct CallStatus {
    pub direction: CallDirection,
    pub phase: CallPhase,
    /// We put it on hold.
    pub on_hold: bool,
}

struct Inner {
    cfg: LineConfig,
    /// Do not disturb: incoming calls are turned away busy (486) without ringing. Starts as
    /// `cfg.do_not_disturb`; the user switches it at any time.
    dnd: AtomicBool,
    layer: Arc<DialogLayer>,
    local: SocketAddr,
    contact: Arc<Mutex<crate::ua::ContactAddr>>,
    /// The server the registration currently uses, and all of the account's servers.
    route: Arc<Mutex<crate::ua::Route>>,
    calls: Mutex<HashMap<CallRef, mpsc::Sender<Command>>>,
    /// New call → the call whose REFER it serves.
    transfers: Mutex<HashMap<CallRef, CallRef>>,
    /// Each call's dialog (kept current by its task), to find the one a Replaces names and to
    /// name ours in an attended transfer.
    dialogs: Arc<Mutex<HashMap<CallRef, InviteDialog>>>,
    status: Mutex<HashMap<CallRef, CallStatus>>,
    /// Call we attended-transferred → the consultation call to hang up once it succeeded.
    consultations: Mutex<HashMap<CallRef, (Weak<Inner>, CallRef)>>,
    events: mpsc::UnboundedSender<CallEvent>,
    relay: mpsc::UnboundedSender<CallEvent>,
}

/// A line's calls. Cheap to clone.
#[derive(Clone)]
pub struct Line {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Line {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Line")
            .field("local", &self.inner.local)
            .field("user", &self.inner.cfg.user)
            .finish()
    }
}

impl Line {
    /// Switches do not disturb: while on, incoming calls are turned away busy without ringing.
    pub fn set_do_not_disturb(&self, on: bool) {
        self.inner.dnd.store(on, Ordering::Relaxed);
    }

    /// Starts taking calls from `incoming` (the endpoint's new transactions); call events go
    /// to `events`.
    pub(crate) fn start(
        cfg: LineConfig,
        layer: Arc<DialogLayer>,
        local: SocketAddr,
        contact: Arc<Mutex<crate::ua::ContactAddr>>,
        route: Arc<Mutex<crate::ua::Route>>,
        incoming: TransactionReceiver,
        events: mpsc::UnboundedSender<CallEvent>,
    ) -> Self {
        let (relay, relay_rx) = mpsc::unbounded_channel();
        let line = Line {
            inner: Arc::new(Inner {
                dnd: AtomicBool::new(cfg.do_not_disturb),
                cfg,
                layer,
                local,
                contact,
                route,
                calls: Mutex::new(HashMap::new()),
                transfers: Mutex::new(HashMap::new()),
                dialogs: Arc::new(Mutex::new(HashMap::new())),
                status: Mutex::new(HashMap::new()),
                consultations: Mutex::new(HashMap::new()),
                events,
                relay,
            }),
        };
        tokio::spawn(line.clone().serve(incoming));
        tokio::spawn(line.clone().relay_events(relay_rx));
        line
    }

    /// Where calls go first: the server the registration uses now (it moves on when one
    /// fails), else the configured one; `None` for a local account.
    fn next_hop(&self) -> Option<SocketAddr> {
        let current = self.inner.route.lock().ok().and_then(|r| r.next_hop);
        current.or(self.inner.cfg.proxy)
    }

    /// Every server incoming calls may come from: all of the account's located servers.
    fn servers(&self) -> Vec<SocketAddr> {
        let mut servers: Vec<SocketAddr> = self.inner.cfg.proxy.into_iter().collect();
        if let Ok(r) = self.inner.route.lock() {
            servers.extend(
                r.servers
                    .iter()
                    .filter(|s| Some(**s) != self.inner.cfg.proxy),
            );
        }
        servers
    }

    /// Our credentials for rsipstack to answer a 401/407 to a request inside an incoming
    /// call (a BYE or re-INVITE a proxy challenges). rsipstack only computes MD5 digests there;
    /// see `call_task::answer_challenge` for the INVITE itself, which we answer ourselves.
    fn in_dialog_credential(&self) -> Option<rsipstack::dialog::authenticate::Credential> {
        self.inner.cfg.credential.as_ref().map(|(user, password)| {
            rsipstack::dialog::authenticate::Credential {
                username: user.clone(),
                password: password.clone(),
                realm: None,
                auth_username: None,
            }
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.inner.local
    }

    pub fn active_calls(&self) -> usize {
        self.inner.calls.lock().map_or(0, |c| c.len())
    }

    /// Sends a user action to a call.
    pub async fn command(&self, call: CallRef, input: Input) -> Result<(), PhoneError> {
        self.send_to(call, Command::User(input)).await
    }

    /// Mutes or records a call; for a stopped recording, the seconds it holds.
    pub async fn media_control(
        &self,
        call: CallRef,
        control: MediaControl,
    ) -> Result<Option<f64>, PhoneError> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.send_to(call, Command::Media(control, reply)).await?;
        answer
            .await
            .map_err(|_| PhoneError::NoSuchCall)?
            .map_err(PhoneError::Media)
    }

    /// The line's calls and what they are doing.
    pub fn calls(&self) -> Vec<(CallRef, CallStatus)> {
        let mut calls: Vec<_> = self
            .inner
            .status
            .lock()
            .map(|s| s.iter().map(|(c, st)| (*c, *st)).collect())
            .unwrap_or_default();
        calls.sort_by_key(|(c, _)| c.0);
        calls
    }

    pub fn status_of(&self, call: CallRef) -> Option<CallStatus> {
        self.inner.status.lock().ok()?.get(&call).copied()
    }

    /// Puts every established call of this line but `except` on hold (answering or placing
    /// another call, swapping).
    pub async fn hold_others(&self, except: Option<CallRef>) {
        for (call, status) in self.calls() {
            if Some(call) != except && status.phase == CallPhase::Established && !status.on_hold {
                let _ = self.command(call, Input::Hold).await;
            }
        }
    }

    /// Hands `command` to the task of `call`, if the call is still going.
    async fn send_to(&self, call: CallRef, command: Command) -> Result<(), PhoneError> {
        let sender = self
            .inner
            .calls
            .lock()
            .ok()
            .and_then(|c| c.get(&call).cloned())
            .ok_or(PhoneError::NoSuchCall)?;
        sender
            .send(command)
            .await
            .map_err(|_| PhoneError::NoSuchCall)
    }

    /// Where peers reach us now: the UDP socket, or the account's TCP/TLS flow.
    fn contact_addr(&self) -> crate::ua::ContactAddr {
        self.inner
            .contact
            .lock()
            .map(|c| *c)
            .unwrap_or(crate::ua::ContactAddr {
                addr: self.inner.local,
                transport: None,
            })
    }

    fn contact(&self) -> Result<Uri, PhoneError> {
        let text = self.contact_addr().uri(&self.inner.cfg.user);
        crate::util::parse_uri(&text).map_err(|e| PhoneError::Sip(e.to_string()))
    }

    /// The full SIP URI for what the user typed: a SIP URI, `tel:` number, `user@host`, or a
    /// bare number/user at our own domain.
    pub fn target_uri(&self, target: &str) -> Result<String, PhoneError> {
        let domain = self
            .inner
            .cfg
            .aor
            .split_once('@')
            .map(|(_, d)| d.to_owned())
            .unwrap_or_default();
        let uri =
            dial_uri(target, &domain).ok_or_else(|| PhoneError::BadTarget(target.to_owned()))?;
        crate::util::parse_uri(&uri).map_err(|_| PhoneError::BadTarget(target.to_owned()))?;
        Ok(uri)
    }

    /// Places a call to `target` (`echo` is the echo test: no server involved).
    pub fn dial(&self, target: &str) -> Result<CallRef, PhoneError> {
        if is_echo(target) {
            return self.dial_echo();
        }
        let inner = &self.inner;
        // A REFER's target may carry headers for the new INVITE: we honour Replaces (attended
        // transfer, RFC 5589) and nothing else.
        let (target, uri_headers) = crate::replaces::split_uri_headers(target);
        let replaces = uri_headers
            .into_iter()
            .find(|(name, _)| name.eq_ignore_ascii_case("Replaces"))
            .map(|(_, value)| value);
        let uri = self.target_uri(&target)?;
        let callee =
            crate::util::parse_uri(&uri).map_err(|e| PhoneError::BadTarget(e.to_string()))?;
        let caller =
            crate::util::parse_uri(&inner.cfg.aor).map_err(|e| PhoneError::Sip(e.to_string()))?;
        let mut media = inner
            .cfg
            .media
            .create(inner.local.ip(), &inner.cfg.media_settings)?;
        let offer = media.create_offer(siperb_media::Direction::SendRecv);
        let (state_tx, state_rx) = inner.layer.new_dialog_state_channel();
        let opt = InviteOption {
            caller_display_name: inner.cfg.display_name.clone(),
            caller,
            callee,
            destination: self.next_hop().map(|p| rsipstack::transport::SipAddr {
                r#type: Some(match self.contact_addr().transport {
                    Some("tls") => rsipstack::sip::transport::Transport::Tls,
                    Some(_) => rsipstack::sip::transport::Transport::Tcp,
                    None => rsipstack::sip::transport::Transport::Udp,
                }),
                addr: p.into(),
            }),
            content_type: Some("application/sdp".into()),
            offer: Some(offer.into_bytes()),
            contact: self.contact()?,
            // Challenges are answered by the call task with our digest (MD5 and SHA-256).
            credential: None,
            headers: Some(
                [
                    Header::Supported("replaces, timer".into()),
                    Header::Allow(ALLOW.into()),
                ]
                .into_iter()
                .chain(replaces.map(|r| Header::Replaces(r.into())))
                .collect(),
            ),
            ..Default::default()
        };
        let auth_retry =
            inner
                .cfg
                .credential
                .as_ref()
                .map(|(user, password)| call_task::InviteAuth {
                    option: opt.clone(),
                    user: user.clone(),
                    password: password.clone(),
                });
        let (dialog, invite) = inner
            .layer
            .do_invite_async(opt, state_tx)
            .map_err(|e| PhoneError::Sip(e.to_string()))?;
        let call = CallRef(NEXT_CALL.fetch_add(1, Ordering::Relaxed));
        let mut cfg = CallConfig::new(CallDirection::Outgoing);
        cfg.seed = seed(call);
        let (machine, first) = Call::outgoing(cfg);
        let _ = inner.relay.send(CallEvent::OutgoingCall { call, to: uri });
        self.spawn_call(
            call,
            machine,
            first,
            dialog,
            media,
            state_rx,
            Some(invite),
            None,
            None,
            auth_retry,
        );
        Ok(call)
    }

    #[allow(clippy::too_many_arguments)]
    fn spawn_call(
        &self,
        id: CallRef,
        call: Call,
        first: Vec<crate::call::Action>,
        dialog: rsipstack::dialog::invite_dialog::InviteDialog,
        media: Box<dyn MediaSession>,
        states: rsipstack::dialog::dialog::DialogStateReceiver,
        invite: Option<
            rsipstack::platform::JoinHandle<rsipstack::dialog::invitation::InviteAsyncResult>,
        >,
        remote_offer: Option<String>,
        incoming_session: Option<(u64, bool)>,
        auth_retry: Option<call_task::InviteAuth>,
    ) {
        let (commands_tx, commands) = mpsc::channel(16);
        if let Ok(mut calls) = self.inner.calls.lock() {
            calls.insert(id, commands_tx);
        }
        if let Ok(mut dialogs) = self.inner.dialogs.lock() {
            dialogs.insert(id, dialog.clone());
        }
        if let Ok(mut status) = self.inner.status.lock() {
            status.insert(
                id,
                CallStatus {
                    direction: call.direction(),
                    phase: call.phase(),
                    on_hold: false,
                },
            );
        }
        let task = CallTask {
            id,
            call,
            dialog,
            layer: self.inner.layer.clone(),
            dialogs: self.inner.dialogs.clone(),
            media,
            states,
            commands,
            events: self.inner.relay.clone(),
            invite,
            remote_offer,
            answer_body: None,
            offered_in_200: false,
            incoming_session,
            auth_retry,
            after_input: None,
            info_digits: None,
        };
        tokio::spawn(task.run(first));
    }

    async fn serve(self, mut incoming: TransactionReceiver) {
        while let Some(mut tx) = incoming.recv().await {
            let to_tag = tx
                .original
                .to_header()
                .ok()
                .and_then(|t| t.tag().ok().flatten())
                .is_some();
            match tx.original.method {
                Method::Invite if !to_tag => self.incoming_call(tx).await,
                Method::Options if !to_tag => {
                    let allow = Header::Allow(ALLOW.into());
                    let accept = Header::Accept("application/sdp".into());
                    let _ = tx
                        .reply_with(StatusCode::OK, vec![allow, accept], None)
                        .await;
                }
                _ => match self.inner.layer.match_dialog(&tx) {
                    Some(Dialog::Invite(mut d)) => {
                        tokio::spawn(async move {
                            wait_for_ack(&d, &tx.original.method).await;
                            if let Err(e) = d.handle(&mut tx).await {
                                tracing::debug!("in-dialog request: {e}");
                            }
                        });
                    }
                    _ if tx.original.method == Method::Ack => {}
                    _ => {
                        let _ = tx.reply(StatusCode::CallTransactionDoesNotExist).await;
                    }
                },
            }
        }
    }

    async fn incoming_call(&self, mut tx: Transaction) {
        let inner = &self.inner;
        let source = tx
            .connection
            .as_ref()
            .and_then(|c| c.get_remote_addr())
            .and_then(|a| a.get_socketaddr().ok())
            .unwrap_or_else(|| ([0, 0, 0, 0], 0).into());
        let user = tx.original.uri.user().map(str::to_owned);
        let filter = GhostFilter {
            enabled: inner.cfg.ghost_filter,
            trusted_sources: self.servers(),
            contact_user: inner.cfg.user.clone(),
        };
        let from = tx
            .original
            .from_header()
            .map(|f| f.value().to_string())
            .unwrap_or_default();
        if let GhostVerdict::Refuse { code, why } = filter.check(&InviteOrigin {
            source,
            request_user: user.as_deref(),
        }) {
            tracing::warn!(%source, "ghost call blocked: {why}");
            let _ = inner.relay.send(CallEvent::GhostCallBlocked {
                from: source.to_string(),
                reason: why,
            });
            let _ = tx.reply(StatusCode::from(code)).await;
            return;
        }
        let replacing = match crate::util::header_value(&tx.original.headers, "Replaces") {
            None => None,
            Some(value) => match crate::replaces::Replaces::parse(&value)
                .ok_or(400)
                .and_then(|r| self.replaced_call(&r))
            {
                Ok(call) => Some(call),
                Err(code) => {
                    tracing::info!("INVITE with Replaces: {value} refused {code}");
                    let _ = tx.reply(StatusCode::from(code)).await;
                    return;
                }
            },
        };
        let media = match inner
            .cfg
            .media
            .create(inner.local.ip(), &inner.cfg.media_settings)
        {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!("no media for an incoming call: {e}");
                let _ = tx.reply(StatusCode::ServerInternalError).await;
                return;
            }
        };
        let (state_tx, state_rx) = inner.layer.new_dialog_state_channel();
        let dialog = match inner.layer.get_or_create_server_invite(
            &tx,
            state_tx,
            self.in_dialog_credential(),
            self.contact().ok(),
        ) {
            Ok(d) => d,
            Err(e) => {
                tracing::info!("cannot take an incoming call: {e}");
                let _ = tx.reply(StatusCode::ServerInternalError).await;
                return;
            }
        };
        let remote_offer = (!tx.original.body.is_empty())
            .then(|| String::from_utf8_lossy(&tx.original.body).into_owned());
        let incoming_session = call_task::session_expires(&tx.original.headers)
            .map(|(secs, uas)| (secs, uas == Some(true)));
        let to = tx.original.uri.to_string();
        let call = CallRef(NEXT_CALL.fetch_add(1, Ordering::Relaxed));
        let waiting = self.active_calls() > 0;
        let mut cfg = CallConfig::new(CallDirection::Incoming);
        cfg.seed = seed(call);
        cfg.do_not_disturb = inner.dnd.load(Ordering::Relaxed);
        let (machine, first) = Call::incoming(cfg);
        let mut handling = dialog.clone();
        tokio::spawn(async move {
            if let Err(e) = handling.handle(&mut tx).await {
                tracing::debug!("incoming INVITE: {e}");
            }
        });
        if let Some(replaced) = replacing {
            // Attended transfer to us: the user already talks to this party's transferor, so
            // the new call is answered at once (no ringing) and the old one hung up.
            let _ = inner.relay.send(CallEvent::CallReplaced {
                call,
                replaced,
                from,
            });
        } else if !machine.is_ended() {
            if let Err(e) = dialog.ringing(None, None) {
                tracing::debug!("180 Ringing: {e}");
            }
            let _ = inner.relay.send(CallEvent::IncomingCall {
                call,
                from,
                to,
                waiting,
            });
        }
        self.spawn_call(
            call,
            machine,
            first,
            dialog,
            media,
            state_rx,
            None,
            remote_offer,
            incoming_session,
            None,
        );
        if let Some(replaced) = replacing {
            let _ = self.command(call, Input::Answer).await;
            let _ = self.command(replaced, Input::Replaced).await;
        }
    }

    /// Passes call events on, and runs transfers: a call we place for a REFER reports its
    /// progress to the call that received the REFER.
    async fn relay_events(self, mut rx: mpsc::UnboundedReceiver<CallEvent>) {
        while let Some(event) = rx.recv().await {
            match &event {
                CallEvent::TransferRequested { call, target } => match self.dial(target) {
                    Ok(new_call) => {
                        if let Ok(mut t) = self.inner.transfers.lock() {
                            t.insert(new_call, *call);
                        }
                    }
                    Err(e) => {
                        tracing::info!("cannot place the transfer call: {e}");
                        self.transfer_progress(*call, 400).await;
                    }
                },
                CallEvent::State { call, phase } => {
                    if let Ok(mut s) = self.inner.status.lock()
                        && let Some(st) = s.get_mut(call)
                    {
                        st.phase = *phase;
                    }
                    let status = match phase {
                        CallPhase::Ringing => Some(180),
                        CallPhase::EarlyMedia => Some(183),
                        CallPhase::Established => Some(200),
                        _ => None,
                    };
                    if let Some(status) = status
                        && let Some(original) = self.transfer_of(*call, status >= 200)
                    {
                        self.transfer_progress(original, status).await;
                    }
                }
                CallEvent::Hold { call, local, .. } => {
                    if let Ok(mut s) = self.inner.status.lock()
                        && let Some(st) = s.get_mut(call)
                    {
                        st.on_hold = *local;
                    }
                }
                CallEvent::Transfer { call, status } if *status >= 300 => {
                    // A failed attended transfer leaves both calls as they were.
                    if let Ok(mut c) = self.inner.consultations.lock() {
                        c.remove(call);
                    }
                }
                CallEvent::CallEnded { call, cause, .. } => {
                    if let Ok(mut calls) = self.inner.calls.lock() {
                        calls.remove(call);
                    }
                    if let Ok(mut s) = self.inner.status.lock() {
                        s.remove(call);
                    }
                    let consultation = self
                        .inner
                        .consultations
                        .lock()
                        .ok()
                        .and_then(|mut c| c.remove(call));
                    if let Some((line, consultation)) = consultation
                        && *cause == EndCause::Transferred
                        && let Some(inner) = line.upgrade()
                    {
                        // The target took our consultation call over (it may already have
                        // sent its BYE): end it as transferred too.
                        let line = Line { inner };
                        let _ = line.command(consultation, Input::HandedOver).await;
                    }
                    if let Some(original) = self.transfer_of(*call, true) {
                        let status = match cause {
                            EndCause::Refused { code, .. } => *code,
                            EndCause::NoAnswer => 408,
                            _ => 487,
                        };
                        self.transfer_progress(original, status).await;
                    }
                }
                _ => {}
            }
            let _ = self.inner.events.send(event);
        }
    }
}

/// rsipstack silently ignores (never answers) an INFO, UPDATE, REFER… that reaches a dialog
/// which is not yet confirmed, although the dialog exists from the 2xx on (RFC 3261 §12.1.1).
/// A caller sending DTMF right after its ACK can overtake it, and the digit would be lost for
/// good (retransmissions hit the same silent transaction). Worse, rsipstack queues our 2xx for
/// sending *before* it records that the dialog waits for the ACK, so under load a request can
/// arrive while the dialog still looks unanswered. So such a request waits here until the
/// dialog is confirmed (or gone), at most 64×T1.
async fn wait_for_ack(dialog: &rsipstack::dialog::invite_dialog::InviteDialog, method: &Method) {
    if matches!(
        method,
        Method::Ack | Method::Bye | Method::Cancel | Method::PRack
    ) {
        return;
    }
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(32);
    loop {
        let state = dialog.state();
        if state.is_confirmed() || state.is_terminated() || tokio::time::Instant::now() >= deadline
        {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

fn seed(call: CallRef) -> u64 {
    crate::random_seed() ^ call.0.wrapping_mul(0x9e37_79b9_7f4a_7c15)
}
