//! Crash points for tests: with the `failpoints` feature, a process whose
//! `OUTPOST_CRASH_AT` names a point aborts there — no unwinding, no
//! clean-up, like a SIGKILL at that exact moment. Without the feature
//! (shipped builds) `hit` is nothing.
//!
//! Points: `page-applied-before-commit` (consumer: a page applied, its
//! transaction not committed), `page-committed` (consumer: committed,
//! not yet acknowledged), `pull-answered` (producer: a page decided and
//! stored, not yet sent).

#[cfg(feature = "failpoints")]
pub fn hit(point: &str) {
    static TARGET: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    let target = TARGET.get_or_init(|| std::env::var("OUTPOST_CRASH_AT").ok());
    if target.as_deref() == Some(point) {
        tracing::error!(point, "crash point reached (OUTPOST_CRASH_AT): aborting");
        std::process::abort();
    }
}

#[cfg(not(feature = "failpoints"))]
#[inline(always)]
pub fn hit(_point: &str) {}
