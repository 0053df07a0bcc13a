//! Opus (RFC 6716, RTP payload RFC 7587) through libopus, built from source and linked
//! statically by `opusic-sys` (no system library at run time).
//!
//! Voice defaults: 48 kHz mono, VoIP application, in-band FEC on, variable bitrate capped by
//! `maxaveragebitrate`, DTX off unless asked for. The FEC's expected loss starts at zero (all
//! bits for the voice on a clean network) and follows the loss the far end reports (see
//! [`super::fec_loss_target`]), so the encoder spends bits on the redundancy the jitter
//! buffer uses only when packets are being lost.
//!
//! **What we send is wideband speech (SILK, up to 8 kHz of audio), at complexity 6.** The
//! decoder takes any bandwidth the far end sends. Measured with `opus_offline` on the media
//! benchmark's recorded voice (scored by PESQ, which hears up to 8 kHz):
//! * Left to itself at 32 kbit/s, libopus sends full band in its hybrid mode (SILK below
//!   8 kHz, CELT above). The in-band FEC is SILK's alone, so a frame rebuilt from it has no
//!   upper band anyway, and the CELT layer costs a third of the encoder's time.
//! * Wideband spends every bit on the band that carries speech: PESQ 4.50 against 4.43 for
//!   full band clean, 3.93 against 3.86 at 5 % loss, at 20 kbit/s instead of 24.
//! * Complexity 6 instead of 10 halves the encoder's time again for a PESQ within 0.02.
//!
//! **Between words the encoder drops to complexity 1.** Coding silence or room noise costs
//! libopus nearly as much as coding speech (at complexity 6, 1.0 M instructions a frame
//! against 1.1 M), for nothing a listener hears. So once SILK's own voice-activity flag (the
//! first bit of the frame, RFC 6716 §4.2.3) has been off for [`IDLE_AFTER`] frames, the
//! encoder runs at [`OpusSettings::idle_complexity`], and the first frame flagged as speech
//! brings [`OpusSettings::complexity`] back for the next one. On the media benchmark's voice
//! (28 % of its frames idle) the encoder's instructions fell by 16 % (callgrind) and PESQ by
//! under 0.01, clean and at 5 % loss (`opus_offline --idle-complexity`, 8 loss seeds). A
//! conversation, where each side is quiet more than half the time, saves more.

use opus::{Application, Bandwidth, Bitrate, Channels};

use super::{AudioCodec, CodecError, CodecKind};

/// Encoder settings an SDP answer may change (RFC 7587 §6.1 `a=fmtp` parameters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpusSettings {
    /// `maxaveragebitrate`, bit/s.
    pub max_average_bitrate: u32,
    /// `useinbandfec=1`.
    pub inband_fec: bool,
    /// `usedtx=1`.
    pub dtx: bool,
    /// The loss rate the encoder protects against with FEC, in percent.
    pub expected_loss_pct: u8,
    /// The widest audio band the encoder sends.
    pub max_bandwidth: OpusBandwidth,
    /// libopus's encoder complexity, 0 (cheapest) to 10, while the microphone has speech.
    pub complexity: u8,
    /// The complexity between words (see the module's notes); equal to `complexity` to keep
    /// one level throughout.
    pub idle_complexity: u8,
}

/// Frames without SILK's voice-activity flag (200 ms) before the encoder goes idle: the end of
/// a word, a breath or a short stop keep the full complexity.
const IDLE_AFTER: u32 = 10;

/// Whether an Opus packet's SILK layer flags voice activity in any of its frames (RFC 6716
/// §4.2.3: the layer starts with one flag per SILK frame, the first frame's data right after
/// the TOC byte in the packet codes 0 and 1). `None` when the packet says nothing about it:
/// CELT-only (music, not speech), other framings, or too short to hold a frame (DTX).
pub(crate) fn voice_activity(packet: &[u8], samples_48k: usize) -> Option<bool> {
    let (&toc, rest) = packet.split_first()?;
    let first = *rest.first()?;
    let celt_only = toc >> 3 >= 16;
    if celt_only || toc & 0b11 > 1 || rest.len() < 2 {
        return None;
    }
    // One flag per SILK frame of 20 ms (a 10 ms packet has one), highest bits first.
    let flags = (samples_48k / 960).clamp(1, 3) as u32;
    Some(first & !(0xffu8 >> flags) != 0)
}

/// The audio band an Opus encoder may send (RFC 6716 §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpusBandwidth {
    /// Up to 4 kHz of audio.
    Narrowband,
    /// Up to 8 kHz: wideband speech.
    Wideband,
    /// Up to 12 kHz.
    Superwideband,
    /// Up to 20 kHz.
    Fullband,
}

impl OpusBandwidth {
    fn libopus(self) -> Bandwidth {
        match self {
            Self::Narrowband => Bandwidth::Narrowband,
            Self::Wideband => Bandwidth::Wideband,
            Self::Superwideband => Bandwidth::Superwideband,
            Self::Fullband => Bandwidth::Fullband,
        }
    }

    /// The sample rate that carries this band (for `sprop-maxcapturerate`, RFC 7587 §6.1).
    pub fn capture_rate(self) -> u32 {
        match self {
            Self::Narrowband => 8_000,
            Self::Wideband => 16_000,
            Self::Superwideband => 24_000,
            Self::Fullband => 48_000,
        }
    }
}

impl Default for OpusSettings {
    fn default() -> Self {
        Self {
            max_average_bitrate: 32_000,
            inband_fec: true,
            dtx: false,
            expected_loss_pct: 0,
            max_bandwidth: OpusBandwidth::Wideband,
            complexity: 6,
            idle_complexity: 1,
        }
    }
}

/// One Opus stream: an encoder and a decoder at 48 kHz mono.
pub struct Opus {
    encoder: opus::Encoder,
    decoder: opus::Decoder,
    settings: OpusSettings,
    /// Frames since SILK last flagged voice activity (saturating).
    quiet_frames: u32,
}

impl std::fmt::Debug for Opus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Opus")
            .field("settings", &self.settings)
            .finish()
    }
}

fn failed(e: opus::Error) -> CodecError {
    CodecError::Codec(format!("opus: {e}"))
}

impl Opus {
    pub fn new(settings: OpusSettings) -> Result<Self, CodecError> {
        let mut encoder =
            opus::Encoder::new(48_000, Channels::Mono, Application::Voip).map_err(failed)?;
        let decoder = opus::Decoder::new(48_000, Channels::Mono).map_err(failed)?;
        encoder.set_vbr(true).map_err(failed)?;
        let mut codec = Self {
            encoder,
            decoder,
            settings,
            quiet_frames: 0,
        };
        codec.apply(settings)?;
        Ok(codec)
    }

    /// Changes the encoder settings mid-call (a re-negotiation, or loss measured by RTCP).
    pub fn apply(&mut self, settings: OpusSettings) -> Result<(), CodecError> {
        let bitrate = settings.max_average_bitrate.clamp(6_000, 510_000);
        self.encoder
            .set_bitrate(Bitrate::Bits(bitrate as i32))
            .map_err(failed)?;
        self.encoder
            .set_inband_fec(settings.inband_fec)
            .map_err(failed)?;
        self.encoder
            .set_packet_loss_perc(i32::from(settings.expected_loss_pct.min(100)))
            .map_err(failed)?;
        self.encoder.set_dtx(settings.dtx).map_err(failed)?;
        self.encoder
            .set_max_bandwidth(settings.max_bandwidth.libopus())
            .map_err(failed)?;
        self.settings = settings;
        self.encoder
            .set_complexity(self.complexity_now())
            .map_err(failed)?;
        Ok(())
    }

    fn idle(&self) -> bool {
        self.quiet_frames >= IDLE_AFTER
    }

    /// The complexity for the next frame: the idle level between words.
    fn complexity_now(&self) -> i32 {
        let level = if self.idle() {
            self.settings.idle_complexity
        } else {
            self.settings.complexity
        };
        i32::from(level.min(10))
    }

    pub fn settings(&self) -> OpusSettings {
        self.settings
    }
}

impl AudioCodec for Opus {
    fn kind(&self) -> CodecKind {
        CodecKind::Opus
    }

    fn encode(&mut self, pcm: &[i16], out: &mut [u8]) -> Result<usize, CodecError> {
        let len = self.encoder.encode(pcm, out).map_err(failed)?;
        let was_idle = self.idle();
        // A packet that says nothing of voice activity (CELT, DTX) counts as quiet only when
        // it is DTX's: music keeps the full complexity.
        let speech = voice_activity(&out[..len], pcm.len()).unwrap_or(len > 2);
        self.quiet_frames = if speech {
            0
        } else {
            self.quiet_frames.saturating_add(1)
        };
        if self.idle() != was_idle {
            // A ctl that only stores a number; it cannot fail for a level in 0..=10.
            let _ = self.encoder.set_complexity(self.complexity_now());
        }
        Ok(len)
    }

    fn decode(&mut self, payload: &[u8], out: &mut [i16]) -> Result<usize, CodecError> {
        self.decoder.decode(payload, out, false).map_err(failed)
    }

    fn set_expected_loss(&mut self, pct: u8) {
        if pct != self.settings.expected_loss_pct
            && self
                .encoder
                .set_packet_loss_perc(i32::from(pct.min(100)))
                .is_ok()
        {
            self.settings.expected_loss_pct = pct;
        }
    }

    /// Opus's own concealment, or the lost frame rebuilt from the FEC data the next packet
    /// carries (RFC 6716 §2.1.7) when the jitter buffer already has it. `out` must be exactly
    /// the lost frame's length (libopus decodes that many samples). A next packet without FEC
    /// data still yields concealment from libopus.
    fn conceal(&mut self, next: Option<&[u8]>, out: &mut [i16]) -> Result<usize, CodecError> {
        match next {
            Some(next) if !next.is_empty() => self.decoder.decode(next, out, true).map_err(failed),
            _ => self.decoder.decode(&[], out, false).map_err(failed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 20 ms of a 440 Hz tone at 48 kHz, frame `n`.
    fn tone(n: usize) -> Vec<i16> {
        (0..960)
            .map(|i| {
                let t = (n * 960 + i) as f64 / 48_000.0;
                (8_000.0 * (2.0 * std::f64::consts::PI * 440.0 * t).sin()) as i16
            })
            .collect()
    }

    fn energy(s: &[i16]) -> f64 {
        s.iter().map(|&x| f64::from(x) * f64::from(x)).sum::<f64>() / s.len().max(1) as f64
    }

    #[test]
    fn a_tone_survives_the_round_trip_and_a_lost_frame_is_rebuilt_from_fec() {
        let mut tx = Opus::new(OpusSettings::default()).expect("opus");
        let mut rx = Opus::new(OpusSettings::default()).expect("opus");
        let mut packets = Vec::new();
        for n in 0..50 {
            let mut buf = [0u8; 1500];
            let len = tx.encode(&tone(n), &mut buf).expect("encode");
            assert!(len > 10 && len < 200, "{len} bytes");
            packets.push(buf[..len].to_vec());
        }
        let mut out = [0i16; 5760];
        let mut decoded = Vec::new();
        for (n, p) in packets.iter().enumerate() {
            let got = if n == 30 {
                // Frame 30 is lost; 31 carries its FEC.
                rx.conceal(Some(&packets[31]), &mut out[..960])
                    .expect("fec")
            } else {
                rx.decode(p, &mut out).expect("decode")
            };
            assert_eq!(got, 960);
            decoded.push(out[..got].to_vec());
        }
        let sent = energy(&tone(40));
        let heard = energy(&decoded[40]);
        assert!(
            heard > sent * 0.5 && heard < sent * 2.0,
            "{sent} vs {heard}"
        );
        // The rebuilt frame is audio, not silence.
        assert!(
            energy(&decoded[30]) > sent * 0.2,
            "{}",
            energy(&decoded[30])
        );
        // Plain PLC (nothing to rebuild from) also fills the frame.
        let got = rx.conceal(None, &mut out[..960]).expect("plc");
        assert_eq!(got, 960);
    }

    /// What the encoder sends follows its settings: wideband SILK by default (TOC
    /// configurations 8 to 11, RFC 6716 §3.1), full band when asked.
    #[test]
    fn the_encoder_sends_the_band_it_is_set_to() {
        // A voice-like signal with energy up to 12 kHz: a 200 Hz buzz, harmonics and all.
        let buzz = |n: usize| -> Vec<i16> {
            (0..960)
                .map(|i| {
                    let t = (n * 960 + i) as f64 / 48_000.0;
                    let s: f64 = (1..60)
                        .map(|k| {
                            (2.0 * std::f64::consts::PI * 200.0 * k as f64 * t).sin() / k as f64
                        })
                        .sum();
                    (4_000.0 * s) as i16
                })
                .collect()
        };
        let bands = |settings: OpusSettings| {
            let mut tx = Opus::new(settings).expect("opus");
            let mut buf = [0u8; 1500];
            (0..50)
                .map(|n| {
                    let len = tx.encode(&buzz(n), &mut buf).expect("encode");
                    opus::packet::get_bandwidth(&buf[..len]).expect("toc")
                })
                .collect::<Vec<_>>()
        };
        let wide = bands(OpusSettings::default());
        assert!(wide.iter().all(|b| *b == Bandwidth::Wideband), "{wide:?}");
        let full = bands(OpusSettings {
            max_bandwidth: OpusBandwidth::Fullband,
            ..OpusSettings::default()
        });
        assert!(
            full[10..].iter().all(|b| *b == Bandwidth::Fullband),
            "{full:?}"
        );
        let mut tx = Opus::new(OpusSettings::default()).expect("opus");
        assert_eq!(tx.encoder.get_complexity().expect("complexity"), 6);
    }

    /// Between words the encoder drops to the idle complexity, and speech brings the full one
    /// back at the next frame.
    #[test]
    fn the_encoder_idles_between_words() {
        let mut tx = Opus::new(OpusSettings::default()).expect("opus");
        let mut buf = [0u8; 1500];
        let complexity = |tx: &mut Opus| tx.encoder.get_complexity().expect("complexity");
        let mut flags = Vec::new();
        for n in 0..20 {
            let len = tx.encode(&tone(n), &mut buf).expect("encode");
            flags.push(voice_activity(&buf[..len], 960));
        }
        assert!(flags[5..].iter().all(|f| *f == Some(true)), "{flags:?}");
        assert_eq!(complexity(&mut tx), 6);
        // Silence: full complexity for 200 ms (the end of a word), then the idle level.
        let silence = [0i16; 960];
        for n in 0..IDLE_AFTER {
            assert_eq!(complexity(&mut tx), 6, "frame {n} of silence");
            let len = tx.encode(&silence, &mut buf).expect("encode");
            assert_eq!(voice_activity(&buf[..len], 960), Some(false));
        }
        assert_eq!(complexity(&mut tx), 1);
        tx.encode(&silence, &mut buf).expect("encode");
        assert_eq!(complexity(&mut tx), 1);
        // A change of settings mid-call keeps the idle level while idle.
        tx.apply(OpusSettings {
            max_average_bitrate: 24_000,
            ..OpusSettings::default()
        })
        .expect("apply");
        assert_eq!(complexity(&mut tx), 1);
        // Speech again: the frame that brings it is coded at the idle level, the next not.
        let mut n = 20;
        while complexity(&mut tx) == 1 {
            tx.encode(&tone(n), &mut buf).expect("encode");
            n += 1;
            assert!(n < 25, "speech did not bring the full complexity back");
        }
        assert_eq!(complexity(&mut tx), 6);
        // One level throughout when asked.
        let mut steady = Opus::new(OpusSettings {
            idle_complexity: 6,
            ..OpusSettings::default()
        })
        .expect("opus");
        for _ in 0..30 {
            steady.encode(&silence, &mut buf).expect("encode");
        }
        assert_eq!(complexity(&mut steady), 6);
    }

    #[test]
    fn voice_activity_is_read_from_the_silk_layer_only() {
        // Wideband SILK 20 ms (TOC configuration 9), code 0: the flag is the first bit.
        assert_eq!(voice_activity(&[9 << 3, 0x80, 0x12, 0x34], 960), Some(true));
        assert_eq!(
            voice_activity(&[9 << 3, 0x40, 0x12, 0x34], 960),
            Some(false)
        );
        // Hybrid (configuration 13) carries SILK's flags too; a 40 ms frame has two.
        assert_eq!(voice_activity(&[13 << 3, 0x80, 0x12], 960), Some(true));
        assert_eq!(voice_activity(&[11 << 3, 0x40, 0x12], 1920), Some(true));
        assert_eq!(voice_activity(&[11 << 3, 0x20, 0x12], 1920), Some(false));
        // CELT-only, code 3 framing, DTX and empty packets say nothing.
        assert_eq!(voice_activity(&[20 << 3, 0x80, 0x12], 960), None);
        assert_eq!(voice_activity(&[9 << 3 | 3, 0x80, 0x12], 960), None);
        assert_eq!(voice_activity(&[9 << 3, 0x80], 960), None);
        assert_eq!(voice_activity(&[], 960), None);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let mut rx = Opus::new(OpusSettings::default()).expect("opus");
        let mut out = [0i16; 5760];
        for junk in [
            &[0xffu8; 3][..],
            &[0x0b, 0xff, 0xff, 0xff][..],
            &[0u8; 1][..],
        ] {
            let _ = rx.decode(junk, &mut out);
        }
        let mut small = [0i16; 10];
        assert!(rx.decode(&[0x08, 0x00], &mut small).is_err());
    }
}
