use serde::Serialize;
use siperb_engine::EngineError;
use specta::Type;

/// An error as the UI receives it: a stable `code` to branch on and a `message` to show.
#[derive(Debug, Clone, Serialize, Type)]
pub struct IpcError {
    pub code: String,
    pub message: String,
}

impl From<EngineError> for IpcError {
    fn from(e: EngineError) -> Self {
        Self {
            code: e.code().to_owned(),
            message: e.to_string(),
        }
    }
}

impl IpcError {
    /// An error the shell itself finds in what the UI sent.
    pub(crate) fn new(code: &str, message: &str) -> Self {
        Self {
            code: code.to_owned(),
            message: message.to_owned(),
        }
    }
}
