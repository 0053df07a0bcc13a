//! `siperb-cli register`: stay registered until interrupted, reporting each state change.

use siperb_engine::{AccountId, EngineEvent, EngineHandle, RegistrationFailure, RegistrationState};

use crate::error::CliError;

pub(crate) async fn run(
    engine: &EngineHandle,
    account: Option<String>,
    password_env: Option<String>,
    json: bool,
) -> Result<(), CliError> {
    let accounts = engine.accounts().await?;
    let id = match account {
        Some(name) => AccountId(name),
        None => match accounts.as_slice() {
            [] => return Err(CliError::NoAccount),
            [only] => only.id.clone(),
            _ => return Err(CliError::Ambiguous),
        },
    };
    // The password: --password-env for this run, else the keyring, else SIPERB_PASSWORD.
    // It is never printed.
    let mut interrupts =
        crate::interrupts::Interrupts::new().map_err(crate::error::CliError::Interrupts)?;
    let mut events = engine.subscribe();
    crate::password::register(engine, &id, password_env).await?;
    let mut last: Option<RegistrationState> = None;
    loop {
        tokio::select! {
            () = interrupts.next() => return Ok(()),
            event = events.recv() => {
                let Ok(EngineEvent::StatusChanged { status }) = event else { continue };
                let Some(state) = status.accounts.iter().find(|a| a.id == id).map(|a| a.registration.clone()) else {
                    continue;
                };
                if last.as_ref() == Some(&state) {
                    continue;
                }
                print_state(&id, &state, json);
                if let RegistrationState::Failed { failure } = &state
                    && matches!(failure, RegistrationFailure::AuthenticationFailed | RegistrationFailure::Forbidden)
                {
                    return Err(CliError::Failed(failure.describe()));
                }
                last = Some(state);
            }
        }
    }
}

fn print_state(id: &AccountId, state: &RegistrationState, json: bool) {
    let (event, detail) = match state {
        RegistrationState::Unregistered => ("unregistered", None),
        RegistrationState::Registering => ("registering", None),
        RegistrationState::Registered { expires_secs } => {
            ("registered", Some(format!("expires in {expires_secs} s")))
        }
        RegistrationState::Failed { failure } => ("registration_failed", Some(failure.describe())),
    };
    if json {
        let mut obj = serde_json::json!({"event": event, "account": id.0});
        if let Some(d) = &detail {
            obj[if event == "registration_failed" {
                "reason"
            } else {
                "detail"
            }] = serde_json::Value::from(d.clone());
        }
        println!("{obj}");
    } else {
        match detail {
            Some(d) => println!("{}: {event} ({d})", id.0),
            None => println!("{}: {event}", id.0),
        }
    }
}
