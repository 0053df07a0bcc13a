//! Registration against a real Kamailio over UDP, with MD5 and SHA-256 digest.

mod support;

use std::time::Duration;

use siperb_sip::ua::SipEndpoint;
use siperb_sip::{AccountConfig, AccountId, RegistrationFailure, RegistrationState};
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
    let endpoint = SipEndpoint::bind_udp("127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("bind");
    let mut account = AccountConfig::new(AccountId("t".into()), &format!("sip:{USER}@127.0.0.1"))
        .expect("account");
    account.registrar = Some(format!("127.0.0.1:{}", kamailio.port));
    let (tx, mut rx) = mpsc::channel(16);
    let stop = CancellationToken::new();
    let stop2 = stop.clone();
    let password = password.to_owned();
    let task = tokio::spawn(async move {
        endpoint
            .run_registration(&account, password, 0x5eed, tx, stop2)
            .await
            .expect("registration runs");
    });
    let mut states = vec![next_state(&mut rx).await];
    states.push(next_state(&mut rx).await);
    (states, stop, task)
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
