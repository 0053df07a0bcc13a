//! Account passwords in the OS keyring, and nowhere else: the Secret Service (GNOME Keyring,
//! KWallet) on Linux, the Keychain on macOS, the Credential Manager on Windows.
//!
//! There is no fallback to a file. When no keyring can be reached the caller gets
//! [`SecretError::Unavailable`] with the reason, and can ask for a password for this run only.
//! On Linux `SIPERB_KEYRING=keyutils` chooses the kernel key store instead of the Secret
//! Service (for headless machines; it keeps passwords until the session ends, not across
//! reboots).

use std::sync::Arc;

use keyring_core::{CredentialStore, Entry, Error as KeyringError};

use crate::Profile;

/// Chooses the Linux backend: `secret-service` (the default) or `keyutils`.
pub const KEYRING_ENV: &str = "SIPERB_KEYRING";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SecretError {
    #[error(
        "no keyring is available to keep the password ({detail}); give it for this run instead (--password-env)"
    )]
    Unavailable { detail: String },
    #[error("the keyring refused access to the password ({detail}); unlock it and try again")]
    Locked { detail: String },
    #[error("the keyring failed: {detail}")]
    Failed { detail: String },
}

/// The OS keyring, opened for one profile: entries are named after the profile folder and the
/// account, so two profiles never read each other's passwords.
pub struct Keyring {
    store: Arc<CredentialStore>,
    service: String,
    kind: &'static str,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring")
            .field("kind", &self.kind)
            .field("service", &self.service)
            .finish()
    }
}

impl Keyring {
    /// Connects to the OS keyring. Blocking (D-Bus on Linux): call it off the async threads.
    pub fn open(profile: &Profile) -> Result<Self, SecretError> {
        Self::open_backend(profile, &std::env::var(KEYRING_ENV).unwrap_or_default())
    }

    /// Like [`open`](Self::open) with the backend named as `SIPERB_KEYRING` would name it
    /// (empty for the platform's own).
    pub fn open_backend(profile: &Profile, choice: &str) -> Result<Self, SecretError> {
        let (store, kind) = platform_store(choice.trim())?;
        Ok(Self {
            store,
            service: format!("Siperb Desktop ({})", profile.data_dir().display()),
            kind,
        })
    }

    /// Which keyring this is, for messages: "Secret Service", "kernel keyutils", ...
    pub fn kind(&self) -> &'static str {
        self.kind
    }

    fn entry(&self, account: &str) -> Result<Entry, SecretError> {
        self.store
            .build(&self.service, account, None)
            .map_err(classify)
    }

    /// Stores (or replaces) the password of `account`.
    pub fn set_password(&self, account: &str, password: &str) -> Result<(), SecretError> {
        self.entry(account)?
            .set_password(password)
            .map_err(classify)
    }

    /// The password of `account`, if one is stored.
    pub fn password(&self, account: &str) -> Result<Option<String>, SecretError> {
        match self.entry(account)?.get_password() {
            Ok(p) => Ok(Some(p)),
            Err(KeyringError::NoEntry) => Ok(None),
            Err(e) => Err(classify(e)),
        }
    }

    /// Forgets the password of `account` (no error if there was none).
    pub fn delete(&self, account: &str) -> Result<(), SecretError> {
        match self.entry(account)?.delete_credential() {
            Ok(()) | Err(KeyringError::NoEntry) => Ok(()),
            Err(e) => Err(classify(e)),
        }
    }
}

fn classify(e: KeyringError) -> SecretError {
    match e {
        KeyringError::NoStorageAccess(p) => SecretError::Locked {
            detail: p.to_string(),
        },
        KeyringError::NoDefaultStore => SecretError::Unavailable {
            detail: "no credential store".into(),
        },
        other => SecretError::Failed {
            detail: other.to_string(),
        },
    }
}

#[cfg(target_os = "linux")]
fn platform_store(choice: &str) -> Result<(Arc<CredentialStore>, &'static str), SecretError> {
    match choice {
        "keyutils" => linux_keyutils_keyring_store::Store::new()
            .map(|s| (s as Arc<CredentialStore>, "kernel keyutils"))
            .map_err(|e| SecretError::Unavailable {
                detail: e.to_string(),
            }),
        "" | "secret-service" => zbus_secret_service_keyring_store::Store::new()
            .map(|s| (s as Arc<CredentialStore>, "Secret Service"))
            .map_err(|e| SecretError::Unavailable {
                detail: format!("Secret Service: {e}"),
            }),
        other => Err(SecretError::Unavailable {
            detail: format!("{KEYRING_ENV}={other} is not a keyring (secret-service or keyutils)"),
        }),
    }
}

#[cfg(target_os = "macos")]
fn platform_store(_choice: &str) -> Result<(Arc<CredentialStore>, &'static str), SecretError> {
    apple_native_keyring_store::keychain::Store::new()
        .map(|s| (s as Arc<CredentialStore>, "Keychain"))
        .map_err(|e| SecretError::Unavailable {
            detail: e.to_string(),
        })
}

#[cfg(target_os = "windows")]
fn platform_store(_choice: &str) -> Result<(Arc<CredentialStore>, &'static str), SecretError> {
    windows_native_keyring_store::Store::new()
        .map(|s| (s as Arc<CredentialStore>, "Credential Manager"))
        .map_err(|e| SecretError::Unavailable {
            detail: e.to_string(),
        })
}

#[cfg(not(any(target_os = "linux", target_os = "macos", target_os = "windows")))]
fn platform_store(_choice: &str) -> Result<(Arc<CredentialStore>, &'static str), SecretError> {
    Err(SecretError::Unavailable {
        detail: "this operating system has no supported keyring".into(),
    })
}
