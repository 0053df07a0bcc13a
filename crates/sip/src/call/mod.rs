//! Calls: the sans-IO machine that decides what one call does (RFC 3261 INVITE/CANCEL/BYE,
//! RFC 3264 hold, RFC 3515 REFER, RFC 4028 session timers, SIP INFO DTMF), and the ghost-call
//! filter that decides which INVITEs may ring at all.
//!
//! rsipstack carries the transactions and the dialog (ACKs, CSeq, route sets, retransmissions);
//! this machine takes what happened (`Input`) and the time, and says what to do (`Action`).

mod filter;
mod io;
mod machine;
#[cfg(test)]
mod tests;

use serde::Serialize;

pub use filter::{GhostFilter, InviteOrigin, Verdict as GhostVerdict};
pub use io::{Action, CallConfig, Input, SessionTimer, TimerKind};
pub use machine::{Call, TRANSFERRED_GRACE};

/// Who started the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum CallDirection {
    Outgoing,
    Incoming,
}

/// The state names scripts and the UI see (`call_state` events).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum CallPhase {
    /// Outgoing: INVITE sent, nothing heard yet (or only 100 Trying).
    Dialing,
    /// Outgoing: the far end rings (180).
    Ringing,
    /// Outgoing: 183 with SDP: the network plays tones or announcements.
    EarlyMedia,
    /// Incoming: ringing here, waiting for the user.
    Incoming,
    /// Incoming: answered, waiting for the ACK.
    Connecting,
    Established,
    /// Hanging up: CANCEL or BYE sent.
    Ending,
    Ended,
}

impl CallPhase {
    pub fn name(self) -> &'static str {
        match self {
            Self::Dialing => "dialing",
            Self::Ringing => "ringing",
            Self::EarlyMedia => "early_media",
            Self::Incoming => "incoming",
            Self::Connecting => "connecting",
            Self::Established => "established",
            Self::Ending => "ending",
            Self::Ended => "ended",
        }
    }
}

/// RFC 3264 media direction, shared with the media crate's offer/answer.
pub use siperb_media::Direction as MediaDirection;

/// Why a call ended (`call_ended` events).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, specta::Type)]
#[serde(tag = "cause", rename_all = "snake_case")]
pub enum EndCause {
    /// We hung up (BYE, or CANCEL before an answer).
    LocalHangup,
    /// The far end hung up.
    RemoteHangup,
    /// The caller gave up before we answered (a missed call).
    CallerCancelled,
    /// We declined an incoming call (486/603), or Do Not Disturb did.
    Rejected { code: u16 },
    /// The far end refused: busy, declined, not found…
    Refused { code: u16, reason: String },
    /// No final answer in time (Timer B, or nobody answered the incoming call).
    NoAnswer,
    /// The session timer expired without a refresh (RFC 4028).
    SessionExpired,
    /// The call was handed over to someone else (REFER succeeded).
    Transferred,
    /// Another call took this one's place (an INVITE with Replaces: attended transfer to us).
    Replaced,
    /// The network failed (no route, transport error).
    Network { detail: String },
    /// The far end's media could not be used (e.g. it answered without the SRTP this account
    /// requires): we hung up at once.
    MediaRefused { reason: String },
}
