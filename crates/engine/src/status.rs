use serde::Serialize;
use siperb_sip::{AccountId, RegistrationState};
use specta::Type;

/// One account as the status bar and the account list show it.
#[derive(Debug, Clone, PartialEq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct AccountStatus {
    pub id: AccountId,
    /// `sip:user@host`.
    pub address: String,
    pub display_name: Option<String>,
    /// Switched on by the user (a switched-off account does not register).
    pub enabled: bool,
    pub registration: RegistrationState,
    /// Why the registration failed, in words (when it did).
    pub failure_reason: Option<String>,
}

/// The one-line state of the phone for the status bar and the tray icon.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Type)]
#[serde(tag = "state", rename_all = "camelCase")]
pub enum RegistrationSummary {
    /// No account is configured: the phone can only make the echo test call.
    NoAccount,
    /// Accounts exist but none is registering or registered (switched off, or not started).
    NotRegistered,
    Registering,
    /// `registered` of `enabled` enabled accounts are registered.
    Registered {
        registered: u32,
        enabled: u32,
    },
    /// No enabled account is registered and at least one failed; `reason` is the first failure.
    Failed {
        reason: String,
    },
}

/// A snapshot of the phone's state.
#[derive(Debug, Clone, PartialEq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct EngineStatus {
    pub version: String,
    /// Where contacts, history and logs are kept.
    pub data_dir: String,
    pub accounts: Vec<AccountStatus>,
    pub summary: RegistrationSummary,
}

impl RegistrationSummary {
    /// Folds the accounts' states into one line: registered beats registering beats failed.
    pub fn of(accounts: &[AccountStatus]) -> Self {
        if accounts.is_empty() {
            return Self::NoAccount;
        }
        let enabled: Vec<&RegistrationState> = accounts
            .iter()
            .map(|a| &a.registration)
            .filter(|r| !matches!(r, RegistrationState::Unregistered))
            .collect();
        if enabled.is_empty() {
            return Self::NotRegistered;
        }
        let registered = enabled
            .iter()
            .filter(|r| matches!(r, RegistrationState::Registered { .. }))
            .count();
        if registered > 0 {
            return Self::Registered {
                registered: u32::try_from(registered).unwrap_or(u32::MAX),
                enabled: u32::try_from(enabled.len()).unwrap_or(u32::MAX),
            };
        }
        if enabled
            .iter()
            .any(|r| matches!(r, RegistrationState::Registering))
        {
            return Self::Registering;
        }
        match enabled.iter().find_map(|r| match r {
            RegistrationState::Failed { failure } => Some(failure.describe()),
            _ => None,
        }) {
            Some(reason) => Self::Failed { reason },
            None => Self::Registering,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use siperb_sip::RegistrationFailure;

    fn account(registration: RegistrationState) -> AccountStatus {
        AccountStatus {
            id: AccountId("a".into()),
            address: "sip:a@example.com".into(),
            display_name: None,
            enabled: true,
            failure_reason: None,
            registration,
        }
    }

    #[test]
    fn summary_table() {
        use RegistrationState as R;
        let failed = || R::Failed {
            failure: RegistrationFailure::AuthenticationFailed,
        };
        assert_eq!(RegistrationSummary::of(&[]), RegistrationSummary::NoAccount);
        assert_eq!(
            RegistrationSummary::of(&[account(R::Unregistered)]),
            RegistrationSummary::NotRegistered
        );
        assert_eq!(
            RegistrationSummary::of(&[account(R::Registering), account(failed())]),
            RegistrationSummary::Registering
        );
        assert_eq!(
            RegistrationSummary::of(&[
                account(R::Registered { expires_secs: 300 }),
                account(failed())
            ]),
            RegistrationSummary::Registered {
                registered: 1,
                enabled: 2
            }
        );
        assert!(matches!(
            RegistrationSummary::of(&[account(failed())]),
            RegistrationSummary::Failed { reason } if reason.starts_with("authentication failed")
        ));
    }
}
