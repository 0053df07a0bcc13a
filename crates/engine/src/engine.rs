use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use siperb_sip::call::Input as CallInput;
use siperb_sip::dns::DnsResolver;
use siperb_sip::phone::{
    CallEvent, CallRef, Line, LineConfig, MediaControl, MediaFactory, PhoneError, RtpFactory,
};
use siperb_sip::ua::SipEndpoint;
use siperb_sip::{AccountConfig, AccountId, RegistrationState};
use siperb_store::{Accounts, Profile, Settings, StoreError, ThemePreference};
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::registrations::Registrations;

mod accounts;
use crate::status::{AccountStatus, RegistrationSummary};
use crate::{EngineError, EngineEvent, EngineHandle, EngineStatus};

/// Commands travel to the engine task as these, each with its reply channel.
#[derive(Debug)]
pub(crate) enum Request {
    Status(oneshot::Sender<EngineStatus>),
    Settings(oneshot::Sender<Settings>),
    SetTheme {
        theme: ThemePreference,
        reply: oneshot::Sender<Result<Settings, EngineError>>,
    },
    SetAppPreferences {
        app: siperb_store::AppPreferences,
        reply: oneshot::Sender<Result<Settings, EngineError>>,
    },
    SetDevices {
        devices: siperb_audio::DeviceChoice,
        reply: oneshot::Sender<Result<Settings, EngineError>>,
    },
    SetRinger {
        ringer: siperb_audio::RingerSettings,
        reply: oneshot::Sender<Result<Settings, EngineError>>,
    },
    SetProcessing {
        processing: siperb_audio::ProcessingConfig,
        reply: oneshot::Sender<Result<Settings, EngineError>>,
    },
    /// For the call history's thread.
    History(crate::history::Op),
    /// The microphone level meter on or off.
    MicLevels {
        on: bool,
        reply: oneshot::Sender<Result<(), EngineError>>,
    },
    /// From the thread that opened the microphone for the meter.
    MicLevelsStarted {
        levels: siperb_audio::MicLevels,
        reply: oneshot::Sender<Result<(), EngineError>>,
    },
    /// Plays the test tone on the call speaker, or on the ringer device (at its volume).
    TestTone {
        ringer: bool,
        reply: oneshot::Sender<Result<(), EngineError>>,
    },
    /// `ringtone: None` gives the account the ringer's ringtone again.
    SetAccountRingtone {
        account: AccountId,
        ringtone: Option<siperb_audio::Ringtone>,
        reply: oneshot::Sender<Result<Settings, EngineError>>,
    },
    Accounts(oneshot::Sender<Vec<AccountConfig>>),
    AddAccount {
        account: AccountConfig,
        reply: oneshot::Sender<Result<(), EngineError>>,
    },
    RemoveAccount {
        id: AccountId,
        reply: oneshot::Sender<Result<(), EngineError>>,
    },
    /// Adds or replaces an account; a password goes to the keyring. Then registers it (when
    /// enabled and a password is known) or withdraws its registration (when disabled).
    SaveAccount {
        account: AccountConfig,
        password: Option<String>,
        reply: oneshot::Sender<Result<(), EngineError>>,
    },
    /// Registers every enabled account whose password is saved; the ids left out for want
    /// of one.
    SignInSaved(oneshot::Sender<Vec<AccountId>>),
    /// `password: None` takes the one stored in the OS keyring.
    Register {
        id: AccountId,
        password: Option<String>,
        reply: oneshot::Sender<Result<(), EngineError>>,
    },
    SetPassword {
        id: AccountId,
        password: String,
        reply: oneshot::Sender<Result<(), EngineError>>,
    },
    /// From a registration task.
    RegistrationChanged {
        id: AccountId,
        state: RegistrationState,
    },
    /// From a registration task: the account's line can take and place calls.
    LineReady {
        id: AccountId,
        line: Line,
    },
    /// From a line.
    CallEvent {
        id: AccountId,
        event: CallEvent,
    },
    Dial {
        account: Option<AccountId>,
        target: String,
        reply: oneshot::Sender<Result<CallRef, EngineError>>,
    },
    CallCommand {
        call: CallRef,
        input: CallInput,
        reply: oneshot::Sender<Result<(), EngineError>>,
    },
    AttendedTransfer {
        call: CallRef,
        to: CallRef,
        reply: oneshot::Sender<Result<(), EngineError>>,
    },
    Swap {
        call: CallRef,
        reply: oneshot::Sender<Result<(), EngineError>>,
    },
    MediaControl {
        call: CallRef,
        control: MediaControl,
        reply: oneshot::Sender<Result<Option<f64>, EngineError>>,
    },
    StartLocalLine {
        bind: SocketAddr,
        user: String,
        reply: oneshot::Sender<Result<SocketAddr, EngineError>>,
    },
    Shutdown(oneshot::Sender<()>),
}

/// The account id of the local line (no server: direct `sip:user@ip:port` calls).
pub const LOCAL_ACCOUNT: &str = "local";

/// The engine task's state. Only the task touches it.
#[derive(Debug)]
pub struct Engine {
    profile: Profile,
    /// Settings and accounts in the profile database.
    documents: Arc<siperb_store::ProfileDocuments>,
    settings: Settings,
    accounts: Accounts,
    states: std::collections::HashMap<AccountId, RegistrationState>,
    registrations: Registrations,
    lines: HashMap<AccountId, Line>,
    calls: HashMap<CallRef, AccountId>,
    local_endpoint: Option<SipEndpoint>,
    media: Arc<dyn MediaFactory>,
    /// When to ring and beep, and the thread that rings (none when ringing is off).
    alerting: crate::alerts::Alerting,
    alerts: Option<crate::alerts::AlertPlayer>,
    /// The call history, written on its own thread.
    history: crate::history::HistoryWriter,
    /// The microphone meter, while the Settings view shows it.
    mic_levels: Option<siperb_audio::MicLevels>,
    /// This run's ringer device and ringtone instead of the saved ones.
    run_ringer: crate::alerts::RunRinger,
    resolver: DnsResolver,
    inbox: mpsc::Sender<Request>,
    events: broadcast::Sender<EngineEvent>,
}

/// How the engine reaches the world; the defaults suit the app.
pub struct EngineOptions {
    /// The media backend calls use.
    pub media: Arc<dyn MediaFactory>,
    /// Name servers to ask instead of the system's (`ip:port`); empty for the system's.
    pub dns_servers: Vec<SocketAddr>,
    /// Ring for incoming calls (on by default).
    pub ring: bool,
    /// The ringer device for this run instead of the one in the settings.
    pub ringer_device: Option<siperb_audio::ChosenDevice>,
    /// The ringtone for this run instead of the ones in the settings.
    pub ringtone: Option<siperb_audio::Ringtone>,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            media: Arc::new(RtpFactory::devices()),
            dns_servers: Vec::new(),
            ring: true,
            ringer_device: None,
            ringtone: None,
        }
    }
}

impl std::fmt::Debug for EngineOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineOptions")
            .field("dns_servers", &self.dns_servers)
            .field("ring", &self.ring)
            .field("ringer_device", &self.ringer_device)
            .field("ringtone", &self.ringtone)
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// Opens the profile and starts the engine task on the current tokio runtime.
    ///
    /// A damaged settings or accounts file does not stop the phone: the store sets it aside
    /// (`*.json.damaged`, nothing deleted), the defaults apply and a warning is logged.
    pub fn start(profile: Profile) -> Result<(EngineHandle, JoinHandle<()>), EngineError> {
        Self::start_with(profile, EngineOptions::default())
    }

    /// Like [`start`](Self::start), with the media backend and name servers given.
    pub fn start_with(
        profile: Profile,
        options: EngineOptions,
    ) -> Result<(EngineHandle, JoinHandle<()>), EngineError> {
        let EngineOptions {
            media,
            dns_servers,
            ring,
            ringer_device,
            ringtone,
        } = options;
        let resolver = DnsResolver::with_servers(&dns_servers)
            .map_err(|e| EngineError::Network(format!("the name servers cannot be used: {e}")))?;
        profile.ensure()?;
        let documents = Arc::new(siperb_store::ProfileDocuments::open(&profile)?);
        let settings: Settings =
            set_aside_if_damaged(documents.load("settings", &profile.settings_file()))?;
        let accounts: Accounts =
            set_aside_if_damaged(documents.load("accounts", &profile.accounts_file()))?;
        let data_dir = profile.data_dir().to_path_buf();
        let region = siperb_store::numbers::default_region(settings.region.as_deref());
        let (requests, inbox) = mpsc::channel(64);
        let (events, _) = broadcast::channel(256);
        let engine = Engine {
            profile,
            documents,
            settings,
            accounts,
            states: Default::default(),
            registrations: Registrations::default(),
            lines: HashMap::new(),
            calls: HashMap::new(),
            local_endpoint: None,
            media,
            alerting: Default::default(),
            alerts: ring.then(|| crate::alerts::AlertPlayer::start(events.clone())),
            mic_levels: None,
            history: crate::history::HistoryWriter::start(data_dir, region, events.clone()),
            run_ringer: crate::alerts::RunRinger {
                device: ringer_device,
                ringtone,
            },
            resolver,
            inbox: requests.clone(),
            events: events.clone(),
        };
        engine
            .media
            .remember_devices(engine.settings.devices.clone());
        engine.media.remember_processing(engine.settings.processing);
        let task = tokio::spawn(engine.run(inbox));
        Ok((EngineHandle { requests, events }, task))
    }

    async fn run(mut self, mut inbox: mpsc::Receiver<Request>) {
        tracing::info!(profile = %self.profile.data_dir().display(), "engine started");
        // Stopping: the calls still up are being hung up; stop when they have ended (their
        // end goes into the history) or at the deadline.
        let mut stopping: Option<(oneshot::Sender<()>, tokio::time::Instant)> = None;
        loop {
            if let Some((_, deadline)) = &stopping
                && (self.calls.is_empty() || tokio::time::Instant::now() >= *deadline)
            {
                if let Some((reply, _)) = stopping.take() {
                    self.finish_stopping(reply).await;
                }
                break;
            }
            let deadline = stopping.as_ref().map(|(_, d)| *d);
            let request = tokio::select! {
                r = inbox.recv() => r,
                () = async {
                    match deadline {
                        Some(d) => tokio::time::sleep_until(d).await,
                        None => std::future::pending().await,
                    }
                } => continue,
            };
            let Some(request) = request else { break };
            match request {
                Request::Status(reply) => {
                    let _ = reply.send(self.status());
                }
                Request::Settings(reply) => {
                    let _ = reply.send(self.settings.clone());
                }
                Request::SetTheme { theme, reply } => {
                    let _ = reply.send(self.set_theme(theme).await);
                }
                Request::SetAppPreferences { app, reply } => {
                    let mut next = self.settings.clone();
                    next.app = app;
                    let saved = self.save_settings(next).await;
                    if saved.is_ok() {
                        for line in self.lines.values() {
                            line.set_do_not_disturb(app.do_not_disturb);
                        }
                    }
                    let _ = reply.send(saved);
                }
                Request::SetDevices { devices, reply } => {
                    let _ = reply.send(self.set_devices(devices).await);
                }
                Request::MicLevels { on: false, reply } => {
                    self.mic_levels = None;
                    let _ = reply.send(Ok(()));
                }
                Request::MicLevels { on: true, reply } => {
                    let (microphone, events, inbox) = (
                        self.settings.devices.microphone.clone(),
                        self.events.clone(),
                        self.inbox.clone(),
                    );
                    tokio::task::spawn_blocking(move || {
                        let started = siperb_audio::MicLevels::start(
                            microphone,
                            std::time::Duration::from_millis(100),
                            move |level| {
                                let _ = events.send(EngineEvent::MicLevel { level });
                            },
                        );
                        match started {
                            Ok(levels) => {
                                let _ = inbox
                                    .blocking_send(Request::MicLevelsStarted { levels, reply });
                            }
                            Err(e) => {
                                let _ = reply.send(Err(EngineError::Audio(e)));
                            }
                        }
                    });
                }
                Request::MicLevelsStarted { levels, reply } => {
                    self.mic_levels = Some(levels);
                    let _ = reply.send(Ok(()));
                }
                Request::TestTone { ringer, reply } => {
                    let (device, volume) = if ringer {
                        let r = self
                            .run_ringer
                            .ringer(&self.settings, &AccountId(LOCAL_ACCOUNT.into()));
                        (r.device, r.volume)
                    } else {
                        (self.settings.devices.speaker.clone(), 80)
                    };
                    tokio::task::spawn_blocking(move || {
                        let played = siperb_audio::Ringer::test_tone(device, volume).map(|tone| {
                            while !tone.finished() {
                                std::thread::sleep(std::time::Duration::from_millis(20));
                            }
                        });
                        let _ = reply.send(played.map_err(EngineError::Audio));
                    });
                }
                Request::SetProcessing { processing, reply } => {
                    let mut next = self.settings.clone();
                    next.processing = processing;
                    let saved = self.save_settings(next).await;
                    if saved.is_ok() {
                        // Calls made from now on, and the calls in progress.
                        self.media.remember_processing(processing);
                        for (call, _) in self.calls.clone() {
                            if let Some(line) = self.line_of(call) {
                                tokio::spawn(async move {
                                    let control = MediaControl::Processing(processing);
                                    let _ = line.media_control(call, control).await;
                                });
                            }
                        }
                    }
                    let _ = reply.send(saved);
                }
                Request::SetRinger { ringer, reply } => {
                    let mut next = self.settings.clone();
                    next.ringer = ringer;
                    let _ = reply.send(self.save_settings(next).await);
                }
                Request::SetAccountRingtone {
                    account,
                    ringtone,
                    reply,
                } => {
                    let mut next = self.settings.clone();
                    match ringtone {
                        Some(r) => next.account_ringtones.insert(account.0, r),
                        None => next.account_ringtones.remove(&account.0),
                    };
                    let _ = reply.send(self.save_settings(next).await);
                }
                Request::Accounts(reply) => {
                    let _ = reply.send(self.accounts.accounts.clone());
                }
                Request::AddAccount { account, reply } => {
                    let _ = reply.send(self.add_account(account).await);
                }
                Request::RemoveAccount { id, reply } => {
                    let _ = reply.send(self.remove_account(&id).await);
                }
                Request::SetPassword {
                    id,
                    password,
                    reply,
                } => {
                    let result = match self.accounts.get(&id) {
                        Some(_) => {
                            self.keyring(move |k| k.set_password(&id.0, &password))
                                .await
                        }
                        None => Err(EngineError::NoSuchAccount(id.0)),
                    };
                    let _ = reply.send(result);
                }
                Request::Register {
                    id,
                    password,
                    reply,
                } => {
                    let _ = reply.send(self.register(id, password).await);
                }
                Request::SaveAccount {
                    account,
                    password,
                    reply,
                } => {
                    let _ = reply.send(self.save_account(account, password).await);
                }
                Request::SignInSaved(reply) => {
                    let _ = reply.send(self.sign_in_saved().await);
                }
                Request::RegistrationChanged { id, state } => {
                    if self.accounts.get(&id).is_some() {
                        tracing::info!(account = %id.0, ?state, "registration");
                        self.states.insert(id, state);
                        self.announce_status();
                    }
                }
                Request::LineReady { id, line } => {
                    line.set_do_not_disturb(self.settings.app.do_not_disturb);
                    self.lines.insert(id, line);
                }
                Request::History(op) => self.history.send(op),
                Request::CallEvent { id, event } => {
                    self.alert(&id, &event);
                    self.history
                        .send(crate::history::Op::Event(id.clone(), event.clone()));
                    if let Some(call) = event.call() {
                        if matches!(event, CallEvent::CallEnded { .. }) {
                            self.calls.remove(&call);
                        } else {
                            self.calls.insert(call, id.clone());
                        }
                    }
                    let _ = self.events.send(EngineEvent::Call {
                        account: id.0,
                        event,
                    });
                }
                Request::Dial {
                    account,
                    target,
                    reply,
                } => {
                    // A new call puts the one the user is talking in on hold, as every
                    // desk phone does.
                    let lines = self.all_lines();
                    let result = self.dial(account, &target);
                    if let Ok(call) = result {
                        tokio::spawn(hold_all_but(lines, call));
                    }
                    let _ = reply.send(result);
                }
                Request::AttendedTransfer { call, to, reply } => {
                    let (line, to_line) = (self.line_of(call), self.line_of(to));
                    tokio::spawn(async move {
                        let result = match (line, to_line) {
                            (Some(line), Some(to_line)) => line
                                .attended_transfer(call, &to_line, to)
                                .await
                                .map_err(EngineError::Call),
                            _ => Err(EngineError::NoSuchCall),
                        };
                        let _ = reply.send(result);
                    });
                }
                Request::MediaControl {
                    call,
                    control,
                    reply,
                } => {
                    let line = self.line_of(call);
                    tokio::spawn(async move {
                        let result = match line {
                            Some(line) => {
                                line.media_control(call, control)
                                    .await
                                    .map_err(|e| match e {
                                        PhoneError::NoSuchCall => EngineError::NoSuchCall,
                                        other => EngineError::Call(other),
                                    })
                            }
                            None => Err(EngineError::NoSuchCall),
                        };
                        let _ = reply.send(result);
                    });
                }
                Request::Swap { call, reply } => {
                    let line = self.line_of(call);
                    let lines = self.all_lines();
                    tokio::spawn(async move {
                        let result = match line {
                            Some(line) => {
                                hold_all_but(lines, call).await;
                                line.command(call, CallInput::Resume)
                                    .await
                                    .map_err(|_| EngineError::NoSuchCall)
                            }
                            None => Err(EngineError::NoSuchCall),
                        };
                        let _ = reply.send(result);
                    });
                }
                Request::CallCommand { call, input, reply } => {
                    let line = self.line_of(call);
                    let lines = self.all_lines();
                    // Sent from a task so a busy call never blocks the engine.
                    tokio::spawn(async move {
                        if input == CallInput::Answer {
                            // Answering a waiting call holds the one in progress.
                            hold_all_but(lines, call).await;
                        }
                        let result = match line {
                            Some(line) => line
                                .command(call, input)
                                .await
                                .map_err(|_| EngineError::NoSuchCall),
                            None => Err(EngineError::NoSuchCall),
                        };
                        let _ = reply.send(result);
                    });
                }
                Request::StartLocalLine { bind, user, reply } => {
                    let _ = reply.send(self.start_local_line(bind, user).await);
                }
                Request::Shutdown(reply) => {
                    tracing::info!("engine stopping");
                    // Calls still up or ringing are hung up (declined), so the far end knows
                    // and the history has their end.
                    for (call, account) in self.calls.clone() {
                        if let Some(line) = self.lines.get(&account).cloned() {
                            tokio::spawn(async move {
                                let _ = line.command(call, CallInput::Hangup).await;
                            });
                        }
                    }
                    stopping = Some((
                        reply,
                        tokio::time::Instant::now() + std::time::Duration::from_secs(2),
                    ));
                }
            }
        }
        tracing::info!("engine stopped");
    }

    /// The last of stopping: registrations withdrawn, the history written out.
    async fn finish_stopping(&mut self, reply: oneshot::Sender<()>) {
        self.registrations.stop_all().await;
        let (flushed, done) = oneshot::channel();
        self.history.send(crate::history::Op::Flush(flushed));
        let _ = tokio::time::timeout(std::time::Duration::from_secs(2), done).await;
        let _ = reply.send(());
    }

    fn line_of(&self, call: CallRef) -> Option<Line> {
        self.calls
            .get(&call)
            .and_then(|id| self.lines.get(id))
            .cloned()
    }

    fn all_lines(&self) -> Vec<Line> {
        self.lines.values().cloned().collect()
    }

    fn dial(&mut self, account: Option<AccountId>, target: &str) -> Result<CallRef, EngineError> {
        let id = match account {
            Some(id) => id,
            // The echo test needs no server: any line runs it.
            None if siperb_sip::phone::is_echo(target) => self
                .lines
                .keys()
                .min_by(|a, b| a.0.cmp(&b.0))
                .cloned()
                .ok_or(EngineError::NoLine)?,
            // The only account's line; the local line when there is no account line.
            None => {
                let local = AccountId(LOCAL_ACCOUNT.into());
                let mut ids = self.lines.keys().filter(|id| **id != local);
                match (ids.next(), ids.next()) {
                    (Some(only), None) => only.clone(),
                    (None, _) if self.lines.contains_key(&local) => local,
                    (None, _) => return Err(EngineError::NoLine),
                    (Some(_), Some(_)) => return Err(EngineError::LineAmbiguous),
                }
            }
        };
        let line = self.lines.get(&id).ok_or(EngineError::NoLine)?;
        let call = line.dial(target).map_err(EngineError::Call)?;
        self.calls.insert(call, id);
        Ok(call)
    }

    /// Opens the local line: no server, calls straight to and from `sip:user@ip:port`.
    async fn start_local_line(
        &mut self,
        bind: SocketAddr,
        user: String,
    ) -> Result<SocketAddr, EngineError> {
        let endpoint = SipEndpoint::bind_udp(bind)
            .await
            .map_err(|e| EngineError::Network(e.to_string()))?;
        let local = endpoint.local_addr();
        let cfg = LineConfig {
            aor: format!("sip:{user}@{local}"),
            user,
            display_name: None,
            proxy: None,
            credential: None,
            ghost_filter: true,
            do_not_disturb: false,
            media: self.media.clone(),
            media_settings: Default::default(),
        };
        let (call_tx, mut call_rx) = mpsc::unbounded_channel();
        let line = endpoint
            .start_line(cfg, call_tx)
            .map_err(|e| EngineError::Network(e.to_string()))?;
        let inbox = self.inbox.clone();
        tokio::spawn(async move {
            while let Some(event) = call_rx.recv().await {
                let id = AccountId(LOCAL_ACCOUNT.into());
                if inbox.send(Request::CallEvent { id, event }).await.is_err() {
                    break;
                }
            }
        });
        line.set_do_not_disturb(self.settings.app.do_not_disturb);
        self.lines.insert(AccountId(LOCAL_ACCOUNT.into()), line);
        self.local_endpoint = Some(endpoint);
        Ok(local)
    }

    fn status(&self) -> EngineStatus {
        let accounts: Vec<AccountStatus> = self
            .accounts
            .accounts
            .iter()
            .map(|a| AccountStatus {
                id: a.id.clone(),
                address: a.address.to_string(),
                display_name: a.display_name.clone(),
                enabled: a.enabled,
                registration: self
                    .states
                    .get(&a.id)
                    .cloned()
                    .unwrap_or(RegistrationState::Unregistered),
                failure_reason: match self.states.get(&a.id) {
                    Some(RegistrationState::Failed { failure }) => Some(failure.describe()),
                    _ => None,
                },
            })
            .collect();
        EngineStatus {
            version: crate::VERSION.to_owned(),
            data_dir: self.profile.data_dir().display().to_string(),
            summary: RegistrationSummary::of(&accounts),
            accounts,
        }
    }

    fn announce_status(&self) {
        let _ = self.events.send(EngineEvent::StatusChanged {
            status: self.status(),
        });
    }

    async fn save_accounts(&self, next: Accounts) -> Result<Accounts, EngineError> {
        let documents = self.documents.clone();
        let to_save = next.clone();
        tokio::task::spawn_blocking(move || documents.save("accounts", &to_save))
            .await
            .map_err(|_| EngineError::Stopped)??;
        Ok(next)
    }

    async fn set_theme(&mut self, theme: ThemePreference) -> Result<Settings, EngineError> {
        let mut next = self.settings.clone();
        next.theme = theme;
        self.save_settings(next).await
    }

    /// The devices calls use from now on (a call already up keeps its own).
    async fn set_devices(
        &mut self,
        devices: siperb_audio::DeviceChoice,
    ) -> Result<Settings, EngineError> {
        let mut next = self.settings.clone();
        next.devices = devices;
        let settings = self.save_settings(next).await?;
        self.media.remember_devices(settings.devices.clone());
        Ok(settings)
    }

    /// Rings, stops ringing, or beeps over the call in progress, as this call event requires.
    fn alert(&mut self, account: &AccountId, event: &CallEvent) {
        for alert in self.alerting.on_event(account, event) {
            match alert {
                crate::alerts::Alert::Ring { account } => {
                    let settings = self.run_ringer.ringer(&self.settings, &account);
                    if let Some(player) = &self.alerts {
                        player.ring(settings);
                    }
                }
                crate::alerts::Alert::StopRinging => {
                    if let Some(player) = &self.alerts {
                        player.stop();
                    }
                }
                crate::alerts::Alert::CallWaiting { call, on } => {
                    if let Some(line) = self.line_of(call) {
                        tokio::spawn(async move {
                            let _ = line
                                .media_control(call, MediaControl::CallWaiting(on))
                                .await;
                        });
                    }
                }
            }
        }
    }

    /// Saves changed settings and tells every front end.
    async fn save_settings(&mut self, next: Settings) -> Result<Settings, EngineError> {
        if self.settings == next {
            return Ok(self.settings.clone());
        }
        let documents = self.documents.clone();
        let to_save = next.clone();
        tokio::task::spawn_blocking(move || documents.save("settings", &to_save))
            .await
            .map_err(|_| EngineError::Stopped)??;
        self.settings = next;
        // No subscriber is fine: the front end may not be listening yet.
        let _ = self.events.send(EngineEvent::SettingsChanged {
            settings: self.settings.clone(),
        });
        Ok(self.settings.clone())
    }
}

fn set_aside_if_damaged<T: Default>(loaded: Result<T, StoreError>) -> Result<T, EngineError> {
    match loaded {
        Ok(value) => Ok(value),
        Err(e @ StoreError::Corrupt { .. }) => {
            tracing::warn!("{e}; starting from the defaults");
            Ok(T::default())
        }
        Err(e) => Err(e.into()),
    }
}

/// Puts every established call on every line on hold, except `keep`.
async fn hold_all_but(lines: Vec<Line>, keep: CallRef) {
    for line in lines {
        line.hold_others(Some(keep)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn start(dir: &std::path::Path) -> (EngineHandle, JoinHandle<()>) {
        Engine::start(Profile::at(dir)).expect("engine starts")
    }

    #[tokio::test]
    async fn a_new_profile_has_no_account() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let (engine, _task) = start(tmp.path());
        let status = engine.status().await.expect("status");
        assert_eq!(status.summary, RegistrationSummary::NoAccount);
        assert!(status.accounts.is_empty());
        assert_eq!(status.version, crate::VERSION);
        assert!(tmp.path().join("data").is_dir());
    }

    #[tokio::test]
    async fn theme_changes_are_saved_and_announced() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let (engine, task) = start(tmp.path());
        let mut events = engine.subscribe();
        let s = engine
            .set_theme(ThemePreference::Dark)
            .await
            .expect("set theme");
        assert_eq!(s.theme, ThemePreference::Dark);
        assert_eq!(
            events.recv().await.expect("event"),
            EngineEvent::SettingsChanged {
                settings: s.clone()
            }
        );
        // Setting the same value again is not news.
        engine
            .set_theme(ThemePreference::Dark)
            .await
            .expect("set theme");
        assert!(events.try_recv().is_err());
        engine.shutdown().await.expect("shutdown");
        task.await.expect("task ends");
        assert!(matches!(engine.status().await, Err(EngineError::Stopped)));

        let (engine, _task) = start(tmp.path());
        assert_eq!(
            engine.settings().await.expect("settings").theme,
            ThemePreference::Dark
        );
    }

    #[tokio::test]
    async fn damaged_settings_and_accounts_do_not_stop_the_phone() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let profile = Profile::at(tmp.path());
        profile.ensure().expect("folders");
        std::fs::write(profile.settings_file(), b"\x00garbage").expect("write");
        std::fs::write(profile.accounts_file(), b"{\"accounts\": [tru").expect("write");
        let (engine, _task) = Engine::start(profile.clone()).expect("engine starts");
        assert!(engine.accounts().await.expect("accounts").is_empty());
        assert_eq!(
            std::fs::read(profile.accounts_file().with_extension("json.damaged")).expect("kept"),
            b"{\"accounts\": [tru"
        );
        assert_eq!(
            engine.settings().await.expect("settings"),
            Settings::default()
        );
        assert!(
            profile
                .settings_file()
                .with_extension("json.damaged")
                .exists()
        );
    }

    #[tokio::test]
    async fn a_profile_that_cannot_be_created_is_a_clear_error() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let blocker = tmp.path().join("file");
        std::fs::write(&blocker, b"x").expect("write");
        let err = Engine::start(Profile::at(&blocker)).expect_err("must fail");
        assert_eq!(err.code(), "profile_unavailable");
    }
}
