//! What to call for what a person typed: numbers, users, addresses and URIs.

/// The visual separators people write in phone numbers (RFC 3966): space, no-break space,
/// dash, dot and brackets.
fn is_visual_separator(c: char) -> bool {
    matches!(c, ' ' | '\u{a0}' | '-' | '.' | '(' | ')')
}

/// A phone number without its visual separators: `+44 (20) 7946-0000` → `+442079460000`.
pub fn without_visual_separators(number: &str) -> String {
    number
        .chars()
        .filter(|c| !is_visual_separator(*c))
        .collect()
}

/// What to call for `target` as a person typed it, at `domain` (our own, for a bare number or
/// user): a SIP URI as given, a `tel:` number or a bare phone number without its visual
/// separators (spaces, dashes, dots, brackets: RFC 3966), `user@host` as `sip:user@host`.
pub(super) fn dial_uri(target: &str, domain: &str) -> Option<String> {
    let t = target.trim();
    let digits = without_visual_separators;
    let looks_like_number = |s: &str| {
        let s = s.strip_prefix('+').unwrap_or(s);
        s.chars().any(|c| c.is_ascii_digit())
            && s.chars()
                .all(|c| c.is_ascii_digit() || is_visual_separator(c) || matches!(c, '*' | '#'))
    };
    if t.starts_with("sip:") || t.starts_with("sips:") {
        Some(t.to_owned())
    } else if let Some(number) = t.strip_prefix("tel:") {
        let number = digits(number.split(';').next().unwrap_or_default());
        (!number.is_empty() && !domain.is_empty()).then(|| format!("sip:{number}@{domain}"))
    } else if t.contains('@') {
        Some(format!("sip:{t}"))
    } else if !t.is_empty() && !domain.is_empty() {
        let user = if looks_like_number(t) {
            digits(t)
        } else {
            t.to_owned()
        };
        Some(format!("sip:{user}@{domain}"))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::dial_uri;

    #[test]
    fn what_people_type_becomes_a_sip_uri() {
        let d = "pbx.example.com";
        assert_eq!(
            dial_uri("07911 123456", d).as_deref(),
            Some("sip:07911123456@pbx.example.com")
        );
        assert_eq!(
            dial_uri(" +44 (20) 7946-0000 ", d).as_deref(),
            Some("sip:+442079460000@pbx.example.com")
        );
        assert_eq!(
            dial_uri("tel:+1-555-0100;ext=2", d).as_deref(),
            Some("sip:+15550100@pbx.example.com")
        );
        assert_eq!(
            dial_uri("*97", d).as_deref(),
            Some("sip:*97@pbx.example.com")
        );
        assert_eq!(
            dial_uri("bob", d).as_deref(),
            Some("sip:bob@pbx.example.com")
        );
        assert_eq!(
            dial_uri("bob@other.example", d).as_deref(),
            Some("sip:bob@other.example")
        );
        assert_eq!(
            dial_uri("sips:ann@x.example", d).as_deref(),
            Some("sips:ann@x.example")
        );
        // A user name with a space is no number: left for the URI check to refuse.
        assert_eq!(
            dial_uri("bob smith", d).as_deref(),
            Some("sip:bob smith@pbx.example.com")
        );
        assert_eq!(dial_uri("", d), None);
        assert_eq!(dial_uri("1002", ""), None);
    }
}
