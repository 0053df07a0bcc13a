//! Starts a real baresip (a second softphone we did not write) on free loopback ports, drives
//! it over its ctrl_tcp interface, and stops it by process group.
// Shared by several test crates; each uses a part.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub(crate) use super::jack::Jack;

pub(crate) struct Baresip {
    child: Child,
    pub(crate) sip_port: u16,
    ctrl_port: u16,
    pub(crate) log: PathBuf,
    _dir: tempfile::TempDir,
}

fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .expect("port")
        .port()
}

/// A port for baresip's `sip_listen`: it binds UDP and TCP there and TLS on the next port, so
/// all three must be free (a port free for UDP alone once collided with another test's TCP).
fn free_sip_port() -> u16 {
    loop {
        let port = free_udp_port();
        let tcp = TcpListener::bind(("127.0.0.1", port));
        let tls = port
            .checked_add(1)
            .map(|next| TcpListener::bind(("127.0.0.1", next)));
        if tcp.is_ok() && matches!(tls, Some(Ok(_))) {
            return port;
        }
    }
}

fn free_tcp_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .expect("port")
        .port()
}

/// How a media test wants baresip set up: the codec it may use, the file it sends, and a JACK
/// server whose clock paces its playback (so what it receives is decoded and recorded).
pub(crate) struct MediaSetup<'a> {
    /// baresip's `audio_codecs` value, e.g. `opus/48000/2` or `g722`.
    pub(crate) codecs: &'a str,
    /// What baresip sends: a 48 kHz WAV (it resamples to the codec's rate).
    pub(crate) source: &'a std::path::Path,
    pub(crate) jack: &'a Jack,
    /// More account parameters, e.g. `;mediaenc=srtp-mand`.
    pub(crate) account_params: &'a str,
    /// Register at this registrar port on 127.0.0.1 with this password (calls then go
    /// through it); `None` for a baresip that takes direct calls only.
    pub(crate) registrar: Option<(u16, &'a str)>,
}

impl Baresip {
    /// `user` answers automatically when `auto_answer`.
    pub(crate) fn start(user: &str, auto_answer: bool) -> Self {
        Self::launch(user, auto_answer, None)
    }

    /// A baresip for audio checks: it sends `media.source`, plays what it receives on the JACK
    /// clock and records it (and what it sent) as WAV files in [`Self::recordings`].
    pub(crate) fn start_media(user: &str, auto_answer: bool, media: &MediaSetup<'_>) -> Self {
        Self::launch(user, auto_answer, Some(media))
    }

    /// Where a media baresip writes `dump-*-dec.wav` (received) and `dump-*-enc.wav` (sent).
    pub(crate) fn recordings(&self) -> PathBuf {
        self._dir.path().join("snd")
    }

    fn launch(user: &str, auto_answer: bool, media: Option<&MediaSetup<'_>>) -> Self {
        let dir = tempfile::tempdir().expect("dir");
        let sip_port = free_sip_port();
        let ctrl_port = free_tcp_port();
        let rtp = 20000 + (sip_port % 2000) * 10;
        // What baresip sends by default: 20 s of a 440 Hz tone.
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
        .expect("tone");
        let snd = dir.path().join("snd");
        std::fs::create_dir_all(&snd).expect("snd dir");
        // Opus must load before G.711 or baresip does not find it.
        let (modules, source, player, codecs) = match media {
            Some(m) => (
                "module\t\t\topus.so\nmodule\t\t\tg722.so\nmodule\t\t\tg711.so\nmodule\t\t\taufile.so\nmodule\t\t\tsrtp.so\n\
                 module\t\t\tjack.so\nmodule\t\t\tsndfile.so\n"
                    .to_owned(),
                m.source.display().to_string(),
                format!(
                    "audio_player\t\tjack,\nauplay_format\t\tfloat\nauplay_srate\t\t48000\nausrc_srate\t\t48000\njack_connect_ports\tno\nsnd_path\t\t{}\nopus_stereo\t\tno\nopus_sprop_stereo\tno\n",
                    snd.display()
                ),
                format!("{}{}", m.codecs, m.account_params),
            ),
            None => (
                "module\t\t\tg711.so\nmodule\t\t\taufile.so\n".to_owned(),
                tone.display().to_string(),
                String::new(),
                "pcmu,pcma".to_owned(),
            ),
        };
        std::fs::write(
            dir.path().join("config"),
            format!(
                "sip_listen\t\t127.0.0.1:{sip_port}\nnet_interface\t\t127.0.0.1\n\
                 rtp_ports\t\t{rtp}-{}\nmodule_path\t\t/usr/lib/baresip/modules\n\
                 {modules}\
                 module_app\t\taccount.so\nmodule_app\t\tmenu.so\nmodule_app\t\tctrl_tcp.so\nctrl_tcp_listen\t\t127.0.0.1:{ctrl_port}\n\
                 audio_source\t\taufile,{source}\n{player}",
                rtp + 19,
            ),
        )
        .expect("config");
        let answer = if auto_answer { ";answermode=auto" } else { "" };
        let aor = match media.and_then(|m| m.registrar) {
            Some((port, password)) => {
                format!(
                    "<sip:{user}@127.0.0.1:{port};transport=udp>;auth_pass={password};regint=60"
                )
            }
            None => format!("<sip:{user}@127.0.0.1:{sip_port};transport=udp>;regint=0"),
        };
        std::fs::write(
            dir.path().join("accounts"),
            format!("{aor}{answer};audio_codecs={codecs}\n"),
        )
        .expect("accounts");
        let log = dir.path().join("baresip.log");
        let out = std::fs::File::create(&log).expect("log");
        let mut command = Command::new("baresip");
        if let Some(m) = media {
            command.env("JACK_DEFAULT_SERVER", &m.jack.name);
        }
        let child = command
            .arg("-f")
            .arg(dir.path())
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("log"))
            .stderr(out)
            .process_group(0)
            .spawn()
            .expect("start baresip (apt install baresip)");
        let b = Baresip {
            child,
            sip_port,
            ctrl_port,
            log,
            _dir: dir,
        };
        let start = Instant::now();
        while TcpStream::connect(("127.0.0.1", ctrl_port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "baresip did not start: {}",
                b.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        b
    }

    /// Waits until baresip says its registration succeeded.
    pub(crate) fn wait_registered(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.log_text().contains("200 OK") {
            assert!(
                Instant::now() < deadline,
                "baresip did not register\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn no_response(&self, command: &str, why: &str, pending: &[u8]) -> String {
        let log = self.log_text();
        let tail: Vec<&str> = log.lines().rev().take(40).collect();
        // The process's state letter (R, S, D; Z once it has died unreaped).
        let alive = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id()))
            .ok()
            .and_then(|st| {
                let state = st.rsplit_once(") ")?.1.chars().next()?;
                Some(if state == 'Z' { "dead" } else { "running" })
            })
            .unwrap_or("gone");
        format!(
            "no response from baresip ({alive}) to `{command}`: {why}; received {:?}\n\
             baresip's log, last lines:\n{}",
            String::from_utf8_lossy(pending),
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        )
    }

    pub(crate) fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends one ctrl_tcp command (netstring JSON) and returns its response. baresip also pushes
    /// events on the same connection, so netstrings are read until the response comes. With no
    /// response (baresip stalled, crashed or closed the connection), what came instead is
    /// returned with the end of baresip's log, for the caller's assert to show.
    pub(crate) fn command(&self, command: &str, params: &str) -> String {
        let mut s = TcpStream::connect(("127.0.0.1", self.ctrl_port)).expect("ctrl_tcp");
        // Generous: a loaded CI machine (a parallel build) has kept baresip busy for seconds.
        s.set_read_timeout(Some(Duration::from_secs(10))).ok();
        let json = format!(r#"{{"command":"{command}","params":"{params}","token":"t"}}"#);
        let msg = format!("{}:{json},", json.len());
        s.write_all(msg.as_bytes()).expect("send");
        let mut pending: Vec<u8> = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            // Take every complete netstring ("LEN:DATA,") already received.
            while let Some(colon) = pending.iter().position(|&b| b == b':') {
                let Some(len) = std::str::from_utf8(&pending[..colon])
                    .ok()
                    .and_then(|l| l.parse::<usize>().ok())
                else {
                    return String::from_utf8_lossy(&pending).into_owned();
                };
                if pending.len() < colon + 1 + len + 1 {
                    break;
                }
                let item =
                    String::from_utf8_lossy(&pending[colon + 1..colon + 1 + len]).into_owned();
                pending.drain(..colon + 1 + len + 1);
                if item.contains("\"response\"") {
                    return item;
                }
            }
            match s.read(&mut buf) {
                Ok(n) if n > 0 => pending.extend_from_slice(&buf[..n]),
                ended => {
                    let why = match ended {
                        Err(e) => e.to_string(),
                        _ => "connection closed".into(),
                    };
                    return self.no_response(command, &why, &pending);
                }
            }
        }
    }
}

impl Drop for Baresip {
    fn drop(&mut self) {
        let pid = self.child.id() as i32;
        let _ = Command::new("kill")
            .args(["-TERM", "--", &format!("-{pid}")])
            .status();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(3) {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(30));
        }
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{pid}")])
            .status();
        let _ = self.child.wait();
    }
}
