//! The call machine with a fake clock: every decision without a socket. This file: how calls
//! start and end; `mid_call.rs`: what happens while they are up.

use std::time::{Duration, Instant};

use super::*;

mod mid_call;

pub(super) fn outgoing() -> (Call, Instant) {
    let (call, actions) = Call::outgoing(CallConfig::new(CallDirection::Outgoing));
    assert_eq!(actions, vec![Action::Phase(CallPhase::Dialing)]);
    (call, Instant::now())
}

pub(super) fn established_outgoing(timer: Option<SessionTimer>) -> (Call, Instant) {
    let (mut call, t0) = outgoing();
    call.handle(
        t0,
        Input::Provisional {
            code: 180,
            early_media: false,
        },
    );
    let a = call.handle(
        t0,
        Input::Accepted {
            session_timer: timer,
        },
    );
    assert!(a.contains(&Action::Phase(CallPhase::Established)));
    (call, t0)
}

pub(super) fn incoming() -> (Call, Instant) {
    let (call, actions) = Call::incoming(CallConfig::new(CallDirection::Incoming));
    assert_eq!(actions[0], Action::Phase(CallPhase::Incoming));
    assert!(matches!(
        actions[1],
        Action::ArmTimer {
            kind: TimerKind::NoAnswer,
            ..
        }
    ));
    (call, Instant::now())
}

/// An incoming call the user answered and whose ACK arrived.
pub(super) fn established_incoming() -> (Call, Instant) {
    let (mut call, t0) = incoming();
    call.handle(t0, Input::Answer);
    let a = call.handle(
        t0,
        Input::Acked {
            session_timer: None,
        },
    );
    assert_eq!(a, vec![Action::Phase(CallPhase::Established)]);
    (call, t0)
}

pub(super) fn ended_with(actions: &[Action]) -> Option<EndCause> {
    actions.iter().find_map(|a| match a {
        Action::Ended { cause, .. } => Some(cause.clone()),
        _ => None,
    })
}

#[test]
fn an_outgoing_call_rings_then_is_answered_and_talk_time_counts_from_the_answer() {
    let (mut call, t0) = outgoing();
    assert!(
        call.handle(
            t0,
            Input::Provisional {
                code: 100,
                early_media: false
            }
        )
        .is_empty()
    );
    assert_eq!(
        call.handle(
            t0,
            Input::Provisional {
                code: 180,
                early_media: false
            }
        ),
        vec![Action::Phase(CallPhase::Ringing)]
    );
    assert_eq!(
        call.handle(
            t0,
            Input::Provisional {
                code: 183,
                early_media: true
            }
        ),
        vec![Action::Phase(CallPhase::EarlyMedia)]
    );
    // A later 180 without SDP keeps the early media.
    assert!(
        call.handle(
            t0,
            Input::Provisional {
                code: 180,
                early_media: false
            }
        )
        .is_empty()
    );
    let t1 = t0 + Duration::from_secs(5);
    call.handle(
        t1,
        Input::Accepted {
            session_timer: None,
        },
    );
    let a = call.handle(t1 + Duration::from_secs(42), Input::RemoteBye);
    assert_eq!(
        a.last(),
        Some(&Action::Ended {
            cause: EndCause::RemoteHangup,
            talk_time: Duration::from_secs(42)
        })
    );
    assert!(call.is_ended());
    // Nothing moves an ended call.
    assert!(call.handle(t1, Input::Hangup).is_empty());
}

#[test]
fn hanging_up_before_any_provisional_waits_for_one_before_cancel() {
    let (mut call, t0) = outgoing();
    let a = call.handle(t0, Input::Hangup);
    assert_eq!(a, vec![Action::Phase(CallPhase::Ending)]);
    assert!(!a.contains(&Action::SendCancel));
    let a = call.handle(
        t0,
        Input::Provisional {
            code: 100,
            early_media: false,
        },
    );
    assert_eq!(a, vec![Action::SendCancel]);
    let a = call.handle(
        t0,
        Input::Refused {
            code: 487,
            reason: "Request Terminated".into(),
        },
    );
    assert_eq!(ended_with(&a), Some(EndCause::LocalHangup));
}

#[test]
fn hanging_up_while_ringing_cancels_at_once() {
    let (mut call, t0) = outgoing();
    call.handle(
        t0,
        Input::Provisional {
            code: 180,
            early_media: false,
        },
    );
    assert_eq!(
        call.handle(t0, Input::Hangup),
        vec![Action::SendCancel, Action::Phase(CallPhase::Ending)]
    );
    // Hanging up twice does not CANCEL twice.
    assert!(call.handle(t0, Input::Hangup).is_empty());
}

#[test]
fn a_200_that_crosses_our_cancel_is_ended_with_a_bye() {
    let (mut call, t0) = outgoing();
    call.handle(
        t0,
        Input::Provisional {
            code: 180,
            early_media: false,
        },
    );
    call.handle(t0, Input::Hangup);
    let a = call.handle(
        t0,
        Input::Accepted {
            session_timer: None,
        },
    );
    assert_eq!(a[0], Action::SendBye);
    assert_eq!(ended_with(&a), Some(EndCause::LocalHangup));
}

#[test]
fn a_cancelled_call_whose_invite_never_got_an_answer_ends_as_our_hangup() {
    let (mut call, t0) = outgoing();
    call.handle(t0, Input::Hangup);
    let a = call.handle(t0 + Duration::from_secs(32), Input::NoResponse);
    assert_eq!(ended_with(&a), Some(EndCause::LocalHangup));
}

#[test]
fn refusals_and_silence_end_outgoing_calls_with_their_cause() {
    let (mut call, t0) = outgoing();
    let a = call.handle(
        t0,
        Input::Refused {
            code: 486,
            reason: "Busy Here".into(),
        },
    );
    assert_eq!(
        ended_with(&a),
        Some(EndCause::Refused {
            code: 486,
            reason: "Busy Here".into()
        })
    );
    let (mut call, t0) = outgoing();
    assert_eq!(
        ended_with(&call.handle(t0, Input::NoResponse)),
        Some(EndCause::NoAnswer)
    );
}

#[test]
fn an_incoming_call_is_answered_and_established_on_ack() {
    let (mut call, t0) = incoming();
    let a = call.handle(t0, Input::Answer);
    assert_eq!(
        a,
        vec![
            Action::CancelTimer(TimerKind::NoAnswer),
            Action::AcceptInvite,
            Action::Phase(CallPhase::Connecting)
        ]
    );
    let a = call.handle(
        t0,
        Input::Acked {
            session_timer: None,
        },
    );
    assert_eq!(a, vec![Action::Phase(CallPhase::Established)]);
    // A late CANCEL after our 200 changes nothing.
    assert!(call.handle(t0, Input::RemoteCancel).is_empty());
    let a = call.handle(t0, Input::Hangup);
    assert_eq!(a[0], Action::SendBye);
    assert_eq!(ended_with(&a), Some(EndCause::LocalHangup));
}

#[test]
fn incoming_calls_can_be_rejected_cancelled_or_left_ringing() {
    let (mut call, t0) = incoming();
    let a = call.handle(t0, Input::Reject { code: 486 });
    assert_eq!(a[0], Action::Reply { code: 486 });
    assert_eq!(ended_with(&a), Some(EndCause::Rejected { code: 486 }));

    let (mut call, t0) = incoming();
    let a = call.handle(t0, Input::RemoteCancel);
    assert!(a.contains(&Action::Reply { code: 487 }));
    assert_eq!(ended_with(&a), Some(EndCause::CallerCancelled));

    let (mut call, t0) = incoming();
    let a = call.handle(t0, Input::Timer(TimerKind::NoAnswer));
    assert_eq!(a[0], Action::Reply { code: 480 });
    assert_eq!(ended_with(&a), Some(EndCause::NoAnswer));

    // A nonsense reject code still ends in a valid refusal.
    let (mut call, t0) = incoming();
    assert_eq!(
        call.handle(t0, Input::Reject { code: 200 })[0],
        Action::Reply { code: 603 }
    );
}

#[test]
fn do_not_disturb_answers_busy_without_ringing() {
    let mut cfg = CallConfig::new(CallDirection::Incoming);
    cfg.do_not_disturb = true;
    let (call, a) = Call::incoming(cfg);
    assert_eq!(a[0], Action::Reply { code: 486 });
    assert!(!a.contains(&Action::Phase(CallPhase::Incoming)));
    assert_eq!(ended_with(&a), Some(EndCause::Rejected { code: 486 }));
    assert!(call.is_ended());
}
