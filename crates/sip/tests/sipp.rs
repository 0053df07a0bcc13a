//! Scenarios against the real SIPp (Debian package sip-tester) on loopback.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use siperb_sip::ua::{SipEndpoint, registrar_address};
use siperb_sip::{AccountConfig, AccountId, RegistrationFailure, RegistrationState};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

fn scenario(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("../../tests/peers/sipp/{name}"))
}

fn free_udp_port() -> u16 {
    let s = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    s.local_addr().expect("addr").port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registrar_answering_403_is_forbidden_once_not_a_retry_storm() {
    let port = free_udp_port();
    let dir = tempfile::tempdir().expect("dir");
    let errors = dir.path().join("errors.log");
    let mut sipp = Command::new("sipp")
        .args([
            "-i",
            "127.0.0.1",
            "-mi",
            "127.0.0.1",
            "-m",
            "1",
            "-nostdin",
            "-p",
        ])
        .arg(port.to_string())
        .arg("-sf")
        .arg(scenario("register_403.xml"))
        .arg("-trace_err")
        .arg("-error_file")
        .arg(&errors)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start sipp (Debian package sip-tester)");
    tokio::time::sleep(Duration::from_millis(300)).await;

    let endpoint = SipEndpoint::bind_udp("127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("bind");
    let mut account =
        AccountConfig::new(AccountId("t".into()), "sip:alice@127.0.0.1").expect("account");
    account.registrar = Some(format!("127.0.0.1:{port}"));
    let registrar = registrar_address(&account).await.expect("registrar");
    let (tx, mut rx) = mpsc::channel(16);
    let stop = CancellationToken::new();
    let stop2 = stop.clone();
    let task = tokio::spawn(async move {
        endpoint
            .run_registration(&account, registrar, "pw".into(), 9, tx, stop2)
            .await
            .expect("runs");
    });
    let mut next = async || {
        tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .expect("a state in time")
            .expect("open")
    };
    assert_eq!(next().await, RegistrationState::Registering);
    assert_eq!(
        next().await,
        RegistrationState::Failed {
            failure: RegistrationFailure::Forbidden
        }
    );
    // SIPp saw its one REGISTER and finished the scenario cleanly.
    let status = tokio::task::spawn_blocking(move || sipp.wait())
        .await
        .expect("join")
        .expect("wait");
    assert!(
        status.success(),
        "sipp: {status:?}\n{}",
        std::fs::read_to_string(&errors).unwrap_or_default()
    );
    // And nothing follows: a refused account is not retried (no storm) until the user acts.
    let catcher = tokio::net::UdpSocket::bind(("127.0.0.1", port))
        .await
        .expect("rebind the registrar port");
    let mut buf = [0u8; 2048];
    let extra = tokio::time::timeout(Duration::from_secs(4), catcher.recv_from(&mut buf)).await;
    assert!(
        extra.is_err(),
        "a REGISTER after 403: {}",
        extra
            .ok()
            .and_then(Result::ok)
            .map(|(n, _)| String::from_utf8_lossy(&buf[..n]).into_owned())
            .unwrap_or_default()
    );
    stop.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
}
