use siperb_store::StoreError;

/// What went wrong in the engine, with a stable [`code`](EngineError::code) for the UI and
/// scripts and a message a person understands.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    #[error("the phone engine has stopped")]
    Stopped,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("there is no account called \"{0}\"")]
    NoSuchAccount(String),
    #[error("an account called \"{0}\" already exists")]
    AccountExists(String),
    #[error(transparent)]
    InvalidAccount(#[from] siperb_sip::AccountError),
    #[error("no line can place the call: register an account first, or use the local line")]
    NoLine,
    #[error("several accounts can place the call: choose one")]
    LineAmbiguous,
    #[error("there is no such call (it may have ended)")]
    NoSuchCall,
    #[error(transparent)]
    Call(siperb_sip::phone::PhoneError),
    #[error("network: {0}")]
    Network(String),
    #[error(transparent)]
    History(siperb_store::DbError),
    #[error(transparent)]
    Contacts(siperb_store::ContactError),
    /// A sound device could not be used (no microphone, no sound server…).
    #[error("{0}")]
    Audio(siperb_audio::AudioError),
    #[error(transparent)]
    Keyring(siperb_store::SecretError),
    #[error(
        "no password is stored for \"{0}\": save it with `account add --password-stdin` or give it for this run with --password-env"
    )]
    NoPassword(String),
}

impl EngineError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::Stopped => "engine_stopped",
            Self::Store(StoreError::NoHome) => "profile_unavailable",
            Self::Store(StoreError::CreateDir { .. }) => "profile_unavailable",
            Self::Store(StoreError::Corrupt { .. }) => "settings_damaged",
            Self::Store(StoreError::Db(_)) => "profile_database",
            Self::Store(_) => "storage_failed",
            Self::NoSuchAccount(_) => "no_such_account",
            Self::AccountExists(_) => "account_exists",
            Self::InvalidAccount(_) => "invalid_account",
            Self::NoLine => "no_line",
            Self::LineAmbiguous => "account_ambiguous",
            Self::NoSuchCall => "no_such_call",
            Self::Call(siperb_sip::phone::PhoneError::BadTarget(_)) => "bad_target",
            Self::Call(_) => "call_failed",
            Self::Network(_) => "network",
            Self::Audio(_) => "audio_devices",
            Self::History(_) => "history_failed",
            Self::Contacts(siperb_store::ContactError::Empty) => "contact_empty",
            Self::Contacts(siperb_store::ContactError::NoSuchContact(_)) => "no_such_contact",
            Self::Contacts(_) => "contacts_failed",
            Self::Keyring(siperb_store::SecretError::Unavailable { .. }) => "keyring_unavailable",
            Self::Keyring(siperb_store::SecretError::Locked { .. }) => "keyring_locked",
            Self::Keyring(_) => "keyring_failed",
            Self::NoPassword(_) => "password_missing",
        }
    }
}
