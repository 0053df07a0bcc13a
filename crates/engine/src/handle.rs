use siperb_sip::call::Input as CallInput;
use siperb_sip::phone::{CallRef, MediaControl};
use siperb_sip::{AccountConfig, AccountId};
use siperb_store::{Settings, ThemePreference};
use tokio::sync::{broadcast, mpsc, oneshot};

use crate::engine::Request;
use crate::{EngineError, EngineEvent, EngineStatus};

/// The only way into the engine: a cloneable command sender plus an event subscription.
#[derive(Debug, Clone)]
pub struct EngineHandle {
    pub(crate) requests: mpsc::Sender<Request>,
    pub(crate) events: broadcast::Sender<EngineEvent>,
}

impl EngineHandle {
    /// Events from now on. A subscriber that falls behind by more than the channel's capacity
    /// gets `Lagged` and should re-read [`status`](Self::status).
    pub fn subscribe(&self) -> broadcast::Receiver<EngineEvent> {
        self.events.subscribe()
    }

    pub async fn status(&self) -> Result<EngineStatus, EngineError> {
        self.ask(Request::Status).await
    }

    pub async fn settings(&self) -> Result<Settings, EngineError> {
        self.ask(Request::Settings).await
    }

    /// Changes the theme, saves it and tells every front end.
    pub async fn set_theme(&self, theme: ThemePreference) -> Result<Settings, EngineError> {
        self.ask(|reply| Request::SetTheme { theme, reply }).await?
    }

    /// The microphones and speakers there are now (the sound server asked off the engine's
    /// threads).
    pub async fn devices(&self) -> Result<Vec<siperb_audio::DeviceInfo>, EngineError> {
        tokio::task::spawn_blocking(siperb_audio::list_devices)
            .await
            .map_err(|_| EngineError::Stopped)?
            .map_err(EngineError::Audio)
    }

    /// Changes how the app behaves on the desktop (do not disturb applies to every line at
    /// once), saves it and tells every front end.
    pub async fn set_app_preferences(
        &self,
        app: siperb_store::AppPreferences,
    ) -> Result<Settings, EngineError> {
        self.ask(|reply| Request::SetAppPreferences { app, reply })
            .await?
    }

    /// Chooses the devices calls use (saved in the profile; calls made from now on use them).
    pub async fn set_devices(
        &self,
        devices: siperb_audio::DeviceChoice,
    ) -> Result<Settings, EngineError> {
        self.ask(|reply| Request::SetDevices { devices, reply })
            .await?
    }

    /// Sets how the phone rings (device, ringtone, volume); saved in the profile.
    pub async fn set_ringer(
        &self,
        ringer: siperb_audio::RingerSettings,
    ) -> Result<Settings, EngineError> {
        self.ask(|reply| Request::SetRinger { ringer, reply })
            .await?
    }

    /// Switches echo cancellation, noise suppression and gain control (saved; calls in
    /// progress follow at once).
    pub async fn set_processing(
        &self,
        processing: siperb_audio::ProcessingConfig,
    ) -> Result<Settings, EngineError> {
        self.ask(|reply| Request::SetProcessing { processing, reply })
            .await?
    }

    /// Calls from the history, newest first.
    pub async fn history(
        &self,
        query: siperb_store::HistoryQuery,
    ) -> Result<Vec<siperb_store::CallRecord>, EngineError> {
        self.ask(|reply| Request::History(crate::history::Op::List(query, reply)))
            .await?
            .map_err(EngineError::History)
    }

    /// Adds the contacts of a vCard file's text (vCard 2.1, 3.0 or 4.0, any number of cards);
    /// says what was imported and what was left out.
    pub async fn import_vcards(
        &self,
        text: String,
    ) -> Result<siperb_store::vcard::ImportReport, EngineError> {
        self.contacts(move |c| {
            let (contacts, report) = siperb_store::vcard::parse(&text);
            for contact in &contacts {
                c.add(contact)?;
            }
            Ok(report)
        })
        .await
    }

    /// Every contact as vCard 4.0 text, and how many there are.
    pub async fn export_vcards(&self) -> Result<(String, usize), EngineError> {
        self.contacts(|c| {
            let all = c.list(0)?;
            Ok((siperb_store::vcard::write(&all), all.len()))
        })
        .await
    }

    /// Runs `work` on the profile's contacts (on the store's thread).
    pub async fn contacts<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut siperb_store::Contacts) -> Result<T, siperb_store::ContactError>
        + Send
        + 'static,
    ) -> Result<T, EngineError> {
        let (reply, answer) = oneshot::channel();
        let job = crate::history::ContactsJob(Box::new(move |contacts| {
            let result = match contacts {
                Ok(c) => work(c).map_err(EngineError::Contacts),
                Err(why) => Err(EngineError::History(siperb_store::DbError::Unavailable(
                    why,
                ))),
            };
            let _ = reply.send(result);
        }));
        self.requests
            .send(Request::History(crate::history::Op::Contacts(job)))
            .await
            .map_err(|_| EngineError::Stopped)?;
        answer.await.map_err(|_| EngineError::Stopped)?
    }

    /// Missed calls not seen yet (the tray badge).
    pub async fn unseen_missed_calls(&self) -> Result<u32, EngineError> {
        self.ask(|reply| Request::History(crate::history::Op::UnseenMissed(reply)))
            .await?
            .map_err(EngineError::History)
    }

    /// The user has seen the missed calls.
    pub async fn mark_calls_seen(&self) -> Result<(), EngineError> {
        self.ask(|reply| Request::History(crate::history::Op::MarkSeen(reply)))
            .await?
            .map_err(EngineError::History)
    }

    /// Forgets the finished calls; how many.
    pub async fn clear_history(&self) -> Result<usize, EngineError> {
        self.ask(|reply| Request::History(crate::history::Op::Clear(reply)))
            .await?
            .map_err(EngineError::History)
    }

    /// Turns the microphone level meter on or off: `MicLevel` events every 100 ms from the
    /// chosen microphone while it is on.
    pub async fn meter_microphone(&self, on: bool) -> Result<(), EngineError> {
        self.ask(|reply| Request::MicLevels { on, reply }).await?
    }

    /// Plays the test tone (four rising notes, 1.6 s) on the call speaker, or with `ringer`
    /// on the ringer device at the ringer's volume; returns once it has played.
    pub async fn test_tone(&self, ringer: bool) -> Result<(), EngineError> {
        self.ask(|reply| Request::TestTone { ringer, reply })
            .await?
    }

    /// Gives an account a ringtone of its own (`None`: the ringer's again).
    pub async fn set_account_ringtone(
        &self,
        account: AccountId,
        ringtone: Option<siperb_audio::Ringtone>,
    ) -> Result<Settings, EngineError> {
        self.ask(|reply| Request::SetAccountRingtone {
            account,
            ringtone,
            reply,
        })
        .await?
    }

    pub async fn accounts(&self) -> Result<Vec<AccountConfig>, EngineError> {
        self.ask(Request::Accounts).await
    }

    /// Adds an account (validated, saved to the profile; no password).
    pub async fn add_account(&self, account: AccountConfig) -> Result<(), EngineError> {
        self.ask(|reply| Request::AddAccount { account, reply })
            .await?
    }

    /// Adds `account` or replaces the one with its id, `password` (when given) into the OS
    /// keyring; then registers it when enabled (afresh, with its new settings) or withdraws
    /// its registration when disabled. States arrive as [`EngineEvent::StatusChanged`].
    pub async fn save_account(
        &self,
        account: AccountConfig,
        password: Option<String>,
    ) -> Result<(), EngineError> {
        self.ask(|reply| Request::SaveAccount {
            account,
            password,
            reply,
        })
        .await?
    }

    /// Registers every enabled account whose password is saved (what the app does at
    /// start-up); returns the enabled ones without a saved password.
    pub async fn sign_in_saved(&self) -> Result<Vec<AccountId>, EngineError> {
        self.ask(Request::SignInSaved).await
    }

    pub async fn remove_account(&self, id: AccountId) -> Result<(), EngineError> {
        self.ask(|reply| Request::RemoveAccount { id, reply })
            .await?
    }

    /// Starts registering `id` with `password` for this run; states arrive as
    /// [`EngineEvent::StatusChanged`].
    pub async fn register(&self, id: AccountId, password: String) -> Result<(), EngineError> {
        self.ask(|reply| Request::Register {
            id,
            password: Some(password),
            reply,
        })
        .await?
    }

    /// Starts registering `id` with the password stored in the OS keyring
    /// ([`EngineError::NoPassword`] when there is none).
    pub async fn register_saved(&self, id: AccountId) -> Result<(), EngineError> {
        self.ask(|reply| Request::Register {
            id,
            password: None,
            reply,
        })
        .await?
    }

    /// Stores the password of account `id` in the OS keyring (never in a file).
    pub async fn set_password(&self, id: AccountId, password: String) -> Result<(), EngineError> {
        self.ask(|reply| Request::SetPassword {
            id,
            password,
            reply,
        })
        .await?
    }

    /// Places a call on `account` (or the only line there is).
    pub async fn dial(
        &self,
        account: Option<AccountId>,
        target: String,
    ) -> Result<CallRef, EngineError> {
        self.ask(|reply| Request::Dial {
            account,
            target,
            reply,
        })
        .await?
    }

    /// Answer, reject, hang up, hold, resume, send a digit, transfer.
    pub async fn call_command(&self, call: CallRef, input: CallInput) -> Result<(), EngineError> {
        self.ask(|reply| Request::CallCommand { call, input, reply })
            .await?
    }

    /// Attended transfer: asks the far end of `call` to take over `to` (our consultation
    /// call with the transfer target); both calls end `transferred` when it succeeds.
    pub async fn attended_transfer(&self, call: CallRef, to: CallRef) -> Result<(), EngineError> {
        self.ask(|reply| Request::AttendedTransfer { call, to, reply })
            .await?
    }

    /// Mutes or unmutes the microphone on `call` (silence is sent; the far end is not told).
    pub async fn mute(&self, call: CallRef, muted: bool) -> Result<(), EngineError> {
        self.media_control(call, MediaControl::Mute(muted))
            .await
            .map(|_| ())
    }

    /// Moves `call`'s microphone or speaker to `device` (`None`: the system's default); the
    /// move is reported as an `AudioDevice` call event.
    pub async fn choose_device(
        &self,
        call: CallRef,
        direction: siperb_audio::DeviceDirection,
        device: Option<siperb_audio::ChosenDevice>,
    ) -> Result<(), EngineError> {
        self.media_control(call, MediaControl::Device(direction, device))
            .await
            .map(|_| ())
    }

    /// Starts recording `call` to a stereo WAV file (us left, the far end right).
    pub async fn start_recording(
        &self,
        call: CallRef,
        path: std::path::PathBuf,
    ) -> Result<(), EngineError> {
        self.media_control(call, MediaControl::StartRecording(path))
            .await
            .map(|_| ())
    }

    /// Stops recording `call`; the seconds recorded (`None` when no recording ran).
    pub async fn stop_recording(&self, call: CallRef) -> Result<Option<f64>, EngineError> {
        self.media_control(call, MediaControl::StopRecording).await
    }

    async fn media_control(
        &self,
        call: CallRef,
        control: MediaControl,
    ) -> Result<Option<f64>, EngineError> {
        self.ask(|reply| Request::MediaControl {
            call,
            control,
            reply,
        })
        .await?
    }

    /// Talks on `call`: every other call goes on hold, `call` is resumed.
    pub async fn swap_to(&self, call: CallRef) -> Result<(), EngineError> {
        self.ask(|reply| Request::Swap { call, reply }).await?
    }

    /// Opens the local line on `bind` (port 0 for any free port) and returns its address.
    pub async fn start_local_line(
        &self,
        bind: std::net::SocketAddr,
        user: String,
    ) -> Result<std::net::SocketAddr, EngineError> {
        self.ask(|reply| Request::StartLocalLine { bind, user, reply })
            .await?
    }

    /// Stops the engine (un-registering accounts once they exist) and waits until it has.
    pub async fn shutdown(&self) -> Result<(), EngineError> {
        self.ask(Request::Shutdown).await
    }

    async fn ask<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<T>) -> Request,
    ) -> Result<T, EngineError> {
        let (reply, answer) = oneshot::channel();
        self.requests
            .send(make(reply))
            .await
            .map_err(|_| EngineError::Stopped)?;
        answer.await.map_err(|_| EngineError::Stopped)
    }
}
