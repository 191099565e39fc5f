//! The build checks: every image of the release builds, runs, and carries clean metadata.
//!
//! `build-core`, `build-runner` and `build-console` build each component in both editions
//! through the engine (console only when it is in scope); `build-smoke` runs every built image
//! and checks what it says it is; `build-public-metadata-clean` inspects the public images for
//! enterprise-repository URLs and commercial-only defaults, and records that the commercial
//! images do carry their edition. The area does nothing unless `--only` selects one of them.

use crate::checks::{CheckId, Ctx, Evidence, Outcome};
use crate::checks::{Kind, Meta, Phase, Section, Severity};
use crate::config::{ImageSpec, Visibility};
use crate::effects::docker::{BuildFailure, Docker};
use crate::images::{self, BuiltImage, EDITION_LABEL, Progress};

pub(crate) const BUILD_CORE: Meta = Meta {
    id: "build-core",
    section: Section::OperatorPreflight,
    phase: Phase::Preflight,
    kind: Kind::Automated,
    severity: Severity::Error,
    checklist: "`core/Dockerfile` builds successfully",
    summary: "core/Dockerfile builds through the Docker Engine API, in both editions.",
    why: "A tag whose image cannot build publishes nothing, or half of a release.",
    fix: "Read the failing Dockerfile step and the engine message in the evidence; reproduce with `cargo xtask preflight --only build-core`.",
};

pub(crate) const BUILD_RUNNER: Meta = Meta {
    id: "build-runner",
    section: Section::OperatorPreflight,
    phase: Phase::Preflight,
    kind: Kind::Automated,
    severity: Severity::Error,
    checklist: "`runner/Dockerfile` builds successfully",
    summary: "runner/Dockerfile builds through the Docker Engine API, in both editions.",
    why: "A tag whose image cannot build publishes nothing, or half of a release.",
    fix: "Read the failing Dockerfile step and the engine message in the evidence; reproduce with `cargo xtask preflight --only build-runner`.",
};

pub(crate) const BUILD_CONSOLE: Meta = Meta {
    id: "build-console",
    section: Section::OperatorPreflight,
    phase: Phase::Preflight,
    kind: Kind::Automated,
    severity: Severity::Error,
    checklist: "`console/Dockerfile` builds successfully when console is in scope",
    summary: "console/Dockerfile builds through the Docker Engine API, in both editions, when console is in scope.",
    why: "A tag whose image cannot build publishes nothing, or half of a release.",
    fix: "Read the failing Dockerfile step and the engine message in the evidence; reproduce with `cargo xtask preflight --components core,runner,console --only build-console`.",
};

pub(crate) const BUILD_SMOKE: Meta = Meta {
    id: "build-smoke",
    section: Section::OperatorPreflight,
    phase: Phase::Preflight,
    kind: Kind::Automated,
    severity: Severity::Error,
    checklist: "image changes match the intended component release",
    summary: "Each built image runs and reports the intended component, version, commit and edition; core answers /healthz.",
    why: "An image that builds but runs the wrong binary or edition would ship silently.",
    fix: "Check the staged binary and build args named in the evidence; rerun `cargo xtask preflight --only build-smoke -v`.",
};

pub(crate) const BUILD_PUBLIC_METADATA_CLEAN: Meta = Meta {
    id: "build-public-metadata-clean",
    section: Section::OperatorPreflight,
    phase: Phase::Preflight,
    kind: Kind::Automated,
    severity: Severity::Error,
    checklist: "do not expose commercial-only defaults in public package metadata",
    summary: "Built public images carry no enterprise-repository URL and no commercial-only default in labels, env or config.",
    why: "Image config is public metadata for a public package.",
    fix: "Remove the label, env or build arg named in the evidence from the public build.",
};

const IDS: &[CheckId] = &[
    CheckId::BuildCore,
    CheckId::BuildRunner,
    CheckId::BuildConsole,
    CheckId::BuildSmoke,
    CheckId::BuildPublicMetadataClean,
];

/// Runs the selected build checks. `Err` only when the engine is unreachable (exit 3).
pub async fn run(ctx: &Ctx) -> anyhow::Result<Vec<Outcome>> {
    if !ctx.wants_any(IDS) {
        return Ok(Vec::new());
    }
    let mut outcomes = Vec::new();
    let console_in_scope = ctx.components.iter().any(|c| c == "console");
    if ctx.wants(CheckId::BuildConsole) && !console_in_scope {
        outcomes.push(Outcome::skip(
            CheckId::BuildConsole,
            "console not in scope",
            "pass --components core,runner,console",
        ));
    }
    // Which components must be built: those whose build check is selected, and every
    // component in scope when the smoke or metadata check needs images.
    let needs_all = ctx.wants(CheckId::BuildSmoke) || ctx.wants(CheckId::BuildPublicMetadataClean);
    let components: Vec<String> = ctx
        .components
        .iter()
        .filter(|c| {
            needs_all
                || match c.as_str() {
                    "core" => ctx.wants(CheckId::BuildCore),
                    "runner" => ctx.wants(CheckId::BuildRunner),
                    "console" => ctx.wants(CheckId::BuildConsole),
                    _ => false,
                }
        })
        .cloned()
        .collect();
    let specs = ctx.ws.config.images_for(&components);
    if specs.is_empty() {
        return Ok(outcomes);
    }
    // A `.dockerignore` pattern the docker CLI refuses is a configuration error (exit 2)
    // naming the file and line, found before anything compiles.
    images::check_dockerignores(&ctx.ws, &specs)?;

    let version = match &ctx.release {
        Some(v) => v.to_string(),
        None => {
            workspace_version(&ctx.ws.root).map_err(|e| crate::exit::usage(format!("{e:#}")))?
        }
    };
    // Without a commit nothing can be built that says which commit it is: every selected
    // build check fails with the reason, and the other areas still run.
    let head = match crate::effects::git::head_info(&ctx.ws.root) {
        Ok(h) => h,
        Err(e) => {
            for id in IDS {
                if ctx.wants(*id) && !outcomes.iter().any(|o| o.id == *id) {
                    outcomes.push(Outcome::fail(
                        *id,
                        "no commit to build images from",
                        vec![Evidence::note(format!("{e:#}"))],
                    ));
                }
            }
            return Ok(outcomes);
        }
    };
    let mut source_note = format!("built from commit {} with version {version}", head.commit);
    if head.dirty {
        source_note.push_str(
            "; the work tree has uncommitted changes, so these images are not what the tag will publish",
        );
    }
    let started = std::time::Instant::now();
    let docker = Docker::connect().await?;
    let progress = Progress::auto();
    // Each image is smoke-run as soon as it is ready, while later ones still compile or build.
    let want_smoke = ctx.wants(CheckId::BuildSmoke);
    let (docker_ref, version_ref, commit_ref) = (&docker, version.as_str(), head.commit.as_str());
    let set = images::BuildSet {
        ws: &ctx.ws,
        docker: &docker,
        images: &specs,
        version: &version,
        commit: &head.commit,
        created: &head.time,
        progress: &progress,
    };
    let pipelined = images::build_each_then(&set, |built| async move {
        if want_smoke {
            Some(images::smoke::smoke(docker_ref, &built, version_ref, commit_ref).await)
        } else {
            None
        }
    })
    .await;
    if crate::effects::docker::was_interrupted() {
        return Err(crate::exit::policy(
            "interrupted (Ctrl-C); every container started for the smoke run was removed",
        ));
    }
    let mut results = Vec::new();
    let mut smokes = Vec::new();
    for (spec, result, smoke) in pipelined {
        if let (Ok(b), Some(Some(s))) = (&result, smoke) {
            smokes.push((b.clone(), s));
        }
        results.push((spec, result));
    }

    for (id, component) in [
        (CheckId::BuildCore, "core"),
        (CheckId::BuildRunner, "runner"),
        (CheckId::BuildConsole, "console"),
    ] {
        if !ctx.wants(id) || !ctx.components.iter().any(|c| c == component) {
            continue;
        }
        outcomes.push(build_outcome(id, component, &results, &source_note));
    }

    if ctx.ws.verbose > 0 {
        crate::note!(
            "images: compiled, staged, built (or reused) and smoke-ran {} images in {:.2} s",
            results.len(),
            started.elapsed().as_secs_f64()
        );
    }
    let built: Vec<&BuiltImage> = results
        .iter()
        .filter_map(|(_, r)| r.as_ref().ok())
        .collect();
    let unbuilt: Vec<&ImageSpec> = results
        .iter()
        .filter(|(_, r)| r.is_err())
        .map(|(s, _)| s)
        .collect();
    if want_smoke {
        outcomes.push(smoke_outcome(smokes, &unbuilt, &version));
    }
    if ctx.wants(CheckId::BuildPublicMetadataClean) {
        outcomes.push(metadata_outcome(ctx, &docker, &built, &unbuilt).await);
    }
    Ok(outcomes)
}

/// The `[workspace.package] version` of the root Cargo.toml.
pub(crate) fn workspace_version(root: &std::path::Path) -> anyhow::Result<String> {
    use anyhow::Context;
    let path = root.join("Cargo.toml");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let value: toml::Value =
        toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    value
        .get("workspace")
        .and_then(|w| w.get("package"))
        .and_then(|p| p.get("version"))
        .and_then(|v| v.as_str())
        .map(str::to_string)
        .with_context(|| {
            format!(
                "{} has no [workspace.package] version; add one or pass --release VERSION",
                path.display()
            )
        })
}

fn build_outcome(
    id: CheckId,
    component: &str,
    results: &[(ImageSpec, anyhow::Result<BuiltImage>)],
    source_note: &str,
) -> Outcome {
    let mine: Vec<_> = results
        .iter()
        .filter(|(s, _)| s.component == component)
        .collect();
    let mut evidence = vec![Evidence::file(format!("{component}/Dockerfile"), None)];
    let mut failures = Vec::new();
    for (spec, result) in &mine {
        match result {
            Ok(b) => evidence.push(Evidence::digest(
                format!(
                    "{} ({} edition, context {}{})",
                    b.tag,
                    spec.edition,
                    b.context_hash,
                    if b.reused { ", unchanged: reused" } else { "" }
                ),
                b.id.clone(),
            )),
            Err(e) => {
                let text = match e.chain().find_map(|c| c.downcast_ref::<BuildFailure>()) {
                    Some(f) => format!(
                        "{} ({} edition): {}\nengine message: {}",
                        spec.package,
                        spec.edition,
                        f.step.as_deref().unwrap_or("before the first step"),
                        f.message
                    ),
                    None => format!("{} ({} edition): {e:#}", spec.package, spec.edition),
                };
                evidence.push(Evidence::note(text));
                failures.push(spec.edition.clone());
            }
        }
    }
    evidence.push(Evidence::note(source_note));
    if failures.is_empty() {
        Outcome::pass(
            id,
            format!("{component}/Dockerfile builds in {} editions", mine.len()),
            evidence,
        )
    } else {
        Outcome::fail(
            id,
            format!(
                "{component}/Dockerfile failed to build ({} edition{})",
                failures.join(", "),
                if failures.len() > 1 { "s" } else { "" }
            ),
            evidence,
        )
    }
}

fn smoke_outcome(
    runs: Vec<(BuiltImage, anyhow::Result<images::smoke::SmokeReport>)>,
    unbuilt: &[&ImageSpec],
    version: &str,
) -> Outcome {
    let ran = runs.len();
    let mut evidence = Vec::new();
    let mut failed = Vec::new();
    for (b, r) in runs {
        match r {
            Ok(report) => {
                evidence.push(Evidence::note(format!(
                    "{}: {}",
                    b.tag, report.version_line
                )));
                if let Some(h) = report.health {
                    evidence.push(Evidence::note(format!("{}: {h}", b.tag)));
                }
            }
            Err(e) => {
                evidence.push(Evidence::note(format!("{}: {e:#}", b.tag)));
                failed.push(b.spec.package.clone());
            }
        }
    }
    for s in unbuilt {
        evidence.push(Evidence::note(format!(
            "{}: not built, so not run",
            s.package
        )));
        failed.push(s.package.clone());
    }
    if failed.is_empty() {
        Outcome::pass(
            CheckId::BuildSmoke,
            format!(
                "{ran} images run and report the intended component, version {version}, commit and edition"
            ),
            evidence,
        )
    } else {
        Outcome::fail(
            CheckId::BuildSmoke,
            format!("smoke run failed for {}", failed.join(", ")),
            evidence,
        )
    }
}

/// The forbidden strings found in `facts`, as `where: what`.
pub fn forbidden_in(
    facts: &crate::effects::docker::ImageFacts,
    forbidden: &[String],
) -> Vec<String> {
    let mut hits = Vec::new();
    for needle in forbidden {
        let n = needle.to_lowercase();
        for (k, v) in &facts.labels {
            if k.to_lowercase().contains(&n) || v.to_lowercase().contains(&n) {
                hits.push(format!("label {k}={v} contains `{needle}`"));
            }
        }
        for e in &facts.env {
            if e.to_lowercase().contains(&n) {
                hits.push(format!("env {e} contains `{needle}`"));
            }
        }
        if hits.is_empty() && facts.config_json.to_lowercase().contains(&n) {
            hits.push(format!("the image config contains `{needle}`"));
        }
    }
    hits
}

async fn metadata_outcome(
    ctx: &Ctx,
    docker: &Docker,
    built: &[&BuiltImage],
    unbuilt: &[&ImageSpec],
) -> Outcome {
    let mut forbidden = ctx.ws.config.enterprise_markers();
    forbidden.extend(ctx.ws.config.commercial_only_defaults());
    let mut evidence = Vec::new();
    let mut problems = Vec::new();
    let mut public_checked = 0;
    for b in built {
        let facts = match docker.image(&b.tag).await {
            Ok(Some(f)) => f,
            Ok(None) => {
                problems.push(format!("{} vanished before inspection", b.tag));
                continue;
            }
            Err(e) => {
                problems.push(format!("{}: {e:#}", b.tag));
                continue;
            }
        };
        let edition = facts.labels.get(EDITION_LABEL).cloned().unwrap_or_default();
        evidence.push(Evidence::api(
            format!("GET /images/{}/json", b.tag),
            format!("Config.Labels.{EDITION_LABEL}"),
            if edition.is_empty() {
                "(missing)".to_string()
            } else {
                edition.clone()
            },
        ));
        if edition != b.spec.edition {
            problems.push(format!(
                "{} is labelled edition `{edition}` but was built as `{}`",
                b.tag, b.spec.edition
            ));
        }
        if b.spec.visibility == Visibility::Public {
            public_checked += 1;
            for hit in forbidden_in(&facts, &forbidden) {
                problems.push(format!("public image {}: {hit}", b.tag));
            }
        }
    }
    for s in unbuilt
        .iter()
        .filter(|s| s.visibility == Visibility::Public)
    {
        problems.push(format!(
            "{} was not built, so its metadata was not checked",
            s.package
        ));
    }
    evidence.push(Evidence::note(format!(
        "searched labels, env and config for: {}",
        forbidden.join(", ")
    )));
    if problems.is_empty() {
        Outcome::pass(
            CheckId::BuildPublicMetadataClean,
            format!(
                "{public_checked} public images carry no enterprise URL or commercial default; every image carries its edition"
            ),
            evidence,
        )
    } else {
        for p in &problems {
            evidence.push(Evidence::note(p.clone()));
        }
        Outcome::fail(
            CheckId::BuildPublicMetadataClean,
            format!("{} metadata problem(s): {}", problems.len(), problems[0]),
            evidence,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::effects::docker::ImageFacts;
    use std::collections::HashMap;

    #[test]
    fn forbidden_strings_are_found_in_labels_env_and_config() {
        let forbidden = vec![
            "github.com/aisopsflow/aisopsflow-enterprise".to_string(),
            "licensing.aisopsflow.io".to_string(),
        ];
        let clean = ImageFacts {
            id: "sha256:x".into(),
            labels: HashMap::from([("io.aisopsflow.edition".into(), "public".into())]),
            env: vec!["PATH=/usr/bin".into()],
            config_json: r#"{"Config":{"Cmd":["serve"]}}"#.into(),
        };
        assert!(forbidden_in(&clean, &forbidden).is_empty());

        let mut label = clean.clone();
        label.labels.insert(
            "org.opencontainers.image.source".into(),
            "https://GitHub.com/aisopsflow/aisopsflow-enterprise".into(),
        );
        assert_eq!(forbidden_in(&label, &forbidden).len(), 1);

        let mut env = clean.clone();
        env.env
            .push("LICENSE_URL=https://licensing.aisopsflow.io/v1".into());
        assert!(forbidden_in(&env, &forbidden)[0].starts_with("env "));

        let mut config = clean;
        config.config_json =
            r#"{"Config":{"Cmd":["--license","https://licensing.aisopsflow.io"]}}"#.into();
        assert!(forbidden_in(&config, &forbidden)[0].contains("image config"));
    }
}
