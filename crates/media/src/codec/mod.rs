//! One small interface for every codec, one file per codec.

mod g711;
mod g722;
mod opus;

use serde::{Deserialize, Serialize};
use specta::Type;

pub use g711::{Alaw, Ulaw};
pub use g722::G722;
pub use opus::{Opus, OpusBandwidth, OpusSettings};

/// The audio codecs Siperb negotiates, in the user's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Type)]
#[serde(rename_all = "lowercase")]
pub enum CodecKind {
    Opus,
    G722,
    Pcmu,
    Pcma,
}

impl CodecKind {
    /// The SDP encoding name (`a=rtpmap`).
    pub fn encoding_name(self) -> &'static str {
        match self {
            Self::Opus => "opus",
            Self::G722 => "G722",
            Self::Pcmu => "PCMU",
            Self::Pcma => "PCMA",
        }
    }

    /// The RTP clock rate. G.722 is sampled at 16 kHz but signalled as 8000 (RFC 3551 §4.5.2).
    pub fn rtp_clock_rate(self) -> u32 {
        match self {
            Self::Opus => 48_000,
            Self::G722 | Self::Pcmu | Self::Pcma => 8_000,
        }
    }

    /// The static payload type, if the codec has one (RFC 3551 table 4).
    pub fn static_payload_type(self) -> Option<u8> {
        match self {
            Self::Pcmu => Some(0),
            Self::Pcma => Some(8),
            Self::G722 => Some(9),
            Self::Opus => None,
        }
    }

    /// The sample rate the codec works at internally.
    pub fn sample_rate(self) -> u32 {
        match self {
            Self::Opus => 48_000,
            Self::G722 => 16_000,
            Self::Pcmu | Self::Pcma => 8_000,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    #[error("the output buffer holds {capacity} items but {needed} are needed")]
    OutputTooSmall { needed: usize, capacity: usize },
    #[error("{0}")]
    Codec(String),
}

/// Encodes and decodes one stream. Implementations keep their own state and never allocate
/// per frame: the caller owns the buffers.
pub trait AudioCodec: Send {
    fn kind(&self) -> CodecKind;
    /// Encodes 16-bit mono PCM at [`CodecKind::sample_rate`] into `out`, returning the bytes written.
    fn encode(&mut self, pcm: &[i16], out: &mut [u8]) -> Result<usize, CodecError>;
    /// Decodes one payload into `out`, returning the samples written.
    fn decode(&mut self, payload: &[u8], out: &mut [i16]) -> Result<usize, CodecError>;
    /// Fills `out` for a frame that never arrived, returning the samples written. `next` is the
    /// following packet when the jitter buffer already holds it (Opus rebuilds the lost frame
    /// from its in-band FEC). `out` is exactly one frame long. The default plays silence.
    fn conceal(&mut self, next: Option<&[u8]>, out: &mut [i16]) -> Result<usize, CodecError> {
        let _ = next;
        out.fill(0);
        Ok(out.len())
    }
    /// The loss (percent) the far end reports for what we send, so a codec with forward error
    /// correction can spend bits on it (Opus in-band FEC); ignored by the others.
    fn set_expected_loss(&mut self, pct: u8) {
        let _ = pct;
    }
}

/// The loss an encoder should protect against, given what it protects against now and the
/// loss the far end reports (RTCP, percent; looked at every second): up at once to a little
/// above the reported loss (at least 5 %, at most 25 %), down one point a second once the loss
/// has eased, and none on a clean network, where redundancy would only take bits from the
/// voice.
pub fn fec_loss_target(current: u8, reported_pct: f32) -> u8 {
    let wanted = if reported_pct >= 0.5 {
        (reported_pct * 1.5).ceil().clamp(5.0, 25.0) as u8
    } else {
        0
    };
    if wanted >= current {
        wanted
    } else {
        current - 1
    }
}

/// A codec of `kind` with its default settings.
pub fn new_codec(kind: CodecKind) -> Result<Box<dyn AudioCodec>, CodecError> {
    Ok(match kind {
        CodecKind::Opus => Box::new(Opus::new(OpusSettings::default())?),
        CodecKind::G722 => Box::new(G722::new()),
        CodecKind::Pcmu => Box::new(Ulaw),
        CodecKind::Pcma => Box::new(Alaw),
    })
}

#[cfg(test)]
mod tests {
    use super::fec_loss_target;

    #[test]
    fn fec_follows_the_reported_loss_up_at_once_and_down_slowly() {
        // Clean: no redundancy.
        assert_eq!(fec_loss_target(0, 0.0), 0);
        assert_eq!(fec_loss_target(0, 0.3), 0);
        // Loss appears: at least 5 %, a margin above what is reported, at most 25 %.
        assert_eq!(fec_loss_target(0, 1.0), 5);
        assert_eq!(fec_loss_target(0, 5.0), 8);
        assert_eq!(fec_loss_target(3, 10.0), 15);
        assert_eq!(fec_loss_target(0, 60.0), 25);
        // It eases: one point a second, so a loss burst a few seconds apart stays covered.
        let mut pct = fec_loss_target(0, 5.0);
        let mut seen = vec![pct];
        for _ in 0..10 {
            pct = fec_loss_target(pct, 0.0);
            seen.push(pct);
        }
        assert_eq!(seen, [8, 7, 6, 5, 4, 3, 2, 1, 0, 0, 0]);
        // A higher report while easing jumps straight back up.
        assert_eq!(fec_loss_target(4, 5.0), 8);
    }
}
