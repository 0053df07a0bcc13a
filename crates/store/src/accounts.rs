use std::path::Path;

use serde::{Deserialize, Serialize};
use siperb_sip::{AccountConfig, AccountId};

use crate::StoreError;
use crate::settings::{read_json, write_json_atomically};

/// The configured SIP accounts, in the user's order. Passwords are not here: they live in the
/// OS keyring (or are given for one run).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Accounts {
    pub accounts: Vec<AccountConfig>,
}

impl Accounts {
    pub fn load(path: &Path) -> Result<Self, StoreError> {
        read_json(path)
    }

    pub fn save(&self, path: &Path) -> Result<(), StoreError> {
        write_json_atomically(path, self)
    }

    pub fn get(&self, id: &AccountId) -> Option<&AccountConfig> {
        self.accounts.iter().find(|a| &a.id == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_round_trip_without_any_secret_field() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let path = tmp.path().join("accounts.json");
        assert_eq!(Accounts::load(&path).expect("load"), Accounts::default());
        let mut a = AccountConfig::new(AccountId("work".into()), "sip:1001@pbx.example.com")
            .expect("account");
        a.registrar = Some("pbx.example.com:5080".into());
        let accounts = Accounts { accounts: vec![a] };
        accounts.save(&path).expect("save");
        assert_eq!(Accounts::load(&path).expect("load"), accounts);
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(!text.to_lowercase().contains("password"), "{text}");
        assert!(accounts.get(&AccountId("work".into())).is_some());
    }
}
