use std::time::Duration;

use super::*;

#[test]
fn rtp_payloads_honour_csrc_extension_and_padding() {
    let mut p = vec![0x80, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1];
    p.extend_from_slice(&[1, 2, 3]);
    assert_eq!(rtp_payload(&p, 0), Some(&[1u8, 2, 3][..]));
    assert_eq!(rtp_payload(&p, 8), None);
    // Padding of 2 bytes.
    let mut padded = p.clone();
    padded[0] |= 0x20;
    padded.extend_from_slice(&[0, 2]);
    assert_eq!(rtp_payload(&padded, 0), Some(&[1u8, 2, 3][..]));
    // Broken headers never panic.
    for cut in 0..p.len() {
        let _ = rtp_payload(&p[..cut], 0);
    }
    let mut ext = p.clone();
    ext[0] |= 0x10;
    let _ = rtp_payload(&ext, 0);
    assert_eq!(rtp_payload(&[0x20; 12], 0), None);
}

#[tokio::test]
async fn two_sessions_exchange_audio_after_offer_and_answer() {
    let ip: IpAddr = [127, 0, 0, 1].into();
    let dir = tempfile::tempdir().expect("dir");
    let tone = crate::wav::Pcm {
        rate: 8000,
        samples: (0..8000)
            .map(|i| ((i as f64 * 0.3).sin() * 8000.0) as i16)
            .collect(),
    };
    let files = |play, record_to| {
        AudioPort::files(siperb_audio::FileAudio { play, record_to }).expect("port")
    };
    let mut a = RtpSession::start(ip, files(Some(tone), None)).expect("a");
    let mut b = RtpSession::start(ip, files(None, Some(dir.path().join("b.wav")))).expect("b");
    let offer = a.create_offer(Direction::SendRecv);
    let answer = b.answer_offer(&offer, false).expect("answer");
    a.apply_answer(&answer).expect("apply");
    tokio::time::sleep(Duration::from_millis(400)).await;
    let sa = a.stop();
    let sb = b.stop();
    assert!(sa.packets_sent >= 10, "{sa:?}");
    assert!(sb.packets_received >= 10, "{sb:?}");
    let heard = crate::wav::read(&dir.path().join("b.wav")).expect("recording");
    let loud = heard.samples.iter().filter(|s| s.abs() > 2000).count();
    assert!(loud > 100, "the tone did not arrive: {loud} loud samples");
}

/// Both ends offer and accept rtcp-mux: RTCP then shares the RTP port both ways, so the
/// round-trip time (which needs the far end's reports about us) appears in the stats.
#[tokio::test]
async fn rtcp_shares_the_rtp_port_when_both_ends_agree() {
    let ip: IpAddr = [127, 0, 0, 1].into();
    let silence = || AudioPort::files(siperb_audio::FileAudio::default()).expect("port");
    let mut a = RtpSession::start(ip, silence()).expect("a");
    let mut b = RtpSession::start(ip, silence()).expect("b");
    let offer = a.create_offer(Direction::SendRecv);
    assert!(offer.contains("a=rtcp-mux\r\n"), "{offer}");
    let answer = b.answer_offer(&offer, false).expect("answer");
    assert!(answer.contains("a=rtcp-mux\r\n"), "{answer}");
    a.apply_answer(&answer).expect("apply");
    // A's RTCP port is left closed: reports can only come through the RTP port.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(12);
    let rtt = loop {
        if let Some(rtt) = a.stats().and_then(|s| s.rtt_ms) {
            break rtt;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no RTT: {:?}",
            a.stats()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!((0.0..50.0).contains(&rtt), "{rtt} ms on loopback");
    let sa = a.stop();
    b.stop();
    // At most the first packet, which can beat the answer to A; the muxed reports (a
    // couple by now) are not counted as strays.
    assert!(sa.packets_ignored <= 1, "RTCP taken for stray RTP: {sa:?}");
}
