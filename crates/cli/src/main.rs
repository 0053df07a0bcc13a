//! `siperb-cli`: the headless phone on the same engine as the app. It only translates between
//! the command line and the engine; phone logic stays in the engine.

use std::path::PathBuf;
use std::process::ExitCode;

mod account;
mod calls;
mod contacts;
mod control;
mod devices;
mod error;
mod history;
mod interrupts;
mod password;
mod register;
mod settings;

use clap::{Parser, Subcommand, ValueEnum};
use error::CliError;
use siperb_engine::{Engine, EngineStatus, Profile, RegistrationSummary, ThemePreference};

#[derive(Debug, Parser)]
#[command(
    name = "siperb-cli",
    version,
    about = "Siperb Desktop's headless softphone",
    long_about = "Siperb Desktop's headless softphone: the same engine as the app, for scripts, tests and \
                  power users. It shares the app's profile (accounts, contacts, history, settings).",
    after_help = "The profile folder defaults to the OS user's (as the app's); SIPERB_PROFILE or --profile \
                  point both the app and the CLI at another one."
)]
struct Cli {
    /// Use this profile folder instead of the OS user's default (also: SIPERB_PROFILE).
    #[arg(long, global = true, value_name = "DIR")]
    profile: Option<PathBuf>,

    /// Print JSON: one object per line for events.
    #[arg(long, global = true)]
    json: bool,

    /// Ask this name server (IP or IP:PORT, repeatable) instead of the system's, for the
    /// NAPTR/SRV/A lookups that find an account's servers.
    #[arg(long = "dns-server", global = true, value_name = "IP[:PORT]", value_parser = parse_dns_server)]
    dns_servers: Vec<std::net::SocketAddr>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Show the accounts and their registration state.
    Status,
    /// Add, list or remove accounts.
    #[command(subcommand)]
    Account(account::AccountCommand),
    /// Register an account and stay registered until interrupted (Ctrl+C un-registers).
    Register {
        /// The account to register (needed when there are several).
        #[arg(long)]
        account: Option<String>,
        /// Read the password from this environment variable, for this run only
        /// (default SIPERB_PASSWORD).
        #[arg(long, value_name = "VAR")]
        password_env: Option<String>,
    },
    /// Place a call; ends after --duration or when the far end hangs up.
    Call {
        /// Whom to call: sip:bob@host[:port], tel:+15551234, bob@host, or a number at the
        /// account's domain.
        target: String,
        #[command(flatten)]
        line: LineArgs,
        /// Hang up this many seconds after the answer.
        #[arg(long, value_name = "SECS")]
        duration: Option<u64>,
        /// Send these digits (SIP INFO) once answered, a quarter second apart.
        #[arg(long, value_name = "DIGITS")]
        dtmf: Option<String>,
        /// Take commands from stdin, one per line (answer, hold, transfer, attended, swap,
        /// call… see `help`); the run lasts while any call does.
        #[arg(long)]
        control: bool,
        #[command(flatten)]
        audio: AudioArgs,
    },
    /// Wait for calls (and answer them with --auto-answer) until interrupted.
    Listen {
        #[command(flatten)]
        line: LineArgs,
        /// Answer every incoming call.
        #[arg(long)]
        auto_answer: bool,
        /// Take commands from stdin, one per line (answer, reject, hold, transfer, attended,
        /// swap, call… ); `quit` hangs up and stops.
        #[arg(long)]
        control: bool,
        #[command(flatten)]
        audio: AudioArgs,
    },
    /// Show or change settings.
    #[command(subcommand)]
    Settings(SettingsCommand),
    /// The profile's contacts: add, list, search, remove, import and export vCards.
    #[command(subcommand)]
    Contacts(contacts::ContactsCommand),
    /// The call history, newest first (this profile's: the app's calls and the CLI's).
    History {
        /// Only missed calls.
        #[arg(long)]
        missed: bool,
        /// Only calls whose name, number or address contains this.
        #[arg(long, value_name = "TEXT")]
        search: Option<String>,
        /// At most this many calls.
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// Then mark the missed calls seen (the badge goes).
        #[arg(long)]
        mark_seen: bool,
        /// Instead: forget every finished call.
        #[arg(long, conflicts_with_all = ["missed", "search", "mark_seen"])]
        clear: bool,
    },
    /// List the microphones and speakers (the sound server's names; default marked).
    Devices {
        /// Then keep watching: print each device that comes or goes, and new defaults,
        /// until interrupted.
        #[arg(long)]
        watch: bool,
        /// Instead: print the chosen microphone's level (RMS and peak, dBFS) ten times a
        /// second for SECS seconds.
        #[arg(long, value_name = "SECS", conflicts_with_all = ["watch", "test_tone"])]
        level: Option<f64>,
        /// Instead: play the test tone on the call speaker or the ringer device.
        #[arg(long, value_enum, conflicts_with = "watch")]
        test_tone: Option<ToneTarget>,
    },
}

#[derive(Debug, clap::Args)]
struct LineArgs {
    /// The account to use; without any account the local line (no server) is used.
    #[arg(long)]
    account: Option<String>,
    /// Read the password from this environment variable, for this run only
    /// (default SIPERB_PASSWORD).
    #[arg(long, value_name = "VAR")]
    password_env: Option<String>,
    /// The local line's address (no account): default the machine's address, port 5060
    /// for listen and any free port for call.
    #[arg(long, value_name = "IP:PORT")]
    bind: Option<std::net::SocketAddr>,
}

#[derive(Debug, Clone, clap::Args)]
struct AudioArgs {
    /// Play this 16-bit PCM WAV file as the microphone, in real time (then silence), instead
    /// of using the sound devices.
    #[arg(long, value_name = "FILE.wav")]
    audio_in: Option<PathBuf>,
    /// Write what the far end sent to this WAV file (mono, 48 kHz, in real time from its first
    /// sound) instead of playing it on the speaker.
    #[arg(long, value_name = "FILE.wav")]
    audio_out: Option<PathBuf>,
    /// Use no sound device: a silent microphone (unless --audio-in) and no speaker.
    #[arg(long)]
    no_audio: bool,
    /// The microphone to use, by name (or a unique part of it) or id, as `devices` lists
    /// them; default the system's.
    #[arg(long, value_name = "NAME")]
    input_device: Option<String>,
    /// The speaker to use, by name (or a unique part of it) or id; default the system's.
    #[arg(long, value_name = "NAME")]
    output_device: Option<String>,
    /// The device the phone rings on, by name (or a unique part of it) or id; default the
    /// saved ringer device, else where calls' audio goes.
    #[arg(long, value_name = "NAME")]
    ringer_device: Option<String>,
    /// The ringtone for this run: classic, chime, marimba or soft.
    #[arg(long, value_name = "NAME")]
    ringtone: Option<siperb_audio::Ringtone>,
    /// No echo cancellation, noise suppression or gain control on the microphone for this run
    /// (Settings' switches otherwise; file devices are never processed).
    #[arg(long)]
    no_processing: bool,
    /// Do not ring for incoming calls (nor with --no-audio, --auto-answer, or file devices
    /// unless --ringer-device is given).
    #[arg(long)]
    no_ring: bool,
    /// The codec to prefer (the others stay as fallbacks): opus, g722, pcmu or pcma.
    #[arg(long, value_enum)]
    codec: Option<CodecArg>,
    /// Print call statistics every second (`stats` events: packets, loss, jitter, RTT,
    /// jitter-buffer delay, MOS).
    #[arg(long)]
    stats: bool,
    /// Encrypt the media with SDES-SRTP: off, optional (offer it, use it when the far end
    /// agrees) or required (calls without it fail); default the account's choice (off for the
    /// local line).
    #[arg(long, value_enum)]
    srtp: Option<SrtpArg>,
    /// The UDP ports the call's media may use, FIRST-LAST (e.g. 30000-30099); default the
    /// account's choice (any free port unless set).
    #[arg(long, value_name = "FIRST-LAST")]
    rtp_ports: Option<siperb_media::PortRange>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum SrtpArg {
    Off,
    Optional,
    Required,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum CodecArg {
    Opus,
    G722,
    Pcmu,
    Pcma,
}

impl From<CodecArg> for siperb_media::CodecKind {
    fn from(c: CodecArg) -> Self {
        match c {
            CodecArg::Opus => Self::Opus,
            CodecArg::G722 => Self::G722,
            CodecArg::Pcmu => Self::Pcmu,
            CodecArg::Pcma => Self::Pcma,
        }
    }
}

impl From<SrtpArg> for siperb_media::srtp::SrtpMode {
    fn from(a: SrtpArg) -> Self {
        match a {
            SrtpArg::Off => Self::Off,
            SrtpArg::Optional => Self::Optional,
            SrtpArg::Required => Self::Required,
        }
    }
}

impl AudioArgs {
    /// Whether this run rings for incoming calls, and on which device if one was named.
    fn ringing(
        &self,
        auto_answer: bool,
    ) -> Result<(bool, Option<siperb_audio::ChosenDevice>), CliError> {
        let files = self.audio_in.is_some() || self.audio_out.is_some();
        let ring = !(self.no_ring
            || self.no_audio
            || auto_answer
            || (files && self.ringer_device.is_none()));
        let device = match (&self.ringer_device, ring) {
            (Some(name), true) => {
                let devices =
                    siperb_audio::list_devices().map_err(|e| CliError::Devices(e.to_string()))?;
                devices::chosen(&devices, siperb_audio::DeviceDirection::Output, name)?
            }
            _ => None,
        };
        Ok((ring, device))
    }

    /// The devices named on the command line, looked up in the sound system's list.
    fn device_choice(&self) -> Result<siperb_audio::DeviceChoice, CliError> {
        use siperb_audio::DeviceDirection::{Input, Output};
        if self.input_device.is_none() && self.output_device.is_none() {
            return Ok(siperb_audio::DeviceChoice::default());
        }
        let devices = siperb_audio::list_devices().map_err(|e| CliError::Devices(e.to_string()))?;
        let find = |name: &Option<String>, direction| match name {
            Some(name) => devices::chosen(&devices, direction, name),
            None => Ok(None),
        };
        Ok(siperb_audio::DeviceChoice {
            microphone: find(&self.input_device, Input)?,
            speaker: find(&self.output_device, Output)?,
            ..siperb_audio::DeviceChoice::default()
        })
    }

    fn media(&self) -> Result<siperb_engine::RtpFactory, CliError> {
        let play = match &self.audio_in {
            Some(p) => {
                Some(siperb_media::wav::read(p).map_err(|e| CliError::Audio(e.to_string()))?)
            }
            None => None,
        };
        // The preferred codec first, then the others in their usual order.
        let codecs = match self.codec {
            Some(first) => {
                let first = siperb_media::CodecKind::from(first);
                std::iter::once(first)
                    .chain(
                        siperb_media::sdp::DEFAULT_CODECS
                            .into_iter()
                            .filter(|c| *c != first),
                    )
                    .collect()
            }
            None => Vec::new(),
        };
        let audio = if play.is_some() || self.audio_out.is_some() {
            siperb_engine::AudioSource::Files(siperb_audio::FileAudio {
                play,
                record_to: self.audio_out.clone(),
            })
        } else if self.no_audio {
            siperb_engine::AudioSource::Silence
        } else {
            siperb_engine::AudioSource::Devices(self.device_choice()?)
        };
        Ok(siperb_engine::RtpFactory {
            audio,
            codecs,
            srtp: self.srtp.map(siperb_media::srtp::SrtpMode::from),
            rtp_ports: self.rtp_ports,
            processing: self
                .no_processing
                .then_some(siperb_audio::ProcessingConfig::OFF),
            ..siperb_engine::RtpFactory::default()
        })
    }
}

impl From<LineArgs> for calls::LineChoice {
    fn from(a: LineArgs) -> Self {
        calls::LineChoice {
            account: a.account,
            password_env: a.password_env,
            bind: a.bind,
            stats: false,
        }
    }
}

#[derive(Debug, Subcommand)]
enum SettingsCommand {
    /// Print the settings as JSON.
    Show,
    /// Choose the colour theme (the app follows the change live).
    Theme { theme: Theme },
    /// Choose the microphone and speaker calls use (by name, a unique part of it, or id, as
    /// `devices` lists them; `default` for the system's), and whether a headset that appears
    /// takes the call. Remembered by id and name: the same device under a new id is found.
    Devices {
        #[arg(long, value_name = "NAME|default")]
        microphone: Option<String>,
        #[arg(long, value_name = "NAME|default")]
        speaker: Option<String>,
        #[arg(long, value_name = "on|off")]
        follow_headsets: Option<OnOff>,
    },
    /// Switch echo cancellation, noise suppression and automatic gain control on the
    /// microphone (calls in progress follow at once).
    Processing {
        #[arg(long, value_name = "on|off")]
        echo_cancellation: Option<OnOff>,
        #[arg(long, value_name = "on|off")]
        noise_suppression: Option<OnOff>,
        #[arg(long, value_name = "on|off")]
        auto_gain: Option<OnOff>,
    },
    /// Choose how the phone rings: the ringer device (`default`: where calls' audio goes),
    /// the ringtone (classic, chime, marimba, soft), the volume (0-100), whether a headset
    /// that appears rings; with --account, the ringtone of that account only (`default`:
    /// the ringer's again).
    Ringer {
        #[arg(long, value_name = "NAME|default")]
        device: Option<String>,
        #[arg(long, value_name = "NAME|default")]
        ringtone: Option<String>,
        #[arg(long, value_name = "0-100", value_parser = clap::value_parser!(u8).range(0..=100))]
        volume: Option<u8>,
        #[arg(long, value_name = "on|off")]
        follow_headsets: Option<OnOff>,
        #[arg(long, value_name = "ID")]
        account: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ToneTarget {
    Speaker,
    Ringer,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum OnOff {
    On,
    Off,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Theme {
    System,
    Light,
    Dark,
}

impl From<Theme> for ThemePreference {
    fn from(t: Theme) -> Self {
        match t {
            Theme::System => ThemePreference::System,
            Theme::Light => ThemePreference::Light,
            Theme::Dark => ThemePreference::Dark,
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut filter =
        tracing_subscriber::EnvFilter::try_from_env("SIPERB_LOG").unwrap_or_else(|_| "warn".into());
    // rsipstack logs whole SIP messages (at info), whose SDP carries SRTP keys: it is
    // capped at warn whatever SIPERB_LOG asks (keys never reach a log).
    if let Ok(cap) = "rsipstack=warn".parse() {
        filter = filter.add_directive(cap);
    }
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("siperb-cli: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(run(cli));
    // A `--control` reader may still be blocked on stdin: do not wait for it.
    runtime.shutdown_background();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("siperb-cli: {e} [{}]", e.code());
            ExitCode::FAILURE
        }
    }
}

fn parse_dns_server(text: &str) -> Result<std::net::SocketAddr, String> {
    if let Ok(addr) = text.parse() {
        return Ok(addr);
    }
    text.trim_matches(['[', ']'])
        .parse::<std::net::IpAddr>()
        .map(|ip| std::net::SocketAddr::new(ip, 53))
        .map_err(|_| format!("'{text}' is not an IP address or IP:PORT"))
}

async fn run(cli: Cli) -> Result<(), CliError> {
    if let Command::Devices {
        watch,
        level: None,
        test_tone: None,
    } = cli.command
    {
        // The sound system only: no profile, no engine.
        return tokio::task::spawn_blocking(move || devices::run(watch, cli.json))
            .await
            .map_err(|e| CliError::Devices(e.to_string()))?;
    }
    let profile =
        Profile::from_env_or(cli.profile.as_deref()).map_err(siperb_engine::EngineError::from)?;
    let (media, (ring, ringer_device), ringtone) = match &cli.command {
        Command::Call { audio, .. } => (audio.media()?, audio.ringing(false)?, audio.ringtone),
        Command::Listen {
            audio, auto_answer, ..
        } => (audio.media()?, audio.ringing(*auto_answer)?, audio.ringtone),
        _ => (siperb_engine::RtpFactory::default(), (false, None), None),
    };
    let (engine, task) = Engine::start_with(
        profile,
        siperb_engine::EngineOptions {
            media: std::sync::Arc::new(media),
            dns_servers: cli.dns_servers.clone(),
            ring,
            ringer_device,
            ringtone,
        },
    )?;
    let result = async {
        match cli.command {
            Command::Status => {
                let status = engine.status().await?;
                if cli.json {
                    println!("{}", to_json(&status));
                } else {
                    print_status(&status);
                }
            }
            Command::Settings(cmd) => settings::run(&engine, cmd).await?,
            Command::Account(cmd) => account::run(&engine, cmd, cli.json).await?,
            Command::Register {
                account,
                password_env,
            } => register::run(&engine, account, password_env, cli.json).await?,
            Command::Call {
                target,
                line,
                duration,
                dtmf,
                control,
                audio,
            } => {
                let mut choice: calls::LineChoice = line.into();
                choice.stats = audio.stats;
                calls::call(&engine, target, choice, duration, dtmf, control, cli.json).await?
            }
            Command::Contacts(cmd) => contacts::run(&engine, cmd, cli.json).await?,
            Command::History {
                missed,
                search,
                limit,
                mark_seen,
                clear,
            } => {
                let query = siperb_engine::HistoryQuery {
                    missed_only: missed,
                    search,
                    limit,
                };
                history::run(&engine, query, mark_seen, clear, cli.json).await?
            }
            Command::Devices {
                level, test_tone, ..
            } => devices::check(&engine, level, test_tone, cli.json).await?,
            Command::Listen {
                line,
                auto_answer,
                control,
                audio,
            } => {
                let mut choice: calls::LineChoice = line.into();
                choice.stats = audio.stats;
                calls::listen(&engine, choice, auto_answer, control, cli.json).await?
            }
        }
        Ok(())
    }
    .await;
    // Un-registers whatever is registered before the process ends.
    engine.shutdown().await?;
    let _ = task.await;
    result
}

pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> String {
    // Our status and settings types are plain data: serialising them cannot fail.
    serde_json::to_string_pretty(value).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}

fn print_status(status: &EngineStatus) {
    println!("siperb {}", status.version);
    println!("data: {}", status.data_dir);
    let summary = match &status.summary {
        RegistrationSummary::NoAccount => "No account".to_owned(),
        RegistrationSummary::NotRegistered => "Not registered".to_owned(),
        RegistrationSummary::Registering => "Registering".to_owned(),
        RegistrationSummary::Registered {
            registered,
            enabled,
        } => format!("Registered ({registered}/{enabled})"),
        RegistrationSummary::Failed { reason } => format!("Failed: {reason}"),
    };
    println!("state: {summary}");
    for a in &status.accounts {
        println!("  {} {:?}", a.address, a.registration);
    }
}
