//! The engine's accounts: adding, changing and removing them, their passwords in the OS
//! keyring, and starting or withdrawing their registrations.

use siperb_sip::{AccountConfig, AccountId, RegistrationState};
use siperb_store::{Keyring, SecretError};

use super::Engine;
use crate::EngineError;

impl Engine {
    pub(super) async fn add_account(&mut self, account: AccountConfig) -> Result<(), EngineError> {
        account.validate()?;
        if self.accounts.get(&account.id).is_some() {
            return Err(EngineError::AccountExists(account.id.0));
        }
        let mut next = self.accounts.clone();
        next.accounts.push(account);
        self.accounts = self.save_accounts(next).await?;
        self.announce_status();
        Ok(())
    }

    /// Adds `account`, or replaces the one with its id; stores `password` in the keyring when
    /// given. Then an enabled account registers afresh with its new settings (with the
    /// password given or saved; without either it says so), and a disabled one withdraws its
    /// registration. Nothing is saved when the account is not valid or the password cannot
    /// be stored.
    pub(super) async fn save_account(
        &mut self,
        account: AccountConfig,
        password: Option<String>,
    ) -> Result<(), EngineError> {
        account.validate()?;
        let id = account.id.clone();
        if let Some(password) = password.clone() {
            let name = id.0.clone();
            self.keyring(move |k| k.set_password(&name, &password))
                .await?;
        }
        let mut next = self.accounts.clone();
        match next.accounts.iter_mut().find(|a| a.id == id) {
            Some(existing) => *existing = account.clone(),
            None => next.accounts.push(account.clone()),
        }
        self.accounts = self.save_accounts(next).await?;
        if account.enabled {
            // A new registration replaces the running one (which un-registers).
            self.register(id, password).await
        } else {
            self.withdraw(&id);
            Ok(())
        }
    }

    /// Registers every enabled account whose password is saved (at start-up); returns the
    /// enabled accounts that have none.
    pub(super) async fn sign_in_saved(&mut self) -> Vec<AccountId> {
        let enabled: Vec<AccountId> = self
            .accounts
            .accounts
            .iter()
            .filter(|a| a.enabled)
            .map(|a| a.id.clone())
            .collect();
        let mut without = Vec::new();
        for id in enabled {
            match self.register(id.clone(), None).await {
                Ok(()) => {}
                Err(EngineError::NoPassword(_)) => without.push(id),
                Err(e) => tracing::warn!(account = %id.0, "cannot sign in: {e}"),
            }
        }
        without
    }

    /// Starts registering `id` with `password`, or with the one in the keyring.
    pub(super) async fn register(
        &mut self,
        id: AccountId,
        password: Option<String>,
    ) -> Result<(), EngineError> {
        let Some(account) = self.accounts.get(&id).cloned() else {
            return Err(EngineError::NoSuchAccount(id.0));
        };
        let password = match password {
            Some(p) => p,
            None => {
                let name = id.0.clone();
                match self.keyring(move |k| k.password(&name)).await? {
                    Some(p) => p,
                    None => return Err(EngineError::NoPassword(id.0)),
                }
            }
        };
        self.registrations.start(
            account,
            password,
            self.media.clone(),
            self.resolver.clone(),
            self.inbox.clone(),
        );
        Ok(())
    }

    /// Stops `id`'s registration (it un-registers) and its line.
    fn withdraw(&mut self, id: &AccountId) {
        self.registrations.stop(id);
        self.lines.remove(id);
        self.states
            .insert(id.clone(), RegistrationState::Unregistered);
        self.announce_status();
    }

    /// Runs `op` on the OS keyring, off the engine's threads (D-Bus calls block).
    pub(super) async fn keyring<T: Send + 'static>(
        &self,
        op: impl FnOnce(&Keyring) -> Result<T, SecretError> + Send + 'static,
    ) -> Result<T, EngineError> {
        let profile = self.profile.clone();
        tokio::task::spawn_blocking(move || op(&Keyring::open(&profile)?))
            .await
            .map_err(|_| EngineError::Stopped)?
            .map_err(EngineError::Keyring)
    }

    pub(super) async fn remove_account(&mut self, id: &AccountId) -> Result<(), EngineError> {
        if self.accounts.get(id).is_none() {
            return Err(EngineError::NoSuchAccount(id.0.clone()));
        }
        // Its password goes too; a keyring that cannot be reached keeps it (and says so).
        let name = id.0.clone();
        if let Err(e) = self.keyring(move |k| k.delete(&name)).await {
            tracing::warn!(account = %id.0, "the stored password could not be removed: {e}");
        }
        self.registrations.stop(id);
        self.lines.remove(id);
        let mut next = self.accounts.clone();
        next.accounts.retain(|a| &a.id != id);
        self.accounts = self.save_accounts(next).await?;
        self.states.remove(id);
        self.announce_status();
        Ok(())
    }
}
