//! The gate's decision for raw bytes: hand them on, answer them ourselves, or drop them.
//!
//! A request the gate refuses (bad syntax → 400, wrong version → 505, unknown method → 501, …)
//! still deserves an answer so the sender stops retransmitting; rsipstack never sees it. The
//! answer copies Via, From, To, Call-ID and CSeq from the request as received (RFC 3261 §8.2.6.2),
//! read leniently because the request may be broken. Without those headers nobody could match
//! the answer, so such a request is dropped.

use super::{Framing, Message, StartLine, Verdict, parse, verdict};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gate {
    /// A well-formed message the UA processes.
    Pass,
    /// Send these bytes back to the sender; do not process the message.
    Answer { status: u16, bytes: Vec<u8> },
    /// Neither process nor answer (bad responses, ACKs, requests we cannot even address).
    Drop { why: String },
}

/// Decides what happens to one arriving message.
pub fn gate(bytes: &[u8], framing: Framing, server: &str) -> Gate {
    match parse(bytes, framing) {
        Ok(msg) => match verdict(&msg) {
            Verdict::Process => Gate::Pass,
            Verdict::Drop => Gate::Drop {
                why: "a response that is not ours".into(),
            },
            Verdict::Reject {
                code,
                reason,
                extra,
            } => {
                if is_ack(&msg) {
                    return Gate::Drop {
                        why: format!("ACK that would need {code}"),
                    };
                }
                let extra = extra.map(|(n, v)| (n.to_owned(), v));
                answer(bytes, code, reason, extra.as_ref(), server)
            }
        },
        Err(e) => match e.status() {
            Some(code) => {
                let reason = if code == 505 {
                    "Version Not Supported"
                } else {
                    "Bad Request"
                };
                match answer(bytes, code, reason, None, server) {
                    Gate::Drop { why } => Gate::Drop {
                        why: format!("{e}; {why}"),
                    },
                    answered => answered,
                }
            }
            None => Gate::Drop { why: e.to_string() },
        },
    }
}

fn is_ack(msg: &Message) -> bool {
    matches!(&msg.start, StartLine::Request { method, .. } if method == "ACK")
}

/// Builds a response to the raw request in `bytes`, or says why it cannot.
fn answer(
    bytes: &[u8],
    code: u16,
    reason: &str,
    extra: Option<&(String, String)>,
    server: &str,
) -> Gate {
    let head_end = bytes
        .windows(2)
        .position(|w| w == b"\n\n")
        .or_else(|| bytes.windows(4).position(|w| w == b"\r\n\r\n"))
        .unwrap_or(bytes.len());
    let head = String::from_utf8_lossy(&bytes[..head_end]);
    let mut lines = head.lines();
    let start = lines.next().unwrap_or_default();
    if start.split_whitespace().next().unwrap_or_default() == "ACK" {
        return Gate::Drop {
            why: "an ACK is never answered".into(),
        };
    }
    let mut vias = Vec::new();
    let mut from = None;
    let mut to = None;
    let mut call_id = None;
    let mut cseq = None;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim().to_owned();
        match name.trim().to_ascii_lowercase().as_str() {
            "via" | "v" => vias.push(value),
            "from" | "f" if from.is_none() => from = Some(value),
            "to" | "t" if to.is_none() => to = Some(value),
            "call-id" | "i" if call_id.is_none() => call_id = Some(value),
            "cseq" if cseq.is_none() => cseq = Some(value),
            _ => {}
        }
    }
    let (Some(from), Some(to), Some(call_id), Some(cseq)) = (from, to, call_id, cseq) else {
        return Gate::Drop {
            why: "missing From, To, Call-ID or CSeq to answer with".into(),
        };
    };
    if vias.is_empty() {
        return Gate::Drop {
            why: "no Via to answer to".into(),
        };
    }
    let mut out = format!("SIP/2.0 {code} {reason}\r\n");
    for via in vias {
        out.push_str(&format!("Via: {via}\r\n"));
    }
    let to = if to.to_ascii_lowercase().contains(";tag=") {
        to
    } else {
        format!("{to};tag={:08x}", tag_for(call_id.as_bytes()))
    };
    out.push_str(&format!(
        "From: {from}\r\nTo: {to}\r\nCall-ID: {call_id}\r\nCSeq: {cseq}\r\n"
    ));
    if let Some((name, value)) = extra {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str(&format!("Server: {server}\r\nContent-Length: 0\r\n\r\n"));
    Gate::Answer {
        status: code,
        bytes: out.into_bytes(),
    }
}

/// A stable To tag for our answer, so retransmissions of the request get the same one.
fn tag_for(seed: &[u8]) -> u32 {
    // FNV-1a: cheap and deterministic; the tag only has to be unique per request.
    seed.iter().fold(0x811c_9dc5u32, |h, &b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPTIONS_FOO: &str = "FOO sip:bob@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:bob@127.0.0.1>\r\nCall-ID: c1\r\nCSeq: 1 FOO\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n";

    fn text(g: &Gate) -> String {
        match g {
            Gate::Answer { bytes, .. } => String::from_utf8_lossy(bytes).into_owned(),
            other => panic!("expected an answer, got {other:?}"),
        }
    }

    #[test]
    fn unknown_methods_are_answered_501_with_the_dialog_headers_copied() {
        let g = gate(OPTIONS_FOO.as_bytes(), Framing::Datagram, "Siperb");
        let t = text(&g);
        assert!(t.starts_with("SIP/2.0 501 Not Implemented\r\n"), "{t}");
        assert!(t.contains("Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1\r\n"));
        assert!(t.contains("CSeq: 1 FOO\r\n"));
        assert!(t.contains("To: <sip:bob@127.0.0.1>;tag="));
        // Our answer is itself a valid response.
        assert!(parse(t.as_bytes(), Framing::Datagram).is_ok());
    }

    #[test]
    fn the_same_request_gets_the_same_tag() {
        let a = text(&gate(OPTIONS_FOO.as_bytes(), Framing::Datagram, "S"));
        let b = text(&gate(OPTIONS_FOO.as_bytes(), Framing::Datagram, "S"));
        assert_eq!(a, b);
    }

    #[test]
    fn broken_requests_get_400_and_unaddressable_ones_are_dropped() {
        let bad = OPTIONS_FOO
            .replace("FOO sip", "INVITE sip")
            .replace("1 FOO", "1 INVITE")
            .replace("Max-Forwards: 70", "Max-Forwards: seventy");
        assert!(text(&gate(bad.as_bytes(), Framing::Datagram, "S")).starts_with("SIP/2.0 400 "));
        let no_via = bad.replace("Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1\r\n", "");
        assert!(matches!(
            gate(no_via.as_bytes(), Framing::Datagram, "S"),
            Gate::Drop { .. }
        ));
        let version = OPTIONS_FOO
            .replace(
                "FOO sip:bob@127.0.0.1 SIP/2.0",
                "OPTIONS sip:bob@127.0.0.1 SIP/7.0",
            )
            .replace("1 FOO", "1 OPTIONS");
        assert!(
            text(&gate(version.as_bytes(), Framing::Datagram, "S")).starts_with("SIP/2.0 505 ")
        );
    }

    #[test]
    fn acks_and_bad_responses_are_never_answered() {
        let ack = OPTIONS_FOO
            .replace("FOO sip", "ACK sip")
            .replace("1 FOO", "1 ACK")
            .replace("Max-Forwards: 70", "Max-Forwards: x");
        assert!(matches!(
            gate(ack.as_bytes(), Framing::Datagram, "S"),
            Gate::Drop { .. }
        ));
        assert!(matches!(
            gate(
                b"SIP/2.0 200 OK\r\nVia: garbage\r\n\r\n",
                Framing::Datagram,
                "S"
            ),
            Gate::Drop { .. }
        ));
    }

    #[test]
    fn valid_requests_pass() {
        let ok = OPTIONS_FOO
            .replace("FOO sip", "OPTIONS sip")
            .replace("1 FOO", "1 OPTIONS");
        assert_eq!(gate(ok.as_bytes(), Framing::Datagram, "S"), Gate::Pass);
    }
}
