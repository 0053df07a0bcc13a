//! The user agent on the network: an rsipstack endpoint and the tasks that carry our sans-IO
//! decisions (the [`Registration`] machine) to and from real transactions.
//!
//! Every datagram passes the [`crate::wire`] gate before rsipstack parses it (see `gated.rs`).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use rsipstack::dialog::dialog_layer::DialogLayer;

use rsipstack::EndpointBuilder;
use rsipstack::sip::{Header, Method, SipMessage};
use rsipstack::transaction::key::{TransactionKey, TransactionRole};
use rsipstack::transaction::transaction::Transaction;
use rsipstack::transport::TransportLayer;
use rsipstack::transport::udp::UdpConnection;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::dns::{DnsResolver, ServerName};
use crate::flow::{Flow, FlowError, KEEPALIVE_INTERVAL};
use crate::gated::{GateCounters, GatedUdpSocket};
use crate::phone::{CallEvent, Line, LineConfig};
use crate::registration::{Action, Input, RegisterResponse, Registration, RegistrationConfig};
use crate::registration::{Failover, ServerList};
use crate::util::header_value;
use crate::{AccountConfig, RegistrationFailure, RegistrationState, Transport};
use rsipstack::transport::SipAddr;

/// Where `account` registers, as `host[:port]`: the configured registrar without its scheme
/// and parameters, or the host (and port) of the account's address. One answer for both the
/// REGISTER Request-URI and the address we send to.
fn registrar_target(account: &AccountConfig) -> String {
    match &account.registrar {
        Some(r) => {
            let r = r.trim();
            let r = r
                .strip_prefix("sips:")
                .or_else(|| r.strip_prefix("sip:"))
                .unwrap_or(r);
            r.split(';').next().unwrap_or_default().to_owned()
        }
        None => match account.address.port {
            Some(p) => format!("{}:{p}", account.address.host),
            None => account.address.host.clone(),
        },
    }
}

/// Where everything of `account` is sent first: its outbound proxy when it has one (RFC 3261
/// §8.1.2: the REGISTER still names the registrar in its Request-URI), else the registrar.
fn next_hop_target(account: &AccountConfig) -> String {
    match account.outbound_proxy.as_deref().map(str::trim) {
        Some(p) if !p.is_empty() => {
            let p = p
                .strip_prefix("sips:")
                .or_else(|| p.strip_prefix("sip:"))
                .unwrap_or(p);
            p.split(';').next().unwrap_or_default().to_owned()
        }
        _ => registrar_target(account),
    }
}

/// The first hop of `account` (its outbound proxy, else its registrar) as written.
pub fn first_hop(account: &AccountConfig) -> Result<ServerName, UaError> {
    ServerName::parse(&next_hop_target(account)).map_err(|e| UaError::Dns {
        host: next_hop_target(account),
        detail: e.to_string(),
    })
}

/// Every address of the account's first hop, best first (RFC 3263: NAPTR, SRV, A/AAAA; an IP
/// literal or an explicit port skips NAPTR and SRV). REGISTERs and calls go to the first that
/// works; incoming calls are trusted from any of them.
pub async fn server_addresses(
    account: &AccountConfig,
    resolver: &DnsResolver,
) -> Result<Vec<SocketAddr>, UaError> {
    let name = first_hop(account)?;
    resolver
        .locate(&name, account.transport)
        .await
        .map_err(|e| UaError::Dns {
            host: name.host.clone(),
            detail: e.to_string(),
        })
}

/// The best address of the account's first hop, through the system's name servers.
pub async fn registrar_address(account: &AccountConfig) -> Result<SocketAddr, UaError> {
    let all = server_addresses(account, &DnsResolver::system()).await?;
    all.first().copied().ok_or_else(|| UaError::Dns {
        host: next_hop_target(account),
        detail: "no address".into(),
    })
}

/// The servers a registration may use, best first, and how to find them again when all of
/// them failed (addresses change; a fresh lookup follows DNS).
#[derive(Debug, Clone)]
pub struct Servers {
    pub addresses: Vec<SocketAddr>,
    pub resolver: Option<DnsResolver>,
}

impl From<SocketAddr> for Servers {
    fn from(addr: SocketAddr) -> Self {
        Self {
            addresses: vec![addr],
            resolver: None,
        }
    }
}

/// How long a REGISTER waits for any answer before we try the account's next server (only
/// when there is one: with a single server, the transaction's own 32 s timeout applies).
/// RFC 3263 leaves this to us; 5 s covers a slow registrar's first retransmissions.
pub const FAILOVER_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Where the account's requests go now, shared by its registration and its line.
#[derive(Debug, Clone, Default)]
pub(crate) struct Route {
    pub(crate) next_hop: Option<SocketAddr>,
    pub(crate) servers: Vec<SocketAddr>,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UaError {
    #[error("cannot resolve {host}: {detail}")]
    Dns { host: String, detail: String },
    #[error("cannot open the SIP port {addr}: {detail}")]
    Bind { addr: SocketAddr, detail: String },
    #[error("bad SIP URI {uri}: {detail}")]
    Uri { uri: String, detail: String },
}

/// A running SIP endpoint (UDP for now), reading through the [`crate::wire`] gate.
pub struct SipEndpoint {
    endpoint: rsipstack::transaction::Endpoint,
    cancel: CancellationToken,
    local: SocketAddr,
    gate_counters: Arc<GateCounters>,
    udp: Arc<GatedUdpSocket>,
    /// Where peers reach us: the UDP socket, or the account's TCP/TLS flow while it lives.
    contact: Arc<std::sync::Mutex<ContactAddr>>,
    route: Arc<std::sync::Mutex<Route>>,
}

/// The address (and transport, for stream flows) our Contact carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ContactAddr {
    pub(crate) addr: SocketAddr,
    /// `Some("tcp"|"tls")` while the account's calls run over a flow.
    pub(crate) transport: Option<&'static str>,
}

impl ContactAddr {
    pub(crate) fn uri(&self, user: &str) -> String {
        match self.transport {
            Some(t) => format!("sip:{user}@{};transport={t}", self.addr),
            None => format!("sip:{user}@{}", self.addr),
        }
    }
}

impl std::fmt::Debug for SipEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SipEndpoint")
            .field("local", &self.local)
            .finish()
    }
}

fn user_agent() -> String {
    format!("Siperb/{}", env!("CARGO_PKG_VERSION"))
}

impl SipEndpoint {
    pub async fn bind_udp(addr: SocketAddr) -> Result<Self, UaError> {
        let cancel = CancellationToken::new();
        let transport = TransportLayer::new(cancel.clone());
        let bind_error = |e: &dyn std::fmt::Display| UaError::Bind {
            addr,
            detail: e.to_string(),
        };
        let std_socket = std::net::UdpSocket::bind(addr).map_err(|e| bind_error(&e))?;
        std_socket
            .set_nonblocking(true)
            .map_err(|e| bind_error(&e))?;
        let socket = tokio::net::UdpSocket::from_std(std_socket).map_err(|e| bind_error(&e))?;
        let gate_counters = Arc::new(GateCounters::default());
        let gated = Arc::new(GatedUdpSocket::new(
            socket,
            user_agent(),
            gate_counters.clone(),
        ));
        let udp_socket = gated.clone();
        let udp = UdpConnection::from_socket(gated, None, Some(cancel.child_token()))
            .await
            .map_err(|e| bind_error(&e))?;
        let local = udp.get_addr().get_socketaddr().unwrap_or(addr);
        transport.add_transport(udp.into());
        let endpoint = EndpointBuilder::new()
            .with_cancel_token(cancel.clone())
            .with_transport_layer(transport)
            .with_user_agent(&user_agent())
            .build();
        let serving = endpoint.inner.clone();
        tokio::spawn(async move {
            if let Err(e) = serving.serve().await {
                tracing::warn!("SIP endpoint stopped: {e}");
            }
        });
        Ok(Self {
            endpoint,
            cancel,
            local,
            gate_counters,
            udp: udp_socket,
            contact: Arc::new(std::sync::Mutex::new(ContactAddr {
                addr: local,
                transport: None,
            })),
            route: Arc::default(),
        })
    }

    /// Starts taking and placing calls on this endpoint.
    pub fn start_line(
        &self,
        cfg: LineConfig,
        events: mpsc::UnboundedSender<CallEvent>,
    ) -> Result<Line, UaError> {
        let incoming = self
            .endpoint
            .incoming_transactions()
            .map_err(|e| UaError::Bind {
                addr: self.local,
                detail: e.to_string(),
            })?;
        let layer = Arc::new(DialogLayer::new(self.endpoint.inner.clone()));
        Ok(Line::start(
            cfg,
            layer,
            self.local,
            self.contact.clone(),
            self.route.clone(),
            incoming,
            events,
        ))
    }

    /// How many messages the gate answered or dropped instead of passing them on.
    pub fn gate_counters(&self) -> &GateCounters {
        &self.gate_counters
    }

    /// An endpoint on the local address the OS routes `target` through, so the Contact we
    /// register is one the registrar can reach.
    pub async fn bind_udp_towards(target: SocketAddr) -> Result<Self, UaError> {
        let unspecified: SocketAddr = if target.is_ipv4() {
            ([0, 0, 0, 0], 0).into()
        } else {
            ([0u16; 8], 0).into()
        };
        let local_ip = std::net::UdpSocket::bind(unspecified)
            .and_then(|probe| probe.connect(target).and_then(|()| probe.local_addr()))
            .map_err(|e| UaError::Bind {
                addr: unspecified,
                detail: e.to_string(),
            })?
            .ip();
        Self::bind_udp(SocketAddr::new(local_ip, 0)).await
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Keeps `account` registered at one of `servers` until `stop` is cancelled, then
    /// un-registers. Every state change is sent on `states`. Over TCP/TLS the account's flow is
    /// dialled here, pinged with CRLF and re-dialled (with a fresh REGISTER) as soon as it
    /// breaks. A server that fails is left for the next one (RFC 3263 §4.3).
    pub async fn run_registration(
        &self,
        account: &AccountConfig,
        servers: impl Into<Servers>,
        password: String,
        seed: u64,
        states: mpsc::Sender<RegistrationState>,
        stop: CancellationToken,
    ) -> Result<(), UaError> {
        let stream = account.transport != Transport::Udp;
        let Servers {
            addresses,
            resolver,
        } = servers.into();
        let mut servers = ServerList::new(addresses);
        let mut registrar = servers.current().ok_or_else(|| UaError::Dns {
            host: next_hop_target(account),
            detail: "no address".into(),
        })?;
        self.set_route(&servers, registrar);
        let target = registrar_target(account);
        let request_uri = match account.transport {
            Transport::Udp => format!("sip:{target}"),
            Transport::Tcp => format!("sip:{target};transport=tcp"),
            Transport::Tls => format!("sip:{target};transport=tls"),
        };
        let server_name = target
            .rsplit_once(':')
            .filter(|(_, p)| p.parse::<u16>().is_ok())
            .map_or(target.as_str(), |(h, _)| h)
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let parse = |uri: &str| {
            crate::util::parse_uri(uri).map_err(|e| UaError::Uri {
                uri: uri.to_owned(),
                detail: e.to_string(),
            })
        };
        let ruri = parse(&request_uri)?;
        let aor = parse(&format!(
            "sip:{}@{}",
            account.address.user, account.address.host
        ))?;
        let instance = instance_id(&account.id.0, &account.address.user);
        let mut machine = Registration::new(
            RegistrationConfig {
                auth_user: account.auth_user().to_owned(),
                password,
                request_uri,
                expires: account.expires_secs,
            },
            seed,
        );
        let call_id = format!("{seed:016x}@siperb");
        let from_tag = format!("{:08x}", seed >> 32);
        let mut cseq = 0u32;
        let mut timer: Option<std::pin::Pin<Box<tokio::time::Sleep>>> = None;
        let mut flow: Option<Flow> = None;
        let mut keepalive = tokio::time::interval_at(
            tokio::time::Instant::now() + KEEPALIVE_INTERVAL,
            KEEPALIVE_INTERVAL,
        );
        keepalive.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut pending: VecDeque<Action> = machine.handle(Instant::now(), Input::Start).into();
        loop {
            while let Some(action) = pending.pop_front() {
                match action {
                    Action::State(s) => {
                        let _ = states.send(s).await;
                    }
                    Action::ArmTimer(d) => timer = Some(Box::pin(tokio::time::sleep(d))),
                    Action::CancelTimer => timer = None,
                    Action::SendRegister {
                        expires,
                        authorization,
                    } => {
                        if stream && flow.as_ref().is_none_or(Flow::is_broken) {
                            if expires == 0 {
                                // No flow left to un-register over: the binding simply expires.
                                return Ok(());
                            }
                            match Flow::open(
                                &self.endpoint.inner.transport_layer,
                                account.transport,
                                registrar,
                                &server_name,
                                &account.tls,
                            )
                            .await
                            {
                                Ok(f) => {
                                    tracing::info!(local = %f.local, "flow to the registrar is up");
                                    self.set_contact(ContactAddr {
                                        addr: f.local,
                                        transport: Some(f.transport_param()),
                                    });
                                    flow = Some(f);
                                }
                                Err(e) => {
                                    let failure = match e {
                                        FlowError::Tls(detail) => {
                                            RegistrationFailure::Tls { detail }
                                        }
                                        FlowError::Network(detail) => {
                                            RegistrationFailure::Network { detail }
                                        }
                                    };
                                    let input = self
                                        .after_register(
                                            &mut servers,
                                            &mut registrar,
                                            Input::Failed(failure),
                                            resolver.as_ref(),
                                            account,
                                        )
                                        .await;
                                    pending.extend(machine.handle(Instant::now(), input));
                                    continue;
                                }
                            }
                        }
                        cseq += 1;
                        let contact_addr = self.contact_addr();
                        let via_addr = flow.as_ref().map(|f| SipAddr {
                            r#type: f.remote.r#type,
                            addr: f.local.into(),
                        });
                        let mut request = self.endpoint.inner.make_request(
                            Method::Register,
                            ruri.clone(),
                            self.endpoint.inner.get_via(via_addr, None).map_err(|e| {
                                UaError::Uri {
                                    uri: "Via".into(),
                                    detail: e.to_string(),
                                }
                            })?,
                            rsipstack::sip::typed::From {
                                display_name: None,
                                uri: aor.clone(),
                                params: vec![],
                            }
                            .with_tag(from_tag.clone().into()),
                            rsipstack::sip::typed::To {
                                display_name: None,
                                uri: aor.clone(),
                                params: vec![],
                            },
                            cseq,
                            Some(call_id.clone().into()),
                        );
                        // RFC 5626 outbound: a stable instance and one registration flow.
                        request.headers.push(Header::Other(
                            "Contact".into(),
                            format!(
                                "<{}>;+sip.instance=\"<urn:uuid:{instance}>\";reg-id=1",
                                contact_addr.uri(&account.address.user)
                            ),
                        ));
                        request
                            .headers
                            .push(Header::Supported("outbound, path".into()));
                        request.headers.push(Header::Expires(expires.into()));
                        if let Some(auth) = authorization {
                            request
                                .headers
                                .push(Header::Other(auth.header.into(), auth.value));
                        }
                        let wait = servers.has_next().then_some(FAILOVER_WAIT);
                        let input = self.transact(request, flow.as_ref(), registrar, wait).await;
                        if expires == 0 {
                            if let Some(f) = flow.take() {
                                f.close().await;
                            }
                            return Ok(());
                        }
                        let before = registrar;
                        let input = self
                            .after_register(
                                &mut servers,
                                &mut registrar,
                                input,
                                resolver.as_ref(),
                                account,
                            )
                            .await;
                        if registrar != before {
                            if let Some(f) = flow.take() {
                                f.close().await;
                            }
                            self.set_contact(ContactAddr {
                                addr: self.local,
                                transport: None,
                            });
                        }
                        pending.extend(machine.handle(Instant::now(), input));
                    }
                }
            }
            tokio::select! {
                () = stop.cancelled() => {
                    // Un-REGISTER if registered (the send path returns after it), then end.
                    for action in machine.handle(Instant::now(), Input::Stop) {
                        if let Action::State(s) = &action {
                            let _ = states.send(s.clone()).await;
                        }
                        if let Action::SendRegister { .. } = action {
                            pending.push_back(action);
                        }
                    }
                    if pending.is_empty() {
                        if let Some(f) = flow.take() {
                            f.close().await;
                        }
                        return Ok(());
                    }
                }
                () = async { match timer.as_mut() { Some(t) => t.await, None => std::future::pending().await } } => {
                    timer = None;
                    pending.extend(machine.handle(Instant::now(), Input::Timer));
                }
                () = async { match flow.as_ref() { Some(f) => f.broken().await, None => std::future::pending().await } } => {
                    tracing::warn!("the flow to the registrar broke; registering again");
                    flow = None;
                    self.set_contact(ContactAddr { addr: self.local, transport: None });
                    pending.extend(machine.handle(Instant::now(), Input::FlowBroken));
                }
                _ = keepalive.tick() => {
                    match flow.as_ref() {
                        Some(f) => {
                            if let Err(e) = f.ping().await {
                                tracing::debug!("keep-alive ping failed: {e}");
                            }
                        }
                        // UDP: a CRLF datagram keeps the NAT binding to the registrar open.
                        None if !stream => self.udp.keepalive(registrar).await,
                        None => {}
                    }
                }
            }
        }
    }

    /// Decides what a REGISTER's outcome means for the account's servers (RFC 3263 §4.3) and
    /// returns what the machine hears: a fresh start when we moved on to the next server,
    /// else the outcome itself (a failure of every server makes it back off; then the domain is
    /// looked up again and `registrar` is the best server once more).
    async fn after_register(
        &self,
        servers: &mut ServerList,
        registrar: &mut SocketAddr,
        outcome: Input,
        resolver: Option<&DnsResolver>,
        account: &AccountConfig,
    ) -> Input {
        match servers.after(&outcome) {
            Failover::Stay => outcome,
            Failover::MoveTo(next) => {
                tracing::warn!(%next, "the server failed ({outcome:?}); trying the next one");
                *registrar = next;
                self.set_route(servers, next);
                Input::NextServer
            }
            Failover::Exhausted => {
                if let Some(resolver) = resolver {
                    match server_addresses(account, resolver).await {
                        Ok(found) => servers.replace(found),
                        Err(e) => tracing::warn!("looking the servers up again failed: {e}"),
                    }
                }
                if let Some(first) = servers.current() {
                    *registrar = first;
                    self.set_route(servers, first);
                }
                outcome
            }
        }
    }

    fn set_route(&self, servers: &ServerList, current: SocketAddr) {
        if let Ok(mut r) = self.route.lock() {
            r.next_hop = Some(current);
            r.servers = servers.all().to_vec();
        }
    }

    fn contact_addr(&self) -> ContactAddr {
        self.contact.lock().map(|c| *c).unwrap_or(ContactAddr {
            addr: self.local,
            transport: None,
        })
    }

    fn set_contact(&self, contact: ContactAddr) {
        if let Ok(mut c) = self.contact.lock() {
            *c = contact;
        }
    }

    /// Sends one non-INVITE request and turns its final response (or its absence) into an input.
    /// Sends `request` to `next_hop` (over `flow` when the account has one) and waits for
    /// its final answer.
    async fn transact(
        &self,
        request: rsipstack::sip::Request,
        flow: Option<&Flow>,
        next_hop: SocketAddr,
        give_up_after: Option<std::time::Duration>,
    ) -> Input {
        let key = match TransactionKey::from_request(&request, TransactionRole::Client) {
            Ok(k) => k,
            Err(e) => {
                return Input::Failed(RegistrationFailure::Network {
                    detail: e.to_string(),
                });
            }
        };
        let mut tx = Transaction::new_client(key, request, self.endpoint.inner.clone(), None);
        match flow {
            Some(f) => {
                tx.connection = Some(f.connection.clone());
                tx.destination = Some(f.remote.clone());
            }
            // Not where the Request-URI points when an outbound proxy comes first.
            None => {
                tx.destination = Some(SipAddr {
                    r#type: Some(rsipstack::sip::transport::Transport::Udp),
                    addr: next_hop.into(),
                });
            }
        }
        if let Err(e) = tx.send().await {
            return Input::Failed(RegistrationFailure::Network {
                detail: e.to_string(),
            });
        }
        // Without any answer by then, the next server is worth more than waiting for Timer F.
        let mut deadline = give_up_after.map(|d| tokio::time::Instant::now() + d);
        loop {
            let msg = match deadline {
                Some(at) => match tokio::time::timeout_at(at, tx.receive()).await {
                    Ok(m) => m,
                    Err(_) => return Input::NoAnswer,
                },
                None => tx.receive().await,
            };
            let Some(msg) = msg else { break };
            if let SipMessage::Response(resp) = msg {
                deadline = None;
                let status = resp.status_code.code();
                if status < 200 {
                    continue;
                }
                if is_local_timeout(&resp) {
                    return Input::NoAnswer;
                }
                let header = |name: &str| header_value(&resp.headers, name);
                let contact_expires = header("Contact").and_then(|c| {
                    c.split(';').find_map(|p| {
                        p.trim()
                            .strip_prefix("expires=")
                            .and_then(|v| v.trim().parse().ok())
                    })
                });
                return Input::Response(RegisterResponse {
                    status,
                    reason: resp.status_code.text().to_string(),
                    expires: contact_expires
                        .or_else(|| header("Expires").and_then(|v| v.parse().ok())),
                    min_expires: header("Min-Expires").and_then(|v| v.parse().ok()),
                    challenge: header(if status == 407 {
                        "Proxy-Authenticate"
                    } else {
                        "WWW-Authenticate"
                    }),
                });
            }
        }
        Input::NoAnswer
    }
}

/// rsipstack reports its own Timer B/F expiry as a 408 it builds from our request, and it
/// reaches us just like a server's answer would. A server's (or proxy's) 408 carries a To tag
/// (RFC 3261 §8.2.6.2); the synthesized one is our request's headers copied back, so its To
/// has none. Only that tells "nobody answered" apart from "the registrar said 408".
fn is_local_timeout(resp: &rsipstack::sip::Response) -> bool {
    resp.status_code.code() == 408
        && header_value(&resp.headers, "To")
            .is_some_and(|to| !to.to_ascii_lowercase().contains(";tag="))
}

impl Drop for SipEndpoint {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

/// A stable RFC 5626 instance id (UUID-shaped) for an account on this profile, so the
/// registrar replaces our old binding after a restart instead of adding a second one.
fn instance_id(account: &str, user: &str) -> String {
    use sha2::Digest;
    let h = sha2::Sha256::digest(format!("siperb-instance\0{account}\0{user}").as_bytes());
    let hex: String = h.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-4{}-a{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[13..16],
        &hex[17..20],
        &hex[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::AccountId;

    fn account(address: &str, registrar: Option<&str>) -> AccountConfig {
        let mut a = AccountConfig::new(AccountId("a".into()), address).expect("account");
        a.registrar = registrar.map(str::to_owned);
        a
    }

    #[test]
    fn an_outbound_proxy_is_the_first_hop_but_not_the_request_uri() {
        let mut a = account("sip:a@example.org", Some("sip:pbx.example.org:5080"));
        assert_eq!(next_hop_target(&a), "pbx.example.org:5080");
        a.outbound_proxy = Some(" sip:edge.example.net:5070;lr ".into());
        assert_eq!(next_hop_target(&a), "edge.example.net:5070");
        assert_eq!(registrar_target(&a), "pbx.example.org:5080");
        a.outbound_proxy = Some("  ".into());
        assert_eq!(next_hop_target(&a), "pbx.example.org:5080");
    }

    #[test]
    fn the_registrar_target_is_the_same_for_the_request_uri_and_the_socket() {
        assert_eq!(
            registrar_target(&account("sip:a@example.org:5080", None)),
            "example.org:5080"
        );
        assert_eq!(
            registrar_target(&account("sip:a@example.org", None)),
            "example.org"
        );
        assert_eq!(
            registrar_target(&account(
                "sip:a@example.org",
                Some("sip:pbx.example.org:5070;lr")
            )),
            "pbx.example.org:5070"
        );
        assert_eq!(
            registrar_target(&account("sip:a@example.org", Some(" sips:pbx "))),
            "pbx"
        );
    }
}
