//! Container images: compile the static binaries, stage one build context per image, build
//! every component × edition concurrently through the engine, and smoke-run the results.
//!
//! The flow for one call of `build_images`:
//! 1. `compile`: one `cargo build --release` per edition into `target/images/cargo`, with the
//!    version and commit in the environment and glibc linked statically; skipped when the
//!    edition's inputs are unchanged since its last build.
//! 2. `stage`: `target/images/contexts/<package>/` gets the component's Dockerfile and
//!    `.dockerignore`, the binary, and `rootfs/` (passwd, group, CA bundle).
//! 3. `context`: the files the CLI would send, as a deterministic tar; its hash, the build
//!    arguments and the labels make the build key. An image labelled with the same key is
//!    reused, so a warm run rebuilds nothing; otherwise the tar is streamed to the engine.
//!
//! Only `effects::docker` talks to the engine; this module plans and stages.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::Path;

use anyhow::Context;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use sha2::{Digest, Sha256};

use crate::config::{ImageSpec, Visibility};
use crate::effects::docker::{BuildRequest, Docker};
use crate::workspace::Workspace;

pub(crate) mod compile;
pub mod context;
pub mod dockerignore;
pub(crate) mod goregexp;
pub mod smoke;
pub mod stage;

/// The label holding the build key (context hash + build arguments + labels).
pub(crate) const BUILD_KEY_LABEL: &str = "io.aisopsflow.build-key";
/// The label naming the edition; checks read it.
pub const EDITION_LABEL: &str = "io.aisopsflow.edition";

/// An image built (or reused) locally.
#[derive(Debug, Clone)]
pub struct BuiltImage {
    pub spec: ImageSpec,
    /// The engine's image id (`sha256:...`).
    pub id: String,
    /// The local tag, `<package>:xtask-<checkout id>-<build key>`.
    pub tag: String,
    /// The hash of the context tar sent (or that would have been sent).
    pub context_hash: String,
    /// Whether an existing image with the same build key was reused.
    pub reused: bool,
}

/// Per-image progress on stderr; hidden when stderr is not a terminal.
#[derive(Clone)]
pub struct Progress {
    multi: MultiProgress,
}

impl Progress {
    /// Visible on a terminal, hidden otherwise (CI logs, tests, pipes) and with `--quiet`.
    pub fn auto() -> Progress {
        if std::io::stderr().is_terminal() && !crate::output::quiet() {
            Progress {
                multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
            }
        } else {
            Progress::hidden()
        }
    }

    pub fn hidden() -> Progress {
        Progress {
            multi: MultiProgress::with_draw_target(ProgressDrawTarget::hidden()),
        }
    }

    fn bar(&self, name: &str) -> ProgressBar {
        let bar = self.multi.add(ProgressBar::new_spinner());
        if let Ok(style) = ProgressStyle::with_template("{spinner} {prefix:32} {wide_msg}") {
            bar.set_style(style);
        }
        bar.set_prefix(name.to_string());
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        bar
    }
}

/// The build arguments that become the image's OCI labels.
pub fn build_args(
    spec: &ImageSpec,
    version: &str,
    commit: &str,
    created: &str,
) -> HashMap<String, String> {
    HashMap::from([
        ("VERSION".to_string(), version.to_string()),
        ("REVISION".to_string(), commit.to_string()),
        ("CREATED".to_string(), created.to_string()),
        ("TITLE".to_string(), spec.package.clone()),
        (
            "DESCRIPTION".to_string(),
            format!(
                "aisopsflow {} ({} edition). Pin this image by digest ({}@sha256:...), never by a tag: tags move.",
                spec.component, spec.edition, spec.package
            ),
        ),
        ("EDITION".to_string(), spec.edition.clone()),
    ])
}

/// Labels added through the API on top of the Dockerfile's. Only commercial (private) images
/// may name the enterprise repository.
pub(crate) fn extra_labels(ws: &Workspace, spec: &ImageSpec) -> HashMap<String, String> {
    let mut labels = HashMap::new();
    if spec.visibility == Visibility::Private {
        let (owner, name) = ws.config.repo_owner_name();
        labels.insert(
            "org.opencontainers.image.source".to_string(),
            format!("https://github.com/{owner}/{name}"),
        );
    }
    labels
}

/// The build key: everything that decides the image's content and metadata.
pub(crate) fn build_key(
    context_hash: &str,
    args: &HashMap<String, String>,
    labels: &HashMap<String, String>,
) -> String {
    let mut h = Sha256::new();
    h.update(context_hash.as_bytes());
    let mut args: Vec<_> = args.iter().collect();
    args.sort();
    for (k, v) in args {
        h.update(format!("\narg {k}={v}"));
    }
    let mut labels: Vec<_> = labels.iter().collect();
    labels.sort();
    for (k, v) in labels {
        h.update(format!("\nlabel {k}={v}"));
    }
    format!("{:x}", h.finalize())
}

/// Reads the `.dockerignore` of every image's component folder (the one staged into its
/// context) with the docker CLI's rules. A pattern the CLI refuses is a configuration error
/// (exit 2) naming the file and line.
pub(crate) fn check_dockerignores(ws: &Workspace, images: &[ImageSpec]) -> anyhow::Result<()> {
    for spec in images {
        dockerignore::Matcher::read_file(&ws.root.join(&spec.dir).join(".dockerignore"))?;
    }
    Ok(())
}

/// Builds `images` (all concurrently), failing if any fails. For the publish command.
pub(crate) async fn build_images(
    ws: &Workspace,
    images: &[ImageSpec],
    version: &str,
    commit: &str,
    progress: &Progress,
) -> anyhow::Result<Vec<BuiltImage>> {
    check_dockerignores(ws, images)?;
    let docker = Docker::connect().await?;
    let created = crate::effects::git::head_info(&ws.root)
        .map(|h| h.time)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".to_string());
    let set = BuildSet {
        ws,
        docker: &docker,
        images,
        version,
        commit,
        created: &created,
        progress,
    };
    let mut out = Vec::new();
    for (spec, result) in build_each(&set).await {
        out.push(
            result
                .with_context(|| format!("building {} ({} edition)", spec.package, spec.edition))?,
        );
    }
    Ok(out)
}

/// What one build of a set of images needs: where, through which engine, which images, and
/// the version, commit and creation time they are labelled with.
#[derive(Clone, Copy)]
pub struct BuildSet<'a> {
    pub ws: &'a Workspace,
    pub docker: &'a Docker,
    pub images: &'a [ImageSpec],
    pub version: &'a str,
    pub commit: &'a str,
    /// The image's `created` (RFC 3339 UTC, from the commit time).
    pub created: &'a str,
    pub progress: &'a Progress,
}

/// Builds every image and reports each one's result; a compile failure fails its edition.
pub async fn build_each(set: &BuildSet<'_>) -> Vec<(ImageSpec, anyhow::Result<BuiltImage>)> {
    build_each_then(set, |_| async {})
        .await
        .into_iter()
        .map(|(spec, r, _)| (spec, r))
        .collect()
}

/// Like `build_each`, and runs `then` on each image as soon as it is ready. The editions are
/// pipelined: while one edition's images are built and `then` runs on them, cargo compiles the
/// next. Results come back in the order of `images`.
pub(crate) async fn build_each_then<T, F, Fut>(
    set: &BuildSet<'_>,
    then: F,
) -> Vec<(ImageSpec, anyhow::Result<BuiltImage>, Option<T>)>
where
    F: Fn(BuiltImage) -> Fut,
    Fut: std::future::Future<Output = T>,
{
    let BuildSet {
        ws,
        images,
        version,
        commit,
        ..
    } = *set;
    use futures_util::StreamExt;
    use futures_util::stream::FuturesUnordered;

    let (tx, mut rx) =
        tokio::sync::mpsc::unbounded_channel::<(ImageSpec, anyhow::Result<std::path::PathBuf>)>();
    // The sources are hashed once for every edition, not once per edition at the same time.
    let sources = compile::source_digest_of(ws)
        .await
        .map_err(|e| format!("hashing the sources: {e:#}"));
    let sources = &sources;
    // The editions are started together: their input fingerprints are computed at once, and
    // an edition that needs cargo waits for the compile lock. Its images go to the consumer as
    // soon as its compile and staging finish.
    let producer =
        futures_util::future::join_all(compile::editions(images).into_iter().map(|edition| {
            let tx = tx.clone();
            async move {
                let specs: Vec<ImageSpec> = images
                    .iter()
                    .filter(|s| s.edition == edition)
                    .cloned()
                    .collect();
                let staged = match sources {
                    Ok(sources) => {
                        compile::compile_and_stage_edition(ws, &specs, version, commit, sources)
                            .await
                    }
                    Err(e) => Err(anyhow::anyhow!("{e}")),
                };
                match staged {
                    Ok(mut dirs) => {
                        for spec in specs {
                            let dir = dirs.remove(&spec.package).ok_or_else(|| {
                                anyhow::anyhow!("no staged context for {}", spec.package)
                            });
                            let _ = tx.send((spec, dir));
                        }
                    }
                    Err(e) => {
                        let msg = format!("{e:#}");
                        for spec in specs {
                            let _ = tx.send((spec, Err(anyhow::anyhow!("{msg}"))));
                        }
                    }
                }
            }
        }));
    drop(tx);
    let then = &then;
    let consumer = async move {
        let mut running = FuturesUnordered::new();
        let mut done = Vec::new();
        loop {
            tokio::select! {
                Some((spec, dir)) = rx.recv() => running.push(async move {
                    let result = match dir {
                        Ok(dir) => build_one(set, &spec, &dir).await,
                        Err(e) => Err(e),
                    };
                    let after = match &result {
                        Ok(b) => Some(then(b.clone()).await),
                        Err(_) => None,
                    };
                    (spec, result, after)
                }),
                Some(finished) = running.next(), if !running.is_empty() => done.push(finished),
                else => break,
            }
        }
        done
    };
    let (_, mut done) = futures_util::future::join(producer, consumer).await;
    done.sort_by_key(|(spec, _, _)| {
        images
            .iter()
            .position(|s| s.package == spec.package)
            .unwrap_or(usize::MAX)
    });
    done
}

async fn build_one(set: &BuildSet<'_>, spec: &ImageSpec, dir: &Path) -> anyhow::Result<BuiltImage> {
    let BuildSet {
        ws,
        docker,
        version,
        commit,
        created,
        progress,
        ..
    } = *set;
    let bar = progress.bar(&format!("{} ({})", spec.package, spec.edition));
    bar.set_message("hashing the context");
    let dir_owned = dir.to_path_buf();
    let (entries, context_hash) = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        let entries = context::collect(&dir_owned)?;
        let hash = context::hash(&entries)?;
        Ok((entries, hash))
    })
    .await
    .context("the context hashing task failed")??;
    let args = build_args(spec, version, commit, created);
    let mut labels = extra_labels(ws, spec);
    let key = build_key(&context_hash, &args, &labels);
    labels.insert(BUILD_KEY_LABEL.to_string(), key.clone());
    let scope = local_scope(ws);
    let tag = format!("{}:xtask-{scope}-{}", spec.package, &key[..16]);
    if let Some(existing) = docker.image(&tag).await?
        && existing.labels.get(BUILD_KEY_LABEL) == Some(&key)
    {
        bar.finish_with_message(format!("unchanged, reused {tag}"));
        return Ok(BuiltImage {
            spec: spec.clone(),
            id: existing.id,
            tag,
            context_hash,
            reused: true,
        });
    }
    let req = BuildRequest {
        tag: tag.clone(),
        build_args: args,
        labels,
    };
    let result = docker
        .build(
            &req,
            || context::stream(entries.clone()),
            |step| bar.set_message(step.to_string()),
        )
        .await;
    match result {
        Ok(id) => {
            bar.finish_with_message(format!("built {tag}"));
            prune(docker, &format!("{}:xtask-{scope}-", spec.package), &tag).await;
            Ok(BuiltImage {
                spec: spec.clone(),
                id,
                tag,
                context_hash,
                reused: false,
            })
        }
        Err(e) => {
            bar.abandon_with_message("failed");
            Err(e.context(format!(
                "building {} from {}",
                spec.package,
                dir.join("Dockerfile").display()
            )))
        }
    }
}

/// How many superseded `xtask-*` builds of each package to keep. Keeping a few lets runs
/// that alternate between inputs (a test version and the real one) reuse their images, while
/// the local image store does not grow without bound.
const KEEP_PER_PACKAGE: usize = 4;

/// A short id of the checkout, part of every local tag. Checkouts share one engine (worktrees,
/// CI runners with a shared daemon), and each prunes only its own builds, never another's.
pub(crate) fn local_scope(ws: &Workspace) -> String {
    let root = ws.root.canonicalize().unwrap_or_else(|_| ws.root.clone());
    let digest = Sha256::digest(root.to_string_lossy().as_bytes());
    format!("{digest:x}")[..8].to_string()
}

/// Untags the oldest builds whose tag starts with `prefix` (`<package>:xtask-<scope>-`)
/// beyond `KEEP_PER_PACKAGE`, never `current`. An image tagged elsewhere too (e.g. for a push)
/// only loses this tag. Failures only warn: pruning is housekeeping, not part of the build.
async fn prune(docker: &Docker, prefix: &str, current: &str) {
    let tags = match docker.local_tags(&format!("{prefix}*")).await {
        Ok(t) => t,
        Err(e) => {
            crate::note!("warning: not pruning old {prefix}* builds: {e:#}");
            return;
        }
    };
    for (tag, _) in tags
        .iter()
        .filter(|(t, _)| t != current)
        .skip(KEEP_PER_PACKAGE - 1)
    {
        if let Err(e) = docker.remove_image(tag).await {
            crate::note!("warning: not pruning {tag}: {e:#}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_key_changes_with_any_input() {
        let args = HashMap::from([("VERSION".to_string(), "1.0.0".to_string())]);
        let labels = HashMap::new();
        let k = build_key("sha256:a", &args, &labels);
        assert_eq!(k, build_key("sha256:a", &args.clone(), &labels));
        assert_ne!(k, build_key("sha256:b", &args, &labels));
        let args2 = HashMap::from([("VERSION".to_string(), "1.0.1".to_string())]);
        assert_ne!(k, build_key("sha256:a", &args2, &labels));
        let labels2 = HashMap::from([("x".to_string(), "y".to_string())]);
        assert_ne!(k, build_key("sha256:a", &args, &labels2));
    }
}
