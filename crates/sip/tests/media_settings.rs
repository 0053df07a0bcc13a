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
        rtp_ports: None,
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

#[tokio::test]
async fn calls_take_their_media_ports_from_the_account_or_the_run() {
    let local = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let port_of = |media: &mut Box<dyn siperb_media::MediaSession>| -> u16 {
        m_line(&media.create_offer(Direction::SendRecv))
            .split_whitespace()
            .nth(1)
            .and_then(|p| p.parse().ok())
            .expect("m= port")
    };
    // A free stretch of four ports from an even one.
    let base = loop {
        let probe = std::net::UdpSocket::bind("127.0.0.1:0").expect("probe");
        let base = probe.local_addr().expect("addr").port() & !1;
        drop(probe);
        if base < 65000
            && (base..base + 4).all(|p| std::net::UdpSocket::bind(("127.0.0.1", p)).is_ok())
        {
            break base;
        }
    };
    let range: siperb_media::PortRange = format!("{base}-{}", base + 3).parse().expect("range");
    let account = MediaSettings {
        rtp_ports: Some(range),
        ..MediaSettings::default()
    };
    // The account's range: its first pair.
    let mut first = RtpFactory::default()
        .create(local, &account)
        .expect("media");
    assert_eq!(port_of(&mut first), base);

    // The run's range wins over the account's.
    let other: siperb_media::PortRange =
        format!("{}-{}", base + 2, base + 3).parse().expect("range");
    let run = RtpFactory {
        rtp_ports: Some(other),
        ..RtpFactory::default()
    };
    let mut second = run.create(local, &account).expect("media");
    assert_eq!(port_of(&mut second), base + 2);

    // A range whose ports are all taken is a clear media error, not a call on another port.
    let err = run.create(local, &account).err().expect("no port left");
    assert!(err.to_string().contains(&other.to_string()), "{err}");
    first.stop();
    second.stop();
}
