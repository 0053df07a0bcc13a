//! The engine's running registrations: one task per account, reporting back to the engine task.

use std::collections::HashMap;
use std::time::Duration;

use std::sync::Arc;

use siperb_sip::dns::DnsResolver;
use siperb_sip::phone::{LineConfig, MediaFactory};
use siperb_sip::ua::{Servers, SipEndpoint, server_addresses};
use siperb_sip::{AccountConfig, AccountId, RegistrationFailure, RegistrationState, RetryBackoff};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::engine::Request;

struct Running {
    stop: CancellationToken,
    task: JoinHandle<()>,
}

/// Starts, stops and tracks registration tasks. Owned by the engine task only.
#[derive(Default)]
pub(crate) struct Registrations {
    running: HashMap<AccountId, Running>,
}

impl std::fmt::Debug for Registrations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.running.keys()).finish()
    }
}

impl Registrations {
    /// Registers `account` with `password` (used for this run only) until stopped. Its states
    /// arrive in the engine's inbox as [`Request::RegistrationChanged`].
    pub(crate) fn start(
        &mut self,
        account: AccountConfig,
        password: String,
        media: Arc<dyn MediaFactory>,
        resolver: DnsResolver,
        inbox: mpsc::Sender<Request>,
    ) {
        self.stop(&account.id);
        let stop = CancellationToken::new();
        let id = account.id.clone();
        let task_stop = stop.clone();
        let task = tokio::spawn(async move {
            let say = |state| report(&inbox, &account.id, state);
            // A name that does not resolve (no network yet, a typo being fixed on the server)
            // is reported and looked up again with back-off: never given up silently.
            let mut backoff = RetryBackoff::new();
            let addresses = loop {
                match server_addresses(&account, &resolver).await {
                    Ok(found) if !found.is_empty() => break found,
                    Ok(_) => {}
                    Err(e) => {
                        let failure = RegistrationFailure::Dns {
                            detail: e.to_string(),
                        };
                        say(RegistrationState::Failed { failure }).await;
                    }
                }
                let jitter = f64::from(siperb_sip::random_seed() as u32) / f64::from(u32::MAX);
                tokio::select! {
                    () = task_stop.cancelled() => return,
                    () = tokio::time::sleep(backoff.next_delay(jitter)) => {}
                }
            };
            let registrar = addresses[0];
            let endpoint = SipEndpoint::bind_udp_towards(registrar).await;
            let endpoint = match endpoint {
                Ok(e) => e,
                Err(e) => {
                    let failure = RegistrationFailure::Network {
                        detail: e.to_string(),
                    };
                    say(RegistrationState::Failed { failure }).await;
                    return;
                }
            };
            // The line takes and places this account's calls on the same endpoint (the
            // registrar's flow), so incoming calls are answered on the account they came in on.
            let line_cfg = LineConfig {
                user: account.address.user.clone(),
                aor: format!("sip:{}@{}", account.address.user, account.address.host),
                display_name: account.display_name.clone(),
                proxy: Some(registrar),
                credential: Some((account.auth_user().to_owned(), password.clone())),
                ghost_filter: true,
                do_not_disturb: false,
                media,
                media_settings: account.media.clone(),
            };
            let (call_tx, mut call_rx) = mpsc::unbounded_channel();
            match endpoint.start_line(line_cfg, call_tx) {
                Ok(line) => {
                    let _ = inbox
                        .send(Request::LineReady {
                            id: account.id.clone(),
                            line,
                        })
                        .await;
                }
                Err(e) => tracing::warn!(account = %account.id.0, "calls unavailable: {e}"),
            }
            let (call_inbox, call_id) = (inbox.clone(), account.id.clone());
            tokio::spawn(async move {
                while let Some(event) = call_rx.recv().await {
                    let _ = call_inbox
                        .send(Request::CallEvent {
                            id: call_id.clone(),
                            event,
                        })
                        .await;
                }
            });
            let (states, mut state_rx) = mpsc::channel(16);
            let (forward_inbox, forward_id) = (inbox.clone(), account.id.clone());
            let forward = tokio::spawn(async move {
                while let Some(state) = state_rx.recv().await {
                    report(&forward_inbox, &forward_id, state).await;
                }
            });
            let seed = siperb_sip::random_seed();
            if let Err(e) = endpoint
                .run_registration(
                    &account,
                    Servers {
                        addresses,
                        resolver: Some(resolver),
                    },
                    password,
                    seed,
                    states,
                    task_stop,
                )
                .await
            {
                tracing::warn!(account = %account.id.0, "registration ended: {e}");
            }
            let _ = forward.await;
        });
        self.running.insert(id, Running { stop, task });
    }

    pub(crate) fn stop(&mut self, id: &AccountId) {
        if let Some(r) = self.running.remove(id) {
            r.stop.cancel();
        }
    }

    /// Stops every registration and waits (a few seconds at most) for the un-REGISTERs.
    pub(crate) async fn stop_all(&mut self) {
        let running: Vec<Running> = self.running.drain().map(|(_, r)| r).collect();
        for r in &running {
            r.stop.cancel();
        }
        for r in running {
            if tokio::time::timeout(Duration::from_secs(5), r.task)
                .await
                .is_err()
            {
                tracing::warn!("an un-REGISTER did not finish in 5 s");
            }
        }
    }
}

async fn report(inbox: &mpsc::Sender<Request>, id: &AccountId, state: RegistrationState) {
    let _ = inbox
        .send(Request::RegistrationChanged {
            id: id.clone(),
            state,
        })
        .await;
}
