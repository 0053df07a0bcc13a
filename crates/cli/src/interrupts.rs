//! Ctrl+C as a stream made once per command: a Ctrl+C pressed while the command is busy (an
//! event being printed, a call being set up) waits for it, instead of being lost between two
//! `tokio::signal::ctrl_c()` futures (seen in CI: a caller's Ctrl+C ignored while ringing).

pub(crate) struct Interrupts {
    #[cfg(unix)]
    inner: tokio::signal::unix::Signal,
    #[cfg(windows)]
    inner: tokio::signal::windows::CtrlC,
}

impl Interrupts {
    pub(crate) fn new() -> std::io::Result<Self> {
        #[cfg(unix)]
        let inner = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
        #[cfg(windows)]
        let inner = tokio::signal::windows::ctrl_c()?;
        Ok(Self { inner })
    }

    /// The next Ctrl+C (one already pressed counts).
    pub(crate) async fn next(&mut self) {
        if self.inner.recv().await.is_none() {
            std::future::pending::<()>().await;
        }
    }
}
