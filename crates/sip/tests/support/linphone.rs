//! A real linphonec (Debian package linphone-cli, liblinphone 5.1) as the peer phone,
//! registered at the test Kamailio and driven through its command line on stdin. It learns
//! its own address by `connect()`ing towards public addresses, so tests using it run inside a
//! network namespace with only `lo` ([`in_private_netns`]).
// Shared by several test crates; each uses a part.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Runs the test `name` of this test binary again inside a new network namespace in which
/// only `lo` is up, and checks that it passed there. True in the outer run (the caller then
/// returns); false inside the namespace, where the test does its work.
pub(crate) fn in_private_netns(name: &str) -> bool {
    if std::env::var_os("SIPERB_IN_NETNS").is_some() {
        return false;
    }
    let exe = std::env::current_exe().expect("test binary");
    let status = Command::new("unshare")
        .args([
            "--net",
            "--",
            "sh",
            "-c",
            "ip link set lo up && exec \"$0\" \"$@\"",
        ])
        .arg(&exe)
        .args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env("SIPERB_IN_NETNS", "1")
        .status()
        .expect("unshare (util-linux) and ip (iproute2)");
    assert!(
        status.success(),
        "{name} failed inside its network namespace: see its output above"
    );
    true
}

pub(crate) struct Linphone {
    child: Child,
    stdin: ChildStdin,
    out: Arc<Mutex<Vec<String>>>,
    pub(crate) port: u16,
    dir: tempfile::TempDir,
}

impl Linphone {
    /// Starts linphonec as `user` registered at `registrar_port` (UDP, digest auth),
    /// answering calls automatically, with files for sound; waits until it is registered.
    /// `context` (the registrar's log) is shown when it does not register.
    pub(crate) async fn start(
        user: &str,
        password: &str,
        registrar_port: u16,
        context: impl Fn() -> String,
    ) -> Self {
        let dir = tempfile::tempdir().expect("dir");
        let port = free_udp_port();
        let rtp = free_udp_port();
        let rc = dir.path().join("rc");
        std::fs::write(
            &rc,
            format!(
                "[sip]\nsip_port={port}\nsip_tcp_port=0\ndefault_proxy=0\n\
                 [rtp]\naudio_rtp_port={rtp}\n\
                 [sound]\n\
                 [auth_info_0]\nusername={user}\nuserid={user}\npasswd={password}\n\
                 realm=127.0.0.1\ndomain=127.0.0.1\n\
                 [proxy_0]\nreg_proxy=<sip:127.0.0.1:{registrar_port}>\n\
                 reg_route=<sip:127.0.0.1:{registrar_port};lr>\n\
                 reg_identity=sip:{user}@127.0.0.1\nreg_expires=300\nreg_sendregister=1\n\
                 publish=0\n\
                 [storage]\nuri={}\n",
                dir.path().join("db.sqlite").display()
            ),
        )
        .expect("rc");
        // Line-buffered: its state messages would otherwise sit in stdio's buffer.
        let mut child = Command::new("stdbuf")
            .args(["-oL", "linphonec", "-c"])
            .arg(&rc)
            .args(["-a", "-S"])
            .env("HOME", dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start linphonec (Debian package linphone-cli)");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        let out = Arc::new(Mutex::new(Vec::new()));
        let sink = out.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Ok(mut o) = sink.lock() {
                    o.push(line);
                }
            }
        });
        let mut phone = Self {
            child,
            stdin,
            out,
            port,
            dir,
        };
        phone.send("soundcard use files");
        let mut registered = false;
        for _ in 0..30 {
            phone.send("status register");
            if phone.saw("registered,", 1).await {
                registered = true;
                break;
            }
        }
        if !registered {
            panic!(
                "linphonec did not register; it said:\n{}\nthe registrar:\n{}",
                phone.output(),
                context()
            );
        }
        phone
    }

    pub(crate) fn send(&mut self, command: &str) {
        writeln!(self.stdin, "{command}").expect("linphonec takes commands");
        let _ = self.stdin.flush();
    }

    async fn saw(&self, needle: &str, secs: u64) -> bool {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        while tokio::time::Instant::now() < deadline {
            if self.output().contains(needle) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    }

    /// Waits until a line of linphonec's output contains `needle`; returns that line.
    pub(crate) async fn wait_for(&self, needle: &str, secs: u64) -> String {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(line) = self
                .out
                .lock()
                .ok()
                .and_then(|o| o.iter().find(|l| l.contains(needle)).cloned())
            {
                return line;
            }
            if tokio::time::Instant::now() >= deadline {
                panic!(
                    "linphonec never said {needle:?} in {secs} s; it said:\n{}",
                    self.output()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub(crate) fn output(&self) -> String {
        self.out.lock().map(|o| o.join("\n")).unwrap_or_default()
    }

    pub(crate) fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }
}

impl Drop for Linphone {
    fn drop(&mut self) {
        let _ = writeln!(self.stdin, "quit");
        let _ = self.stdin.flush();
        for _ in 0..40 {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_udp_port() -> u16 {
    let s = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    s.local_addr().expect("addr").port()
}
