//! What the media task puts on the wire and takes off it, besides the RTP core: SRTP
//! contexts for the agreed keys, sealing and opening packets in place, RTP packets written
//! from a header, the payload of a received one, and the packets a tick has to send.

use std::net::SocketAddr;

/// The SRTP contexts of a call: the keys they were made from, outbound, inbound.
pub(super) type Srtp = (
    crate::srtp::SrtpKeys,
    crate::srtp::SrtpContext,
    crate::srtp::SrtpContext,
);

/// Makes (or drops) the SRTP contexts when the agreed keys change.
pub(super) fn sync_srtp(srtp: &mut Option<Srtp>, keys: Option<&crate::srtp::SrtpKeys>) {
    match keys {
        None => *srtp = None,
        Some(keys) if srtp.as_ref().is_some_and(|(k, _, _)| k == keys) => {}
        Some(keys) => {
            *srtp = match (
                crate::srtp::SrtpContext::outbound(&keys.local),
                crate::srtp::SrtpContext::inbound(&keys.remote),
            ) {
                (Ok(out), Ok(inb)) => Some((keys.clone(), out, inb)),
                (Err(e), _) | (_, Err(e)) => {
                    tracing::warn!("SRTP keys unusable: {e}");
                    None
                }
            };
        }
    }
}

/// The bytes to send: `packet` protected when the call is encrypted, else as it is.
pub(super) fn seal<'a>(
    srtp: &mut Option<Srtp>,
    packet: &'a [u8],
    rtcp: bool,
    sealed: &'a mut Vec<u8>,
) -> Option<&'a [u8]> {
    let Some((_, out, _)) = srtp.as_mut() else {
        return Some(packet);
    };
    let done = if rtcp {
        out.protect_rtcp(packet, sealed)
    } else {
        out.protect_rtp(packet, sealed)
    };
    done.ok().map(|()| sealed.as_slice())
}

/// Unprotects `buf[..len]` in place when the call is encrypted; the plain length, or `None`
/// for a packet that failed authentication or was replayed.
pub(super) fn open(
    srtp: &mut Option<Srtp>,
    buf: &mut [u8],
    len: usize,
    rtcp: bool,
    opened: &mut Vec<u8>,
) -> Option<usize> {
    let Some((_, _, inb)) = srtp.as_mut() else {
        return Some(len);
    };
    let done = if rtcp {
        inb.unprotect_rtcp(&buf[..len], opened)
    } else {
        inb.unprotect_rtp(&buf[..len], opened)
    };
    done.ok()?;
    let plain = buf.get_mut(..opened.len())?;
    plain.copy_from_slice(opened);
    Some(opened.len())
}

/// Writes an RTP `header` and `payload` into `out`; the length, or `None` if it does not fit.
pub(super) fn write_header(
    header: &rtp::header::Header,
    payload: &[u8],
    out: &mut [u8],
) -> Option<usize> {
    use webrtc_util::marshal::{Marshal, MarshalSize};
    let size = header.marshal_size();
    let total = size + payload.len();
    let dest = out.get_mut(..total)?;
    header.marshal_to(&mut dest[..size]).ok()?;
    dest[size..].copy_from_slice(payload);
    Some(total)
}

/// The payload of an RTP packet with payload type `pt`, or `None` for anything else
/// (RFC 3550 §5.1: version 2, CSRCs, extension and padding honoured).
pub fn rtp_payload(packet: &[u8], pt: u8) -> Option<&[u8]> {
    if packet.len() < 12 || packet[0] >> 6 != 2 || packet[1] & 0x7f != pt {
        return None;
    }
    let csrc = usize::from(packet[0] & 0x0f) * 4;
    let mut start = 12 + csrc;
    if packet[0] & 0x10 != 0 {
        let words = u16::from_be_bytes([*packet.get(start + 2)?, *packet.get(start + 3)?]);
        start += 4 + usize::from(words) * 4;
    }
    let mut end = packet.len();
    if packet[0] & 0x20 != 0 {
        end = end.checked_sub(usize::from(*packet.last()?))?;
    }
    packet.get(start..end)
}

/// What one poll has to send, collected while the port is locked and sent after: (bytes, to,
/// is RTCP). The packet buffers are kept and refilled, so a call allocates none per packet.
#[derive(Default)]
pub(super) struct Outbox {
    packets: Vec<(Vec<u8>, SocketAddr, bool)>,
    len: usize,
}

impl Outbox {
    pub(super) fn push(&mut self, bytes: &[u8], to: SocketAddr, rtcp: bool) {
        match self.packets.get_mut(self.len) {
            Some(slot) => {
                slot.0.clear();
                slot.0.extend_from_slice(bytes);
                slot.1 = to;
                slot.2 = rtcp;
            }
            None => self.packets.push((bytes.to_vec(), to, rtcp)),
        }
        self.len += 1;
    }

    /// The packets queued since the last take.
    pub(super) fn take(&mut self) -> impl Iterator<Item = &(Vec<u8>, SocketAddr, bool)> {
        let len = std::mem::take(&mut self.len);
        self.packets[..len].iter()
    }
}
