use std::time::{Duration, Instant};

use super::io::{Action, CallConfig, Input, SessionTimer, TimerKind};
use super::{CallDirection, CallPhase, EndCause, MediaDirection};

/// How long the transferor has to hang up once the call we placed for its REFER is up.
pub const TRANSFERRED_GRACE: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transfer {
    /// We sent a REFER and wait for its outcome.
    Sending,
    /// We accepted a REFER and are placing the new call.
    Receiving,
    /// The call we placed for the REFER is up: the transferor may leave.
    Done,
}

/// One call's decisions. Feed it [`Input`]s with the time; carry out the [`Action`]s.
#[derive(Debug, Clone)]
pub struct Call {
    cfg: CallConfig,
    phase: CallPhase,
    heard_provisional: bool,
    /// The user hung up before any provisional: CANCEL as soon as one arrives (RFC 3261 §9.1).
    cancel_pending: bool,
    local_hold: bool,
    remote_hold: bool,
    /// The hold state our in-flight re-INVITE asks for.
    reinvite_in_flight: Option<bool>,
    /// What the user wants once the in-flight re-INVITE is done.
    wanted_hold: Option<bool>,
    session_timer: Option<SessionTimer>,
    transfer: Option<Transfer>,
    /// Why the call ends once the CANCEL/BYE we sent completes (the user hung up, unless a
    /// transfer or a replacement did).
    ending_as: Option<EndCause>,
    answered_at: Option<Instant>,
    rng: u64,
}

impl Call {
    pub fn outgoing(cfg: CallConfig) -> (Self, Vec<Action>) {
        let call = Self::new(cfg, CallPhase::Dialing);
        (call, vec![Action::Phase(CallPhase::Dialing)])
    }

    pub fn incoming(cfg: CallConfig) -> (Self, Vec<Action>) {
        let dnd = cfg.do_not_disturb;
        let ring_timeout = cfg.ring_timeout;
        let mut call = Self::new(cfg, CallPhase::Incoming);
        if dnd {
            let mut out = vec![Action::Reply { code: 486 }];
            call.end(Instant::now(), EndCause::Rejected { code: 486 }, &mut out);
            return (call, out);
        }
        (
            call,
            vec![
                Action::Phase(CallPhase::Incoming),
                Action::ArmTimer {
                    kind: TimerKind::NoAnswer,
                    after: ring_timeout,
                },
            ],
        )
    }

    fn new(cfg: CallConfig, phase: CallPhase) -> Self {
        let rng = cfg.seed | 1;
        Self {
            cfg,
            phase,
            heard_provisional: false,
            cancel_pending: false,
            local_hold: false,
            remote_hold: false,
            reinvite_in_flight: None,
            wanted_hold: None,
            session_timer: None,
            transfer: None,
            ending_as: None,
            answered_at: None,
            rng,
        }
    }

    pub fn phase(&self) -> CallPhase {
        self.phase
    }

    pub fn direction(&self) -> CallDirection {
        self.cfg.direction
    }

    pub fn is_on_hold(&self) -> bool {
        self.local_hold
    }

    pub fn is_held_by_remote(&self) -> bool {
        self.remote_hold
    }

    pub fn is_ended(&self) -> bool {
        self.phase == CallPhase::Ended
    }

    /// The direction our media should have now.
    pub fn media_direction(&self) -> MediaDirection {
        match (self.local_hold, self.remote_hold) {
            (false, false) => MediaDirection::SendRecv,
            (true, false) => MediaDirection::SendOnly,
            (false, true) => MediaDirection::RecvOnly,
            (true, true) => MediaDirection::Inactive,
        }
    }

    pub fn handle(&mut self, now: Instant, input: Input) -> Vec<Action> {
        let mut out = Vec::new();
        if self.phase == CallPhase::Ended {
            return out;
        }
        match input {
            Input::Answer => {
                if self.phase == CallPhase::Incoming {
                    out.push(Action::CancelTimer(TimerKind::NoAnswer));
                    out.push(Action::AcceptInvite);
                    self.set_phase(CallPhase::Connecting, &mut out);
                }
            }
            Input::Reject { code } => {
                if self.phase == CallPhase::Incoming {
                    let code = if (400..700).contains(&code) {
                        code
                    } else {
                        603
                    };
                    out.push(Action::Reply { code });
                    self.end(now, EndCause::Rejected { code }, &mut out);
                }
            }
            Input::Hangup => self.hangup(now, EndCause::LocalHangup, &mut out),
            Input::Replaced => self.hangup(now, EndCause::Replaced, &mut out),
            Input::MediaUnusable { reason } => {
                self.hangup(now, EndCause::MediaRefused { reason }, &mut out)
            }
            Input::HandedOver => self.hangup(now, EndCause::Transferred, &mut out),
            Input::Hold => self.want_hold(true, &mut out),
            Input::Resume => self.want_hold(false, &mut out),
            Input::SendDtmf(d) => {
                if self.phase == CallPhase::Established {
                    out.push(Action::SendDtmf(d));
                }
            }
            Input::Transfer { target } => {
                if self.phase == CallPhase::Established && self.transfer.is_none() {
                    self.transfer = Some(Transfer::Sending);
                    out.push(Action::SendRefer { target });
                }
            }
            Input::Provisional { code, early_media } => {
                self.provisional(code, early_media, &mut out)
            }
            Input::Accepted { session_timer } => {
                if self.cancel_pending || self.phase == CallPhase::Ending {
                    // Our CANCEL crossed the 200: the dialog exists, end it (RFC 3261 §15).
                    out.push(Action::SendBye);
                    let cause = self.ending_cause();
                    self.end(now, cause, &mut out);
                } else if matches!(
                    self.phase,
                    CallPhase::Dialing | CallPhase::Ringing | CallPhase::EarlyMedia
                ) {
                    self.establish(now, session_timer, &mut out);
                }
            }
            Input::Refused { code, reason } => {
                if self.phase == CallPhase::Ending {
                    let cause = self.ending_cause();
                    self.end(now, cause, &mut out);
                } else if self.cfg.direction == CallDirection::Outgoing
                    && self.answered_at.is_none()
                {
                    self.end(now, EndCause::Refused { code, reason }, &mut out);
                }
            }
            Input::NoResponse => {
                if self.answered_at.is_none() {
                    let cause = if self.phase == CallPhase::Ending {
                        self.ending_cause()
                    } else {
                        EndCause::NoAnswer
                    };
                    self.end(now, cause, &mut out);
                }
            }
            Input::NetworkFailed { detail } => {
                self.end(now, EndCause::Network { detail }, &mut out);
            }
            Input::Acked { session_timer } => {
                if self.phase == CallPhase::Connecting {
                    self.establish(now, session_timer, &mut out);
                }
            }
            Input::RemoteCancel => {
                if self.phase == CallPhase::Incoming {
                    out.push(Action::CancelTimer(TimerKind::NoAnswer));
                    out.push(Action::Reply { code: 487 });
                    self.end(now, EndCause::CallerCancelled, &mut out);
                }
            }
            Input::RemoteBye => {
                let cause = if self.transfer == Some(Transfer::Done) {
                    // The transferor hangs up once our new call is up: that is the transfer.
                    EndCause::Transferred
                } else {
                    EndCause::RemoteHangup
                };
                self.end(now, cause, &mut out);
            }
            Input::RemoteReinvite { offered } => self.remote_reinvite(offered, &mut out),
            Input::ReinviteDone { code } => self.reinvite_done(now, code, &mut out),
            Input::ReferRequested { target } => {
                if self.phase == CallPhase::Established && self.transfer.is_none() {
                    self.transfer = Some(Transfer::Receiving);
                    out.push(Action::AcceptRefer);
                    out.push(Action::NotifyTransfer { status: 100 });
                    out.push(Action::TransferProgress { status: 100 });
                    out.push(Action::PlaceTransferCall { target });
                }
            }
            Input::ReferAnswered { code } => {
                if self.transfer == Some(Transfer::Sending) {
                    out.push(Action::TransferProgress { status: code });
                    if code >= 300 {
                        self.transfer = None;
                    }
                }
            }
            Input::TransferNotify { status } => {
                if self.transfer == Some(Transfer::Sending) {
                    out.push(Action::TransferProgress { status });
                    if (200..300).contains(&status) {
                        out.push(Action::SendBye);
                        self.end(now, EndCause::Transferred, &mut out);
                    } else if status >= 300 {
                        self.transfer = None;
                    }
                }
            }
            Input::TransferCallProgress { status } => {
                if self.transfer == Some(Transfer::Receiving) {
                    out.push(Action::NotifyTransfer { status });
                    out.push(Action::TransferProgress { status });
                    if (200..300).contains(&status) {
                        self.transfer = Some(Transfer::Done);
                        // The transferor should hang up now (RFC 5589 §6); some (liblinphone)
                        // never do, and the user must not keep a dead call: we do it if it
                        // has not within a grace period.
                        out.push(Action::ArmTimer {
                            kind: TimerKind::TransferredHangup,
                            after: TRANSFERRED_GRACE,
                        });
                    } else if status >= 300 {
                        self.transfer = None;
                    }
                }
            }
            Input::DtmfReceived { digit } => {
                if matches!(
                    self.phase,
                    CallPhase::Established | CallPhase::EarlyMedia | CallPhase::Connecting
                ) {
                    out.push(Action::Dtmf(digit));
                }
            }
            Input::Timer(kind) => self.timer(now, kind, &mut out),
        }
        out
    }

    fn hangup(&mut self, now: Instant, cause: EndCause, out: &mut Vec<Action>) {
        if matches!(
            self.phase,
            CallPhase::Dialing | CallPhase::Ringing | CallPhase::EarlyMedia
        ) {
            self.ending_as = Some(cause.clone());
        }
        match self.phase {
            CallPhase::Dialing if !self.heard_provisional => {
                // A CANCEL before any provisional may overtake the INVITE: wait for one.
                self.cancel_pending = true;
                self.set_phase(CallPhase::Ending, out);
            }
            CallPhase::Dialing | CallPhase::Ringing | CallPhase::EarlyMedia => {
                out.push(Action::SendCancel);
                self.set_phase(CallPhase::Ending, out);
            }
            CallPhase::Incoming => {
                out.push(Action::CancelTimer(TimerKind::NoAnswer));
                out.push(Action::Reply { code: 603 });
                self.end(now, EndCause::Rejected { code: 603 }, out);
            }
            CallPhase::Connecting | CallPhase::Established => {
                out.push(Action::SendBye);
                self.end(now, cause, out);
            }
            CallPhase::Ending | CallPhase::Ended => {}
        }
    }

    fn provisional(&mut self, code: u16, early_media: bool, out: &mut Vec<Action>) {
        if !(100..200).contains(&code) {
            return;
        }
        self.heard_provisional = true;
        if self.cancel_pending {
            self.cancel_pending = false;
            out.push(Action::SendCancel);
            return;
        }
        if code == 100 {
            return;
        }
        let next = if early_media {
            CallPhase::EarlyMedia
        } else if self.phase == CallPhase::EarlyMedia {
            // A later 180 without SDP does not stop the early media already playing.
            CallPhase::EarlyMedia
        } else {
            CallPhase::Ringing
        };
        if matches!(
            self.phase,
            CallPhase::Dialing | CallPhase::Ringing | CallPhase::EarlyMedia
        ) {
            self.set_phase(next, out);
        }
    }

    fn establish(
        &mut self,
        now: Instant,
        session_timer: Option<SessionTimer>,
        out: &mut Vec<Action>,
    ) {
        self.answered_at = Some(now);
        self.set_phase(CallPhase::Established, out);
        self.session_timer = session_timer;
        self.arm_session_timer(out);
    }

    fn arm_session_timer(&self, out: &mut Vec<Action>) {
        let Some(st) = self.session_timer else {
            return;
        };
        if st.we_refresh {
            out.push(Action::ArmTimer {
                kind: TimerKind::SessionRefresh,
                after: st.interval / 2,
            });
        } else {
            // RFC 4028 §10: BYE at expiry minus min(32 s, interval / 3).
            let margin = Duration::from_secs(32).min(st.interval / 3);
            out.push(Action::ArmTimer {
                kind: TimerKind::SessionExpiry,
                after: st.interval.saturating_sub(margin),
            });
        }
    }

    fn want_hold(&mut self, hold: bool, out: &mut Vec<Action>) {
        if self.phase != CallPhase::Established {
            return;
        }
        if self.reinvite_in_flight.is_some() {
            self.wanted_hold = Some(hold);
            return;
        }
        if self.local_hold == hold {
            self.wanted_hold = None;
            return;
        }
        self.send_reinvite(hold, out);
    }

    fn send_reinvite(&mut self, hold: bool, out: &mut Vec<Action>) {
        self.reinvite_in_flight = Some(hold);
        let direction = match (hold, self.remote_hold) {
            (false, _) => MediaDirection::SendRecv,
            (true, false) => MediaDirection::SendOnly,
            (true, true) => MediaDirection::Inactive,
        };
        out.push(Action::SendReinvite { direction });
    }

    fn reinvite_done(&mut self, now: Instant, code: u16, out: &mut Vec<Action>) {
        let Some(asked) = self.reinvite_in_flight.take() else {
            return;
        };
        match code {
            200..=299 => {
                if self.local_hold != asked {
                    self.local_hold = asked;
                    out.push(Action::SetMediaDirection(self.media_direction()));
                    self.hold_changed(out);
                }
                // A successful re-INVITE refreshes the session (RFC 4028 §7.4).
                self.arm_session_timer(out);
                if let Some(wanted) = self.wanted_hold.take()
                    && wanted != self.local_hold
                {
                    self.send_reinvite(wanted, out);
                }
            }
            491 => {
                // Glare: retry after a random pause; the Call-ID owner waits 2.1–4 s, the
                // other side 0–2 s (RFC 3261 §14.1).
                self.wanted_hold.get_or_insert(asked);
                let (base, span) = if self.cfg.direction == CallDirection::Outgoing {
                    (2100, 1900)
                } else {
                    (0, 2000)
                };
                let after = Duration::from_millis(base + self.next_random() % (span + 1));
                out.push(Action::ArmTimer {
                    kind: TimerKind::GlareRetry,
                    after,
                });
            }
            408 | 481 => {
                // The dialog is gone at the far end (RFC 3261 §14.1).
                out.push(Action::SendBye);
                self.end(
                    now,
                    EndCause::Network {
                        detail: format!("the far end lost the call ({code})"),
                    },
                    out,
                );
            }
            _ => {
                // Refused (e.g. 488): nothing changed; a queued wish is dropped with it.
                self.wanted_hold = None;
            }
        }
    }

    fn remote_reinvite(&mut self, offered: MediaDirection, out: &mut Vec<Action>) {
        if !matches!(self.phase, CallPhase::Established | CallPhase::Connecting) {
            return;
        }
        if self.reinvite_in_flight.is_some() {
            out.push(Action::AnswerReinvite {
                code: 491,
                direction: None,
            });
            return;
        }
        let answer = offered.answer_to(self.local_hold);
        out.push(Action::AnswerReinvite {
            code: 200,
            direction: Some(answer),
        });
        let held = MediaDirection::remote_holds(offered);
        if held != self.remote_hold {
            self.remote_hold = held;
            out.push(Action::SetMediaDirection(self.media_direction()));
            self.hold_changed(out);
        }
        self.arm_session_timer(out);
    }

    fn timer(&mut self, now: Instant, kind: TimerKind, out: &mut Vec<Action>) {
        match kind {
            TimerKind::NoAnswer => {
                if self.phase == CallPhase::Incoming {
                    out.push(Action::Reply { code: 480 });
                    self.end(now, EndCause::NoAnswer, out);
                }
            }
            TimerKind::GlareRetry => {
                if self.phase == CallPhase::Established
                    && self.reinvite_in_flight.is_none()
                    && let Some(wanted) = self.wanted_hold.take()
                    && wanted != self.local_hold
                {
                    self.send_reinvite(wanted, out);
                }
            }
            TimerKind::SessionRefresh => {
                if self.phase == CallPhase::Established {
                    if self.reinvite_in_flight.is_none() {
                        // Refresh with the same media: a re-INVITE that changes nothing.
                        let hold = self.local_hold;
                        self.send_reinvite(hold, out);
                    } else {
                        // One is in flight already; its success re-arms the timer.
                    }
                }
            }
            TimerKind::SessionExpiry => {
                if self.phase == CallPhase::Established {
                    out.push(Action::SendBye);
                    self.end(now, EndCause::SessionExpired, out);
                }
            }
            TimerKind::TransferredHangup => {
                if self.transfer == Some(Transfer::Done) {
                    self.hangup(now, EndCause::Transferred, out);
                }
            }
        }
    }

    fn hold_changed(&self, out: &mut Vec<Action>) {
        out.push(Action::HoldChanged {
            local: self.local_hold,
            remote: self.remote_hold,
        });
    }

    fn set_phase(&mut self, phase: CallPhase, out: &mut Vec<Action>) {
        if self.phase != phase {
            self.phase = phase;
            out.push(Action::Phase(phase));
        }
    }

    fn ending_cause(&self) -> EndCause {
        self.ending_as.clone().unwrap_or(EndCause::LocalHangup)
    }

    fn end(&mut self, now: Instant, cause: EndCause, out: &mut Vec<Action>) {
        let talk_time = self
            .answered_at
            .map_or(Duration::ZERO, |t| now.saturating_duration_since(t));
        self.phase = CallPhase::Ended;
        out.push(Action::Phase(CallPhase::Ended));
        out.push(Action::Ended { cause, talk_time });
    }

    fn next_random(&mut self) -> u64 {
        // xorshift64: deterministic per seed, good enough for back-off jitter.
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng
    }
}
