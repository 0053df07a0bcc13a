//! `siperb-cli account add|list|remove`.

use clap::{Args, Subcommand, ValueEnum};
use siperb_engine::{AccountConfig, AccountId, EngineHandle, Transport};

use crate::error::CliError;

#[derive(Debug, Subcommand)]
pub(crate) enum AccountCommand {
    /// Add an account (with --password-stdin its password goes into the OS keyring).
    Add(AddArgs),
    /// List the accounts.
    List,
    /// Remove an account.
    Remove { name: String },
}

#[derive(Debug, Args)]
pub(crate) struct AddArgs {
    /// A short name to refer to the account by.
    name: String,
    /// The account's SIP address, e.g. sip:alice@example.org.
    #[arg(long)]
    uri: String,
    /// The registrar, e.g. sip:pbx.example.org:5060 (default: the host of --uri).
    #[arg(long)]
    server: Option<String>,
    #[arg(long, value_enum, default_value_t = TransportArg::Udp)]
    transport: TransportArg,
    /// A PEM file of CA certificates to trust for TLS instead of the system's (for a
    /// private PBX certificate). The server certificate is always verified.
    #[arg(long, value_name = "FILE")]
    ca_file: Option<std::path::PathBuf>,
    /// Do not check the TLS server's certificate at all. Only for a test server: anyone on the
    /// path could then read and change the calls. Prefer --ca-file.
    #[arg(long, conflicts_with = "ca_file")]
    tls_no_verify: bool,
    /// The digest user name, when it differs from the user part of --uri.
    #[arg(long)]
    auth_user: Option<String>,
    #[arg(long)]
    outbound_proxy: Option<String>,
    /// A display name for outgoing calls.
    #[arg(long)]
    display_name: Option<String>,
    /// Registration lifetime in seconds.
    #[arg(long, default_value_t = 300)]
    expires: u32,
    /// Read the password from the first line of stdin and keep it in the OS keyring.
    #[arg(long)]
    password_stdin: bool,
    /// The codecs to offer and accept on this account, best first (comma-separated: opus,
    /// g722, pcmu, pcma); default all of them in that order.
    #[arg(long, value_enum, value_delimiter = ',')]
    codecs: Vec<crate::CodecArg>,
    /// SDES-SRTP on this account: off, optional (offered, used when the far end agrees) or
    /// required (calls without it fail).
    #[arg(long, value_enum, default_value = "off")]
    srtp: crate::SrtpArg,
    /// The UDP ports this account's calls may use for media, FIRST-LAST (what a firewall
    /// opens, e.g. 30000-30099); default any free port.
    #[arg(long, value_name = "FIRST-LAST")]
    rtp_ports: Option<siperb_media::PortRange>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum TransportArg {
    Udp,
    Tcp,
    Tls,
}

pub(crate) async fn run(
    engine: &EngineHandle,
    cmd: AccountCommand,
    json: bool,
) -> Result<(), CliError> {
    match cmd {
        AccountCommand::Add(a) => {
            let mut account = AccountConfig::new(AccountId(a.name.clone()), &a.uri)
                .map_err(siperb_engine::EngineError::from)?;
            account.registrar = a.server.map(|s| s.trim_start_matches("sip:").to_owned());
            account.transport = match a.transport {
                TransportArg::Udp => Transport::Udp,
                TransportArg::Tcp => Transport::Tcp,
                TransportArg::Tls => Transport::Tls,
            };
            if let Some(ca) = a.ca_file {
                // Stored absolute so `register` works from any directory; checked now so a
                // typo fails here, not at the first TLS handshake.
                let ca = std::fs::canonicalize(&ca)
                    .map_err(|e| CliError::CaFile(format!("{}: {e}", ca.display())))?;
                account.tls.ca_file = Some(ca);
            }
            if a.tls_no_verify {
                account.tls.verify_server = false;
            }
            account.auth_user = a.auth_user;
            account.outbound_proxy = a.outbound_proxy;
            account.display_name = a.display_name;
            account.expires_secs = a.expires;
            let mut codecs: Vec<siperb_media::CodecKind> = Vec::new();
            for c in a.codecs.iter().copied().map(siperb_media::CodecKind::from) {
                if !codecs.contains(&c) {
                    codecs.push(c);
                }
            }
            account.media.codecs = codecs;
            account.media.srtp = a.srtp.into();
            account.media.rtp_ports = a.rtp_ports;
            let password = if a.password_stdin {
                Some(crate::password::from_stdin()?)
            } else {
                None
            };
            let id = account.id.clone();
            engine.add_account(account).await?;
            if let Some(password) = password
                && let Err(e) = engine.set_password(id.clone(), password).await
            {
                // All or nothing: an account whose password went nowhere is taken back.
                let _ = engine.remove_account(id).await;
                return Err(e.into());
            }
            if json {
                println!(
                    "{}",
                    serde_json::json!({"event": "account_added", "account": a.name})
                );
            } else {
                println!("added account {}", a.name);
            }
        }
        AccountCommand::List => {
            let accounts = engine.accounts().await?;
            if json {
                println!("{}", crate::to_json(&accounts));
            } else if accounts.is_empty() {
                println!("no accounts");
            } else {
                for a in accounts {
                    let server = a.registrar.as_deref().unwrap_or(&a.address.host).to_owned();
                    println!("{}\t{}\t{:?}\t{server}", a.id.0, a.address, a.transport);
                }
            }
        }
        AccountCommand::Remove { name } => {
            engine.remove_account(AccountId(name.clone())).await?;
            if !json {
                println!("removed account {name}");
            }
        }
    }
    Ok(())
}
