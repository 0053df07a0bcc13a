//! Starts a real Kamailio registrar on a free loopback port for a test, and stops it by PID.
// Shared by several test crates; each uses a part.
#![allow(dead_code)]

use std::net::UdpSocket;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub(crate) struct Kamailio {
    child: Child,
    /// UDP and TCP.
    pub(crate) port: u16,
    pub(crate) tls_port: u16,
    /// The self-signed certificate Kamailio serves on TLS (CN and SAN 127.0.0.1): the CA file.
    pub(crate) ca_file: PathBuf,
    pub(crate) log: PathBuf,
    _dir: tempfile::TempDir,
}

pub(crate) const USER: &str = "alice";
pub(crate) const PASSWORD: &str = "wonderland-7";

/// A port free for both UDP and TCP on loopback.
fn free_port() -> u16 {
    loop {
        let s = UdpSocket::bind("127.0.0.1:0").expect("bind");
        let port = s.local_addr().expect("addr").port();
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// The second user Kamailio knows (for calls between two registered accounts).
pub(crate) const USER2: &str = "bob";
pub(crate) const PASSWORD2: &str = "builder-42";
/// A third user, for the peer phone (linphonec) in transfer tests.
pub(crate) const USER3: &str = "carol";
pub(crate) const PASSWORD3: &str = "singer-93";

impl Kamailio {
    /// `algorithm` is the digest algorithm Kamailio challenges with ("MD5" or "SHA-256").
    pub(crate) fn start(algorithm: &str) -> Self {
        Self::start_with(algorithm, "")
    }

    /// Like [`start`](Self::start), and it also challenges every BYE (as some PBXs and
    /// carriers do), logging `in-dialog BYE from <user> authenticated` when answered.
    pub(crate) fn start_challenging_byes(algorithm: &str) -> Self {
        Self::start_with(
            algorithm,
            r#"        if (is_method("BYE")) {
            if (!auth_check("$fd", "subscriber", "1")) {
                auth_challenge("$fd", "1");
                exit;
            }
            xlog("L_INFO", "in-dialog BYE from $fU authenticated\n");
            consume_credentials();
        }"#,
        )
    }

    fn start_with(algorithm: &str, in_dialog_auth: &str) -> Self {
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
                 1:{USER}:127.0.0.1:{PASSWORD}:x:x\n\
                 2:{USER2}:127.0.0.1:{PASSWORD2}:x:x\n\
                 3:{USER3}:127.0.0.1:{PASSWORD3}:x:x\n"
            ),
        )
        .expect("subscriber");
        let port = free_port();
        let tls_port = loop {
            let p = free_port();
            if p != port {
                break p;
            }
        };
        // A private CA (what the user gives with --ca-file) and a server certificate it signed.
        let ca = dir.path().join("ca.pem");
        let cert = dir.path().join("cert.pem");
        let key = dir.path().join("key.pem");
        let d = dir.path().display().to_string();
        let script = format!(
            "set -e; cd '{d}'; \
             openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
               -subj /CN=Siperb-Test-CA -keyout ca-key.pem -out ca.pem; \
             openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
               -subj /CN=127.0.0.1 -keyout key.pem -out server.csr; \
             printf 'subjectAltName=IP:127.0.0.1\\nbasicConstraints=CA:FALSE\\n' > ext.cnf; \
             openssl x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial \
               -days 2 -extfile ext.cnf -out cert.pem"
        );
        let made = Command::new("sh")
            .args(["-c", &script])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("openssl (Debian package openssl)");
        assert!(made.success(), "openssl could not make the certificates");
        let tls_cfg = dir.path().join("tls.cfg");
        std::fs::write(
            &tls_cfg,
            format!(
                "[server:default]\nmethod = TLSv1.2+\nverify_certificate = no\nrequire_certificate = no\n\
                 private_key = {}\ncertificate = {}\n",
                key.display(),
                cert.display()
            ),
        )
        .expect("tls.cfg");
        let template = std::fs::read_to_string(
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../../tests/peers/kamailio/kamailio.cfg"),
        )
        .expect("kamailio.cfg template");
        let cfg = template
            .replace(
                "%%LISTEN%%",
                &format!(
                    "listen=udp:127.0.0.1:{port}\nlisten=tcp:127.0.0.1:{port}\nlisten=tls:127.0.0.1:{tls_port}"
                ),
            )
            .replace("%%TLSCFG%%", &tls_cfg.display().to_string())
            .replace("%%ALGORITHM%%", algorithm)
            .replace("%%IN_DIALOG_AUTH%%", in_dialog_auth)
            .replace("%%MEDIA_HOOK%%", "")
            .replace("%%REPLY_ROUTE%%", "")
            .replace("%%DBDIR%%", &db.display().to_string());
        let cfg_path = dir.path().join("kamailio.cfg");
        std::fs::write(&cfg_path, cfg).expect("write cfg");
        let log = dir.path().join("kamailio.log");
        let child = spawn(dir.path(), &log);
        let k = Self {
            child,
            port,
            tls_port,
            ca_file: ca,
            log,
            _dir: dir,
        };
        k.wait_ready();
        k
    }

    /// Stops Kamailio (closing every connection) and starts it again on the same ports.
    pub(crate) fn restart(&mut self) {
        self.stop();
        self.child = spawn(self._dir.path(), &self.log);
        self.wait_ready();
    }

    fn stop(&mut self) {
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
        self.stop();
    }
}

fn spawn(dir: &std::path::Path, log: &std::path::Path) -> Child {
    let log_file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("log");
    Command::new("kamailio")
        .args(["-DD", "-E", "-m", "64", "-M", "8", "-f"])
        .arg(dir.join("kamailio.cfg"))
        .arg("-Y")
        .arg(dir)
        .arg("-P")
        .arg(dir.join("kamailio.pid"))
        .stdout(Stdio::null())
        .stderr(log_file)
        .process_group(0)
        .spawn()
        .expect("start kamailio (Debian package kamailio)")
}
