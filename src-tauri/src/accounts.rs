//! Accounts as the Settings view edits them: the engine's [`AccountConfig`] with the address
//! as the text a person types, and the commands that list, save and remove them.

use serde::{Deserialize, Serialize};
use siperb_engine::{
    AccountConfig, AccountId, CodecKind, EngineError, EngineHandle, PortRange, SipAddress,
    SrtpMode, Transport,
};
use specta::Type;
use tauri::State;

use crate::IpcError;

/// One account in the form the UI edits. `id` is `None` for an account not saved yet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AccountForm {
    pub(crate) id: Option<String>,
    /// `user@host[:port]`, with or without `sip:`.
    pub(crate) address: String,
    pub(crate) display_name: Option<String>,
    /// The registrar (`host[:port]`) when it is not the address's host.
    pub(crate) server: Option<String>,
    pub(crate) outbound_proxy: Option<String>,
    pub(crate) transport: Transport,
    /// The authentication user when it differs from the address's user.
    pub(crate) auth_user: Option<String>,
    pub(crate) expires_secs: u32,
    pub(crate) enabled: bool,
    /// The codecs to offer, best first (empty: the defaults).
    pub(crate) codecs: Vec<CodecKind>,
    pub(crate) srtp: SrtpMode,
    /// Check the server's TLS certificate (TLS only).
    pub(crate) verify_server: bool,
    /// A PEM file of extra trusted certificate authorities (TLS; none: the system's).
    pub(crate) ca_file: Option<String>,
    /// The UDP ports calls' media may use, `FIRST-LAST` (none: any free port).
    pub(crate) rtp_ports: Option<String>,
}

/// The longest text any account field takes.
const FIELD_MAX_CHARS: usize = 256;

impl AccountForm {
    fn from_config(a: &AccountConfig) -> Self {
        Self {
            id: Some(a.id.0.clone()),
            address: a.address.to_string(),
            display_name: a.display_name.clone(),
            server: a.registrar.clone(),
            outbound_proxy: a.outbound_proxy.clone(),
            transport: a.transport,
            auth_user: a.auth_user.clone(),
            expires_secs: a.expires_secs,
            enabled: a.enabled,
            codecs: a.media.codecs.clone(),
            srtp: a.media.srtp,
            verify_server: a.tls.verify_server,
            ca_file: a.tls.ca_file.as_ref().map(|p| p.display().to_string()),
            rtp_ports: a.media.rtp_ports.map(|r| r.to_string()),
        }
    }

    /// The account to save: `existing` (the one with this form's id) keeps what the form
    /// does not show; a new one gets a fresh id not in `taken`.
    fn into_config(
        self,
        existing: Option<&AccountConfig>,
        taken: &[AccountId],
    ) -> Result<AccountConfig, IpcError> {
        let address =
            SipAddress::parse(&self.address).map_err(|e| EngineError::InvalidAccount(e.into()))?;
        let rtp_ports = match tidy(self.rtp_ports) {
            None => None,
            Some(text) => Some(text.parse::<PortRange>().map_err(|e| {
                IpcError::new("invalid_rtp_ports", &format!("The media ports: {e}"))
            })?),
        };
        let ca_file = match tidy(self.ca_file) {
            None => None,
            // Kept absolute and checked now, so a typo shows here and not at the first
            // secure connection.
            Some(path) => Some(std::fs::canonicalize(&path).map_err(|e| {
                IpcError::new(
                    "invalid_ca_file",
                    &format!("The certificate authority file {path} cannot be read: {e}"),
                )
            })?),
        };
        let mut a = match existing {
            Some(a) => a.clone(),
            None => AccountConfig::new(new_id(&address, taken), &self.address)
                .map_err(EngineError::from)?,
        };
        a.address = address;
        a.display_name = tidy(self.display_name);
        a.registrar = tidy(self.server).map(|s| s.trim_start_matches("sip:").to_owned());
        a.outbound_proxy = tidy(self.outbound_proxy);
        a.transport = self.transport;
        a.auth_user = tidy(self.auth_user);
        a.expires_secs = self.expires_secs;
        a.enabled = self.enabled;
        let mut codecs = Vec::new();
        for c in self.codecs {
            if !codecs.contains(&c) {
                codecs.push(c);
            }
        }
        a.media.codecs = codecs;
        a.media.srtp = self.srtp;
        a.tls.verify_server = self.verify_server;
        a.tls.ca_file = ca_file;
        a.media.rtp_ports = rtp_ports;
        Ok(a)
    }
}

/// An optional text field: trimmed and cut to length; blank is `None`.
fn tidy(value: Option<String>) -> Option<String> {
    let v: String = value?.trim().chars().take(FIELD_MAX_CHARS).collect();
    (!v.is_empty()).then_some(v)
}

/// An id for a new account: its `user@host`, with a number after it when that is taken.
fn new_id(address: &SipAddress, taken: &[AccountId]) -> AccountId {
    let base = format!("{}@{}", address.user, address.host);
    (1..)
        .map(|n| {
            if n == 1 {
                base.clone()
            } else {
                format!("{base}-{n}")
            }
        })
        .map(AccountId)
        .find(|id| !taken.contains(id))
        .unwrap_or(AccountId(base))
}

/// The accounts, as the Settings view edits them.
#[tauri::command]
#[specta::specta]
pub(crate) async fn get_accounts(
    engine: State<'_, EngineHandle>,
) -> Result<Vec<AccountForm>, IpcError> {
    let accounts = engine.accounts().await?;
    Ok(accounts.iter().map(AccountForm::from_config).collect())
}

/// Saves an account (a new one when it has no id) and, when given, its password into the OS
/// keyring; an enabled account then signs in. Returns the account as saved.
#[tauri::command]
#[specta::specta]
pub(crate) async fn save_account(
    engine: State<'_, EngineHandle>,
    account: AccountForm,
    password: Option<String>,
) -> Result<AccountForm, IpcError> {
    let existing = engine.accounts().await?;
    let taken: Vec<AccountId> = existing.iter().map(|a| a.id.clone()).collect();
    let current = match &account.id {
        Some(id) => Some(
            existing
                .iter()
                .find(|a| &a.id.0 == id)
                .ok_or_else(|| EngineError::NoSuchAccount(id.clone()))?,
        ),
        None => None,
    };
    let config = account.into_config(current, &taken)?;
    let password = password.filter(|p| !p.is_empty());
    engine.save_account(config.clone(), password).await?;
    Ok(AccountForm::from_config(&config))
}

/// Removes an account, its password and its registration.
#[tauri::command]
#[specta::specta]
pub(crate) async fn remove_account(
    engine: State<'_, EngineHandle>,
    id: String,
) -> Result<(), IpcError> {
    Ok(engine.remove_account(AccountId(id)).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(address: &str) -> AccountForm {
        AccountForm {
            id: None,
            address: address.into(),
            display_name: Some("  Ann  ".into()),
            server: Some(" sip:pbx.example.com:5080 ".into()),
            outbound_proxy: Some("   ".into()),
            transport: Transport::Tcp,
            auth_user: None,
            expires_secs: 600,
            enabled: true,
            codecs: vec![CodecKind::Pcmu, CodecKind::Opus, CodecKind::Pcmu],
            srtp: SrtpMode::Optional,
            verify_server: true,
            ca_file: None,
            rtp_ports: Some(" 30000-30099 ".into()),
        }
    }

    #[test]
    fn a_new_account_gets_an_id_from_its_address_and_tidy_fields() {
        let taken = [AccountId("1001@example.com".into())];
        let a = form("sip:1001@Example.com")
            .into_config(None, &taken)
            .expect("valid");
        assert_eq!(a.id.0, "1001@example.com-2");
        assert_eq!(a.display_name.as_deref(), Some("Ann"));
        assert_eq!(a.registrar.as_deref(), Some("pbx.example.com:5080"));
        assert_eq!(a.outbound_proxy, None);
        assert_eq!(a.media.codecs, vec![CodecKind::Pcmu, CodecKind::Opus]);
        assert_eq!(a.transport, Transport::Tcp);
        assert_eq!(a.expires_secs, 600);
        assert_eq!(
            a.media.rtp_ports.map(|r| r.to_string()).as_deref(),
            Some("30000-30099")
        );
        let back = AccountForm::from_config(&a);
        assert_eq!(back.address, "sip:1001@example.com");
        assert_eq!(back.id.as_deref(), Some("1001@example.com-2"));
    }

    #[test]
    fn an_edit_keeps_the_id_and_what_the_form_does_not_show() {
        let mut old = AccountConfig::new(AccountId("work".into()), "sip:1@a.example").expect("ok");
        old.enabled = false;
        let mut f = form("2@b.example");
        f.id = Some("work".into());
        let a = f.into_config(Some(&old), &[]).expect("valid");
        assert_eq!(a.id.0, "work");
        assert_eq!(a.address.user, "2");
        assert!(a.enabled, "the form's switch counts");
    }

    #[test]
    fn bad_fields_are_typed_errors() {
        let e = form("no-at-sign")
            .into_config(None, &[])
            .expect_err("invalid");
        assert_eq!(e.code, "invalid_account");
        assert!(e.message.contains("no-at-sign"), "{}", e.message);
        let mut f = form("1@a.example");
        f.rtp_ports = Some("30001-30000".into());
        let e = f.into_config(None, &[]).expect_err("bad range");
        assert_eq!(e.code, "invalid_rtp_ports");
        let mut f = form("1@a.example");
        f.ca_file = Some("/no/such/ca.pem".into());
        let e = f.into_config(None, &[]).expect_err("no file");
        assert_eq!(e.code, "invalid_ca_file");
        assert!(e.message.contains("/no/such/ca.pem"), "{}", e.message);
    }
}
