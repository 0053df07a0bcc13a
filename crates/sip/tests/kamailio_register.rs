//! Registration against a real Kamailio over UDP, TCP and TLS, with MD5 and SHA-256 digest.

mod support;

use std::time::Duration;

use siperb_sip::ua::SipEndpoint;
use siperb_sip::{AccountConfig, AccountId, RegistrationFailure, RegistrationState, Transport};
use support::kamailio::{Kamailio, PASSWORD, USER};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

async fn next_state(rx: &mut mpsc::Receiver<RegistrationState>) -> RegistrationState {
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("a state change in time")
        .expect("channel open")
}

async fn register(
    kamailio: &Kamailio,
    password: &str,
) -> (
    Vec<RegistrationState>,
    CancellationToken,
    tokio::task::JoinHandle<()>,
) {
    let (rx, stop, task) = start(kamailio, password, |_| {}).await;
    let mut rx = rx;
    let mut states = vec![next_state(&mut rx).await];
    states.push(next_state(&mut rx).await);
    (states, stop, task)
}

/// Starts registering an account at `kamailio` (UDP unless `edit` says otherwise).
async fn start(
    kamailio: &Kamailio,
    password: &str,
    edit: impl FnOnce(&mut AccountConfig),
) -> (
    mpsc::Receiver<RegistrationState>,
    CancellationToken,
    tokio::task::JoinHandle<()>,
) {
    let endpoint = SipEndpoint::bind_udp("127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("bind");
    let mut account = AccountConfig::new(AccountId("t".into()), &format!("sip:{USER}@127.0.0.1"))
        .expect("account");
    account.registrar = Some(format!("127.0.0.1:{}", kamailio.port));
    edit(&mut account);
    let registrar = siperb_sip::ua::registrar_address(&account)
        .await
        .expect("registrar");
    let (tx, rx) = mpsc::channel(16);
    let stop = CancellationToken::new();
    let stop2 = stop.clone();
    let password = password.to_owned();
    let task = tokio::spawn(async move {
        endpoint
            .run_registration(&account, registrar, password, 0x5eed, tx, stop2)
            .await
            .expect("registration runs");
    });
    (rx, stop, task)
}

async fn until_registered(rx: &mut mpsc::Receiver<RegistrationState>, k: &Kamailio) {
    loop {
        match next_state(rx).await {
            RegistrationState::Registered { expires_secs } if expires_secs > 0 => return,
            RegistrationState::Registering => {}
            other => panic!("{other:?}\n{}", k.log_text()),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registers_over_tcp_and_tls_with_the_ca_file_and_unregisters() {
    let kamailio = Kamailio::start("SHA-256");
    for transport in [Transport::Tcp, Transport::Tls] {
        let (mut rx, stop, task) = start(&kamailio, PASSWORD, |a| {
            a.transport = transport;
            if transport == Transport::Tls {
                a.registrar = Some(format!("127.0.0.1:{}", kamailio.tls_port));
                a.tls.ca_file = Some(kamailio.ca_file.clone());
            }
        })
        .await;
        until_registered(&mut rx, &kamailio).await;
        stop.cancel();
        tokio::time::timeout(Duration::from_secs(10), task)
            .await
            .expect("un-registers in time")
            .expect("task");
    }
    // Kamailio saw both flows (its log names the protocol of each REGISTER's source).
    let log = kamailio.log_text();
    assert!(log.contains("proto=tcp"), "{log}");
    assert!(log.contains("proto=tls"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_certificate_is_a_tls_failure() {
    let kamailio = Kamailio::start("MD5");
    // No CA file: the system roots do not know Kamailio's self-signed certificate.
    let (mut rx, stop, _task) = start(&kamailio, PASSWORD, |a| {
        a.transport = Transport::Tls;
        a.registrar = Some(format!("127.0.0.1:{}", kamailio.tls_port));
    })
    .await;
    assert_eq!(next_state(&mut rx).await, RegistrationState::Registering);
    match next_state(&mut rx).await {
        RegistrationState::Failed {
            failure: RegistrationFailure::Tls { detail },
        } => assert!(detail.to_lowercase().contains("certificate"), "{detail}"),
        other => panic!("{other:?}"),
    }
    stop.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_tcp_flow_registers_again_over_a_new_one() {
    let mut kamailio = Kamailio::start("MD5");
    let (mut rx, stop, task) = start(&kamailio, PASSWORD, |a| a.transport = Transport::Tcp).await;
    until_registered(&mut rx, &kamailio).await;
    // The server goes away (closing our connection) and comes back on the same ports.
    kamailio.restart();
    let began = std::time::Instant::now();
    let mut seen = Vec::new();
    loop {
        let s = tokio::time::timeout(Duration::from_secs(20), rx.recv())
            .await
            .expect("a state change in time")
            .expect("open");
        seen.push(s.clone());
        if matches!(s, RegistrationState::Registered { .. }) {
            break;
        }
    }
    assert!(
        seen.contains(&RegistrationState::Registering),
        "the broken flow was noticed: {seen:?}"
    );
    assert!(began.elapsed() < Duration::from_secs(15), "{seen:?}");
    stop.cancel();
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("un-registers in time")
        .expect("task");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registers_with_md5_and_sha256_digest_and_unregisters() {
    for algorithm in ["MD5", "SHA-256"] {
        let kamailio = Kamailio::start(algorithm);
        let (states, stop, task) = register(&kamailio, PASSWORD).await;
        assert_eq!(states[0], RegistrationState::Registering, "{algorithm}");
        assert!(
            matches!(states[1], RegistrationState::Registered { expires_secs } if expires_secs > 0),
            "{algorithm}: {states:?}\n{}",
            kamailio.log_text()
        );
        stop.cancel();
        tokio::time::timeout(Duration::from_secs(10), task)
            .await
            .expect("un-registers in time")
            .expect("task");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_is_authentication_failed() {
    let kamailio = Kamailio::start("MD5");
    let (states, stop, _task) = register(&kamailio, "not-the-password").await;
    assert_eq!(
        states[1],
        RegistrationState::Failed {
            failure: RegistrationFailure::AuthenticationFailed
        },
        "{}",
        kamailio.log_text()
    );
    stop.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outbound_proxy_carries_the_register_for_the_registrar() {
    let kamailio = Kamailio::start("MD5");
    // Nothing listens at the registrar's own port: only the proxy can get the REGISTER there.
    let (mut rx, stop, task) = start(&kamailio, PASSWORD, |a| {
        a.registrar = Some("sip:127.0.0.1:9".into());
        a.outbound_proxy = Some(format!("sip:127.0.0.1:{};lr", kamailio.port));
    })
    .await;
    let s = next_state(&mut rx).await;
    assert_eq!(s, RegistrationState::Registering);
    let s = tokio::time::timeout(Duration::from_secs(10), rx.recv()).await;
    let log = kamailio.log_text();
    assert!(
        matches!(s, Ok(Some(RegistrationState::Registered { .. }))),
        "{s:?}\n{log}"
    );
    assert!(
        log.contains("ruri=sip:127.0.0.1:9"),
        "the REGISTER still names the registrar:\n{log}"
    );
    stop.cancel();
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("un-registers in time")
        .expect("task");
}
