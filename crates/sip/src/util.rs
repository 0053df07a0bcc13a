//! Small helpers the registration and call code share.

/// The value of the first header called `name` (case-insensitive), as text after the colon.
pub(crate) fn header_value(headers: &rsipstack::sip::Headers, name: &str) -> Option<String> {
    headers
        .iter()
        .find(|h| h.name().eq_ignore_ascii_case(name))
        .map(|h| {
            let text = h.to_string();
            text.split_once(':')
                .map_or(String::new(), |(_, v)| v.trim().to_owned())
        })
}

/// A fresh seed for tags, cnonces and back-off jitter, from the OS's randomised hasher keys
/// and the wall clock (no RNG crate needed for values that only have to differ).
pub fn random_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.finish()
}

/// Parses a SIP URI so that it goes back on the wire as it came.
///
/// rsipstack 0.7.14 keeps a user part's escapes as parsed (`alice%40corp`) but escapes `%`
/// again when it writes the URI, so `alice%40corp` left as `alice%2540corp`: another user.
/// We store the user part unescaped; the writer's single escaping then restores the original.
pub fn parse_uri(text: &str) -> Result<rsipstack::sip::Uri, rsipstack::sip::Error> {
    let mut uri = rsipstack::sip::Uri::try_from(text)?;
    if let Some(auth) = uri.auth.as_mut()
        && auth.user.contains('%')
    {
        auth.user = percent_decode(&auth.user);
    }
    Ok(uri)
}

/// `%XX` escapes decoded; anything that is not a valid escape (or not UTF-8) stays as written.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && let (Some(h), Some(l)) = (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            )
        {
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap_or_else(|_| s.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_escaped_user_part_is_written_back_unchanged() {
        for text in [
            "sip:alice%40corp@127.0.0.1:5060",
            "sip:a%25b@example.org",
            "sip:plain@example.org:5080",
            "sip:%2B4930123@example.org",
        ] {
            let uri = parse_uri(text).expect("parses");
            let expect = text.replace("%2B", "+");
            assert_eq!(uri.to_string(), expect, "{text}");
        }
        // rsipstack alone re-escapes (the defect this covers).
        let raw = rsipstack::sip::Uri::try_from("sip:alice%40corp@h").expect("parses");
        assert_eq!(raw.to_string(), "sip:alice%2540corp@h");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
    }
}
