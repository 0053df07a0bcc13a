use std::fmt;

use serde::{Deserialize, Serialize};
use specta::Type;

/// A SIP address of record as a user types it: `sip:alice@pbx.example.com[:port]`.
///
/// This is the account-level view (user, host, port); full RFC 3261 URI handling
/// (parameters, headers, escaping) belongs to the SIP stack.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
pub struct SipAddress {
    pub secure: bool,
    pub user: String,
    pub host: String,
    pub port: Option<u16>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AddressError {
    #[error("the address is empty")]
    Empty,
    #[error("\"{0}\" is not a SIP address: it must look like sip:user@host")]
    NotSip(String),
    #[error("\"{0}\" has no user part: it must look like sip:user@host")]
    MissingUser(String),
    #[error("\"{0}\" has no host after the @")]
    MissingHost(String),
    #[error("\"{0}\" has a port that is not a number from 1 to 65535")]
    BadPort(String),
    #[error("\"{0}\" contains spaces or control characters")]
    BadCharacter(String),
}

impl SipAddress {
    /// Parses `sip:user@host[:port]` (or `sips:`); a bare `user@host` is taken as `sip:`.
    pub fn parse(input: &str) -> Result<Self, AddressError> {
        let text = input.trim();
        if text.is_empty() {
            return Err(AddressError::Empty);
        }
        if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(AddressError::BadCharacter(text.to_owned()));
        }
        let lower = text.to_ascii_lowercase();
        let (secure, rest) = if lower.starts_with("sips:") {
            (true, &text[5..])
        } else if lower.starts_with("sip:") {
            (false, &text[4..])
        } else if text.contains(':') && !text.contains('@') {
            return Err(AddressError::NotSip(text.to_owned()));
        } else {
            (false, text)
        };
        // URI parameters and headers are not part of an address of record.
        let rest = rest.split([';', '?']).next().unwrap_or_default();
        let Some((user, hostport)) = rest.rsplit_once('@') else {
            return Err(AddressError::MissingUser(text.to_owned()));
        };
        if user.is_empty() {
            return Err(AddressError::MissingUser(text.to_owned()));
        }
        let (host, port) =
            split_host_port(hostport).ok_or_else(|| AddressError::BadPort(text.to_owned()))?;
        if host.is_empty() {
            return Err(AddressError::MissingHost(text.to_owned()));
        }
        Ok(Self {
            secure,
            user: user.to_owned(),
            host: host.to_ascii_lowercase(),
            port,
        })
    }
}

/// Splits `host[:port]`, including bracketed IPv6 literals. `None` when the port is not valid.
fn split_host_port(hostport: &str) -> Option<(&str, Option<u16>)> {
    let (host, port) = if let Some(after) = hostport.strip_prefix('[') {
        let (inside, tail) = after.split_once(']')?;
        let port = match tail {
            "" => None,
            t => Some(t.strip_prefix(':')?),
        };
        (inside, port)
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (hostport, None),
        }
    };
    let port = match port {
        None => None,
        Some(p) => match p.parse::<u16>() {
            Ok(0) | Err(_) => return None,
            Ok(n) => Some(n),
        },
    };
    Some((host, port))
}

impl fmt::Display for SipAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.secure { "sips" } else { "sip" };
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        match self.port {
            Some(port) => write!(f, "{scheme}:{}@{host}:{port}", self.user),
            None => write!(f, "{scheme}:{}@{host}", self.user),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_forms_users_type() {
        let cases = [
            (
                "sip:alice@pbx.example.com",
                false,
                "alice",
                "pbx.example.com",
                None,
            ),
            (
                "SIP:alice@PBX.Example.com:5080",
                false,
                "alice",
                "pbx.example.com",
                Some(5080),
            ),
            (
                "sips:bob@10.0.0.1:5061",
                true,
                "bob",
                "10.0.0.1",
                Some(5061),
            ),
            ("1001@192.168.1.10", false, "1001", "192.168.1.10", None),
            (
                "sip:carol@[2001:db8::1]:5060",
                false,
                "carol",
                "2001:db8::1",
                Some(5060),
            ),
            (
                "sip:dave@example.com;transport=tcp",
                false,
                "dave",
                "example.com",
                None,
            ),
        ];
        for (input, secure, user, host, port) in cases {
            let a = SipAddress::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(
                (a.secure, a.user.as_str(), a.host.as_str(), a.port),
                (secure, user, host, port),
                "{input}"
            );
        }
    }

    #[test]
    fn rejects_bad_input_with_a_reason() {
        assert_eq!(SipAddress::parse("  "), Err(AddressError::Empty));
        assert!(matches!(
            SipAddress::parse("tel:+15551234"),
            Err(AddressError::NotSip(_))
        ));
        assert!(matches!(
            SipAddress::parse("sip:example.com"),
            Err(AddressError::MissingUser(_))
        ));
        assert!(matches!(
            SipAddress::parse("sip:@example.com"),
            Err(AddressError::MissingUser(_))
        ));
        assert!(matches!(
            SipAddress::parse("sip:a@"),
            Err(AddressError::MissingHost(_))
        ));
        assert!(matches!(
            SipAddress::parse("sip:a@h:0"),
            Err(AddressError::BadPort(_))
        ));
        assert!(matches!(
            SipAddress::parse("sip:a@h:99999"),
            Err(AddressError::BadPort(_))
        ));
        assert!(matches!(
            SipAddress::parse("sip:a b@h"),
            Err(AddressError::BadCharacter(_))
        ));
    }

    #[test]
    fn display_round_trips() {
        for input in [
            "sip:alice@pbx.example.com",
            "sips:bob@10.0.0.1:5061",
            "sip:carol@[2001:db8::1]:5060",
        ] {
            let a = SipAddress::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(a.to_string(), input);
            assert_eq!(SipAddress::parse(&a.to_string()), Ok(a));
        }
    }
}
