//! The CLI as a script uses it: the real binary, a temp profile.

use std::process::Command;

fn cli() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_siperb-cli"));
    c.env_remove("SIPERB_PROFILE");
    c
}

fn stdout(c: &mut Command) -> String {
    let out = c.output().expect("run siperb-cli");
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

#[test]
fn version_and_help() {
    assert_eq!(
        stdout(cli().arg("--version")).trim(),
        format!("siperb-cli {}", env!("CARGO_PKG_VERSION"))
    );
    let help = stdout(cli().arg("--help"));
    assert!(help.contains("--profile <DIR>"), "{help}");
    assert!(help.contains("status"), "{help}");
}

#[test]
fn status_of_a_new_profile_says_no_account() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let text = stdout(cli().arg("--profile").arg(tmp.path()).arg("status"));
    assert!(text.contains("state: No account"), "{text}");
    let json: serde_json::Value = serde_json::from_str(&stdout(
        cli()
            .arg("--profile")
            .arg(tmp.path())
            .args(["status", "--json"]),
    ))
    .expect("json");
    assert_eq!(json["summary"]["state"], "noAccount");
    assert_eq!(json["accounts"].as_array().map(Vec::len), Some(0));
}

#[test]
fn profile_env_and_flag_share_settings() {
    let tmp = tempfile::tempdir().expect("temp dir");
    stdout(
        cli()
            .env("SIPERB_PROFILE", tmp.path())
            .args(["settings", "theme", "dark"]),
    );
    let shown = stdout(
        cli()
            .arg("--profile")
            .arg(tmp.path())
            .args(["settings", "show"]),
    );
    assert!(shown.contains("\"theme\": \"dark\""), "{shown}");
}

#[test]
fn bad_arguments_are_explained() {
    let out = cli()
        .args(["settings", "theme", "purple"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("invalid value 'purple'"), "{err}");
}

#[test]
fn an_unusable_profile_is_a_clear_error() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let file = tmp.path().join("not-a-folder");
    std::fs::write(&file, b"x").expect("write");
    let out = cli()
        .arg("--profile")
        .arg(&file)
        .arg("status")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot create the profile folder") && err.contains("[profile_unavailable]"),
        "{err}"
    );
}

/// An account's codec order and SRTP choice are kept with it (and a codec given twice once).
#[test]
fn account_media_choices_are_saved() {
    let profile = tempfile::tempdir().expect("dir");
    stdout(
        cli()
            .arg("--profile")
            .arg(profile.path())
            .args(["account", "add", "pbx", "--uri", "sip:1001@127.0.0.1"])
            .args(["--codecs", "g722,pcmu,g722", "--srtp", "required"])
            .args(["--rtp-ports", "30000-30099"]),
    );
    let list = stdout(
        cli()
            .arg("--profile")
            .arg(profile.path())
            .args(["--json", "account", "list"]),
    );
    let accounts: serde_json::Value = serde_json::from_str(&list).expect("json");
    assert_eq!(
        accounts[0]["media"],
        serde_json::json!({
            "codecs": ["g722", "pcmu"],
            "srtp": "required",
            "rtpPorts": {"first": 30000, "last": 30099}
        }),
        "{list}"
    );
    let bad = cli()
        .arg("--profile")
        .arg(profile.path())
        .args(["account", "add", "x", "--uri", "sip:1@h", "--codecs", "gsm"])
        .output()
        .expect("run");
    assert_eq!(bad.status.code(), Some(2));
    // A port range that holds no RTP/RTCP pair is refused with the reason.
    let bad = cli()
        .arg("--profile")
        .arg(profile.path())
        .args([
            "account",
            "add",
            "x",
            "--uri",
            "sip:1@h",
            "--rtp-ports",
            "5001-5002",
        ])
        .output()
        .expect("run");
    assert_eq!(bad.status.code(), Some(2));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("5001-5002") && err.contains("even port"),
        "{err}"
    );
}

/// An unknown sound system in SIPERB_AUDIO_HOST is said plainly (a warning naming the setting);
/// the call still runs, with silence.
#[test]
fn an_unknown_sound_system_is_named_and_the_call_still_runs() {
    let profile = tempfile::tempdir().expect("dir");
    let out = cli()
        .arg("--profile")
        .arg(profile.path())
        .args(["--json", "call", "echo", "--duration", "1"])
        .env("SIPERB_AUDIO_HOST", "bogus")
        .output()
        .expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("\"established\""), "{stdout}");
    assert!(
        stderr.contains("WARN") && stderr.contains("SIPERB_AUDIO_HOST=bogus is not known"),
        "{stderr}"
    );
}
