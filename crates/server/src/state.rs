//! What every handler shares: the site, and a way to run blocking engine
//! work off the async executor.

use std::sync::Arc;

use outpost_engine::Site;

use crate::error::{ApiError, ApiResult};

#[derive(Clone)]
pub struct AppState {
    pub site: Arc<Site>,
    /// The built UI (`ui/dist`) served to browsers, if any.
    pub ui_dir: Option<std::path::PathBuf>,
    /// Set when the server is asked to stop: endless answers (the live
    /// channel) end, so that the stop does not wait for their clients.
    stopping: Arc<std::sync::atomic::AtomicBool>,
    /// The newest update-log sequence, watched once for every live channel
    /// (started with the first channel).
    newest: Arc<std::sync::OnceLock<tokio::sync::watch::Receiver<i64>>>,
}

impl AppState {
    pub fn new(site: Site) -> Self {
        AppState {
            site: Arc::new(site),
            ui_dir: None,
            stopping: Arc::default(),
            newest: Arc::default(),
        }
    }

    /// The newest update-log sequence number, as it moves. One thread looks
    /// for new writes for every live channel: a write wakes each channel
    /// once with the new number, instead of each channel querying the log
    /// (with 200 consumers listening, 200 queries per write).
    pub fn newest_seq(&self) -> tokio::sync::watch::Receiver<i64> {
        self.newest
            .get_or_init(|| {
                // The watcher publishes the log's real end within one look;
                // nothing is read here, on the async executor.
                let (tx, rx) = tokio::sync::watch::channel(0);
                let site = self.site.clone();
                let spawned = std::thread::Builder::new()
                    .name("outpost-announce".into())
                    .spawn(move || watch_log(&site, &tx));
                if let Err(e) = spawned {
                    tracing::error!(error = %e, "cannot start the live channel's watcher: channels announce nothing, scheduled pulls still run");
                }
                rx
            })
            .clone()
    }

    /// Whether the server is stopping.
    pub fn is_stopping(&self) -> bool {
        self.stopping.load(std::sync::atomic::Ordering::Acquire)
    }

    /// From now on the server is stopping.
    pub fn stop(&self) {
        self.stopping
            .store(true, std::sync::atomic::Ordering::Release);
    }

    /// Serves the UI in `dir` to browsers (paths outside `/api`).
    pub fn with_ui(mut self, dir: std::path::PathBuf) -> Self {
        self.ui_dir = Some(dir);
        self
    }

    /// Runs long engine work (a sync, which may wait on a slow producer or
    /// on another caller's sync) on a thread of its own, so that it never
    /// takes a place in the blocking pool that requests need.
    pub async fn run_apart<T, F>(&self, f: F) -> ApiResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Site) -> outpost_engine::Result<T> + Send + 'static,
    {
        let site = self.site.clone();
        let (tx, rx) = tokio::sync::oneshot::channel();
        std::thread::Builder::new()
            .name("outpost-sync-now".into())
            .spawn(move || {
                let _ = tx.send(f(&site));
            })
            .map_err(|e| {
                tracing::error!(error = %e, "cannot start a thread");
                ApiError::internal("The site cannot start this work now; nothing was changed")
            })?;
        match rx.await {
            Ok(result) => result.map_err(ApiError::from),
            Err(_) => Err(ApiError::internal(
                "The operation was interrupted; nothing was changed",
            )),
        }
    }

    /// Runs engine work on tokio's blocking pool (SQLite and Argon2 block).
    pub async fn run<T, F>(&self, f: F) -> ApiResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Site) -> outpost_engine::Result<T> + Send + 'static,
    {
        let site = self.site.clone();
        match tokio::task::spawn_blocking(move || f(&site)).await {
            Ok(result) => result.map_err(ApiError::from),
            Err(e) => {
                tracing::error!(error = %e, "engine task failed");
                Err(ApiError::internal(
                    "The operation was interrupted; nothing was changed",
                ))
            }
        }
    }
}

/// How often the watcher looks for new writes (an atomic counter, no query).
const POLL: std::time::Duration = std::time::Duration::from_millis(20);
/// Writes by another process (the CLI) do not move the counter: read the
/// log itself this often anyway.
const RECHECK_EVERY: u32 = 50;

/// Publishes the newest update-log sequence whenever it grows; ends when
/// no channel can listen any more.
fn watch_log(site: &Site, tx: &tokio::sync::watch::Sender<i64>) {
    let (mut seen, mut ticks) = (u64::MAX, 0u32);
    loop {
        let generation = site.write_generation();
        ticks += 1;
        if generation != seen || ticks >= RECHECK_EVERY {
            (seen, ticks) = (generation, 0);
            match site.last_update_seq() {
                Ok(seq) => {
                    tx.send_if_modified(|newest| {
                        let grew = seq > *newest;
                        if grew {
                            *newest = seq;
                        }
                        grew
                    });
                }
                Err(e) => tracing::debug!(error = %e, "reading the newest update-log entry"),
            }
        }
        if tx.is_closed() {
            return;
        }
        std::thread::sleep(POLL);
    }
}
