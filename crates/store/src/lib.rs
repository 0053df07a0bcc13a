//! Storage for Siperb Desktop: where the profile lives and what it holds.
//!
//! One profile per OS user, shared by the app and the CLI. This first part resolves the profile
//! directories and keeps typed settings; SQLite contacts and history, migrations and the keyring
//! grow here (issue 6). Secrets never go into any file this crate writes.

mod accounts;
pub mod civil;
mod contacts;
pub mod db;
mod documents;
mod error;
mod history;
pub mod numbers;
mod profile;
mod secrets;
mod settings;
pub mod vcard;

pub use accounts::Accounts;
pub use contacts::{AddressKind, Contact, ContactAddress, ContactError, Contacts};
pub use db::DbError;
pub use documents::ProfileDocuments;
pub use error::StoreError;
pub use history::{
    CallDirection, CallEnd, CallRecord, Disposition, History, HistoryQuery, NewCall,
};
pub use profile::{PROFILE_ENV, Profile};
pub use secrets::{KEYRING_ENV, Keyring, SecretError};
pub use settings::{AppPreferences, Settings, ThemePreference};
