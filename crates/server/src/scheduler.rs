//! Background sync (SPEC F11 a/b): pulls from every Event Producer on a
//! schedule, retries pending registrations and failed entries, and wakes
//! at once when a live channel or "Sync now" asks it to. Runs on its own
//! thread: all of its work is blocking (SQLite, HTTP client).

use std::collections::HashSet;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use outpost_engine::Site;

#[derive(Clone)]
pub struct Scheduler {
    wake: Arc<(Mutex<bool>, Condvar)>,
}

impl Scheduler {
    /// Starts the loop; it lives as long as the process.
    pub fn start(site: Arc<Site>, interval: Duration) -> Scheduler {
        let wake = Arc::new((Mutex::new(false), Condvar::new()));
        let s = Scheduler { wake: wake.clone() };
        let me = s.clone();
        let mut listening = HashSet::new();
        let spawned = std::thread::Builder::new()
            .name("outpost-sync".into())
            .spawn(move || {
                let mut due = Instant::now();
                let mut woken = true;
                loop {
                    let paused = site.info().is_ok_and(|i| !i.background_sync);
                    if !paused && (woken || Instant::now() >= due) {
                        // Whatever a producer sends, a panic ends this round,
                        // not the loop (and not the site).
                        let round = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                            run_once(&site)
                        }));
                        if round.is_err() {
                            tracing::error!(
                                "a sync round panicked; the next one runs as scheduled"
                            );
                        }
                        // Settings may change the interval while the site runs.
                        let every = site
                            .info()
                            .ok()
                            .and_then(|i| i.sync_interval)
                            .map_or(interval, Duration::from_secs_f64);
                        due = Instant::now() + every;
                    }
                    // New producers get their live channel within a couple of seconds.
                    me.listen_to_new_producers(&site, &mut listening);
                    let wait = due
                        .saturating_duration_since(Instant::now())
                        .min(Duration::from_secs(2));
                    let (lock, cv) = &*wake;
                    let guard = lock.lock().unwrap_or_else(|p| p.into_inner());
                    let (mut flag, _) = cv
                        .wait_timeout_while(guard, wait, |w| !*w)
                        .unwrap_or_else(|p| p.into_inner());
                    woken = *flag;
                    *flag = false;
                }
            });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start the sync thread: only Sync now will pull");
        }
        s
    }

    /// One thread per registered producer holds its live channel open and
    /// wakes the loop on each announcement (SPEC F11 b); it reconnects after
    /// a pause when the channel drops, and ends when the producer is removed.
    fn listen_to_new_producers(&self, site: &Arc<Site>, listening: &mut HashSet<String>) {
        let Ok(names) = site.event_producers() else {
            return;
        };
        for name in names {
            if listening.contains(&name) {
                continue;
            }
            let (site, me, n) = (site.clone(), self.clone(), name.clone());
            let spawned = std::thread::Builder::new()
                .name("outpost-live".into())
                .spawn(move || loop {
                    match site.listen_to_producer(&n, &mut || me.wake()) {
                        Err(outpost_engine::Error::NotFound { .. }) => return,
                        Err(e) => tracing::debug!(producer = %n, error = %e, "live channel down"),
                        Ok(()) => {}
                    }
                    std::thread::sleep(Duration::from_secs(2));
                });
            if spawned.is_ok() {
                listening.insert(name);
            }
        }
    }

    /// Asks for a pull as soon as possible.
    pub fn wake(&self) {
        let (lock, cv) = &*self.wake;
        *lock.lock().unwrap_or_else(|p| p.into_inner()) = true;
        cv.notify_all();
    }
}

fn run_once(site: &Site) {
    let producers = match site.event_producers() {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!(error = %e, "cannot list event producers");
            return;
        }
    };
    // Side by side: a stuck producer never holds up another.
    for (p, outcome) in producers
        .iter()
        .zip(site.sync_producers(&producers, &|_| {}, &|_| {}))
    {
        match outcome {
            Ok(s) if s.error.is_some() => {
                tracing::debug!(producer = %p, error = ?s.error, "sync did not complete")
            }
            Ok(s) if s.pulled > 0 => tracing::info!(
                producer = %p,
                pulled = s.pulled,
                synced = s.synced,
                failed = s.failed,
                "synced"
            ),
            Ok(_) => {}
            Err(e) => tracing::warn!(producer = %p, error = %e, "sync failed"),
        }
    }
    if let Err(e) = site.retry_failed() {
        tracing::warn!(error = %e, "retrying failed entries");
    }
}
