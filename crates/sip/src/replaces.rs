//! Attended transfer plumbing (RFC 3891 Replaces, RFC 5589): the Replaces header that names a
//! dialog, and the `?Replaces=` part a REFER's Refer-To URI carries. Plain text in, text out.

/// The dialog a `Replaces` header names, as seen by the UA receiving it: `to_tag` is that UA's
/// own tag in the dialog, `from_tag` the other party's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replaces {
    pub call_id: String,
    pub to_tag: String,
    pub from_tag: String,
    /// `early-only`: refuse (486) if the dialog is already confirmed.
    pub early_only: bool,
}

impl Replaces {
    /// Parses `call-id;to-tag=a;from-tag=b[;early-only]` (RFC 3891 §6.1).
    pub fn parse(value: &str) -> Option<Self> {
        let mut parts = value.split(';');
        let call_id = parts.next()?.trim();
        if call_id.is_empty() {
            return None;
        }
        let (mut to_tag, mut from_tag, mut early_only) = (None, None, false);
        for p in parts {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            match k.trim().to_ascii_lowercase().as_str() {
                "to-tag" => to_tag = Some(v.trim().to_owned()),
                "from-tag" => from_tag = Some(v.trim().to_owned()),
                "early-only" => early_only = true,
                _ => {}
            }
        }
        Some(Self {
            call_id: call_id.to_owned(),
            to_tag: to_tag.filter(|t| !t.is_empty())?,
            from_tag: from_tag.filter(|t| !t.is_empty())?,
            early_only,
        })
    }

    /// The header value.
    pub fn value(&self) -> String {
        let mut v = format!(
            "{};to-tag={};from-tag={}",
            self.call_id, self.to_tag, self.from_tag
        );
        if self.early_only {
            v.push_str(";early-only");
        }
        v
    }

    /// The Refer-To value (without angle brackets) asking the transferee to call `target`
    /// replacing this dialog: `target?Replaces=<escaped value>`.
    pub fn refer_to(&self, target: &str) -> String {
        let target = target.split('?').next().unwrap_or(target);
        format!("{target}?Replaces={}", escape(&self.value()))
    }
}

/// Splits the headers part off a SIP URI: `sip:b@h?Replaces=x%3By&Foo=z` →
/// (`sip:b@h`, [("Replaces", "x;y"), ("Foo", "z")]), values unescaped.
pub fn split_uri_headers(uri: &str) -> (String, Vec<(String, String)>) {
    let Some((base, query)) = uri.split_once('?') else {
        return (uri.to_owned(), Vec::new());
    };
    let headers = query
        .split('&')
        .filter_map(|pair| {
            let (name, value) = pair.split_once('=')?;
            let name = unescape(name)?;
            let value = unescape(value)?;
            (!name.is_empty()).then_some((name, value))
        })
        .collect();
    (base.to_owned(), headers)
}

/// Escapes a URI header value: everything but RFC 3261's unreserved characters (and a few
/// safe marks) becomes %XX.
fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len() * 2);
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.!~*'()[]/:+$".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn unescape(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_values_parse_and_print_back() {
        let r = Replaces::parse("98732@sip.example.com;from-tag=r33th4x0r;to-tag=ff87ff")
            .expect("parses");
        assert_eq!(r.call_id, "98732@sip.example.com");
        assert_eq!(r.to_tag, "ff87ff");
        assert_eq!(r.from_tag, "r33th4x0r");
        assert!(!r.early_only);
        assert_eq!(
            r.value(),
            "98732@sip.example.com;to-tag=ff87ff;from-tag=r33th4x0r"
        );
        let r = Replaces::parse("a@b; to-tag = 1 ;FROM-TAG=2;early-only").expect("parses");
        assert_eq!((r.to_tag.as_str(), r.from_tag.as_str()), ("1", "2"));
        assert!(r.early_only);
        for bad in [
            "",
            ";to-tag=1;from-tag=2",
            "a@b;to-tag=1",
            "a@b;to-tag=;from-tag=2",
        ] {
            assert_eq!(Replaces::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn refer_to_carries_the_escaped_replaces_and_comes_back_intact() {
        let r = Replaces {
            call_id: "abc@10.0.0.1".into(),
            to_tag: "t;1".into(),
            from_tag: "f&2".into(),
            early_only: false,
        };
        let refer_to = r.refer_to("sip:carol@127.0.0.1:5070;transport=tcp");
        assert_eq!(
            refer_to,
            "sip:carol@127.0.0.1:5070;transport=tcp?Replaces=abc%4010.0.0.1%3Bto-tag%3Dt%3B1%3Bfrom-tag%3Df%262"
        );
        let (uri, headers) = split_uri_headers(&refer_to);
        assert_eq!(uri, "sip:carol@127.0.0.1:5070;transport=tcp");
        assert_eq!(headers.len(), 1);
        assert_eq!(headers[0].0, "Replaces");
        assert_eq!(headers[0].1, r.value());
        // A target that already had headers loses them rather than doubling the '?'.
        assert!(!r.refer_to("sip:c@h?X=1").contains("X=1"));
    }

    #[test]
    fn uri_headers_split_and_bad_escapes_are_dropped() {
        assert_eq!(
            split_uri_headers("sip:b@h"),
            ("sip:b@h".to_owned(), Vec::new())
        );
        let (uri, h) = split_uri_headers("sip:b@h?Replaces=x%3By&bad=%zz&Subject=hi%20there");
        assert_eq!(uri, "sip:b@h");
        assert_eq!(
            h,
            vec![
                ("Replaces".to_owned(), "x;y".to_owned()),
                ("Subject".to_owned(), "hi there".to_owned())
            ]
        );
    }
}
