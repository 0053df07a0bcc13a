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
    /// libopus's encoder complexity, 0 (cheapest) to 10.
    pub complexity: u8,
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
        }
    }
}

/// One Opus stream: an encoder and a decoder at 48 kHz mono.
pub struct Opus {
    encoder: opus::Encoder,
    decoder: opus::Decoder,
    settings: OpusSettings,
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
        self.encoder
            .set_complexity(i32::from(settings.complexity.min(10)))
            .map_err(failed)?;
        self.settings = settings;
        Ok(())
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
        self.encoder.encode(pcm, out).map_err(failed)
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
