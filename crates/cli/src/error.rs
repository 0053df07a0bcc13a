use siperb_engine::EngineError;

/// Why a CLI command failed: a one-line message for stderr and a stable code for scripts.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CliError {
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("no account to register: add one with `siperb-cli account add`")]
    NoAccount,
    #[error("several accounts exist: choose one with --account")]
    Ambiguous,
    #[error("the environment variable {0} is not set")]
    MissingPassword(String),
    #[error("registration failed: {0}")]
    Failed(String),
    #[error("call failed: {0}")]
    CallFailed(String),
    #[error("audio file: {0}")]
    Audio(String),
    #[error("cannot use the CA file {0}")]
    CaFile(String),
    #[error("cannot read the password: {0}")]
    PasswordInput(String),
    #[error("sound devices: {0}")]
    Devices(String),
    /// Ctrl+C cannot be watched for (the OS refused the signal handler).
    #[error("cannot watch for Ctrl+C: {0}")]
    Interrupts(std::io::Error),
    /// Options that do not go together, or a value no option takes.
    #[error("{0}")]
    Usage(String),
}

impl CliError {
    pub(crate) fn code(&self) -> &'static str {
        match self {
            Self::Engine(e) => e.code(),
            Self::NoAccount => "no_account",
            Self::Ambiguous => "account_ambiguous",
            Self::MissingPassword(_) => "password_missing",
            Self::Failed(_) => "registration_failed",
            Self::CallFailed(_) => "call_failed",
            Self::Audio(_) => "audio_file",
            Self::CaFile(_) => "ca_file",
            Self::PasswordInput(_) => "password_input",
            Self::Devices(_) => "audio_devices",
            Self::Usage(_) => "usage",
            Self::Interrupts(_) => "signals",
        }
    }
}
