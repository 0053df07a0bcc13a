//! Media for Siperb Desktop: everything between audio samples and the network.
//!
//! Today: the codec interface and G.711, SDP offer/answer for one audio stream, the
//! [`MediaSession`] trait signalling talks to, and a minimal RTP backend. RTP/RTCP statistics,
//! SRTP, the jitter buffer, Opus and DTMF grow here as sans-IO pieces (issue 4).

pub mod codec;
pub mod dtmf;
pub mod jitter;
pub mod quality;
pub mod rtp;
pub mod sdp;
pub mod session;
pub mod srtp;
pub use siperb_audio::wav;

pub use codec::{AudioCodec, CodecError, CodecKind};
pub use sdp::{Direction, SdpError};
pub use session::{MediaSession, MediaStats, RtpSession};
