//! The desktop shell. It only translates: UI commands become engine calls, engine events become
//! UI events, and the desktop's own ways of showing them (the tray, the incoming-call popup,
//! notifications, links). It holds no phone state beyond the [`EngineHandle`]: what it keeps
//! (which notification belongs to which ringing call, a link not yet shown) is only for those.

mod accounts;
mod calls;
mod commands;
mod desktop;
mod events;
mod ipc_error;
mod links;
mod logging;
mod notify;
mod popup;
mod sound;
mod tray;

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

    let log_dir = LogDir(profile.log_dir().to_path_buf());
    let builder = specta_builder();
    let started = tauri::async_runtime::block_on(async { Engine::start(profile) });
    let (engine, _engine_task) = match started {
        Ok(started) => started,
        Err(e) => fatal(&format!("Siperb's phone engine could not start: {e}")),
    };

    let app = tauri::Builder::default()
        // First: a second launch hands its link (or just itself) to the running app and exits.
        .plugin(tauri_plugin_single_instance::init(|app, argv, _cwd| {
            // Links go through the deep-link plugin (its `deep-link` feature); a plain second
            // launch brings the window forward.
            if !argv.iter().skip(1).any(|a| links::target_of(a).is_some()) {
                show_main(app);
            }
        }))
        .plugin(tauri_plugin_deep_link::init())
        .invoke_handler(builder.invoke_handler())
        .manage(engine.clone())
        .manage(log_dir)
        .setup(move |app| {
            builder.mount_events(app);
            app.manage(notify::Notices::default());
            if let Err(e) = tray::build(app.handle()) {
                tracing::warn!("no tray icon: {e}");
            }
            if std::env::args().any(|a| a == desktop::MINIMIZED)
                && let Some(w) = app.get_webview_window("main")
            {
                let _ = w.hide();
            }
            events::forward(app.handle().clone(), engine.subscribe());
            links::setup(app.handle());
            tauri::async_runtime::spawn(sign_in(app.handle().clone(), engine.clone()));
            Ok(())
        })
        .build(tauri::generate_context!());
    let app = match app {
        Ok(app) => app,
        Err(e) => fatal(&format!("Siperb's window could not open: {e}")),
    };
    app.run(move |handle, event| {
        // Closing the main window keeps the phone running in the tray (Quit is in its menu).
        if let tauri::RunEvent::WindowEvent {
            label,
            event: tauri::WindowEvent::CloseRequested { api, .. },
            ..
        } = &event
            && label == "main"
        {
            api.prevent_close();
            if let Some(w) = handle.get_webview_window("main") {
                let _ = w.hide();
            }
        }
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
async fn sign_in(app: tauri::AppHandle, engine: EngineHandle) {
    // The tray starts from the current state; events keep it current.
    if let Ok(status) = engine.status().await {
        tray::follow(&app, &siperb_engine::EngineEvent::StatusChanged { status });
    }
    if let Ok(settings) = engine.settings().await {
        tray::follow(
            &app,
            &siperb_engine::EngineEvent::SettingsChanged { settings },
        );
    }
    if let Ok(count) = engine.unseen_missed_calls().await {
        tray::follow(&app, &siperb_engine::EngineEvent::MissedCalls { count });
    }
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

/// Where the app's logs are written (the SIP trace among them).
pub(crate) struct LogDir(pub std::path::PathBuf);

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
