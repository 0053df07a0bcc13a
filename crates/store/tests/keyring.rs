//! Passwords in a real OS keyring: GNOME Keyring's Secret Service in a private D-Bus session,
//! and the kernel's keyutils in a private session keyring. Each test re-runs itself inside
//! that session (so nothing touches the developer's own keyring).

use std::path::Path;
use std::process::Command;

use siperb_store::{KEYRING_ENV, Keyring, Profile, SecretError};

const INSIDE: &str = "SIPERB_KEYRING_TEST_INSIDE";
const PASSWORD: &str = "c0rrect-h0rse-battery";

/// True when this is the re-run inside the session; otherwise runs `test` there and checks
/// that it passed.
fn inside(test: &str, wrap: impl FnOnce(&Path, &str) -> Command) -> bool {
    if std::env::var_os(INSIDE).is_some() {
        return true;
    }
    let home = tempfile::tempdir().expect("temp dir");
    let exe = std::env::current_exe().expect("test binary");
    let out = wrap(
        home.path(),
        &format!("'{}' --exact {test} --nocapture", exe.display()),
    )
    .env(INSIDE, "1")
    .env("HOME", home.path())
    .env_remove("XDG_DATA_HOME")
    .env_remove("XDG_RUNTIME_DIR")
    .env_remove("DBUS_SESSION_BUS_ADDRESS")
    .output()
    .expect("start the session");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && text.contains("1 passed"),
        "inside the session:\n{text}"
    );
    false
}

fn profiles(dir: &Path) -> (Profile, Profile) {
    (Profile::at(&dir.join("one")), Profile::at(&dir.join("two")))
}

/// Stores, reads, replaces and deletes a password; another profile does not see it; no file
/// of the profile holds it.
fn round_trip(expected_kind: &str) {
    let dir = tempfile::tempdir().expect("temp dir");
    let (one, two) = profiles(dir.path());
    one.ensure().expect("profile");
    let keyring = Keyring::open(&one).expect("keyring");
    assert_eq!(keyring.kind(), expected_kind);
    assert_eq!(keyring.password("work").expect("read"), None);
    keyring.set_password("work", "first").expect("store");
    keyring.set_password("work", PASSWORD).expect("replace");
    assert_eq!(
        keyring.password("work").expect("read").as_deref(),
        Some(PASSWORD)
    );
    let other = Keyring::open(&two).expect("keyring");
    assert_eq!(
        other.password("work").expect("read"),
        None,
        "profiles share"
    );
    keyring.delete("work").expect("delete");
    keyring.delete("work").expect("deleting twice is fine");
    assert_eq!(keyring.password("work").expect("read"), None);
    for entry in walk(dir.path()) {
        let bytes = std::fs::read(&entry).unwrap_or_default();
        assert!(
            !String::from_utf8_lossy(&bytes).contains(PASSWORD),
            "{} holds the password",
            entry.display()
        );
    }
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn the_secret_service_keeps_passwords_per_profile() {
    let run = inside(
        "the_secret_service_keeps_passwords_per_profile",
        |_, cmd| {
            let mut c = Command::new("dbus-run-session");
            c.env_remove(KEYRING_ENV).args([
            "--",
            "sh",
            "-c",
            &format!(
                "printf 'unlock-pw' | gnome-keyring-daemon --unlock --components=secrets >/dev/null && exec {cmd}"
            ),
        ]);
            c
        },
    );
    if run {
        round_trip("Secret Service");
    }
}

#[test]
fn the_kernel_keyutils_store_works_when_chosen() {
    let run = inside("the_kernel_keyutils_store_works_when_chosen", |_, cmd| {
        let mut c = Command::new("keyctl");
        c.args(["session", "-", "sh", "-c", &format!("exec {cmd}")])
            .env(KEYRING_ENV, "keyutils");
        c
    });
    if run {
        round_trip("kernel keyutils");
    }
}

#[test]
fn without_a_keyring_the_error_says_so_and_nothing_is_written() {
    let run = inside(
        "without_a_keyring_the_error_says_so_and_nothing_is_written",
        |home, cmd| {
            let mut c = Command::new("sh");
            c.args(["-c", &format!("exec {cmd}")])
                .env_remove(KEYRING_ENV)
                .env(
                    "DBUS_SESSION_BUS_ADDRESS",
                    format!("unix:path={}/no-bus", home.display()),
                );
            c
        },
    );
    if run {
        let dir = tempfile::tempdir().expect("temp dir");
        let (one, _) = profiles(dir.path());
        let err = Keyring::open(&one).expect_err("no keyring");
        assert!(matches!(err, SecretError::Unavailable { .. }), "{err:?}");
        let text = err.to_string();
        assert!(
            text.starts_with("no keyring is available") && text.contains("--password-env"),
            "{text}"
        );
        let err = Keyring::open_backend(&one, "wallet").expect_err("unknown backend");
        assert!(err.to_string().contains("SIPERB_KEYRING=wallet"), "{err}");
        assert!(walk(dir.path()).is_empty());
    }
}
