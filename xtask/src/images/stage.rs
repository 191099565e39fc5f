//! Staging one build context per image under `target/images/contexts/<package>/`.
//!
//! A context holds exactly what its Dockerfile copies: the component's `Dockerfile` and
//! `.dockerignore`, the static binary, and `rootfs/` with `etc/passwd` and `etc/group` naming
//! the non-root user (10001) and the host's CA bundle. The directory is written beside its
//! final place and renamed into it, so an interrupted run never leaves a half-staged context.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use crate::config::ImageSpec;
use crate::workspace::Workspace;

/// The CA bundle staged into every image.
pub(crate) const CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// `/etc/passwd` of the images: root (for tools that expect it) and the service user.
pub(crate) const PASSWD: &str =
    "root:x:0:0:root:/:/sbin/nologin\naisopsflow:x:10001:10001:aisopsflow:/:/sbin/nologin\n";
/// `/etc/group` of the images.
pub(crate) const GROUP: &str = "root:x:0:\naisopsflow:x:10001:\n";

/// Where image builds keep cargo output, the edition binaries and staged contexts
/// (`target/images/`). It lives here, below `compile`, so the imports run one way:
/// compile uses stage, never the reverse.
pub(crate) fn images_dir(ws: &Workspace) -> PathBuf {
    ws.root.join("target").join("images")
}

/// Stages the context of `spec` with `binary`; returns the context directory.
pub fn stage(ws: &Workspace, spec: &ImageSpec, binary: &Path) -> anyhow::Result<PathBuf> {
    let contexts = images_dir(ws).join("contexts");
    let dir = contexts.join(&spec.package);
    // Unique per process and call, so concurrent stagings never share a scratch directory.
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = contexts.join(format!(
        ".{}.staging-{}-{n}",
        spec.package,
        std::process::id()
    ));
    let component_dir = ws.root.join(&spec.dir);
    if tmp.exists() {
        fs::remove_dir_all(&tmp).with_context(|| format!("removing {}", tmp.display()))?;
    }
    let etc = tmp.join("rootfs/etc");
    fs::create_dir_all(etc.join("ssl/certs"))
        .with_context(|| format!("creating {}", etc.display()))?;
    for name in ["Dockerfile", ".dockerignore"] {
        let from = component_dir.join(name);
        if !from.is_file() {
            bail!(
                "{} is missing; restore it from git (`git checkout -- {}/{name}`)",
                from.display(),
                spec.dir
            );
        }
        fs::copy(&from, tmp.join(name)).with_context(|| format!("copying {}", from.display()))?;
    }
    if !binary.is_file() {
        bail!(
            "the compiled binary {} is missing; the cargo build did not produce it",
            binary.display()
        );
    }
    fs::copy(binary, tmp.join(&spec.krate))
        .with_context(|| format!("copying {}", binary.display()))?;
    fs::write(etc.join("passwd"), PASSWD).context("writing rootfs/etc/passwd")?;
    fs::write(etc.join("group"), GROUP).context("writing rootfs/etc/group")?;
    if !Path::new(CA_BUNDLE).is_file() {
        bail!(
            "{CA_BUNDLE} is missing, so images would have no CA certificates; install them with `apt-get install -y ca-certificates`"
        );
    }
    fs::copy(CA_BUNDLE, etc.join("ssl/certs/ca-certificates.crt"))
        .with_context(|| format!("copying {CA_BUNDLE}"))?;
    if dir.exists() {
        fs::remove_dir_all(&dir)
            .with_context(|| format!("removing the old context {}", dir.display()))?;
    }
    fs::rename(&tmp, &dir)
        .with_context(|| format!("moving the staged context into {}", dir.display()))?;
    Ok(dir)
}
