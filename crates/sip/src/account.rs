use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use specta::Type;

use crate::address::{AddressError, SipAddress};

/// A stable identifier for an account, chosen when the account is created.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Type)]
#[serde(transparent)]
pub struct AccountId(pub String);

/// How SIP messages travel to the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, Type)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    #[default]
    Udp,
    Tcp,
    Tls,
}

impl Transport {
    /// The port a server listens on when the account names none (RFC 3261 §19.1.2).
    pub fn default_port(self) -> u16 {
        match self {
            Transport::Udp | Transport::Tcp => 5060,
            Transport::Tls => 5061,
        }
    }
}

/// How a TLS server is trusted. Verification is on unless the user turns it off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct TlsSettings {
    pub verify_server: bool,
    /// A PEM file of extra trusted CAs; `None` means the system roots.
    pub ca_file: Option<PathBuf>,
}

impl Default for TlsSettings {
    fn default() -> Self {
        Self {
            verify_server: true,
            ca_file: None,
        }
    }
}

/// Everything about an account except its password, which lives only in the OS keyring.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct AccountConfig {
    pub id: AccountId,
    pub address: SipAddress,
    pub display_name: Option<String>,
    /// Registrar host\[:port\]; `None` means the host of the address.
    pub registrar: Option<String>,
    pub outbound_proxy: Option<String>,
    pub transport: Transport,
    /// The digest user name when it differs from the user part of the address.
    pub auth_user: Option<String>,
    pub expires_secs: u32,
    pub tls: TlsSettings,
    pub enabled: bool,
    /// Codec order and SRTP for this account's calls.
    #[serde(default)]
    pub media: MediaSettings,
}

/// An account's media choices.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase", default)]
pub struct MediaSettings {
    /// The codecs to offer and accept, best first; empty for the defaults (Opus, G.722, PCMU,
    /// PCMA).
    pub codecs: Vec<siperb_media::CodecKind>,
    /// SDES-SRTP: off, optional (offered, used when the far end agrees) or required (calls
    /// without it fail).
    pub srtp: siperb_media::srtp::SrtpMode,
    /// The UDP ports calls' media may use (what a firewall opens); `None` for any free port.
    pub rtp_ports: Option<siperb_media::PortRange>,
}

/// Why an account cannot be used as given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AccountError {
    #[error("the SIP address is not valid: {0}")]
    Address(#[from] AddressError),
    #[error("the registration expiry must be between {min} and {max} seconds, not {given}")]
    Expiry { given: u32, min: u32, max: u32 },
    #[error("the {field} \"{value}\" is not a host or host:port")]
    Host { field: &'static str, value: String },
}

impl AccountConfig {
    /// The default registration lifetime the design asks for.
    pub const DEFAULT_EXPIRES_SECS: u32 = 300;
    const MIN_EXPIRES_SECS: u32 = 60;
    const MAX_EXPIRES_SECS: u32 = 86_400;

    /// A new account for `address` with the defaults a user expects: UDP, 300 s, TLS verified.
    pub fn new(id: AccountId, address: &str) -> Result<Self, AccountError> {
        Ok(Self {
            id,
            address: SipAddress::parse(address)?,
            display_name: None,
            registrar: None,
            outbound_proxy: None,
            transport: Transport::default(),
            auth_user: None,
            expires_secs: Self::DEFAULT_EXPIRES_SECS,
            tls: TlsSettings::default(),
            enabled: true,
            media: MediaSettings::default(),
        })
    }

    /// Checks the fields a user can get wrong, so the error names the field.
    pub fn validate(&self) -> Result<(), AccountError> {
        if !(Self::MIN_EXPIRES_SECS..=Self::MAX_EXPIRES_SECS).contains(&self.expires_secs) {
            return Err(AccountError::Expiry {
                given: self.expires_secs,
                min: Self::MIN_EXPIRES_SECS,
                max: Self::MAX_EXPIRES_SECS,
            });
        }
        for (field, value) in [
            ("registrar", &self.registrar),
            ("outbound proxy", &self.outbound_proxy),
        ] {
            if let Some(value) = value
                && !is_host_port(value)
            {
                return Err(AccountError::Host {
                    field,
                    value: value.clone(),
                });
            }
        }
        Ok(())
    }

    /// The digest user name: the configured one, or the user part of the address.
    pub fn auth_user(&self) -> &str {
        self.auth_user.as_deref().unwrap_or(&self.address.user)
    }
}

/// `host`, `host:port` or `[v6]:port`, optionally written as a `sip:` URI without a user.
fn is_host_port(value: &str) -> bool {
    let v = value.trim();
    let v = v
        .strip_prefix("sip:")
        .or_else(|| v.strip_prefix("sips:"))
        .unwrap_or(v);
    let v = v.split(';').next().unwrap_or_default();
    if v.is_empty() || v.contains('@') || v.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    let (host, port) = if let Some(after) = v.strip_prefix('[') {
        match after.split_once(']') {
            Some((h, "")) => (h, None),
            Some((h, tail)) => match tail.strip_prefix(':') {
                Some(p) => (h, Some(p)),
                None => return false,
            },
            None => return false,
        }
    } else {
        match v.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (v, None),
        }
    };
    !host.is_empty() && port.is_none_or(|p| matches!(p.parse::<u16>(), Ok(n) if n > 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account() -> AccountConfig {
        AccountConfig::new(AccountId("a1".into()), "sip:1001@pbx.example.com")
            .expect("valid address")
    }

    #[test]
    fn new_accounts_get_the_documented_defaults() {
        let a = account();
        assert_eq!(a.expires_secs, 300);
        assert_eq!(a.transport, Transport::Udp);
        assert!(a.tls.verify_server, "TLS verification is on by default");
        assert_eq!(a.auth_user(), "1001");
        assert_eq!(a.validate(), Ok(()));
    }

    #[test]
    fn validation_names_the_bad_field() {
        let mut a = account();
        a.expires_secs = 5;
        assert!(matches!(
            a.validate(),
            Err(AccountError::Expiry { given: 5, .. })
        ));
        let mut a = account();
        a.registrar = Some("pbx.example.com:notaport".into());
        assert!(matches!(
            a.validate(),
            Err(AccountError::Host {
                field: "registrar",
                ..
            })
        ));
        let mut a = account();
        a.outbound_proxy = Some("sip:proxy.example.com:5070;lr".into());
        assert_eq!(a.validate(), Ok(()));
        a.outbound_proxy = Some("[2001:db8::1]:5060".into());
        assert_eq!(a.validate(), Ok(()));
        a.outbound_proxy = Some("user@proxy".into());
        assert!(a.validate().is_err());
    }

    #[test]
    fn transports_have_their_well_known_ports() {
        assert_eq!(Transport::Udp.default_port(), 5060);
        assert_eq!(Transport::Tls.default_port(), 5061);
    }
}
