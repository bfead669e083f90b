//! CPU time of this process and of its store writer thread, from `/proc/self` (Linux): on a
//! shared, noisy machine the CPU a message costs is steadier than the wall-clock rate.

/// Clock ticks per second of `/proc` times (`sysconf(_SC_CLK_TCK)`, 100 on Linux).
fn ticks_per_s() -> f64 {
    // SAFETY: sysconf only reads a constant of the running system.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 { ticks as f64 } else { 100.0 }
}

/// utime + stime of a `/proc/.../stat` line, in seconds (fields 14 and 15; the name in
/// parentheses may hold spaces, so counting starts after its closing parenthesis).
fn stat_cpu_s(stat: &str) -> Option<f64> {
    let after_name = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / ticks_per_s())
}

/// CPU seconds used so far by the whole process (daemon, simulator and bench clients).
pub fn process_s() -> f64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|stat| stat_cpu_s(&stat))
        .unwrap_or(0.0)
}

/// CPU seconds used so far by the live threads whose name starts with `name` (Linux cuts
/// thread names to 15 bytes).
pub fn threads_s(name: &str) -> f64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0.0;
    };
    tasks
        .flatten()
        .filter(|task| {
            std::fs::read_to_string(task.path().join("comm"))
                .is_ok_and(|comm| name.starts_with(comm.trim()) || comm.starts_with(name))
        })
        .filter_map(|task| std::fs::read_to_string(task.path().join("stat")).ok())
        .filter_map(|stat| stat_cpu_s(&stat))
        .sum()
}
