//! Passwords in a real OS keyring: GNOME Keyring's Secret Service in a private D-Bus session,
//! and the kernel's keyutils in a private session keyring. Each test re-runs itself inside
//! that session (so nothing touches the developer's own keyring).

mod support;

use std::path::Path;

use siperb_store::{Keyring, Profile, SecretError};
use support::session::{Session, files_under, inside};

const PASSWORD: &str = "c0rrect-h0rse-battery";

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
    for entry in files_under(dir.path()) {
        let bytes = std::fs::read(&entry).unwrap_or_default();
        assert!(
            !String::from_utf8_lossy(&bytes).contains(PASSWORD),
            "{} holds the password",
            entry.display()
        );
    }
}

#[test]
fn the_secret_service_keeps_passwords_per_profile() {
    let run = inside(
        "the_secret_service_keeps_passwords_per_profile",
        Session::SecretService,
    );
    if run {
        round_trip("Secret Service");
    }
}

#[test]
fn the_kernel_keyutils_store_works_when_chosen() {
    let run = inside(
        "the_kernel_keyutils_store_works_when_chosen",
        Session::Keyutils,
    );
    if run {
        round_trip("kernel keyutils");
    }
}

#[test]
fn without_a_keyring_the_error_says_so_and_nothing_is_written() {
    let run = inside(
        "without_a_keyring_the_error_says_so_and_nothing_is_written",
        Session::NoBus,
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
        assert!(files_under(dir.path()).is_empty());
    }
}
