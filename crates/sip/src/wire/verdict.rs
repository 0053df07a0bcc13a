//! What our user agent does with a well-formed message (RFC 3261 §8.2 request checks, in order).

use super::{Message, StartLine};

/// The methods our UA implements; anything else gets 501 (or 405 for ones a UA never serves).
const SUPPORTED: [&str; 11] = [
    "INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "INFO", "UPDATE", "REFER", "NOTIFY", "MESSAGE",
    "PRACK",
];
/// Known SIP methods a softphone does not serve: a registrar's or a presence server's job.
const NOT_ALLOWED: [&str; 3] = ["REGISTER", "SUBSCRIBE", "PUBLISH"];
/// Option tags we support (RFC 3261 §8.2.2.3: anything else in Require gets 420).
const OPTION_TAGS: [&str; 5] = ["replaces", "timer", "outbound", "path", "100rel"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Hand it to the stack.
    Process,
    /// Answer with this status and reason; `extra` is a header to add (Allow, Unsupported, Accept).
    Reject {
        code: u16,
        reason: &'static str,
        extra: Option<(&'static str, String)>,
    },
    /// Drop it without an answer.
    Drop,
}

fn reject(code: u16, reason: &'static str) -> Verdict {
    Verdict::Reject {
        code,
        reason,
        extra: None,
    }
}

pub fn verdict(msg: &Message) -> Verdict {
    let (method, uri) = match &msg.start {
        StartLine::Response { .. } => {
            // A response names the UA that sent the request in its only Via; more means it
            // was not meant for us (RFC 3261 §8.1.3.3, RFC 4475 `bcast`).
            let vias: usize = msg.header_values("via").map(|v| v.split(',').count()).sum();
            return if vias == 1 {
                Verdict::Process
            } else {
                Verdict::Drop
            };
        }
        StartLine::Request { method, uri } => (method.as_str(), uri.as_str()),
    };
    if NOT_ALLOWED.contains(&method) {
        return Verdict::Reject {
            code: 405,
            reason: "Method Not Allowed",
            extra: Some(("Allow", SUPPORTED.join(", "))),
        };
    }
    if !SUPPORTED.contains(&method) {
        return reject(501, "Not Implemented");
    }
    let scheme = uri
        .split(':')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    if !matches!(scheme.as_str(), "sip" | "sips" | "tel") {
        return reject(416, "Unsupported URI Scheme");
    }
    if method != "ACK" && method != "CANCEL" {
        let unsupported: Vec<&str> = msg
            .header_values("require")
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|t| !t.is_empty() && !OPTION_TAGS.iter().any(|o| o.eq_ignore_ascii_case(t)))
            .collect();
        if !unsupported.is_empty() {
            return Verdict::Reject {
                code: 420,
                reason: "Bad Extension",
                extra: Some(("Unsupported", unsupported.join(", "))),
            };
        }
    }
    if method == "INVITE" || method == "UPDATE" {
        if !msg.body.is_empty() {
            let ct = msg
                .header("content-type")
                .unwrap_or_default()
                .to_ascii_lowercase();
            let media = ct.split(';').next().unwrap_or_default().trim();
            if media != "application/sdp" && !media.starts_with("multipart/") {
                return Verdict::Reject {
                    code: 415,
                    reason: "Unsupported Media Type",
                    extra: Some(("Accept", "application/sdp".to_owned())),
                };
            }
        }
        let accepts: Vec<String> = msg
            .header_values("accept")
            .flat_map(|v| v.split(','))
            .map(|t| {
                t.split(';')
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .to_ascii_lowercase()
            })
            .filter(|t| !t.is_empty())
            .collect();
        if !accepts.is_empty()
            && !accepts
                .iter()
                .any(|a| a == "application/sdp" || a == "application/*" || a == "*/*")
        {
            // We can only answer with SDP, which the caller says it cannot read.
            return reject(488, "Not Acceptable Here");
        }
    }
    Verdict::Process
}
