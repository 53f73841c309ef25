//! `outpostd`: the headless site (SPEC F26) and the CLI steps a script needs.

/// Sync builds and drops many small JSON values; mimalloc handles that
/// churn far better than the system allocator.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use outpost_engine::secrets::SecretStoreKind;
use outpost_engine::{Actor, Site};
use outpost_server::config::{FileConfig, DEFAULT_LISTEN};
use outpost_server::scheduler::Scheduler;
use outpost_server::AppState;
use serde_json::json;

#[derive(Parser)]
#[command(
    name = "outpostd",
    version,
    about = "Outpost headless site: the same engine and API as the desktop app, without a window"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Args)]
struct DataDir {
    /// The site's data directory (created if missing).
    #[arg(long, env = "OUTPOST_DATA_DIR")]
    data_dir: PathBuf,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the site's API. Prints {"listening": ADDR, "site_id": …} once ready.
    Serve {
        #[command(flatten)]
        dir: DataDir,
        /// Address to listen on; port 0 picks a free port. Default: outpost.toml's listen, else 127.0.0.1:8000.
        #[arg(long, env = "OUTPOST_LISTEN")]
        listen: Option<SocketAddr>,
        /// Seconds between scheduled pulls from Event Producers (Settings may change it).
        #[arg(long, env = "OUTPOST_SYNC_INTERVAL", default_value_t = 5.0)]
        sync_interval: f64,
        /// Where producer secrets are kept: the OS keyring (needs a Secret
        /// Service, e.g. gnome-keyring), or `file`: DATA_DIR/secrets.json,
        /// mode 0600, for a server with no keyring. Never SQLite.
        #[arg(long, env = "OUTPOST_SECRET_STORE", default_value = "keyring")]
        secret_store: SecretStoreKind,
        /// Show desktop notifications (failed syncs, subscriptions awaiting
        /// approval…) through the session's notification daemon.
        #[arg(long, env = "OUTPOST_NOTIFY")]
        notify: bool,
        /// The built UI to serve to browsers. Default: the ui/dist this
        /// binary was built next to, when present.
        #[arg(long, env = "OUTPOST_UI_DIR")]
        ui_dir: Option<PathBuf>,
        /// Scheduled pulls, automatic retries and live channels. `false`
        /// (a test and operations setting) leaves syncing to Sync now
        /// alone, so that what happens when is decided by whoever presses it.
        #[arg(long, env = "OUTPOST_BACKGROUND_SYNC", default_value_t = true, action = clap::ArgAction::Set)]
        background_sync: bool,
    },
    /// Create the site if needed, optionally setting its name and URL; prints the site info.
    Init {
        #[command(flatten)]
        dir: DataDir,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        url: Option<String>,
    },
    /// Users and their API keys.
    #[command(subcommand)]
    User(UserCommand),
    /// Insert generated documents in bulk (benchmarks, tests, demos): Note, Item, ToDo or Sales Invoice.
    Seed {
        #[command(flatten)]
        dir: DataDir,
        #[arg(long)]
        doctype: String,
        #[arg(long)]
        count: u32,
        /// Documents per transaction.
        #[arg(long, default_value_t = 1000)]
        batch: u32,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a user; prints {"user": …} (and keys with --generate-keys).
    Add {
        #[command(flatten)]
        dir: DataDir,
        #[arg(long)]
        email: String,
        #[arg(long)]
        full_name: Option<String>,
        /// A role to give (repeatable), e.g. --role "System Manager".
        #[arg(long = "role")]
        roles: Vec<String>,
        /// Also generate an API key and secret (the secret is printed only now).
        #[arg(long)]
        generate_keys: bool,
    },
    /// Generate a new API key and secret; prints {"user", "api_key", "api_secret"}.
    GenerateKeys {
        #[command(flatten)]
        dir: DataDir,
        #[arg(long)]
        email: String,
    },
    /// Set the password for browser sign-in, read from standard input (one line).
    SetPassword {
        #[command(flatten)]
        dir: DataDir,
        #[arg(long)]
        email: String,
    },
}

fn main() -> Result<()> {
    outpost_server::init_tracing();
    match Cli::parse().command {
        Command::Serve {
            dir,
            listen,
            sync_interval,
            secret_store,
            notify,
            ui_dir,
            background_sync,
        } => serve(Serve {
            data_dir: dir.data_dir,
            listen,
            sync_interval,
            secret_store,
            notify,
            ui_dir,
            background_sync,
        }),
        Command::Init { dir, name, url } => {
            let site = open(&dir.data_dir)?;
            let info = if name.is_some() || url.is_some() {
                site.configure(&Actor::system(), name.as_deref(), url.as_deref())?
            } else {
                site.info()?
            };
            print_json(&serde_json::to_value(info)?)
        }
        Command::User(UserCommand::Add {
            dir,
            email,
            full_name,
            roles,
            generate_keys,
        }) => {
            let site = open(&dir.data_dir)?;
            let rows: Vec<_> = roles.iter().map(|r| json!({ "role": r })).collect();
            let doc = json!({ "email": email, "full_name": full_name, "roles": rows });
            let user = site.insert(&Actor::system(), "User", doc)?;
            let name = user
                .get("name")
                .and_then(|n| n.as_str())
                .unwrap_or(&email)
                .to_owned();
            if generate_keys {
                print_keys(&site, &name)
            } else {
                print_json(&json!({ "user": name }))
            }
        }
        Command::User(UserCommand::GenerateKeys { dir, email }) => {
            print_keys(&open(&dir.data_dir)?, &email)
        }
        Command::User(UserCommand::SetPassword { dir, email }) => {
            let mut line = String::new();
            std::io::stdin()
                .read_line(&mut line)
                .context("Cannot read the password from standard input")?;
            let password = outpost_engine::Secret::new(line.trim_end_matches(['\r', '\n']));
            open(&dir.data_dir)?.set_password(&Actor::system(), &email, &password)?;
            print_json(&json!({ "user": email, "password": "set" }))
        }
        Command::Seed {
            dir,
            doctype,
            count,
            batch,
        } => {
            let site = open(&dir.data_dir)?;
            let made = outpost_engine::seed::seed(&site, &doctype, count, batch.max(1))?;
            print_json(&json!({ "doctype": doctype, "inserted": made }))
        }
    }
}

fn open(dir: &std::path::Path) -> Result<Site> {
    Site::open(dir).with_context(|| format!("Cannot open the site in {}", dir.display()))
}

fn print_keys(site: &Site, user: &str) -> Result<()> {
    let keys = site.generate_keys(&Actor::system(), user)?;
    print_json(
        &json!({ "user": keys.user, "api_key": keys.api_key, "api_secret": keys.api_secret.expose() }),
    )
}

fn print_json(v: &serde_json::Value) -> Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{v}")?;
    out.flush()?;
    Ok(())
}

struct Serve {
    data_dir: PathBuf,
    listen: Option<SocketAddr>,
    sync_interval: f64,
    secret_store: SecretStoreKind,
    notify: bool,
    ui_dir: Option<PathBuf>,
    background_sync: bool,
}

fn serve(opts: Serve) -> Result<()> {
    let Serve {
        data_dir,
        listen,
        sync_interval,
        secret_store,
        notify,
        ui_dir,
        background_sync,
    } = opts;
    if !(0.05..=86_400.0).contains(&sync_interval) {
        anyhow::bail!(
            "--sync-interval must be between 0.05 and 86400 seconds, got {sync_interval}"
        );
    }
    let file = FileConfig::load(&data_dir)?;
    let addr = match listen.or(file.listen) {
        Some(a) => a,
        None => DEFAULT_LISTEN.parse().context("default listen address")?,
    };
    let site = Site::open_with(&data_dir, secret_store)
        .with_context(|| format!("Cannot open the site in {}", data_dir.display()))?;
    if notify {
        site.set_notice_sink(outpost_server::notify::desktop_notifications());
    }
    let ui_dir = match ui_dir {
        Some(d) if d.join("index.html").is_file() => Some(d),
        Some(d) => anyhow::bail!(
            "--ui-dir {}: no index.html there (build the UI first)",
            d.display()
        ),
        None => outpost_server::default_ui_dir(),
    };
    if ui_dir.is_none() {
        tracing::warn!("no built UI found: serving the API only (build ui/ or pass --ui-dir)");
    }
    let info = site.info()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(16)
        .build()
        .context("Cannot start the async runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("Cannot listen on {addr}"))?;
        let bound = listener.local_addr()?;
        tracing::info!(%bound, site_id = %info.site_id, "serving");
        let mut state = AppState::new(site);
        if let Some(dir) = ui_dir {
            state = state.with_ui(dir);
        }
        if background_sync {
            Scheduler::start(
                state.site.clone(),
                std::time::Duration::from_secs_f64(sync_interval),
            );
        } else {
            tracing::info!("background sync off: only Sync now pulls");
        }
        print_json(&json!({ "listening": bound.to_string(), "site_id": info.site_id }))?;
        outpost_server::serve(state, listener, shutdown_signal()).await?;
        Ok(())
    })
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
