//! The phone: one task owns all phone state (accounts, registrations, calls, settings); the app
//! shell and the CLI hold an [`EngineHandle`], send commands and subscribe to [`EngineEvent`]s.
//! Nothing else holds phone state, so there is no shared lock between layers.

mod alerts;
mod engine;
mod error;
mod event;
mod handle;
mod history;
mod registrations;
mod status;

pub use alerts::RingerEvent;
pub use engine::{Engine, EngineOptions, LOCAL_ACCOUNT};
pub use error::EngineError;
pub use event::EngineEvent;
pub use handle::EngineHandle;
pub use history::Party;
pub use siperb_media::PortRange;
pub use siperb_media::codec::CodecKind;
pub use siperb_media::srtp::SrtpMode;
pub use siperb_sip::call::{CallPhase, EndCause, Input as CallInput};
pub use siperb_sip::phone::{
    AudioSource, CallEvent, CallRef, ECHO_TARGET, MediaControl, MediaFactory, RtpFactory,
    without_visual_separators,
};
pub use siperb_sip::{
    AccountConfig, AccountId, RegistrationFailure, RegistrationState, SipAddress, Transport,
};
pub use siperb_store::civil::UtcDateTime;
pub use siperb_store::vcard;
pub use siperb_store::{
    AddressKind, AppPreferences, CallDirection, CallRecord, Contact, ContactAddress, ContactError,
    Contacts, Disposition, HistoryQuery, Profile, Settings, ThemePreference,
};
pub use status::{AccountStatus, EngineStatus, RegistrationSummary};

/// The version of the engine, the app and the CLI (one workspace version).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
