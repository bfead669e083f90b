//! File-system tools for the disk tests: a small tmpfs for one test (when this machine lets
//! the test mount one), read-only remounts, free space, and ballast files that take it away.

use std::path::{Path, PathBuf};
use std::process::Command;

const MIB: u64 = 1 << 20;

/// A tmpfs of a few MiB mounted over a directory for one test; unmounted when dropped (also
/// when the test fails), so a run never leaves mounts behind.
pub struct Tmpfs {
    dir: PathBuf,
}

impl Tmpfs {
    /// Mounts a tmpfs of `size_mib` MiB at `dir` (created if needed); None when this machine
    /// does not allow it (not root, a container without the capability, no tmpfs).
    pub fn mount(dir: &Path, size_mib: u64) -> Option<Tmpfs> {
        std::fs::create_dir_all(dir).ok()?;
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size_mib}m"), "tmpfs"])
            .arg(dir)
            .output()
            .ok()?;
        if !mounted.status.success() {
            eprintln!(
                "cannot mount a tmpfs here: {}",
                String::from_utf8_lossy(&mounted.stderr).trim()
            );
            return None;
        }
        Some(Tmpfs {
            dir: dir.to_path_buf(),
        })
    }

    /// Remounts it read-only (`true`) or read-write (`false`). Linux refuses a read-only
    /// remount while a file on it is open for writing, so the daemon must be stopped first.
    pub fn remount(&self, read_only: bool) {
        let mode = if read_only {
            "remount,ro"
        } else {
            "remount,rw"
        };
        let out = Command::new("mount")
            .args(["-o", mode])
            .arg(&self.dir)
            .output()
            .expect("run mount");
        assert!(
            out.status.success(),
            "mount -o {mode} {}: {}",
            self.dir.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        for _ in 0..50 {
            let unmounted = Command::new("umount").arg(&self.dir).status();
            if unmounted.is_ok_and(|s| s.success()) {
                return;
            }
            // a daemon that is still exiting may hold files open for a moment
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
    }
}

/// Bytes free for an unprivileged writer on `dir`'s file system (statvfs, as the daemon reads
/// it).
pub fn free_bytes(dir: &Path) -> u64 {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes()).unwrap();
    let mut stat = std::mem::MaybeUninit::<libc::statvfs>::zeroed();
    // SAFETY: `path` is NUL-terminated; `stat` is a writable statvfs.
    let rc = unsafe { libc::statvfs(path.as_ptr(), stat.as_mut_ptr()) };
    assert_eq!(rc, 0, "statvfs {}", dir.display());
    // SAFETY: statvfs succeeded and filled it.
    let stat = unsafe { stat.assume_init() };
    #[allow(clippy::useless_conversion)] // narrower types on 32-bit targets
    let free = u64::from(stat.f_bavail).saturating_mul(u64::from(stat.f_frsize));
    free
}

/// Free space in whole MiB.
pub fn free_mib(dir: &Path) -> u64 {
    free_bytes(dir) / MIB
}

/// Files whose blocks are really allocated (posix_fallocate), taking that much free space;
/// removed when dropped.
pub struct Ballast {
    files: Vec<PathBuf>,
}

impl Ballast {
    /// Allocates `bytes` at `path`.
    pub fn fill(path: &Path, bytes: u64) -> Ballast {
        allocate(path, bytes);
        Ballast {
            files: vec![path.to_path_buf()],
        }
    }

    /// Fills `dir`'s file system until only `leave_mib` MiB are free.
    pub fn leaving(dir: &Path, leave_mib: u64) -> Ballast {
        let free = free_bytes(dir);
        let take = free.saturating_sub(leave_mib * MIB);
        assert!(
            take > 0,
            "only {} MiB free in {}",
            free / MIB,
            dir.display()
        );
        Ballast::fill(&dir.join("ballast"), take)
    }

    /// Allocates files of `chunk_mib` MiB in `dir` until less than `below_mib` MiB are free
    /// (others may free space on a shared disk meanwhile), at most `max_mib` MiB in all.
    pub fn until_below(dir: &Path, below_mib: u64, chunk_mib: u64, max_mib: u64) -> Ballast {
        let mut ballast = Ballast { files: Vec::new() };
        while free_mib(dir) >= below_mib {
            let taken = ballast.files.len() as u64 * chunk_mib;
            assert!(
                taken < max_mib,
                "{taken} MiB of ballast and still {} MiB free in {}",
                free_mib(dir),
                dir.display()
            );
            let path = dir.join(format!("ballast-{}", ballast.files.len()));
            allocate(&path, chunk_mib * MIB);
            ballast.files.push(path);
        }
        ballast
    }

    /// Removes it, giving the space back.
    pub fn remove(self) {
        drop(self)
    }
}

impl Drop for Ballast {
    fn drop(&mut self) {
        for file in &self.files {
            let _ = std::fs::remove_file(file);
        }
    }
}

/// Creates `path` with `bytes` of allocated blocks.
fn allocate(path: &Path, bytes: u64) {
    use std::os::fd::AsRawFd;
    let file = std::fs::File::create(path).expect("create a ballast file");
    let len = libc::off_t::try_from(bytes).expect("ballast size fits off_t");
    // SAFETY: a valid open descriptor; posix_fallocate only allocates its blocks.
    let rc = unsafe { libc::posix_fallocate(file.as_raw_fd(), 0, len) };
    assert_eq!(
        rc,
        0,
        "posix_fallocate {bytes} bytes at {}: {}",
        path.display(),
        std::io::Error::from_raw_os_error(rc)
    );
}
