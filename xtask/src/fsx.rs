//! File-system helpers: atomic writes, so no reader ever sees a partial file, and the lock
//! that lets one release, promote or publish run per checkout at a time.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use anyhow::Context;

/// Writes `contents` to `path` atomically and durably: a temporary file in the same
/// directory, fsynced, renamed over `path`, then the directory fsynced so the rename itself
/// survives a crash. An interrupted write leaves either the old file or none, never a partial
/// one.
///
/// A new file gets the mode a plain `File::create` would give it (0o666 less the user's
/// umask), not the temporary file's private 0o600; a replaced file keeps its mode.
pub(crate) fn write_atomic(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mode = match std::fs::metadata(path) {
        Ok(meta) => meta.permissions().mode() & 0o7777,
        Err(_) => 0o666,
    };
    // The mode is given to open(2), so the kernel applies the umask to a new file's 0o666.
    let mut tmp = tempfile::Builder::new()
        .prefix(".aisopsflow-")
        .suffix(".tmp")
        .permissions(std::fs::Permissions::from_mode(mode))
        .tempfile_in(dir)
        .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
    if mode != 0o666 {
        // A replaced file keeps its exact mode, whatever the umask would have taken away.
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(mode))
            .with_context(|| format!("keeping the mode of {}", path.display()))?;
    }
    tmp.write_all(contents)
        .with_context(|| format!("writing {}", path.display()))?;
    tmp.as_file()
        .sync_all()
        .with_context(|| format!("syncing {}", path.display()))?;
    tmp.persist(path)
        .map_err(|e| e.error)
        .with_context(|| format!("renaming into {}", path.display()))?;
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("syncing the directory {}", dir.display()))?;
    Ok(())
}

/// Held while a release, promote or publish runs in a checkout; released when dropped or
/// when the process ends (an advisory `flock(2)`, so a crashed run leaves no stale lock).
#[derive(Debug)]
pub(crate) struct CheckoutLock {
    _file: std::fs::File,
}

#[cfg(unix)]
unsafe extern "C" {
    /// `flock(2)` from the C library std already links.
    fn flock(fd: i32, operation: i32) -> i32;
}

/// Takes the checkout lock `<dir>/aisopsflow-xtask.lock` for `command`, started at `started`
/// (`effects::git::lock_checkout` passes the git dir). Another process holding it is refused
/// at once (exit 1), naming its pid, command and start time.
pub(crate) fn lock_in(dir: &Path, command: &str, started: &str) -> anyhow::Result<CheckoutLock> {
    let path = dir.join("aisopsflow-xtask.lock");
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .with_context(|| format!("opening the checkout lock {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::fd::AsRawFd as _;
        const LOCK_EX: i32 = 2;
        const LOCK_NB: i32 = 4;
        // SAFETY: flock on a file descriptor this function owns.
        if unsafe { flock(file.as_raw_fd(), LOCK_EX | LOCK_NB) } != 0 {
            let err = std::io::Error::last_os_error();
            if err.kind() != std::io::ErrorKind::WouldBlock {
                return Err(err).with_context(|| format!("locking {}", path.display()));
            }
            let holder = std::fs::read_to_string(&path).unwrap_or_default();
            let field = |k: &str| {
                holder
                    .lines()
                    .find_map(|l| l.strip_prefix(k).map(|v| v.trim().to_string()))
                    .unwrap_or_else(|| "unknown".into())
            };
            return Err(crate::exit::policy(format!(
                "another cargo xtask holds this checkout's lock: pid {}, `{}`, started {} ({}); two releases, promotes or publishes in one checkout would race, so this one did nothing; wait for that one to end (the lock goes with its process), then rerun `{command}`",
                field("pid:"),
                field("command:"),
                field("started:"),
                path.display()
            )));
        }
    }
    let text = format!(
        "pid: {}\ncommand: {command}\nstarted: {started}\n",
        std::process::id()
    );
    file.set_len(0)
        .and_then(|_| {
            use std::io::Seek as _;
            file.seek(std::io::SeekFrom::Start(0))
        })
        .and_then(|_| file.write_all(text.as_bytes()))
        .with_context(|| format!("writing the checkout lock {}", path.display()))?;
    Ok(CheckoutLock { _file: file })
}

/// The command line as typed, for the lock's holder line (secrets redacted).
pub(crate) fn command_line() -> String {
    let args: Vec<String> = std::env::args().skip(1).collect();
    crate::secrets::redact_all(&format!("cargo xtask {}", args.join(" ")))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &std::path::Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn replaces_whole_file_and_leaves_no_temporaries() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub/notes.md");
        super::write_atomic(&p, b"first").unwrap();
        super::write_atomic(&p, b"second").unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "second");
        let names: Vec<_> = std::fs::read_dir(p.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("notes.md")]);
    }

    #[test]
    fn a_new_file_gets_the_mode_file_create_gives_under_the_umask() {
        // The umask is process-wide, so the test does not change it: it compares with the
        // mode the standard library's create (0o666 less the umask) gives in the same directory.
        let dir = tempfile::tempdir().unwrap();
        let reference = dir.path().join("reference");
        std::fs::File::create(&reference).unwrap();
        let p = dir.path().join("record.json");
        super::write_atomic(&p, b"{}").unwrap();
        assert_eq!(mode(&p), mode(&reference));
    }

    #[test]
    fn a_replaced_file_keeps_its_mode() {
        let dir = tempfile::tempdir().unwrap();
        for want in [0o640, 0o755, 0o600] {
            let p = dir.path().join(format!("f{want:o}"));
            std::fs::write(&p, b"old").unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(want)).unwrap();
            super::write_atomic(&p, b"new").unwrap();
            assert_eq!(std::fs::read_to_string(&p).unwrap(), "new");
            assert_eq!(mode(&p), want, "mode {want:o} kept");
        }
    }
}
