//! Release planning: from what the world looks like to one plain-data plan of ordered steps.
//!
//! Planning never writes. `execute` gathers a `World` snapshot through the adapters (git state,
//! the remote's refs, the digests `latest` has now, existing notes), and `plan` turns it into a
//! `Plan`: the tag, the commit, the packages and their expected tags, whether `latest` moves,
//! and each step marked todo or already done. `--dry-run` prints this plan and stops, so the
//! dry run cannot drift from the real run. A rerun after an interruption plans the same
//! release with the finished steps marked done, which is how `release` resumes.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

use crate::config::{Config, Visibility};
use crate::exit::{external, policy, usage};
use crate::tags::{Event, TagKind, git_tag, plan_tags};

/// What planning reads. Gathered by `execute::observe`; plain data so planning is testable.
#[derive(Debug, Clone, Default, Serialize)]
pub struct World {
    /// HEAD's full commit.
    pub head: String,
    /// The current branch, `None` when HEAD is detached.
    pub branch: Option<String>,
    /// `git status --porcelain` lines, excluding the notes directory (our own output).
    pub dirty: Vec<String>,
    /// The commit of the remote's default branch, from `ls-remote`.
    pub remote_default: Option<String>,
    /// Peeled commits of existing tags for this version, by tag name, locally and remotely.
    pub local_tags: BTreeMap<String, String>,
    pub remote_tags: BTreeMap<String, String>,
    /// The digest `latest` has now, by package (`None`: no `latest` yet). Empty when the
    /// registry could not be read (then `latest_unknown` says why).
    pub latest_now: BTreeMap<String, Option<String>>,
    /// `Some(why)` when the registry could not be read: `latest` is unknown, not absent, so
    /// planning refuses to tag (nothing would record what `latest` was before the release).
    pub latest_unknown: Option<String>,
    /// Whether the internal notes for this version already exist.
    pub notes_exist: bool,
    /// `latest` before this release, as recorded by an earlier, interrupted run (resume).
    pub recorded_latest_before: BTreeMap<String, Option<String>>,
    /// The message of this release's tag where it exists (read locally, after fetching a
    /// pushed one); `None` for a lightweight tag.
    pub tag_messages: BTreeMap<String, Option<String>>,
    /// Whether this machine holds the resume record of this tag and commit: the tag was
    /// made here by `cargo xtask release`, after its gate ran.
    pub resume_record: bool,
    /// What the registry holds, per package, under the image tags this release pushes (the
    /// questions the publish run asks before it builds). Empty when not read.
    pub published: BTreeMap<String, Published>,
    /// The version each package's `latest` holds now, where known (`None`: `latest` exists
    /// but names no version this tool can see).
    #[serde(skip)]
    pub latest_versions: BTreeMap<String, Option<semver::Version>>,
}

/// One package's answer to "what is published under this release's image tags".
#[derive(Debug, Clone, Default, Serialize)]
pub struct Published {
    /// Digest per version tag (`1.2.3`, `sha-abc1234`); `None`: absent.
    pub tags: BTreeMap<String, Option<String>>,
    /// The version the image under those tags was built as (its version label, else the
    /// version tag that shares its digest), when anything is there.
    pub holds_version: Option<String>,
}

/// What the operator asked for.
#[derive(Debug, Clone)]
pub struct Request {
    pub version: semver::Version,
    pub latest: bool,
    pub components: Vec<String>,
    pub draft_release: bool,
    /// Let `latest` move to a version lower than the one it holds (recorded in the notes).
    pub allow_downgrade: bool,
}

/// Which step, without its data: for tests and for asking the plan about one step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepKind {
    Preflight,
    CreateTag,
    PushTag,
    FindRun,
    WaitRun,
    Verify,
    WriteNotes,
    DraftRelease,
}

/// What one step does, with everything it needs. The executor matches on this and nothing
/// else, so what `--dry-run` prints is what a real run does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Action {
    /// The preflight gate. `after_push`: the tag was pushed from elsewhere without a resume
    /// record here, so whether a gate ran before it is unknown; it runs now and the notes say
    /// so.
    Preflight { after_push: bool },
    /// The resume record (so a tag made here always has one), then the annotated tag.
    CreateTag {
        tag: String,
        commit: String,
        message: String,
    },
    /// The push of exactly this one tag, with the resume record written just before it.
    PushTag {
        remote: String,
        tag: String,
        commit: String,
    },
    /// The publish workflow's run for the push of `tag` at `commit`.
    FindRun {
        workflow: String,
        tag: String,
        commit: String,
    },
    /// The wait for that run (found by the step before) to complete successfully.
    WaitRun,
    /// Verify against the registry, deep (every image runs and holds only its files).
    Verify {
        version: String,
        components: Vec<String>,
        /// What `verify --latest-before` takes: `PKG=sha256:...|none,...`.
        latest_before: String,
        expect_latest: bool,
    },
    /// The notes: the customer variant, the release record, then the internal notes (the
    /// "done" marker, so it never exists without the other two).
    WriteNotes {
        customer: PathBuf,
        record: PathBuf,
        internal: PathBuf,
    },
    /// The GitHub release as a draft, with the customer notes as its body.
    DraftRelease(Draft),
}

/// The GitHub release `DraftRelease` creates (its body is the customer notes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Draft {
    pub tag: String,
    pub commit: String,
    pub name: String,
    pub prerelease: bool,
}

impl Action {
    pub fn kind(&self) -> StepKind {
        match self {
            Action::Preflight { .. } => StepKind::Preflight,
            Action::CreateTag { .. } => StepKind::CreateTag,
            Action::PushTag { .. } => StepKind::PushTag,
            Action::FindRun { .. } => StepKind::FindRun,
            Action::WaitRun => StepKind::WaitRun,
            Action::Verify { .. } => StepKind::Verify,
            Action::WriteNotes { .. } => StepKind::WriteNotes,
            Action::DraftRelease(_) => StepKind::DraftRelease,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Step {
    #[serde(flatten)]
    pub action: Action,
    pub description: String,
    /// Why the step is already done, when it is.
    pub done: Option<String>,
}

impl Step {
    pub fn kind(&self) -> StepKind {
        self.action.kind()
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct PlannedPackage {
    pub package: String,
    pub component: String,
    pub edition: String,
    pub visibility: Visibility,
    pub repository: String,
    pub tags: Vec<String>,
    /// The digest of `latest` before the release (what verify compares against).
    pub latest_before: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub version: String,
    pub tag: String,
    pub kind: TagKind,
    pub commit: String,
    pub moves_latest: bool,
    pub latest_reason: String,
    pub components: Vec<String>,
    pub packages: Vec<PlannedPackage>,
    pub steps: Vec<Step>,
}

impl Plan {
    pub fn step(&self, kind: StepKind) -> Option<&Step> {
        self.steps.iter().find(|s| s.kind() == kind)
    }

    /// The steps still to do, in order: what `execute::release` walks.
    pub fn todo(&self) -> impl Iterator<Item = &Step> {
        self.steps.iter().filter(|s| s.done.is_none())
    }

    /// Whether every step is already done: the release is complete.
    pub fn complete(&self) -> bool {
        self.steps.iter().all(|s| s.done.is_some())
    }

    /// Whether the notes were written by an earlier run: the release was finished then, and
    /// only the optional draft release can remain (it is idempotent).
    pub(crate) fn notes_written(&self) -> bool {
        self.step(StepKind::WriteNotes)
            .is_some_and(|s| s.done.is_some())
    }
}

/// Plans a release. Refuses (with the fix) what must not happen: a dirty tree, a detached HEAD,
/// a HEAD that is not the remote default branch, a tag at another commit, and tagging while
/// `latest` is unknown. Notes that exist mark every step up to them done (the release was
/// finished by an earlier run).
pub fn plan(config: &Config, req: &Request, world: &World) -> anyhow::Result<Plan> {
    let rules = &config.raw.tags;
    let kind = TagKind::for_latest(req.latest);
    let tag = git_tag(rules, &req.version, kind);
    let other_tag = git_tag(rules, &req.version, kind.other());

    check_tree_and_tags(config, req, world, &tag, &other_tag)?;
    let tag_pushed = world.remote_tags.get(&tag) == Some(&world.head);
    let tag_created = world.local_tags.get(&tag) == Some(&world.head);
    let components = config.scope(&req.components)?;
    if !tag_pushed {
        check_remote_default(config, world)?;
    }

    let tag_plan = plan_tags(
        rules,
        Event::Push,
        &format!("refs/tags/{tag}"),
        &world.head,
        None,
    )?;
    // The tag that exists at HEAD must be this release's: the publish run reads its
    // components from it, so a hand-made one ships something else, and no rerun can fix that.
    // Finished notes record whichever gate ran, so nothing about it is unknown then.
    let gate_unknown = tag_pushed && !world.resume_record && !world.notes_exist;
    if tag_created || tag_pushed {
        check_existing_tag(config, &tag, world, &components, tag_pushed)?;
    }
    if !tag_pushed {
        // Every question the publish run will ask, asked before the tag exists.
        check_publishable(req, &tag_plan, world)?;
        if tag_plan.moves_latest && !req.allow_downgrade {
            check_no_downgrade(config, req, world)?;
        }
    }
    if !tag_pushed && !world.notes_exist {
        check_latest_known(req, world)?;
    }
    let packages = planned_packages(config, world, &components, &tag_plan.tags);

    let mut plan = Plan {
        version: req.version.to_string(),
        tag,
        kind,
        commit: world.head.clone(),
        moves_latest: tag_plan.moves_latest,
        latest_reason: tag_plan.latest_reason,
        components,
        packages,
        steps: Vec::new(),
    };
    let progress = Progress {
        gate_unknown,
        tag_created,
        tag_pushed,
    };
    plan.steps = steps(config, req, world, &plan, progress);
    Ok(plan)
}

/// The first refusals: a detached HEAD, a dirty tree, the version released under its other
/// tag, and this tag at another commit.
fn check_tree_and_tags(
    config: &Config,
    req: &Request,
    world: &World,
    tag: &str,
    other_tag: &str,
) -> anyhow::Result<()> {
    if world.branch.is_none() && !world.local_tags.contains_key(tag) {
        return Err(usage(format!(
            "HEAD is detached; check out the default branch first: git switch {}",
            config.raw.repository.default_branch
        )));
    }
    if !world.dirty.is_empty() {
        let shown: Vec<&str> = world.dirty.iter().take(5).map(String::as_str).collect();
        return Err(usage(format!(
            "the working tree has uncommitted changes ({}{}); commit or stash them (git stash -u) so the tag names exactly what was checked",
            shown.join("; "),
            if world.dirty.len() > 5 { "; ..." } else { "" }
        )));
    }
    if let Some(other) = world
        .local_tags
        .get(other_tag)
        .or(world.remote_tags.get(other_tag))
    {
        let hint = if req.latest {
            format!(
                "to move `latest` to {}, run `cargo xtask promote {}`",
                req.version, req.version
            )
        } else {
            format!("the release exists as {other_tag}; rerun with --latest to resume it")
        };
        return Err(usage(format!(
            "version {} was already released as {other_tag} (commit {other}); {hint}",
            req.version
        )));
    }
    for (place, tags) in [("local", &world.local_tags), ("remote", &world.remote_tags)] {
        if let Some(at) = tags.get(tag)
            && at != &world.head
        {
            return Err(policy(format!(
                "tag {tag} already exists ({place}) at commit {at}, not at HEAD {}; releases are immutable: choose a new version, or check out {at} to resume that release",
                world.head
            )));
        }
    }
    Ok(())
}

/// Before the tag is pushed, HEAD must be the remote's default branch.
fn check_remote_default(config: &Config, world: &World) -> anyhow::Result<()> {
    match &world.remote_default {
        Some(remote) if remote == &world.head => {}
        Some(remote) => {
            return Err(usage(format!(
                "HEAD {} is not the remote default branch {} ({}); run `git pull --ff-only {} {}` or push your commits through review first",
                world.head,
                config.raw.repository.default_branch,
                remote,
                config.raw.repository.remote,
                config.raw.repository.default_branch
            )));
        }
        None => {
            return Err(usage(format!(
                "the remote `{}` has no branch {}; check `git remote -v` and release.toml repository.remote",
                config.raw.repository.remote, config.raw.repository.default_branch
            )));
        }
    }
    Ok(())
}

/// Nothing is tagged while `latest` is unknown: verify compares against `latest` before the
/// release, and the resume record keeps it, so it must be read before the tag exists. (After
/// the push the record has it; finished notes need nothing more.) Exit 3: a system is
/// unreachable, and a rerun once it answers resumes from here.
fn check_latest_known(req: &Request, world: &World) -> anyhow::Result<()> {
    match &world.latest_unknown {
        None => Ok(()),
        Some(why) => Err(external(format!(
            "cannot record what `latest` is before the release, so nothing was tagged: {why}; check the network and the registry host (AISOPSFLOW_REGISTRY, else release.toml registry.host), then rerun `cargo xtask release {}{}`",
            req.version,
            if req.latest { " --latest" } else { "" }
        ))),
    }
}

/// The packages of the release, with `latest` before it.
fn planned_packages(
    config: &Config,
    world: &World,
    components: &[String],
    tags: &[String],
) -> Vec<PlannedPackage> {
    config
        .images_for(components)
        .into_iter()
        .map(|img| {
            // On resume, "before" is what the first run recorded, not what `latest` is now
            // (by now the publish run may already have moved it).
            let before = world
                .recorded_latest_before
                .get(&img.package)
                .cloned()
                .or_else(|| world.latest_now.get(&img.package).cloned())
                .flatten();
            PlannedPackage {
                repository: config.image_repository(&img.package),
                package: img.package,
                component: img.component,
                edition: img.edition,
                visibility: img.visibility,
                tags: tags.to_vec(),
                latest_before: before,
            }
        })
        .collect()
}

/// What is already true of this release's tag, for the steps.
#[derive(Debug, Clone, Copy)]
struct Progress {
    gate_unknown: bool,
    tag_created: bool,
    tag_pushed: bool,
}

/// One step, with why it is done when it is.
fn step(action: Action, description: String, done: Option<&str>) -> Step {
    Step {
        action,
        description,
        done: done.map(str::to_string),
    }
}

/// The release's steps, each with its data and marked done where the world shows it done.
fn steps(config: &Config, req: &Request, world: &World, plan: &Plan, p: Progress) -> Vec<Step> {
    let mut steps = tag_steps(config, world, plan, p);
    steps.extend(run_steps(config, req, world, plan));
    if world.notes_exist {
        // Everything before the notes was done when they were written.
        for s in steps.iter_mut() {
            if s.done.is_none() && s.kind() != StepKind::DraftRelease {
                s.done = Some("the notes exist, so this was done".into());
            }
        }
    }
    steps
}

/// The gate, the tag and its push.
fn tag_steps(config: &Config, world: &World, plan: &Plan, p: Progress) -> Vec<Step> {
    let Progress {
        gate_unknown,
        tag_created,
        tag_pushed,
    } = p;
    let (tag, commit) = (&plan.tag, &plan.commit);
    let remote = config.raw.repository.remote.clone();
    vec![
        step(
            Action::Preflight {
                after_push: gate_unknown,
            },
            if gate_unknown {
                "run the preflight gate now: the tag was pushed from elsewhere, so whether a gate ran before it is unknown (the notes say so)".into()
            } else {
                "run the preflight gate (every error-severity check must pass)".into()
            },
            (tag_pushed && !gate_unknown && !world.notes_exist).then_some(
                "the tag is already pushed; the gate ran before it (the resume record holds its result)",
            ),
        ),
        step(
            Action::CreateTag {
                tag: tag.clone(),
                commit: commit.clone(),
                message: tag_message_for(
                    &plan.version,
                    &plan.components,
                    commit,
                    plan.moves_latest,
                ),
            },
            format!("create annotated tag {tag} at {commit}"),
            (tag_created || tag_pushed).then_some("the tag exists at HEAD"),
        ),
        step(
            Action::PushTag {
                remote: remote.clone(),
                tag: tag.clone(),
                commit: commit.clone(),
            },
            format!("push exactly one tag, {tag}, to {remote}"),
            tag_pushed.then_some("the remote tag peels to HEAD"),
        ),
    ]
}

/// After the push: the publish run, verify, the notes and the optional draft release.
fn run_steps(config: &Config, req: &Request, world: &World, plan: &Plan) -> Vec<Step> {
    let (tag, commit, version) = (&plan.tag, &plan.commit, &plan.version);
    let workflow = config.workflow_file_name().to_string();
    let mut steps = vec![
        step(
            Action::FindRun {
                workflow: workflow.clone(),
                tag: tag.clone(),
                commit: commit.clone(),
            },
            format!(
                "find the {workflow} run for push {tag} at {}",
                &commit[..commit.len().min(12)]
            ),
            None,
        ),
        step(
            Action::WaitRun,
            "wait for the run to complete successfully".into(),
            None,
        ),
        step(
            Action::Verify {
                version: version.clone(),
                components: req.components.clone(),
                latest_before: crate::verify::latest_before_arg(
                    plan.packages
                        .iter()
                        .map(|p| (p.package.as_str(), p.latest_before.as_deref())),
                ),
                expect_latest: plan.moves_latest,
            },
            "verify tags, digests, `latest` and visibility in the registry".into(),
            None,
        ),
        step(
            Action::WriteNotes {
                customer: crate::notes::customer_path(config, version),
                record: crate::record::path(config, version),
                internal: crate::notes::internal_path(config, version),
            },
            format!(
                "write {}/{version}.md and the customer variant",
                config.raw.notes.dir
            ),
            world.notes_exist.then_some("the notes exist"),
        ),
    ];
    if req.draft_release {
        steps.push(step(
            Action::DraftRelease(Draft {
                tag: tag.clone(),
                commit: commit.clone(),
                name: format!("aisopsflow {version}"),
                prerelease: !req.version.pre.is_empty(),
            }),
            format!("create the GitHub release {tag} as a draft"),
            None,
        ));
    }
    steps
}

/// The annotated tag's message `cargo xtask release` writes; `publish` reads its
/// `components:` line (`publish::components_from_tag_message`).
pub fn tag_message_for(
    version: &str,
    components: &[String],
    commit: &str,
    moves_latest: bool,
) -> String {
    format!(
        "aisopsflow {version}\n\nversion: {version}\ncomponents: {}\ncommit: {commit}\nlatest: {}\n",
        components.join(","),
        if moves_latest { "moves" } else { "stays" },
    )
}

/// Refuses a tag at HEAD that is not this release's own: lightweight, without the
/// components asked for, or (not yet pushed) not made here by this tool, which writes its
/// resume record before it creates the tag. A pushed tag without a record here was pushed
/// from elsewhere: planning then runs the gate again and the notes say so.
fn check_existing_tag(
    config: &Config,
    tag: &str,
    world: &World,
    components: &[String],
    pushed: bool,
) -> anyhow::Result<()> {
    let remote = &config.raw.repository.remote;
    let message = world.tag_messages.get(tag).cloned().flatten();
    let problem = match &message {
        None => Some("it is a lightweight tag, so it names no components".to_string()),
        Some(m) => {
            let named = crate::publish::components_from_tag_message(m);
            if !m.lines().any(|l| l.trim().starts_with("components:")) {
                Some("its message has no `components:` line, so the publish run would ship only the default components".to_string())
            } else if named != components {
                Some(format!(
                    "it names components {}, but this release asks for {}",
                    named.join(","),
                    components.join(",")
                ))
            } else if !pushed && !world.resume_record {
                Some("there is no resume record for it, so it was not made here by `cargo xtask release` (which records the gate before it creates the tag)".to_string())
            } else {
                None
            }
        }
    };
    let Some(problem) = problem else {
        return Ok(());
    };
    if pushed {
        Err(policy(format!(
            "tag {tag} exists on `{remote}` at HEAD, but {problem}; the publish run publishes what the tag says, so this release cannot finish as asked and nothing more was done; if no image was published from it, delete it (`git push {remote} :refs/tags/{tag}` and `git tag -d {tag}`) and rerun, otherwise release a new version"
        )))
    } else {
        Err(usage(format!(
            "tag {tag} exists locally at HEAD, but {problem}; it was not pushed, so delete it (`git tag -d {tag}`) and rerun: the release creates the tag itself"
        )))
    }
}

/// The publish run's refusals, asked of the registry before the tag exists: a version
/// published from another commit (`publish::decide`), and a commit whose sha tag already
/// holds another version's image (one commit gives one image).
fn check_publishable(
    req: &Request,
    tag_plan: &crate::tags::TagPlan,
    world: &World,
) -> anyhow::Result<()> {
    for (package, p) in &world.published {
        crate::publish::decide(tag_plan, package, &p.tags)
            .map_err(|e| usage(format!("{e:#}; nothing was tagged")))?;
        if let Some(held) = p
            .holds_version
            .as_deref()
            .filter(|v| *v != tag_plan.version)
        {
            let digest = p
                .tags
                .values()
                .flatten()
                .next()
                .cloned()
                .unwrap_or_default();
            return Err(usage(format!(
                "{package}: commit {} was already published as version {held} ({digest}); one commit gives one image, so the publish run would refuse {}: nothing was tagged; release {} from a new commit",
                tag_plan.commit, req.version, req.version
            )));
        }
    }
    Ok(())
}

/// `latest` never moves to a version lower than the one it holds (unless
/// `--allow-downgrade`, which the notes record).
fn check_no_downgrade(config: &Config, req: &Request, world: &World) -> anyhow::Result<()> {
    for (package, held) in &world.latest_versions {
        let has_latest = world.latest_now.get(package).is_some_and(|d| d.is_some());
        match held {
            Some(v) if *v > req.version => {
                return Err(usage(format!(
                    "`{}` of {package} holds {v}, which is newer than {}: moving it would move `latest` backwards; release without --latest (a `v` tag), or pass --allow-downgrade if that is really intended (the notes record it)",
                    config.raw.tags.latest, req.version
                )));
            }
            None if has_latest => {
                return Err(usage(format!(
                    "`{}` of {package} names no version this tool can see (no version label, no version tag at its digest), so moving it could move it backwards; inspect it, then pass --allow-downgrade to move it anyway (the notes record it)",
                    config.raw.tags.latest
                )));
            }
            _ => {}
        }
    }
    Ok(())
}

/// The plan for people.
pub(crate) fn render_human(plan: &Plan) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "Release {} as tag {} at commit {}",
        plan.version, plan.tag, plan.commit
    );
    let _ = writeln!(s, "Components: {}", plan.components.join(", "));
    let _ = writeln!(s, "{}", plan.latest_reason);
    let _ = writeln!(s, "Packages:");
    for p in &plan.packages {
        let _ = writeln!(
            s,
            "  {} ({}): tags {}; latest now {}",
            p.repository,
            p.visibility,
            p.tags.join(", "),
            p.latest_before.as_deref().unwrap_or("none")
        );
    }
    let _ = writeln!(s, "Steps:");
    for (i, st) in plan.steps.iter().enumerate() {
        match &st.done {
            Some(why) => {
                let _ = writeln!(s, "  {}. [done] {} ({why})", i + 1, st.description);
            }
            None => {
                let _ = writeln!(s, "  {}. {}", i + 1, st.description);
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use expect_test::{Expect, expect};

    use super::*;

    const HEAD: &str = "0123456789abcdef0123456789abcdef01234567";
    const OTHER: &str = "fedcba9876543210fedcba9876543210fedcba98";

    fn config() -> Config {
        crate::config::for_tests()
    }

    fn world() -> World {
        World {
            head: HEAD.into(),
            branch: Some("main".into()),
            remote_default: Some(HEAD.into()),
            ..World::default()
        }
    }

    fn req(latest: bool) -> Request {
        Request {
            version: semver::Version::parse("1.2.3").unwrap(),
            latest,
            components: vec![],
            draft_release: false,
            allow_downgrade: false,
        }
    }

    /// Renders a plan (or its error) with the commits redacted, for golden comparison
    /// (`UPDATE_EXPECT=1 cargo test -p xtask --lib plan` rewrites the goldens).
    fn check(latest: bool, world: &World, expect: Expect) {
        check_req(&req(latest), world, expect);
    }

    fn check_req(req: &Request, world: &World, expect: Expect) {
        let got = match plan(&config(), req, world) {
            Ok(p) => render_human(&p),
            Err(e) => format!("error (exit {}): {e:#}\n", crate::exit::code_for(&e)),
        };
        let got = got
            .replace(OTHER, "<OTHER>")
            .replace(HEAD, "<HEAD>")
            .replace(&HEAD[..12], "<HEAD12>");
        expect.assert_eq(&got);
    }

    #[test]
    fn fresh_release() {
        check(
            false,
            &world(),
            expect![[r#"
Release 1.2.3 as tag v1.2.3 at commit <HEAD>
Components: core, runner
`latest` stays: tag v1.2.3 matches v{semver}, which never moves it
Packages:
  ghcr.io/aisopsflow/aisopsflow-core (public): tags 1.2.3, sha-0123456; latest now none
  ghcr.io/aisopsflow/aisopsflow-core-commercial (private): tags 1.2.3, sha-0123456; latest now none
  ghcr.io/aisopsflow/aisopsflow-runner (public): tags 1.2.3, sha-0123456; latest now none
  ghcr.io/aisopsflow/aisopsflow-runner-commercial (private): tags 1.2.3, sha-0123456; latest now none
Steps:
  1. run the preflight gate (every error-severity check must pass)
  2. create annotated tag v1.2.3 at <HEAD>
  3. push exactly one tag, v1.2.3, to origin
  4. find the publish-images.yml run for push v1.2.3 at <HEAD12>
  5. wait for the run to complete successfully
  6. verify tags, digests, `latest` and visibility in the registry
  7. write docs/releases/1.2.3.md and the customer variant
"#]],
        );
    }

    /// Each step carries what it acts on, and the executor reads only that: the JSON
    /// document's steps are what `--dry-run --format json` prints.
    #[test]
    fn the_steps_carry_their_data() {
        let config = config();
        let mut r = req(true);
        r.draft_release = true;
        r.version = semver::Version::parse("1.2.3-rc.1").unwrap();
        let mut w = world();
        w.latest_now.insert(
            "aisopsflow-core".into(),
            Some(format!("sha256:{}", "a".repeat(64))),
        );
        let p = plan(&config, &r, &w).unwrap();
        let mut got = String::new();
        for s in &p.steps {
            let mut v = serde_json::to_value(s).unwrap();
            v.as_object_mut().unwrap().remove("description");
            got.push_str(&v.to_string());
            got.push('\n');
        }
        let root = config.root.display().to_string();
        let got = got.replace(HEAD, "<HEAD>").replace(&root, "<ROOT>");
        expect![[r#"
            {"after_push":false,"done":null,"kind":"preflight"}
            {"commit":"<HEAD>","done":null,"kind":"create-tag","message":"aisopsflow 1.2.3-rc.1\n\nversion: 1.2.3-rc.1\ncomponents: core,runner\ncommit: <HEAD>\nlatest: stays\n","tag":"release-v1.2.3-rc.1"}
            {"commit":"<HEAD>","done":null,"kind":"push-tag","remote":"origin","tag":"release-v1.2.3-rc.1"}
            {"commit":"<HEAD>","done":null,"kind":"find-run","tag":"release-v1.2.3-rc.1","workflow":"publish-images.yml"}
            {"done":null,"kind":"wait-run"}
            {"components":[],"done":null,"expect_latest":false,"kind":"verify","latest_before":"aisopsflow-core=sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa,aisopsflow-core-commercial=none,aisopsflow-runner=none,aisopsflow-runner-commercial=none","version":"1.2.3-rc.1"}
            {"customer":"<ROOT>/docs/releases/1.2.3-rc.1.customer.md","done":null,"internal":"<ROOT>/docs/releases/1.2.3-rc.1.md","kind":"write-notes","record":"<ROOT>/docs/releases/1.2.3-rc.1.json"}
            {"commit":"<HEAD>","done":null,"kind":"draft-release","name":"aisopsflow 1.2.3-rc.1","prerelease":true,"tag":"release-v1.2.3-rc.1"}
        "#]].assert_eq(&got);
    }

    /// The first release that moves `latest`: every step to do, `latest` before read.
    #[test]
    fn first_release_moving_latest() {
        let mut w = world();
        w.latest_now.insert("aisopsflow-core".into(), None);
        w.latest_now
            .insert("aisopsflow-runner".into(), Some("sha256:1.1".into()));
        w.latest_versions.insert(
            "aisopsflow-runner".into(),
            Some(semver::Version::parse("1.1.0").unwrap()),
        );
        let mut r = req(true);
        r.draft_release = true;
        check_req(
            &r,
            &w,
            expect![[r#"
            Release 1.2.3 as tag release-v1.2.3 at commit <HEAD>
            Components: core, runner
            `latest` moves: pushed tag release-v1.2.3 matches release-v{semver}
            Packages:
              ghcr.io/aisopsflow/aisopsflow-core (public): tags 1.2.3, sha-0123456, latest; latest now none
              ghcr.io/aisopsflow/aisopsflow-core-commercial (private): tags 1.2.3, sha-0123456, latest; latest now none
              ghcr.io/aisopsflow/aisopsflow-runner (public): tags 1.2.3, sha-0123456, latest; latest now sha256:1.1
              ghcr.io/aisopsflow/aisopsflow-runner-commercial (private): tags 1.2.3, sha-0123456, latest; latest now none
            Steps:
              1. run the preflight gate (every error-severity check must pass)
              2. create annotated tag release-v1.2.3 at <HEAD>
              3. push exactly one tag, release-v1.2.3, to origin
              4. find the publish-images.yml run for push release-v1.2.3 at <HEAD12>
              5. wait for the run to complete successfully
              6. verify tags, digests, `latest` and visibility in the registry
              7. write docs/releases/1.2.3.md and the customer variant
              8. create the GitHub release release-v1.2.3 as a draft
        "#]],
        );
    }

    /// A rerun after the notes were written: the plan marks every step up to the notes done
    /// and says why, so the dry run shows what the real run does (nothing, or the draft).
    /// The registry being down changes nothing: a finished release needs nothing from it.
    #[test]
    fn rerun_after_the_notes_is_complete() {
        let mut w = world();
        w.local_tags.insert("release-v1.2.3".into(), HEAD.into());
        w.remote_tags.insert("release-v1.2.3".into(), HEAD.into());
        w.tag_messages.insert(
            "release-v1.2.3".into(),
            Some(tag_message_for(
                "1.2.3",
                &["core".into(), "runner".into()],
                HEAD,
                true,
            )),
        );
        w.notes_exist = true;
        w.latest_unknown = Some("registry.example: connection refused".into());
        let mut r = req(true);
        r.draft_release = true;
        check_req(
            &r,
            &w,
            expect![[r#"
            Release 1.2.3 as tag release-v1.2.3 at commit <HEAD>
            Components: core, runner
            `latest` moves: pushed tag release-v1.2.3 matches release-v{semver}
            Packages:
              ghcr.io/aisopsflow/aisopsflow-core (public): tags 1.2.3, sha-0123456, latest; latest now none
              ghcr.io/aisopsflow/aisopsflow-core-commercial (private): tags 1.2.3, sha-0123456, latest; latest now none
              ghcr.io/aisopsflow/aisopsflow-runner (public): tags 1.2.3, sha-0123456, latest; latest now none
              ghcr.io/aisopsflow/aisopsflow-runner-commercial (private): tags 1.2.3, sha-0123456, latest; latest now none
            Steps:
              1. [done] run the preflight gate (every error-severity check must pass) (the notes exist, so this was done)
              2. [done] create annotated tag release-v1.2.3 at <HEAD> (the tag exists at HEAD)
              3. [done] push exactly one tag, release-v1.2.3, to origin (the remote tag peels to HEAD)
              4. [done] find the publish-images.yml run for push release-v1.2.3 at <HEAD12> (the notes exist, so this was done)
              5. [done] wait for the run to complete successfully (the notes exist, so this was done)
              6. [done] verify tags, digests, `latest` and visibility in the registry (the notes exist, so this was done)
              7. [done] write docs/releases/1.2.3.md and the customer variant (the notes exist)
              8. create the GitHub release release-v1.2.3 as a draft
        "#]],
        );
        let p = plan(&config(), &r, &w).unwrap();
        assert!(p.notes_written());
        let todo: Vec<StepKind> = p.todo().map(Step::kind).collect();
        assert_eq!(todo, [StepKind::DraftRelease]);
        let p = plan(&config(), &req(true), &w).unwrap();
        assert!(p.notes_written() && p.complete());
    }

    /// `latest` unknown (the registry could not be read): nothing is tagged, exit 3, the
    /// fix named; once the tag is pushed the release resumes (its record holds `latest`).
    #[test]
    fn latest_unknown_refuses_before_the_tag() {
        let mut w = world();
        w.latest_unknown = Some("registry.example: HTTP 503 Service Unavailable".into());
        check(
            false,
            &w,
            expect![[r#"
            error (exit 3): cannot record what `latest` is before the release, so nothing was tagged: registry.example: HTTP 503 Service Unavailable; check the network and the registry host (AISOPSFLOW_REGISTRY, else release.toml registry.host), then rerun `cargo xtask release 1.2.3`
        "#]],
        );
        check(
            true,
            &w,
            expect![[r#"
            error (exit 3): cannot record what `latest` is before the release, so nothing was tagged: registry.example: HTTP 503 Service Unavailable; check the network and the registry host (AISOPSFLOW_REGISTRY, else release.toml registry.host), then rerun `cargo xtask release 1.2.3 --latest`
        "#]],
        );
        // Made here, not pushed: still refused (the push is what needs `latest` before).
        w.local_tags.insert("v1.2.3".into(), HEAD.into());
        w.tag_messages.insert(
            "v1.2.3".into(),
            Some(tag_message_for(
                "1.2.3",
                &["core".into(), "runner".into()],
                HEAD,
                false,
            )),
        );
        w.resume_record = true;
        assert_eq!(
            crate::exit::code_for(&plan(&config(), &req(false), &w).unwrap_err()),
            3
        );
        // Pushed: the plan resumes after the push.
        w.remote_tags.insert("v1.2.3".into(), HEAD.into());
        let p = plan(&config(), &req(false), &w).unwrap();
        assert!(p.step(StepKind::PushTag).unwrap().done.is_some());
        assert!(!p.notes_written());
    }

    #[test]
    fn resume_after_push_skips_gate_and_tagging() {
        let mut w = world();
        w.remote_default = Some(OTHER.into()); // the branch moved on after the tag was pushed
        w.local_tags.insert("release-v1.2.3".into(), HEAD.into());
        w.remote_tags.insert("release-v1.2.3".into(), HEAD.into());
        w.latest_now
            .insert("aisopsflow-core".into(), Some("sha256:new".into()));
        w.recorded_latest_before
            .insert("aisopsflow-core".into(), Some("sha256:old".into()));
        w.tag_messages.insert(
            "release-v1.2.3".into(),
            Some(tag_message_for(
                "1.2.3",
                &["core".into(), "runner".into()],
                HEAD,
                true,
            )),
        );
        w.resume_record = true;
        let p = plan(&config(), &req(true), &w).unwrap();
        assert!(p.moves_latest);
        assert!(p.step(StepKind::Preflight).unwrap().done.is_some());
        assert!(p.step(StepKind::PushTag).unwrap().done.is_some());
        assert!(p.step(StepKind::FindRun).unwrap().done.is_none());
        assert_eq!(p.packages[0].latest_before.as_deref(), Some("sha256:old"));
        assert_eq!(p.packages[0].tags, ["1.2.3", "sha-0123456", "latest"]);

        // Pushed from elsewhere by this tool, without a resume record here: the gate runs now.
        w.resume_record = false;
        let p = plan(&config(), &req(true), &w).unwrap();
        let gate = p.step(StepKind::Preflight).unwrap();
        assert!(gate.done.is_none());
        assert!(
            gate.description
                .contains("whether a gate ran before it is unknown")
        );
    }

    /// The refusals the publish run would give, given first by planning (issue 16 §1).
    #[test]
    fn publish_refusals_come_first() {
        let published = |tags: &[(&str, Option<&str>)], holds: Option<&str>| Published {
            tags: tags
                .iter()
                .map(|(t, d)| (t.to_string(), d.map(String::from)))
                .collect(),
            holds_version: holds.map(String::from),
        };
        // A second version from a commit already released as 1.2.2.
        let mut w = world();
        w.published.insert(
            "aisopsflow-core".into(),
            published(
                &[("1.2.3", None), ("sha-0123456", Some("sha256:a"))],
                Some("1.2.2"),
            ),
        );
        check(
            false,
            &w,
            expect![[r#"
                error (exit 2): aisopsflow-core: commit <HEAD> was already published as version 1.2.2 (sha256:a); one commit gives one image, so the publish run would refuse 1.2.3: nothing was tagged; release 1.2.3 from a new commit
            "#]],
        );
        // The version published from another commit (its tag was deleted and remade).
        let mut w = world();
        w.published.insert(
            "aisopsflow-core".into(),
            published(
                &[("1.2.3", Some("sha256:b")), ("sha-0123456", None)],
                Some("1.2.3"),
            ),
        );
        check(
            false,
            &w,
            expect![[r#"
                error (exit 2): aisopsflow-core: version 1.2.3 is already published (1.2.3 -> sha256:b) but not from commit <HEAD>; releases are immutable: publish a new version; nothing was tagged
            "#]],
        );
        // An interrupted publish of this very version resumes.
        let mut w = world();
        w.published.insert(
            "aisopsflow-core".into(),
            published(&[("1.2.3", None), ("sha-0123456", Some("sha256:a"))], None),
        );
        assert!(plan(&config(), &req(false), &w).is_ok());
    }

    #[test]
    fn latest_never_moves_backwards() {
        let mut w = world();
        w.latest_now
            .insert("aisopsflow-core".into(), Some("sha256:new".into()));
        w.latest_versions.insert(
            "aisopsflow-core".into(),
            Some(semver::Version::parse("1.3.0").unwrap()),
        );
        check(
            true,
            &w,
            expect![[r#"
                error (exit 2): `latest` of aisopsflow-core holds 1.3.0, which is newer than 1.2.3: moving it would move `latest` backwards; release without --latest (a `v` tag), or pass --allow-downgrade if that is really intended (the notes record it)
            "#]],
        );
        // A `v` tag never moves `latest`, and --allow-downgrade is explicit.
        assert!(plan(&config(), &req(false), &w).is_ok());
        let mut r = req(true);
        r.allow_downgrade = true;
        assert!(plan(&config(), &r, &w).is_ok());
        // Unknown is not lower.
        w.latest_versions.insert("aisopsflow-core".into(), None);
        assert!(plan(&config(), &req(true), &w).is_err());
    }

    #[test]
    fn a_tag_at_head_must_be_ours() {
        let mut w = world();
        w.local_tags.insert("v1.2.3".into(), HEAD.into());
        w.tag_messages.insert("v1.2.3".into(), None);
        check(
            false,
            &w,
            expect![[r#"
                error (exit 2): tag v1.2.3 exists locally at HEAD, but it is a lightweight tag, so it names no components; it was not pushed, so delete it (`git tag -d v1.2.3`) and rerun: the release creates the tag itself
            "#]],
        );
        w.remote_tags.insert("v1.2.3".into(), HEAD.into());
        w.tag_messages
            .insert("v1.2.3".into(), Some("release 1.2.3\n".into()));
        check(
            false,
            &w,
            expect![[r#"
                error (exit 1): tag v1.2.3 exists on `origin` at HEAD, but its message has no `components:` line, so the publish run would ship only the default components; the publish run publishes what the tag says, so this release cannot finish as asked and nothing more was done; if no image was published from it, delete it (`git push origin :refs/tags/v1.2.3` and `git tag -d v1.2.3`) and rerun, otherwise release a new version
            "#]],
        );
        w.tag_messages.insert(
            "v1.2.3".into(),
            Some(tag_message_for("1.2.3", &["core".into()], HEAD, false)),
        );
        let err = plan(&config(), &req(false), &w).unwrap_err();
        assert!(
            format!("{err}")
                .contains("names components core, but this release asks for core,runner"),
            "{err}"
        );
        w.tag_messages.insert(
            "v1.2.3".into(),
            Some(tag_message_for(
                "1.2.3",
                &["core".into(), "runner".into()],
                HEAD,
                false,
            )),
        );
        assert!(plan(&config(), &req(false), &w).is_ok());
        // Not pushed, and no resume record: not made here by this tool.
        w.remote_tags.clear();
        let err = plan(&config(), &req(false), &w).unwrap_err();
        assert!(format!("{err}").contains("no resume record"), "{err}");
        w.resume_record = true;
        assert!(plan(&config(), &req(false), &w).is_ok());
    }

    #[test]
    fn refusals() {
        let mut w = world();
        w.dirty = vec![" M core/src/main.rs".into()];
        check(
            false,
            &w,
            expect![[r#"
                error (exit 2): the working tree has uncommitted changes ( M core/src/main.rs); commit or stash them (git stash -u) so the tag names exactly what was checked
            "#]],
        );

        let mut w = world();
        w.branch = None;
        check(
            false,
            &w,
            expect![[r#"
                error (exit 2): HEAD is detached; check out the default branch first: git switch main
            "#]],
        );

        let mut w = world();
        w.remote_tags.insert("v1.2.3".into(), OTHER.into());
        check(
            false,
            &w,
            expect![[r#"
                error (exit 1): tag v1.2.3 already exists (remote) at commit <OTHER>, not at HEAD <HEAD>; releases are immutable: choose a new version, or check out <OTHER> to resume that release
            "#]],
        );

        let mut w = world();
        w.remote_default = Some(OTHER.into());
        check(
            false,
            &w,
            expect![[r#"
                error (exit 2): HEAD <HEAD> is not the remote default branch main (<OTHER>); run `git pull --ff-only origin main` or push your commits through review first
            "#]],
        );

        let mut w = world();
        w.local_tags.insert("v1.2.3".into(), HEAD.into());
        check(
            true,
            &w,
            expect![[r#"
                error (exit 2): version 1.2.3 was already released as v1.2.3 (commit <HEAD>); to move `latest` to 1.2.3, run `cargo xtask promote 1.2.3`
            "#]],
        );
    }
}
