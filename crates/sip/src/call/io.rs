//! What goes into the call machine and what comes out of it.

use std::time::Duration;

use super::{CallDirection, CallPhase, EndCause, MediaDirection};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionTimer {
    pub interval: Duration,
    /// Whether we are the refresher (else the far end must refresh, and we watch).
    pub we_refresh: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimerKind {
    /// An incoming call rang for too long.
    NoAnswer,
    /// Retry a re-INVITE that met a 491 (RFC 3261 §14.1).
    GlareRetry,
    /// Time to refresh the session (we are the refresher).
    SessionRefresh,
    /// The far end did not refresh in time.
    SessionExpiry,
    /// A transfer we carried out succeeded but the transferor has not hung up yet.
    TransferredHangup,
}

#[derive(Debug, Clone)]
pub struct CallConfig {
    pub direction: CallDirection,
    /// Do Not Disturb: incoming calls are answered busy and never ring.
    pub do_not_disturb: bool,
    /// How long an incoming call rings before we answer 480 for the user.
    pub ring_timeout: Duration,
    /// Seed for the glare back-off.
    pub seed: u64,
}

impl CallConfig {
    pub fn new(direction: CallDirection) -> Self {
        Self {
            direction,
            do_not_disturb: false,
            ring_timeout: Duration::from_secs(120),
            seed: 0x5eed,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    // What the user does.
    Answer,
    Reject {
        code: u16,
    },
    Hangup,
    Hold,
    Resume,
    SendDtmf(char),
    Transfer {
        target: String,
    },
    /// An incoming INVITE with Replaces names this call: hang it up, the new call takes over.
    Replaced,
    /// This was the consultation call of an attended transfer that succeeded: hang it up.
    HandedOver,
    /// The answer's media cannot be used (no common codec, SRTP required but absent): end the
    /// call with that reason.
    MediaUnusable {
        reason: String,
    },
    // Our INVITE's responses.
    Provisional {
        code: u16,
        early_media: bool,
    },
    Accepted {
        session_timer: Option<SessionTimer>,
    },
    Refused {
        code: u16,
        reason: String,
    },
    /// No final response (Timer B) to our INVITE.
    NoResponse,
    /// The transport failed under the call.
    NetworkFailed {
        detail: String,
    },
    // The far end, on an incoming call or inside the dialog.
    /// The ACK to our 2xx arrived.
    Acked {
        session_timer: Option<SessionTimer>,
    },
    RemoteCancel,
    RemoteBye,
    RemoteReinvite {
        offered: MediaDirection,
    },
    /// The final response to our re-INVITE.
    ReinviteDone {
        code: u16,
    },
    ReferRequested {
        target: String,
    },
    /// The final response to our REFER.
    ReferAnswered {
        code: u16,
    },
    /// A NOTIFY (message/sipfrag) about the REFER we sent.
    TransferNotify {
        status: u16,
    },
    /// How the call we placed for a REFER we accepted is going.
    TransferCallProgress {
        status: u16,
    },
    /// A digit from the far end: a SIP INFO, or an RFC 4733 event the media path decoded.
    DtmfReceived {
        digit: char,
    },
    Timer(TimerKind),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Tell the user: the call is now in this phase.
    Phase(CallPhase),
    /// Tell the user: the hold state changed.
    HoldChanged {
        local: bool,
        remote: bool,
    },
    SendCancel,
    SendBye,
    /// Answer the incoming INVITE with 200 and our SDP.
    AcceptInvite,
    /// Answer the incoming INVITE with this final failure.
    Reply {
        code: u16,
    },
    /// Send a re-INVITE offering this direction.
    SendReinvite {
        direction: MediaDirection,
    },
    /// Answer the far end's re-INVITE: `direction` is our answer for a 2xx.
    AnswerReinvite {
        code: u16,
        direction: Option<MediaDirection>,
    },
    /// The media should now flow this way.
    SetMediaDirection(MediaDirection),
    /// Send a digit: RFC 4733 in the media when negotiated, else a SIP INFO.
    SendDtmf(char),
    /// Tell the user a digit arrived.
    Dtmf(char),
    SendRefer {
        target: String,
    },
    /// Answer the far end's REFER with 202 Accepted.
    AcceptRefer,
    /// Place a new call to `target` for the REFER we accepted.
    PlaceTransferCall {
        target: String,
    },
    /// NOTIFY the REFER's sender with this sipfrag status.
    NotifyTransfer {
        status: u16,
    },
    /// Tell the user how the transfer is going (a SIP status).
    TransferProgress {
        status: u16,
    },
    ArmTimer {
        kind: TimerKind,
        after: Duration,
    },
    CancelTimer(TimerKind),
    /// The call is over; `talk_time` counts from the answer.
    Ended {
        cause: EndCause,
        talk_time: Duration,
    },
}
