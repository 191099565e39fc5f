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
pub const TARGET: &str = "x86_64-unknown-linux-gnu";

/// Where image builds keep cargo output and staged contexts.
pub fn images_dir(ws: &Workspace) -> PathBuf {
    ws.root.join("target").join("images")
}

/// The cargo target dir of image builds, shared by the editions.
/// The cargo target dir image builds use in the workspace at `root`, unless
/// AISOPSFLOW_IMAGES_TARGET_DIR names another.
pub fn default_target_dir(root: &Path) -> PathBuf {
    root.join("target").join("images").join("cargo")
}

pub fn target_dir(ws: &Workspace) -> PathBuf {
    // A rehearsal's publish runs build in fresh checkouts; pointing them at the operator's
    // cargo target dir (AISOPSFLOW_IMAGES_TARGET_DIR) saves compiling every dependency again.
    if let Some(dir) = std::env::var_os("AISOPSFLOW_IMAGES_TARGET_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    default_target_dir(&ws.root)
}

/// Where one edition's binaries are kept, with the stamp of their inputs.
pub fn bin_dir(ws: &Workspace, edition: &str) -> PathBuf {
    images_dir(ws).join("bin").join(edition)
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
pub async fn compile_and_stage_edition(
    ws: &Workspace,
    specs: &[ImageSpec],
    version: &str,
    commit: &str,
) -> anyhow::Result<HashMap<String, PathBuf>> {
    let Some(edition) = specs.first().map(|s| s.edition.clone()) else {
        return Ok(HashMap::new());
    };
    let specs: Vec<&ImageSpec> = specs.iter().collect();
    let started = std::time::Instant::now();
    let bins = bin_dir(ws, &edition);
    let stamp = bins.join("inputs.sha256");
    let fingerprint = inputs_fingerprint(ws, &specs, version, commit).await?;
    let fresh = std::fs::read_to_string(&stamp).is_ok_and(|s| s.trim() == fingerprint)
        && specs.iter().all(|s| bins.join(&s.krate).is_file());
    if fresh {
        if ws.verbose > 0 {
            eprintln!("images: the {edition} edition's inputs are unchanged; reusing its binaries");
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
            crate::images::stage::write_atomic(&to, &bytes)?;
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o755))
                .with_context(|| format!("making {} executable", to.display()))?;
        }
        crate::images::stage::write_atomic(&stamp, fingerprint.as_bytes())?;
        if ws.verbose > 0 {
            eprintln!(
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

/// A hash of everything the edition's binaries are built from: the sources of every workspace
/// member except xtask, the root `Cargo.toml`, `Cargo.lock`, `.cargo/config.toml` and any
/// `rust-toolchain` file, the compiler (`rustc -vV`), and the version, commit, features and
/// flags. When it matches the stamp of the last successful build, cargo is not run at all.
/// (A path dependency outside the workspace members would not be seen; there is none.)
pub async fn inputs_fingerprint(
    ws: &Workspace,
    specs: &[&ImageSpec],
    version: &str,
    commit: &str,
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
    let root = ws.root.clone();
    tokio::task::spawn_blocking(move || hash_sources(&root, &head))
        .await
        .context("the fingerprint task failed")?
}

fn hash_sources(root: &std::path::Path, head: &str) -> anyhow::Result<String> {
    use sha2::{Digest, Sha256};
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
    for member in members.iter().filter(|m| m.as_str() != "xtask") {
        collect_files(&root.join(member), &mut files)?;
    }
    files.sort();
    let mut h = Sha256::new();
    h.update(head.as_bytes());
    for f in files {
        let rel = f
            .strip_prefix(root)
            .unwrap_or(&f)
            .to_string_lossy()
            .into_owned();
        let bytes = std::fs::read(&f).with_context(|| format!("reading {}", f.display()))?;
        h.update(format!("\n{rel} {}\n", bytes.len()).as_bytes());
        h.update(&bytes);
    }
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
pub const CARGO_BUILD: [&str; 5] = ["build", "--release", "--locked", "--target", TARGET];

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
        eprintln!("$ {shown}");
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
        eprint!("{}", String::from_utf8_lossy(&output.stderr));
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
}
