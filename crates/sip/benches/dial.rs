//! Dial to established on loopback through a real Kamailio, over UDP and TLS: our line and
//! baresip's, in one run. Each figure is the median (and min, max) of 10 calls after one
//! warm-up call, from "dial issued" to "the caller sees the call established" (200 OK received,
//! ACK sent). The callee answers as soon as the call rings, so only the protocol path counts.
//!
//! `cargo bench -p siperb-sip --bench dial`

#[path = "../tests/support/kamailio.rs"]
mod kamailio;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc as std_mpsc;
use std::time::{Duration, Instant};

use kamailio::{Kamailio, PASSWORD, PASSWORD2, USER, USER2};
use siperb_sip::call::{CallPhase, Input};
use siperb_sip::phone::{CallEvent, Line, LineConfig, PhoneError, RtpFactory};
use siperb_sip::ua::{SipEndpoint, registrar_address};
use siperb_sip::{AccountConfig, AccountId, RegistrationState, Transport};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Measured calls per figure (after one warm-up call).
const CALLS: usize = 10;
/// Kamailio's digest algorithm for every run: baresip 1.0 answers only MD5.
const ALGORITHM: &str = "MD5";

type Events = mpsc::UnboundedReceiver<CallEvent>;
type Samples = Result<Vec<f64>, String>;

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

// ---------------------------------------------------------------------------------------------
// Ours
// ---------------------------------------------------------------------------------------------

/// An account registered at `k` with its line, as the engine runs one.
struct Registered {
    _endpoint: Arc<SipEndpoint>,
    line: Line,
    events: Events,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

async fn registered(
    k: &Kamailio,
    user: &str,
    password: &str,
    transport: Transport,
) -> Result<Registered, String> {
    let mut account = AccountConfig::new(AccountId(user.into()), &format!("sip:{user}@127.0.0.1"))
        .map_err(|e| e.to_string())?;
    account.transport = transport;
    account.registrar = Some(match transport {
        Transport::Tls => format!("127.0.0.1:{}", k.tls_port),
        _ => format!("127.0.0.1:{}", k.port),
    });
    account.tls.ca_file = Some(k.ca_file.clone());
    let registrar = registrar_address(&account)
        .await
        .map_err(|e| e.to_string())?;
    let endpoint = Arc::new(
        SipEndpoint::bind_udp_towards(registrar)
            .await
            .map_err(|e| e.to_string())?,
    );
    let (tx, events) = mpsc::unbounded_channel();
    let line = endpoint
        .start_line(
            LineConfig {
                user: user.into(),
                aor: format!("sip:{user}@127.0.0.1"),
                display_name: None,
                proxy: Some(registrar),
                credential: Some((user.into(), password.into())),
                ghost_filter: true,
                do_not_disturb: false,
                media: Arc::new(RtpFactory::default()),
                media_settings: Default::default(),
            },
            tx,
        )
        .map_err(|e| e.to_string())?;
    let (states, mut state_rx) = mpsc::channel(16);
    let stop = CancellationToken::new();
    let (ep, stop2, password) = (endpoint.clone(), stop.clone(), password.to_owned());
    let task = tokio::spawn(async move {
        if let Err(e) = ep
            .run_registration(&account, registrar, password, 7, states, stop2)
            .await
        {
            eprintln!("registration: {e}");
        }
    });
    loop {
        let s = tokio::time::timeout(Duration::from_secs(10), state_rx.recv())
            .await
            .map_err(|_| format!("{user} did not register in 10 s"))?
            .ok_or("registration stopped")?;
        match s {
            RegistrationState::Registered { .. } => break,
            RegistrationState::Registering => {}
            other => return Err(format!("{user}: {other:?}\n{}", k.log_text())),
        }
    }
    // Keep draining states so the registration task never blocks on a full channel.
    tokio::spawn(async move { while state_rx.recv().await.is_some() {} });
    Ok(Registered {
        _endpoint: endpoint,
        line,
        events,
        stop,
        task,
    })
}

impl Registered {
    async fn unregister(self) {
        self.stop.cancel();
        let _ = tokio::time::timeout(Duration::from_secs(5), self.task).await;
    }
}

/// The next event `want` accepts, with the instant it was taken off the channel.
async fn next(
    rx: &mut Events,
    what: &str,
    want: impl Fn(&CallEvent) -> bool,
) -> Result<(Instant, CallEvent), String> {
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let e = rx.recv().await.ok_or("event channel closed")?;
            if want(&e) {
                return Ok((Instant::now(), e));
            }
        }
    })
    .await
    .map_err(|_| format!("no {what} within 10 s"))?
}

/// What the auto-answering callee reports.
enum Callee {
    Rang(Instant),
    Established(Instant),
    Ended,
}

/// Answers every incoming call at once (retrying while the line has not yet filed the call
/// it just announced) and reports what happens.
fn auto_answer(line: Line, mut events: Events) -> mpsc::UnboundedReceiver<Callee> {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(e) = events.recv().await {
            match e {
                CallEvent::IncomingCall { call, .. } => {
                    let _ = tx.send(Callee::Rang(Instant::now()));
                    for _ in 0..1000 {
                        match line.command(call, Input::Answer).await {
                            Err(PhoneError::NoSuchCall) => tokio::task::yield_now().await,
                            _ => break,
                        }
                    }
                }
                CallEvent::State {
                    phase: CallPhase::Established,
                    ..
                } => {
                    let _ = tx.send(Callee::Established(Instant::now()));
                }
                CallEvent::CallEnded { .. } => {
                    let _ = tx.send(Callee::Ended);
                }
                _ => {}
            }
        }
    });
    rx
}

/// Per call: dial → callee rings, → caller hears 180, → caller established, → callee established.
#[derive(Default)]
struct Breakdown {
    rang: Vec<f64>,
    ringing: Vec<f64>,
    callee_up: Vec<f64>,
}

async fn ours(transport: Transport) -> Result<(Vec<f64>, Breakdown), String> {
    let k = Kamailio::start(ALGORITHM);
    let result = ours_on(&k, transport).await;
    if result.is_err() {
        eprintln!("kamailio log:\n{}", k.log_text());
    }
    result
}

async fn ours_on(k: &Kamailio, transport: Transport) -> Result<(Vec<f64>, Breakdown), String> {
    let mut alice = registered(k, USER, PASSWORD, transport).await?;
    let bob = registered(k, USER2, PASSWORD2, transport).await?;
    let Registered {
        _endpoint: bob_ep,
        line: bob_line,
        events: bob_events,
        stop: bob_stop,
        task: bob_task,
    } = bob;
    let mut callee = auto_answer(bob_line.clone(), bob_events);
    let mut samples = Vec::new();
    let mut breakdown = Breakdown::default();
    for i in 0..=CALLS {
        let t0 = Instant::now();
        let call = alice.line.dial(USER2).map_err(|e| e.to_string())?;
        // Wait for Established, noting when the 180 arrives on the way.
        let mut ringing = None;
        let t1 = tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                match alice.events.recv().await {
                    Some(CallEvent::State { call: c, phase }) if c == call => match phase {
                        CallPhase::Ringing => ringing = Some(Instant::now()),
                        CallPhase::Established => return Ok(Instant::now()),
                        _ => {}
                    },
                    Some(CallEvent::CallEnded { call: c, cause, .. }) if c == call => {
                        return Err(format!("call {i} ended: {cause:?}"));
                    }
                    Some(_) => {}
                    None => return Err("event channel closed".to_owned()),
                }
            }
        })
        .await
        .map_err(|_| format!("call {i} not established within 10 s"))??;
        // What the callee saw meanwhile (its events are already queued or follow at once).
        let (mut rang, mut callee_up) = (None, None);
        while callee_up.is_none() {
            match tokio::time::timeout(Duration::from_secs(5), callee.recv()).await {
                Ok(Some(Callee::Rang(t))) => rang = Some(t),
                Ok(Some(Callee::Established(t))) => callee_up = Some(t),
                Ok(Some(Callee::Ended)) => return Err("callee ended early".into()),
                _ => return Err("callee never established".into()),
            }
        }
        if i > 0 {
            samples.push(ms(t1 - t0));
            if let Some(r) = rang {
                breakdown.rang.push(ms(r - t0));
            }
            if let Some(r) = ringing {
                breakdown.ringing.push(ms(r - t0));
            }
            if let Some(u) = callee_up {
                breakdown.callee_up.push(ms(u - t0));
            }
        }
        alice
            .line
            .command(call, Input::Hangup)
            .await
            .map_err(|e| e.to_string())?;
        next(
            &mut alice.events,
            "caller CallEnded",
            |e| matches!(e, CallEvent::CallEnded { call: c, .. } if *c == call),
        )
        .await?;
        loop {
            match tokio::time::timeout(Duration::from_secs(10), callee.recv()).await {
                Ok(Some(Callee::Ended)) => break,
                Ok(Some(_)) => {}
                _ => return Err("callee never saw the call end".into()),
            }
        }
    }
    alice.unregister().await;
    bob_stop.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(5), bob_task).await;
    drop((bob_ep, bob_line));
    Ok((samples, breakdown))
}

// ---------------------------------------------------------------------------------------------
// baresip
// ---------------------------------------------------------------------------------------------

/// One baresip 1.0 registered at Kamailio, driven over one kept ctrl_tcp connection (baresip
/// sends its events only to the connection it has).
struct BareUa {
    child: Child,
    ctrl: TcpStream,
    events: std_mpsc::Receiver<(Instant, String)>,
    log: std::path::PathBuf,
    token: u32,
    _dir: tempfile::TempDir,
}

fn free_port_pair() -> u16 {
    // UDP and TCP on P, TCP (TLS) on P+1.
    loop {
        let p = UdpSocket::bind("127.0.0.1:0")
            .and_then(|s| s.local_addr())
            .expect("port")
            .port();
        if p < 65535
            && TcpListener::bind(("127.0.0.1", p)).is_ok()
            && TcpListener::bind(("127.0.0.1", p + 1)).is_ok()
        {
            return p;
        }
    }
}

impl BareUa {
    fn start(
        k: &Kamailio,
        user: &str,
        password: &str,
        tls: bool,
        auto_answer: bool,
    ) -> Result<Self, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let sip_port = free_port_pair();
        let ctrl_port = TcpListener::bind("127.0.0.1:0")
            .and_then(|s| s.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        let rtp = 20000 + (sip_port % 2000) * 10;
        let tone = dir.path().join("tone.wav");
        siperb_media::wav::write(
            &tone,
            &siperb_media::wav::Pcm {
                rate: 8000,
                samples: (0..8000 * 20)
                    .map(|i| {
                        ((f64::from(i) * 440.0 * std::f64::consts::TAU / 8000.0).sin() * 8000.0)
                            as i16
                    })
                    .collect(),
            },
        )
        .map_err(|e| e.to_string())?;
        // baresip's own TLS listener (Kamailio connects to it to deliver calls over TLS).
        let d = dir.path().display().to_string();
        let made = Command::new("sh")
            .args([
                "-c",
                &format!(
                    "set -e; cd '{d}'; openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
                     -nodes -days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
                     -keyout key.pem -out crt.pem; cat crt.pem key.pem > cert.pem"
                ),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map_err(|e| e.to_string())?;
        if !made.success() {
            return Err("openssl failed".into());
        }
        std::fs::write(
            dir.path().join("config"),
            format!(
                "sip_listen\t\t127.0.0.1:{sip_port}\nnet_interface\t\t127.0.0.1\n\
                 sip_cafile\t\t{ca}\nsip_certificate\t\t{d}/cert.pem\n\
                 rtp_ports\t\t{rtp}-{}\nmodule_path\t\t/usr/lib/baresip/modules\n\
                 module\t\t\tg711.so\nmodule\t\t\taufile.so\n\
                 module_app\t\taccount.so\nmodule_app\t\tmenu.so\nmodule_app\t\tctrl_tcp.so\n\
                 ctrl_tcp_listen\t\t127.0.0.1:{ctrl_port}\naudio_source\t\taufile,{}\n",
                rtp + 19,
                tone.display(),
                ca = k.ca_file.display(),
            ),
        )
        .map_err(|e| e.to_string())?;
        let (transport, port) = if tls {
            ("tls", k.tls_port)
        } else {
            ("udp", k.port)
        };
        let answer = if auto_answer { ";answermode=auto" } else { "" };
        std::fs::write(
            dir.path().join("accounts"),
            format!(
                "<sip:{user}@127.0.0.1;transport={transport}>;auth_pass={password};\
                 outbound=\"sip:127.0.0.1:{port};transport={transport}\";regint=300{answer};\
                 audio_codecs=pcmu,pcma\n"
            ),
        )
        .map_err(|e| e.to_string())?;
        let log = dir.path().join("baresip.log");
        let out = std::fs::File::create(&log).map_err(|e| e.to_string())?;
        let child = Command::new("baresip")
            .arg("-f")
            .arg(dir.path())
            .stdin(Stdio::null())
            .stdout(out.try_clone().map_err(|e| e.to_string())?)
            .stderr(out)
            .process_group(0)
            .spawn()
            .map_err(|e| format!("start baresip: {e}"))?;
        let start = Instant::now();
        let ctrl = loop {
            match TcpStream::connect(("127.0.0.1", ctrl_port)) {
                Ok(s) => break s,
                Err(_) if start.elapsed() < Duration::from_secs(10) => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => return Err(format!("baresip ctrl_tcp: {e}")),
            }
        };
        ctrl.set_nodelay(true).ok();
        let (tx, events) = std_mpsc::channel();
        let mut reader = ctrl.try_clone().map_err(|e| e.to_string())?;
        std::thread::spawn(move || {
            let mut pending: Vec<u8> = Vec::new();
            let mut buf = [0u8; 8192];
            loop {
                let n = match reader.read(&mut buf) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => n,
                };
                let now = Instant::now();
                // Acknowledge at once: baresip's ctrl_tcp writes each event without TCP_NODELAY,
                // so a delayed ACK here (40 ms on Linux) would hold the next event back by Nagle
                // and add up to 40 ms to its figure that has nothing to do with SIP.
                let _ = socket2::SockRef::from(&reader).set_tcp_quickack(true);
                pending.extend_from_slice(&buf[..n]);
                // Every complete netstring ("LEN:DATA,").
                while let Some(colon) = pending.iter().position(|&b| b == b':') {
                    let Some(len) = std::str::from_utf8(&pending[..colon])
                        .ok()
                        .and_then(|l| l.parse::<usize>().ok())
                    else {
                        pending.clear();
                        break;
                    };
                    if pending.len() < colon + 1 + len + 1 {
                        break;
                    }
                    let item =
                        String::from_utf8_lossy(&pending[colon + 1..colon + 1 + len]).into_owned();
                    pending.drain(..colon + 1 + len + 1);
                    if tx.send((now, item)).is_err() {
                        return;
                    }
                }
            }
        });
        let mut ua = BareUa {
            child,
            ctrl,
            events,
            log,
            token: 0,
            _dir: dir,
        };
        ua.wait_registered(user)?;
        Ok(ua)
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends a command; its response comes back as an item on `events`.
    fn send(&mut self, command: &str, params: &str) -> Result<Instant, String> {
        self.token += 1;
        let json = format!(
            r#"{{"command":"{command}","params":"{params}","token":"{}"}}"#,
            self.token
        );
        let msg = format!("{}:{json},", json.len());
        let t = Instant::now();
        self.ctrl
            .write_all(msg.as_bytes())
            .map_err(|e| e.to_string())?;
        Ok(t)
    }

    /// The next item containing `needle`, within `secs`.
    fn wait_for(&self, needle: &str, secs: u64) -> Result<(Instant, String), String> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok((t, item)) if item.contains(needle) => return Ok((t, item)),
                Ok(_) => {}
                Err(_) => return Err(format!("baresip: no {needle} in {secs} s")),
            }
        }
    }

    /// Registration may complete before our ctrl connection exists: ask with `reginfo`.
    fn wait_registered(&mut self, user: &str) -> Result<(), String> {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10) {
            self.send("reginfo", "")?;
            // reginfo lists the account with "OK" once registered ("zzz" before, "ERR" on failure).
            if let Ok((_, item)) = self.wait_for("\"response\"", 2)
                && item.contains("OK")
                && !item.contains("zzz")
            {
                // Drop REGISTER_OK events and the like.
                while self.events.try_recv().is_ok() {}
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(format!(
            "baresip {user} did not register\n{}",
            self.log_text()
        ))
    }
}

impl Drop for BareUa {
    fn drop(&mut self) {
        let pid = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-TERM", "--", &pid]).status();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(3) {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = Command::new("kill").args(["-KILL", "--", &pid]).status();
        let _ = self.child.wait();
    }
}

fn baresip(tls: bool) -> Samples {
    let k = Kamailio::start(ALGORITHM);
    let run = || -> Samples {
        let bob = BareUa::start(&k, USER2, PASSWORD2, tls, true)?;
        let mut alice = BareUa::start(&k, USER, PASSWORD, tls, false)?;
        let mut samples = Vec::new();
        for i in 0..=CALLS {
            let t0 = alice.send("dial", "sip:bob@127.0.0.1")?;
            let established = alice.wait_for("\"type\":\"CALL_ESTABLISHED\"", 10);
            let (t1, _) = match established {
                Ok(x) => x,
                Err(e) => {
                    return Err(format!(
                        "{e}\nalice:\n{}\nbob:\n{}",
                        alice.log_text(),
                        bob.log_text()
                    ));
                }
            };
            if i > 0 {
                samples.push(ms(t1 - t0));
            }
            bob.wait_for("\"type\":\"CALL_ESTABLISHED\"", 10)?;
            alice.send("hangup", "")?;
            alice.wait_for("\"type\":\"CALL_CLOSED\"", 10)?;
            bob.wait_for("\"type\":\"CALL_CLOSED\"", 10)?;
            // Let both settle (and drop command responses).
            std::thread::sleep(Duration::from_millis(50));
            while alice.events.try_recv().is_ok() {}
            while bob.events.try_recv().is_ok() {}
        }
        // Stop the caller first, then the callee, before Kamailio.
        drop(alice);
        drop(bob);
        Ok(samples)
    };
    let result = run();
    if result.is_err() {
        eprintln!("kamailio log:\n{}", k.log_text());
    }
    result
}

// ---------------------------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------------------------

struct Stats {
    median: f64,
    min: f64,
    max: f64,
}

fn stats(samples: &[f64]) -> Option<Stats> {
    if samples.is_empty() {
        return None;
    }
    let mut s = samples.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    let median = if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    };
    Some(Stats {
        median,
        min: s[0],
        max: s[n - 1],
    })
}

fn main() {
    // `cargo bench -p siperb-sip --bench dial -- ours_tls baresip` runs only the figures whose
    // key contains one of the words (cargo itself passes `--bench`).
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let wanted = |key: &str| filters.is_empty() || filters.iter().any(|f| key.contains(f.as_str()));
    let started = Instant::now();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");

    let mut rows: Vec<(&str, &str, Samples)> = Vec::new();
    let mut breakdowns: Vec<(&str, Breakdown)> = Vec::new();
    for (name, key, transport) in [
        ("ours UDP", "ours_udp", Transport::Udp),
        ("ours TLS", "ours_tls", Transport::Tls),
    ] {
        if !wanted(key) {
            continue;
        }
        eprintln!("running {name}…");
        match rt.block_on(ours(transport)) {
            Ok((samples, breakdown)) => {
                rows.push((name, key, Ok(samples)));
                breakdowns.push((name, breakdown));
            }
            Err(e) => rows.push((name, key, Err(e))),
        }
    }
    for (name, key, tls) in [
        ("baresip UDP", "baresip_udp", false),
        ("baresip TLS", "baresip_tls", true),
    ] {
        if !wanted(key) {
            continue;
        }
        eprintln!("running {name}…");
        rows.push((name, key, baresip(tls)));
    }
    drop(rt);

    println!();
    println!(
        "dial → established, loopback via Kamailio ({ALGORITHM} digest, INVITE 407), {CALLS} calls each"
    );
    println!(
        "{:<12} {:>10} {:>10} {:>10}",
        "", "median ms", "min ms", "max ms"
    );
    let mut json = Vec::new();
    for (name, key, samples) in &rows {
        match samples.as_ref().ok().and_then(|s| stats(s)) {
            Some(st) => {
                println!(
                    "{name:<12} {:>10.1} {:>10.1} {:>10.1}",
                    st.median, st.min, st.max
                );
                json.push(format!(
                    r#""{key}":{{"median_ms":{:.2},"min_ms":{:.2},"max_ms":{:.2},"n":{}}}"#,
                    st.median,
                    st.min,
                    st.max,
                    samples.as_ref().map_or(0, Vec::len)
                ));
            }
            None => {
                let why = samples.as_ref().err().cloned().unwrap_or_default();
                let first = why.lines().next().unwrap_or("no samples");
                println!(
                    "{name:<12} {:>10} {:>10} {:>10}   ({first})",
                    "n/a", "n/a", "n/a"
                );
                json.push(format!(
                    r#""{key}":{{"error":"{}"}}"#,
                    first.replace('\\', "\\\\").replace('"', "\\\"")
                ));
            }
        }
    }
    println!();
    println!(
        "ours, medians from dial (ms): callee rings / caller hears 180 / caller established / callee established"
    );
    for (name, b) in &breakdowns {
        let m = |v: &[f64]| stats(v).map_or("n/a".to_owned(), |s| format!("{:.1}", s.median));
        let up = rows
            .iter()
            .find(|(n, _, _)| n == name)
            .and_then(|(_, _, s)| s.as_ref().ok())
            .map_or(&[][..], Vec::as_slice);
        println!(
            "{name:<12} {:>8} {:>8} {:>8} {:>8}",
            m(&b.rang),
            m(&b.ringing),
            m(up),
            m(&b.callee_up)
        );
    }
    println!();
    println!("total run time: {:.1} s", started.elapsed().as_secs_f64());
    println!("{{{}}}", json.join(","));
}
