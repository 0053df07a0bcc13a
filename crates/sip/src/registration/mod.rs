//! Registration: the state an account's registration is in, and the sans-IO machine that
//! decides what to send and when (RFC 3261 §10, RFC 5626 flow recovery).

mod failover;
mod machine;
mod state;

pub use failover::{Failover, ServerList};
pub use machine::{
    Action, Authorization, Input, RegisterResponse, Registration, RegistrationConfig,
};
pub use state::{RegistrationFailure, RegistrationState, refresh_after};
