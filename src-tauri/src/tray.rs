//! The tray icon: the phone's state at a glance (a dot: registered, connecting, failed, do
//! not disturb), a badge and count for missed calls, and a menu with Show, Do Not Disturb and
//! Quit. It follows engine events; its menu drives the engine like any front end.

use std::sync::Mutex;

use siperb_engine::{AppPreferences, EngineEvent, EngineHandle, RegistrationSummary};
use tauri::image::Image;
use tauri::menu::{CheckMenuItem, Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::{TrayIcon, TrayIconBuilder};
use tauri::{AppHandle, Manager, Wry};

const ID: &str = "siperb";
const SHOW: &str = "show";
const DND: &str = "dnd";
const QUIT: &str = "quit";

/// What the icon shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dot {
    /// No account, or none switched on.
    Idle,
    Connecting,
    Registered,
    Failed,
    DoNotDisturb,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Shown {
    summary: Option<RegistrationSummary>,
    dnd: bool,
    missed: u32,
}

/// The tray icon, its Do Not Disturb item and what they show (kept in the app's state).
pub(crate) struct Tray {
    icon: TrayIcon<Wry>,
    dnd: CheckMenuItem<Wry>,
    shown: Mutex<Shown>,
    base: Image<'static>,
}

/// Builds the tray icon. With no status-notifier host on the desktop it is invisible, and
/// that is no error.
pub(crate) fn build(app: &AppHandle) -> tauri::Result<()> {
    let show = MenuItem::with_id(app, SHOW, "Show Siperb", true, None::<&str>)?;
    let dnd = CheckMenuItem::with_id(app, DND, "Do Not Disturb", true, false, None::<&str>)?;
    let quit = MenuItem::with_id(app, QUIT, "Quit", true, None::<&str>)?;
    let menu = Menu::with_items(
        app,
        &[&show, &dnd, &PredefinedMenuItem::separator(app)?, &quit],
    )?;
    let base = app
        .default_window_icon()
        .cloned()
        .map(|i| Image::new_owned(i.rgba().to_vec(), i.width(), i.height()))
        .unwrap_or_else(|| Image::new_owned(vec![0; 32 * 32 * 4], 32, 32));
    let shown = Shown {
        summary: None,
        dnd: false,
        missed: 0,
    };
    let icon = TrayIconBuilder::with_id(ID)
        .icon(render(&base, dot(&shown), 0))
        .tooltip(tooltip(&shown))
        .menu(&menu)
        .show_menu_on_left_click(true)
        .on_menu_event(|app, event| on_menu(app, event.id().as_ref()))
        .build(app)?;
    app.manage(Tray {
        icon,
        dnd,
        shown: Mutex::new(shown),
        base,
    });
    Ok(())
}

fn on_menu(app: &AppHandle, id: &str) {
    match id {
        SHOW => crate::show_main(app),
        DND => {
            let engine = app.state::<EngineHandle>().inner().clone();
            let tray_dnd = app.state::<Tray>().dnd.clone();
            tauri::async_runtime::spawn(async move {
                // The item toggled itself; the engine's answer (or the old state) is the truth.
                let on = tray_dnd.is_checked().unwrap_or(false);
                let result = match engine.settings().await {
                    Ok(settings) => {
                        let app = AppPreferences {
                            do_not_disturb: on,
                            ..settings.app
                        };
                        engine.set_app_preferences(app).await
                    }
                    Err(e) => Err(e),
                };
                if let Err(e) = result {
                    tracing::warn!("do not disturb could not change: {e}");
                    let _ = tray_dnd.set_checked(!on);
                }
            });
        }
        QUIT => app.exit(0),
        _ => {}
    }
}

/// Updates the icon from an engine event.
pub(crate) fn follow(app: &AppHandle, event: &EngineEvent) {
    let Some(tray) = app.try_state::<Tray>() else {
        return;
    };
    let Ok(mut shown) = tray.shown.lock() else {
        return;
    };
    let before = shown.clone();
    match event {
        EngineEvent::StatusChanged { status } => shown.summary = Some(status.summary.clone()),
        EngineEvent::SettingsChanged { settings } => shown.dnd = settings.app.do_not_disturb,
        EngineEvent::MissedCalls { count } => shown.missed = *count,
        _ => return,
    }
    if *shown == before {
        return;
    }
    if shown.dnd != before.dnd {
        let _ = tray.dnd.set_checked(shown.dnd);
    }
    let _ = tray
        .icon
        .set_icon(Some(render(&tray.base, dot(&shown), shown.missed)));
    let _ = tray.icon.set_tooltip(Some(tooltip(&shown)));
    // The count beside the icon, where the desktop shows one.
    let _ = tray
        .icon
        .set_title((shown.missed > 0).then(|| shown.missed.to_string()));
}

fn dot(s: &Shown) -> Dot {
    if s.dnd {
        return Dot::DoNotDisturb;
    }
    match &s.summary {
        None | Some(RegistrationSummary::NoAccount | RegistrationSummary::NotRegistered) => {
            Dot::Idle
        }
        Some(RegistrationSummary::Registering) => Dot::Connecting,
        Some(RegistrationSummary::Registered { .. }) => Dot::Registered,
        Some(RegistrationSummary::Failed { .. }) => Dot::Failed,
    }
}

/// "Siperb: Registered, 2 missed calls".
fn tooltip(s: &Shown) -> String {
    let state = match &s.summary {
        None => "starting".to_owned(),
        Some(RegistrationSummary::NoAccount) => "no account".to_owned(),
        Some(RegistrationSummary::NotRegistered) => "not registered".to_owned(),
        Some(RegistrationSummary::Registering) => "connecting".to_owned(),
        Some(RegistrationSummary::Registered { .. }) => "registered".to_owned(),
        Some(RegistrationSummary::Failed { reason }) => format!("failed: {reason}"),
    };
    let mut text = format!("Siperb: {state}");
    if s.dnd {
        text.push_str(", do not disturb");
    }
    match s.missed {
        0 => {}
        1 => text.push_str(", 1 missed call"),
        n => text.push_str(&format!(", {n} missed calls")),
    }
    text
}

/// The app icon with a state dot at the bottom right and, with missed calls, a red badge at
/// the top right.
fn render(base: &Image<'_>, dot: Dot, missed: u32) -> Image<'static> {
    let (w, h) = (base.width(), base.height());
    let mut rgba = base.rgba().to_vec();
    let r = (w.min(h) as f32) * 0.22;
    let colour = match dot {
        Dot::Idle => [0x8a, 0x94, 0xa3],
        Dot::Connecting => [0xd9, 0x8c, 0x00],
        Dot::Registered => [0x1a, 0x9c, 0x4a],
        Dot::Failed | Dot::DoNotDisturb => [0xc6, 0x28, 0x28],
    };
    disc(
        &mut rgba,
        w,
        h,
        (w as f32 - r - 1.0, h as f32 - r - 1.0),
        r,
        colour,
    );
    if dot == Dot::DoNotDisturb {
        // A white bar across the red dot: the "no entry" sign.
        let (cx, cy) = (w as f32 - r - 1.0, h as f32 - r - 1.0);
        for y in 0..h {
            for x in 0..w {
                let (dx, dy) = (x as f32 + 0.5 - cx, y as f32 + 0.5 - cy);
                if dx.abs() <= r * 0.6 && dy.abs() <= r * 0.18 {
                    put(&mut rgba, w, x, y, [0xff, 0xff, 0xff]);
                }
            }
        }
    }
    if missed > 0 {
        disc(
            &mut rgba,
            w,
            h,
            (w as f32 - r - 1.0, r + 1.0),
            r,
            [0xe5, 0x39, 0x35],
        );
    }
    Image::new_owned(rgba, w, h)
}

fn disc(rgba: &mut [u8], w: u32, h: u32, centre: (f32, f32), r: f32, colour: [u8; 3]) {
    for y in 0..h {
        for x in 0..w {
            let (dx, dy) = (x as f32 + 0.5 - centre.0, y as f32 + 0.5 - centre.1);
            let d = (dx * dx + dy * dy).sqrt();
            if d <= r + 1.0 {
                // A one-pixel white ring keeps the dot apart from the icon.
                let c = if d > r { [0xff, 0xff, 0xff] } else { colour };
                put(rgba, w, x, y, c);
            }
        }
    }
}

fn put(rgba: &mut [u8], w: u32, x: u32, y: u32, c: [u8; 3]) {
    let i = ((y * w + x) * 4) as usize;
    if let Some(px) = rgba.get_mut(i..i + 4) {
        px.copy_from_slice(&[c[0], c[1], c[2], 0xff]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tooltip_says_the_state_and_the_missed_calls() {
        let s = Shown {
            summary: Some(RegistrationSummary::Registered {
                registered: 1,
                enabled: 1,
            }),
            dnd: true,
            missed: 2,
        };
        assert_eq!(
            tooltip(&s),
            "Siperb: registered, do not disturb, 2 missed calls"
        );
        assert_eq!(dot(&s), Dot::DoNotDisturb);
    }

    #[test]
    fn the_badge_and_dot_are_drawn_in_the_corners() {
        let base = Image::new_owned(vec![0; 32 * 32 * 4], 32, 32);
        let img = render(&base, Dot::Registered, 1);
        let px = |x: u32, y: u32| {
            let i = ((y * 32 + x) * 4) as usize;
            img.rgba()[i..i + 4].to_vec()
        };
        assert_eq!(px(24, 24), vec![0x1a, 0x9c, 0x4a, 0xff], "green dot");
        assert_eq!(px(24, 7), vec![0xe5, 0x39, 0x35, 0xff], "red badge");
        assert_eq!(px(2, 2), vec![0, 0, 0, 0], "the icon elsewhere");
    }
}
