//! `siperb-cli contacts …` on a profile of the test's own: add, list, search, remove, and a
//! vCard file imported (with the report of what was left out), exported and imported again.

use std::process::Command;

fn cli(profile: &std::path::Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_siperb-cli"))
        .env_remove("SIPERB_PROFILE")
        .arg("--profile")
        .arg(profile)
        .args(args)
        .output()
        .expect("siperb-cli");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn names(profile: &std::path::Path, args: &[&str]) -> Vec<String> {
    let (ok, out, err) = cli(profile, args);
    assert!(ok, "{args:?}: {err}");
    let list: Vec<serde_json::Value> = serde_json::from_str(&out).expect("JSON");
    list.iter()
        .filter_map(|c| c["name"].as_str().map(str::to_owned))
        .collect()
}

#[test]
fn contacts_are_added_searched_imported_and_exported() {
    let p = tempfile::tempdir().expect("profile");
    let (ok, out, err) = cli(
        p.path(),
        &[
            "contacts",
            "add",
            "Alice Smith",
            "--company",
            "Acme",
            "--phone",
            "mobile=07911 123456",
            "--sip",
            "sip:alice@pbx.example.com",
            "--favourite",
        ],
    );
    assert!(ok && out.contains("added contact"), "{out}{err}");
    let (ok, _, err) = cli(p.path(), &["contacts", "add", "Bob", "--phone", "2001"]);
    assert!(ok, "{err}");
    // Nothing to save: refused, with why.
    let (ok, _, err) = cli(p.path(), &["contacts", "add", " "]);
    assert!(
        !ok && err.contains("needs a name") && err.contains("[contact_empty]"),
        "{err}"
    );

    assert_eq!(
        names(p.path(), &["--json", "contacts", "list"]),
        ["Alice Smith", "Bob"]
    );
    assert_eq!(
        names(p.path(), &["--json", "contacts", "search", "1234"]),
        ["Alice Smith"]
    );
    assert_eq!(
        names(p.path(), &["--json", "contacts", "search", "acm"]),
        ["Alice Smith"]
    );
    assert_eq!(
        names(p.path(), &["--json", "contacts", "search", "200"]),
        ["Bob"]
    );

    // Import: two cards taken, one without anything usable skipped, e-mail left out.
    let dir = tempfile::tempdir().expect("dir");
    let vcf = dir.path().join("in.vcf");
    std::fs::write(
        &vcf,
        "BEGIN:VCARD\r\nVERSION:3.0\r\nN:Jones;Carol;;;\r\nTEL;TYPE=CELL:+44 7700 900123\r\n\
         EMAIL:carol@example.com\r\nEND:VCARD\r\n\
         BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Front Desk\r\nIMPP:sip:desk@pbx\r\nEND:VCARD\r\n\
         BEGIN:VCARD\r\nVERSION:4.0\r\nEMAIL:x@example.com\r\nEND:VCARD\r\n",
    )
    .expect("vcf");
    let (ok, out, err) = cli(
        p.path(),
        &["contacts", "import", vcf.to_str().expect("path")],
    );
    assert!(ok, "{err}");
    assert!(out.contains("imported 2 contact(s)"), "{out}");
    assert!(out.contains("skipped card 3: no name"), "{out}");
    assert!(out.contains("left out 2 EMAIL"), "{out}");
    assert_eq!(names(p.path(), &["--json", "contacts", "list"]).len(), 4);

    // Export, then into a fresh profile: the same contacts.
    let out_vcf = dir.path().join("out.vcf");
    let (ok, out, err) = cli(
        p.path(),
        &["contacts", "export", out_vcf.to_str().expect("path")],
    );
    assert!(ok && out.contains("exported 4 contact(s)"), "{out}{err}");
    let text = std::fs::read_to_string(&out_vcf).expect("exported");
    assert_eq!(text.matches("BEGIN:VCARD").count(), 4);
    let q = tempfile::tempdir().expect("profile");
    let (ok, _, err) = cli(
        q.path(),
        &["contacts", "import", out_vcf.to_str().expect("path")],
    );
    assert!(ok, "{err}");
    let (_, a, _) = cli(p.path(), &["--json", "contacts", "list"]);
    let (_, b, _) = cli(q.path(), &["--json", "contacts", "list"]);
    let strip_ids = |s: &str| -> Vec<serde_json::Value> {
        let mut v: Vec<serde_json::Value> = serde_json::from_str(s).expect("JSON");
        for c in &mut v {
            c["id"] = serde_json::Value::Null;
        }
        v
    };
    assert_eq!(
        strip_ids(&a),
        strip_ids(&b),
        "the round trip keeps everything"
    );

    // Remove.
    let list: Vec<serde_json::Value> =
        serde_json::from_str(&cli(p.path(), &["--json", "contacts", "list"]).1).expect("JSON");
    let bob = list.iter().find(|c| c["name"] == "Bob").expect("bob")["id"].to_string();
    let (ok, _, err) = cli(p.path(), &["contacts", "remove", &bob]);
    assert!(ok, "{err}");
    assert_eq!(names(p.path(), &["--json", "contacts", "list"]).len(), 3);
    let (ok, _, err) = cli(p.path(), &["contacts", "remove", &bob]);
    assert!(!ok && err.contains("no contact"), "{err}");
}
