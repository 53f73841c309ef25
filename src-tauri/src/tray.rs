//! "Keep syncing in the background" (SPEC F22): when the user chose it in
//! Settings, closing the window hides it and a tray icon offers to open the
//! window again, sync now, or quit. Otherwise closing the window ends the app.

use outpost_engine::Actor;
use outpost_server::AppState;
use tauri::menu::{MenuBuilder, MenuItemBuilder};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Manager, Runtime, Window, WindowEvent};

const TRAY_ID: &str = "outpost";

/// Decides what a window's close button does.
pub fn on_window_event<R: Runtime>(window: &Window<R>, event: &WindowEvent) {
    let WindowEvent::CloseRequested { api, .. } = event else {
        return;
    };
    let state = window.state::<AppState>();
    let keep = state
        .site
        .info()
        .map(|i| i.keep_in_background)
        .unwrap_or(false);
    if !keep {
        return;
    }
    match ensure_tray(window.app_handle()) {
        Ok(()) => {
            api.prevent_close();
            if let Err(e) = window.hide() {
                tracing::warn!(error = %e, "cannot hide the window");
            }
            tracing::info!("window closed: syncing goes on in the background");
        }
        // Without a tray the window could not be reopened: close for real.
        Err(e) => tracing::warn!(error = %e, "no tray icon available: closing the app"),
    }
}

fn ensure_tray<R: Runtime>(app: &AppHandle<R>) -> tauri::Result<()> {
    if app.tray_by_id(TRAY_ID).is_some() {
        return Ok(());
    }
    let open = MenuItemBuilder::with_id("open", "Open Outpost").build(app)?;
    let sync = MenuItemBuilder::with_id("sync", "Sync now").build(app)?;
    let quit = MenuItemBuilder::with_id("quit", "Quit Outpost").build(app)?;
    let menu = MenuBuilder::new(app)
        .items(&[&open, &sync, &quit])
        .build()?;
    let mut tray = TrayIconBuilder::with_id(TRAY_ID)
        .tooltip("Outpost — syncing in the background")
        .menu(&menu)
        .on_menu_event(|app, event| match event.id().as_ref() {
            "open" => {
                if let Some(w) = app.get_webview_window("main") {
                    let _ = w.show();
                    let _ = w.set_focus();
                }
            }
            "sync" => {
                let site = app.state::<AppState>().site.clone();
                std::thread::spawn(move || {
                    if let Err(e) = site.sync_now(&Actor::system(), None, &|_| {}) {
                        tracing::warn!(error = %e, "Sync now from the tray failed");
                    }
                });
            }
            "quit" => app.exit(0),
            _ => {}
        });
    if let Some(icon) = app.default_window_icon() {
        tray = tray.icon(icon.clone());
    }
    tray.build(app)?;
    Ok(())
}
