//! Keeps what the daemon stores private to its own user: full phone numbers, texts (IINs
//! among them) and keys live in the data directory, so it is kept 0700 and every file in it
//! 0600, whatever the umask it was started with.

use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, PermissionsExt};
use std::path::Path;

/// Mode of the data directory and every directory in it.
pub const DIR_MODE: u32 = 0o700;
/// Mode of every file in the data directory.
pub const FILE_MODE: u32 = 0o600;

/// Sets the process umask so that every file created from now on is private. sled and the
/// side databases create their files with the process umask and take no mode, so this is
/// the only way their files are born private.
pub fn private_umask() {
    // SAFETY: umask only sets the process's file mode creation mask; it cannot fail.
    unsafe {
        libc::umask(0o077);
    }
}

/// Creates `dir` (0700) if it is missing, then narrows every directory and file in it that
/// another user could read or enter (sockets and symlinks are left alone). Returns how many
/// it narrowed.
pub fn secure_dir(dir: &Path) -> io::Result<usize> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(dir)?;
    narrow(dir)
}

fn narrow(path: &Path) -> io::Result<usize> {
    let meta = fs::symlink_metadata(path)?;
    let kind = meta.file_type();
    if kind.is_symlink() || kind.is_socket() {
        return Ok(0);
    }
    let wanted = if kind.is_dir() { DIR_MODE } else { FILE_MODE };
    let mode = meta.permissions().mode() & 0o777;
    let mut narrowed = 0;
    if mode & 0o077 != 0 {
        fs::set_permissions(path, fs::Permissions::from_mode(mode & wanted))?;
        narrowed += 1;
    }
    if kind.is_dir() {
        for entry in fs::read_dir(path)? {
            narrowed += narrow(&entry?.path())?;
        }
    }
    Ok(narrowed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wide_directories_and_files_are_narrowed_and_private_ones_left_alone() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("data");
        fs::create_dir(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        let wide = dir.join("store.db");
        fs::write(&wide, "77011234567").unwrap();
        fs::set_permissions(&wide, fs::Permissions::from_mode(0o644)).unwrap();
        let private = dir.join("otp.key");
        fs::write(&private, "k").unwrap();
        fs::set_permissions(&private, fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(secure_dir(&dir).unwrap(), 2);
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&wide), 0o600);
        assert_eq!(mode(&private), 0o600);
        assert_eq!(secure_dir(&dir).unwrap(), 0, "nothing left to narrow");
    }
}
