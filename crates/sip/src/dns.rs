//! Locating SIP servers (RFC 3263): NAPTR → SRV → A/AAAA, giving an ordered list of
//! addresses to try one after the other.
//!
//! The account fixes the transport, so NAPTR records only point us at the SRV name for that
//! transport (`SIP+D2U`, `SIP+D2T`, `SIPS+D2T`); a domain without NAPTR records falls back to
//! the well-known SRV name, and one without SRV records to its own A/AAAA records on the
//! transport's default port. An IP literal, or a name with an explicit port, skips NAPTR and
//! SRV (RFC 3263 §4.2).
//!
//! The ordering rules (NAPTR order/preference, SRV priority and RFC 2782 weighted choice) are
//! plain functions over records, tested without a network; [`DnsResolver`] only fetches the
//! records (hickory-resolver, against the system's name servers or given ones).

use std::net::{IpAddr, SocketAddr};

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{
    ConnectionConfig, LookupIpStrategy, NameServerConfig, ResolverConfig,
};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::{RData, RecordType};

use crate::Transport;

/// One NAPTR record, as far as SIP server location cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Naptr {
    pub order: u16,
    pub preference: u16,
    pub flags: String,
    pub service: String,
    pub replacement: String,
}

/// One SRV record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Srv {
    pub priority: u16,
    pub weight: u16,
    pub port: u16,
    pub target: String,
}

/// The NAPTR service tag of `transport` (RFC 3263 §4.1).
pub fn naptr_service(transport: Transport) -> &'static str {
    match transport {
        Transport::Udp => "SIP+D2U",
        Transport::Tcp => "SIP+D2T",
        Transport::Tls => "SIPS+D2T",
    }
}

/// The SRV name to ask when the domain has no (usable) NAPTR records.
pub fn default_srv_name(transport: Transport, domain: &str) -> String {
    let prefix = match transport {
        Transport::Udp => "_sip._udp",
        Transport::Tcp => "_sip._tcp",
        Transport::Tls => "_sips._tcp",
    };
    format!("{prefix}.{}", domain.trim_end_matches('.'))
}

/// The SRV names the NAPTR records point at for `transport`, best first: terminal (`s`)
/// records offering its service, by order then preference.
pub fn srv_names_from_naptr(records: &[Naptr], transport: Transport) -> Vec<String> {
    let service = naptr_service(transport);
    let mut usable: Vec<&Naptr> = records
        .iter()
        .filter(|r| r.flags.eq_ignore_ascii_case("s"))
        .filter(|r| r.service.eq_ignore_ascii_case(service))
        .filter(|r| !r.replacement.trim_end_matches('.').is_empty())
        .collect();
    usable.sort_by_key(|r| (r.order, r.preference));
    let mut names: Vec<String> = Vec::new();
    for r in usable {
        let name = r.replacement.trim_end_matches('.').to_owned();
        if !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

/// SRV records in the order to try them (RFC 2782): by priority, and within one priority a
/// weighted random order, where `random(n)` returns a number in `0..=n`. A lone `.` target
/// ("no service here") yields nothing.
pub fn order_srv(mut records: Vec<Srv>, mut random: impl FnMut(u32) -> u32) -> Vec<Srv> {
    records.retain(|r| !r.target.trim_end_matches('.').is_empty());
    records.sort_by_key(|r| r.priority);
    let mut ordered = Vec::with_capacity(records.len());
    let mut rest = records.as_slice();
    while let Some(first) = rest.first() {
        let same = rest
            .iter()
            .take_while(|r| r.priority == first.priority)
            .count();
        let (group, tail) = rest.split_at(same);
        // Zero weights first, so they get a (small) chance to be picked early (RFC 2782).
        let mut pool: Vec<Srv> = group.iter().filter(|r| r.weight == 0).cloned().collect();
        pool.extend(group.iter().filter(|r| r.weight != 0).cloned());
        while !pool.is_empty() {
            let total: u32 = pool.iter().map(|r| u32::from(r.weight)).sum();
            let pick = random(total).min(total);
            let mut running = 0u32;
            let at = pool
                .iter()
                .position(|r| {
                    running += u32::from(r.weight);
                    running >= pick
                })
                .unwrap_or(0);
            ordered.push(pool.remove(at));
        }
        rest = tail;
    }
    ordered
}

/// Where a server is, as written in the account: `host`, `host:port`, `[v6]:port`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerName {
    pub host: String,
    pub port: Option<u16>,
}

impl ServerName {
    /// Parses `host[:port]` (IPv6 literals in brackets).
    pub fn parse(text: &str) -> Result<Self, DnsError> {
        let text = text.trim();
        let bad = || DnsError::BadName {
            name: text.to_owned(),
        };
        let (host, port) = if let Some(rest) = text.strip_prefix('[') {
            let (host, after) = rest.split_once(']').ok_or_else(bad)?;
            let port = match after.strip_prefix(':') {
                Some(p) => Some(p.parse().map_err(|_| bad())?),
                None if after.is_empty() => None,
                None => return Err(bad()),
            };
            (host.to_owned(), port)
        } else {
            match text.rsplit_once(':') {
                Some((h, p)) => (h.to_owned(), Some(p.parse().map_err(|_| bad())?)),
                None => (text.to_owned(), None),
            }
        };
        if host.is_empty() || host.chars().any(|c| c.is_whitespace() || c == '/') {
            return Err(bad());
        }
        Ok(Self { host, port })
    }

    /// The address itself when the host is an IP literal.
    pub fn literal(&self, transport: Transport) -> Option<SocketAddr> {
        let ip: IpAddr = self.host.parse().ok()?;
        Some(SocketAddr::new(
            ip,
            self.port.unwrap_or(transport.default_port()),
        ))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DnsError {
    #[error("'{name}' is not a server name")]
    BadName { name: String },
    #[error("{name} has no address (no NAPTR, SRV, A or AAAA record)")]
    NotFound { name: String },
    #[error("looking up {name} failed: {detail}")]
    Lookup { name: String, detail: String },
}

/// Fetches DNS records: the system's name servers, or the ones given.
#[derive(Clone)]
pub struct DnsResolver {
    hickory: Option<TokioResolver>,
}

impl std::fmt::Debug for DnsResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DnsResolver")
            .field("hickory", &self.hickory.is_some())
            .finish()
    }
}

impl DnsResolver {
    /// The system's name servers (`/etc/resolv.conf`, the registry on Windows). Where those
    /// cannot be read, only A/AAAA lookups through the OS remain (no NAPTR/SRV).
    pub fn system() -> Self {
        let hickory = TokioResolver::builder_tokio()
            .and_then(|mut b| {
                b.options_mut().ip_strategy = LookupIpStrategy::Ipv4AndIpv6;
                b.build()
            })
            .map_err(|e| {
                tracing::warn!(
                    "system DNS configuration unusable ({e}); SRV and NAPTR lookups are off"
                )
            })
            .ok();
        Self { hickory }
    }

    /// Asks these name servers (UDP, then TCP for truncated answers) instead of the system's.
    pub fn with_servers(servers: &[SocketAddr]) -> Result<Self, DnsError> {
        if servers.is_empty() {
            return Ok(Self::system());
        }
        let mut config = ResolverConfig::default();
        for s in servers {
            let mut udp = ConnectionConfig::udp();
            udp.port = s.port();
            let mut tcp = ConnectionConfig::tcp();
            tcp.port = s.port();
            config.add_name_server(NameServerConfig::new(s.ip(), true, vec![udp, tcp]));
        }
        let mut builder =
            TokioResolver::builder_with_config(config, TokioRuntimeProvider::default());
        builder.options_mut().ip_strategy = LookupIpStrategy::Ipv4AndIpv6;
        let hickory = builder.build().map_err(|e| DnsError::Lookup {
            name: "resolver".into(),
            detail: e.to_string(),
        })?;
        Ok(Self {
            hickory: Some(hickory),
        })
    }

    /// Every address to try for `server` over `transport`, best first, without duplicates.
    pub async fn locate(
        &self,
        server: &ServerName,
        transport: Transport,
    ) -> Result<Vec<SocketAddr>, DnsError> {
        if let Some(addr) = server.literal(transport) {
            return Ok(vec![addr]);
        }
        let host = server.host.trim_end_matches('.');
        if let Some(port) = server.port {
            return self.addresses(host, port).await;
        }
        let Some(_) = &self.hickory else {
            return self.addresses(host, transport.default_port()).await;
        };
        let mut srv_names = srv_names_from_naptr(&self.naptr(host).await?, transport);
        if srv_names.is_empty() {
            srv_names.push(default_srv_name(transport, host));
        }
        let mut seed = crate::util::random_seed() | 1;
        for name in srv_names {
            let records = self.srv(&name).await?;
            if records.is_empty() {
                continue;
            }
            let ordered = order_srv(records, |n| {
                // xorshift: enough to spread load, no need for a crypto RNG.
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                if n == 0 {
                    0
                } else {
                    (seed % (u64::from(n) + 1)) as u32
                }
            });
            let mut found = Vec::new();
            for r in ordered {
                match self.addresses(&r.target, r.port).await {
                    Ok(addrs) => found.extend(addrs),
                    Err(e) => tracing::debug!("SRV target {}: {e}", r.target),
                }
            }
            let found = dedup(found);
            if found.is_empty() {
                return Err(DnsError::NotFound { name });
            }
            return Ok(found);
        }
        self.addresses(host, transport.default_port()).await
    }

    async fn naptr(&self, host: &str) -> Result<Vec<Naptr>, DnsError> {
        let records = self.records(host, RecordType::NAPTR).await?;
        Ok(records
            .into_iter()
            .filter_map(|d| match d {
                RData::NAPTR(n) => Some(Naptr {
                    order: n.order,
                    preference: n.preference,
                    flags: String::from_utf8_lossy(&n.flags).into_owned(),
                    service: String::from_utf8_lossy(&n.services).into_owned(),
                    replacement: n.replacement.to_utf8(),
                }),
                _ => None,
            })
            .collect())
    }

    async fn srv(&self, name: &str) -> Result<Vec<Srv>, DnsError> {
        let records = self.records(name, RecordType::SRV).await?;
        Ok(records
            .into_iter()
            .filter_map(|d| match d {
                RData::SRV(s) => Some(Srv {
                    priority: s.priority,
                    weight: s.weight,
                    port: s.port,
                    target: s.target.to_utf8().trim_end_matches('.').to_owned(),
                }),
                _ => None,
            })
            .collect())
    }

    /// The answers of type `kind` for `name`; none (not an error) when the name or the record
    /// type does not exist.
    async fn records(&self, name: &str, kind: RecordType) -> Result<Vec<RData>, DnsError> {
        let Some(hickory) = &self.hickory else {
            return Ok(Vec::new());
        };
        match hickory.lookup(format!("{name}."), kind).await {
            Ok(lookup) => Ok(lookup
                .answers()
                .iter()
                .filter(|r| r.record_type() == kind)
                .map(|r| r.data.clone())
                .collect()),
            Err(e) if e.is_no_records_found() || e.is_nx_domain() => Ok(Vec::new()),
            Err(e) => Err(DnsError::Lookup {
                name: name.to_owned(),
                detail: e.to_string(),
            }),
        }
    }

    /// The A and AAAA addresses of `host` on `port`.
    async fn addresses(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, DnsError> {
        let not_found = || DnsError::NotFound {
            name: host.to_owned(),
        };
        let found: Vec<SocketAddr> = match &self.hickory {
            Some(hickory) => match hickory.lookup_ip(host).await {
                Ok(ips) => ips.iter().map(|ip| SocketAddr::new(ip, port)).collect(),
                Err(e) if e.is_no_records_found() || e.is_nx_domain() => Vec::new(),
                Err(e) => {
                    return Err(DnsError::Lookup {
                        name: host.to_owned(),
                        detail: e.to_string(),
                    });
                }
            },
            None => tokio::net::lookup_host((host, port))
                .await
                .map_err(|e| DnsError::Lookup {
                    name: host.to_owned(),
                    detail: e.to_string(),
                })?
                .collect(),
        };
        let found = dedup(found);
        if found.is_empty() {
            return Err(not_found());
        }
        Ok(found)
    }
}

fn dedup(addrs: Vec<SocketAddr>) -> Vec<SocketAddr> {
    let mut out: Vec<SocketAddr> = Vec::with_capacity(addrs.len());
    for a in addrs {
        if !out.contains(&a) {
            out.push(a);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naptr(order: u16, preference: u16, flags: &str, service: &str, to: &str) -> Naptr {
        Naptr {
            order,
            preference,
            flags: flags.into(),
            service: service.into(),
            replacement: to.into(),
        }
    }

    fn srv(priority: u16, weight: u16, target: &str) -> Srv {
        Srv {
            priority,
            weight,
            port: 5060,
            target: target.into(),
        }
    }

    #[test]
    fn naptr_records_lead_to_the_srv_name_of_our_transport_in_order() {
        let records = [
            naptr(20, 10, "s", "SIP+D2U", "_sip._udp.b.example."),
            naptr(10, 20, "s", "SIP+D2U", "_sip._udp.a2.example."),
            naptr(10, 10, "S", "sip+d2u", "_sip._udp.a1.example."),
            naptr(5, 10, "s", "SIPS+D2T", "_sips._tcp.example."),
            naptr(1, 10, "u", "SIP+D2U", "_sip._udp.not-terminal.example."),
            naptr(1, 1, "s", "SIP+D2U", "."),
        ];
        assert_eq!(
            srv_names_from_naptr(&records, Transport::Udp),
            [
                "_sip._udp.a1.example",
                "_sip._udp.a2.example",
                "_sip._udp.b.example"
            ]
        );
        assert_eq!(
            srv_names_from_naptr(&records, Transport::Tls),
            ["_sips._tcp.example"]
        );
        assert!(srv_names_from_naptr(&records, Transport::Tcp).is_empty());
        assert_eq!(
            default_srv_name(Transport::Tcp, "example.org."),
            "_sip._tcp.example.org"
        );
        assert_eq!(
            default_srv_name(Transport::Tls, "example.org"),
            "_sips._tcp.example.org"
        );
    }

    #[test]
    fn srv_records_go_by_priority_then_weight() {
        let records = vec![
            srv(20, 0, "backup"),
            srv(10, 60, "big"),
            srv(10, 40, "small"),
            srv(5, 0, "first"),
            srv(30, 0, "."),
        ];
        let names = |o: Vec<Srv>| o.into_iter().map(|r| r.target).collect::<Vec<_>>();
        // The lowest draw picks the first in the pool, the highest the last.
        assert_eq!(
            names(order_srv(records.clone(), |_| 0)),
            ["first", "big", "small", "backup"]
        );
        assert_eq!(
            names(order_srv(records.clone(), |n| n)),
            ["first", "small", "big", "backup"]
        );
        // Over many draws the weights show: "big" first about 60 % of the time.
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut big_first = 0;
        for _ in 0..10_000 {
            let o = order_srv(records.clone(), |n| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                (seed % (u64::from(n) + 1)) as u32
            });
            if o[1].target == "big" {
                big_first += 1;
            }
        }
        assert!((5_500..6_500).contains(&big_first), "{big_first}");
    }

    #[test]
    fn server_names_parse_with_and_without_ports() {
        let p = |s: &str| ServerName::parse(s);
        assert_eq!(
            p("pbx.example.org").expect("name"),
            ServerName {
                host: "pbx.example.org".into(),
                port: None
            }
        );
        assert_eq!(p(" pbx:5080 ").expect("name").port, Some(5080));
        let v6 = p("[::1]:5070").expect("v6");
        assert_eq!(v6.host, "::1");
        assert_eq!(
            v6.literal(Transport::Udp),
            Some("[::1]:5070".parse().expect("addr"))
        );
        assert_eq!(
            p("10.0.0.1").expect("v4").literal(Transport::Tls),
            Some("10.0.0.1:5061".parse().expect("addr"))
        );
        assert_eq!(p("pbx").expect("name").literal(Transport::Udp), None);
        for bad in ["", "pbx:port", "[::1", "[::1]x", "a b", "pbx:99999"] {
            assert!(
                matches!(p(bad), Err(DnsError::BadName { .. })),
                "{bad:?} parsed"
            );
        }
    }
}
