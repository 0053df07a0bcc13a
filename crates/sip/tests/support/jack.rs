//! A JACK server on the dummy driver for tests (Debian's jackd2): one sample clock, no sound
//! hardware. Shared by the SIP crate's baresip tests and the CLI's JACK test.
#![allow(dead_code)]

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A JACK server on the dummy driver: a sample clock without sound hardware (48 kHz, 10 ms).
pub(crate) struct Jack {
    child: Child,
    pub(crate) name: String,
}

impl Jack {
    pub(crate) fn start() -> Self {
        let mut why = String::new();
        // A server that cannot start (a name clash, a stale registry entry) gets another go
        // under a new name; its own words end up in the panic if all tries fail.
        for attempt in 0..3 {
            // Unique among servers on this machine: our process and a free port number.
            let port = std::net::UdpSocket::bind("127.0.0.1:0")
                .and_then(|s| s.local_addr())
                .map_or(0, |a| a.port());
            let name = format!("siperb-{}-{port}-{attempt}", std::process::id());
            let log = std::env::temp_dir().join(format!("{name}.log"));
            let out = std::fs::File::create(&log).expect("jackd log");
            let mut child = Command::new("jackd")
                .args([
                    "--no-realtime",
                    "--name",
                    &name,
                    "-d",
                    "dummy",
                    "-r",
                    "48000",
                    "-p",
                    "480",
                ])
                .stdin(Stdio::null())
                .stdout(out.try_clone().expect("log"))
                .stderr(out)
                .process_group(0)
                .spawn()
                .expect("start jackd (Debian package jackd2)");
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(status)) = child.try_wait() {
                    let said = std::fs::read_to_string(&log).unwrap_or_default();
                    let full = if said.contains("Too many servers") {
                        "\nJACK's registry of servers (/dev/shm/jack-shm-registry) is full \
                         (eight servers: running ones, and killed ones that left their entry). \
                         With no jackd running, `rm -r /dev/shm/jack*` empties it."
                    } else {
                        ""
                    };
                    why = format!("jackd {name} exited with {status}: {said}{full}");
                    break;
                }
                // Ready when a client can reach it (jack_wait, from the same package, which
                // says so: it exits with 0 either way).
                let up = Command::new("jack_wait")
                    .args(["-s", &name, "-c"])
                    .stderr(Stdio::null())
                    .output()
                    .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "running");
                if up {
                    let _ = std::fs::remove_file(&log);
                    return Self { child, name };
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = child.kill();
            let _ = child.wait();
            if why.is_empty() {
                why = format!(
                    "jackd {name} not reachable in 10 s: {}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
            let _ = std::fs::remove_file(&log);
        }
        panic!("{why}");
    }
}

impl Drop for Jack {
    fn drop(&mut self) {
        // SIGTERM: jackd then removes its entry from the shared registry (SIGKILL leaves it, and
        // the registry holds only eight servers: a ninth cannot start). It takes up to a second
        // with clients that went away, and was seen to take over 3 s: SIGKILL only after 15.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(15) {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(30));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
