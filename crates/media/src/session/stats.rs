//! The statistics a call reports every second.

use std::time::Duration;

use crate::codec::CodecKind;

/// The statistics the call reports: RFC 3550 figures from the RTP core, the jitter buffer's
/// delay, and the G.107 E-model MOS from them.
pub(super) fn call_stats(
    core: &mut crate::rtp::RtpSession,
    jb: Option<crate::jitter::JitterStats>,
    codec: CodecKind,
    sent: u64,
    speaker_queue: Duration,
) -> crate::rtp::CallStats {
    let mut s = core.stats(std::time::Instant::now());
    s.packets_sent = sent;
    s.codec = Some(codec);
    s.speaker_queue_ms = speaker_queue.as_secs_f32() * 1000.0;
    if let Some(j) = jb {
        s.jitter_buffer_ms = j.buffered_delay_ms as f32;
        s.late_packets = j.late;
        s.concealed_frames = j.concealed;
        s.fec_frames = j.fec;
    }
    let one_way = s.rtt_ms.map_or(0.0, |rtt| f64::from(rtt) / 2.0);
    s.mos = crate::quality::mos(&crate::quality::QualityInput {
        codec,
        one_way_delay_ms: one_way,
        packet_loss_pct: f64::from(s.loss_pct),
        burst_ratio: 1.0,
        jitter_buffer_ms: f64::from(s.jitter_buffer_ms + s.speaker_queue_ms),
    }) as f32;
    s
}
