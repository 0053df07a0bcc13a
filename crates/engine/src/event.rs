use serde::Serialize;
use siperb_store::Settings;
use specta::Type;

use crate::EngineStatus;

/// Everything the engine tells its front ends. Front ends subscribe; they never poll.
#[derive(Debug, Clone, PartialEq, Serialize, Type)]
#[serde(tag = "kind", rename_all = "camelCase")]
#[non_exhaustive]
pub enum EngineEvent {
    /// Accounts or their registration changed.
    StatusChanged {
        status: EngineStatus,
    },
    SettingsChanged {
        settings: Settings,
    },
    /// Something happened to a call on `account`.
    Call {
        account: String,
        event: siperb_sip::phone::CallEvent,
    },
    /// A call on `account` was missed (it is in the history): who it was, by the name in the
    /// contacts (else the one the call carried; may be empty) and number.
    CallMissed {
        account: String,
        name: String,
        number: String,
    },
    /// The number of missed calls not seen yet changed (the tray badge).
    MissedCalls {
        count: u32,
    },
    /// The microphone's level while the Settings view's meter is on (every 100 ms).
    MicLevel {
        level: siperb_audio::Level,
    },
    /// The ringer started, stopped, or cannot ring.
    Ringer {
        event: crate::RingerEvent,
    },
}
