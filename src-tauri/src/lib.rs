//! The desktop shell. It only translates: UI commands become engine calls, engine events become
//! UI events. It holds no phone state beyond the [`EngineHandle`].

mod commands;
mod events;
mod ipc_error;
mod logging;

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

fn fatal(message: &str) -> ! {
    tracing::error!("{message}");
    eprintln!("{message}");
    std::process::exit(1);
}
