//! Media for Siperb Desktop: everything between audio samples and the network.
//!
//! This first part holds the codec interface and G.711; SDP, RTP/RTCP, SRTP, the jitter buffer
//! and DTMF grow here as sans-IO pieces (issue 4).

pub mod codec;

pub use codec::{AudioCodec, CodecError, CodecKind};
