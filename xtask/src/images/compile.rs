//! Compiling the static binaries that go into the images.
//!
//! One `cargo build --release` per edition builds every component of that edition at once
//! (`-p aisopsflow-core -p aisopsflow-runner ... [--features <crate>/commercial ...]`). The
//! target is `x86_64-unknown-linux-gnu` with `+crt-static`, so glibc is linked statically and
//! the binary runs on `FROM scratch`; the separate target dirs (`target/images/<edition>`) keep
//! the host build warm, and let the editions compile at the same time without one edition's
//! features invalidating the other's build.

use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::{Context, bail};

use crate::config::ImageSpec;
use crate::workspace::Workspace;

/// The target triple of the image binaries.
pub const TARGET: &str = "x86_64-unknown-linux-gnu";

/// Where image builds keep cargo output and staged contexts.
pub fn images_dir(ws: &Workspace) -> PathBuf {
    ws.root.join("target").join("images")
}

/// The cargo target dir of one edition. Each edition has its own, so both compile at the
/// same time and switching features never invalidates the other's build.
pub fn target_dir(ws: &Workspace, edition: &str) -> PathBuf {
    images_dir(ws).join(edition)
}

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
    cargo_build(ws, &specs, version, commit)
        .await
        .with_context(|| format!("compiling the {edition} edition's binaries"))?;
    if ws.verbose > 0 {
        eprintln!(
            "images: cargo build of the {edition} edition took {:.2} s",
            started.elapsed().as_secs_f64()
        );
    }
    let release = target_dir(ws, &edition).join(TARGET).join("release");
    let mut out = HashMap::new();
    for spec in specs {
        let binary = release.join(&spec.krate);
        let ws2 = ws.clone();
        let spec2 = spec.clone();
        let dir = tokio::task::spawn_blocking(move || super::stage::stage(&ws2, &spec2, &binary))
            .await
            .context("the staging task failed")??;
        out.insert(spec.package.clone(), dir);
    }
    Ok(out)
}

async fn cargo_build(
    ws: &Workspace,
    specs: &[&ImageSpec],
    version: &str,
    commit: &str,
) -> anyhow::Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let mut cmd = tokio::process::Command::new(&cargo);
    cmd.current_dir(&ws.root)
        .args(["build", "--release", "--target", TARGET, "--target-dir"])
        .arg(target_dir(ws, &specs[0].edition));
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
        "AISOPSFLOW_VERSION={version} AISOPSFLOW_COMMIT={commit} CARGO_ENCODED_RUSTFLAGS=-Ctarget-feature=+crt-static cargo build --release --target {TARGET} --target-dir target/images/{} {}{}",
        specs[0].edition,
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
