//! Signalling for Siperb Desktop: accounts, registration and (later) calls.
//!
//! Decisions (what to register, when to retry, which flow may ring) live here as sans-IO state
//! machines: they take the current time and inputs and return what to do, so they are tested with
//! a fake clock. The SIP transactions, dialogs and transports come from rsipstack (issue 3).

mod account;
mod address;
mod backoff;
pub mod call;
pub mod digest;
pub mod dns;
pub mod flow;
mod gated;
pub mod phone;
mod registration;
pub mod replaces;
pub mod ua;
mod util;
pub mod wire;

pub use account::{AccountConfig, AccountError, AccountId, MediaSettings, TlsSettings, Transport};
pub use address::{AddressError, SipAddress};
pub use backoff::RetryBackoff;
pub use gated::GateCounters;
pub use registration::{
    Action as RegistrationAction, Authorization, Failover, Input as RegistrationInput,
    RegisterResponse, Registration, RegistrationConfig, RegistrationFailure, RegistrationState,
    ServerList, refresh_after,
};
pub use util::{parse_uri, random_seed};
