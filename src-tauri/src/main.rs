//! `outpost`: the desktop shell (SPEC F22). A window over the local site,
//! which also serves the site's HTTP API so other sites and scripts reach it.

#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod commands;
mod tray;

/// Sync builds and drops many small JSON values; mimalloc handles that
/// churn far better than the system allocator.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Parser;
use outpost_engine::secrets::SecretStoreKind;
use outpost_engine::Site;
use outpost_server::config::{FileConfig, DEFAULT_LISTEN};
use outpost_server::scheduler::Scheduler;
use outpost_server::AppState;
use tauri::Manager;

#[derive(Parser)]
#[command(
    name = "outpost",
    version,
    about = "Outpost desktop: an offline-first site in a window"
)]
struct Cli {
    /// The site's data directory. Default: the app's data directory.
    #[arg(long, env = "OUTPOST_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Where the site's HTTP API listens. Default: outpost.toml's listen, else 127.0.0.1:8000.
    #[arg(long, env = "OUTPOST_LISTEN")]
    listen: Option<SocketAddr>,
    /// Where producer secrets are kept: the OS keyring (default), or
    /// `file` (DATA_DIR/secrets.json, mode 0600) chosen explicitly.
    #[arg(long, env = "OUTPOST_SECRET_STORE", default_value = "keyring")]
    secret_store: SecretStoreKind,
}

fn main() -> Result<()> {
    outpost_server::init_tracing();
    let cli = Cli::parse();
    tauri::Builder::default()
        .setup(move |app| {
            let data_dir = match cli.data_dir.clone() {
                Some(d) => d,
                None => app
                    .path()
                    .app_data_dir()
                    .context("No data directory for this user")?,
            };
            let site = Site::open_with(&data_dir, cli.secret_store)
                .with_context(|| format!("Cannot open the site in {}", data_dir.display()))?;
            site.set_notice_sink(outpost_server::notify::desktop_notifications());
            // Browsers on the shop's network reach the same screens at the
            // API's address (the first-run wizard's administrator signs in there).
            let mut state = AppState::new(site);
            if let Some(dir) = outpost_server::default_ui_dir() {
                state = state.with_ui(dir);
            }
            app.manage(state.clone());
            let listen = match cli.listen.or(FileConfig::load(&data_dir)?.listen) {
                Some(a) => a,
                None => DEFAULT_LISTEN.parse()?,
            };
            // The desktop site syncs like the headless one: on a schedule and on live announcements.
            Scheduler::start(state.site.clone(), std::time::Duration::from_secs(5));
            tauri::async_runtime::spawn(serve_api(state, listen));
            Ok(())
        })
        .on_window_event(tray::on_window_event)
        .invoke_handler(tauri::generate_handler![
            commands::site_info,
            commands::list_doctypes,
            commands::get_doctype,
            commands::list_documents,
            commands::get_document,
            commands::insert_document,
            commands::update_document,
            commands::delete_document,
            commands::call_method,
        ])
        .run(tauri::generate_context!("../tauri.conf.json"))
        .context("The window could not be opened")
}

/// The API is a convenience of the desktop site: if its port is taken the
/// window still works, and the log says why the API is missing.
async fn serve_api(state: AppState, listen: SocketAddr) {
    let listener = match tokio::net::TcpListener::bind(listen).await {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!(%listen, error = %e, "the site's HTTP API is not served: cannot listen");
            return;
        }
    };
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "serving the site's HTTP API");
    }
    if let Err(e) = outpost_server::serve(state, listener, std::future::pending()).await {
        tracing::warn!(error = %e, "the site's HTTP API stopped");
    }
}
