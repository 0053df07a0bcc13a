//! RFC 3261 §25 grammar pieces that rsipstack accepts too loosely (see `wire` module docs).

/// `token` characters (RFC 3261 §25.1).
pub(crate) fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-.!%*_+`'~".contains(c)
}

pub(crate) fn is_token(s: &str) -> bool {
    !s.is_empty() && s.chars().all(is_token_char)
}

fn is_lws(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// Splits a header value into list elements at commas outside quoted strings and `<...>`.
/// Returns `None` when a quoted string or an angle bracket is left open.
pub(crate) fn split_list(value: &str) -> Option<Vec<&str>> {
    let mut parts = Vec::new();
    let (mut in_quotes, mut in_angle, mut escaped) = (false, false, false);
    let mut start = 0;
    for (i, c) in value.char_indices() {
        if in_quotes {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_quotes = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_quotes = true,
            '<' if !in_angle => in_angle = true,
            '>' if in_angle => in_angle = false,
            ',' if !in_angle => {
                parts.push(&value[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if in_quotes || in_angle {
        return None;
    }
    parts.push(&value[start..]);
    Some(parts)
}

/// The length of the quoted string at the start of `s` (which begins with `"`), or `None` if it
/// never closes.
fn quoted_len(s: &str) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in s.char_indices().skip(1) {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => return Some(i + 1),
            _ => {}
        }
    }
    None
}

/// Checks `*( SEMI generic-param )`: every parameter has a token name; values are a token-ish
/// run or a quoted string. LWS around `;` and `=` is allowed.
pub(crate) fn check_params(mut s: &str) -> Result<(), &'static str> {
    loop {
        s = s.trim_start_matches(is_lws);
        if s.is_empty() {
            return Ok(());
        }
        let Some(rest) = s.strip_prefix(';') else {
            return Err("unexpected text after the address");
        };
        let rest = rest.trim_start_matches(is_lws);
        let name_len = rest.find(|c: char| !is_token_char(c)).unwrap_or(rest.len());
        if name_len == 0 {
            return Err("an empty parameter");
        }
        let mut after = rest[name_len..].trim_start_matches(is_lws);
        if let Some(v) = after.strip_prefix('=') {
            let v = v.trim_start_matches(is_lws);
            if v.starts_with('"') {
                let n = quoted_len(v).ok_or("an unterminated quoted parameter value")?;
                after = &v[n..];
            } else {
                let n = v.find(|c: char| c == ';' || is_lws(c)).unwrap_or(v.len());
                after = &v[n..];
            }
        }
        s = after;
    }
}

/// Checks one `name-addr` or `addr-spec` followed by parameters (To, From, Contact, Route...).
pub(crate) fn check_address(value: &str) -> Result<(), &'static str> {
    let v = value.trim_matches(is_lws);
    if v.is_empty() {
        return Err("an empty address");
    }
    let after_display = if v.starts_with('"') {
        let n = quoted_len(v).ok_or("an unterminated quoted display name")?;
        let rest = v[n..].trim_start_matches(is_lws);
        if !rest.starts_with('<') {
            return Err("a quoted display name not followed by <address>");
        }
        rest
    } else if let Some(lt) = v.find('<') {
        // display-name = *(token LWS): only token characters and whitespace.
        if !v[..lt].chars().all(|c| is_token_char(c) || is_lws(c)) {
            return Err("a display name with characters that need quotes");
        }
        &v[lt..]
    } else {
        // addr-spec form: it ends at the first ';' and may not hold '?' or ',' (RFC 3261 §20.10).
        let end = v.find(';').unwrap_or(v.len());
        let spec = v[..end].trim_end_matches(is_lws);
        check_uri_shape(spec)?;
        if uri_has_headers(spec) {
            return Err("an address with headers that is not enclosed in <>");
        }
        return check_params(&v[end..]);
    };
    let inner_end = after_display.find('>').ok_or("an unclosed <")?;
    let spec = &after_display[1..inner_end];
    if spec.starts_with(is_lws) || spec.ends_with(is_lws) {
        return Err("spaces inside <>");
    }
    check_uri_shape(spec)?;
    check_params(&after_display[inner_end + 1..])
}

/// A URI as it may appear on the wire: `scheme:rest` with no whitespace or angle brackets.
pub(crate) fn check_uri_shape(uri: &str) -> Result<(), &'static str> {
    let Some((scheme, rest)) = uri.split_once(':') else {
        return Err("an address without a scheme");
    };
    let mut chars = scheme.chars();
    let scheme_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    if !scheme_ok {
        return Err("an address with a bad scheme");
    }
    if rest.is_empty()
        || rest
            .chars()
            .any(|c| c.is_whitespace() || c == '<' || c == '>' || c == '"')
    {
        return Err("an address with spaces or brackets in it");
    }
    Ok(())
}

/// Whether a URI carries `?headers`: a `?` after the host (a `?` in the user part is allowed).
pub(crate) fn uri_has_headers(uri: &str) -> bool {
    let host_part = uri.rfind('@').map_or(uri, |at| &uri[at..]);
    host_part.contains('?')
}

/// Digits only, at most `max`.
pub(crate) fn parse_bounded(s: &str, max: u64) -> Option<u64> {
    let s = s.trim_matches(is_lws);
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<u64>().ok().filter(|n| *n <= max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        for ok in [
            "sip:a@b",
            "<sip:a@b>;tag=1",
            "\"A \\\"B\\\"\" <sip:a@b> ; tag = 1918181833n",
            "caller<sip:caller@example.com>;tag=323",
            "Bob Smith <sip:bob@example.com>",
            "<sip:a@b?Route=%3Csip:c%3E>",
            "sip:user;par=u%40example.net@example.com",
        ] {
            assert_eq!(check_address(ok), Ok(()), "{ok}");
        }
        for bad in [
            "\"Mr. J. User <sip:j.user@example.com>",
            "\"Watson, Thomas\" < sip:t.watson@example.org >",
            "Bell, Alexander <sip:a.g.bell@example.com>;tag=43",
            "sip:user@example.com?Route=%3Csip:sip.example.com%3E",
            "\"Joe\" <sip:joe@example.org>;;;;",
            "",
        ] {
            assert!(check_address(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn lists_respect_quotes_and_brackets() {
        assert_eq!(
            split_list("\"a,b\" <sip:x>, <sip:y;p=1,2>"),
            Some(vec!["\"a,b\" <sip:x>", " <sip:y;p=1,2>"])
        );
        assert_eq!(split_list("\"open"), None);
    }

    #[test]
    fn numbers() {
        assert_eq!(parse_bounded(" 70 ", 255), Some(70));
        assert_eq!(parse_bounded("300", 255), None);
        assert_eq!(parse_bounded("-1", 255), None);
        assert_eq!(
            parse_bounded("36893488147419103232", u64::from(u32::MAX)),
            None
        );
    }
}
