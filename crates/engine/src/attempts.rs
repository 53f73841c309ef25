//! Guessing is slow and bounded: at most two slow hashes (Argon2id, about
//! 19 MiB each) run at once in the whole process, and a key or user with
//! too many failed attempts is refused for a while without hashing at all
//! (429 with Retry-After). Memory does not grow with failed attempts: only
//! keys and users that exist are counted.

use std::collections::HashMap;
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// Slow hashes running at once, at most.
const HASHES_AT_ONCE: usize = 2;
/// Failed attempts allowed per key (or user) in a window.
const MAX_FAILURES: u32 = 5;
const WINDOW: Duration = Duration::from_secs(60);

static RUNNING: (Mutex<usize>, Condvar) = (Mutex::new(0), Condvar::new());

/// Runs `f` (a slow hash) when one of the few slots is free.
pub(crate) fn slow<T>(f: impl FnOnce() -> T) -> T {
    let (lock, cv) = &RUNNING;
    {
        let mut n = lock.lock().unwrap_or_else(|e| e.into_inner());
        while *n >= HASHES_AT_ONCE {
            n = cv.wait(n).unwrap_or_else(|e| e.into_inner());
        }
        *n += 1;
    }
    struct Release;
    impl Drop for Release {
        fn drop(&mut self) {
            let (lock, cv) = &RUNNING;
            *lock.lock().unwrap_or_else(|e| e.into_inner()) -= 1;
            cv.notify_one();
        }
    }
    let _release = Release;
    f()
}

/// Failed attempts per key or user, for one site.
#[derive(Default)]
pub(crate) struct Attempts {
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

impl Attempts {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (u32, Instant)>> {
        self.failures.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Refuses `who` while it has used up its failures in the window.
    pub(crate) fn check(&self, who: &str) -> Result<()> {
        let mut map = self.lock();
        let Some(&(count, since)) = map.get(who) else {
            return Ok(());
        };
        let elapsed = since.elapsed();
        if elapsed >= WINDOW {
            map.remove(who);
            return Ok(());
        }
        if count >= MAX_FAILURES {
            return Err(Error::TooManyAttempts {
                retry_after: (WINDOW - elapsed).as_secs().max(1),
            });
        }
        Ok(())
    }

    pub(crate) fn failed(&self, who: &str) {
        let mut map = self.lock();
        let entry = map.entry(who.to_owned()).or_insert((0, Instant::now()));
        if entry.1.elapsed() >= WINDOW {
            *entry = (0, Instant::now());
        }
        entry.0 += 1;
    }

    pub(crate) fn succeeded(&self, who: &str) {
        self.lock().remove(who);
    }
}
