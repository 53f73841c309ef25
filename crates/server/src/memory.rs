//! Keeping a hub's memory bounded while it takes pushed pages. The allocator
//! (mimalloc) keeps what a thread frees for a while, to reuse it; pushed
//! pages are handled by whichever of the blocking threads is free, each
//! keeping the twenty-odd megabytes of the last page it parsed and applied,
//! which took a hub past 150 MB now and then. Past a resident size, the
//! thread that has just answered a page gives what it keeps back to the
//! system (its next page pays a few page faults instead).

/// The resident size above which a thread gives its free memory back.
const TRIM_ABOVE: usize = 120 << 20;

/// Called by a thread that has just handled a pushed page.
pub fn trim_if_large() {
    let large = memory_stats::memory_stats().is_some_and(|m| m.physical_mem > TRIM_ABOVE);
    if large {
        // SAFETY: takes nothing and frees nothing still in use: it returns
        // this thread's unused heap pages to the system.
        unsafe { libmimalloc_sys::mi_collect(true) };
    }
}
