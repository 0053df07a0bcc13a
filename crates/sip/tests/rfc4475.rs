//! RFC 4475 torture messages through our gate (`wire::parse` + `wire::verdict`) and rsipstack.
//! Valid messages must pass, invalid ones must be refused as the RFC says, nothing may panic.
//! The messages are read from ../shared/testdata/rfc4475 (not copied into the project).

use std::panic::catch_unwind;
use std::path::PathBuf;

use siperb_sip::wire::{self, Framing, Verdict};

/// What the RFC expects our UA to do with each message.
const EXPECTED: &[(&str, &str)] = &[
    // 3.1.1 valid messages
    ("wsinv", "process"),
    ("intmeth", "answer 501"),
    ("esc01", "process"),
    ("escnull", "answer 405"),
    ("esc02", "answer 501"),
    ("lwsdisp", "process"),
    ("longreq", "process"),
    ("dblreq", "answer 405"),
    ("semiuri", "process"),
    ("transports", "process"),
    ("mpart01", "process"),
    ("unreason", "process"),
    ("noreason", "process"),
    // 3.1.2 invalid messages: requests get 400 (505 for the version), responses are dropped
    ("badinv01", "reject 400"),
    ("clerr", "reject 400"),
    ("ncl", "reject 400"),
    ("scalar02", "reject 400"),
    ("scalarlg", "reject drop"),
    ("quotbal", "reject 400"),
    ("ltgtruri", "reject 400"),
    ("lwsruri", "reject 400"),
    ("lwsstart", "reject 400"),
    ("trws", "reject 400"),
    ("escruri", "reject 400"),
    ("baddate", "reject 400"),
    ("regbadct", "reject 400"),
    ("badaspec", "reject 400"),
    ("baddn", "reject 400"),
    ("badvers", "reject 505"),
    ("mismatch01", "reject 400"),
    ("mismatch02", "reject 400"),
    ("bigcode", "reject drop"),
    // 3.2 transaction layer
    ("badbranch", "process"),
    // 3.3 application layer
    ("insuf", "reject 400"),
    ("unkscm", "answer 416"),
    ("novelsc", "answer 416"),
    ("unksm2", "answer 405"),
    ("bext01", "answer 420"),
    ("invut", "answer 415"),
    ("regaut01", "answer 405"),
    ("multi01", "reject 400"),
    ("mcl01", "reject 400"),
    ("bcast", "drop"),
    ("zeromf", "process"),
    ("cparam01", "answer 405"),
    ("cparam02", "answer 405"),
    ("regescrt", "answer 405"),
    ("sdp01", "answer 488"),
    // 3.4 backward compatibility
    ("inv2543", "process"),
];

fn corpus() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/testdata/rfc4475")
}

fn outcome(bytes: &[u8]) -> String {
    match wire::parse(bytes, Framing::Datagram) {
        Err(e) => match e.status() {
            Some(code) => format!("reject {code}"),
            None => "reject drop".to_owned(),
        },
        Ok(msg) => match wire::verdict(&msg) {
            Verdict::Process => "process".to_owned(),
            Verdict::Drop => "drop".to_owned(),
            Verdict::Reject { code, .. } => format!("answer {code}"),
        },
    }
}

#[test]
fn rfc4475_torture_messages() {
    let dir = corpus();
    assert!(
        dir.is_dir(),
        "the RFC 4475 messages are expected at {}",
        dir.display()
    );
    let mut table = Vec::new();
    let mut wrong = Vec::new();
    for (name, expected) in EXPECTED {
        let bytes = std::fs::read(dir.join(format!("{name}.dat"))).expect("read message");
        let ours = catch_unwind(|| outcome(&bytes)).unwrap_or_else(|_| "PANIC".to_owned());
        // What we pass on must also be readable by rsipstack, which runs the transactions.
        let stack = catch_unwind(|| rsipstack::sip::SipMessage::try_from(bytes.as_slice()).is_ok())
            .map_or("PANIC", |ok| if ok { "parses" } else { "refuses" });
        table.push(format!(
            "{name:10} expected {expected:12} ours {ours:12} rsipstack {stack}"
        ));
        if ours != *expected || stack == "PANIC" || (ours == "process" && stack != "parses") {
            wrong.push(name);
        }
    }
    println!("{}", table.join("\n"));
    assert!(
        wrong.is_empty(),
        "not as RFC 4475 expects: {wrong:?}\n{}",
        table.join("\n")
    );
    let files = std::fs::read_dir(&dir).expect("list").filter(|e| {
        e.as_ref()
            .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "dat"))
    });
    assert_eq!(
        files.count(),
        EXPECTED.len(),
        "every message in the corpus is in the table"
    );
}

#[test]
fn datagrams_ignore_bytes_past_content_length() {
    let bytes = std::fs::read(corpus().join("dblreq.dat")).expect("read");
    let first = wire::parse(&bytes, Framing::Datagram).expect("first request");
    assert!(first.body.is_empty());
    assert!(
        first.consumed < bytes.len(),
        "the second request is not part of the first"
    );
}

#[test]
fn truncated_or_garbled_input_never_panics() {
    let bytes = std::fs::read(corpus().join("wsinv.dat")).expect("read");
    for cut in 0..bytes.len() {
        let _ = wire::parse(&bytes[..cut], Framing::Stream);
        let _ = wire::parse(&bytes[..cut], Framing::Datagram);
    }
    let mut x: u32 = 12345;
    for _ in 0..2000 {
        let mut m = bytes.clone();
        for _ in 0..8 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let i = x as usize % m.len();
            m[i] = (x >> 8) as u8;
        }
        let _ = wire::parse(&m, Framing::Datagram);
    }
}
