//! Attended transfer (REFER with Replaces, RFC 5589; INVITE with Replaces, RFC 3891) with a
//! real linphonec, all three registered at a real Kamailio: linphonec transfers our alice to
//! our bob (we are transferee and target), and our alice transfers linphonec to our bob (we
//! are transferor and target, linphonec the transferee). Each test runs in its own network
//! namespace with only `lo` (linphonec would otherwise pick the machine's other address).

mod support;

use std::time::Duration;

use siperb_sip::Transport;
use siperb_sip::call::{CallPhase, EndCause, Input};
use siperb_sip::phone::{CallEvent, CallRef};
use support::kamailio::{Kamailio, PASSWORD, PASSWORD2, PASSWORD3, USER, USER2, USER3};
use support::linphone::{Linphone, in_private_netns};
use support::registered::{Registered, next, next_each, phase, registered};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

fn incoming(e: &CallEvent) -> bool {
    matches!(e, CallEvent::IncomingCall { .. })
}

fn ended(call: CallRef) -> impl Fn(&CallEvent) -> bool {
    move |e| matches!(e, CallEvent::CallEnded { call: c, .. } if *c == call)
}

fn cause(e: &CallEvent) -> EndCause {
    match e {
        CallEvent::CallEnded { cause, .. } => cause.clone(),
        other => panic!("not an end: {other:?}"),
    }
}

/// `who` answers the call ringing there and waits until it is established.
async fn answer(k: &Kamailio, who: &mut Registered) -> CallRef {
    let CallEvent::IncomingCall { call, .. } = next(&mut who.events, k, incoming).await else {
        unreachable!()
    };
    who.line.command(call, Input::Answer).await.expect("answer");
    next(&mut who.events, k, phase(call, CallPhase::Established)).await;
    call
}

#[test]
fn linphone_transfers_our_alice_to_our_bob() {
    if in_private_netns("linphone_transfers_our_alice_to_our_bob") {
        return;
    }
    runtime().block_on(async {
        let k = Kamailio::start("MD5");
        let mut alice = registered(&k, USER, PASSWORD, Transport::Udp).await;
        let mut bob = registered(&k, USER2, PASSWORD2, Transport::Udp).await;
        let mut carol = Linphone::start(USER3, PASSWORD3, k.port, || k.log_text()).await;

        carol.send(&format!("call sip:{USER}@127.0.0.1"));
        let a1 = answer(&k, &mut alice).await;
        carol.wait_for("Call 1 with", 8).await;
        carol.send("pause 1");
        next(
            &mut alice.events,
            &k,
            |e| matches!(e, CallEvent::Hold { call, remote: true, .. } if *call == a1),
        )
        .await;
        carol.send(&format!("call sip:{USER2}@127.0.0.1"));
        let b1 = answer(&k, &mut bob).await;
        carol.wait_for("Call 2 with", 8).await;

        // carol hands alice over to bob, replacing her own call with bob.
        carol.send("transfer 1 --to-call 2");
        let CallEvent::TransferRequested { target, .. } = next(
            &mut alice.events,
            &k,
            |e| matches!(e, CallEvent::TransferRequested { call, .. } if *call == a1),
        )
        .await
        else {
            unreachable!()
        };
        assert!(target.contains("Replaces="), "{target}");
        let CallEvent::OutgoingCall { call: a2, .. } = next(&mut alice.events, &k, |e| {
            matches!(e, CallEvent::OutgoingCall { .. })
        })
        .await
        else {
            unreachable!()
        };
        // bob never rings: the new call takes the old one's place at once.
        let replaced = next(&mut bob.events, &k, |e| {
            matches!(
                e,
                CallEvent::CallReplaced { .. } | CallEvent::IncomingCall { .. }
            )
        })
        .await;
        let CallEvent::CallReplaced {
            call: b2,
            replaced: old,
            ..
        } = replaced
        else {
            panic!("bob rang instead: {replaced:?}\n{}", k.log_text())
        };
        assert_eq!(old, b1);
        let events = next_each(
            &mut bob.events,
            &k,
            &[&ended(b1), &phase(b2, CallPhase::Established)],
        )
        .await;
        assert_eq!(cause(&events[0]), EndCause::Replaced);
        // carol hears the new call is up (NOTIFY 200) and leaves alice: that is the transfer.
        let began = std::time::Instant::now();
        let events = next_each(
            &mut alice.events,
            &k,
            &[&phase(a2, CallPhase::Established), &ended(a1)],
        )
        .await;
        assert_eq!(cause(&events[1]), EndCause::Transferred, "{:?}", events[1]);
        assert!(
            began.elapsed() < siperb_sip::call::TRANSFERRED_GRACE,
            "carol hung up herself, we did not have to"
        );

        // alice and bob now talk to each other: alice hangs up, bob sees it.
        alice
            .line
            .command(a2, Input::Hangup)
            .await
            .expect("hang up");
        let e = next(&mut bob.events, &k, ended(b2)).await;
        assert_eq!(cause(&e), EndCause::RemoteHangup);
        let log = k.log_text();
        assert!(
            log.contains("INVITE from sip:alice@127.0.0.1 authenticated"),
            "alice's INVITE with Replaces went through Kamailio with her credentials:\n{log}"
        );
        alice.unregister().await;
        bob.unregister().await;
    });
}

#[test]
fn our_alice_transfers_linphone_to_our_bob() {
    if in_private_netns("our_alice_transfers_linphone_to_our_bob") {
        return;
    }
    runtime().block_on(async {
        let k = Kamailio::start("MD5");
        let mut alice = registered(&k, USER, PASSWORD, Transport::Udp).await;
        let mut bob = registered(&k, USER2, PASSWORD2, Transport::Udp).await;
        let carol = Linphone::start(USER3, PASSWORD3, k.port, || k.log_text()).await;

        // alice talks to carol (who answers by herself), holds her, and calls bob.
        let a1 = alice.line.dial(USER3).expect("dial carol");
        next(&mut alice.events, &k, phase(a1, CallPhase::Established)).await;
        alice.line.command(a1, Input::Hold).await.expect("hold");
        next(
            &mut alice.events,
            &k,
            |e| matches!(e, CallEvent::Hold { call, local: true, .. } if *call == a1),
        )
        .await;
        // Not yet: the consultation call must be answered first.
        let a2 = alice.line.dial(USER2).expect("dial bob");
        assert!(
            alice
                .line
                .attended_transfer(a1, &alice.line, a2)
                .await
                .is_err(),
            "a transfer to a call still ringing is refused"
        );
        let b1 = answer(&k, &mut bob).await;
        next(&mut alice.events, &k, phase(a2, CallPhase::Established)).await;

        alice
            .line
            .attended_transfer(a1, &alice.line, a2)
            .await
            .expect("transfer");
        let CallEvent::CallReplaced {
            call: b2,
            replaced,
            from,
        } = next(&mut bob.events, &k, |e| {
            matches!(
                e,
                CallEvent::CallReplaced { .. } | CallEvent::IncomingCall { .. }
            )
        })
        .await
        else {
            panic!("bob rang instead of replacing\n{}", carol.output())
        };
        assert_eq!(replaced, b1);
        assert!(from.contains(USER3), "{from}");
        let events = next_each(
            &mut bob.events,
            &k,
            &[&ended(b1), &phase(b2, CallPhase::Established)],
        )
        .await;
        assert_eq!(cause(&events[0]), EndCause::Replaced);
        // carol reports success (NOTIFY 200): alice's call with carol ends transferred, and so
        // does her consultation call with bob (unless bob's BYE for it came first).
        let events = next_each(&mut alice.events, &k, &[&ended(a1), &ended(a2)]).await;
        assert_eq!(cause(&events[0]), EndCause::Transferred, "{:?}", events[0]);
        assert!(
            matches!(
                cause(&events[1]),
                EndCause::Transferred | EndCause::RemoteHangup
            ),
            "{:?}",
            events[1]
        );
        assert!(alice.line.calls().is_empty(), "{:?}", alice.line.calls());

        // carol and bob talk: bob hangs up and carol hears it.
        bob.line.command(b2, Input::Hangup).await.expect("hang up");
        next(&mut bob.events, &k, ended(b2)).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        carol.wait_for("ended", 5).await;
        alice.unregister().await;
        bob.unregister().await;
    });
}
