use std::path::Path;

use tracing_appender::non_blocking::WorkerGuard;
use tracing_appender::rolling::{Builder, Rotation};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Logs to stderr and to a daily-rotated file in the profile's log folder (a week kept).
/// `SIPERB_LOG` sets the filter (default `info`). The returned guard flushes the file on drop.
pub(crate) fn init(log_dir: &Path) -> Option<WorkerGuard> {
    // rsipstack logs whole SIP messages (at info), whose SDP carries SRTP keys: capped
    // at warn whatever SIPERB_LOG asks, so keys never reach a log.
    let filter = || {
        let f = EnvFilter::try_from_env("SIPERB_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
        match "rsipstack=warn".parse() {
            Ok(cap) => f.add_directive(cap),
            Err(_) => f,
        }
    };
    let stderr = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let file = Builder::new()
        .rotation(Rotation::DAILY)
        .filename_prefix("siperb")
        .filename_suffix("log")
        .max_log_files(7)
        .build(log_dir);
    match file {
        Ok(appender) => {
            let (writer, guard) = tracing_appender::non_blocking(appender);
            let file_layer = tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .with_writer(writer);
            tracing_subscriber::registry()
                .with(filter())
                .with(stderr)
                .with(file_layer)
                .init();
            Some(guard)
        }
        Err(e) => {
            tracing_subscriber::registry()
                .with(filter())
                .with(stderr)
                .init();
            tracing::warn!("no log file in {}: {e}", log_dir.display());
            None
        }
    }
}
