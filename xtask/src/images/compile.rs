//! Compiling the static binaries that go into the images.
//!
//! One `cargo build --release` per edition builds every component of that edition at once
//! (`-p aisopsflow-core -p aisopsflow-runner ... [--features <crate>/commercial ...]`). The
//! target is `x86_64-unknown-linux-gnu` with `+crt-static`, so glibc is linked statically and
//! the binary runs on `FROM scratch`. The separate target dir (`target/images/cargo`) keeps the
//! host build warm, and the editions share it so dependencies compile once. Because cargo
//! puts both editions' binaries at the same path, each edition's are copied to
//! `target/images/bin/<edition>/` right after its build, under a lock, with a stamp of the
//! inputs they were built from: when the inputs are unchanged, cargo is not run at all.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use crate::config::ImageSpec;
use crate::workspace::Workspace;

/// The target triple of the image binaries.
pub(crate) const TARGET: &str = "x86_64-unknown-linux-gnu";

/// The cargo target dir of image builds, shared by the editions.
/// The cargo target dir image builds use in the workspace at `root`, unless
/// AISOPSFLOW_IMAGES_TARGET_DIR names another.
pub(crate) fn default_target_dir(root: &Path) -> PathBuf {
    root.join("target").join("images").join("cargo")
}

pub(crate) fn target_dir(ws: &Workspace) -> PathBuf {
    // A rehearsal's publish runs build in fresh checkouts; pointing them at the operator's
    // cargo target dir (AISOPSFLOW_IMAGES_TARGET_DIR) saves compiling every dependency again.
    if let Some(dir) = std::env::var_os("AISOPSFLOW_IMAGES_TARGET_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    default_target_dir(&ws.root)
}

/// Where one edition's binaries are kept, with the stamp of their inputs.
pub(crate) fn bin_dir(ws: &Workspace, edition: &str) -> PathBuf {
    super::stage::images_dir(ws).join("bin").join(edition)
}

/// Serialises builds within this process: cargo overwrites the binary of one edition with the
/// other's, so a build and the copy-out of its binaries must not interleave with another.
static COMPILE_LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The editions of `images`, in order of first appearance (public first).
pub fn editions(images: &[ImageSpec]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in images {
        if !out.contains(&s.edition) {
            out.push(s.edition.clone());
        }
    }
    out
}

/// Compiles the binaries of one edition's images and stages their contexts; returns
/// package -> context dir.
pub(crate) async fn compile_and_stage_edition(
    ws: &Workspace,
    specs: &[ImageSpec],
    version: &str,
    commit: &str,
    sources: &str,
) -> anyhow::Result<HashMap<String, PathBuf>> {
    let Some(edition) = specs.first().map(|s| s.edition.clone()) else {
        return Ok(HashMap::new());
    };
    let specs: Vec<&ImageSpec> = specs.iter().collect();
    let started = std::time::Instant::now();
    let bins = bin_dir(ws, &edition);
    let stamp = bins.join("inputs.sha256");
    let fingerprint = inputs_fingerprint(ws, &specs, version, commit, sources).await?;
    let fresh = std::fs::read_to_string(&stamp).is_ok_and(|s| s.trim() == fingerprint)
        && specs.iter().all(|s| bins.join(&s.krate).is_file());
    if fresh {
        if ws.verbose > 0 {
            crate::note!(
                "images: the {edition} edition's inputs are unchanged; reusing its binaries"
            );
        }
    } else {
        let _lock = COMPILE_LOCK.lock().await;
        // A stale stamp must never outlive a failed build.
        let _ = std::fs::remove_file(&stamp);
        cargo_build(ws, &specs, version, commit)
            .await
            .with_context(|| format!("compiling the {edition} edition's binaries"))?;
        let release = target_dir(ws).join(TARGET).join("release");
        for spec in &specs {
            let from = release.join(&spec.krate);
            let bytes = std::fs::read(&from).with_context(|| {
                format!(
                    "reading {} (the cargo build did not produce it)",
                    from.display()
                )
            })?;
            let to = bins.join(&spec.krate);
            crate::fsx::write_atomic(&to, &bytes)?;
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o755))
                .with_context(|| format!("making {} executable", to.display()))?;
        }
        crate::fsx::write_atomic(&stamp, fingerprint.as_bytes())?;
        if ws.verbose > 0 {
            crate::note!(
                "images: cargo build of the {edition} edition took {:.2} s",
                started.elapsed().as_secs_f64()
            );
        }
    }
    let mut out = HashMap::new();
    for spec in specs {
        let binary = bins.join(&spec.krate);
        let ws2 = ws.clone();
        let spec2 = spec.clone();
        let dir = tokio::task::spawn_blocking(move || super::stage::stage(&ws2, &spec2, &binary))
            .await
            .context("the staging task failed")??;
        out.insert(spec.package.clone(), dir);
    }
    Ok(out)
}

/// A hash of everything the edition's binaries are built from: `sources` (`source_digest`,
/// computed once for all editions), the compiler (`rustc -vV`), and the version, commit, features and
/// flags. When it matches the stamp of the last successful build, cargo is not run at all.
/// (A path dependency outside the workspace members would not be seen; there is none.)
pub(crate) async fn inputs_fingerprint(
    ws: &Workspace,
    specs: &[&ImageSpec],
    version: &str,
    commit: &str,
    sources: &str,
) -> anyhow::Result<String> {
    let rustc = tokio::process::Command::new("rustc")
        .arg("-vV")
        .current_dir(&ws.root)
        .output()
        .await
        .context("running `rustc -vV` (is the Rust toolchain on PATH?)")?;
    let mut head = format!(
        "target={TARGET}\nrustflags=-Ctarget-feature=+crt-static\nversion={version}\ncommit={commit}\n{}",
        String::from_utf8_lossy(&rustc.stdout)
    );
    for s in specs {
        head.push_str(&format!(
            "crate={} features={}\n",
            s.krate,
            s.features.join(",")
        ));
    }
    combine(&head, sources)
}

/// The digest of the sources the binaries are built from, computed once per build for all
/// editions (`build_each_then` passes it to every edition): the root `Cargo.toml`,
/// `Cargo.lock`, `.cargo/config*` and `rust-toolchain*`, and the files of every workspace
/// member except xtask. Files the workspace's ignore rules skip (git's: `.gitignore`,
/// `.git/info/exclude`, `core.excludesFile`) are never opened, nor anything under a `target`
/// or `.git` directory; each file is streamed through the hash in 64 KiB reads, so memory
/// stays bounded whatever the file sizes. Outside a git work tree every file is hashed.
///
/// The image's `.dockerignore` is deliberately not applied here: it is written for the staged
/// context (`*` then `!Dockerfile`, `!<binary>`, `!rootfs`), so applied to a component's
/// sources it would skip `src/` and a changed source would never rebuild the binary. It
/// governs the context hash (`context::hash`), which never opens an excluded file.
pub(crate) fn source_digest(root: &std::path::Path) -> anyhow::Result<String> {
    use sha2::{Digest, Sha256};
    use std::io::Read;
    let manifest =
        std::fs::read_to_string(root.join("Cargo.toml")).context("reading Cargo.toml")?;
    let value: toml::Value = toml::from_str(&manifest).context("parsing Cargo.toml")?;
    let members: Vec<String> = value
        .get("workspace")
        .and_then(|w| w.get("members"))
        .and_then(|m| m.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .filter(|m| m != "xtask")
                .collect()
        })
        .unwrap_or_default();
    let mut files: Vec<PathBuf> = Vec::new();
    for name in [
        "Cargo.toml",
        "Cargo.lock",
        ".cargo/config.toml",
        ".cargo/config",
        "rust-toolchain",
        "rust-toolchain.toml",
    ] {
        let p = root.join(name);
        if p.is_file() {
            files.push(p);
        }
    }
    match crate::effects::git::files_not_ignored(root, &members) {
        Some(listed) => {
            for rel in listed {
                let skipped = rel
                    .components()
                    .any(|part| part.as_os_str() == "target" || part.as_os_str() == ".git");
                let p = root.join(&rel);
                // A tracked file deleted from the work tree is simply not there to hash.
                if !skipped && std::fs::symlink_metadata(&p).is_ok_and(|m| m.is_file()) {
                    files.push(p);
                }
            }
        }
        None => {
            for member in &members {
                collect_files(&root.join(member), &mut files)?;
            }
        }
    }
    files.sort();
    files.dedup();
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    for f in files {
        let rel = f
            .strip_prefix(root)
            .unwrap_or(&f)
            .to_string_lossy()
            .into_owned();
        let file = std::fs::File::open(&f).with_context(|| format!("opening {}", f.display()))?;
        let len = file
            .metadata()
            .with_context(|| format!("reading {}", f.display()))?
            .len();
        h.update(format!("\n{rel} {len}\n").as_bytes());
        let mut reader = file.take(len);
        let mut seen = 0u64;
        loop {
            let n = reader
                .read(&mut buf)
                .with_context(|| format!("reading {}", f.display()))?;
            if n == 0 {
                break;
            }
            seen += n as u64;
            h.update(&buf[..n]);
        }
        if seen != len {
            anyhow::bail!(
                "{} changed while it was hashed ({len} bytes listed, {seen} read); rerun when nothing writes to the sources",
                f.display()
            );
        }
    }
    Ok(format!("{:x}", h.finalize()))
}

/// The source digest of the workspace `ws`, off the async runtime.
pub(crate) async fn source_digest_of(ws: &Workspace) -> anyhow::Result<String> {
    let root = ws.root.clone();
    tokio::task::spawn_blocking(move || source_digest(&root))
        .await
        .context("the source hashing task failed")?
}

#[cfg(test)]
fn hash_sources(root: &std::path::Path, head: &str) -> anyhow::Result<String> {
    combine(head, &source_digest(root)?)
}

fn combine(head: &str, sources: &str) -> anyhow::Result<String> {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(head.as_bytes());
    h.update(b"\nsources ");
    h.update(sources.as_bytes());
    Ok(format!("{:x}", h.finalize()))
}

fn collect_files(dir: &std::path::Path, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    for entry in entries {
        let entry = entry.with_context(|| format!("reading {}", dir.display()))?;
        let name = entry.file_name();
        if name == "target" || name == ".git" {
            continue;
        }
        let ft = entry
            .file_type()
            .with_context(|| format!("reading {}", entry.path().display()))?;
        if ft.is_dir() {
            collect_files(&entry.path(), out)?;
        } else if ft.is_file() {
            out.push(entry.path());
        }
    }
    Ok(())
}

/// The image build's cargo arguments. `--locked`: the binaries in customers' images come only
/// from the reviewed Cargo.lock (and the toolchain in rust-toolchain.toml, which cargo picks up
/// in the workspace root).
pub(crate) const CARGO_BUILD: [&str; 5] = ["build", "--release", "--locked", "--target", TARGET];

async fn cargo_build(
    ws: &Workspace,
    specs: &[&ImageSpec],
    version: &str,
    commit: &str,
) -> anyhow::Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let mut cmd = tokio::process::Command::new(&cargo);
    cmd.current_dir(&ws.root)
        .args(CARGO_BUILD)
        .arg("--target-dir")
        .arg(target_dir(ws));
    let mut features = Vec::new();
    for spec in specs {
        cmd.args(["-p", &spec.krate]);
        for f in &spec.features {
            features.push(format!("{}/{f}", spec.krate));
        }
    }
    if !features.is_empty() {
        cmd.arg("--features").arg(features.join(","));
    }
    // CARGO_ENCODED_RUSTFLAGS wins over RUSTFLAGS and, with an explicit --target, applies only
    // to the target, not to build scripts.
    cmd.env("CARGO_ENCODED_RUSTFLAGS", "-Ctarget-feature=+crt-static")
        .env("AISOPSFLOW_VERSION", version)
        .env("AISOPSFLOW_COMMIT", commit)
        .kill_on_drop(true);
    let shown = format!(
        "AISOPSFLOW_VERSION={version} AISOPSFLOW_COMMIT={commit} CARGO_ENCODED_RUSTFLAGS=-Ctarget-feature=+crt-static cargo {} --target-dir target/images/cargo {}{}",
        CARGO_BUILD.join(" "),
        specs
            .iter()
            .map(|s| format!("-p {} ", s.krate))
            .collect::<String>(),
        if features.is_empty() {
            String::new()
        } else {
            format!("--features {}", features.join(","))
        }
    );
    if ws.verbose > 0 {
        crate::note!("$ {shown}");
    }
    let output = cmd
        .output()
        .await
        .with_context(|| format!("running {cargo} (is cargo on PATH?)"))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let stdout = String::from_utf8_lossy(&output.stdout);
        bail!(
            "`{shown}` failed ({}):\n{stdout}{stderr}\nfix the compile error above, then rerun; the static target needs `apt-get install libc6-dev`",
            output.status
        );
    }
    if ws.verbose > 1 {
        crate::note_part!("{}", String::from_utf8_lossy(&output.stderr));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_binaries_build_from_the_lockfile() {
        assert!(CARGO_BUILD.contains(&"--locked"), "{CARGO_BUILD:?}");
        assert!(CARGO_BUILD.contains(&"--release"), "{CARGO_BUILD:?}");
    }

    #[test]
    fn source_hash_sees_member_sources_and_ignores_target_and_xtask() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let write = |rel: &str, text: &str| {
            let p = root.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        };
        write(
            "Cargo.toml",
            "[workspace]\nmembers = [\"xtask\", \"core\"]\n",
        );
        write("Cargo.lock", "# lock\n");
        write("core/src/main.rs", "fn main() {}\n");
        write("xtask/src/main.rs", "fn main() {}\n");
        let first = hash_sources(root, "head").unwrap();
        assert_eq!(hash_sources(root, "head").unwrap(), first);
        assert_ne!(hash_sources(root, "other head").unwrap(), first);
        write("core/target/junk", "x");
        write("xtask/src/lib.rs", "// changed\n");
        assert_eq!(hash_sources(root, "head").unwrap(), first);
        write("core/src/main.rs", "fn main() { println!(); }\n");
        assert_ne!(hash_sources(root, "head").unwrap(), first);
        let second = hash_sources(root, "head").unwrap();
        write("Cargo.lock", "# lock 2\n");
        assert_ne!(hash_sources(root, "head").unwrap(), second);
    }

    fn git_in(root: &std::path::Path, args: &[&str]) {
        let out = std::process::Command::new("git")
            .args(args)
            .current_dir(root)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@example.test")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@example.test")
            .output()
            .expect("git is installed");
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// A multi-GB file the workspace ignores in a component folder is never read: its content
    /// does not reach the hash (a sparse 4 GiB file whose last byte changes).
    #[test]
    fn source_hash_skips_what_git_ignores_without_reading_it() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let write = |rel: &str, text: &str| {
            let p = root.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        };
        write(
            "Cargo.toml",
            "[workspace]\nmembers = [\"xtask\", \"core\"]\n",
        );
        write("core/src/main.rs", "fn main() {}\n");
        write(".gitignore", "/target\ncore/*.bin\n");
        git_in(root, &["init", "-q"]);
        git_in(root, &["add", "."]);
        git_in(root, &["commit", "-qm", "initial"]);
        let big = root.join("core/huge.bin");
        let f = std::fs::File::create(&big).unwrap();
        f.set_len(4 << 30).unwrap();
        drop(f);
        let first = source_digest(root).unwrap();
        {
            use std::io::{Seek, SeekFrom, Write};
            let mut f = std::fs::OpenOptions::new().write(true).open(&big).unwrap();
            f.seek(SeekFrom::End(-1)).unwrap();
            f.write_all(b"x").unwrap();
        }
        assert_eq!(
            source_digest(root).unwrap(),
            first,
            "the ignored file was hashed"
        );
        // An untracked file git does not ignore is a source, and so is a tracked one.
        write("core/src/new.rs", "// new\n");
        let second = source_digest(root).unwrap();
        assert_ne!(second, first);
        write("core/src/main.rs", "fn main() { }\n");
        assert_ne!(source_digest(root).unwrap(), second);
    }

    fn vm_hwm_kib() -> u64 {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmHWM in /proc/self/status")
    }

    /// A 512 MiB source file (sparse) is streamed: the peak RSS of a process that does nothing
    /// else grows by far less than the file. Measured in a child process running only this
    /// test, so other tests' memory is not counted.
    #[test]
    fn source_hash_streams_in_bounded_memory() {
        const CHILD: &str = "AISOPSFLOW_TEST_HWM_CHILD";
        if std::env::var_os(CHILD).is_none() {
            let out = std::process::Command::new(std::env::current_exe().unwrap())
                .args([
                    "images::compile::tests::source_hash_streams_in_bounded_memory",
                    "--exact",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .env(CHILD, "1")
                .output()
                .unwrap();
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(out.status.success(), "{text}");
            assert!(text.contains("peak RSS grew by"), "{text}");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::write(
            root.join("Cargo.toml"),
            "[workspace]\nmembers = [\"core\"]\n",
        )
        .unwrap();
        std::fs::create_dir_all(root.join("core/assets")).unwrap();
        let f = std::fs::File::create(root.join("core/assets/blob.bin")).unwrap();
        f.set_len(512 << 20).unwrap();
        drop(f);
        let before = vm_hwm_kib();
        source_digest(root).unwrap();
        let grew = vm_hwm_kib().saturating_sub(before);
        crate::say!("peak RSS grew by {grew} KiB hashing a 512 MiB file");
        assert!(
            grew < 32 * 1024,
            "hashing held the file in memory: +{grew} KiB"
        );
    }
}
