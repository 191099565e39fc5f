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
    let mut matcher = Matcher::read_file(&ignore_path)?.unwrap_or_default();
    // The CLI re-includes these two whatever the patterns say (`TrimBuildFilesFromExcludes`,
    // which asks the deprecated `Matches`; for a top-level name that is the per-path rule).
    let mut extra = Vec::new();
    for keep in [".dockerignore", "Dockerfile"] {
        if matcher.matches(keep) {
            extra.push((format!("!{keep}").into_bytes(), None));
        }
    }
    if !extra.is_empty() {
        let mut all: Vec<(Vec<u8>, Option<usize>)> = matcher
            .patterns
            .iter()
            .map(|p| {
                let mut b = p.bytes.clone();
                if p.exclusion {
                    b.insert(0, b'!');
                }
                (b, p.line)
            })
            .collect();
        all.extend(extra);
        matcher = Matcher::from_lines(&all)
            .map_err(|e| crate::exit::usage(format!("{}: {e}", ignore_path.display())))?;
    }
    let mut out = Vec::new();
    walk(dir, dir, b"", None, &matcher, &mut out)?;
    Ok(out)
}

/// The walk of `archive.TarWithOptions` (moby/go-archive v0.1.0, as vendored by docker/cli
/// v28.2.2): names in byte order, each judged by `MatchesUsingParentResults` with its parent
/// directory's results. An excluded file is skipped; an excluded directory is skipped whole
/// unless some exception pattern, as text, starts with the directory's path plus `/`, in
/// which case the directory is entered (its own entry not sent) and its contents judged one
/// by one. So `!**/keep.tmp` never re-includes `build/keep.tmp` under an excluded `build`.
fn walk(
    root: &Path,
    dir: &Path,
    prefix: &[u8],
    parent: Option<&[bool]>,
    matcher: &Matcher,
    out: &mut Vec<Entry>,
) -> anyhow::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let mut names: Vec<std::ffi::OsString> = fs::read_dir(dir)
        .with_context(|| format!("reading the build context directory {}", dir.display()))?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<Result<_, _>>()
        .with_context(|| format!("reading the build context directory {}", dir.display()))?;
    // Go's filepath.WalkDir visits names in byte order.
    names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    for name in names {
        let rel_bytes = if prefix.is_empty() {
            name.as_bytes().to_vec()
        } else {
            [prefix, b"/", name.as_bytes()].concat()
        };
        let abs = dir.join(&name);
        let meta =
            fs::symlink_metadata(&abs).with_context(|| format!("reading {}", abs.display()))?;
        let is_dir = meta.is_dir();
        let (skip, info) = matcher.matches_using_parent_results(&rel_bytes, parent);
        if skip {
            if !is_dir || !matcher.has_exclusions() {
                continue;
            }
            let mut dir_slash = rel_bytes.clone();
            dir_slash.push(b'/');
            let enter = matcher.patterns.iter().any(|p| {
                p.exclusion && [p.bytes.as_slice(), b"/"].concat().starts_with(&dir_slash)
            });
            if enter {
                walk(root, &abs, &rel_bytes, Some(&info), matcher, out)?;
            }
            continue;
        }
        let Ok(rel) = String::from_utf8(rel_bytes.clone()) else {
            bail!(
                "{} has a name that is not UTF-8; rename it or exclude it in .dockerignore",
                abs.display()
            );
        };
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
            walk(root, &abs, &rel_bytes, Some(&info), matcher, out)?;
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

    fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (rel, text) in files {
            let p = dir.path().join(rel);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, text).unwrap();
        }
        dir
    }

    fn sent(dir: &Path) -> Vec<String> {
        collect(dir).unwrap().into_iter().map(|e| e.rel).collect()
    }

    fn check(dir: &Path, present: &[&str], absent: &[&str]) {
        let names = sent(dir);
        for p in present {
            assert!(names.iter().any(|n| n == p), "{p} must be sent: {names:?}");
        }
        for a in absent {
            assert!(
                !names
                    .iter()
                    .any(|n| n == a || n.starts_with(&format!("{a}/"))),
                "{a} must not be sent: {names:?}"
            );
        }
    }

    // Ported from moby/moby integration-cli/docker_cli_build_test.go at commit
    // b985e2313a8676e18072b442911fc8f64f17d440: the `.dockerignore` build tests, with their
    // `[[ -e ]]` / `[[ ! -e ]]` checks as present/absent lists of the context the CLI sends.
    // (The daemon, not the CLI, then drops an excluded Dockerfile and .dockerignore from
    // `COPY .`; both are always sent, so the tests on them check that they are sent.)
    #[test]
    fn moby_build_dockerignore() {
        let d = tree(&[
            ("Dockerfile", "FROM busybox"),
            ("Makefile", "all:"),
            (".git/HEAD", "ref: foo"),
            ("src/x.go", "package main"),
            ("src/_vendor/v.go", "package main"),
            ("src/_vendor/v.cc", "package main"),
            ("src/v.cc", "package main"),
            ("v.cc", "package main"),
            ("dir/foo", ""),
            (".gitignore", ""),
            ("README.md", "readme"),
            (
                ".dockerignore",
                "\n.git\npkg\n.gitignore\nsrc/_vendor\n*.md\n**/*.cc\ndir",
            ),
        ]);
        check(
            d.path(),
            &["src/x.go", "Makefile"],
            &[
                "src/_vendor",
                ".gitignore",
                "README.md",
                "dir/foo",
                "foo",
                ".git",
                "v.cc",
                "src/v.cc",
                "src/_vendor/v.cc",
            ],
        );
    }

    #[test]
    fn moby_build_dockerignore_clean_paths_and_comments() {
        let d = tree(&[
            ("Dockerfile", "FROM busybox"),
            ("foo", "foo"),
            ("foo2", "foo2"),
            ("dir1/foo", "foo in dir1"),
            (".dockerignore", "./foo\ndir1//foo\n./dir1/../foo2"),
        ]);
        check(d.path(), &[], &["foo", "foo2", "dir1/foo"]);
        let d = tree(&[
            ("Dockerfile", "FROM busybox"),
            ("foo", "foo"),
            ("foo2", "foo2"),
            ("dir1/foo", "foo in dir1"),
            ("#1", "# file 1"),
            ("#2", "# file 2"),
            (
                ".dockerignore",
                "# Visual C++ cache files\n# because we have git ;-)\n# The above comment is from #20083\nfoo\n#dir1/foo\nfoo2\n# The following is considered as comment as # is at the beginning\n#1\n# The following is not considered as comment as # is not at the beginning\n  #2\n",
            ),
        ]);
        check(d.path(), &["#1", "dir1/foo"], &["#2", "foo", "foo2"]);
    }

    #[test]
    fn moby_build_dockerignore_exceptions() {
        let d = tree(&[
            ("Dockerfile", "FROM busybox"),
            ("Makefile", "all:"),
            (".git/HEAD", "ref: foo"),
            ("src/x.go", "package main"),
            ("src/_vendor/v.go", "package main"),
            ("dir/foo", ""),
            ("dir/foo1", ""),
            ("dir/dir/f1", ""),
            ("dir/dir/foo", ""),
            ("dir/e", ""),
            ("dir/e-dir/foo", ""),
            (".gitignore", ""),
            ("README.md", "readme"),
            ("dir/a.cc", "hello"),
            (
                ".dockerignore",
                "\n.git\npkg\n.gitignore\nsrc/_vendor\n*.md\ndir\n!dir/e*\n!dir/dir/foo\n**/*.cc\n!**/*.cc",
            ),
        ]);
        check(
            d.path(),
            &[
                "src/x.go",
                "Makefile",
                "dir/dir/foo",
                "dir/e",
                "dir/e-dir/foo",
                "dir/a.cc",
            ],
            &[
                "src/_vendor",
                ".gitignore",
                "README.md",
                "dir/foo1",
                "foo",
                ".git",
            ],
        );
    }

    #[test]
    fn moby_build_dockerignoring_dockerfile_dockerignore_and_bom() {
        for ignore in [
            "Dockerfile\n",
            "./Dockerfile\n",
            ".dockerignore\n",
            "\u{feff}./Dockerfile\n",
        ] {
            let d = tree(&[("Dockerfile", "FROM busybox"), (".dockerignore", ignore)]);
            check(d.path(), &["Dockerfile", ".dockerignore"], &[]);
        }
    }

    #[test]
    fn moby_build_dockerignoring_whole_dir_dotfiles_and_wild_top_dir() {
        let d = tree(&[
            ("Dockerfile", "FROM busybox"),
            (".dockerignore", "*\n"),
            ("Makefile", "all:"),
            (".gitignore", ""),
        ]);
        check(d.path(), &[], &[".gitignore", "Makefile"]);
        let d = tree(&[
            ("Dockerfile", "FROM busybox"),
            (".dockerignore", ".*"),
            ("Makefile", "all:"),
            (".gitignore", ""),
        ]);
        check(d.path(), &["Makefile"], &[".gitignore"]);
        for variant in ["**", "**/", "**/**", "*"] {
            let d = tree(&[
                ("Dockerfile", "FROM busybox"),
                ("file1", ""),
                ("dir/file1", ""),
                (".dockerignore", variant),
            ]);
            assert_eq!(sent(d.path()), [".dockerignore", "Dockerfile"], "{variant}");
        }
        let d = tree(&[
            ("Dockerfile", "FROM busybox"),
            ("Makefile", "all:"),
            (".dockerignore", "!\n"),
        ]);
        let err = collect(d.path()).unwrap_err();
        assert!(
            format!("{err:#}").contains("illegal exclusion pattern: \"!\""),
            "{err:#}"
        );
        assert_eq!(crate::exit::code_for(&err), crate::exit::USAGE);
    }

    #[test]
    fn moby_build_dockerignoring_wild_dirs() {
        let files = [
            "dir1/file0",
            "dir1/dir2/file0",
            "file1",
            "dir1/file1",
            "dir1/dir2/file1",
            "dir1/file2",
            "dir1/dir2/file2",
            "dir1/dir2/file4",
            "dir1/dir2/file5",
            "dir1/dir2/file6",
            "dir1/dir3/file7",
            "dir1/dir3/file8",
            "dir1/dir4/file9",
            "dir1/dir5/fileAA",
            "dir1/dir5/fileAB",
            "dir1/dir5/fileB",
        ];
        let mut t: Vec<(&str, &str)> = files.iter().map(|f| (*f, "")).collect();
        t.push(("Dockerfile", "FROM busybox"));
        t.push((
            ".dockerignore",
            "\n**/file0\n**/*file1\n**/dir1/file2\ndir1/**/file4\n**/dir2/file5\n**/dir1/dir2/file6\ndir1/dir3/**\n**/dir4/**\n**/file?A\n**/file\\?B\n**/dir5/file.\n",
        ));
        let d = tree(&t);
        check(
            d.path(),
            &[
                "Dockerfile",
                "dir1/dir2/file2",
                "dir1/dir3",
                "dir1/dir4",
                "dir1/dir5/fileAB",
                "dir1/dir5/fileB",
            ],
            &[
                "file0",
                "dir1/file0",
                "dir2/file0",
                "file1",
                "dir1/file1",
                "dir1/dir2/file1",
                "dir1/file2",
                "dir1/dir2/file4",
                "dir1/dir2/file5",
                "dir1/dir2/file6",
                "dir1/dir3/file7",
                "dir1/dir3/file8",
                "dir1/dir5/fileAA",
            ],
        );
    }

    // Ported from moby/buildkit frontend/dockerfile/dockerfile_dockerignore_test.go at commit
    // 73ed6825c4b7569379ef89df0aedcdbe64473d31 (`testDockerignore`, `testDockerignoreInvalid`;
    // `testDockerignoreOverride` is BuildKit's `Dockerfile.dockerignore`, which the legacy
    // builder the CLI uses here does not read).
    #[test]
    fn buildkit_dockerignore() {
        let d = tree(&[
            ("Dockerfile", "FROM scratch\nCOPY . .\n"),
            ("foo", "foo-contents"),
            ("bar", "bar-contents"),
            ("baz", "baz-contents"),
            ("bay", "bay-contents"),
            (".dockerignore", "\nba*\nDockerfile\n!bay\n.dockerignore\n"),
        ]);
        check(d.path(), &["foo", "bay"], &["bar", "baz"]);
        let d = tree(&[("Dockerfile", "FROM scratch\n"), (".dockerignore", "!\n")]);
        assert!(collect(d.path()).is_err());
    }

    // Ported from moby/moby pkg/archive/archive_test.go at v27.5.1
    // (4c9b3b011ae4c30145a7b344c870bdda01b454e2): `TestTarUntar` excludes "3";
    // `TestTarWithOptions` excludes "2", then "1" and "folder*".
    #[test]
    fn moby_archive_tar_with_options_excludes() {
        let d = tree(&[
            ("1", "hello world"),
            ("2", "welcome!"),
            ("3", "will be ignored"),
        ]);
        fs::write(d.path().join(".dockerignore"), "3\n").unwrap();
        check(d.path(), &["1", "2"], &["3"]);
        let d = tree(&[("1", "hello world"), ("2", "welcome!"), ("folder123/x", "")]);
        fs::write(d.path().join(".dockerignore"), "2\n").unwrap();
        check(d.path(), &["1", "folder123/x"], &["2"]);
        fs::write(d.path().join(".dockerignore"), "1\nfolder*\n").unwrap();
        check(d.path(), &["2"], &["1", "folder123"]);
    }

    /// The leak the issue reports: `**/*.key` then `!config` re-including a directory. The
    /// per-path rule sends `config/tls.key`; the CLI's walk does not.
    #[test]
    fn globstar_exclusion_then_reincluded_directory_does_not_leak() {
        let d = tree(&[
            ("Dockerfile", "FROM scratch\n"),
            ("config/tls.key", "secret"),
            ("config/app.toml", ""),
            ("top.key", "secret"),
            (".dockerignore", "**/*.key\n!config\n"),
        ]);
        check(
            d.path(),
            &["config", "config/app.toml"],
            &["config/tls.key", "top.key"],
        );
        // And an excluded directory is only entered for an exception that names a path in it.
        let d = tree(&[
            ("Dockerfile", "FROM scratch\n"),
            ("build/keep.tmp", ""),
            ("build/x", ""),
            ("src/keep.tmp", ""),
            (".dockerignore", "build\n*/*.tmp\n!**/keep.tmp\n"),
        ]);
        check(d.path(), &["src/keep.tmp"], &["build"]);
    }
}
