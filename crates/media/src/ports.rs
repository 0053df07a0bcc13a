//! The UDP ports a call's media may use: what a firewall or NAT rule opens for a softphone
//! (RTP on an even port, RTCP on the next, RFC 3550 §11).

use std::net::{IpAddr, SocketAddr, UdpSocket};

/// An inclusive range of UDP ports for RTP and RTCP, written `FIRST-LAST` (`30000-30099`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, specta::Type)]
#[serde(try_from = "Bounds")]
pub struct PortRange {
    first: u16,
    last: u16,
}

/// A range as stored, checked into a [`PortRange`] when read.
#[derive(serde::Deserialize)]
struct Bounds {
    first: u16,
    last: u16,
}

impl TryFrom<Bounds> for PortRange {
    type Error = PortRangeError;

    fn try_from(b: Bounds) -> Result<Self, Self::Error> {
        Self::new(b.first, b.last)
    }
}

/// Why a port range cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PortRangeError {
    #[error("the port range \"{0}\" is not FIRST-LAST (for example 30000-30099)")]
    Syntax(String),
    #[error(
        "the port range {first}-{last} holds no even port with its odd neighbour (RTP and RTCP \
         need two ports, the first even)"
    )]
    NoPair { first: u16, last: u16 },
    #[error("port 0 is not a port (the range must start at 1 or above)")]
    Zero,
}

impl PortRange {
    /// A range from `first` to `last` inclusive; it must hold at least one RTP/RTCP pair.
    pub fn new(first: u16, last: u16) -> Result<Self, PortRangeError> {
        if first == 0 {
            return Err(PortRangeError::Zero);
        }
        let range = Self { first, last };
        if range.pairs().next().is_none() {
            return Err(PortRangeError::NoPair { first, last });
        }
        Ok(range)
    }

    pub fn first(&self) -> u16 {
        self.first
    }

    pub fn last(&self) -> u16 {
        self.last
    }

    /// The even ports whose next port is in the range too.
    fn pairs(&self) -> impl Iterator<Item = u16> + use<> {
        let (first, last) = (u32::from(self.first), u32::from(self.last));
        let start = first + first % 2;
        (start..last)
            .step_by(2)
            .filter_map(|p| u16::try_from(p).ok())
    }
}

impl std::fmt::Display for PortRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.first, self.last)
    }
}

impl std::str::FromStr for PortRange {
    type Err = PortRangeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let syntax = || PortRangeError::Syntax(s.to_owned());
        let (a, b) = s.trim().split_once('-').ok_or_else(syntax)?;
        let first = a.trim().parse().map_err(|_| syntax())?;
        let last = b.trim().parse().map_err(|_| syntax())?;
        Self::new(first, last)
    }
}

/// An RTP socket on an even port and its RTCP socket on the next one, on `ip`: any free pair,
/// or the first free pair in `range`.
pub(crate) fn bind_pair(
    ip: IpAddr,
    range: Option<PortRange>,
) -> std::io::Result<(UdpSocket, UdpSocket)> {
    match range {
        None => bind_any_pair(ip),
        Some(range) => {
            for port in range.pairs() {
                let Ok(rtp) = UdpSocket::bind(SocketAddr::new(ip, port)) else {
                    continue;
                };
                if let Ok(rtcp) = UdpSocket::bind(SocketAddr::new(ip, port + 1)) {
                    return Ok((rtp, rtcp));
                }
            }
            Err(std::io::Error::new(
                std::io::ErrorKind::AddrInUse,
                format!("every RTP/RTCP port pair in {range} on {ip} is in use"),
            ))
        }
    }
}

fn bind_any_pair(ip: IpAddr) -> std::io::Result<(UdpSocket, UdpSocket)> {
    let mut last = None;
    for _ in 0..64 {
        let rtp = UdpSocket::bind(SocketAddr::new(ip, 0))?;
        let port = rtp.local_addr()?.port();
        if port % 2 != 0 || port == u16::MAX {
            continue;
        }
        match UdpSocket::bind(SocketAddr::new(ip, port + 1)) {
            Ok(rtcp) => return Ok((rtp, rtcp)),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("no free RTP/RTCP port pair")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    #[test]
    fn ranges_parse_and_refuse_what_holds_no_pair() {
        let r: PortRange = "30000-30099".parse().unwrap();
        assert_eq!((r.first(), r.last()), (30000, 30099));
        assert_eq!(r.to_string(), "30000-30099");
        let spaced: PortRange = " 4000 - 4003 ".parse().unwrap();
        assert_eq!(spaced.pairs().collect::<Vec<_>>(), vec![4000, 4002]);
        for bad in [
            "",
            "30000",
            "a-b",
            "30000-",
            "-5",
            "70000-70010",
            "30000:30010",
        ] {
            assert!(
                matches!(bad.parse::<PortRange>(), Err(PortRangeError::Syntax(_))),
                "{bad}"
            );
        }
        // 4001-4002 holds no even port followed by its neighbour; 4002-4001 is backwards.
        for none in ["4001-4002", "4002-4001", "4000-4000", "65535-65535"] {
            assert!(
                matches!(
                    none.parse::<PortRange>(),
                    Err(PortRangeError::NoPair { .. })
                ),
                "{none}"
            );
        }
        assert_eq!("0-10".parse::<PortRange>(), Err(PortRangeError::Zero));
        assert_eq!(
            PortRange::new(65534, 65535)
                .unwrap()
                .pairs()
                .collect::<Vec<_>>(),
            vec![65534]
        );
        assert_eq!(
            PortRange::new(4001, 4006)
                .unwrap()
                .pairs()
                .collect::<Vec<_>>(),
            vec![4002, 4004]
        );
        // Stored as its bounds, checked again when read back.
        let json = serde_json::to_string(&r).unwrap();
        assert_eq!(json, r#"{"first":30000,"last":30099}"#);
        assert_eq!(serde_json::from_str::<PortRange>(&json).unwrap(), r);
        assert!(serde_json::from_str::<PortRange>(r#"{"first":9,"last":8}"#).is_err());
    }

    #[test]
    fn pairs_are_bound_inside_the_range_and_a_full_range_says_so() {
        let ip = IpAddr::V4(Ipv4Addr::LOCALHOST);
        // A free stretch of four ports: two pairs.
        let range = free_range(ip);
        let (a, a_rtcp) = bind_pair(ip, Some(range)).unwrap();
        let (b, b_rtcp) = bind_pair(ip, Some(range)).unwrap();
        let ports = [&a, &a_rtcp, &b, &b_rtcp].map(|s| s.local_addr().unwrap().port());
        assert_eq!(ports[0] % 2, 0);
        assert_eq!(ports[1], ports[0] + 1);
        assert_eq!(ports[3], ports[2] + 1);
        assert!(
            ports
                .iter()
                .all(|p| (range.first()..=range.last()).contains(p)),
            "{ports:?}"
        );
        let err = bind_pair(ip, Some(range)).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse);
        assert!(err.to_string().contains(&range.to_string()), "{err}");
    }

    /// Four free ports starting at an even one (probed, then released).
    fn free_range(ip: IpAddr) -> PortRange {
        loop {
            let (s, _) = bind_any_pair(ip).unwrap();
            let p = s.local_addr().unwrap().port();
            drop(s);
            if p > 65530 {
                continue;
            }
            let free = (p..p + 4).all(|q| UdpSocket::bind(SocketAddr::new(ip, q)).is_ok());
            if free {
                return PortRange::new(p, p + 3).unwrap();
            }
        }
    }
}
