//! RFC 3263 server location against a real name server (dnsmasq) and failover to the next
//! server against a real Kamailio: NAPTR → SRV → A, a dead first server skipped.

mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use siperb_sip::dns::{DnsError, DnsResolver, ServerName};
use siperb_sip::ua::{Servers, SipEndpoint, server_addresses};
use siperb_sip::{AccountConfig, AccountId, RegistrationState, Transport};
use support::dnsmasq::{Dnsmasq, ZONE};
use support::kamailio::{Kamailio, PASSWORD, USER};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

fn account(transport: Transport) -> AccountConfig {
    let mut a = AccountConfig::new(AccountId("dns".into()), &format!("sip:{USER}@127.0.0.1"))
        .expect("account");
    // A name without a port: found through NAPTR/SRV.
    a.registrar = Some(format!("sip:{ZONE}"));
    a.transport = transport;
    a
}

/// Registers `account` with every server `resolver` finds; the time to `Registered`.
async fn register_through(
    account: &AccountConfig,
    resolver: &DnsResolver,
    kamailio: &Kamailio,
) -> Duration {
    let addresses = server_addresses(account, resolver).await.expect("located");
    let endpoint = SipEndpoint::bind_udp("127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("bind");
    let (tx, mut rx) = mpsc::channel(16);
    let stop = CancellationToken::new();
    let started = Instant::now();
    let (account2, resolver2, stop2) = (account.clone(), resolver.clone(), stop.clone());
    let task = tokio::spawn(async move {
        endpoint
            .run_registration(
                &account2,
                Servers {
                    addresses,
                    resolver: Some(resolver2),
                },
                PASSWORD.into(),
                0x5eed,
                tx,
                stop2,
            )
            .await
            .expect("registration runs");
    });
    let took = loop {
        let state = tokio::time::timeout(Duration::from_secs(20), rx.recv())
            .await
            .expect("a state change in time")
            .expect("channel open");
        match state {
            RegistrationState::Registered { .. } => break started.elapsed(),
            RegistrationState::Registering => {}
            other => panic!("{other:?}\n{}", kamailio.log_text()),
        }
    };
    stop.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
    took
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn naptr_and_srv_find_the_servers_and_a_silent_first_one_is_skipped() {
    let kamailio = Kamailio::start("MD5");
    // The better server (priority 10) takes REGISTERs and never answers.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    silent
        .set_read_timeout(Some(Duration::from_secs(1)))
        .expect("timeout");
    let silent_port = silent.local_addr().expect("addr").port();
    let dns = Dnsmasq::start(&[
        format!("--host-record=dead.{ZONE},127.0.0.1"),
        format!("--host-record=pbx.{ZONE},127.0.0.1"),
        // NAPTR: UDP goes to its own SRV name; TCP's record points elsewhere.
        format!("--naptr-record={ZONE},10,10,s,SIP+D2U,,_sip._udp.edge.{ZONE}"),
        format!("--naptr-record={ZONE},20,10,s,SIP+D2T,,_sip._tcp.nowhere.{ZONE}"),
        format!(
            "--srv-host=_sip._udp.edge.{ZONE},pbx.{ZONE},{},20,10",
            kamailio.port
        ),
        format!("--srv-host=_sip._udp.edge.{ZONE},dead.{ZONE},{silent_port},10,10"),
    ]);
    let resolver = DnsResolver::with_servers(&[dns.addr]).expect("resolver");
    let udp = account(Transport::Udp);
    let found = server_addresses(&udp, &resolver).await.expect("located");
    let expected: Vec<SocketAddr> = vec![
        ([127, 0, 0, 1], silent_port).into(),
        ([127, 0, 0, 1], kamailio.port).into(),
    ];
    assert_eq!(found, expected, "{}", dns.log_text());
    let log = dns.log_text();
    assert!(log.contains(&format!("query[NAPTR] {ZONE}")), "{log}");
    assert!(
        log.contains(&format!("query[SRV] _sip._udp.edge.{ZONE}")),
        "{log}"
    );

    let took = register_through(&udp, &resolver, &kamailio).await;
    // The silent server really got the REGISTER first.
    let mut buf = [0u8; 2048];
    let (n, _) = silent
        .recv_from(&mut buf)
        .expect("the first server was tried");
    assert!(buf[..n].starts_with(b"REGISTER "));
    assert!(
        took >= siperb_sip::ua::FAILOVER_WAIT && took < Duration::from_secs(15),
        "registered after {took:?}"
    );
    println!("UDP failover to the second SRV target: registered after {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_naptr_the_srv_name_of_the_transport_is_used_and_a_refused_server_is_skipped_at_once()
 {
    let kamailio = Kamailio::start("SHA-256");
    // A TCP port with nobody listening: connection refused.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let dns = Dnsmasq::start(&[
        format!("--host-record=a.{ZONE},127.0.0.1"),
        format!("--host-record=b.{ZONE},127.0.0.1"),
        format!("--srv-host=_sip._tcp.{ZONE},a.{ZONE},{closed},1,0"),
        format!("--srv-host=_sip._tcp.{ZONE},b.{ZONE},{},2,0", kamailio.port),
    ]);
    let resolver = DnsResolver::with_servers(&[dns.addr]).expect("resolver");
    let tcp = account(Transport::Tcp);
    let found = server_addresses(&tcp, &resolver).await.expect("located");
    assert_eq!(
        found,
        vec![
            SocketAddr::from(([127, 0, 0, 1], closed)),
            SocketAddr::from(([127, 0, 0, 1], kamailio.port)),
        ]
    );
    let took = register_through(&tcp, &resolver, &kamailio).await;
    assert!(took < Duration::from_secs(3), "registered after {took:?}");
    assert!(
        kamailio.log_text().contains("proto=tcp"),
        "{}",
        kamailio.log_text()
    );
    println!("TCP failover past a refused SRV target: registered after {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_without_srv_use_their_address_and_unknown_names_are_a_clear_dns_error() {
    let dns = Dnsmasq::start(&[
        format!("--host-record=plain.{ZONE},127.0.0.1,::1"),
        format!("--srv-host=_sip._udp.nosrv-target.{ZONE}"),
    ]);
    let resolver = DnsResolver::with_servers(&[dns.addr]).expect("resolver");
    let name = |s: &str| ServerName::parse(s).expect("name");
    // No NAPTR, no SRV: A and AAAA on the transport's default port.
    let found = resolver
        .locate(&name(&format!("plain.{ZONE}")), Transport::Tls)
        .await
        .expect("A/AAAA");
    assert_eq!(
        found,
        vec![
            "127.0.0.1:5061".parse::<SocketAddr>().expect("addr"),
            "[::1]:5061".parse().expect("addr")
        ]
    );
    // An explicit port: straight to A/AAAA, no SRV asked.
    let found = resolver
        .locate(&name(&format!("plain.{ZONE}:5080")), Transport::Udp)
        .await
        .expect("A/AAAA");
    assert_eq!(found[0], "127.0.0.1:5080".parse().expect("addr"));
    assert!(
        !dns.log_text()
            .contains(&format!("query[SRV] _sip._udp.plain.{ZONE}:5080")),
        "{}",
        dns.log_text()
    );
    // IP literals never reach DNS.
    let before = dns.log_text().lines().count();
    let found = resolver
        .locate(&name("[::1]:5070"), Transport::Udp)
        .await
        .expect("literal");
    assert_eq!(found, vec!["[::1]:5070".parse().expect("addr")]);
    assert_eq!(dns.log_text().lines().count(), before);
    // Unknown names, and SRV records saying "no service here", are DNS errors a person reads.
    for missing in [format!("nowhere.{ZONE}"), format!("nosrv-target.{ZONE}")] {
        let err = resolver
            .locate(&name(&missing), Transport::Udp)
            .await
            .expect_err("not found");
        assert!(matches!(err, DnsError::NotFound { .. }), "{err:?}");
        assert!(err.to_string().contains("has no address"), "{err}");
    }
}
