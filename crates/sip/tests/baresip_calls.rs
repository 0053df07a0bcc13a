//! Calls with a real baresip on loopback: it calls us and we call it (answer, reject, hold and
//! resume, BYE from each side).

#[path = "support/baresip.rs"]
mod baresip;
#[path = "support/jack.rs"]
mod jack;

#[path = "support/lines.rs"]
mod lines;

use std::time::Duration;

use baresip::Baresip;
use lines::{Events, next_event};
use siperb_sip::call::{CallPhase, EndCause, Input};
use siperb_sip::phone::{CallEvent, Line};
use siperb_sip::ua::SipEndpoint;

async fn our_line() -> (SipEndpoint, Line, Events) {
    lines::local_line("alice").await
}

async fn next(rx: &mut Events, peer: &Baresip, want: impl Fn(&CallEvent) -> bool) -> CallEvent {
    next_event(
        rx,
        10,
        || format!("baresip log:\n{}", peer.log_text()),
        want,
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn we_call_baresip_hold_resume_and_hang_up() {
    let peer = Baresip::start("bob", true);
    let (_ep, line, mut rx) = our_line().await;
    let call = line
        .dial(&format!("sip:bob@127.0.0.1:{}", peer.sip_port))
        .expect("dial");
    next(&mut rx, &peer, |e| {
        matches!(
            e,
            CallEvent::State {
                phase: CallPhase::Established,
                ..
            }
        )
    })
    .await;
    line.command(call, Input::Hold).await.expect("hold");
    let e = next(&mut rx, &peer, |e| matches!(e, CallEvent::Hold { .. })).await;
    assert_eq!(
        e,
        CallEvent::Hold {
            call,
            local: true,
            remote: false
        }
    );
    line.command(call, Input::Resume).await.expect("resume");
    let e = next(&mut rx, &peer, |e| matches!(e, CallEvent::Hold { .. })).await;
    assert_eq!(
        e,
        CallEvent::Hold {
            call,
            local: false,
            remote: false
        }
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    line.command(call, Input::Hangup).await.expect("hangup");
    let e = next(&mut rx, &peer, |e| matches!(e, CallEvent::CallEnded { .. })).await;
    let CallEvent::CallEnded { cause, media, .. } = e else {
        unreachable!()
    };
    assert_eq!(cause, EndCause::LocalHangup);
    assert!(
        media.packets_received > 10,
        "baresip's audio did not arrive: {media:?}"
    );
    assert!(media.packets_sent > 10, "{media:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn baresip_calls_us_we_answer_and_it_hangs_up() {
    let peer = Baresip::start("bob", false);
    let (ep, line, mut rx) = our_line().await;
    let reply = peer.command("dial", &format!("sip:alice@{}", ep.local_addr()));
    assert!(reply.contains("\"response\":true"), "{reply}");
    let e = next(&mut rx, &peer, |e| {
        matches!(e, CallEvent::IncomingCall { .. })
    })
    .await;
    let CallEvent::IncomingCall { call, from, .. } = e else {
        unreachable!()
    };
    assert!(from.contains("sip:bob@127.0.0.1"), "{from}");
    line.command(call, Input::Answer).await.expect("answer");
    next(&mut rx, &peer, |e| {
        matches!(
            e,
            CallEvent::State {
                phase: CallPhase::Established,
                ..
            }
        )
    })
    .await;
    // baresip holds us: we see the remote hold.
    peer.command("hold", "");
    let e = next(&mut rx, &peer, |e| matches!(e, CallEvent::Hold { .. })).await;
    assert_eq!(
        e,
        CallEvent::Hold {
            call,
            local: false,
            remote: true
        }
    );
    peer.command("resume", "");
    next(&mut rx, &peer, |e| {
        matches!(e, CallEvent::Hold { remote: false, .. })
    })
    .await;
    peer.command("hangup", "");
    let e = next(&mut rx, &peer, |e| matches!(e, CallEvent::CallEnded { .. })).await;
    assert!(
        matches!(
            e,
            CallEvent::CallEnded {
                cause: EndCause::RemoteHangup,
                ..
            }
        ),
        "{e:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn we_reject_baresips_call_busy() {
    let peer = Baresip::start("bob", false);
    let (ep, line, mut rx) = our_line().await;
    peer.command("dial", &format!("sip:alice@{}", ep.local_addr()));
    let e = next(&mut rx, &peer, |e| {
        matches!(e, CallEvent::IncomingCall { .. })
    })
    .await;
    let CallEvent::IncomingCall { call, .. } = e else {
        unreachable!()
    };
    line.command(call, Input::Reject { code: 486 })
        .await
        .expect("reject");
    let e = next(&mut rx, &peer, |e| matches!(e, CallEvent::CallEnded { .. })).await;
    assert!(matches!(
        e,
        CallEvent::CallEnded {
            cause: EndCause::Rejected { code: 486 },
            ..
        }
    ));
    // baresip saw the busy answer.
    let start = std::time::Instant::now();
    while !peer.log_text().contains("486") && start.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(peer.log_text().contains("486"), "{}", peer.log_text());
}

/// Blind transfer, we send the REFER: we call baresip, then hand it over to carol (our second
/// line); baresip calls carol, and our call ends as transferred.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn we_transfer_baresip_to_a_third_party() {
    let peer = Baresip::start("bob", true);
    let (_ep, line, mut rx) = our_line().await;
    let (carol_ep, carol, mut carol_rx) = lines::local_line("carol").await;
    let call = line
        .dial(&format!("sip:bob@127.0.0.1:{}", peer.sip_port))
        .expect("dial");
    next(&mut rx, &peer, |e| {
        matches!(
            e,
            CallEvent::State {
                phase: CallPhase::Established,
                ..
            }
        )
    })
    .await;
    line.command(
        call,
        Input::Transfer {
            target: format!("sip:carol@{}", carol_ep.local_addr()),
        },
    )
    .await
    .expect("transfer");
    // baresip follows the REFER: carol rings with bob calling.
    let e = next(&mut carol_rx, &peer, |e| {
        matches!(e, CallEvent::IncomingCall { .. })
    })
    .await;
    let CallEvent::IncomingCall {
        call: carol_call,
        from,
        ..
    } = e
    else {
        unreachable!()
    };
    assert!(from.contains("bob"), "{from}");
    carol
        .command(carol_call, Input::Answer)
        .await
        .expect("answer");
    // 202 (REFER accepted), then progress as NOTIFY sipfrag; done when it says 200.
    let e = next(
        &mut rx,
        &peer,
        |e| matches!(e, CallEvent::Transfer { status, .. } if *status == 200 || *status >= 300),
    )
    .await;
    assert_eq!(e, CallEvent::Transfer { call, status: 200 });
    let e = next(&mut rx, &peer, |e| matches!(e, CallEvent::CallEnded { .. })).await;
    assert!(
        matches!(
            e,
            CallEvent::CallEnded {
                cause: EndCause::Transferred,
                ..
            }
        ),
        "{e:?}"
    );
    next(&mut carol_rx, &peer, |e| {
        matches!(
            e,
            CallEvent::State {
                phase: CallPhase::Established,
                ..
            }
        )
    })
    .await;
    peer.command("hangup", "");
    next(&mut carol_rx, &peer, |e| {
        matches!(e, CallEvent::CallEnded { .. })
    })
    .await;
}

/// Blind transfer, we receive the REFER: baresip calls us, then transfers us to carol (our
/// second line); we call carol and our first call ends as transferred.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn baresip_transfers_us_to_a_third_party() {
    let peer = Baresip::start("bob", false);
    let (ep, line, mut rx) = our_line().await;
    let (carol_ep, carol, mut carol_rx) = lines::local_line("carol").await;
    peer.command("dial", &format!("sip:alice@{}", ep.local_addr()));
    let e = next(&mut rx, &peer, |e| {
        matches!(e, CallEvent::IncomingCall { .. })
    })
    .await;
    let CallEvent::IncomingCall { call, .. } = e else {
        unreachable!()
    };
    line.command(call, Input::Answer).await.expect("answer");
    next(&mut rx, &peer, |e| {
        matches!(
            e,
            CallEvent::State {
                phase: CallPhase::Established,
                ..
            }
        )
    })
    .await;
    let target = format!("sip:carol@{}", carol_ep.local_addr());
    let reply = peer.command("transfer", &target);
    assert!(reply.contains("\"response\":true"), "{reply}");
    let e = next(&mut rx, &peer, |e| {
        matches!(e, CallEvent::TransferRequested { .. })
    })
    .await;
    assert_eq!(
        e,
        CallEvent::TransferRequested {
            call,
            target: target.clone()
        }
    );
    let e = next(&mut carol_rx, &peer, |e| {
        matches!(e, CallEvent::IncomingCall { .. })
    })
    .await;
    let CallEvent::IncomingCall {
        call: carol_call,
        from,
        ..
    } = e
    else {
        unreachable!()
    };
    assert!(from.contains("alice"), "{from}");
    carol
        .command(carol_call, Input::Answer)
        .await
        .expect("answer");
    let e = next(&mut rx, &peer, |e| {
        matches!(
            e,
            CallEvent::CallEnded {
                cause: EndCause::Transferred,
                ..
            }
        )
    })
    .await;
    assert!(matches!(e, CallEvent::CallEnded { call: c, .. } if c == call));
    // The new call (alice → carol) is up on both sides.
    next(&mut carol_rx, &peer, |e| {
        matches!(
            e,
            CallEvent::State {
                phase: CallPhase::Established,
                ..
            }
        )
    })
    .await;
    carol
        .command(carol_call, Input::Hangup)
        .await
        .expect("hangup");
    next(&mut rx, &peer, |e| {
        matches!(
            e,
            CallEvent::CallEnded {
                cause: EndCause::RemoteHangup,
                ..
            }
        )
    })
    .await;
}
