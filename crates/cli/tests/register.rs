//! `siperb-cli account add` + `register` against a real Kamailio, as a script would use them.

#[path = "../../sip/tests/support/dnsmasq.rs"]
mod dnsmasq;
#[path = "../../sip/tests/support/kamailio.rs"]
mod kamailio;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use kamailio::{Kamailio, PASSWORD, USER};

fn cli(profile: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_siperb-cli"));
    c.env_remove("SIPERB_PROFILE").arg("--profile").arg(profile);
    c
}

fn add_account(profile: &std::path::Path, port: u16) {
    add_account_with(profile, &format!("sip:127.0.0.1:{port}"), &[]);
}

fn add_account_with(profile: &std::path::Path, server: &str, extra: &[&str]) {
    let out = cli(profile)
        .args([
            "account",
            "add",
            "work",
            "--uri",
            &format!("sip:{USER}@127.0.0.1"),
        ])
        .args(["--server", server])
        .args(extra)
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list = cli(profile)
        .args(["--json", "account", "list"])
        .output()
        .expect("run");
    let accounts: serde_json::Value = serde_json::from_slice(&list.stdout).expect("json");
    assert_eq!(accounts[0]["id"], "work");
}

/// Starts `register --json`, returns the child and a channel of its stdout lines.
fn register(
    profile: &std::path::Path,
    password: &str,
) -> (std::process::Child, mpsc::Receiver<String>) {
    register_with(profile, password, &[])
}

/// [`register`] with more global options (before the subcommand).
fn register_with(
    profile: &std::path::Path,
    password: &str,
    global: &[&str],
) -> (std::process::Child, mpsc::Receiver<String>) {
    let mut child = cli(profile)
        .args(global)
        .args(["--json", "register", "--password-env", "TEST_SIP_PASSWORD"])
        .env("TEST_SIP_PASSWORD", password)
        .env("SIPERB_LOG", "debug")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take().expect("stdout");
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    (child, rx)
}

fn wait_for(rx: &mpsc::Receiver<String>, event: &str) -> serde_json::Value {
    loop {
        let line = rx
            .recv_timeout(Duration::from_secs(15))
            .unwrap_or_else(|_| panic!("no {event} event"));
        let v: serde_json::Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("{line}: {e}"));
        if v["event"] == event {
            return v;
        }
    }
}

#[test]
fn registers_until_interrupted_then_unregisters() {
    let kamailio = Kamailio::start("SHA-256");
    let profile = tempfile::tempdir().expect("temp dir");
    add_account(profile.path(), kamailio.port);
    let (child, rx) = register(profile.path(), PASSWORD);
    wait_for(&rx, "registering");
    let registered = wait_for(&rx, "registered");
    assert_eq!(registered["account"], "work");
    // Ctrl+C: un-register and exit cleanly.
    Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    let out = child.wait_with_output().expect("wait");
    assert!(out.status.success(), "exit {:?}", out.status);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains(PASSWORD),
        "the password must not be logged"
    );
    let log = kamailio.log_text();
    assert!(!log.is_empty());
}

#[test]
fn a_wrong_password_exits_with_a_clear_error() {
    let kamailio = Kamailio::start("MD5");
    let profile = tempfile::tempdir().expect("temp dir");
    add_account(profile.path(), kamailio.port);
    let (child, rx) = register(profile.path(), "wrong-password");
    let failed = wait_for(&rx, "registration_failed");
    assert!(
        failed["reason"]
            .as_str()
            .unwrap_or_default()
            .starts_with("authentication failed"),
        "{failed}"
    );
    let out = child.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("registration failed: authentication failed")
            && stderr.contains("[registration_failed]"),
        "{stderr}"
    );
    assert!(!stderr.contains("wrong-password"));
}

#[test]
fn register_without_the_password_variable_says_so() {
    let profile = tempfile::tempdir().expect("temp dir");
    add_account(profile.path(), 5060);
    let out = cli(profile.path())
        .args(["register", "--password-env", "NOT_SET_ANYWHERE"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("NOT_SET_ANYWHERE is not set"));
}

#[test]
fn registers_over_tls_trusting_the_given_ca_file() {
    let kamailio = Kamailio::start("SHA-256");
    let profile = tempfile::tempdir().expect("temp dir");
    let ca = kamailio.ca_file.display().to_string();
    add_account_with(
        profile.path(),
        &format!("sip:127.0.0.1:{}", kamailio.tls_port),
        &["--transport", "tls", "--ca-file", &ca],
    );
    let (child, rx) = register(profile.path(), PASSWORD);
    let registered = wait_for(&rx, "registered");
    assert_eq!(registered["account"], "work");
    Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    let out = child.wait_with_output().expect("wait");
    assert!(out.status.success(), "exit {:?}", out.status);
    assert!(kamailio.log_text().contains("proto=tls"));
}

#[test]
fn a_missing_ca_file_is_refused_when_the_account_is_added() {
    let profile = tempfile::tempdir().expect("temp dir");
    let out = cli(profile.path())
        .args(["account", "add", "work", "--uri", "sip:a@127.0.0.1"])
        .args(["--transport", "tls", "--ca-file", "/nonexistent/ca.pem"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot use the CA file /nonexistent/ca.pem")
            && stderr.contains("[ca_file]"),
        "{stderr}"
    );
}

/// The account names a domain; its servers come from SRV records on the name server given
/// with `--dns-server`. A name that does not exist is reported and retried, not fatal.
#[test]
fn finds_the_registrar_through_srv_records_on_the_given_name_server() {
    let kamailio = Kamailio::start("MD5");
    let zone = dnsmasq::ZONE;
    let dns = dnsmasq::Dnsmasq::start(&[
        format!("--host-record=pbx.{zone},127.0.0.1"),
        format!(
            "--srv-host=_sip._udp.{zone},pbx.{zone},{},10,10",
            kamailio.port
        ),
    ]);
    let server = dns.addr.to_string();
    let profile = tempfile::tempdir().expect("temp dir");
    add_account_with(profile.path(), &format!("sip:{zone}"), &[]);
    let (mut child, rx) = register_with(profile.path(), PASSWORD, &["--dns-server", &server]);
    let registered = wait_for(&rx, "registered");
    assert_eq!(registered["account"], "work");
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        dns.log_text()
            .contains(&format!("query[SRV] _sip._udp.{zone}"))
    );

    let missing = tempfile::tempdir().expect("temp dir");
    add_account_with(missing.path(), &format!("sip:nowhere.{zone}"), &[]);
    let (mut child, rx) = register_with(missing.path(), PASSWORD, &["--dns-server", &server]);
    let failed = wait_for(&rx, "registration_failed");
    let reason = failed["reason"].as_str().unwrap_or_default();
    assert!(
        reason.starts_with("server name not found") && reason.contains(&format!("nowhere.{zone}")),
        "{failed}"
    );
    // Still running: the name is looked up again after a back-off.
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        child.try_wait().expect("wait").is_none(),
        "register gave up"
    );
    let _ = child.kill();
    let _ = child.wait();

    let out = cli(profile.path())
        .args(["--dns-server", "not-an-ip", "status"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("'not-an-ip' is not an IP address or IP:PORT")
    );
}

/// A test server's certificate can be accepted unchecked when the user says so; by default
/// the same server is refused with the reason.
#[test]
fn tls_verification_is_on_unless_switched_off_for_the_account() {
    let kamailio = Kamailio::start("MD5");
    let server = format!("sip:127.0.0.1:{}", kamailio.tls_port);
    let checked = tempfile::tempdir().expect("temp dir");
    add_account_with(checked.path(), &server, &["--transport", "tls"]);
    let (mut child, rx) = register(checked.path(), PASSWORD);
    let failed = wait_for(&rx, "registration_failed");
    let reason = failed["reason"].as_str().unwrap_or_default();
    assert!(
        reason.starts_with("secure connection failed") && reason.contains("UnknownIssuer"),
        "{failed}"
    );
    let _ = child.kill();
    let _ = child.wait();

    let unchecked = tempfile::tempdir().expect("temp dir");
    add_account_with(
        unchecked.path(),
        &server,
        &["--transport", "tls", "--tls-no-verify"],
    );
    let list = cli(unchecked.path())
        .args(["--json", "account", "list"])
        .output()
        .expect("run");
    let accounts: serde_json::Value = serde_json::from_slice(&list.stdout).expect("json");
    assert_eq!(accounts[0]["tls"]["verifyServer"], false, "{accounts}");
    let (mut child, rx) = register(unchecked.path(), PASSWORD);
    wait_for(&rx, "registered");
    let _ = child.kill();
    let _ = child.wait();
}
