//! Phone numbers and SIP addresses in one comparable form, so a caller ID matches the contact
//! however either was written: valid phone numbers become E.164 (`+441632960123`) using the
//! user's default region for national ones; star codes, short extensions and anything
//! libphonenumber does not call valid stay as typed (without the spaces and dashes); SIP
//! addresses become `user@host` in lower case (scheme, port parameters and display name off).

/// A region code (`GB`, `US`, `DE`…) from the user's settings, else from the locale (`LANG`).
pub fn default_region(setting: Option<&str>) -> Option<String> {
    let from_setting = setting.map(str::trim).filter(|s| s.len() == 2);
    if let Some(r) = from_setting {
        return Some(r.to_ascii_uppercase());
    }
    // en_GB.UTF-8 → GB
    ["LC_ALL", "LC_TELEPHONE", "LANG"]
        .iter()
        .filter_map(|v| std::env::var(v).ok())
        .find_map(|l| {
            let region = l.split(['.', '@']).next()?.split('_').nth(1)?;
            (region.len() == 2 && region.chars().all(|c| c.is_ascii_alphabetic()))
                .then(|| region.to_ascii_uppercase())
        })
}

/// The comparable form of a phone number, with `region` (ISO 3166 code) for national ones.
pub fn normalize_number(raw: &str, region: Option<&str>) -> String {
    let typed: String = raw
        .trim()
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')' | '/' | '\u{a0}'))
        .collect();
    let digits = typed.chars().filter(char::is_ascii_digit).count();
    // Star codes (*72), service codes (#31#) and extensions stay as they are.
    if typed.is_empty() || typed.contains(['*', '#']) || digits <= 6 {
        return typed;
    }
    let country = region.and_then(|r| r.parse::<phonenumber::country::Id>().ok());
    match phonenumber::parse(country, &typed) {
        Ok(n) if phonenumber::is_valid(&n) => n.format().mode(phonenumber::Mode::E164).to_string(),
        _ => typed,
    }
}

/// The comparable form of what identifies a caller or a contact's address: a SIP URI
/// (`sip:`, `sips:`) becomes `user@host`, or, when its user part is a phone number (a PBX
/// presents callers as `sip:+441632960123@pbx`), that number's form; a `tel:` URI or anything
/// else is a phone number.
pub fn normalize_address(raw: &str, region: Option<&str>) -> String {
    let raw = raw.trim();
    // "Name" <sip:...>: the part in brackets.
    let inner = match (raw.find('<'), raw.rfind('>')) {
        (Some(a), Some(b)) if b > a => &raw[a + 1..b],
        _ => raw,
    };
    let lower = inner.to_ascii_lowercase();
    if let Some(rest) = lower
        .strip_prefix("sip:")
        .or_else(|| lower.strip_prefix("sips:"))
    {
        let rest = rest.split([';', '?']).next().unwrap_or_default();
        let (user, host) = match rest.split_once('@') {
            Some((u, h)) => (u, h.split(':').next().unwrap_or_default()),
            None => ("", rest),
        };
        let looks_like_number = !user.is_empty()
            && user.chars().all(|c| {
                c.is_ascii_digit() || matches!(c, '+' | '-' | '.' | '(' | ')' | '*' | '#')
            });
        return if looks_like_number {
            normalize_number(user, region)
        } else if user.is_empty() {
            host.to_owned()
        } else {
            format!("{user}@{host}")
        };
    }
    let number = lower.strip_prefix("tel:").unwrap_or(&lower);
    normalize_number(number.split(';').next().unwrap_or_default(), region)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_match_however_they_are_written() {
        let gb = Some("GB");
        let table = [
            // National, international, spaced, dashed, bracketed: one form.
            ("020 7946 0018", gb, "+442079460018"),
            ("+44 20 7946 0018", gb, "+442079460018"),
            ("+44 (0)20-7946-0018", gb, "+442079460018"),
            ("0044 20 7946 0018", gb, "+442079460018"),
            ("+442079460018", None, "+442079460018"),
            // Ofcom's fiction range is not a valid number: kept as typed.
            ("01632 960123", gb, "01632960123"),
            ("(415) 555-2671", Some("US"), "+14155552671"),
            ("415.555.2671", Some("US"), "+14155552671"),
            ("+1 415 555 2671", gb, "+14155552671"),
            ("030 12345678", Some("DE"), "+493012345678"),
            // Short extensions, star codes and service codes stay as typed.
            ("2001", gb, "2001"),
            ("*72", gb, "*72"),
            ("*72 020 7946 0018", gb, "*7202079460018"),
            ("#31#", gb, "#31#"),
            ("112", gb, "112"),
            // National without a region: cannot be known, kept as typed (no spaces).
            ("020 7946 0018", None, "02079460018"),
            // Not a valid number: kept.
            ("+44 1234", gb, "+441234"),
            ("", gb, ""),
        ];
        for (raw, region, want) in table {
            assert_eq!(normalize_number(raw, region), want, "{raw:?} in {region:?}");
        }
    }

    #[test]
    fn sip_addresses_match_by_user_and_host_or_by_number() {
        let gb = Some("GB");
        let table = [
            ("sip:Bob@Example.COM", "bob@example.com"),
            (
                "\"Bob\" <sips:bob@example.com:5061;transport=tls>",
                "bob@example.com",
            ),
            (
                "sip:bob@example.com;user=phone?subject=x",
                "bob@example.com",
            ),
            (
                "sip:+442079460018@pbx.example.com;user=phone",
                "+442079460018",
            ),
            ("sip:02079460018@pbx", "+442079460018"),
            ("sip:2001@pbx.local", "2001"),
            ("tel:+44-20-7946-0018", "+442079460018"),
            ("020 7946 0018", "+442079460018"),
            ("sip:pbx.example.com", "pbx.example.com"),
        ];
        for (raw, want) in table {
            assert_eq!(normalize_address(raw, gb), want, "{raw:?}");
        }
    }

    #[test]
    fn the_region_comes_from_the_setting_or_the_locale() {
        assert_eq!(default_region(Some("gb")), Some("GB".into()));
        // (The locale fallback reads the process environment; only its shape is checked.)
        let r = default_region(None);
        assert!(r.is_none_or(|r| r.len() == 2));
    }
}
