//! A real name server for a test: dnsmasq (Debian package dnsmasq-base) on a free loopback
//! port, answering only for the records the test gives it, stopped by PID.
// Shared by several test crates; each uses a part.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub(crate) struct Dnsmasq {
    child: Child,
    pub(crate) addr: SocketAddr,
    log: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

/// The test zone: dnsmasq answers every name under it itself (NXDOMAIN for unknown ones) and
/// asks nobody else.
pub(crate) const ZONE: &str = "siperb.test";

impl Dnsmasq {
    /// `records` are dnsmasq options such as `--srv-host=...`, `--naptr-record=...`,
    /// `--host-record=...`.
    pub(crate) fn start(records: &[String]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let log = dir.path().join("dnsmasq.log");
        let mut tries = 0;
        loop {
            tries += 1;
            assert!(tries <= 5, "dnsmasq did not start: {}", log.display());
            let port = free_port();
            let mut child = Command::new("dnsmasq")
                .args([
                    "--keep-in-foreground",
                    "--conf-file=/dev/null",
                    "--no-resolv",
                    "--no-hosts",
                    "--no-poll",
                    "--bind-interfaces",
                    "--listen-address=127.0.0.1",
                    "--pid-file=",
                    "--log-queries",
                ])
                .arg(format!("--log-facility={}", log.display()))
                .arg(format!("--port={port}"))
                .arg(format!("--local=/{ZONE}/"))
                .args(records)
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("start dnsmasq (Debian package dnsmasq-base)");
            let addr = SocketAddr::from(([127, 0, 0, 1], port));
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if std::net::TcpStream::connect(addr).is_ok() {
                    return Self {
                        child,
                        addr,
                        log,
                        _dir: dir,
                    };
                }
                if let Ok(Some(status)) = child.try_wait() {
                    let mut err = String::new();
                    if let Some(mut e) = child.stderr.take() {
                        use std::io::Read;
                        let _ = e.read_to_string(&mut err);
                    }
                    // Someone took the port between our probe and dnsmasq's bind: try another.
                    assert!(
                        tries < 5 && err.contains("in use"),
                        "dnsmasq exited with {status}: {err}"
                    );
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// What dnsmasq was asked (`--log-queries`).
    pub(crate) fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Dnsmasq {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    loop {
        let s = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
        let port = s.local_addr().expect("addr").port();
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}
