//! Calls between two accounts registered at a real Kamailio (INVITE challenged with 407,
//! record-routed), over UDP and TLS, and a scanner's INVITE sent straight to a registered
//! contact, which must not ring.

mod support;

use std::time::Duration;

use siperb_sip::Transport;
use siperb_sip::call::{CallPhase, EndCause, Input};
use siperb_sip::phone::CallEvent;
use support::kamailio::{Kamailio, PASSWORD, PASSWORD2, USER, USER2};
use support::registered::{Registered, next, phase, registered};

/// alice calls bob by his user name through Kamailio; bob answers; alice hangs up.
async fn call_through(k: &Kamailio, alice: &mut Registered, bob: &mut Registered) {
    let call = alice.line.dial(USER2).expect("dial");
    let CallEvent::IncomingCall {
        call: b_call, from, ..
    } = next(&mut bob.events, k, |e| {
        matches!(e, CallEvent::IncomingCall { .. })
    })
    .await
    else {
        unreachable!()
    };
    assert!(from.contains(USER), "{from}");
    next(&mut alice.events, k, phase(call, CallPhase::Ringing)).await;
    bob.line
        .command(b_call, Input::Answer)
        .await
        .expect("answer");
    next(&mut alice.events, k, phase(call, CallPhase::Established)).await;
    next(&mut bob.events, k, phase(b_call, CallPhase::Established)).await;
    // A mid-call request follows the recorded route both ways.
    alice
        .line
        .command(call, Input::SendDtmf('5'))
        .await
        .expect("dtmf");
    next(&mut bob.events, k, |e| {
        matches!(e, CallEvent::Dtmf { digit: '5', .. })
    })
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    alice
        .line
        .command(call, Input::Hangup)
        .await
        .expect("hangup");
    let CallEvent::CallEnded { cause, media, .. } = next(&mut bob.events, k, |e| {
        matches!(e, CallEvent::CallEnded { .. })
    })
    .await
    else {
        unreachable!()
    };
    assert_eq!(cause, EndCause::RemoteHangup);
    assert!(media.packets_received > 3, "{media:?}");
    next(&mut alice.events, k, |e| {
        matches!(e, CallEvent::CallEnded { .. })
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registered_accounts_call_each_other_through_kamailio_over_udp_and_tls() {
    // SHA-256 digest (RFC 8760) on REGISTER and INVITE alike.
    let k = Kamailio::start("SHA-256");
    let mut alice = registered(&k, USER, PASSWORD, Transport::Udp).await;
    let mut bob = registered(&k, USER2, PASSWORD2, Transport::Udp).await;
    call_through(&k, &mut alice, &mut bob).await;
    // Kamailio challenged the INVITE with 407 and accepted our answer.
    assert!(
        k.log_text()
            .contains("INVITE from sip:alice@127.0.0.1 authenticated proto=udp"),
        "{}",
        k.log_text()
    );
    alice.unregister().await;

    // alice again, now over TLS: the INVITE goes out over her flow, bob's answer comes back
    // over it, and calls to her would arrive over it too.
    let mut alice = registered(&k, USER, PASSWORD, Transport::Tls).await;
    call_through(&k, &mut alice, &mut bob).await;
    assert!(
        k.log_text()
            .contains("INVITE from sip:alice@127.0.0.1 authenticated proto=tls"),
        "{}",
        k.log_text()
    );
    bob.line.dial(USER).expect("dial alice");
    let incoming = next(&mut alice.events, &k, |e| {
        matches!(e, CallEvent::IncomingCall { .. })
    })
    .await;
    let CallEvent::IncomingCall { call, .. } = incoming else {
        unreachable!()
    };
    alice
        .line
        .command(call, Input::Reject { code: 486 })
        .await
        .expect("reject");
    let CallEvent::CallEnded { cause, .. } = next(&mut bob.events, &k, |e| {
        matches!(e, CallEvent::CallEnded { .. })
    })
    .await
    else {
        unreachable!()
    };
    assert!(
        matches!(cause, EndCause::Refused { code: 486, .. }),
        "{cause:?}"
    );
    alice.unregister().await;
    bob.unregister().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scanner_invite_straight_to_a_registered_contact_never_rings() {
    let k = Kamailio::start("MD5");
    let mut bob = registered(&k, USER2, PASSWORD2, Transport::Udp).await;
    let contact = bob.endpoint.local_addr();
    // What sipvicious and friends send: an INVITE from some host straight to the port.
    let scanner = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let me = scanner.local_addr().expect("addr");
    for (i, user) in [USER2, "100", "1000"].into_iter().enumerate() {
        let invite = format!(
            "INVITE sip:{user}@{contact} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bKscan{i}\r\n\
             Max-Forwards: 70\r\nFrom: \"sipvicious\" <sip:100@1.1.1.1>;tag=scan{i}\r\n\
             To: <sip:{user}@{contact}>\r\nCall-ID: scan{i}@scanner\r\nCSeq: 1 INVITE\r\n\
             Contact: <sip:100@{me}>\r\nContent-Length: 0\r\n\r\n"
        );
        scanner
            .send_to(invite.as_bytes(), contact)
            .await
            .expect("send");
        let mut buf = [0u8; 2048];
        let (n, _) = tokio::time::timeout(Duration::from_secs(3), scanner.recv_from(&mut buf))
            .await
            .expect("an answer")
            .expect("recv");
        let answer = String::from_utf8_lossy(&buf[..n]);
        assert!(answer.starts_with("SIP/2.0 403 "), "{answer}");
        let blocked = next(&mut bob.events, &k, |e| {
            matches!(e, CallEvent::GhostCallBlocked { .. })
        })
        .await;
        assert!(
            matches!(&blocked, CallEvent::GhostCallBlocked { from, .. } if from == &me.to_string()),
            "{blocked:?}"
        );
    }
    assert!(
        !std::iter::from_fn(|| bob.events.try_recv().ok())
            .any(|e| matches!(e, CallEvent::IncomingCall { .. })),
        "a scanner's INVITE rang"
    );
    // The same user still gets real calls through the registrar.
    let alice = registered(&k, USER, PASSWORD, Transport::Udp).await;
    alice.line.dial(USER2).expect("dial");
    next(&mut bob.events, &k, |e| {
        matches!(e, CallEvent::IncomingCall { .. })
    })
    .await;
    alice.unregister().await;
    bob.unregister().await;
}

/// A proxy that challenges BYEs (some PBXs and carriers do): our answer goes through rsipstack
/// with our credentials, whichever side hangs up, and the other side hears the hang-up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_challenged_bye_is_answered_from_either_side() {
    let k = Kamailio::start_challenging_byes("MD5");
    let mut alice = registered(&k, USER, PASSWORD, Transport::Udp).await;
    let mut bob = registered(&k, USER2, PASSWORD2, Transport::Udp).await;
    for caller_hangs_up in [true, false] {
        let call = alice.line.dial(USER2).expect("dial");
        let CallEvent::IncomingCall { call: b_call, .. } = next(&mut bob.events, &k, |e| {
            matches!(e, CallEvent::IncomingCall { .. })
        })
        .await
        else {
            unreachable!()
        };
        bob.line
            .command(b_call, Input::Answer)
            .await
            .expect("answer");
        next(&mut alice.events, &k, phase(call, CallPhase::Established)).await;
        next(&mut bob.events, &k, phase(b_call, CallPhase::Established)).await;
        let (hanging, hears) = if caller_hangs_up {
            (&mut alice, &mut bob)
        } else {
            (&mut bob, &mut alice)
        };
        let (mine, theirs) = if caller_hangs_up {
            (call, b_call)
        } else {
            (b_call, call)
        };
        hanging
            .line
            .command(mine, Input::Hangup)
            .await
            .expect("hangup");
        let ended = next(
            &mut hears.events,
            &k,
            |e| matches!(e, CallEvent::CallEnded { call, .. } if *call == theirs),
        )
        .await;
        let CallEvent::CallEnded { cause, .. } = ended else {
            unreachable!()
        };
        assert_eq!(cause, EndCause::RemoteHangup, "{}", k.log_text());
        let who = if caller_hangs_up { USER } else { USER2 };
        assert!(
            k.log_text()
                .contains(&format!("in-dialog BYE from {who} authenticated")),
            "{}",
            k.log_text()
        );
    }
    alice.unregister().await;
    bob.unregister().await;
}
