//! The UDP socket rsipstack reads through: every datagram passes the [`crate::wire`] gate first.
//!
//! rsipstack's UDP transport parses datagrams itself and silently drops what it cannot parse
//! (so an unknown method never gets its 501) while accepting many malformed requests. It reads
//! through the `rsipstack::platform::net::UdpSocket` trait, so we hand it this socket: bad
//! requests are answered here (400, 505, 501, 405, 416, 420, 415, 488) and never reach the
//! stack, garbage is dropped, and everything else is passed on unchanged.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::wire::{Framing, Gate, gate};

/// How many datagrams the gate answered or dropped (for logs and tests).
#[derive(Debug, Default)]
pub struct GateCounters {
    pub answered: AtomicU64,
    pub dropped: AtomicU64,
}

pub(crate) struct GatedUdpSocket {
    socket: tokio::net::UdpSocket,
    server: String,
    counters: Arc<GateCounters>,
}

impl GatedUdpSocket {
    pub(crate) fn new(
        socket: tokio::net::UdpSocket,
        server: String,
        counters: Arc<GateCounters>,
    ) -> Self {
        Self {
            socket,
            server,
            counters,
        }
    }
}

impl GatedUdpSocket {
    /// Sends a CRLF keep-alive datagram (keeps a NAT binding towards the registrar open).
    pub(crate) async fn keepalive(&self, to: SocketAddr) {
        if let Err(e) = self.socket.send_to(b"\r\n\r\n", to).await {
            tracing::debug!(%to, "keep-alive not sent: {e}");
        }
    }
}

fn is_keepalive(packet: &[u8]) -> bool {
    packet.iter().all(u8::is_ascii_whitespace)
}

#[async_trait::async_trait]
impl rsipstack::platform::net::UdpSocket for GatedUdpSocket {
    async fn recv_from(&self, buf: &mut [u8]) -> rsipstack::Result<(usize, SocketAddr)> {
        loop {
            let (len, from) = self.socket.recv_from(buf).await?;
            let packet = &buf[..len];
            // CRLF keep-alives (RFC 5626 §4.4.1) are rsipstack's to answer.
            if is_keepalive(packet) {
                return Ok((len, from));
            }
            match gate(packet, Framing::Datagram, &self.server) {
                Gate::Pass => return Ok((len, from)),
                Gate::Answer { status, bytes } => {
                    self.counters.answered.fetch_add(1, Ordering::Relaxed);
                    tracing::info!(%from, status, "refused a SIP request at the gate");
                    if let Err(e) = self.socket.send_to(&bytes, from).await {
                        tracing::debug!(%from, "could not send the gate's answer: {e}");
                    }
                }
                Gate::Drop { why } => {
                    self.counters.dropped.fetch_add(1, Ordering::Relaxed);
                    tracing::info!(%from, %why, "dropped a SIP message at the gate");
                }
            }
        }
    }

    async fn send_to(&self, buf: &[u8], addr: SocketAddr) -> rsipstack::Result<usize> {
        Ok(self.socket.send_to(buf, addr).await?)
    }

    fn local_addr(&self) -> rsipstack::Result<SocketAddr> {
        Ok(self.socket.local_addr()?)
    }
}
