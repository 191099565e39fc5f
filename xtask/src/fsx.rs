//! File-system helpers: atomic writes, so no reader ever sees a partial file.

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
pub fn write_atomic(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
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
