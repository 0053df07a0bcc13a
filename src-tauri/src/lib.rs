//! The desktop shell. It only translates: UI commands become engine calls, engine events become
//! UI events. It holds no phone state beyond the [`EngineHandle`].

mod accounts;
mod calls;
mod commands;
mod events;
mod ipc_error;
mod logging;
mod popup;

use siperb_engine::{Engine, EngineHandle, Profile};
use tauri::Manager;

pub use commands::specta_builder;
pub use ipc_error::IpcError;

/// Starts the app: the engine first, then the window.
pub fn run() {
    let profile = match Profile::from_env_or(None).and_then(|p| p.ensure().map(|()| p)) {
        Ok(p) => p,
        Err(e) => fatal(&format!("Siperb cannot open its profile folder: {e}")),
    };
    let mut log_guard = logging::init(profile.log_dir());
    tracing::info!(version = siperb_engine::VERSION, "Siperb Desktop starting");

    let builder = specta_builder();
    let started = tauri::async_runtime::block_on(async { Engine::start(profile) });
    let (engine, _engine_task) = match started {
        Ok(started) => started,
        Err(e) => fatal(&format!("Siperb's phone engine could not start: {e}")),
    };

    let app = tauri::Builder::default()
        .invoke_handler(builder.invoke_handler())
        .manage(engine.clone())
        .setup(move |app| {
            builder.mount_events(app);
            events::forward(app.handle().clone(), engine.subscribe());
            tauri::async_runtime::spawn(sign_in(engine.clone()));
            Ok(())
        })
        .build(tauri::generate_context!());
    let app = match app {
        Ok(app) => app,
        Err(e) => fatal(&format!("Siperb's window could not open: {e}")),
    };
    app.run(move |handle, event| {
        if let tauri::RunEvent::Exit = event {
            let engine = handle.state::<EngineHandle>().inner().clone();
            // Lets the engine un-register before the process ends.
            if let Err(e) = tauri::async_runtime::block_on(engine.shutdown()) {
                tracing::warn!("engine shutdown: {e}");
            }
            tracing::info!("Siperb Desktop stopped");
            // The process exits right after this event: flush the log file now.
            drop(log_guard.take());
        }
    });
}

/// Opens the local line (the echo test and direct calls work with no server) and signs in
/// every enabled account whose password is saved.
async fn sign_in(engine: EngineHandle) {
    let local = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    if let Err(e) = engine.start_local_line(local, "me".to_owned()).await {
        tracing::warn!("the local line did not open: {e}");
    }
    match engine.sign_in_saved().await {
        Ok(without) if !without.is_empty() => {
            tracing::info!(?without, "accounts without a saved password wait for one")
        }
        Ok(_) => {}
        Err(e) => tracing::warn!("signing in: {e}"),
    }
}

/// Shows the main window (restored, on top, focused).
pub(crate) fn show_main(app: &tauri::AppHandle) {
    if let Some(w) = app.get_webview_window("main") {
        let _ = w.unminimize();
        let _ = w.show();
        let _ = w.set_focus();
    }
}

fn fatal(message: &str) -> ! {
    tracing::error!("{message}");
    eprintln!("{message}");
    std::process::exit(1);
}
