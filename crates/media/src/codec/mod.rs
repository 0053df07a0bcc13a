//! One small interface for every codec, one file per codec.

mod g711;
mod g722;
mod opus;

use serde::{Deserialize, Serialize};
use specta::Type;

pub use g711::{Alaw, Ulaw};
pub use g722::G722;
pub use opus::{Opus, OpusSettings};

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
