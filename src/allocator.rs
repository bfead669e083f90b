//! The process allocator for the daemon, its tools, tests and benchmarks: mimalloc. sled 0.34
//! copies a tree node on every write, and under glibc's malloc a third of the store writer's
//! time went to allocating and consolidating those copies (docs/BENCHMARKS.md, scenario B).
//!
//! The daemon also shortens mimalloc's purge delay, the time freed memory stays with the
//! process before it goes back to the system: at mimalloc's default the pages sled frees while
//! the daemon sends at full speed pile up in RSS (docs/BENCHMARKS.md, D and F).

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay`: its place in `mi_option_e` (mimalloc.h), for which
/// libmimalloc-sys exports no constant.
const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// The purge delay the daemon sets, in milliseconds.
pub const PURGE_DELAY_MS: i64 = 10;

/// The environment variable that sets the purge delay instead (mimalloc reads it itself).
pub const PURGE_DELAY_VAR: &str = "MIMALLOC_PURGE_DELAY";

/// Sets mimalloc's purge delay to [`PURGE_DELAY_MS`] unless [`PURGE_DELAY_VAR`] chose one.
/// Call it first thing in `main`: mimalloc's option setter is not thread-safe.
pub fn shorten_purge_delay() {
    if std::env::var_os(PURGE_DELAY_VAR).is_none() {
        // SAFETY: a plain store into mimalloc's option table, made before any other thread runs
        unsafe { libmimalloc_sys::mi_option_set(PURGE_DELAY, PURGE_DELAY_MS) }
    }
}

/// The purge delay in force, in milliseconds.
pub fn purge_delay_ms() -> i64 {
    // SAFETY: a plain read of mimalloc's option table
    unsafe { libmimalloc_sys::mi_option_get(PURGE_DELAY) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_option_set_is_the_purge_delay() {
        if std::env::var_os(PURGE_DELAY_VAR).is_some() {
            return; // the environment chose the delay: nothing to compare
        }
        // mimalloc 3 documents a purge delay of 1,000 ms by default: option 15 is that option
        assert_eq!(purge_delay_ms(), 1_000);
        shorten_purge_delay();
        assert_eq!(purge_delay_ms(), PURGE_DELAY_MS);
    }
}
