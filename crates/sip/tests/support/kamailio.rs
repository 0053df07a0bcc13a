//! Starts a real Kamailio registrar on a free loopback port for a test, and stops it by PID.

use std::net::UdpSocket;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub(crate) struct Kamailio {
    child: Child,
    pub(crate) port: u16,
    pub(crate) log: PathBuf,
    _dir: tempfile::TempDir,
}

pub(crate) const USER: &str = "alice";
pub(crate) const PASSWORD: &str = "wonderland-7";

fn free_udp_port() -> u16 {
    let s = UdpSocket::bind("127.0.0.1:0").expect("bind");
    s.local_addr().expect("addr").port()
}

impl Kamailio {
    /// `algorithm` is the digest algorithm Kamailio challenges with ("MD5" or "SHA-256").
    pub(crate) fn start(algorithm: &str) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = dir.path().join("db");
        std::fs::create_dir_all(&db).expect("db dir");
        std::fs::write(
            db.join("version"),
            "table_name(string) table_version(int)\nsubscriber:7\n",
        )
        .expect("version");
        std::fs::write(
            db.join("subscriber"),
            format!(
                "id(int,auto) username(string) domain(string) password(string) ha1(string) ha1b(string)\n\
                 1:{USER}:127.0.0.1:{PASSWORD}:x:x\n"
            ),
        )
        .expect("subscriber");
        let port = free_udp_port();
        let template = std::fs::read_to_string(
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../../tests/peers/kamailio/kamailio.cfg"),
        )
        .expect("kamailio.cfg template");
        let cfg = template
            .replace("%%LISTEN%%", &format!("listen=udp:127.0.0.1:{port}"))
            .replace("%%ALGORITHM%%", algorithm)
            .replace("%%DBDIR%%", &db.display().to_string());
        let cfg_path = dir.path().join("kamailio.cfg");
        std::fs::write(&cfg_path, cfg).expect("write cfg");
        let log = dir.path().join("kamailio.log");
        let log_file = std::fs::File::create(&log).expect("log");
        let child = Command::new("kamailio")
            .args(["-DD", "-E", "-m", "64", "-M", "8", "-f"])
            .arg(&cfg_path)
            .arg("-Y")
            .arg(dir.path())
            .arg("-P")
            .arg(dir.path().join("kamailio.pid"))
            .stdout(Stdio::null())
            .stderr(log_file)
            .process_group(0)
            .spawn()
            .expect("start kamailio (Debian package kamailio)");
        let k = Self {
            child,
            port,
            log,
            _dir: dir,
        };
        k.wait_ready();
        k
    }

    fn wait_ready(&self) {
        let sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
        sock.set_read_timeout(Some(Duration::from_millis(200)))
            .expect("timeout");
        let me = sock.local_addr().expect("addr");
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            let options = format!(
                "OPTIONS sip:127.0.0.1:{p} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bKready{n}\r\n\
                 From: <sip:probe@127.0.0.1>;tag=1\r\nTo: <sip:127.0.0.1>\r\nCall-ID: ready{n}\r\nCSeq: 1 OPTIONS\r\n\
                 Max-Forwards: 5\r\nContent-Length: 0\r\n\r\n",
                p = self.port,
                n = deadline.elapsed().as_nanos()
            );
            let _ = sock.send_to(options.as_bytes(), ("127.0.0.1", self.port));
            let mut buf = [0u8; 2048];
            if let Ok(n) = sock.recv(&mut buf)
                && buf[..n].starts_with(b"SIP/2.0 200")
            {
                return;
            }
        }
        panic!("kamailio did not answer OPTIONS: {}", self.log_text());
    }

    pub(crate) fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Kamailio {
    fn drop(&mut self) {
        // Kamailio forks workers into its process group: stop the whole group.
        let pgid = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-TERM", "--", &pgid]).status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = Command::new("kill").args(["-KILL", "--", &pgid]).status();
        let _ = self.child.wait();
    }
}
