//! Media for Siperb Desktop: everything between audio samples and the network.
//!
//! SDP offer/answer, codecs (Opus, G.722, G.711) behind one interface, RTP/RTCP, SDES-SRTP,
//! the jitter buffer, RFC 4733 DTMF and the E-model as sans-IO pieces; the call's audio
//! pipeline; and the [`MediaSession`] trait signalling talks to, with its RTP backend.

pub mod codec;
pub mod dtmf;
pub mod jitter;
mod pipeline;
pub mod ports;
pub mod quality;
pub mod rtp;
pub mod sdp;
pub mod session;
mod speaker_queue;
pub mod srtp;
pub use siperb_audio::wav;

pub use codec::{AudioCodec, CodecError, CodecKind, OpusBandwidth, OpusSettings};
pub use ports::{PortRange, PortRangeError};
pub use sdp::{Direction, SdpError};
pub use session::{MediaSession, MediaStats, RecordError, RtpSession};
