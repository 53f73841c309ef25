//! Crash points for tests: with the `failpoints` feature, a process whose
//! `OUTPOST_CRASH_AT` names a point aborts there — no unwinding, no
//! clean-up, like a SIGKILL at that exact moment. Without the feature
//! (shipped builds) `hit` is nothing.
//!
//! `OUTPOST_CRASH_AT=point@N` aborts at the Nth time the point is reached.
//!
//! Points: `dependencies-fetched` (consumer: a page's dependencies fetched,
//! nothing of it inserted), `page-applied-before-commit` (consumer: a page
//! applied, its transaction not committed), `page-committed` (consumer:
//! committed, not yet acknowledged), `pull-answered` (producer: a page
//! decided and stored, not yet sent), `ack-received` (producer: a page's
//! acknowledgement received, its effects not yet recorded).

#[cfg(feature = "failpoints")]
pub fn hit(point: &str) {
    use std::sync::atomic::{AtomicU64, Ordering};
    static TARGET: std::sync::OnceLock<Option<(String, u64)>> = std::sync::OnceLock::new();
    static HITS: AtomicU64 = AtomicU64::new(0);
    let target = TARGET.get_or_init(|| {
        let spec = std::env::var("OUTPOST_CRASH_AT").ok()?;
        Some(match spec.split_once('@') {
            Some((p, n)) => (p.to_owned(), n.parse().unwrap_or(1)),
            None => (spec, 1),
        })
    });
    let Some((name, nth)) = target else {
        return;
    };
    if name == point && HITS.fetch_add(1, Ordering::SeqCst) + 1 >= *nth {
        tracing::error!(point, "crash point reached (OUTPOST_CRASH_AT): aborting");
        std::process::abort();
    }
}

#[cfg(not(feature = "failpoints"))]
#[inline(always)]
pub fn hit(_point: &str) {}
