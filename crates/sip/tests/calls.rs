//! Two of our lines call each other on loopback (local accounts, no server): the whole call
//! path through rsipstack, the gate, the call machine and the RTP backend.

#[path = "support/lines.rs"]
mod lines;

use std::time::Duration;

use lines::{Events, local_line as line, next_event};
use siperb_sip::call::{CallPhase, EndCause, Input};
use siperb_sip::phone::{CallEvent, CallRef};

async fn next(rx: &mut Events, want: impl Fn(&CallEvent) -> bool) -> CallEvent {
    next_event(rx, 5, String::new, want).await
}

fn phase(call: CallRef, p: CallPhase) -> impl Fn(&CallEvent) -> bool {
    move |e| matches!(e, CallEvent::State { call: c, phase } if *c == call && *phase == p)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_lines_call_hold_send_digits_and_hang_up() {
    let (_ea, a, mut a_rx) = line("alice").await;
    let (eb, b, mut b_rx) = line("bob").await;
    let call = a
        .dial(&format!("sip:bob@{}", eb.local_addr()))
        .expect("dial");
    let incoming = next(&mut b_rx, |e| matches!(e, CallEvent::IncomingCall { .. })).await;
    let CallEvent::IncomingCall {
        call: b_call,
        waiting,
        ..
    } = incoming
    else {
        unreachable!()
    };
    assert!(!waiting);
    next(&mut a_rx, phase(call, CallPhase::Ringing)).await;
    b.command(b_call, Input::Answer).await.expect("answer");
    next(&mut a_rx, phase(call, CallPhase::Established)).await;
    next(&mut b_rx, phase(b_call, CallPhase::Established)).await;

    a.command(call, Input::SendDtmf('7')).await.expect("dtmf");
    let d = next(&mut b_rx, |e| matches!(e, CallEvent::Dtmf { .. })).await;
    assert_eq!(
        d,
        CallEvent::Dtmf {
            call: b_call,
            digit: '7'
        }
    );

    a.command(call, Input::Hold).await.expect("hold");
    let h = next(&mut b_rx, |e| matches!(e, CallEvent::Hold { .. })).await;
    assert_eq!(
        h,
        CallEvent::Hold {
            call: b_call,
            local: false,
            remote: true
        }
    );
    next(&mut a_rx, |e| {
        matches!(e, CallEvent::Hold { local: true, .. })
    })
    .await;
    a.command(call, Input::Resume).await.expect("resume");
    next(&mut b_rx, |e| {
        matches!(e, CallEvent::Hold { remote: false, .. })
    })
    .await;

    tokio::time::sleep(Duration::from_millis(300)).await;
    b.command(b_call, Input::Hangup).await.expect("hangup");
    let ended = next(&mut a_rx, |e| matches!(e, CallEvent::CallEnded { .. })).await;
    let CallEvent::CallEnded {
        cause,
        media,
        talk_secs,
        ..
    } = ended
    else {
        unreachable!()
    };
    assert_eq!(cause, EndCause::RemoteHangup);
    assert!(talk_secs > 0.2, "{talk_secs}");
    assert!(
        media.packets_received > 5 && media.packets_sent > 5,
        "{media:?}"
    );
    let ended = next(&mut b_rx, |e| matches!(e, CallEvent::CallEnded { .. })).await;
    assert!(matches!(
        ended,
        CallEvent::CallEnded {
            cause: EndCause::LocalHangup,
            ..
        }
    ));
    assert_eq!(a.active_calls(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_call_and_a_cancelled_call_end_with_their_causes() {
    let (_ea, a, mut a_rx) = line("alice").await;
    let (eb, b, mut b_rx) = line("bob").await;
    a.dial(&format!("sip:bob@{}", eb.local_addr()))
        .expect("dial");
    let CallEvent::IncomingCall { call: b_call, .. } =
        next(&mut b_rx, |e| matches!(e, CallEvent::IncomingCall { .. })).await
    else {
        unreachable!()
    };
    b.command(b_call, Input::Reject { code: 486 })
        .await
        .expect("reject");
    let e = next(&mut a_rx, |e| matches!(e, CallEvent::CallEnded { .. })).await;
    assert!(
        matches!(
            e,
            CallEvent::CallEnded {
                cause: EndCause::Refused { code: 486, .. },
                ..
            }
        ),
        "{e:?}"
    );

    let call = a
        .dial(&format!("sip:bob@{}", eb.local_addr()))
        .expect("dial");
    let CallEvent::IncomingCall { call: b_call, .. } =
        next(&mut b_rx, |e| matches!(e, CallEvent::IncomingCall { .. })).await
    else {
        unreachable!()
    };
    next(&mut a_rx, phase(call, CallPhase::Ringing)).await;
    a.command(call, Input::Hangup).await.expect("cancel");
    // The first (rejected) call's own end may reach bob's events late on a busy machine.
    let e = next(
        &mut b_rx,
        |e| matches!(e, CallEvent::CallEnded { call, .. } if *call == b_call),
    )
    .await;
    assert!(
        matches!(e, CallEvent::CallEnded { call, cause: EndCause::CallerCancelled, .. } if call == b_call),
        "{e:?}"
    );
    let e = next(
        &mut a_rx,
        |e| matches!(e, CallEvent::CallEnded { call: c, .. } if *c == call),
    )
    .await;
    assert!(
        matches!(
            e,
            CallEvent::CallEnded {
                cause: EndCause::LocalHangup,
                ..
            }
        ),
        "{e:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_to_another_user_is_refused_as_a_ghost_and_never_rings() {
    let (_ea, a, mut a_rx) = line("alice").await;
    let (eb, _b, mut b_rx) = line("bob").await;
    a.dial(&format!("sip:100@{}", eb.local_addr()))
        .expect("dial");
    let e = next(&mut b_rx, |_| true).await;
    assert!(matches!(e, CallEvent::GhostCallBlocked { .. }), "{e:?}");
    let e = next(&mut a_rx, |e| matches!(e, CallEvent::CallEnded { .. })).await;
    assert!(
        matches!(
            e,
            CallEvent::CallEnded {
                cause: EndCause::Refused { code: 403, .. },
                ..
            }
        ),
        "{e:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_requests_are_answered_on_the_wire_and_never_ring() {
    use std::sync::atomic::Ordering;
    let (eb, _b, mut b_rx) = line("bob").await;
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let me = sock.local_addr().expect("addr");
    let request = |method: &str, extra: &str| {
        format!(
            "{method} sip:bob@{to} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bK-{method}\r\n\
             From: <sip:scan@{me}>;tag=1\r\nTo: <sip:bob@{to}>\r\nCall-ID: gate-{method}\r\n\
             CSeq: 1 {method}\r\n{extra}Content-Length: 0\r\n\r\n",
            to = eb.local_addr()
        )
    };
    let mut buf = [0u8; 2048];
    let mut ask = async |msg: String| {
        sock.send_to(msg.as_bytes(), eb.local_addr())
            .await
            .expect("send");
        let (n, _) = tokio::time::timeout(Duration::from_secs(3), sock.recv_from(&mut buf))
            .await
            .expect("an answer in time")
            .expect("recv");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    };
    // An unknown method: rsipstack alone would drop it; the gate answers 501.
    let answer = ask(request("FOO", "Max-Forwards: 70\r\n")).await;
    assert!(answer.starts_with("SIP/2.0 501 "), "{answer}");
    assert!(answer.contains("CSeq: 1 FOO"), "{answer}");
    // A malformed INVITE gets 400 and never becomes a call.
    let answer = ask(request("INVITE", "Max-Forwards: lots\r\n")).await;
    assert!(answer.starts_with("SIP/2.0 400 "), "{answer}");
    assert_eq!(eb.gate_counters().answered.load(Ordering::Relaxed), 2);
    // A well-formed OPTIONS passes the gate and the line answers it.
    let answer = ask(request("OPTIONS", "Max-Forwards: 70\r\n")).await;
    assert!(answer.starts_with("SIP/2.0 200 "), "{answer}");
    assert!(answer.contains("INVITE, ACK, CANCEL"), "{answer}");
    assert!(b_rx.try_recv().is_err(), "nothing may reach the user");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_digit_that_overtakes_the_ack_is_still_delivered() {
    let (eb, b, mut b_rx) = line("bob").await;
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let me = sock.local_addr().expect("addr");
    let to = eb.local_addr();
    let sdp = format!(
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio {} RTP/AVP 0\r\n",
        me.port() + 2
    );
    let msg = |method: &str, cseq: u32, branch: &str, to_tag: &str, ct: &str, body: &str| {
        format!(
            "{method} sip:bob@{to} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bK{branch}\r\n\
             Max-Forwards: 70\r\nFrom: <sip:raw@{me}>;tag=raw1\r\nTo: <sip:bob@{to}>{to_tag}\r\n\
             Call-ID: overtake@raw\r\nCSeq: {cseq} {method}\r\nContact: <sip:raw@{me}>\r\n\
             {ct}Content-Length: {}\r\n\r\n{body}",
            body.len()
        )
    };
    let send = async |text: String| {
        sock.send_to(text.as_bytes(), to).await.expect("send");
    };
    let mut buf = [0u8; 4096];
    let mut recv = async || -> String {
        let (n, _) = tokio::time::timeout(Duration::from_secs(3), sock.recv_from(&mut buf))
            .await
            .expect("a response in time")
            .expect("recv");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    };
    send(msg(
        "INVITE",
        1,
        "inv",
        "",
        "Content-Type: application/sdp\r\n",
        &sdp,
    ))
    .await;
    let CallEvent::IncomingCall { call, .. } =
        next(&mut b_rx, |e| matches!(e, CallEvent::IncomingCall { .. })).await
    else {
        unreachable!()
    };
    b.command(call, Input::Answer).await.expect("answer");
    let ok = loop {
        let r = recv().await;
        if r.starts_with("SIP/2.0 200 ") {
            break r;
        }
    };
    let tag = ok
        .lines()
        .find(|l| l.starts_with("To:"))
        .and_then(|l| l.split(";tag=").nth(1))
        .expect("To tag")
        .trim()
        .to_owned();
    let to_tag = format!(";tag={tag}");
    // The INFO goes out before the ACK.
    let ct = "Content-Type: application/dtmf-relay\r\n";
    send(msg(
        "INFO",
        2,
        "info",
        &to_tag,
        ct,
        "Signal=9\r\nDuration=160\r\n",
    ))
    .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    send(msg("ACK", 1, "ack", &to_tag, "", "")).await;
    let answer = loop {
        let r = recv().await;
        if r.contains("CSeq: 2 INFO") {
            break r;
        }
    };
    assert!(answer.starts_with("SIP/2.0 200 "), "{answer}");
    let d = next(&mut b_rx, |e| matches!(e, CallEvent::Dtmf { .. })).await;
    assert_eq!(d, CallEvent::Dtmf { call, digit: '9' });
    b.command(call, Input::Hangup).await.expect("hangup");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_escaped_user_part_goes_out_as_typed() {
    let (_ea, a, _a_rx) = line("alice").await;
    let peer = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let to = peer.local_addr().expect("addr");
    a.dial(&format!("sip:jane%40corp@{to}")).expect("dial");
    let mut buf = [0u8; 4096];
    let (n, _) = tokio::time::timeout(Duration::from_secs(3), peer.recv_from(&mut buf))
        .await
        .expect("an INVITE")
        .expect("recv");
    let invite = String::from_utf8_lossy(&buf[..n]);
    assert!(
        invite.starts_with(&format!("INVITE sip:jane%40corp@{to} SIP/2.0\r\n")),
        "{invite}"
    );
    assert!(!invite.contains("%2540"), "{invite}");
}
