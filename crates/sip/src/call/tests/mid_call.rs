//! The call machine while a call is up: hold, glare, session timers, transfer, DTMF, and the
//! ghost-call filter.

use std::time::Duration;

use super::super::*;
use super::{ended_with, established_incoming, established_outgoing, incoming, outgoing};

#[test]
fn hold_and_resume_use_re_invites_and_queue_behind_one_in_flight() {
    let (mut call, t0) = established_outgoing(None);
    assert_eq!(
        call.handle(t0, Input::Hold),
        vec![Action::SendReinvite {
            direction: MediaDirection::SendOnly
        }]
    );
    // The user presses resume before the far end answered the hold: queued.
    assert!(call.handle(t0, Input::Resume).is_empty());
    let a = call.handle(t0, Input::ReinviteDone { code: 200 });
    assert_eq!(
        a,
        vec![
            Action::SetMediaDirection(MediaDirection::SendOnly),
            Action::HoldChanged {
                local: true,
                remote: false
            },
            Action::SendReinvite {
                direction: MediaDirection::SendRecv
            }
        ]
    );
    let a = call.handle(t0, Input::ReinviteDone { code: 200 });
    assert!(a.contains(&Action::HoldChanged {
        local: false,
        remote: false
    }));
    assert!(!call.is_on_hold());
    // Holding twice is one re-INVITE.
    call.handle(t0, Input::Hold);
    call.handle(t0, Input::ReinviteDone { code: 200 });
    assert!(call.handle(t0, Input::Hold).is_empty());
}

#[test]
fn a_refused_hold_leaves_the_call_as_it_was() {
    let (mut call, t0) = established_outgoing(None);
    call.handle(t0, Input::Hold);
    assert!(
        call.handle(t0, Input::ReinviteDone { code: 488 })
            .is_empty()
    );
    assert!(!call.is_on_hold());
    // A re-INVITE that finds no dialog ends the call.
    call.handle(t0, Input::Hold);
    let a = call.handle(t0, Input::ReinviteDone { code: 481 });
    assert_eq!(a[0], Action::SendBye);
    assert!(matches!(ended_with(&a), Some(EndCause::Network { .. })));
}

#[test]
fn remote_hold_is_answered_per_rfc_3264_and_reported() {
    let (mut call, t0) = established_incoming();
    let a = call.handle(
        t0,
        Input::RemoteReinvite {
            offered: MediaDirection::SendOnly,
        },
    );
    assert_eq!(
        a,
        vec![
            Action::AnswerReinvite {
                code: 200,
                direction: Some(MediaDirection::RecvOnly)
            },
            Action::SetMediaDirection(MediaDirection::RecvOnly),
            Action::HoldChanged {
                local: false,
                remote: true
            }
        ]
    );
    assert!(call.is_held_by_remote());
    // We hold too while held: inactive.
    assert_eq!(
        call.handle(t0, Input::Hold),
        vec![Action::SendReinvite {
            direction: MediaDirection::Inactive
        }]
    );
    call.handle(t0, Input::ReinviteDone { code: 200 });
    assert_eq!(call.media_direction(), MediaDirection::Inactive);
    // The far end resumes: we still hold, so we answer sendonly.
    let a = call.handle(
        t0,
        Input::RemoteReinvite {
            offered: MediaDirection::SendRecv,
        },
    );
    assert_eq!(
        a[0],
        Action::AnswerReinvite {
            code: 200,
            direction: Some(MediaDirection::SendOnly)
        }
    );
    assert!(!call.is_held_by_remote());
}

#[test]
fn glare_answers_491_and_retries_after_the_rfc_back_off() {
    // Outgoing side owns the Call-ID: retry in 2.1–4 s.
    let (mut call, t0) = established_outgoing(None);
    call.handle(t0, Input::Hold);
    let a = call.handle(
        t0,
        Input::RemoteReinvite {
            offered: MediaDirection::SendOnly,
        },
    );
    assert_eq!(
        a,
        vec![Action::AnswerReinvite {
            code: 491,
            direction: None
        }]
    );
    let a = call.handle(t0, Input::ReinviteDone { code: 491 });
    let Action::ArmTimer {
        kind: TimerKind::GlareRetry,
        after,
    } = a[0]
    else {
        panic!("expected a glare timer, got {a:?}");
    };
    assert!(
        (Duration::from_millis(2100)..=Duration::from_secs(4)).contains(&after),
        "{after:?}"
    );
    assert_eq!(
        call.handle(t0 + after, Input::Timer(TimerKind::GlareRetry)),
        vec![Action::SendReinvite {
            direction: MediaDirection::SendOnly
        }]
    );

    // The callee side waits 0–2 s.
    let (mut call, t0) = established_incoming();
    call.handle(t0, Input::Hold);
    let a = call.handle(t0, Input::ReinviteDone { code: 491 });
    let Action::ArmTimer { after, .. } = a[0] else {
        panic!("{a:?}")
    };
    assert!(after <= Duration::from_secs(2), "{after:?}");
}

#[test]
fn session_timers_refresh_at_half_time_or_bye_before_expiry() {
    let st = SessionTimer {
        interval: Duration::from_secs(1800),
        we_refresh: true,
    };
    let (mut call, t0) = outgoing();
    let a = call.handle(
        t0,
        Input::Accepted {
            session_timer: Some(st),
        },
    );
    assert!(a.contains(&Action::ArmTimer {
        kind: TimerKind::SessionRefresh,
        after: Duration::from_secs(900)
    }));
    let a = call.handle(
        t0 + Duration::from_secs(900),
        Input::Timer(TimerKind::SessionRefresh),
    );
    assert_eq!(
        a,
        vec![Action::SendReinvite {
            direction: MediaDirection::SendRecv
        }]
    );
    let a = call.handle(t0, Input::ReinviteDone { code: 200 });
    assert_eq!(
        a,
        vec![Action::ArmTimer {
            kind: TimerKind::SessionRefresh,
            after: Duration::from_secs(900)
        }]
    );

    // The far end refreshes: we watch, and BYE at 90 s - min(32 s, 30 s) = 60 s.
    let st = SessionTimer {
        interval: Duration::from_secs(90),
        we_refresh: false,
    };
    let (mut call, t0) = incoming();
    call.handle(t0, Input::Answer);
    let a = call.handle(
        t0,
        Input::Acked {
            session_timer: Some(st),
        },
    );
    assert!(a.contains(&Action::ArmTimer {
        kind: TimerKind::SessionExpiry,
        after: Duration::from_secs(60)
    }));
    // A refresh re-arms it.
    let a = call.handle(
        t0,
        Input::RemoteReinvite {
            offered: MediaDirection::SendRecv,
        },
    );
    assert!(a.contains(&Action::ArmTimer {
        kind: TimerKind::SessionExpiry,
        after: Duration::from_secs(60)
    }));
    let a = call.handle(
        t0 + Duration::from_secs(60),
        Input::Timer(TimerKind::SessionExpiry),
    );
    assert_eq!(a[0], Action::SendBye);
    assert_eq!(ended_with(&a), Some(EndCause::SessionExpired));
}

#[test]
fn blind_transfer_we_send_ends_the_call_when_the_target_answers() {
    let (mut call, t0) = established_outgoing(None);
    assert_eq!(
        call.handle(
            t0,
            Input::Transfer {
                target: "sip:carol@x".into()
            }
        ),
        vec![Action::SendRefer {
            target: "sip:carol@x".into()
        }]
    );
    assert_eq!(
        call.handle(t0, Input::ReferAnswered { code: 202 }),
        vec![Action::TransferProgress { status: 202 }]
    );
    assert_eq!(
        call.handle(t0, Input::TransferNotify { status: 180 }),
        vec![Action::TransferProgress { status: 180 }]
    );
    let a = call.handle(t0, Input::TransferNotify { status: 200 });
    assert_eq!(a[1], Action::SendBye);
    assert_eq!(ended_with(&a), Some(EndCause::Transferred));
}

#[test]
fn a_failed_transfer_keeps_the_call_and_allows_another_try() {
    let (mut call, t0) = established_outgoing(None);
    call.handle(
        t0,
        Input::Transfer {
            target: "sip:carol@x".into(),
        },
    );
    call.handle(t0, Input::ReferAnswered { code: 202 });
    let a = call.handle(t0, Input::TransferNotify { status: 486 });
    assert_eq!(a, vec![Action::TransferProgress { status: 486 }]);
    assert_eq!(call.phase(), CallPhase::Established);
    assert!(
        !call
            .handle(
                t0,
                Input::Transfer {
                    target: "sip:dave@x".into()
                }
            )
            .is_empty()
    );
    // A refused REFER also frees the way.
    let a = call.handle(t0, Input::ReferAnswered { code: 603 });
    assert_eq!(a, vec![Action::TransferProgress { status: 603 }]);
    assert!(
        !call
            .handle(
                t0,
                Input::Transfer {
                    target: "sip:eve@x".into()
                }
            )
            .is_empty()
    );
}

#[test]
fn a_refer_we_receive_places_the_new_call_and_reports_it_back() {
    let (mut call, t0) = established_incoming();
    let a = call.handle(
        t0,
        Input::ReferRequested {
            target: "sip:carol@x".into(),
        },
    );
    assert_eq!(
        a,
        vec![
            Action::AcceptRefer,
            Action::NotifyTransfer { status: 100 },
            Action::TransferProgress { status: 100 },
            Action::PlaceTransferCall {
                target: "sip:carol@x".into()
            }
        ]
    );
    // A second REFER while one runs is not accepted twice.
    assert!(
        call.handle(
            t0,
            Input::ReferRequested {
                target: "sip:dave@x".into()
            }
        )
        .is_empty()
    );
    let a = call.handle(t0, Input::TransferCallProgress { status: 200 });
    assert_eq!(a[0], Action::NotifyTransfer { status: 200 });
    // The transferor then hangs up: that is the transfer completing.
    let a = call.handle(t0, Input::RemoteBye);
    assert_eq!(ended_with(&a), Some(EndCause::Transferred));
}

#[test]
fn dtmf_goes_out_as_info_and_comes_in_as_an_event() {
    let (mut call, t0) = outgoing();
    // No digits before the call is up.
    assert!(call.handle(t0, Input::SendDtmf('1')).is_empty());
    call.handle(
        t0,
        Input::Accepted {
            session_timer: None,
        },
    );
    assert_eq!(
        call.handle(t0, Input::SendDtmf('#')),
        vec![Action::SendDtmf('#')]
    );
    assert_eq!(
        call.handle(t0, Input::DtmfReceived { digit: '5' }),
        vec![Action::Dtmf('5')]
    );
}

#[test]
fn the_ghost_filter_only_rings_for_our_registrar_and_our_user() {
    let registrar: std::net::SocketAddr = "127.0.0.1:5060".parse().expect("addr");
    let scanner: std::net::SocketAddr = "127.0.0.1:40000".parse().expect("addr");
    let filter = GhostFilter {
        enabled: true,
        trusted_sources: vec![registrar],
        contact_user: "alice".into(),
    };
    let from = |source, user| InviteOrigin {
        source,
        request_user: user,
    };
    assert_eq!(
        filter.check(&from(registrar, Some("alice"))),
        GhostVerdict::Ring
    );
    assert!(matches!(
        filter.check(&from(scanner, Some("alice"))),
        GhostVerdict::Refuse { code: 403, .. }
    ));
    assert!(matches!(
        filter.check(&from(registrar, Some("100"))),
        GhostVerdict::Refuse { code: 403, .. }
    ));
    assert!(matches!(
        filter.check(&from(registrar, None)),
        GhostVerdict::Refuse { .. }
    ));
    // A local account (no server) takes calls from anyone, but only for its user.
    let local = GhostFilter {
        trusted_sources: vec![],
        ..filter.clone()
    };
    assert_eq!(
        local.check(&from(scanner, Some("alice"))),
        GhostVerdict::Ring
    );
    assert!(matches!(
        local.check(&from(scanner, Some("100"))),
        GhostVerdict::Refuse { .. }
    ));
    // Switched off for direct IP calling: everything rings.
    let off = GhostFilter {
        enabled: false,
        ..filter
    };
    assert_eq!(off.check(&from(scanner, Some("100"))), GhostVerdict::Ring);
}

#[test]
fn a_replaced_call_says_so_whether_it_was_up_or_still_ringing_out() {
    // Established: BYE at once, ended `replaced` with its talk time.
    let (mut call, t0) = established_incoming();
    let a = call.handle(t0 + Duration::from_secs(7), Input::Replaced);
    assert_eq!(
        a,
        vec![
            Action::SendBye,
            Action::Phase(CallPhase::Ended),
            Action::Ended {
                cause: EndCause::Replaced,
                talk_time: Duration::from_secs(7),
            },
        ]
    );
    // Our own call still ringing out: CANCEL, and the 487 ends it as replaced, not hung up.
    let (mut call, t0) = outgoing();
    call.handle(
        t0,
        Input::Provisional {
            code: 180,
            early_media: false,
        },
    );
    let a = call.handle(t0, Input::Replaced);
    assert_eq!(
        a,
        vec![Action::SendCancel, Action::Phase(CallPhase::Ending)]
    );
    let a = call.handle(
        t0,
        Input::Refused {
            code: 487,
            reason: "Request Terminated".into(),
        },
    );
    assert!(a.contains(&Action::Ended {
        cause: EndCause::Replaced,
        talk_time: Duration::ZERO,
    }));
    // A plain hang-up is still a hang-up.
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
        Input::Refused {
            code: 487,
            reason: "Request Terminated".into(),
        },
    );
    assert!(a.contains(&Action::Ended {
        cause: EndCause::LocalHangup,
        talk_time: Duration::ZERO,
    }));
}

#[test]
fn the_consultation_call_of_a_done_attended_transfer_ends_as_transferred() {
    let (mut call, t0) = established_outgoing(None);
    let a = call.handle(t0, Input::HandedOver);
    assert_eq!(a[0], Action::SendBye);
    assert!(a.contains(&Action::Ended {
        cause: EndCause::Transferred,
        talk_time: Duration::ZERO,
    }));
    // Once ended, nothing more happens.
    assert!(call.handle(t0, Input::Replaced).is_empty());
}

#[test]
fn a_transferor_leaving_before_the_new_call_is_up_is_a_plain_hang_up() {
    let (mut call, t0) = established_incoming();
    call.handle(
        t0,
        Input::ReferRequested {
            target: "sip:carol@example.org".into(),
        },
    );
    call.handle(t0, Input::TransferCallProgress { status: 180 });
    let a = call.handle(t0, Input::RemoteBye);
    assert_eq!(ended_with(&a), Some(EndCause::RemoteHangup));
}

#[test]
fn a_transferor_that_never_hangs_up_is_hung_up_on_after_the_grace_period() {
    let (mut call, t0) = established_incoming();
    call.handle(
        t0,
        Input::ReferRequested {
            target: "sip:carol@example.org".into(),
        },
    );
    let a = call.handle(t0, Input::TransferCallProgress { status: 200 });
    assert!(a.contains(&Action::ArmTimer {
        kind: TimerKind::TransferredHangup,
        after: machine::TRANSFERRED_GRACE,
    }));
    let a = call.handle(
        t0 + machine::TRANSFERRED_GRACE,
        Input::Timer(TimerKind::TransferredHangup),
    );
    assert_eq!(a[0], Action::SendBye);
    assert_eq!(ended_with(&a), Some(EndCause::Transferred));
}
