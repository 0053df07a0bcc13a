use std::time::Duration;

use serde::{Deserialize, Serialize};
use specta::Type;

/// Why a registration is not in force, in terms a person can act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(tag = "kind", rename_all = "camelCase")]
#[non_exhaustive]
pub enum RegistrationFailure {
    /// The server never answered.
    Timeout,
    /// The server rejected our credentials (a 401/407 after we answered the challenge).
    AuthenticationFailed,
    /// The server refused this account (403).
    Forbidden,
    /// The server name could not be resolved.
    Dns { detail: String },
    /// The TLS handshake failed (certificate, protocol).
    Tls { detail: String },
    /// The connection could not be made or broke.
    Network { detail: String },
    /// Any other final SIP response.
    Rejected { code: u16, reason: String },
}

impl RegistrationFailure {
    /// A short sentence for the status bar.
    pub fn describe(&self) -> String {
        match self {
            Self::Timeout => "the server did not answer".to_owned(),
            Self::AuthenticationFailed => {
                "authentication failed (check the user name and password)".to_owned()
            }
            Self::Forbidden => "the server refused this account (403)".to_owned(),
            Self::Dns { detail } => format!("server name not found ({detail})"),
            Self::Tls { detail } => format!("secure connection failed ({detail})"),
            Self::Network { detail } => format!("network error ({detail})"),
            Self::Rejected { code, reason } => format!("rejected with {code} {reason}"),
        }
    }
}

/// Where an account's registration stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(tag = "state", rename_all = "camelCase")]
pub enum RegistrationState {
    /// Disabled by the user, or not yet started.
    Unregistered,
    Registering,
    Registered {
        #[serde(rename = "expiresSecs")]
        expires_secs: u32,
    },
    Failed {
        failure: RegistrationFailure,
    },
}

/// When to refresh a registration the server granted for `granted`: at about 75 % of its
/// lifetime, and never later than 32 s before it expires, so a slow retransmission still lands.
pub fn refresh_after(granted: Duration) -> Duration {
    let three_quarters = granted.mul_f64(0.75);
    let margin = granted.saturating_sub(Duration::from_secs(32));
    three_quarters.min(margin).max(granted / 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refreshes_at_three_quarters_with_a_margin() {
        assert_eq!(
            refresh_after(Duration::from_secs(300)),
            Duration::from_secs(225)
        );
        assert_eq!(
            refresh_after(Duration::from_secs(3600)),
            Duration::from_secs(2700)
        );
        // 75 % of 100 s is 75 s, but that leaves only 25 s: refresh at 68 s instead.
        assert_eq!(
            refresh_after(Duration::from_secs(100)),
            Duration::from_secs(68)
        );
        // Very short grants still refresh no earlier than half-way.
        assert_eq!(
            refresh_after(Duration::from_secs(40)),
            Duration::from_secs(20)
        );
    }

    #[test]
    fn failures_read_as_sentences() {
        assert_eq!(
            RegistrationFailure::Rejected {
                code: 503,
                reason: "Service Unavailable".into()
            }
            .describe(),
            "rejected with 503 Service Unavailable"
        );
        assert!(
            RegistrationFailure::AuthenticationFailed
                .describe()
                .starts_with("authentication failed")
        );
    }
}
