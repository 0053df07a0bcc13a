//! The RTP/RTCP core: packets, statistics, latching, reports, garbage.

use super::*;

const PCMU: u8 = 0;

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn params(samples: u32) -> SendParams {
    SendParams {
        payload_type: PCMU,
        samples,
        marker: false,
    }
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// An RTP packet with a 160-byte payload.
fn rtp(ssrc: u32, seq: u16, ts: u32, pt: u8) -> Vec<u8> {
    let header = Header {
        version: 2,
        payload_type: pt,
        sequence_number: seq,
        timestamp: ts,
        ssrc,
        ..Header::default()
    };
    let mut out = header.marshal().unwrap().to_vec();
    out.extend_from_slice(&[0xD5; 160]);
    out
}

fn session(remote: SocketAddr) -> RtpSession {
    let mut cfg = RtpConfig::new(remote, 8000, 42);
    cfg.payload_types = vec![(0, 8000), (101, 8000)];
    cfg.cname = "alice@example".into();
    RtpSession::new(Instant::now(), cfg)
}

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn header_round_trip() {
    let t0 = Instant::now();
    let mut s = RtpSender::new(7, 8000);
    let mut buf = [0u8; 200];
    let payload = [1u8, 2, 3, 4, 5];
    let n = s
        .write_packet(
            t0,
            SendParams {
                payload_type: 8,
                samples: 160,
                marker: false,
            },
            &payload,
            &mut buf,
        )
        .unwrap();
    assert_eq!(n, RTP_HEADER_LEN + payload.len());
    let (h, range) = parse_rtp(&buf[..n]).unwrap();
    assert_eq!(h.version, 2);
    assert_eq!(h.payload_type, 8);
    assert!(h.marker, "first packet starts a talkspurt");
    assert_eq!(h.ssrc, s.ssrc());
    assert_eq!(h.sequence_number, s.next_sequence().wrapping_sub(1));
    assert_eq!(&buf[range], &payload);
    assert_eq!(s.packets_sent(), 1);
    assert_eq!(s.octets_sent(), 5);
    // Too small a buffer: an error, and nothing consumed.
    let seq = s.next_sequence();
    assert!(matches!(
        s.write_packet(t0, params(160), &payload, &mut buf[..10]),
        Err(RtpError::BufferTooSmall { .. })
    ));
    assert_eq!(s.next_sequence(), seq);
    // Padding, CSRCs and a one-byte extension are parsed around.
    let mut h2 = Header {
        version: 2,
        padding: true,
        payload_type: 0,
        sequence_number: 9,
        timestamp: 1,
        ssrc: 3,
        csrc: vec![11, 12],
        ..Header::default()
    };
    h2.extension = true;
    h2.extension_profile = ::rtp::header::EXTENSION_PROFILE_ONE_BYTE;
    h2.set_extension(1, Bytes::from_static(&[0x80])).unwrap();
    let mut raw = h2.marshal().unwrap().to_vec();
    let header_len = raw.len();
    raw.extend_from_slice(&[9, 9, 9, 0, 0, 3]);
    let (parsed, range) = parse_rtp(&raw).unwrap();
    assert_eq!(parsed.csrc, vec![11, 12]);
    assert_eq!(parsed.extensions.len(), 1);
    assert_eq!(range, header_len..header_len + 3);
    // Extension elements running past their block (webrtc-rs's parser would read past the
    // buffer and panic on these) are refused before it sees them.
    let one_byte = [
        0x90u8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xBE, 0xDE, 0, 1, 0x1F, 0, 0, 0,
    ];
    assert!(parse_rtp(&one_byte).is_none());
    let two_byte = [
        0x90u8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 1, 0, 0, 0, 7,
    ];
    assert!(parse_rtp(&two_byte).is_none());
}

#[test]
fn sequence_and_timestamp_continue_across_hold() {
    let t0 = Instant::now();
    let mut s = RtpSender::new(1, 8000);
    let first = s.next_header(t0, params(160), 160);
    let mut last = first.clone();
    for i in 1..50u32 {
        // Timer jitter of a few ms does not bend the timeline.
        let jitter = if i % 2 == 0 { 3 } else { 0 };
        let h = s.next_header(t0 + ms(20 * u64::from(i) + jitter), params(160), 160);
        assert_eq!(h.sequence_number, last.sequence_number.wrapping_add(1));
        assert_eq!(h.timestamp, last.timestamp.wrapping_add(160));
        assert!(!h.marker);
        last = h;
    }
    // Hold: nothing sent for 3 s after the last packet.
    let last_at = t0 + ms(20 * 49);
    let resumed = s.next_header(last_at + ms(3000), params(160), 160);
    assert_eq!(
        resumed.sequence_number,
        last.sequence_number.wrapping_add(1)
    );
    assert_eq!(resumed.timestamp.wrapping_sub(last.timestamp), 3 * 8000);
    assert!(resumed.marker, "a talkspurt starts after hold");
    assert_eq!(resumed.ssrc, first.ssrc);
    // A re-INVITE to another codec at the same rate (PCMU→PCMA) keeps the timeline.
    assert!(!s.set_clock_rate(8000));
    let next = s.next_header(
        last_at + ms(3020),
        SendParams {
            payload_type: 8,
            samples: 160,
            marker: false,
        },
        160,
    );
    assert_eq!(next.timestamp, resumed.timestamp.wrapping_add(160));
    assert_eq!(
        next.sequence_number,
        resumed.sequence_number.wrapping_add(1)
    );
    // A gap below the resync threshold (a stalled timer) stays contiguous.
    let after_stall = s.next_header(last_at + ms(3020 + 150), params(160), 160);
    assert_eq!(after_stall.timestamp, next.timestamp.wrapping_add(160));
    // The SR's RTP time follows wall-clock time from the last packet.
    assert_eq!(
        s.rtp_time_at(last_at + ms(3170 + 500)),
        after_stall.timestamp.wrapping_add(4000)
    );
}

#[test]
fn clock_rate_change_starts_a_new_timestamp_base() {
    let t0 = Instant::now();
    let mut s = RtpSender::new(5, 8000);
    let a = s.next_header(t0, params(160), 160);
    let b = s.next_header(t0 + ms(20), params(160), 160);
    assert_eq!(b.timestamp, a.timestamp.wrapping_add(160));
    assert!(s.set_clock_rate(48_000));
    assert_eq!(s.clock_rate(), 48_000);
    let c = s.next_header(
        t0 + ms(40),
        SendParams {
            payload_type: 111,
            samples: 960,
            marker: false,
        },
        80,
    );
    assert_eq!(c.sequence_number, b.sequence_number.wrapping_add(1));
    assert_eq!(c.ssrc, a.ssrc);
    assert!(c.marker);
    assert_ne!(c.timestamp, b.timestamp.wrapping_add(160));
    let d = s.next_header(t0 + ms(60), params(960), 80);
    assert_eq!(d.timestamp, c.timestamp.wrapping_add(960));
    assert!(!d.marker);
}

/// Feeds sequence numbers at 20 ms spacing with matching timestamps.
fn feed(r: &mut RtpReceiver, t0: Instant, seqs: &[u16]) -> Vec<SeqOutcome> {
    seqs.iter()
        .map(|&seq| {
            let n = u64::from(seq);
            r.on_packet(t0 + ms(20 * n), seq, (n as u32) * 160)
        })
        .collect()
}

#[test]
fn receiver_in_order_stream() {
    let t0 = Instant::now();
    let mut r = RtpReceiver::new(t0, 99, 8000);
    let seqs: Vec<u16> = (1..=100).collect();
    let out = feed(&mut r, t0, &seqs);
    assert_eq!(out[0], SeqOutcome::Probation);
    assert!(matches!(out[1], SeqOutcome::Valid { .. }));
    assert!(r.is_valid());
    assert_eq!(r.expected(), 99);
    assert_eq!(r.received(), 99);
    assert_eq!(r.lost(), 0);
    assert_eq!(r.extended_max_seq(), 100);
    assert_eq!(r.duplicates() + r.reordered(), 0);
    assert!(r.jitter_units() < 1e-9);
}

#[test]
fn receiver_counts_loss_exactly() {
    let t0 = Instant::now();
    let mut r = RtpReceiver::new(t0, 99, 8000);
    let seqs: Vec<u16> = (1..=100).filter(|s| s % 10 != 5).collect();
    feed(&mut r, t0, &seqs);
    assert_eq!(r.expected(), 99);
    assert_eq!(r.lost(), 10);
    let (interval, mark) = r.interval_since(IntervalMark::default());
    assert_eq!((interval.expected, interval.lost), (99, 10));
    assert_eq!(interval.fraction, (10 * 256 / 99) as u8);
    // The next interval: 20 more, 5 of them lost.
    let more: Vec<u16> = (101..=120).filter(|s| s % 4 != 2).collect();
    feed(&mut r, t0, &more);
    let (interval, _) = r.interval_since(mark);
    assert_eq!((interval.expected, interval.lost), (20, 5));
    assert_eq!(interval.fraction, 64);
    assert_eq!(r.lost(), 15);
}

#[test]
fn receiver_reordering_and_duplicates() {
    let t0 = Instant::now();
    let mut r = RtpReceiver::new(t0, 1, 8000);
    feed(&mut r, t0, &[10, 11, 12, 14, 15, 13, 16]);
    assert_eq!(r.reordered(), 1);
    assert_eq!(r.lost(), 0);
    assert_eq!(r.received(), 6);
    let out = feed(&mut r, t0, &[16, 13, 15, 17]);
    assert_eq!(out[0], SeqOutcome::Duplicate);
    assert_eq!(out[1], SeqOutcome::Duplicate);
    assert_eq!(out[2], SeqOutcome::Duplicate);
    assert!(matches!(
        out[3],
        SeqOutcome::Valid {
            extended_seq: 17,
            reordered: false,
            ..
        }
    ));
    assert_eq!(r.duplicates(), 3);
    assert_eq!(r.received(), 7);
    assert_eq!(r.lost(), 0);
    // A late packet fills its hole: loss goes back down.
    feed(&mut r, t0, &[19, 20]);
    assert_eq!(r.lost(), 1);
    let late = feed(&mut r, t0, &[18]);
    assert!(matches!(
        late[0],
        SeqOutcome::Valid {
            extended_seq: 18,
            reordered: true,
            ..
        }
    ));
    assert_eq!(r.lost(), 0);
}

#[test]
fn receiver_sequence_wrap() {
    let t0 = Instant::now();
    let mut r = RtpReceiver::new(t0, 1, 8000);
    let seqs: Vec<u16> = (65_530u32..65_546).map(|s| s as u16).collect();
    let out = feed(&mut r, t0, &seqs);
    assert!(matches!(
        out.last(),
        Some(SeqOutcome::Valid {
            extended_seq: 65_545,
            ..
        })
    ));
    assert_eq!(r.extended_max_seq(), 65_536 + 9);
    assert_eq!(r.expected(), 15);
    assert_eq!(r.lost(), 0);
    // A reordered packet from before the wrap maps below it.
    let out = feed(&mut r, t0, &[12, 10, 9, 65_535]);
    assert!(matches!(
        out[0],
        SeqOutcome::Valid {
            extended_seq: 65_548,
            reordered: false,
            ..
        }
    ));
    assert!(matches!(
        out[1],
        SeqOutcome::Valid {
            extended_seq: 65_546,
            reordered: true,
            ..
        }
    ));
    assert_eq!(out[2], SeqOutcome::Duplicate);
    assert_eq!(out[3], SeqOutcome::Duplicate);
    assert_eq!(r.lost(), 1);
}

#[test]
fn receiver_restart_after_large_jump() {
    let t0 = Instant::now();
    let mut r = RtpReceiver::new(t0, 1, 8000);
    feed(&mut r, t0, &[100, 101, 102, 103, 105]);
    assert_eq!(r.lost(), 1);
    let out = feed(&mut r, t0, &[30_000]);
    assert_eq!(out[0], SeqOutcome::Jump);
    let out = feed(&mut r, t0, &[30_001, 30_002]);
    assert!(matches!(
        out[0],
        SeqOutcome::Valid {
            restarted: true,
            ..
        }
    ));
    assert_eq!(r.restarts(), 1);
    assert_eq!(r.lost(), 0);
    assert_eq!(r.total_lost(), 1);
    assert_eq!(r.expected(), 2);
}

#[test]
fn session_detects_a_new_ssrc_and_keeps_a_stray_on_probation() {
    let a = addr("192.0.2.10:4000");
    let mut s = session(a);
    let t0 = Instant::now();
    let mut changes = Vec::new();
    for i in 0..10u16 {
        let inc = s.on_packet(
            t0 + ms(20 * u64::from(i)),
            a,
            &rtp(0xAAAA, 500 + i, u32::from(i) * 160, 0),
        );
        if let Some(c) = inc.ssrc_change {
            changes.push(c);
        }
        if i == 0 {
            assert_eq!(inc.received, Received::Dropped(DropReason::Probation));
        } else {
            assert!(inc.accepted());
        }
    }
    assert_eq!(
        changes,
        vec![SsrcChange {
            old: None,
            new: 0xAAAA
        }]
    );
    // One stray packet with another SSRC: on probation, dropped, stream unchanged.
    let stray = s.on_packet(t0 + ms(205), a, &rtp(0xBBBB, 7, 0, 0));
    assert_eq!(stray.received, Received::Dropped(DropReason::Probation));
    assert_eq!(stray.ssrc_change, None);
    assert_eq!(s.remote_ssrc(), Some(0xAAAA));
    let inc = s.on_packet(t0 + ms(210), a, &rtp(0xAAAA, 510, 1600, 0));
    assert!(inc.accepted());
    // The far end restarts with a new SSRC: reported once it is in sequence.
    let t1 = t0 + ms(400);
    let first = s.on_packet(t1, a, &rtp(0xCCCC, 9000, 77, 0));
    assert!(!first.accepted());
    let second = s.on_packet(t1 + ms(20), a, &rtp(0xCCCC, 9001, 237, 0));
    assert!(second.accepted());
    assert_eq!(
        second.ssrc_change,
        Some(SsrcChange {
            old: Some(0xAAAA),
            new: 0xCCCC
        })
    );
    // Late packets of the old stream do not flip it back.
    for (i, seq) in [511u16, 512, 513].iter().enumerate() {
        let late = s.on_packet(t1 + ms(30 + i as u64), a, &rtp(0xAAAA, *seq, 0, 0));
        assert_eq!(late.received, Received::Dropped(DropReason::RetiredSsrc));
    }
    assert_eq!(s.remote_ssrc(), Some(0xCCCC));
    // An unknown payload type is refused.
    let odd = s.on_packet(t1 + ms(40), a, &rtp(0xCCCC, 9002, 397, 18));
    assert_eq!(
        odd.received,
        Received::Dropped(DropReason::UnknownPayloadType)
    );
}

/// Feeds packets with the given transit offsets (ms) at 20 ms / 160-unit spacing.
fn jitter_after(offsets: impl Iterator<Item = i64>) -> RtpReceiver {
    let t0 = Instant::now();
    let mut r = RtpReceiver::new(t0, 1, 8000);
    for (i, off) in offsets.enumerate() {
        let at = 100 + 20 * i as i64 + off;
        r.on_packet(
            t0 + ms(at as u64),
            1000 + i as u16,
            5_000_000 + 160 * i as u32,
        );
    }
    r
}

#[test]
fn jitter_is_zero_for_constant_transit() {
    let r = jitter_after((0..200).map(|_| 37));
    assert!(r.jitter_units() < 1e-9);
    assert!(r.jitter_ms() < 1e-6);
}

#[test]
fn jitter_converges_for_alternating_transit() {
    // Transit alternates +10/−10 ms: every |D| is 20 ms = 160 units, so RFC 3550 A.8 gives
    // J_k = J_{k−1} + (160 − J_{k−1})/16 from J = 0, i.e. J_k = 160·(1 − (15/16)^k), where k
    // counts the differences: packets after the first of the valid stream (the first of all
    // is the probation packet, which A.1 does not count).
    let n = 200;
    let r = jitter_after((0..n).map(|i| if i % 2 == 0 { 10 } else { -10 }));
    let k = n - 2;
    let expected = 160.0 * (1.0 - (15.0f64 / 16.0).powi(k));
    assert!(
        (r.jitter_units() - expected).abs() < 1e-6,
        "{} vs {expected}",
        r.jitter_units()
    );
    assert!((r.jitter_ms() - 20.0).abs() < 0.01, "{}", r.jitter_ms());
}

#[test]
fn rtt_from_lsr_and_dlsr() {
    let a = addr("192.0.2.10:4000");
    let mut cfg = RtpConfig::new(a, 8000, 9);
    cfg.ntp_at_start = ntp_from_unix(Duration::from_secs(1_700_000_000));
    let t0 = Instant::now();
    let mut s = RtpSession::new(t0, cfg);
    let mut buf = [0u8; 1500];
    s.write_rtp(t0, params(160), &[0; 160], &mut buf).unwrap();
    // Our SR at t0 + 1 s.
    let sr_at = t0 + ms(1000);
    let n = s.stop(sr_at, &mut buf).unwrap();
    let parsed = parse_rtcp(&buf[..n], 0).unwrap();
    let (ssrc, ntp) = parsed.sender_report.unwrap();
    assert_eq!(ssrc, s.ssrc());
    assert_eq!(ntp, s.ntp_at(sr_at));
    // Their RR 150 ms later: LSR = our SR's middle bits, DLSR = 50 ms.
    let rr = ReceiverReport {
        ssrc: 0xFEED,
        reports: vec![ReceptionReport {
            ssrc: s.ssrc(),
            fraction_lost: 64,
            total_lost: 12,
            last_sequence_number: 1,
            jitter: 80,
            last_sender_report: ntp_middle32(ntp),
            delay: duration_to_q16(ms(50)),
        }],
        profile_extensions: Bytes::new(),
    };
    let raw = rr.marshal().unwrap();
    let inc = s.on_rtcp_packet(sr_at + ms(150), addr("192.0.2.10:4001"), &raw);
    let Received::Rtcp(info) = inc.received else {
        panic!("{inc:?}")
    };
    let report = info.about_us.unwrap();
    let rtt = report.rtt_ms.unwrap();
    assert!((rtt - 100.0).abs() < 0.1, "{rtt}");
    assert!((report.loss_pct - 25.0).abs() < 1e-3);
    assert_eq!(report.cumulative_lost, 12);
    assert!((report.jitter_ms - 10.0).abs() < 1e-3);
    let stats = s.stats(sr_at + ms(200));
    assert!((stats.rtt_ms.unwrap() - 100.0).abs() < 0.1);
    assert!((stats.remote_loss_pct - 25.0).abs() < 1e-3);
    assert!((stats.remote_jitter_ms - 10.0).abs() < 1e-3);
    // Stale after REPORT_STALE_AFTER.
    let stale = s.stats(sr_at + REPORT_STALE_AFTER + ms(1000));
    assert_eq!(stale.rtt_ms, None);
    assert_eq!(stale.remote_loss_pct, 0.0);
    // No LSR → no RTT.
    assert_eq!(rtt_q16(12345, 0, 0), None);
    // NTP middle bits: 1.5 s is 0x0001_8000.
    assert_eq!(ntp_middle32(duration_to_ntp(ms(1500))), 0x0001_8000);
}

#[test]
fn rtcp_reports_sr_when_sending_else_rr_with_cname_and_block() {
    let a = addr("192.0.2.10:4000");
    let mut s = session(a);
    let t0 = Instant::now();
    let mut buf = [0u8; 1500];
    // Nothing due before the first interval; the first is within [1.25, 3.75] s.
    assert_eq!(s.poll_rtcp(t0, &mut buf).unwrap(), None);
    let due = s.poll_timeout().unwrap();
    assert!(due >= t0 + ms(1250) && due <= t0 + ms(3750));
    // Receive 50 packets (one lost) and send 10.
    for i in 0..50u16 {
        if i == 20 {
            continue;
        }
        let at = t0 + ms(20 * u64::from(i));
        s.on_packet(at, a, &rtp(0x1234, 100 + i, u32::from(i) * 160, 0));
    }
    for i in 0..10u64 {
        s.write_rtp(t0 + ms(20 * i), params(160), &[0; 160], &mut [0u8; 200])
            .unwrap();
    }
    let n = s.poll_rtcp(due, &mut buf).unwrap().unwrap();
    let packets = ::rtcp::packet::unmarshal(&mut &buf[..n]).unwrap();
    assert_eq!(packets.len(), 2);
    let sr = packets[0]
        .as_any()
        .downcast_ref::<SenderReport>()
        .expect("an SR while sending");
    assert_eq!(sr.ssrc, s.ssrc());
    assert_eq!(sr.packet_count, 10);
    assert_eq!(sr.octet_count, 1600);
    assert_eq!(sr.reports.len(), 1);
    let block = &sr.reports[0];
    assert_eq!(block.ssrc, 0x1234);
    assert_eq!(block.total_lost, 1);
    assert_eq!(block.last_sequence_number, 149);
    // Probation packet 100 not expected; 49 expected from 101..=149, 1 lost.
    assert_eq!(block.fraction_lost, (256 / 49) as u8);
    assert_eq!(block.last_sender_report, 0);
    let sdes = packets[1]
        .as_any()
        .downcast_ref::<SourceDescription>()
        .unwrap();
    assert_eq!(sdes.chunks[0].source, s.ssrc());
    assert_eq!(&sdes.chunks[0].items[0].text[..], b"alice@example");
    // The next report: nothing sent since → RR; their SR since → LSR and DLSR.
    let their_sr = SenderReport {
        ssrc: 0x1234,
        ntp_time: 0x0000_0005_8000_0000,
        rtp_time: 1,
        packet_count: 50,
        octet_count: 8000,
        reports: vec![],
        profile_extensions: Bytes::new(),
    };
    let sr_arrival = due + ms(500);
    let inc = s.on_packet(sr_arrival, a, &their_sr.marshal().unwrap());
    assert!(matches!(
        inc.received,
        Received::Rtcp(RtcpInfo {
            sender_report: true,
            ..
        })
    ));
    let next = s.poll_timeout().unwrap();
    assert!(next >= due + ms(2500) && next <= due + ms(7500));
    assert_eq!(s.poll_rtcp(next - ms(1), &mut buf).unwrap(), None);
    let n = s.poll_rtcp(next, &mut buf).unwrap().unwrap();
    let packets = ::rtcp::packet::unmarshal(&mut &buf[..n]).unwrap();
    let rr = packets[0]
        .as_any()
        .downcast_ref::<ReceiverReport>()
        .expect("an RR when not sending");
    let block = &rr.reports[0];
    assert_eq!(block.last_sender_report, 0x0005_8000);
    assert_eq!(block.delay, duration_to_q16(next - sr_arrival));
    assert_eq!(block.fraction_lost, 0, "nothing new lost in this interval");
    // BYE on stop, then no more reports.
    let n = s.stop(next + ms(100), &mut buf).unwrap();
    let packets = ::rtcp::packet::unmarshal(&mut &buf[..n]).unwrap();
    let bye = packets[2].as_any().downcast_ref::<Goodbye>().unwrap();
    assert_eq!(bye.sources, vec![s.ssrc()]);
    assert_eq!(s.poll_timeout(), None);
    assert_eq!(s.poll_rtcp(next + ms(60_000), &mut buf).unwrap(), None);
    // Too small a buffer is an error, not a panic.
    let mut s2 = session(a);
    assert!(matches!(
        s2.stop(t0, &mut buf[..20]),
        Err(RtpError::BufferTooSmall { .. })
    ));
}

#[test]
fn latches_to_the_nat_address_and_ignores_a_spoofer() {
    let sdp = addr("10.0.0.5:4000"); // the peer's private address
    let nat = addr("203.0.113.7:61000"); // where its media really comes from
    let spoof = addr("198.51.100.66:5000");
    let mut s = session(sdp);
    let t0 = Instant::now();
    assert_eq!(s.rtp_destination(), sdp);
    assert_eq!(s.rtcp_destination(), addr("10.0.0.5:4001"));
    let mut latched = Vec::new();
    for i in 0..3u16 {
        let inc = s.on_packet(
            t0 + ms(20 * u64::from(i)),
            nat,
            &rtp(0x77, 10 + i, 160 * u32::from(i), 0),
        );
        // Media is played while learning (not on probation after the first packet).
        if i > 0 {
            assert!(inc.accepted(), "{inc:?}");
        }
        latched.extend(inc.latched);
        if i < 2 {
            assert_eq!(inc.send_to, sdp);
        } else {
            assert_eq!(inc.send_to, nat);
        }
    }
    assert_eq!(
        latched,
        vec![Latched {
            rtcp: false,
            from: sdp,
            to: nat
        }]
    );
    assert_eq!(s.rtp_destination(), nat);
    assert_eq!(s.rtcp_destination(), addr("203.0.113.7:61001"));
    // A single spoofed packet (even with the right SSRC and next sequence) is dropped.
    let inc = s.on_packet(t0 + ms(70), spoof, &rtp(0x77, 13, 480, 0));
    assert_eq!(
        inc.received,
        Received::Dropped(DropReason::UnexpectedSource)
    );
    assert_eq!(inc.latched, None);
    assert_eq!(s.rtp_destination(), nat);
    // So is a burst from the spoofer while the real source is live.
    for i in 0..10u16 {
        let at = t0 + ms(80 + 20 * u64::from(i));
        s.on_packet(at, nat, &rtp(0x77, 13 + i, 480 + 160 * u32::from(i), 0));
        let inc = s.on_packet(at, spoof, &rtp(0x99, 200 + i, 0, 0));
        assert!(!inc.accepted());
    }
    assert_eq!(s.rtp_destination(), nat);
    // A re-INVITE with the same SDP address (hold/resume) keeps the latch.
    s.update_remote(sdp, None, false);
    assert_eq!(s.rtp_destination(), nat);
    // If the latched source has gone quiet (NAT rebinding), a new one takes over.
    let rebound = addr("203.0.113.7:62000");
    let quiet = t0 + ms(280) + DEFAULT_RELATCH_IDLE;
    let mut moved = None;
    for i in 0..3u16 {
        let inc = s.on_packet(
            quiet + ms(20 * u64::from(i)),
            rebound,
            &rtp(0x77, 30 + i, 5000, 0),
        );
        moved = moved.or(inc.latched);
    }
    assert_eq!(
        moved,
        Some(Latched {
            rtcp: false,
            from: nat,
            to: rebound
        })
    );
    // A new SDP address starts learning again.
    let other = addr("192.0.2.99:7000");
    s.update_remote(other, None, false);
    assert_eq!(s.rtp_destination(), other);
}

#[test]
fn rtcp_latches_separately_without_mux() {
    let sdp = addr("10.0.0.5:4000");
    let nat = addr("203.0.113.7:61000");
    let nat_rtcp = addr("203.0.113.7:61007");
    let mut s = session(sdp);
    let t0 = Instant::now();
    for i in 0..3u16 {
        s.on_packet(t0 + ms(20 * u64::from(i)), nat, &rtp(0x77, i, 0, 0));
    }
    let rr = ReceiverReport {
        ssrc: 0x77,
        reports: vec![],
        profile_extensions: Bytes::new(),
    }
    .marshal()
    .unwrap();
    // RTCP on the RTP port (no rtcp-mux) is taken but does not move the RTCP destination.
    let inc = s.on_packet(t0 + ms(90), nat, &rr);
    assert!(matches!(inc.received, Received::Rtcp(_)));
    assert_eq!(inc.latched, None);
    assert_eq!(s.rtcp_destination(), addr("203.0.113.7:61001"));
    let inc = s.on_rtcp_packet(t0 + ms(100), nat_rtcp, &rr);
    assert!(inc.accepted());
    assert_eq!(
        inc.latched,
        Some(Latched {
            rtcp: true,
            from: addr("203.0.113.7:61001"),
            to: nat_rtcp
        })
    );
    assert_eq!(s.rtcp_destination(), nat_rtcp);
    // RTCP from an unknown SSRC and address is refused.
    let other = ReceiverReport {
        ssrc: 0x55,
        reports: vec![],
        profile_extensions: Bytes::new(),
    }
    .marshal()
    .unwrap();
    let inc = s.on_rtcp_packet(t0 + ms(200), addr("198.51.100.1:9"), &other);
    assert_eq!(
        inc.received,
        Received::Dropped(DropReason::UnexpectedSource)
    );
    assert_eq!(s.rtcp_destination(), nat_rtcp);
    // A BYE from the far end's stream is reported.
    let mut bye = ReceiverReport {
        ssrc: 0x77,
        reports: vec![],
        profile_extensions: Bytes::new(),
    }
    .marshal()
    .unwrap()
    .to_vec();
    bye.extend_from_slice(
        &Goodbye {
            sources: vec![0x77],
            reason: Bytes::from_static(b"bye"),
        }
        .marshal()
        .unwrap(),
    );
    let inc = s.on_rtcp_packet(t0 + ms(300), nat_rtcp, &bye);
    assert!(matches!(
        inc.received,
        Received::Rtcp(RtcpInfo { bye: true, .. })
    ));
    assert!(s.remote_bye());
}

#[test]
fn rtcp_mux_classification() {
    let mut pkt = rtp(1, 2, 3, 0);
    assert_eq!(classify(&pkt), PacketClass::Rtp);
    pkt[1] = 0x80 | 111; // marker + dynamic PT
    assert_eq!(classify(&pkt), PacketClass::Rtp);
    pkt[1] = 96;
    assert_eq!(classify(&pkt), PacketClass::Rtp);
    for pt in 200u8..=204 {
        let b = [0x81, pt, 0, 1, 0, 0, 0, 1];
        assert_eq!(classify(&b), PacketClass::Rtcp, "{pt}");
    }
    // Second byte 192..=223 (marker bit set over PT 64..=95) is RTCP; 224 is not.
    assert_eq!(classify(&[0x80, 192, 0, 0]), PacketClass::Rtcp);
    assert_eq!(classify(&[0x80, 223, 0, 0]), PacketClass::Rtcp);
    assert_eq!(classify(&[0x80, 64, 0, 0]), PacketClass::Rtcp);
    assert_eq!(classify(&[0x80, 224, 0, 0]), PacketClass::Unknown);
    assert_eq!(classify(&[0x00, 0x01, 0, 0]), PacketClass::Stun);
    assert_eq!(classify(&[22, 254, 253]), PacketClass::Dtls);
    assert_eq!(classify(&[]), PacketClass::Unknown);
    assert_eq!(classify(&[0x40, 0]), PacketClass::Unknown);

    // With rtcp-mux an SR on the RTP port is taken as RTCP.
    let a = addr("192.0.2.1:5000");
    let mut cfg = RtpConfig::new(a, 8000, 3);
    cfg.rtcp_mux = true;
    let mut s = RtpSession::new(Instant::now(), cfg);
    assert_eq!(s.rtcp_destination(), a);
    let sr = SenderReport {
        ssrc: 5,
        ..SenderReport::default()
    }
    .marshal()
    .unwrap();
    let inc = s.on_packet(Instant::now(), a, &sr);
    assert!(matches!(inc.received, Received::Rtcp(_)));
}

#[test]
fn rtcp_interval_randomisation_bounds() {
    let a = addr("192.0.2.1:5000");
    let t0 = Instant::now();
    let mut total = Duration::ZERO;
    for seed in 0..200u64 {
        let mut s = RtpSession::new(t0, RtpConfig::new(a, 8000, seed));
        let first = s.poll_timeout().unwrap() - t0;
        assert!(first >= ms(1250) && first <= ms(3750), "{first:?}");
        for _ in 0..20 {
            let d = s.randomized_interval(false);
            assert!(d >= ms(2500) && d <= ms(7500), "{d:?}");
            total += d;
        }
    }
    let mean = total.as_secs_f64() / 4000.0;
    assert!((mean - 5.0).abs() < 0.1, "{mean}");
    // Different seeds, different SSRCs.
    let s1 = RtpSession::new(t0, RtpConfig::new(a, 8000, 1));
    let s2 = RtpSession::new(t0, RtpConfig::new(a, 8000, 2));
    assert_ne!(s1.ssrc(), s2.ssrc());
    assert_eq!(s1.cname().len(), 12);
}

#[test]
fn stats_snapshot() {
    let a = addr("192.0.2.10:4000");
    let mut s = session(a);
    let t0 = Instant::now();
    for i in 0..51u16 {
        if i % 10 == 5 {
            continue;
        }
        s.on_packet(
            t0 + ms(20 * u64::from(i)),
            a,
            &rtp(9, 1000 + i, 160 * u32::from(i), 0),
        );
    }
    let st = s.stats(t0 + ms(1000));
    assert_eq!(st.packets_received, 45);
    assert_eq!(st.packets_lost, 5);
    assert!((st.loss_pct - 10.0).abs() < 1e-4, "{}", st.loss_pct);
    assert_eq!(st.rtt_ms, None);
    assert_eq!((st.jitter_buffer_ms, st.mos), (0.0, 0.0));
    // The next second without loss.
    for i in 51..101u16 {
        s.on_packet(
            t0 + ms(20 * u64::from(i)),
            a,
            &rtp(9, 1000 + i, 160 * u32::from(i), 0),
        );
    }
    let st = s.stats(t0 + ms(2000));
    assert_eq!(st.packets_lost, 5);
    assert_eq!(st.loss_pct, 0.0);
    assert_eq!(st.packets_received, 95);
}

#[test]
fn garbage_never_panics() {
    let mut rng = XorShift(0x1234_5678_9ABC_DEF1);
    let a = addr("192.0.2.10:4000");
    let mut s = session(a);
    let mut mux = {
        let mut cfg = RtpConfig::new(a, 8000, 1);
        cfg.rtcp_mux = true;
        RtpSession::new(Instant::now(), cfg)
    };
    let t0 = Instant::now();
    let sources = [a, addr("198.51.100.1:1"), addr("198.51.100.2:2")];
    let valid_rtcp = {
        let mut v = SenderReport {
            ssrc: 1,
            reports: vec![ReceptionReport::default()],
            ..SenderReport::default()
        }
        .marshal()
        .unwrap()
        .to_vec();
        v.extend_from_slice(
            &Goodbye {
                sources: vec![1],
                reason: Bytes::from_static(b"x"),
            }
            .marshal()
            .unwrap(),
        );
        v
    };
    let mut buf = [0u8; 300];
    for i in 0..10_000u64 {
        let len = (rng.next() % 300) as usize;
        for b in buf[..len].iter_mut() {
            *b = rng.next() as u8;
        }
        match i % 4 {
            // Looks like RTP, with random extension/CSRC/padding bits.
            1 if len > 0 => {
                buf[0] = 0x80 | (buf[0] & 0x3F);
                if len > 16 && i % 8 == 1 {
                    buf[0] &= 0xF0;
                    buf[12] = 0xBE;
                    buf[13] = 0xDE;
                }
            }
            // A real RTCP compound with random corruption.
            2 => {
                let n = valid_rtcp.len().min(buf.len());
                buf[..n].copy_from_slice(&valid_rtcp[..n]);
                let flips = rng.next() % 4;
                for _ in 0..flips {
                    let at = (rng.next() as usize) % n;
                    buf[at] = rng.next() as u8;
                }
            }
            _ => {}
        }
        let len = if i % 4 == 2 {
            (rng.next() as usize) % (valid_rtcp.len() + 1)
        } else {
            len
        };
        let pkt = &buf[..len];
        let from = sources[(rng.next() % 3) as usize];
        let now = t0 + ms(i);
        let _ = parse_rtp(pkt);
        let _ = parse_rtcp(pkt, 1);
        let _ = classify(pkt);
        let _ = s.on_packet(now, from, pkt);
        let _ = s.on_rtcp_packet(now, from, pkt);
        let _ = mux.on_packet(now, from, pkt);
    }
    // Structured RTP with one-/two-byte extension profiles and random element bytes.
    for _ in 0..10_000 {
        let len = 16 + (rng.next() % 40) as usize;
        for b in buf[..len].iter_mut() {
            *b = rng.next() as u8;
        }
        buf[0] = 0x90 | (buf[0] & 0x20); // V=2, X=1, maybe P, no CSRC
        let profile: u16 = if rng.next().is_multiple_of(2) {
            0xBEDE
        } else {
            0x1000
        };
        buf[12..14].copy_from_slice(&profile.to_be_bytes());
        buf[14] = 0;
        buf[15] = (rng.next() % 12) as u8;
        let _ = parse_rtp(&buf[..len]);
        let _ = s.on_packet(t0, a, &buf[..len]);
    }
    let mut out = [0u8; 1500];
    let _ = s.stats(t0 + ms(20_000));
    assert!(s.stop(t0 + ms(20_000), &mut out).is_ok());
}
