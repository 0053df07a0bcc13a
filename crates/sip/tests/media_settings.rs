//! An account's codec order and SRTP choice reach its calls' offers; a run's override (the
//! CLI's `--codec`/`--srtp`) wins over them.

use std::net::{IpAddr, Ipv4Addr};

use siperb_media::CodecKind;
use siperb_media::sdp::Direction;
use siperb_media::srtp::SrtpMode;
use siperb_sip::MediaSettings;
use siperb_sip::phone::{MediaFactory, RtpFactory};

fn offer(factory: &RtpFactory, account: &MediaSettings) -> String {
    let mut media = factory
        .create(IpAddr::V4(Ipv4Addr::LOCALHOST), account)
        .expect("media");
    let offer = media.create_offer(Direction::SendRecv);
    media.stop();
    offer
}

fn m_line(sdp: &str) -> &str {
    sdp.lines()
        .find(|l| l.starts_with("m=audio"))
        .expect("m line")
}

#[tokio::test]
async fn account_media_settings_shape_the_offer() {
    let account = MediaSettings {
        codecs: vec![CodecKind::Pcma, CodecKind::G722],
        srtp: SrtpMode::Required,
    };
    let plain = RtpFactory::default();
    let sdp = offer(&plain, &account);
    let m = m_line(&sdp);
    // RTP/SAVP with PCMA (8) before G.722 (9), then telephone-event; no Opus, no PCMU.
    assert!(m.contains("RTP/SAVP 8 9 "), "{m}");
    assert!(!sdp.contains("opus") && !sdp.contains("PCMU"), "{sdp}");
    assert!(sdp.contains("a=crypto:"), "{sdp}");

    // The defaults: Opus first, plain RTP, no keys.
    let sdp = offer(&plain, &MediaSettings::default());
    let m = m_line(&sdp);
    assert!(m.contains("RTP/AVP 111 9 0 8"), "{m}");
    assert!(!sdp.contains("a=crypto:"), "{sdp}");

    // This run's choice wins over the account's.
    let run = RtpFactory {
        codecs: vec![CodecKind::Pcmu],
        srtp: Some(SrtpMode::Off),
        ..RtpFactory::default()
    };
    let sdp = offer(&run, &account);
    let m = m_line(&sdp);
    assert!(m.contains("RTP/AVP 0 "), "{m}");
    assert!(!sdp.contains("a=crypto:"), "{sdp}");
}
