//! Runs a keyring test inside a private session, so nothing touches the developer's own
//! keyring: the test binary re-runs the one test there and checks that it passed.
// Shared by the store's and the CLI's keyring tests; each uses a part.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// Set in the re-run.
const INSIDE: &str = "SIPERB_KEYRING_TEST_INSIDE";

/// Where the re-run happens.
pub(crate) enum Session {
    /// A private D-Bus session with an unlocked GNOME Keyring (the Secret Service).
    SecretService,
    /// A private kernel session keyring, chosen with `SIPERB_KEYRING=keyutils`.
    Keyutils,
    /// No session bus at all: no keyring can be reached.
    NoBus,
}

/// True when this is the re-run inside `session`; otherwise runs `test` there, checks that it
/// passed, and returns false.
pub(crate) fn inside(test: &str, session: Session) -> bool {
    if std::env::var_os(INSIDE).is_some() {
        return true;
    }
    let home = tempfile::tempdir().expect("temp dir");
    let exe = std::env::current_exe().expect("test binary");
    let run = format!("exec '{}' --exact {test} --nocapture", exe.display());
    let mut cmd = match session {
        Session::SecretService => {
            let mut c = Command::new("dbus-run-session");
            c.args([
                "--",
                "sh",
                "-c",
                &format!(
                    "printf 'unlock-pw' | gnome-keyring-daemon --unlock --components=secrets >/dev/null && {run}"
                ),
            ]);
            c
        }
        Session::Keyutils => {
            let mut c = Command::new("keyctl");
            c.args(["session", "-", "sh", "-c", &run]);
            c
        }
        Session::NoBus => {
            let mut c = Command::new("sh");
            c.args(["-c", &run]);
            c
        }
    };
    cmd.env(INSIDE, "1")
        .env("HOME", home.path())
        .env_remove("XDG_DATA_HOME")
        .env_remove("XDG_RUNTIME_DIR")
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .env_remove("SIPERB_KEYRING");
    match session {
        Session::Keyutils => {
            cmd.env("SIPERB_KEYRING", "keyutils");
        }
        Session::NoBus => {
            cmd.env(
                "DBUS_SESSION_BUS_ADDRESS",
                format!("unix:path={}/no-bus", home.path().display()),
            );
        }
        Session::SecretService => {}
    }
    let out = cmd.output().expect("start the session");
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

/// Every file under `dir`, to check none holds a secret.
pub(crate) fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}
