//! The store's threads run at a lower CPU priority than the rest of the daemon.
//!
//! On a saturated machine the store writer (and sled's I/O pool under it) can keep a core busy
//! with bulk state changes, and every task on an OTP's way to the operator then waits for the
//! OS to give it a turn. The store works in groups and loses little by waiting; an OTP loses its
//! deadline. A higher niceness on the store's threads tells the kernel exactly that. It changes
//! nothing while there are idle cores, and needs no privilege (only lowering it again would).

/// Prefix of the names sled 0.34 gives its I/O pool threads.
const SLED_POOL_PREFIX: &str = "sled-io";

/// Sets the calling thread's niceness to `nice` unless it is already that low a priority
/// (Linux only; a no-op elsewhere and for `nice <= 0`).
pub fn lower_this_thread(nice: i32) {
    #[cfg(target_os = "linux")]
    lower_thread(0, nice);
    #[cfg(not(target_os = "linux"))]
    let _ = nice;
}

/// Lowers sled's I/O pool threads that exist now. sled starts them on first use from whichever
/// thread touches it (its pool is process-wide, with no hook to name a priority), so they are
/// found by name; pool threads it starts later from the store's own threads inherit theirs.
pub fn lower_engine_pool(nice: i32) {
    #[cfg(target_os = "linux")]
    {
        let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
            return;
        };
        for task in tasks.flatten() {
            let name = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
            let tid = task.file_name().to_str().and_then(|t| t.parse().ok());
            if let (true, Some(tid)) = (name.starts_with(SLED_POOL_PREFIX), tid) {
                lower_thread(tid, nice);
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = nice;
}

/// Raises thread `tid`'s niceness (0 = the calling thread) to `nice`, never lowering it.
#[cfg(target_os = "linux")]
fn lower_thread(tid: libc::id_t, nice: i32) {
    let nice = nice.clamp(0, 19);
    if nice == 0 {
        return;
    }
    // SAFETY: plain syscalls on a thread id; a vanished thread only makes them fail.
    unsafe {
        *libc::__errno_location() = 0;
        let now = libc::getpriority(libc::PRIO_PROCESS, tid);
        if *libc::__errno_location() == 0 && now >= nice {
            return;
        }
        if libc::setpriority(libc::PRIO_PROCESS, tid, nice) != 0 {
            tracing::debug!(tid, nice, "cannot lower a store thread's CPU priority");
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    fn own_nice() -> i32 {
        // SAFETY: reads the calling thread's niceness.
        unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) }
    }

    #[test]
    fn a_thread_lowers_only_itself_and_never_raises_back() {
        let before = own_nice();
        let inside = std::thread::spawn(|| {
            let start = own_nice();
            lower_this_thread(start + 3);
            let lowered = own_nice();
            lower_this_thread(start + 1); // a smaller value must not raise it back
            (start, lowered, own_nice())
        })
        .join()
        .expect("thread");
        assert_eq!(inside.1, (inside.0 + 3).min(19));
        assert_eq!(inside.2, inside.1);
        assert_eq!(own_nice(), before, "the spawning thread is untouched");
    }
}
