//! Ghost-call protection: which new INVITEs may ring the user.
//!
//! SIP scanners (sipvicious, "friendly-scanner") send INVITEs straight to open SIP ports, with
//! made-up Request-URIs like `sip:100@1.2.3.4`. A registered phone only ever receives real calls
//! through its registrar (or the outbound proxy it configured), addressed to the Contact it
//! registered. So: an INVITE from any other address, or to any other user, never rings.

use std::net::SocketAddr;

/// Where a new INVITE came from and whom it is for.
#[derive(Debug, Clone)]
pub struct InviteOrigin<'a> {
    /// The source address of the packet (or connection).
    pub source: SocketAddr,
    /// The user part of the Request-URI, if any.
    pub request_user: Option<&'a str>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Ring,
    /// Answer with this status and log `why`; the user never hears of it.
    Refuse {
        code: u16,
        why: String,
    },
}

#[derive(Debug, Clone)]
pub struct GhostFilter {
    /// Off for direct IP calling.
    pub enabled: bool,
    /// The registrar and outbound proxy addresses; empty for a local account (no server), where
    /// any source may call but the Request-URI must still name us.
    pub trusted_sources: Vec<SocketAddr>,
    /// The user part of the Contact we registered (or of the local account's address).
    pub contact_user: String,
}

impl GhostFilter {
    pub fn check(&self, origin: &InviteOrigin<'_>) -> Verdict {
        if !self.enabled {
            return Verdict::Ring;
        }
        if !self.trusted_sources.is_empty() && !self.trusted_sources.contains(&origin.source) {
            return Verdict::Refuse {
                code: 403,
                why: format!(
                    "INVITE from {} did not come through the registrar or proxy",
                    origin.source
                ),
            };
        }
        match origin.request_user {
            Some(user) if user == self.contact_user => Verdict::Ring,
            // A registrar may deliver to the bare Contact host when we registered without a
            // user; we always register with one, so a missing user is not for us either.
            other => Verdict::Refuse {
                code: 403,
                why: format!(
                    "INVITE for {:?} from {} does not match our contact user {:?}",
                    other.unwrap_or(""),
                    origin.source,
                    self.contact_user
                ),
            },
        }
    }
}
