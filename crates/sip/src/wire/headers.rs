//! Header lines: names (with compact forms) and the checks of the headers our UA relies on.

use super::grammar::{check_address, check_params, is_token, parse_bounded, split_list};
use super::{HeaderLine, StartLine, WireError};

const U32_MAX: u64 = u32::MAX as u64;

/// RFC 3261 §7.3.3 and later RFCs' compact header names.
fn long_name(name: &str) -> String {
    let lower = name.to_ascii_lowercase();
    let long = match lower.as_str() {
        "i" => "call-id",
        "m" => "contact",
        "e" => "content-encoding",
        "l" => "content-length",
        "c" => "content-type",
        "f" => "from",
        "s" => "subject",
        "k" => "supported",
        "t" => "to",
        "v" => "via",
        "o" => "event",
        "r" => "refer-to",
        "b" => "referred-by",
        "u" => "allow-events",
        "x" => "session-expires",
        "y" => "identity",
        _ => return lower,
    };
    long.to_owned()
}

pub(super) fn split_header(line: &str) -> Result<HeaderLine, WireError> {
    let bad = |reason| WireError::Header {
        header: line.chars().take(40).collect(),
        reason,
    };
    let (name, value) = line.split_once(':').ok_or_else(|| bad("no colon"))?;
    let name = name.trim_end_matches([' ', '\t']);
    if !is_token(name) {
        return Err(bad("the name is not a token"));
    }
    Ok(HeaderLine {
        name: long_name(name),
        value: value.trim_matches([' ', '\t']).to_owned(),
    })
}

fn header_err(header: &str, reason: &'static str) -> WireError {
    WireError::Header {
        header: header.to_owned(),
        reason,
    }
}

pub(super) fn check(start: &StartLine, headers: &[HeaderLine]) -> Result<(), WireError> {
    for (name, label) in [
        ("to", "To"),
        ("from", "From"),
        ("call-id", "Call-ID"),
        ("cseq", "CSeq"),
        ("via", "Via"),
    ] {
        match headers.iter().filter(|h| h.name == name).count() {
            0 => return Err(WireError::Missing(label)),
            1 => {}
            _ if name == "via" => {}
            _ => return Err(WireError::Duplicate(label)),
        }
    }
    if headers
        .iter()
        .filter(|h| h.name == "content-length")
        .count()
        > 1
    {
        return Err(WireError::Duplicate("Content-Length"));
    }
    for h in headers {
        check_one(start, h)?;
    }
    Ok(())
}

fn check_one(start: &StartLine, h: &HeaderLine) -> Result<(), WireError> {
    let v = h.value.as_str();
    match h.name.as_str() {
        "to" | "from" | "reply-to" => check_address(v).map_err(|r| header_err(&h.name, r)),
        "contact" if v == "*" => Ok(()),
        "contact" | "route" | "record-route" => {
            let items =
                split_list(v).ok_or_else(|| header_err(&h.name, "an unterminated quote or <"))?;
            for item in items {
                check_address(item).map_err(|r| header_err(&h.name, r))?;
                if h.name == "contact" {
                    check_expires_param(item)?;
                }
            }
            Ok(())
        }
        "via" => {
            let items = split_list(v).ok_or_else(|| header_err("via", "an unterminated quote"))?;
            items.into_iter().try_for_each(check_via)
        }
        "cseq" => {
            let mut parts = v.split([' ', '\t']).filter(|p| !p.is_empty());
            let number = parts.next().unwrap_or_default();
            let method = parts.next().unwrap_or_default();
            if parts.next().is_some()
                || parse_bounded(number, (1 << 31) - 1).is_none()
                || !is_token(method)
            {
                return Err(header_err(
                    "cseq",
                    "it must be a number below 2^31 and a method",
                ));
            }
            match start {
                StartLine::Request { method: m, .. } if m != method => Err(WireError::CseqMismatch),
                _ => Ok(()),
            }
        }
        "call-id" if v.is_empty() || v.contains([' ', '\t']) => {
            Err(header_err("call-id", "empty or with spaces"))
        }
        "max-forwards" => parse_bounded(v, 255)
            .map(|_| ())
            .ok_or_else(|| header_err("max-forwards", "not a number from 0 to 255")),
        "content-length" => parse_bounded(v, U32_MAX)
            .map(|_| ())
            .ok_or_else(|| header_err("content-length", "not a non-negative number")),
        "expires" | "min-expires" => parse_bounded(v, U32_MAX)
            .map(|_| ())
            .ok_or_else(|| header_err(&h.name, "not a number of seconds")),
        "retry-after" => {
            let secs = v.split([' ', '\t', ';', '(']).next().unwrap_or_default();
            parse_bounded(secs, U32_MAX)
                .map(|_| ())
                .ok_or_else(|| header_err("retry-after", "not a number of seconds"))
        }
        "date" => check_date(v),
        "warning" => {
            let items =
                split_list(v).ok_or_else(|| header_err("warning", "an unterminated quote"))?;
            for item in items {
                let code = item.trim().split(' ').next().unwrap_or_default();
                if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(header_err("warning", "the warn-code is not three digits"));
                }
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// `SIP / 2.0 / transport sent-by *(; param)`, LWS allowed around the slashes.
fn check_via(item: &str) -> Result<(), WireError> {
    let bad = |reason| header_err("via", reason);
    let mut rest = item.trim_matches([' ', '\t']);
    for expected in ["SIP", "/", "2.0", "/"] {
        rest = rest.trim_start_matches([' ', '\t']);
        if rest.len() < expected.len() || !rest[..expected.len()].eq_ignore_ascii_case(expected) {
            return Err(bad("it does not start with SIP/2.0/transport"));
        }
        rest = &rest[expected.len()..];
    }
    rest = rest.trim_start_matches([' ', '\t']);
    let transport_len = rest
        .find(|c: char| !super::grammar::is_token_char(c))
        .unwrap_or(rest.len());
    if transport_len == 0 {
        return Err(bad("no transport"));
    }
    rest = rest[transport_len..].trim_start_matches([' ', '\t']);
    let host_len = rest.find([';', ' ', '\t']).unwrap_or(rest.len());
    if host_len == 0 {
        return Err(bad("no sent-by host"));
    }
    check_params(&rest[host_len..]).map_err(bad)
}

fn check_expires_param(item: &str) -> Result<(), WireError> {
    let after_addr = item.rfind('>').map_or(item, |i| &item[i + 1..]);
    for param in after_addr.split(';').skip(1) {
        if let Some((name, value)) = param.split_once('=')
            && name.trim().eq_ignore_ascii_case("expires")
            && parse_bounded(value.trim(), U32_MAX).is_none()
        {
            return Err(header_err(
                "contact",
                "the expires parameter is not a number of seconds",
            ));
        }
    }
    Ok(())
}

/// RFC 1123 dates in GMT: `Sat, 13 Nov 2010 23:29:00 GMT`.
fn check_date(v: &str) -> Result<(), WireError> {
    const DAYS: [&str; 7] = ["Mon,", "Tue,", "Wed,", "Thu,", "Fri,", "Sat,", "Sun,"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let p: Vec<&str> = v.split(' ').collect();
    let ok = p.len() == 6
        && DAYS.contains(&p[0])
        && p[1].len() == 2
        && p[1].bytes().all(|b| b.is_ascii_digit())
        && MONTHS.contains(&p[2])
        && p[3].len() == 4
        && p[3].bytes().all(|b| b.is_ascii_digit())
        && p[4].len() == 8
        && p[4]
            .split(':')
            .all(|t| t.len() == 2 && t.bytes().all(|b| b.is_ascii_digit()))
        && p[5] == "GMT";
    if ok {
        Ok(())
    } else {
        Err(header_err("date", "not an RFC 1123 date in GMT"))
    }
}
