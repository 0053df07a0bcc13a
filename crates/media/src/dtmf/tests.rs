//! RFC 4733 events: payloads, sender, receiver, round trips with loss.

use super::*;

/// xorshift64: a tiny deterministic generator (there is no rand crate here).
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// A packet as the RTP layer would send it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Sent {
    tick: usize,
    timestamp: u32,
    marker: bool,
    event: EventPayload,
}

/// Polls until the sender is idle, following the RTP-layer contract with the stream's
/// timestamp starting at `base`. Also returns the number of polls made.
fn drain(sender: &mut DtmfSender, base: u32) -> (Vec<Sent>, usize) {
    let mut out = Vec::new();
    let mut tick = 0;
    while !sender.is_idle() {
        let tick_ts = base.wrapping_add(tick as u32 * sender.samples_per_packet());
        if let Some(p) = sender.poll() {
            out.push(Sent {
                tick,
                timestamp: p.rtp_timestamp(tick_ts),
                marker: p.marker,
                event: p.event(),
            });
        }
        tick += 1;
        assert!(tick < 10_000_000, "sender never went idle");
    }
    (out, tick)
}

/// Splits a packet sequence into events (runs sharing one timestamp).
fn by_timestamp(packets: &[Sent]) -> Vec<Vec<Sent>> {
    let mut groups: Vec<Vec<Sent>> = Vec::new();
    for p in packets {
        match groups.last_mut() {
            Some(g) if g[0].timestamp == p.timestamp => g.push(*p),
            _ => groups.push(vec![*p]),
        }
    }
    groups
}

#[test]
fn payload_round_trips_every_field() {
    for event in 0..=255u8 {
        for end in [false, true] {
            for volume in 0..=MAX_VOLUME {
                for duration in [0u16, 1, 160, 800, 0x7FFF, 0x8000, 0xFFFF] {
                    let p = EventPayload::new(event, end, volume, duration).unwrap();
                    assert_eq!(EventPayload::decode(&p.encode()), Ok(p));
                }
            }
        }
    }
}

#[test]
fn payload_wire_layout() {
    let p = EventPayload::new(5, true, 10, 800).unwrap();
    assert_eq!(p.encode(), [5, 0x8A, 0x03, 0x20]);
    let p = EventPayload::new(11, false, 63, 0xABCD).unwrap();
    assert_eq!(p.encode(), [11, 0x3F, 0xAB, 0xCD]);
}

#[test]
fn payload_bad_input() {
    for len in 0..EVENT_PAYLOAD_LEN {
        assert_eq!(
            EventPayload::decode(&[1, 2, 3][..len.min(3)]),
            Err(DtmfError::PayloadTooShort(len.min(3)))
        );
    }
    assert_eq!(
        EventPayload::new(1, false, 64, 0),
        Err(DtmfError::VolumeOutOfRange(64))
    );
    assert_eq!(
        EventPayload::new(1, false, 255, 0),
        Err(DtmfError::VolumeOutOfRange(255))
    );
    // A volume set directly on the field is clamped, never bleeding into the E/R bits.
    let raw = EventPayload {
        event: 1,
        end: false,
        volume: 200,
        duration: 0,
    };
    assert_eq!(raw.encode()[1], 63);
    // The R bit is ignored; trailing bytes are ignored.
    let p = EventPayload::decode(&[3, 0xC5, 0, 160, 9, 9, 9]).unwrap();
    assert_eq!(p, EventPayload::new(3, true, 5, 160).unwrap());
}

#[test]
fn payload_decode_never_panics() {
    let mut rng = XorShift(0x1234_5678_9abc_def0);
    let mut buf = [0u8; 12];
    for _ in 0..20_000 {
        let len = rng.below(buf.len() + 1);
        for b in &mut buf[..len] {
            *b = rng.next() as u8;
        }
        match EventPayload::decode(&buf[..len]) {
            Ok(p) => {
                assert!(len >= 4);
                assert!(p.volume <= MAX_VOLUME);
                assert_eq!(p.encode()[0], buf[0]);
            }
            Err(e) => assert_eq!(e, DtmfError::PayloadTooShort(len)),
        }
    }
}

#[test]
fn digit_mapping() {
    let digits = "0123456789*#ABCD";
    for (code, c) in digits.chars().enumerate() {
        assert_eq!(event_for_digit(c), Some(code as u8));
        assert_eq!(digit_for_event(code as u8), Some(c));
    }
    for (c, code) in [('a', 12), ('b', 13), ('c', 14), ('d', 15)] {
        assert_eq!(event_for_digit(c), Some(code));
    }
    for c in ['E', 'e', 'x', ' ', '+', 'p', ',', '\0', 'é', '٣'] {
        assert_eq!(event_for_digit(c), None, "{c:?}");
    }
    for e in 16..=255u8 {
        assert_eq!(digit_for_event(e), None);
    }
}

#[test]
fn sender_one_100ms_digit_at_8khz() {
    let mut sender = DtmfSender::new(8_000, 20).unwrap();
    assert_eq!(sender.samples_per_packet(), 160);
    sender.start('5', None, DEFAULT_VOLUME).unwrap();
    let base = 1_000_000;
    let (sent, polls) = drain(&mut sender, base);

    assert_eq!(sent.len(), 5 + 2);
    // One timestamp for the whole event: the tick it started on.
    assert!(sent.iter().all(|p| p.timestamp == base));
    // Marker on the first packet only.
    assert!(sent[0].marker);
    assert!(sent[1..].iter().all(|p| !p.marker));
    // Durations 160, 320, ..., 800; E bit only on the last three, all with 800.
    let durations: Vec<u16> = sent.iter().map(|p| p.event.duration).collect();
    assert_eq!(durations, [160, 320, 480, 640, 800, 800, 800]);
    let ends: Vec<bool> = sent.iter().map(|p| p.event.end).collect();
    assert_eq!(ends, [false, false, false, false, true, true, true]);
    assert!(
        sent.iter()
            .all(|p| p.event.event == 5 && p.event.volume == 10)
    );
    // One packet per tick, back to back, then the 40 ms gap (two quiet polls).
    assert!(sent.iter().enumerate().all(|(i, p)| p.tick == i));
    assert_eq!(polls, 7 + 2);
    assert_eq!(sender.poll(), None);
}

#[test]
fn sender_at_48khz_and_odd_lengths() {
    let mut sender = DtmfSender::new(48_000, 20).unwrap();
    assert_eq!(sender.samples_per_packet(), 960);
    sender.start('#', Some(110), 0).unwrap();
    let (sent, _) = drain(&mut sender, u32::MAX - 1000);
    let durations: Vec<u16> = sent.iter().map(|p| p.event.duration).collect();
    // 110 ms = 5280 units: the final packet reports exactly that.
    assert_eq!(durations, [960, 1920, 2880, 3840, 4800, 5280, 5280, 5280]);
    assert!(sent.iter().all(|p| p.timestamp == u32::MAX - 1000));
    assert!(sent.iter().all(|p| p.event.event == 11));
}

#[test]
fn sender_minimum_duration_and_gap_between_digits() {
    let mut sender = DtmfSender::default();
    sender.start('1', Some(10), 20).unwrap(); // raised to 40 ms
    sender.start('1', None, 20).unwrap();
    let (sent, _) = drain(&mut sender, 0);
    let events = by_timestamp(&sent);
    assert_eq!(events.len(), 2);
    let first: Vec<u16> = events[0].iter().map(|p| p.event.duration).collect();
    assert_eq!(first, [160, 320, 320, 320]);
    // The second digit starts after the 3 end packets and a 2-tick gap.
    let last_end_tick = events[0].last().unwrap().tick;
    assert_eq!(events[1][0].tick, last_end_tick + 3);
    assert_eq!(events[1][0].timestamp, events[1][0].tick as u32 * 160);
    assert!(events[1][0].marker);
    assert_eq!(events[1].len(), 7);
}

#[test]
fn sender_rejects_bad_requests() {
    let mut sender = DtmfSender::default();
    assert_eq!(
        sender.start('x', None, 10),
        Err(DtmfError::UnknownDigit('x'))
    );
    assert_eq!(
        sender.start('1', None, 64),
        Err(DtmfError::VolumeOutOfRange(64))
    );
    for i in 0..QUEUE_CAPACITY {
        sender
            .start('0', None, 10)
            .unwrap_or_else(|e| panic!("{i}: {e}"));
    }
    assert_eq!(sender.start('0', None, 10), Err(DtmfError::QueueFull));
    assert_eq!(sender.queued(), QUEUE_CAPACITY);
    // Sending the first frees a slot.
    assert!(sender.poll().is_some());
    assert_eq!(sender.queued(), QUEUE_CAPACITY - 1);
    sender.start('9', None, 10).unwrap();
    // Clearing keeps the digit in progress going to its end packets.
    sender.clear_queue();
    let (sent, _) = drain(&mut sender, 0);
    assert_eq!(sent.len(), 6);
    assert!(sent.last().unwrap().event.end);

    for (rate, ms) in [(0, 20), (8_000, 0), (11_025, 20), (48_000, 1_000)] {
        assert_eq!(
            DtmfSender::new(rate, ms).err(),
            Some(DtmfError::InvalidTiming {
                clock_rate: rate,
                packet_interval_ms: ms
            })
        );
    }
    assert!(DtmfSender::new(16_000, 30).is_ok());
}

#[test]
fn idle_sender_sends_nothing() {
    let mut sender = DtmfSender::default();
    assert!(sender.is_idle());
    for _ in 0..10 {
        assert_eq!(sender.poll(), None);
    }
}

/// Checks the segments of one long event against the rules of §2.5.1.3 and returns them.
fn check_long_event(rate: u32, ms: u32) -> Vec<Vec<Sent>> {
    let mut sender = DtmfSender::new(rate, 20).unwrap();
    let spp = sender.samples_per_packet();
    let segment = (0xFFFF / spp) * spp;
    sender.start('7', Some(ms), 10).unwrap();
    let base = 0xFFFF_0000; // wraps during the event
    let (sent, _) = drain(&mut sender, base);
    let segments = by_timestamp(&sent);
    let total = u64::from(ms) * u64::from(rate) / 1000;
    assert!(total > 0xFFFF);
    assert!(segments.len() >= 2);

    // Every packet one tick after the previous one, durations in range.
    assert!(sent.windows(2).all(|w| w[1].tick == w[0].tick + 1));
    // Marker only on the very first packet of the event.
    assert!(sent[0].marker);
    assert!(sent[1..].iter().all(|p| !p.marker));

    let mut start = base;
    let mut covered = 0u64;
    for (i, seg) in segments.iter().enumerate() {
        let last = i == segments.len() - 1;
        // Each segment starts where the previous one ended.
        assert_eq!(seg[0].timestamp, start);
        // Durations grow by one packet per packet: from one packet for the event's start, from
        // three for a continuation (it starts while the previous segment's end is repeated).
        let longest = u32::from(seg.last().unwrap().event.duration);
        let first = if i == 0 { spp } else { (3 * spp).min(longest) };
        assert_eq!(u32::from(seg[0].event.duration), first);
        assert!(seg.windows(2).all(|w| {
            let (a, b) = (w[0].event.duration, w[1].event.duration);
            b == a || u32::from(b) == u32::from(a) + spp || (w[1].event.end && b > a)
        }));
        let end_packets = seg.iter().filter(|p| p.event.end).count();
        if last {
            assert_eq!(end_packets, 3);
            let d = seg.last().unwrap().event.duration;
            assert!(seg.iter().rev().take(3).all(|p| p.event.duration == d));
            covered += u64::from(d);
        } else {
            // A full segment, its final packet at the maximum sent three times, without the
            // E bit.
            assert_eq!(end_packets, 0);
            let d = u32::from(seg.last().unwrap().event.duration);
            assert_eq!(d, segment);
            assert_eq!(
                seg.iter()
                    .filter(|p| u32::from(p.event.duration) == d)
                    .count(),
                3
            );
            covered += u64::from(d);
            start = start.wrapping_add(d);
        }
    }
    assert_eq!(covered, total);
    segments
}

#[test]
fn sender_splits_long_events_into_segments() {
    // 10 s at 8 kHz = 80000 units: one segment of 409 packets (65440, the last sent three
    // times), then 14560.
    let segments = check_long_event(8_000, 10_000);
    assert_eq!(segments.len(), 2);
    assert_eq!(segments[0].len(), 409 + 2);
    assert_eq!(segments[1].last().unwrap().event.duration, 14_560);
    // 3 s at 48 kHz = 144000 units: segments of 68 packets (65280).
    let segments = check_long_event(48_000, 3_000);
    assert_eq!(segments.len(), 3);
    // 144000 - 2 * 65280 = 13440
    assert_eq!(segments[2].last().unwrap().event.duration, 13_440);
    // An event ending while the segment end is being repeated: 8193 ms = 65544 units.
    let segments = check_long_event(8_000, 8_193);
    assert_eq!(segments.len(), 2);
    assert_eq!(segments[1].len(), 3);
    assert!(
        segments[1]
            .iter()
            .all(|p| p.event.end && p.event.duration == 104)
    );
    // Exactly one segment's worth (65440 units = 8180 ms at 8 kHz) needs no second segment.
    let mut sender = DtmfSender::default();
    sender.start('1', Some(8_180), 10).unwrap();
    let (sent, _) = drain(&mut sender, 0);
    assert_eq!(by_timestamp(&sent).len(), 1);
    assert_eq!(sent.last().unwrap().event.duration, 65_440);
}

fn payload(event: u8, end: bool, duration: u16) -> [u8; 4] {
    EventPayload::new(event, end, 10, duration)
        .unwrap()
        .encode()
}

#[test]
fn receiver_reports_each_event_once() {
    let mut rx = DtmfReceiver::new();
    assert_eq!(rx.on_packet(1000, true, &payload(1, false, 160)), Some('1'));
    assert_eq!(rx.on_packet(1000, false, &payload(1, false, 320)), None);
    // Retransmission of the first packet, marker and all.
    assert_eq!(rx.on_packet(1000, true, &payload(1, false, 160)), None);
    for _ in 0..3 {
        assert_eq!(rx.on_packet(1000, false, &payload(1, true, 800)), None);
    }
    // Reordered: a middle packet arriving after the end packets.
    assert_eq!(rx.on_packet(1000, false, &payload(1, false, 480)), None);
}

#[test]
fn receiver_lost_first_packets() {
    let mut rx = DtmfReceiver::new();
    // Only end packets of the event arrive.
    assert_eq!(
        rx.on_packet(5000, false, &payload(12, true, 800)),
        Some('A')
    );
    assert_eq!(rx.on_packet(5000, false, &payload(12, true, 800)), None);
    // Only a middle packet of the next one.
    assert_eq!(
        rx.on_packet(7000, false, &payload(3, false, 480)),
        Some('3')
    );
    assert_eq!(rx.on_packet(7000, false, &payload(3, true, 800)), None);
}

#[test]
fn receiver_same_digit_twice() {
    let mut rx = DtmfReceiver::new();
    assert_eq!(rx.on_packet(0, true, &payload(9, false, 160)), Some('9'));
    assert_eq!(rx.on_packet(0, false, &payload(9, true, 800)), None);
    assert_eq!(rx.on_packet(1440, true, &payload(9, false, 160)), Some('9'));
    assert_eq!(rx.on_packet(1440, false, &payload(9, true, 800)), None);
    // Even with the marker packet of the second press lost and no end seen for the first.
    let mut rx = DtmfReceiver::new();
    assert_eq!(rx.on_packet(0, true, &payload(9, false, 160)), Some('9'));
    assert_eq!(
        rx.on_packet(48_000, false, &payload(9, false, 960)),
        Some('9')
    );
}

#[test]
fn receiver_late_packet_of_previous_event() {
    let mut rx = DtmfReceiver::new();
    assert_eq!(rx.on_packet(100, true, &payload(1, false, 160)), Some('1'));
    assert_eq!(rx.on_packet(1540, true, &payload(2, false, 160)), Some('2'));
    // The first event's end packet arrives after the second event started.
    assert_eq!(rx.on_packet(100, false, &payload(1, true, 800)), None);
    assert_eq!(rx.on_packet(1540, false, &payload(2, true, 800)), None);
}

#[test]
fn receiver_ignores_other_events_and_garbage() {
    let mut rx = DtmfReceiver::new();
    for e in [16, 32, 66, 255] {
        assert_eq!(rx.on_packet(10, true, &payload(e, false, 160)), None);
    }
    assert_eq!(rx.on_packet(10, true, &[]), None);
    assert_eq!(rx.on_packet(10, true, &[1, 2, 3]), None);
    // They did not disturb digit detection at the same timestamp.
    assert_eq!(rx.on_packet(10, true, &payload(0, false, 160)), Some('0'));
}

#[test]
fn receiver_timestamp_wrap_and_stream_restart() {
    let mut rx = DtmfReceiver::new();
    assert_eq!(
        rx.on_packet(u32::MAX - 100, true, &payload(4, false, 160)),
        Some('4')
    );
    assert_eq!(rx.on_packet(1300, true, &payload(5, false, 160)), Some('5'));
    assert_eq!(
        rx.on_packet(u32::MAX - 100, false, &payload(4, true, 800)),
        None
    );
    // A restarted stream far behind: reported, not mistaken for a stale packet.
    let restarted = 1300u32.wrapping_sub(0x1000_0000);
    assert_eq!(
        rx.on_packet(restarted, true, &payload(6, false, 160)),
        Some('6')
    );
    assert_eq!(rx.on_packet(restarted, false, &payload(6, true, 800)), None);
    // ... and one far ahead is simply a new event.
    assert_eq!(
        rx.on_packet(0x4000_0000, true, &payload(6, false, 160)),
        Some('6')
    );
    rx.reset();
    assert_eq!(
        rx.on_packet(0x4000_0000, true, &payload(6, false, 160)),
        Some('6')
    );
}

#[test]
fn receiver_drops_packets_older_than_its_history() {
    let mut rx = DtmfReceiver::new();
    for i in 0..RECEIVER_HISTORY as u32 + 4 {
        assert_eq!(
            rx.on_packet(i * 2000, true, &payload(1, false, 160)),
            Some('1')
        );
    }
    // The first events were forgotten; their stragglers must not count again.
    for i in 0..4 {
        assert_eq!(rx.on_packet(i * 2000, false, &payload(1, true, 800)), None);
    }
}

#[test]
fn long_event_is_one_digit() {
    for (rate, ms) in [(8_000, 20_000), (48_000, 5_000)] {
        let mut sender = DtmfSender::new(rate, 20).unwrap();
        sender.start('*', Some(ms), 10).unwrap();
        sender.start('*', None, 10).unwrap();
        let (sent, _) = drain(&mut sender, 12_345);
        assert!(by_timestamp(&sent).len() > 3);
        let mut rx = DtmfReceiver::new();
        let got: String = sent
            .iter()
            .filter_map(|p| rx.on_packet(p.timestamp, p.marker, &p.event.encode()))
            .collect();
        assert_eq!(got, "**", "{rate} Hz");

        // The same with each continuation segment's first packets lost.
        let mut rx = DtmfReceiver::new();
        let got: String = by_timestamp(&sent)
            .iter()
            .flat_map(|seg| {
                let skip = if seg[0].marker { 0 } else { 3 };
                seg.iter().skip(skip)
            })
            .filter_map(|p| rx.on_packet(p.timestamp, p.marker, &p.event.encode()))
            .collect();
        assert_eq!(got, "**", "{rate} Hz, lossy");
    }
}

/// Sends `digits`, loses up to two packets of every event (never all of one), optionally
/// shuffles each event's packets, and returns what the receiver reported.
fn lossy_round_trip(digits: &str, rate: u32, seed: u64, shuffle: bool) -> String {
    let mut rng = XorShift(seed);
    let mut sender = DtmfSender::new(rate, 20).unwrap();
    for c in digits.chars() {
        sender.start(c, None, DEFAULT_VOLUME).unwrap();
    }
    let base = rng.next() as u32;
    let (sent, _) = drain(&mut sender, base);
    let mut rx = DtmfReceiver::new();
    let mut got = String::new();
    for mut event in by_timestamp(&sent) {
        let losses = rng.below(3).min(event.len() - 1);
        for _ in 0..losses {
            let i = rng.below(event.len());
            event.remove(i);
        }
        if shuffle {
            for i in (1..event.len()).rev() {
                let j = rng.below(i + 1);
                event.swap(i, j);
            }
        }
        for p in &event {
            got.extend(rx.on_packet(p.timestamp, p.marker, &p.event.encode()));
        }
    }
    got
}

#[test]
fn sender_to_receiver_round_trip_with_loss() {
    let digits = "123*#ABCD0";
    for seed in 1..=300u64 {
        for rate in [8_000, 48_000] {
            let got = lossy_round_trip(digits, rate, seed * 0x9E37_79B9, false);
            assert_eq!(got, digits, "seed {seed}, {rate} Hz");
        }
    }
}

#[test]
fn sender_to_receiver_round_trip_with_loss_and_reordering() {
    let digits = "123*#ABCD0";
    for seed in 1..=300u64 {
        let got = lossy_round_trip(digits, 8_000, seed * 0x2545_F491, true);
        assert_eq!(got, digits, "seed {seed}");
    }
}

#[test]
fn lowercase_letters_round_trip_as_upper_case() {
    let mut sender = DtmfSender::default();
    for c in "abcd".chars() {
        sender.start(c, None, 10).unwrap();
    }
    let (sent, _) = drain(&mut sender, 0);
    let mut rx = DtmfReceiver::new();
    let got: String = sent
        .iter()
        .filter_map(|p| rx.on_packet(p.timestamp, p.marker, &p.event.encode()))
        .collect();
    assert_eq!(got, "ABCD");
}
