//! `account add --password-stdin` keeps the password in the OS keyring (GNOME Keyring's Secret
//! Service in a private D-Bus session), `register` takes it from there, and it is in no file
//! or output; `account remove` forgets it. Without a keyring the add fails and changes nothing.

#[path = "../../sip/tests/support/kamailio.rs"]
mod kamailio;
#[path = "../../store/tests/support/session.rs"]
mod session;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kamailio::{Kamailio, PASSWORD, USER};
use session::{Session, files_under, inside};

fn cli(profile: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_siperb-cli"));
    c.env_remove("SIPERB_PROFILE")
        .env_remove("SIPERB_PASSWORD")
        .env_remove("SIPERB_KEYRING")
        .arg("--profile")
        .arg(profile);
    c
}

fn add_with_password(profile: &Path, port: u16, password: &str) -> std::process::Output {
    let mut child = cli(profile)
        .args([
            "account",
            "add",
            "work",
            "--uri",
            &format!("sip:{USER}@127.0.0.1"),
        ])
        .args([
            "--server",
            &format!("sip:127.0.0.1:{port}"),
            "--password-stdin",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(format!("{password}\n").as_bytes())
        .expect("write");
    child.wait_with_output().expect("wait")
}

#[test]
fn a_password_from_stdin_is_kept_in_the_keyring_and_used_to_register() {
    if !inside(
        "a_password_from_stdin_is_kept_in_the_keyring_and_used_to_register",
        Session::SecretService,
    ) {
        return;
    }
    let kamailio = Kamailio::start("SHA-256");
    let profile = tempfile::tempdir().expect("temp dir");
    let out = add_with_password(profile.path(), kamailio.port, PASSWORD);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // No --password-env and no SIPERB_PASSWORD: the keyring has it.
    let mut child = cli(profile.path())
        .args(["--json", "register"])
        .env("SIPERB_LOG", "debug")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("register");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut seen = Vec::new();
    loop {
        assert!(Instant::now() < deadline, "not registered: {seen:?}");
        let line = lines.next().expect("a line").expect("utf-8");
        if line.contains("\"registered\"") {
            break;
        }
        assert!(!line.contains("registration_failed"), "{line}");
        seen.push(line);
    }
    Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    let out = child.wait_with_output().expect("wait");
    assert!(out.status.success());
    let logged = String::from_utf8_lossy(&out.stderr);
    assert!(!logged.contains(PASSWORD), "the password was logged");
    for file in files_under(profile.path()) {
        let text = String::from_utf8_lossy(&std::fs::read(&file).unwrap_or_default()).into_owned();
        assert!(
            !text.contains(PASSWORD),
            "{} holds the password",
            file.display()
        );
    }

    // Removing the account forgets its password: a new account of that name has none.
    let out = cli(profile.path())
        .args(["account", "remove", "work"])
        .output()
        .expect("remove");
    assert!(out.status.success());
    let out = cli(profile.path())
        .args([
            "account",
            "add",
            "work",
            "--uri",
            &format!("sip:{USER}@127.0.0.1"),
        ])
        .args(["--server", &format!("sip:127.0.0.1:{}", kamailio.port)])
        .output()
        .expect("add");
    assert!(out.status.success());
    let out = cli(profile.path())
        .arg("register")
        .output()
        .expect("register");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no password is stored for \"work\"")
            && stderr.contains("[password_missing]"),
        "{stderr}"
    );
}

#[test]
fn without_a_keyring_password_stdin_fails_and_adds_nothing() {
    if !inside(
        "without_a_keyring_password_stdin_fails_and_adds_nothing",
        Session::NoBus,
    ) {
        return;
    }
    let profile = tempfile::tempdir().expect("temp dir");
    let out = add_with_password(profile.path(), 5060, PASSWORD);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no keyring is available") && stderr.contains("[keyring_unavailable]"),
        "{stderr}"
    );
    let list = cli(profile.path())
        .args(["--json", "account", "list"])
        .output()
        .expect("list");
    assert_eq!(String::from_utf8_lossy(&list.stdout).trim(), "[]");
    for file in files_under(profile.path()) {
        let text = String::from_utf8_lossy(&std::fs::read(&file).unwrap_or_default()).into_owned();
        assert!(
            !text.contains(PASSWORD),
            "{} holds the password",
            file.display()
        );
    }
    // An empty line is not a password.
    let out = add_with_password(profile.path(), 5060, "");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("[password_input]"));
}
