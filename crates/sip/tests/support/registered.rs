//! An account registered at the test Kamailio with its line, as the engine runs one, and
//! waiting for its call events.
// Shared by several test crates; each uses a part.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use siperb_sip::call::CallPhase;
use siperb_sip::phone::{CallEvent, CallRef, Line, LineConfig, MediaFactory, RtpFactory};
use siperb_sip::ua::{SipEndpoint, registrar_address};
use siperb_sip::{AccountConfig, AccountId, RegistrationState, Transport};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::kamailio::Kamailio;

pub(crate) type Events = mpsc::UnboundedReceiver<CallEvent>;

/// An account registered at `k` with its line, as the engine runs one.
pub(crate) struct Registered {
    pub(crate) endpoint: Arc<SipEndpoint>,
    pub(crate) line: Line,
    pub(crate) events: Events,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

pub(crate) async fn registered(
    k: &Kamailio,
    user: &str,
    password: &str,
    transport: Transport,
) -> Registered {
    registered_with(
        k,
        user,
        password,
        transport,
        Arc::new(RtpFactory::default()),
    )
    .await
}

/// [`registered`] with the media backend given.
pub(crate) async fn registered_with(
    k: &Kamailio,
    user: &str,
    password: &str,
    transport: Transport,
    media: Arc<dyn MediaFactory>,
) -> Registered {
    let mut account = AccountConfig::new(AccountId(user.into()), &format!("sip:{user}@127.0.0.1"))
        .expect("account");
    account.transport = transport;
    account.registrar = Some(match transport {
        Transport::Tls => format!("127.0.0.1:{}", k.tls_port),
        _ => format!("127.0.0.1:{}", k.port),
    });
    account.tls.ca_file = Some(k.ca_file.clone());
    let registrar = registrar_address(&account).await.expect("registrar");
    let endpoint = Arc::new(
        SipEndpoint::bind_udp_towards(registrar)
            .await
            .expect("bind"),
    );
    let (tx, events) = mpsc::unbounded_channel();
    let line = endpoint
        .start_line(
            LineConfig {
                user: user.into(),
                aor: format!("sip:{user}@127.0.0.1"),
                display_name: None,
                proxy: Some(registrar),
                credential: Some((user.into(), password.into())),
                ghost_filter: true,
                do_not_disturb: false,
                media,
                media_settings: Default::default(),
            },
            tx,
        )
        .expect("line");
    let (states, mut state_rx) = mpsc::channel(16);
    let stop = CancellationToken::new();
    let (ep, stop2, password) = (endpoint.clone(), stop.clone(), password.to_owned());
    let task = tokio::spawn(async move {
        ep.run_registration(&account, registrar, password, 7, states, stop2)
            .await
            .expect("registration");
    });
    loop {
        let s = tokio::time::timeout(Duration::from_secs(10), state_rx.recv())
            .await
            .expect("registers in time")
            .expect("open");
        match s {
            RegistrationState::Registered { .. } => break,
            RegistrationState::Registering => {}
            other => panic!("{user}: {other:?}\n{}", k.log_text()),
        }
    }
    // Keep draining states so the registration task never blocks on a full channel.
    tokio::spawn(async move { while state_rx.recv().await.is_some() {} });
    Registered {
        endpoint,
        line,
        events,
        stop,
        task,
    }
}

impl Registered {
    pub(crate) async fn unregister(self) {
        self.stop.cancel();
        let _ = tokio::time::timeout(Duration::from_secs(5), self.task).await;
    }
}

pub(crate) async fn next(
    rx: &mut Events,
    k: &Kamailio,
    want: impl Fn(&CallEvent) -> bool,
) -> CallEvent {
    let mut seen = Vec::new();
    let found = tokio::time::timeout(Duration::from_secs(8), async {
        loop {
            let e = rx.recv().await.expect("events");
            if want(&e) {
                return e;
            }
            seen.push(format!("{e:?}"));
        }
    })
    .await;
    match found {
        Ok(e) => e,
        Err(_) => panic!(
            "not the event awaited; passed over:\n{}\nKamailio:\n{}",
            seen.join("\n"),
            k.log_text()
        ),
    }
}

pub(crate) fn phase(call: CallRef, p: CallPhase) -> impl Fn(&CallEvent) -> bool {
    move |e| matches!(e, CallEvent::State { call: c, phase } if *c == call && *phase == p)
}

/// Waits for one event matching each of `wants`, in whatever order they come; returns them in
/// the order of `wants`.
pub(crate) async fn next_each(
    rx: &mut Events,
    k: &Kamailio,
    wants: &[&dyn Fn(&CallEvent) -> bool],
) -> Vec<CallEvent> {
    let mut found: Vec<Option<CallEvent>> = vec![None; wants.len()];
    let mut seen = Vec::new();
    let done = tokio::time::timeout(Duration::from_secs(8), async {
        while found.iter().any(Option::is_none) {
            let e = rx.recv().await.expect("events");
            match (0..wants.len()).find(|&i| found[i].is_none() && wants[i](&e)) {
                Some(i) => found[i] = Some(e),
                None => seen.push(format!("{e:?}")),
            }
        }
    })
    .await;
    if done.is_err() {
        panic!(
            "not all events awaited came: {found:?}; passed over:\n{}\nKamailio:\n{}",
            seen.join("\n"),
            k.log_text()
        );
    }
    found.into_iter().flatten().collect()
}
