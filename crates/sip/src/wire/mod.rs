//! Strict framing and validation of SIP messages as they arrive, before rsipstack sees them.
//!
//! Why this exists: rsipstack 0.7 parses many of the invalid messages of RFC 4475 §3.1.2 as if
//! they were fine (bad display names, `<>` in the Request-URI, overlarge numbers, Content-Length
//! larger than the message...) and refuses valid ones with methods it does not know (RFC 4475
//! `intmeth`, `esc02`), so our UA could neither reject the former with 400 nor answer the latter
//! with 501. This module is the gate: it frames the message, unfolds headers, checks the start
//! line and the headers the UA relies on, and says which response a bad request deserves.

mod answer;
mod grammar;
mod headers;
mod verdict;

pub use answer::{Gate, gate};
pub use verdict::{Verdict, verdict};

/// How the bytes arrived: a datagram holds exactly one message; a stream is framed by
/// Content-Length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    Datagram,
    Stream,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartLine {
    Request { method: String, uri: String },
    Response { code: u16, reason: String },
}

/// One header line after unfolding, with its canonical (long-form, lower-case) name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderLine {
    pub name: String,
    pub value: String,
}

/// A message that passed the gate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub start: StartLine,
    pub headers: Vec<HeaderLine>,
    pub body: Vec<u8>,
    /// How many bytes of the input this message used (a stream may hold more).
    pub consumed: usize,
}

impl Message {
    pub fn is_request(&self) -> bool {
        matches!(self.start, StartLine::Request { .. })
    }

    /// The values of every header called `name` (canonical lower-case long form).
    pub fn header_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |h| h.name == name)
            .map(|h| h.value.as_str())
    }

    pub fn header<'a>(&'a self, name: &'a str) -> Option<&'a str> {
        self.header_values(name).next()
    }
}

/// Why a message was refused. For requests, [`WireError::status`] is the response to send.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WireError {
    #[error("the message has no end of headers")]
    Incomplete,
    #[error("the headers are not valid UTF-8")]
    NotUtf8,
    #[error("bad start line: {0}")]
    StartLine(&'static str),
    #[error("unsupported SIP version {0}")]
    Version(String),
    #[error("bad {header} header: {reason}")]
    Header {
        header: String,
        reason: &'static str,
    },
    #[error("missing required header {0}")]
    Missing(&'static str),
    #[error("more than one {0} header")]
    Duplicate(&'static str),
    #[error("the CSeq method does not match the request method")]
    CseqMismatch,
    #[error("Content-Length says {declared} bytes but only {available} arrived")]
    BodyTooShort { declared: u64, available: usize },
    /// Parsed as a request, so it can be answered.
    #[error("{0}")]
    InRequest(Box<WireError>),
}

impl WireError {
    /// The response a request with this fault gets; `None` means drop it silently.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::InRequest(inner) => match **inner {
                Self::Version(_) => Some(505),
                _ => Some(400),
            },
            _ => None,
        }
    }
}

/// Frames and checks one message from the start of `bytes`.
pub fn parse(bytes: &[u8], framing: Framing) -> Result<Message, WireError> {
    let (head_len, sep_len) = find_head_end(bytes).ok_or(WireError::Incomplete)?;
    let head = std::str::from_utf8(&bytes[..head_len]).map_err(|_| WireError::NotUtf8)?;
    let mut lines = unfold(head);
    if lines.is_empty() {
        return Err(WireError::StartLine("empty message"));
    }
    let start_text = lines.remove(0);
    let start = parse_start_line(&start_text)?;
    let is_request = matches!(start, StartLine::Request { .. });
    let wrap = |e: WireError| {
        if is_request {
            WireError::InRequest(Box::new(e))
        } else {
            e
        }
    };
    let headers = lines
        .iter()
        .map(|l| headers::split_header(l))
        .collect::<Result<Vec<_>, _>>()
        .map_err(wrap)?;
    headers::check(&start, &headers).map_err(wrap)?;

    let body_start = head_len + sep_len;
    let available = bytes.len() - body_start;
    let declared = headers
        .iter()
        .find(|h| h.name == "content-length")
        .and_then(|h| grammar::parse_bounded(&h.value, u64::from(u32::MAX)));
    let body_len = match (declared, framing) {
        (Some(n), _) if n > available as u64 => {
            return Err(wrap(WireError::BodyTooShort {
                declared: n,
                available,
            }));
        }
        (Some(n), _) => n as usize,
        (None, Framing::Datagram) => available,
        (None, Framing::Stream) => return Err(wrap(WireError::Missing("Content-Length"))),
    };
    Ok(Message {
        start,
        headers,
        body: bytes[body_start..body_start + body_len].to_vec(),
        consumed: body_start + body_len,
    })
}

/// Where the header section ends: the offset of the blank line and its length.
fn find_head_end(bytes: &[u8]) -> Option<(usize, usize)> {
    let crlf = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| (p, 4));
    let lf = bytes.windows(2).position(|w| w == b"\n\n").map(|p| (p, 2));
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
        (a, b) => a.or(b),
    }
}

/// Splits the header section into logical lines, joining folded continuation lines.
fn unfold(head: &str) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for raw in head.split('\n') {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if line.starts_with([' ', '\t']) && !lines.is_empty() {
            if let Some(last) = lines.last_mut() {
                last.push(' ');
                last.push_str(line.trim_start_matches([' ', '\t']));
            }
        } else {
            lines.push(line.to_owned());
        }
    }
    lines
}

fn is_sip_version(v: &str) -> bool {
    v.len() == 7 && v[..4].eq_ignore_ascii_case("SIP/") && &v[4..] == "2.0"
}

fn parse_start_line(line: &str) -> Result<StartLine, WireError> {
    if line.len() > 4 && line[..4].eq_ignore_ascii_case("SIP/") {
        let mut parts = line.splitn(3, ' ');
        let version = parts.next().unwrap_or_default();
        if !is_sip_version(version) {
            return Err(WireError::Version(version.to_owned()));
        }
        let code = parts.next().unwrap_or_default();
        if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(WireError::StartLine("the status code is not three digits"));
        }
        let code: u16 = code
            .parse()
            .map_err(|_| WireError::StartLine("bad status code"))?;
        if !(100..=699).contains(&code) {
            return Err(WireError::StartLine("the status code is out of range"));
        }
        return Ok(StartLine::Response {
            code,
            reason: parts.next().unwrap_or_default().to_owned(),
        });
    }
    let wrap = |e| WireError::InRequest(Box::new(e));
    let parts: Vec<&str> = line.split(' ').collect();
    let [method, uri, version] = parts[..] else {
        return Err(wrap(WireError::StartLine(
            "a request line is Method SP Request-URI SP SIP-Version, with single spaces",
        )));
    };
    if !grammar::is_token(method) {
        return Err(wrap(WireError::StartLine("the method is not a token")));
    }
    if !is_sip_version(version) {
        return Err(wrap(WireError::Version(version.to_owned())));
    }
    grammar::check_uri_shape(uri).map_err(|r| wrap(WireError::StartLine(r)))?;
    let lower = uri.to_ascii_lowercase();
    if (lower.starts_with("sip:") || lower.starts_with("sips:")) && grammar::uri_has_headers(uri) {
        return Err(wrap(WireError::StartLine(
            "headers are not allowed in a Request-URI",
        )));
    }
    Ok(StartLine::Request {
        method: method.to_owned(),
        uri: uri.to_owned(),
    })
}
