//! The build context sent to the engine: which files, in what order, as what tar.
//!
//! The file set follows the docker CLI exactly: its `.dockerignore` is applied with moby's
//! semantics (see `dockerignore`), the Dockerfile and `.dockerignore` are always sent, and an
//! excluded directory is only entered when an exception pattern starts with its path, which is
//! the CLI's walk (`archive.TarWithOptions`), quirks included. Unlike the CLI we refuse a
//! symlink that points outside the context instead of sending it, so a context can never
//! smuggle in a host path.
//!
//! The tar is deterministic (sorted entries, mtime 0, uid/gid 0, modes fixed from the exec bit),
//! so the same inputs give the same bytes and the same context hash, which is what lets a
//! warm build reuse an image. It is streamed: a blocking thread writes it into a bounded
//! channel that the HTTP body reads from, so a large context is never held in memory.

use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use bytes::Bytes;
use futures_util::Stream;
use sha2::{Digest, Sha256};

use super::dockerignore::Matcher;

/// One path in the context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Relative to the context root, `/`-separated.
    pub rel: String,
    pub kind: EntryKind,
    pub abs: PathBuf,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    Dir,
    File { executable: bool, size: u64 },
    Symlink { target: String },
}

/// The files the CLI would send for `dir`, in tar order.
pub fn collect(dir: &Path) -> anyhow::Result<Vec<Entry>> {
    let ignore_path = dir.join(".dockerignore");
    let mut matcher = match fs::read_to_string(&ignore_path) {
        Ok(text) => {
            Matcher::parse(&text).with_context(|| format!("reading {}", ignore_path.display()))?
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Matcher::default(),
        Err(e) => return Err(e).with_context(|| format!("reading {}", ignore_path.display())),
    };
    // The CLI re-includes these two whatever the patterns say (`TrimBuildFilesFromExcludes`).
    let mut extra = Vec::new();
    for keep in [".dockerignore", "Dockerfile"] {
        if matcher.matches(keep) {
            extra.push(format!("!{keep}"));
        }
    }
    if !extra.is_empty() {
        let mut all: Vec<String> = matcher
            .patterns
            .iter()
            .map(|p| {
                if p.exclusion {
                    format!("!{}", p.text)
                } else {
                    p.text.clone()
                }
            })
            .collect();
        all.extend(extra);
        matcher = Matcher::new(&all)?;
    }
    let mut out = Vec::new();
    walk(dir, dir, "", &matcher, &mut out)?;
    Ok(out)
}

fn walk(
    root: &Path,
    dir: &Path,
    prefix: &str,
    matcher: &Matcher,
    out: &mut Vec<Entry>,
) -> anyhow::Result<()> {
    let mut names: Vec<std::ffi::OsString> = fs::read_dir(dir)
        .with_context(|| format!("reading the build context directory {}", dir.display()))?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<Result<_, _>>()
        .with_context(|| format!("reading the build context directory {}", dir.display()))?;
    // Go's filepath.Walk visits names in byte order.
    names.sort_by(|a, b| a.as_encoded_bytes().cmp(b.as_encoded_bytes()));
    for name in names {
        let Some(name_str) = name.to_str() else {
            bail!(
                "{} has a name that is not UTF-8; rename it or exclude it in .dockerignore",
                dir.join(&name).display()
            );
        };
        let rel = if prefix.is_empty() {
            name_str.to_string()
        } else {
            format!("{prefix}/{name_str}")
        };
        let abs = dir.join(&name);
        let meta =
            fs::symlink_metadata(&abs).with_context(|| format!("reading {}", abs.display()))?;
        let is_dir = meta.is_dir();
        if matcher.matches(&rel) {
            if !is_dir {
                continue;
            }
            // An excluded directory is still entered when an exception names a path in it.
            let dir_slash = format!("{rel}/");
            let enter = matcher
                .patterns
                .iter()
                .any(|p| p.exclusion && format!("{}/", p.text).starts_with(&dir_slash));
            if enter {
                walk(root, &abs, &rel, matcher, out)?;
            }
            continue;
        }
        let ft = meta.file_type();
        if ft.is_symlink() {
            let target = fs::read_link(&abs)
                .with_context(|| format!("reading the symlink {}", abs.display()))?;
            let target = target
                .to_str()
                .map(str::to_string)
                .with_context(|| format!("the symlink {} has a non-UTF-8 target", abs.display()))?;
            if escapes(&rel, &target) {
                bail!(
                    "the symlink {} points outside the build context ({} -> {target}); copy the file into {} or exclude the link in .dockerignore",
                    abs.display(),
                    rel,
                    root.display()
                );
            }
            out.push(Entry {
                rel,
                kind: EntryKind::Symlink { target },
                abs,
            });
        } else if is_dir {
            out.push(Entry {
                rel: rel.clone(),
                kind: EntryKind::Dir,
                abs: abs.clone(),
            });
            walk(root, &abs, &rel, matcher, out)?;
        } else if ft.is_file() {
            out.push(Entry {
                rel,
                kind: EntryKind::File {
                    executable: meta.permissions().mode() & 0o111 != 0,
                    size: meta.len(),
                },
                abs,
            });
        } else {
            bail!(
                "{} is not a regular file, directory or symlink; remove it from the build context or exclude it in .dockerignore",
                abs.display()
            );
        }
    }
    Ok(())
}

/// Whether a symlink at `rel` with `target` resolves outside the context. Absolute targets
/// always do; relative ones are resolved lexically and may never climb above the root, not
/// even on the way back down.
pub fn escapes(rel: &str, target: &str) -> bool {
    if target.starts_with('/') {
        return true;
    }
    let mut depth: Vec<&str> = rel.split('/').collect();
    depth.pop();
    for part in target.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if depth.pop().is_none() {
                    return true;
                }
            }
            p => depth.push(p),
        }
    }
    false
}

/// Writes the deterministic tar of `entries` to `w`.
pub fn write_tar<W: Write>(entries: &[Entry], w: W) -> anyhow::Result<W> {
    let mut builder = tar::Builder::new(w);
    builder.mode(tar::HeaderMode::Deterministic);
    for e in entries {
        let mut h = tar::Header::new_gnu();
        h.set_mtime(0);
        h.set_uid(0);
        h.set_gid(0);
        match &e.kind {
            EntryKind::Dir => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_mode(0o755);
                h.set_size(0);
                builder
                    .append_data(&mut h, format!("{}/", e.rel), io::empty())
                    .with_context(|| format!("adding {} to the build context", e.rel))?;
            }
            EntryKind::File { executable, size } => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_mode(if *executable { 0o755 } else { 0o644 });
                h.set_size(*size);
                let file = fs::File::open(&e.abs)
                    .with_context(|| format!("opening {}", e.abs.display()))?;
                // `take` guards against a file that grew since it was listed; one that shrank
                // makes the tar writer fail, which is the right outcome for a moving context.
                builder
                    .append_data(&mut h, &e.rel, file.take(*size))
                    .with_context(|| {
                        format!(
                            "adding {} to the build context (did it change while building?)",
                            e.rel
                        )
                    })?;
            }
            EntryKind::Symlink { target } => {
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_mode(0o777);
                h.set_size(0);
                builder
                    .append_link(&mut h, &e.rel, target)
                    .with_context(|| {
                        format!("adding the symlink {} to the build context", e.rel)
                    })?;
            }
        }
    }
    builder
        .into_inner()
        .context("finishing the build context tar")
}

/// The sha256 of the context's tar, as `sha256:<hex>`.
pub fn hash(entries: &[Entry]) -> anyhow::Result<String> {
    struct HashWriter(Sha256);
    impl Write for HashWriter {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.update(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let w = write_tar(entries, HashWriter(Sha256::new()))?;
    Ok(format!("sha256:{:x}", w.0.finalize()))
}

/// A writer that hands 64 KiB chunks to a bounded channel; it blocks when the reader is behind.
struct ChannelWriter {
    tx: tokio::sync::mpsc::Sender<io::Result<Bytes>>,
    buf: Vec<u8>,
}

const CHUNK: usize = 64 * 1024;

impl ChannelWriter {
    fn send(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK)));
        self.tx.blocking_send(Ok(chunk)).map_err(|_| {
            io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the engine stopped reading the build context",
            )
        })
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let room = CHUNK - self.buf.len();
        let n = room.min(data.len());
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() >= CHUNK {
            self.send()?;
        }
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.send()
    }
}

/// Streams the tar of `entries`: a blocking thread writes it into a channel of at most four
/// chunks, and the returned stream yields them (or the writer's error) to the HTTP body.
pub fn stream(entries: Vec<Entry>) -> impl Stream<Item = io::Result<Bytes>> + Send + 'static {
    let (tx, rx) = tokio::sync::mpsc::channel::<io::Result<Bytes>>(4);
    tokio::task::spawn_blocking(move || {
        let writer = ChannelWriter {
            tx: tx.clone(),
            buf: Vec::with_capacity(CHUNK),
        };
        match write_tar(&entries, writer) {
            Ok(mut w) => {
                if let Err(e) = w.flush() {
                    let _ = tx.blocking_send(Err(e));
                }
            }
            Err(e) => {
                let _ = tx.blocking_send(Err(io::Error::other(format!("{e:#}"))));
            }
        }
    });
    futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symlink_escape_is_lexical_and_strict() {
        assert!(!escapes("a", "b"));
        assert!(!escapes("d/a", "../b"));
        assert!(!escapes("d/e/a", "../../b"));
        assert!(escapes("a", "../b"));
        assert!(escapes("d/a", "../../ctx/b"));
        assert!(escapes("a", "/etc/passwd"));
        assert!(!escapes("a", "./x/./y"));
    }

    #[test]
    fn tar_is_deterministic_and_follows_dockerignore() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::write(root.join("Dockerfile"), "FROM scratch\n").unwrap();
        fs::write(root.join(".dockerignore"), "*\n!keep\n!bin\n").unwrap();
        fs::create_dir(root.join("keep")).unwrap();
        fs::write(root.join("keep/a.txt"), "a").unwrap();
        fs::write(root.join("bin"), "#!/bin/true\n").unwrap();
        fs::set_permissions(root.join("bin"), fs::Permissions::from_mode(0o700)).unwrap();
        fs::write(root.join("secret"), "s").unwrap();
        std::os::unix::fs::symlink("a.txt", root.join("keep/link")).unwrap();
        let entries = collect(root).unwrap();
        let names: Vec<&str> = entries.iter().map(|e| e.rel.as_str()).collect();
        assert_eq!(
            names,
            [
                ".dockerignore",
                "Dockerfile",
                "bin",
                "keep",
                "keep/a.txt",
                "keep/link"
            ]
        );
        let first = hash(&entries).unwrap();
        // Touching files changes mtimes and owners nothing in the tar: same hash.
        fs::write(root.join("keep/a.txt"), "a").unwrap();
        fs::write(root.join("secret"), "changed").unwrap();
        assert_eq!(hash(&collect(root).unwrap()).unwrap(), first);
        fs::write(root.join("keep/a.txt"), "b").unwrap();
        assert_ne!(hash(&collect(root).unwrap()).unwrap(), first);

        let bytes = write_tar(&collect(root).unwrap(), Vec::new()).unwrap();
        let mut archive = tar::Archive::new(&bytes[..]);
        for entry in archive.entries().unwrap() {
            let entry = entry.unwrap();
            let h = entry.header();
            assert_eq!(h.mtime().unwrap(), 0);
            assert_eq!(h.uid().unwrap(), 0);
            let path = entry.path().unwrap().to_string_lossy().into_owned();
            if path == "bin" {
                assert_eq!(h.mode().unwrap(), 0o755);
            }
            if path == "Dockerfile" {
                assert_eq!(h.mode().unwrap(), 0o644);
            }
        }
    }

    #[test]
    fn escaping_symlink_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("Dockerfile"), "FROM scratch\n").unwrap();
        std::os::unix::fs::symlink("../../etc/passwd", dir.path().join("evil")).unwrap();
        let err = collect(dir.path()).unwrap_err();
        assert!(
            format!("{err:#}").contains("points outside the build context"),
            "{err:#}"
        );
    }
}
