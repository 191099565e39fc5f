//! `cargo xtask publish`: what the publish workflow runs. It maps the triggering ref to image
//! tags with the tag policy, builds every image in scope through the Docker Engine API, pushes
//! them, and prints a machine-readable record (JSON on stdout, and into `$GITHUB_OUTPUT` and
//! `$GITHUB_STEP_SUMMARY` when they are set).
//!
//! Safety rules, in order: the checkout must be the commit the event names; a version tag that
//! already exists at another commit is never overwritten; every package must accept a write
//! (`RegistryClient::check_push`) before anything is built or pushed; and `latest` is pushed
//! only after every package's version tags are in place, so a failed publish never moves
//! `latest`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context;
use serde::Serialize;

use crate::config::Config;
use crate::exit::usage;
use crate::tags::{self, TagPlan};

/// The inputs of a publish, from flags or the environment GitHub Actions gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trigger {
    pub git_ref: String,
    pub sha: String,
    pub event: tags::Event,
    pub publish_latest: Option<String>,
}

/// Resolves the trigger: a flag wins over its environment variable; a missing value is a usage
/// error that names both.
pub(crate) fn trigger_from(
    flag_ref: Option<String>,
    flag_sha: Option<String>,
    flag_event: Option<String>,
    flag_latest: Option<String>,
    env: &dyn Fn(&str) -> Option<String>,
) -> anyhow::Result<Trigger> {
    let need = |flag: Option<String>, var: &str, name: &str| {
        flag.or_else(|| env(var).filter(|v| !v.is_empty()))
            .ok_or_else(|| {
                usage(format!(
                    "no {name}: pass --{} or set {var} (the publish workflow sets it)",
                    name.replace(' ', "-")
                ))
            })
    };
    let git_ref = need(flag_ref, "GITHUB_REF", "ref")?;
    let sha = need(flag_sha, "GITHUB_SHA", "sha")?;
    let event = tags::parse_event(&need(flag_event, "GITHUB_EVENT_NAME", "event")?)?;
    let publish_latest = flag_latest.or_else(|| env("PUBLISH_LATEST"));
    Ok(Trigger {
        git_ref,
        sha,
        event,
        publish_latest,
    })
}

/// The components a tag releases, from the `components:` line `cargo xtask release` writes in
/// the annotated tag's message. Without one, only the always-released components.
pub fn components_from_tag_message(message: &str) -> Vec<String> {
    message
        .lines()
        .find_map(|l| l.trim().strip_prefix("components:"))
        .map(|list| {
            list.split(',')
                .map(|c| c.trim().to_string())
                .filter(|c| !c.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

/// Whether a tag message carries the `components:` line.
pub(crate) fn has_components_line(message: &str) -> bool {
    message.lines().any(|l| l.trim().starts_with("components:"))
}

/// The message of the annotated release tag, which names the components it releases. A CI
/// checkout often holds only a lightweight tag of that name (actions/checkout fetches the
/// tagged commit as `refs/tags/<tag>`), so a lightweight or missing tag is first replaced by
/// the remote's; if it is still not an annotated tag with a `components:` line, publishing
/// refuses instead of falling back to the default components.
pub(crate) fn release_tag_message(
    ws: &crate::workspace::Workspace,
    tag: &str,
) -> anyhow::Result<String> {
    use crate::effects::git::{self, Tag};
    let root = &ws.root;
    let remote = &ws.config.raw.repository.remote;
    let mut state = git::tag(root, tag)?;
    let mut fetch_error = None;
    if !matches!(state, Tag::Annotated(_)) {
        match git::fetch_tag_with(root, remote, tag, true) {
            Ok(()) => state = git::tag(root, tag)?,
            Err(e) => fetch_error = Some(format!("{e:#}")),
        }
    }
    let fix = "release with `cargo xtask release`, which pushes an annotated tag naming its components, or pass --components to publish an explicit list";
    match state {
        Tag::Annotated(message) if has_components_line(&message) => Ok(message),
        Tag::Annotated(_) => Err(usage(format!(
            "tag {tag} is annotated but its message has no `components:` line, so which components it releases is unknown; {fix}"
        ))),
        other => {
            let what = if other == Tag::Missing {
                "does not exist in this checkout"
            } else {
                "is a lightweight tag here"
            };
            let remote_said = match fetch_error {
                Some(e) => format!("fetching it from `{remote}` failed ({e})"),
                None => format!("`{remote}` holds no annotated tag of that name either"),
            };
            Err(usage(format!(
                "tag {tag} {what} and {remote_said}, so which components it releases is unknown; {fix}"
            )))
        }
    }
}

/// One package's published state.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub(crate) struct PublishedPackage {
    pub package: String,
    pub repository: String,
    pub tags: Vec<String>,
    pub digest: String,
    /// `built` when this run built and pushed it; `existing` when the version tags were already
    /// published from this commit and only missing tags (e.g. `latest`) were added.
    pub source: String,
}

/// The record a publish prints.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Record {
    pub schema_version: u32,
    pub git_ref: String,
    pub commit: String,
    pub event: tags::Event,
    pub version: String,
    pub moves_latest: bool,
    pub latest_reason: String,
    pub packages: Vec<PublishedPackage>,
    /// The steps: planned (`--dry-run`) or executed, in order (`PublishStep`).
    pub steps: Vec<PublishStep>,
}

impl Record {
    pub fn new(plan: &TagPlan, git_ref: &str, packages: Vec<PublishedPackage>) -> Record {
        Record {
            schema_version: 1,
            git_ref: git_ref.to_string(),
            commit: plan.commit.clone(),
            event: plan.event,
            version: plan.version.clone(),
            moves_latest: plan.moves_latest,
            latest_reason: plan.latest_reason.clone(),
            packages,
            steps: Vec::new(),
        }
    }

    /// The Markdown table for `$GITHUB_STEP_SUMMARY`.
    pub(crate) fn summary_markdown(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "### Published {} ({})", self.version, self.commit);
        let _ = writeln!(s);
        let _ = writeln!(s, "{}", self.latest_reason);
        let _ = writeln!(s);
        let _ = writeln!(s, "| package | tags | digest |");
        let _ = writeln!(s, "| --- | --- | --- |");
        for p in &self.packages {
            let _ = writeln!(
                s,
                "| {} | {} | `{}` |",
                p.repository,
                p.tags.join(", "),
                p.digest
            );
        }
        s
    }

    /// Appends `record=<json>` and one `digest-<package>=<digest>` line per package to the
    /// `$GITHUB_OUTPUT` file, so later jobs can use them.
    pub(crate) fn append_github_output(&self, path: &Path) -> anyhow::Result<()> {
        let mut s = String::new();
        let _ = writeln!(s, "record={}", serde_json::to_string(self)?);
        for p in &self.packages {
            let _ = writeln!(s, "digest-{}={}", p.package, p.digest);
        }
        append(path, &s)
    }

    pub(crate) fn append_step_summary(&self, path: &Path) -> anyhow::Result<()> {
        append(path, &self.summary_markdown())
    }
}

fn append(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))?;
    f.write_all(text.as_bytes())
        .with_context(|| format!("writing {}", path.display()))
}

/// The OCI label holding the version an image was built as.
pub(crate) const VERSION_LABEL: &str = "org.opencontainers.image.version";

/// What publishing a package must do, given what the registry already holds for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PackageAction {
    /// Nothing of this version is published: build and push every tag.
    Build,
    /// The version tags exist at `digest` and name this commit: add only the missing tags.
    Retag {
        digest: String,
        missing: Vec<String>,
    },
}

/// Decides per package from the digests its version tags have now (`None`: tag absent).
/// A version published from another commit is refused: releases are immutable.
pub(crate) fn decide(
    plan: &TagPlan,
    package: &str,
    existing: &BTreeMap<String, Option<String>>,
) -> anyhow::Result<PackageAction> {
    let present: Vec<(&String, &String)> = plan
        .version_tags
        .iter()
        .filter_map(|t| existing.get(t).and_then(|d| d.as_ref()).map(|d| (t, d)))
        .collect();
    if present.is_empty() {
        return Ok(PackageAction::Build);
    }
    let sha_tag = plan
        .version_tags
        .iter()
        .find(|t| t.contains(&plan.commit[..7]));
    let digests: std::collections::BTreeSet<&String> = present.iter().map(|(_, d)| *d).collect();
    if digests.len() > 1 || sha_tag.is_some_and(|s| !existing.get(s).is_some_and(|d| d.is_some())) {
        return Err(usage(format!(
            "{package}: version {} is already published ({}) but not from commit {}; releases are immutable: publish a new version",
            plan.version,
            present
                .iter()
                .map(|(t, d)| format!("{t} -> {d}"))
                .collect::<Vec<_>>()
                .join(", "),
            plan.commit
        )));
    }
    // Either everything is there (a promote or a rerun), or an interrupted publish pushed the
    // sha tag (always pushed first) but not the rest: the same digest under the missing tags
    // completes it either way.
    let digest = (*digests.iter().next().expect("non-empty")).clone();
    let missing = plan
        .tags
        .iter()
        .filter(|t| existing.get(*t).and_then(|d| d.as_ref()) != Some(&digest))
        .cloned()
        .collect();
    Ok(PackageAction::Retag { digest, missing })
}

/// The components a publish covers: `--components`, else the tag message's list, resolved
/// against release.toml.
pub fn scope(config: &Config, flag: &[String], tag_message: &str) -> anyhow::Result<Vec<String>> {
    if !flag.is_empty() {
        return config.scope(flag);
    }
    config.scope(&components_from_tag_message(tag_message))
}

/// Registry credentials for pushing: `REGISTRY_USERNAME`/`REGISTRY_TOKEN` (what the workflow
/// passes), else `GITHUB_ACTOR`/`GITHUB_TOKEN`.
fn push_credentials() -> anyhow::Result<(String, crate::secrets::Secret)> {
    let token = std::env::var("REGISTRY_TOKEN")
        .ok()
        .filter(|t| !t.is_empty())
        .or_else(|| std::env::var("GITHUB_TOKEN").ok().filter(|t| !t.is_empty()))
        .ok_or_else(|| usage("no registry credentials: set REGISTRY_TOKEN (the workflow passes secrets.GITHUB_TOKEN) or GITHUB_TOKEN"))?;
    let user = std::env::var("REGISTRY_USERNAME")
        .ok()
        .or_else(|| std::env::var("GITHUB_ACTOR").ok())
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "aisopsflow-publish".to_string());
    Ok((user, crate::secrets::Secret::new(token)))
}

/// One step of a publish, with its data. The plan is a list of these, computed by
/// [`plan_publish`] from what the registry holds; `--dry-run` prints it, and the real run
/// executes exactly it, in order, one function per step (`Publisher::run_step`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(tag = "step", rename_all = "kebab-case")]
pub(crate) enum PublishStep {
    /// Build the images of these packages (concurrently, through the Docker Engine API).
    Build { packages: Vec<String> },
    /// Push the built image of `package` under `tag`, the sha tag: pushed first, so a
    /// half-finished publish looks like "sha tag only", which a rerun completes.
    Push { package: String, tag: String },
    /// Point `tag` of `package` at the release digest (`digest`, where it is known before
    /// the run: already published from this commit).
    Tag {
        package: String,
        tag: String,
        digest: Option<String>,
    },
    /// Move `latest` of `package` to the release digest, once every package's version tags
    /// are in place.
    MoveLatest {
        package: String,
        tag: String,
        digest: Option<String>,
    },
}

impl PublishStep {
    /// One line for people.
    pub fn describe(&self, config: &Config) -> String {
        let at = |d: &Option<String>| match d {
            Some(d) => format!(" at {d}"),
            None => " at the pushed digest".to_string(),
        };
        match self {
            PublishStep::Build { packages } => format!("build {}", packages.join(", ")),
            PublishStep::Push { package, tag } => {
                format!("push {}:{tag}", config.image_repository(package))
            }
            PublishStep::Tag {
                package,
                tag,
                digest,
            } => format!(
                "tag {}:{tag}{}",
                config.image_repository(package),
                at(digest)
            ),
            PublishStep::MoveLatest {
                package,
                tag,
                digest,
            } => format!(
                "move {}:{tag}{} (last)",
                config.image_repository(package),
                at(digest)
            ),
        }
    }
}

/// What the registry holds for one package before a publish: the digest under each tag the
/// publish pushes (`None`: absent), and the version label of the image its version tags
/// hold, when they all hold one.
#[derive(Debug, Clone, Default)]
pub(crate) struct PackageSnapshot {
    pub existing: BTreeMap<String, Option<String>>,
    pub built_as: Option<String>,
}

/// The publish plan: per package what to do, and the ordered steps.
#[derive(Debug, Clone)]
pub(crate) struct PublishPlan {
    pub actions: Vec<PackageAction>,
    pub steps: Vec<PublishStep>,
}

/// Plans a publish from the registry's snapshot (`None`: not read, as a dry run without
/// credentials: every package is then planned as a build). Pure; refuses a version
/// published from another commit, and a sha tag holding another version's image.
pub(crate) fn plan_publish(
    plan: &TagPlan,
    packages: &[String],
    snapshot: Option<&BTreeMap<String, PackageSnapshot>>,
    latest: &str,
) -> anyhow::Result<PublishPlan> {
    let mut actions = Vec::new();
    for package in packages {
        let Some(snap) = snapshot.and_then(|s| s.get(package)) else {
            actions.push(PackageAction::Build);
            continue;
        };
        let action = decide(plan, package, &snap.existing)?;
        if let (PackageAction::Retag { digest, .. }, Some(built)) = (&action, &snap.built_as)
            && *built != plan.version
        {
            // The sha tag names one image per commit. If it already holds another version's
            // image (a second version released from the same commit), retagging would
            // publish that image under this version: refuse instead.
            return Err(usage(format!(
                "{package}: commit {} was already published as version {built} ({digest}); one commit gives one image, so release {} from a new commit",
                plan.commit, plan.version
            )));
        }
        actions.push(action);
    }
    let sha_tag = sha_tag(plan);
    let mut steps = Vec::new();
    let to_build: Vec<String> = packages
        .iter()
        .zip(&actions)
        .filter(|(_, a)| **a == PackageAction::Build)
        .map(|(p, _)| p.clone())
        .collect();
    if !to_build.is_empty() {
        steps.push(PublishStep::Build { packages: to_build });
    }
    // Version tags first, for every package; `latest` only once all of them are in place.
    for (package, action) in packages.iter().zip(&actions) {
        let known = match action {
            PackageAction::Build => {
                steps.push(PublishStep::Push {
                    package: package.clone(),
                    tag: sha_tag.clone(),
                });
                None
            }
            PackageAction::Retag { digest, .. } => Some(digest.clone()),
        };
        for t in plan.version_tags.iter().filter(|t| **t != sha_tag) {
            steps.push(PublishStep::Tag {
                package: package.clone(),
                tag: t.clone(),
                digest: known.clone(),
            });
        }
    }
    if plan.moves_latest {
        for (package, action) in packages.iter().zip(&actions) {
            steps.push(PublishStep::MoveLatest {
                package: package.clone(),
                tag: latest.to_string(),
                digest: match action {
                    PackageAction::Build => None,
                    PackageAction::Retag { digest, .. } => Some(digest.clone()),
                },
            });
        }
    }
    Ok(PublishPlan { actions, steps })
}

/// The sha tag of a tag plan (the version tag naming the commit), pushed first.
fn sha_tag(plan: &TagPlan) -> String {
    plan.version_tags
        .iter()
        .find(|t| t.contains(&plan.commit[..7]))
        .cloned()
        .unwrap_or_else(|| plan.version_tags[0].clone())
}

/// Reads what the registry holds for each package under the publish's tags, and the version
/// label of the image its version tags hold (when they agree on one digest).
pub(crate) async fn observe_registry(
    registry: &crate::effects::registry::RegistryClient,
    org: &str,
    plan: &TagPlan,
    packages: &[String],
) -> anyhow::Result<BTreeMap<String, PackageSnapshot>> {
    let mut out = BTreeMap::new();
    for package in packages {
        let repo = format!("{org}/{package}");
        let refs: Vec<(String, String)> = plan
            .tags
            .iter()
            .map(|t| (repo.clone(), t.clone()))
            .collect();
        let mut snap = PackageSnapshot::default();
        for (tag, r) in plan.tags.iter().zip(registry.resolve_all(&refs).await) {
            let r = r.with_context(|| {
                format!("reading {}/{repo}:{tag} before publishing", registry.host())
            })?;
            snap.existing.insert(tag.clone(), r.map(|r| r.digest));
        }
        let held: std::collections::BTreeSet<&String> = plan
            .version_tags
            .iter()
            .filter_map(|t| snap.existing.get(t).and_then(|d| d.as_ref()))
            .collect();
        if held.len() == 1 {
            let digest = held.into_iter().next().expect("one").clone();
            let labels = registry.image_metadata(&repo, &digest).await?.labels;
            snap.built_as = labels.get(VERSION_LABEL).cloned();
        }
        out.insert(package.clone(), snap);
    }
    Ok(out)
}

/// The plan for people (stderr: stdout carries the record).
pub(crate) fn render_plan(config: &Config, steps: &[PublishStep]) -> String {
    let mut s = String::from("Steps:\n");
    for (i, st) in steps.iter().enumerate() {
        let _ = writeln!(s, "  {}. {}", i + 1, st.describe(config));
    }
    s
}

impl crate::flags::Publish {
    pub async fn run(self, g: &crate::workspace::Global) -> anyhow::Result<u8> {
        if matches!(
            self.format,
            crate::flags::Format::Sarif | crate::flags::Format::Github
        ) {
            return Err(usage(
                "--format sarif and --format github are for check reports (preflight, verify); the publish record prints as `json` (or `human`, adding a summary on stderr)",
            ));
        }
        let ws = g.workspace()?;
        let env = |k: &str| std::env::var(k).ok();
        let trigger = trigger_from(
            self.git_ref.clone(),
            self.sha.clone(),
            self.event.clone(),
            self.publish_latest.clone(),
            &env,
        )?;
        let plan = tags::plan_tags(
            &ws.config.raw.tags,
            trigger.event,
            &trigger.git_ref,
            &trigger.sha,
            trigger.publish_latest.as_deref(),
        )?;
        let components = if self.scope.components.is_empty() {
            let message = release_tag_message(&ws, &plan.git_tag)?;
            scope(&ws.config, &[], &message)?
        } else {
            ws.config.scope(&self.scope.components)?
        };
        let images = ws.config.images_for(&components);
        crate::note!(
            "publish {} at {}: {} ({})",
            plan.git_tag,
            plan.commit,
            components.join(", "),
            plan.latest_reason
        );
        if self.dry_run {
            return dry_run(&ws, &plan, &trigger, &images, self.format).await;
        }
        let _lock = crate::effects::git::lock_checkout(&ws.root, &crate::fsx::command_line())?;
        let head = crate::effects::git::head(&ws.root)?;
        if head != plan.commit {
            return Err(usage(format!(
                "the checkout is at {head}, but the event names {}; check out the tagged commit (actions/checkout does) before publishing",
                plan.commit
            )));
        }
        let (user, token) = push_credentials()?;
        let registry = push_registry(&ws.config, &user, &token)?;
        let packages: Vec<String> = images.iter().map(|i| i.package.clone()).collect();
        // What the registry holds now decides, per package, whether to build.
        let snapshot = observe_registry(&registry, ws.config.org(), &plan, &packages).await?;
        let publish_plan = plan_publish(
            &plan,
            &packages,
            Some(&snapshot),
            &ws.config.raw.tags.latest,
        )?;
        let mut publisher = Publisher {
            ws: &ws,
            plan: &plan,
            images: &images,
            registry: &registry,
            user,
            token,
            built: Vec::new(),
            docker: None,
            digests: BTreeMap::new(),
        };
        // Every package must take our writes before anything is built or pushed: ghcr.io
        // refuses a package that does not grant this repository Write only at the write, and
        // finding that out at the third package would leave the first two tagged after a long
        // build. Not a step: it changes nothing, and a run with nothing left to do skips it.
        if !publish_plan.steps.is_empty() {
            for p in &packages {
                registry
                    .check_push(&format!("{}/{p}", ws.config.org()))
                    .await?;
            }
        }
        let mut executed = Vec::new();
        for step in &publish_plan.steps {
            publisher.run_step(step).await?;
            executed.push(step.clone());
        }
        let record = publisher.record(&trigger.git_ref, &publish_plan.actions, executed);
        if let Some(path) = std::env::var_os("GITHUB_OUTPUT").filter(|p| !p.is_empty()) {
            record.append_github_output(Path::new(&path))?;
        }
        if let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty()) {
            record.append_step_summary(Path::new(&path))?;
        }
        print_record(&record, self.format)?;
        Ok(crate::exit::OK)
    }
}

/// The registry client a publish pushes with.
fn push_registry(
    config: &Config,
    user: &str,
    token: &crate::secrets::Secret,
) -> anyhow::Result<crate::effects::registry::RegistryClient> {
    use crate::effects::registry::{Credentials, RegistryClient};
    Ok(RegistryClient::new(
        &config.registry_host(),
        Credentials::Basic {
            user: user.to_string(),
            password: token.clone(),
            source: "REGISTRY_TOKEN".into(),
        },
    )?
    .with_actions_repository(&config.raw.repository.name))
}

/// `publish --dry-run`: the plan a real run would execute, from the registry as it is now
/// when push credentials are set; without them (or with the registry unreadable) every
/// package is planned as a build, and stderr says so.
async fn dry_run(
    ws: &crate::workspace::Workspace,
    plan: &TagPlan,
    trigger: &Trigger,
    images: &[crate::config::ImageSpec],
    format: crate::flags::Format,
) -> anyhow::Result<u8> {
    let packages: Vec<String> = images.iter().map(|i| i.package.clone()).collect();
    let snapshot = match push_credentials() {
        Ok((user, token)) => {
            let read = async {
                let registry = push_registry(&ws.config, &user, &token)?;
                observe_registry(&registry, ws.config.org(), plan, &packages).await
            };
            match read.await {
                Ok(s) => Some(s),
                Err(e) => {
                    crate::note!(
                        "{}",
                        crate::secrets::redact_all(&format!(
                            "the registry could not be read ({e:#}): the plan assumes nothing is published yet; a real run asks it first"
                        ))
                    );
                    None
                }
            }
        }
        Err(_) => {
            crate::note!(
                "no registry credentials (REGISTRY_TOKEN or GITHUB_TOKEN): the plan assumes nothing is published yet; a real run asks the registry first"
            );
            None
        }
    };
    let publish_plan = plan_publish(
        plan,
        &packages,
        snapshot.as_ref(),
        &ws.config.raw.tags.latest,
    )?;
    if format == crate::flags::Format::Human {
        crate::note_part!("{}", render_plan(&ws.config, &publish_plan.steps));
    }
    let records = images
        .iter()
        .map(|i| PublishedPackage {
            package: i.package.clone(),
            repository: ws.config.image_repository(&i.package),
            tags: plan.tags.clone(),
            digest: String::new(),
            source: "planned".into(),
        })
        .collect();
    let mut record = Record::new(plan, &trigger.git_ref, records);
    record.steps = publish_plan.steps;
    print_record(&record, format)?;
    Ok(crate::exit::OK)
}

/// The state of a publish while its steps run.
struct Publisher<'a> {
    ws: &'a crate::workspace::Workspace,
    plan: &'a TagPlan,
    images: &'a [crate::config::ImageSpec],
    registry: &'a crate::effects::registry::RegistryClient,
    user: String,
    token: crate::secrets::Secret,
    built: Vec<crate::images::BuiltImage>,
    docker: Option<crate::effects::docker::Docker>,
    /// The release digest per package, once known.
    digests: BTreeMap<String, String>,
}

impl Publisher<'_> {
    async fn run_step(&mut self, step: &PublishStep) -> anyhow::Result<()> {
        match step {
            PublishStep::Build { packages } => self.build(packages).await,
            PublishStep::Push { package, tag } => self.push(package, tag).await,
            PublishStep::Tag {
                package,
                tag,
                digest,
            } => self.tag(package, tag, digest.as_deref(), false).await,
            PublishStep::MoveLatest {
                package,
                tag,
                digest,
            } => self.tag(package, tag, digest.as_deref(), true).await,
        }
    }

    async fn build(&mut self, packages: &[String]) -> anyhow::Result<()> {
        let specs: Vec<crate::config::ImageSpec> = self
            .images
            .iter()
            .filter(|i| packages.contains(&i.package))
            .cloned()
            .collect();
        self.built = crate::images::build_images(
            self.ws,
            &specs,
            &self.plan.version,
            &self.plan.commit,
            &crate::images::Progress::auto(),
        )
        .await?;
        self.docker = Some(crate::effects::docker::Docker::connect().await?);
        Ok(())
    }

    async fn push(&mut self, package: &str, tag: &str) -> anyhow::Result<()> {
        let config = &self.ws.config;
        let repo = format!("{}/{package}", config.org());
        let full = config.image_repository(package);
        let b = self
            .built
            .iter()
            .find(|b| b.spec.package == package)
            .expect("the build step precedes every push");
        let docker = self.docker.as_ref().expect("connected by the build step");
        let digest = docker
            .push(&b.id, &full, tag, Some((self.user.as_str(), &self.token)))
            .await
            .map_err(|e| push_error(e, &repo, &config.raw.repository.name))?;
        crate::note!("pushed {full}:{tag} {digest}");
        self.digests.insert(package.to_string(), digest);
        Ok(())
    }

    async fn tag(
        &mut self,
        package: &str,
        tag: &str,
        known: Option<&str>,
        latest: bool,
    ) -> anyhow::Result<()> {
        let config = &self.ws.config;
        let repo = format!("{}/{package}", config.org());
        let full = config.image_repository(package);
        let digest = match known {
            Some(d) => d.to_string(),
            None => self
                .digests
                .get(package)
                .cloned()
                .expect("the push step precedes the tags of a built package"),
        };
        let done = self.registry.retag(&repo, &digest, tag).await;
        if latest {
            done.with_context(|| format!("moving {tag} of {repo}"))?;
            crate::note!("moved {}/{repo}:{tag} to {digest}", config.registry_host());
        } else {
            done.with_context(|| format!("tagging {full}:{tag}"))?;
            crate::note!("tagged {full}:{tag} {digest}");
        }
        self.digests.insert(package.to_string(), digest);
        Ok(())
    }

    /// The record of what was published.
    fn record(
        &self,
        git_ref: &str,
        actions: &[PackageAction],
        executed: Vec<PublishStep>,
    ) -> Record {
        let packages = self
            .images
            .iter()
            .zip(actions)
            .map(|(img, action)| PublishedPackage {
                package: img.package.clone(),
                repository: self.ws.config.image_repository(&img.package),
                tags: self.plan.tags.clone(),
                digest: match action {
                    PackageAction::Build => self.digests.get(&img.package).cloned(),
                    PackageAction::Retag { digest, .. } => Some(digest.clone()),
                }
                .unwrap_or_default(),
                source: if *action == PackageAction::Build {
                    "built".into()
                } else {
                    "existing".into()
                },
            })
            .collect();
        let mut record = Record::new(self.plan, git_ref, packages);
        record.steps = executed;
        record
    }
}

/// A refused `docker push`: when ghcr.io says the package does not grant the workflow's
/// repository access (`permission_denied: write_package`, "installation not allowed to …
/// organization package"), the failure is the package's settings, not the credentials: say
/// which setting (exit 1). Other errors pass through.
fn push_error(e: anyhow::Error, repo: &str, repository: &str) -> anyhow::Error {
    use crate::effects::registry::{Refusal, actions_access_fix, classify_refusal};
    let text = format!("{e:#}");
    if classify_refusal(403, text.as_bytes()) == Refusal::ActionsAccess {
        return crate::exit::policy(format!(
            "{text}; nothing was pushed: {}",
            actions_access_fix(repo, Some(repository))
        ));
    }
    e
}

/// The record on stdout is always JSON, for the workflow and for people piping it; progress
/// goes to stderr. Human format adds the summary table on stderr.
fn print_record(record: &Record, format: crate::flags::Format) -> anyhow::Result<()> {
    if format == crate::flags::Format::Human {
        crate::note_part!("{}", record.summary_markdown());
    }
    crate::say!("{}", serde_json::to_string_pretty(record)?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::TagRules;

    fn rules() -> TagRules {
        TagRules::checklist()
    }
    const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

    #[test]
    fn trigger_prefers_flags_and_names_missing_inputs() {
        let env = |k: &str| match k {
            "GITHUB_REF" => Some("refs/tags/v1.2.3".to_string()),
            "GITHUB_SHA" => Some(SHA.to_string()),
            "GITHUB_EVENT_NAME" => Some("push".to_string()),
            _ => None,
        };
        let t = trigger_from(None, None, None, None, &env).unwrap();
        assert_eq!(t.git_ref, "refs/tags/v1.2.3");
        let t = trigger_from(
            Some("refs/tags/release-v1.2.3".into()),
            None,
            Some("workflow_dispatch".into()),
            Some("true".into()),
            &env,
        )
        .unwrap();
        assert_eq!(
            (t.git_ref.as_str(), t.event, t.publish_latest.as_deref()),
            (
                "refs/tags/release-v1.2.3",
                tags::Event::WorkflowDispatch,
                Some("true")
            )
        );
        let err = trigger_from(None, None, None, None, &|_| None).unwrap_err();
        assert_eq!(
            format!("{err}"),
            "no ref: pass --ref or set GITHUB_REF (the publish workflow sets it)"
        );
        let err = trigger_from(None, None, Some("pull_request".into()), None, &env).unwrap_err();
        assert!(format!("{err}").contains("only `push`"));
    }

    #[test]
    fn tag_message_names_components() {
        assert_eq!(
            components_from_tag_message("release 1.2.3\n\ncomponents: core, runner,console\n"),
            ["core", "runner", "console"]
        );
        assert!(components_from_tag_message("release 1.2.3").is_empty());
    }

    #[test]
    fn decisions() {
        let plan = tags::plan_tags(
            &rules(),
            tags::Event::WorkflowDispatch,
            "refs/tags/v1.2.3",
            SHA,
            Some("true"),
        )
        .unwrap();
        let d = |pairs: &[(&str, Option<&str>)]| {
            pairs
                .iter()
                .map(|(t, d)| (t.to_string(), d.map(String::from)))
                .collect::<BTreeMap<_, _>>()
        };
        assert_eq!(
            decide(&plan, "p", &d(&[("1.2.3", None), ("sha-0123456", None)])).unwrap(),
            PackageAction::Build
        );
        // A promote: version tags exist from this commit; only `latest` is added.
        assert_eq!(
            decide(
                &plan,
                "p",
                &d(&[
                    ("1.2.3", Some("sha256:a")),
                    ("sha-0123456", Some("sha256:a")),
                    ("latest", Some("sha256:old"))
                ])
            )
            .unwrap(),
            PackageAction::Retag {
                digest: "sha256:a".into(),
                missing: vec!["latest".into()]
            }
        );
        // An interrupted publish: the sha tag made it, the semver tag did not.
        assert_eq!(
            decide(
                &plan,
                "p",
                &d(&[("1.2.3", None), ("sha-0123456", Some("sha256:a"))])
            )
            .unwrap(),
            PackageAction::Retag {
                digest: "sha256:a".into(),
                missing: vec!["1.2.3".into(), "latest".into()]
            }
        );
        // The version exists from another commit: refused.
        let err = decide(
            &plan,
            "p",
            &d(&[("1.2.3", Some("sha256:b")), ("sha-0123456", None)]),
        )
        .unwrap_err();
        assert!(format!("{err}").contains("releases are immutable"), "{err}");
        let err = decide(
            &plan,
            "p",
            &d(&[
                ("1.2.3", Some("sha256:b")),
                ("sha-0123456", Some("sha256:a")),
            ]),
        )
        .unwrap_err();
        assert!(format!("{err}").contains("releases are immutable"), "{err}");
    }

    #[test]
    fn the_plan_builds_what_is_missing_pushes_the_sha_tag_first_and_moves_latest_last() {
        let plan = tags::plan_tags(
            &rules(),
            tags::Event::Push,
            "refs/tags/release-v1.2.3",
            SHA,
            None,
        )
        .unwrap();
        let packages = vec!["a".to_string(), "b".to_string()];
        let snap = |pairs: &[(&str, Option<&str>)], built_as: Option<&str>| PackageSnapshot {
            existing: pairs
                .iter()
                .map(|(t, d)| (t.to_string(), d.map(String::from)))
                .collect(),
            built_as: built_as.map(String::from),
        };
        // `a` is new; `b` was interrupted after its sha tag.
        let world = BTreeMap::from([
            ("a".to_string(), snap(&[], None)),
            (
                "b".to_string(),
                snap(&[("sha-0123456", Some("sha256:b"))], Some("1.2.3")),
            ),
        ]);
        let got = plan_publish(&plan, &packages, Some(&world), "latest").unwrap();
        let tag = |p: &str, t: &str, d: Option<&str>| PublishStep::Tag {
            package: p.into(),
            tag: t.into(),
            digest: d.map(String::from),
        };
        let latest = |p: &str, d: Option<&str>| PublishStep::MoveLatest {
            package: p.into(),
            tag: "latest".into(),
            digest: d.map(String::from),
        };
        assert_eq!(
            got.steps,
            [
                PublishStep::Build {
                    packages: vec!["a".into()]
                },
                PublishStep::Push {
                    package: "a".into(),
                    tag: "sha-0123456".into()
                },
                tag("a", "1.2.3", None),
                tag("b", "1.2.3", Some("sha256:b")),
                latest("a", None),
                latest("b", Some("sha256:b")),
            ]
        );
        // Not read (a dry run without credentials): everything is a build.
        let blind = plan_publish(&plan, &packages, None, "latest").unwrap();
        assert_eq!(
            blind.steps[0],
            PublishStep::Build {
                packages: packages.clone()
            }
        );
        // The sha tag holds another version's image: refused before any step.
        let world = BTreeMap::from([(
            "a".to_string(),
            snap(&[("sha-0123456", Some("sha256:a"))], Some("1.2.2")),
        )]);
        let err = plan_publish(&plan, &packages[..1], Some(&world), "latest").unwrap_err();
        assert!(
            format!("{err}").contains("was already published as version 1.2.2"),
            "{err}"
        );
    }
}
