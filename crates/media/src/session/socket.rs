//! A call's RTP or RTCP socket as the media task uses it: read once per frame, each packet
//! with the time the kernel received it.
//!
//! The media task wakes once per frame, when the microphone has captured one. A packet that
//! arrives between two frames is only needed at the next one, so on Unix the task does not
//! wake for it: the socket is not registered with the runtime at all (its readiness would wake
//! the thread anyway), and each frame drains it. The kernel stamps every packet as it arrives
//! (`SO_TIMESTAMP`), so the RTP statistics' interarrival jitter, the RTT from RTCP and the
//! jitter buffer's arrival times are those of the network, not of our reading. That halves
//! the task's wake-ups (the media benchmark counted 50 for frames and 50 for packets a
//! second). Elsewhere (Windows) the kernel says nothing of the arrival time, and the task
//! wakes for each packet as before.

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime};

/// A received packet: its length in the buffer, where it came from, when it arrived.
#[derive(Debug, Clone, Copy)]
pub(super) struct Received {
    pub(super) len: usize,
    pub(super) from: SocketAddr,
    pub(super) at: Instant,
}

/// The clocks read once per drain: the kernel stamps packets with the wall clock, and their
/// age on it is taken off the monotonic clock (a wall-clock step between a packet's arrival
/// and its reading is the only error, and it is bounded by [`MAX_AGE`]).
#[derive(Debug, Clone, Copy)]
pub(super) struct Now {
    mono: Instant,
    // Windows: no kernel stamps to date.
    #[cfg_attr(not(unix), allow(dead_code))]
    wall: SystemTime,
}

/// A packet older than this is taken to have arrived this long ago (a stalled task, or the
/// wall clock stepped back).
#[cfg_attr(not(unix), allow(dead_code))]
const MAX_AGE: Duration = Duration::from_secs(1);

impl Now {
    pub(super) fn read() -> Self {
        Self {
            mono: Instant::now(),
            wall: SystemTime::now(),
        }
    }

    /// The monotonic time of a packet the kernel stamped `stamp` on the wall clock.
    #[cfg_attr(not(unix), allow(dead_code))]
    pub(super) fn arrival(&self, stamp: SystemTime) -> Instant {
        let age = self
            .wall
            .duration_since(stamp)
            .unwrap_or_default()
            .min(MAX_AGE);
        self.mono.checked_sub(age).unwrap_or(self.mono)
    }
}

/// Room for the control messages [`MediaSocket::try_recv`] reads (a packet's receive time);
/// made once per call.
pub(super) fn control_buffer() -> Vec<u8> {
    #[cfg(unix)]
    return nix::cmsg_space!(nix::sys::time::TimeVal);
    #[cfg(not(unix))]
    return Vec::new();
}

pub(super) struct MediaSocket {
    #[cfg(unix)]
    socket: std::net::UdpSocket,
    #[cfg(not(unix))]
    socket: tokio::net::UdpSocket,
}

impl MediaSocket {
    /// Takes a bound non-blocking socket (inside the media runtime, where the runtime needs it).
    pub(super) fn new(socket: std::net::UdpSocket) -> io::Result<Self> {
        socket.set_nonblocking(true)?;
        #[cfg(unix)]
        {
            use nix::sys::socket::{setsockopt, sockopt::ReceiveTimestamp};
            // Linux turns arrival stamps on for the whole system lazily (a work item, when
            // the first socket asks): until then, packets are dated when read, as without
            // stamps. That is the first few milliseconds of a call at most.
            setsockopt(&socket, ReceiveTimestamp, &true).map_err(io::Error::from)?;
            Ok(Self { socket })
        }
        #[cfg(not(unix))]
        {
            Ok(Self {
                socket: tokio::net::UdpSocket::from_std(socket)?,
            })
        }
    }

    pub(super) fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket.local_addr()
    }

    /// Sends a datagram without waiting; false when it was not sent (a full send buffer
    /// drops it, as the network would).
    pub(super) fn send_to(&self, bytes: &[u8], to: SocketAddr) -> bool {
        #[cfg(unix)]
        let sent = self.socket.send_to(bytes, to);
        #[cfg(not(unix))]
        let sent = self.socket.try_send_to(bytes, to);
        match sent {
            Ok(_) => true,
            Err(e) => {
                if e.kind() != io::ErrorKind::WouldBlock {
                    tracing::debug!("sending to {to}: {e}");
                }
                false
            }
        }
    }

    /// Resolves when a packet may be waiting (where the task wakes per packet).
    #[cfg(not(unix))]
    pub(super) async fn readable(&self) {
        let _ = self.socket.readable().await;
    }

    /// The next waiting packet, if any, into `buf` (its receive time into `cmsg`, from
    /// [`control_buffer`]).
    pub(super) fn try_recv(
        &self,
        buf: &mut [u8],
        cmsg: &mut Vec<u8>,
        now: &Now,
    ) -> Option<Received> {
        #[cfg(unix)]
        {
            use nix::sys::socket::{ControlMessageOwned, MsgFlags, SockaddrStorage, recvmsg};
            use std::os::fd::AsRawFd;
            let mut iov = [io::IoSliceMut::new(buf)];
            let msg = match recvmsg::<SockaddrStorage>(
                self.socket.as_raw_fd(),
                &mut iov,
                Some(cmsg.as_mut_slice()),
                MsgFlags::MSG_DONTWAIT,
            ) {
                Ok(msg) => msg,
                Err(nix::errno::Errno::EAGAIN) => return None,
                Err(e) => {
                    tracing::debug!("receiving media: {e}");
                    return None;
                }
            };
            let from = msg.address.as_ref().and_then(socket_addr)?;
            let stamp = msg.cmsgs().ok().and_then(|mut all| {
                all.find_map(|c| match c {
                    ControlMessageOwned::ScmTimestamp(tv) => Some(
                        SystemTime::UNIX_EPOCH
                            + Duration::new(
                                u64::try_from(tv.tv_sec()).unwrap_or(0),
                                u32::try_from(tv.tv_usec())
                                    .unwrap_or(0)
                                    .saturating_mul(1000),
                            ),
                    ),
                    _ => None,
                })
            });
            Some(Received {
                len: msg.bytes,
                from,
                at: stamp.map_or(now.mono, |s| now.arrival(s)),
            })
        }
        #[cfg(not(unix))]
        {
            let _ = cmsg;
            match self.socket.try_recv_from(buf) {
                Ok((len, from)) => Some(Received {
                    len,
                    from,
                    at: now.mono,
                }),
                Err(e) => {
                    if e.kind() != io::ErrorKind::WouldBlock {
                        tracing::debug!("receiving media: {e}");
                    }
                    None
                }
            }
        }
    }
}

#[cfg(unix)]
fn socket_addr(a: &nix::sys::socket::SockaddrStorage) -> Option<SocketAddr> {
    if let Some(v4) = a.as_sockaddr_in() {
        return Some(SocketAddr::V4((*v4).into()));
    }
    a.as_sockaddr_in6().map(|v6| SocketAddr::V6((*v6).into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_packet_is_dated_by_its_age_on_the_wall_clock() {
        let now = Now::read();
        let at = now.arrival(now.wall - Duration::from_millis(15));
        assert_eq!(now.mono - at, Duration::from_millis(15));
        // From the future (the wall clock stepped back): now.
        assert_eq!(now.arrival(now.wall + Duration::from_secs(3)), now.mono);
        // Very old: at most a second.
        let old = now.arrival(now.wall - Duration::from_secs(30));
        assert_eq!(now.mono - old, MAX_AGE);
    }

    /// The kernel's stamp, not the time of reading: a packet read 30 ms after it came is
    /// dated when it came. (Where there are no stamps the task reads each packet as the
    /// runtime sees it come: the session tests cover that.)
    #[cfg(unix)]
    #[test]
    fn packets_read_late_carry_the_time_they_arrived() {
        let receiver = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
        let to = receiver.local_addr().expect("addr");
        let socket = MediaSocket::new(receiver).expect("socket");
        let sender = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
        let mut buf = [0u8; 64];
        let mut cmsg = control_buffer();
        assert!(socket.try_recv(&mut buf, &mut cmsg, &Now::read()).is_none());
        // Until the kernel has turned arrival stamps on (lazily, after the first socket of
        // the system asks; other tests' sockets come and go), packets are dated when read.
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            sender.send_to(b"probe", to).expect("send");
            std::thread::sleep(Duration::from_millis(10));
            let probe = socket
                .try_recv(&mut buf, &mut cmsg, &Now::read())
                .expect("probe");
            if Instant::now() - probe.at >= Duration::from_millis(9) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the kernel never stamped a packet"
            );
        }
        let sent_at = Instant::now();
        sender.send_to(b"first", to).expect("send");
        std::thread::sleep(Duration::from_millis(30));
        sender.send_to(b"second", to).expect("send");
        std::thread::sleep(Duration::from_millis(5));
        let now = Now::read();
        let first = socket.try_recv(&mut buf, &mut cmsg, &now).expect("first");
        assert_eq!(&buf[..first.len], b"first");
        assert_eq!(first.from, sender.local_addr().expect("addr"));
        let second = socket.try_recv(&mut buf, &mut cmsg, &now).expect("second");
        assert_eq!(&buf[..second.len], b"second");
        assert!(socket.try_recv(&mut buf, &mut cmsg, &now).is_none());
        // Stamped on arrival: about 30 ms apart (a loaded machine stretches the sleep, never
        // shrinks it), and both well before they were read.
        let gap = second.at - first.at;
        assert!(gap >= Duration::from_millis(29), "{gap:?}");
        // Dated before it was sent would be the clocks' mapping (or the wall clock stepping
        // forward while it waited): say by how much.
        assert!(
            first.at + Duration::from_millis(1) >= sent_at,
            "dated {:?} before it was sent; read at {now:?}",
            sent_at.saturating_duration_since(first.at)
        );
        assert!(now.mono - second.at >= Duration::from_millis(4));
    }
}
