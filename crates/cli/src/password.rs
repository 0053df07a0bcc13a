//! Where a run's SIP password comes from: the variable `--password-env` names (this run
//! only), else the OS keyring (`account add --password-stdin`), else `SIPERB_PASSWORD`.

use siperb_engine::{AccountId, EngineError, EngineHandle};

use crate::error::CliError;

/// The variable read when nothing else gives the password.
pub(crate) const DEFAULT_ENV: &str = "SIPERB_PASSWORD";

/// Starts registering `id` with its password, from wherever it is.
pub(crate) async fn register(
    engine: &EngineHandle,
    id: &AccountId,
    password_env: Option<String>,
) -> Result<(), CliError> {
    if let Some(var) = password_env {
        let password = std::env::var(&var).map_err(|_| CliError::MissingPassword(var))?;
        return Ok(engine.register(id.clone(), password).await?);
    }
    match engine.register_saved(id.clone()).await {
        Ok(()) => Ok(()),
        // Nothing stored, or no keyring here: the variable still works, as before.
        Err(e @ (EngineError::NoPassword(_) | EngineError::Keyring(_))) => {
            match std::env::var(DEFAULT_ENV) {
                Ok(password) => Ok(engine.register(id.clone(), password).await?),
                Err(_) => Err(e.into()),
            }
        }
        Err(e) => Err(e.into()),
    }
}

/// Reads one line from stdin (without its line ending) as the password.
pub(crate) fn from_stdin() -> Result<String, CliError> {
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .map_err(|e| CliError::PasswordInput(e.to_string()))?;
    let password = line
        .strip_suffix('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .unwrap_or(&line)
        .to_owned();
    if password.is_empty() {
        return Err(CliError::PasswordInput(
            "stdin gave an empty password".into(),
        ));
    }
    Ok(password)
}
