//! Release planning: from what the world looks like to one plain-data plan of ordered steps.
//!
//! Planning never writes. `execute` gathers a `World` snapshot through the adapters (git state,
//! the remote's refs, the digests `latest` has now, existing notes), and `plan` turns it into a
//! `Plan`: the tag, the commit, the packages and their expected tags, whether `latest` moves,
//! and each step marked todo or already done. `--dry-run` prints this plan and stops, so the
//! dry run cannot drift from the real run. A rerun after an interruption plans the same
//! release with the finished steps marked done, which is how `release` resumes.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::config::{Config, Visibility};
use crate::exit::{policy, usage};
use crate::policy::{Event, TagKind, git_tag, plan_tags};

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
    /// The digest `latest` has now, by package (`None`: no `latest` yet). Empty when offline.
    pub latest_now: BTreeMap<String, Option<String>>,
    /// Whether the internal notes for this version already exist.
    pub notes_exist: bool,
    /// `latest` before this release, as recorded by an earlier, interrupted run (resume).
    pub recorded_latest_before: BTreeMap<String, Option<String>>,
}

/// What the operator asked for.
#[derive(Debug, Clone)]
pub struct Request {
    pub version: semver::Version,
    pub latest: bool,
    pub components: Vec<String>,
    pub draft_release: bool,
}

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

#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub kind: StepKind,
    pub description: String,
    /// Why the step is already done, when it is.
    pub done: Option<String>,
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
        self.steps.iter().find(|s| s.kind == kind)
    }

    /// Whether every step is already done: the release is complete.
    pub fn complete(&self) -> bool {
        self.steps.iter().all(|s| s.done.is_some())
    }
}

/// Plans a release. Refuses (with the fix) what must not happen: a dirty tree, a detached HEAD,
/// a HEAD that is not the remote default branch, a tag at another commit.
pub fn plan(config: &Config, req: &Request, world: &World) -> anyhow::Result<Plan> {
    let rules = &config.raw.tags;
    let kind = if req.latest {
        TagKind::ReleaseLatest
    } else {
        TagKind::Release
    };
    let tag = git_tag(rules, &req.version, kind);
    let other_kind = if req.latest {
        TagKind::Release
    } else {
        TagKind::ReleaseLatest
    };
    let other_tag = git_tag(rules, &req.version, other_kind);

    if world.branch.is_none() && !world.local_tags.contains_key(&tag) {
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
        .get(&other_tag)
        .or(world.remote_tags.get(&other_tag))
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
        if let Some(at) = tags.get(&tag) {
            if at != &world.head {
                return Err(policy(format!(
                    "tag {tag} already exists ({place}) at commit {at}, not at HEAD {}; releases are immutable: choose a new version, or check out {at} to resume that release",
                    world.head
                )));
            }
        }
    }
    let tag_pushed = world.remote_tags.get(&tag) == Some(&world.head);
    let tag_created = world.local_tags.get(&tag) == Some(&world.head);
    if !tag_pushed {
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
    }

    let tag_plan = plan_tags(
        rules,
        Event::Push,
        &format!("refs/tags/{tag}"),
        &world.head,
        None,
    )?;
    let components = config.scope(&req.components)?;
    let packages = config
        .images_for(&components)
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
                tags: tag_plan.tags.clone(),
                latest_before: before,
            }
        })
        .collect();

    let done = |cond: bool, why: &str| cond.then(|| why.to_string());
    let mut steps = vec![
        Step {
            kind: StepKind::Preflight,
            description: "run the preflight gate (every error-severity check must pass)".into(),
            done: done(
                tag_pushed,
                "the tag is already pushed; the gate ran before it",
            ),
        },
        Step {
            kind: StepKind::CreateTag,
            description: format!("create annotated tag {tag} at {}", world.head),
            done: done(tag_created || tag_pushed, "the tag exists at HEAD"),
        },
        Step {
            kind: StepKind::PushTag,
            description: format!(
                "push exactly one tag, {tag}, to {}",
                config.raw.repository.remote
            ),
            done: done(tag_pushed, "the remote tag peels to HEAD"),
        },
        Step {
            kind: StepKind::FindRun,
            description: format!(
                "find the {} run for push {tag} at {}",
                config.workflow_file_name(),
                &world.head[..world.head.len().min(12)]
            ),
            done: None,
        },
        Step {
            kind: StepKind::WaitRun,
            description: "wait for the run to complete successfully".into(),
            done: None,
        },
        Step {
            kind: StepKind::Verify,
            description: "verify tags, digests, `latest` and visibility in the registry".into(),
            done: None,
        },
        Step {
            kind: StepKind::WriteNotes,
            description: format!(
                "write {}/{}.md and the customer variant",
                config.raw.notes.dir, req.version
            ),
            done: done(world.notes_exist, "the notes exist"),
        },
    ];
    if req.draft_release {
        steps.push(Step {
            kind: StepKind::DraftRelease,
            description: format!("create the GitHub release {tag} as a draft"),
            done: None,
        });
    }
    if world.notes_exist {
        // Everything before the notes was done when they were written.
        for s in steps.iter_mut() {
            if s.done.is_none() && s.kind != StepKind::DraftRelease {
                s.done = Some("the notes exist, so this was done".into());
            }
        }
    }
    Ok(Plan {
        version: req.version.to_string(),
        tag,
        kind,
        commit: world.head.clone(),
        moves_latest: tag_plan.moves_latest,
        latest_reason: tag_plan.latest_reason,
        components,
        packages,
        steps,
    })
}

/// The plan for people.
pub fn render_human(plan: &Plan) -> String {
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
    use super::*;

    const HEAD: &str = "0123456789abcdef0123456789abcdef01234567";
    const OTHER: &str = "fedcba9876543210fedcba9876543210fedcba98";

    fn config() -> Config {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .unwrap();
        Config::load(root).unwrap()
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
        }
    }

    /// Renders a plan (or its error) with the commit redacted, for golden comparison.
    fn check(latest: bool, world: &World, expect: &str) {
        let got = match plan(&config(), &req(latest), world) {
            Ok(p) => render_human(&p),
            Err(e) => format!("error (exit {}): {e:#}\n", crate::exit::code_for(&e)),
        };
        let got = got
            .replace(OTHER, "<OTHER>")
            .replace(HEAD, "<HEAD>")
            .replace(&HEAD[..12], "<HEAD12>");
        assert_eq!(got.trim(), expect.trim(), "\n--- got ---\n{got}");
    }

    #[test]
    fn fresh_release() {
        check(
            false,
            &world(),
            r#"
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
"#,
        );
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
        let p = plan(&config(), &req(true), &w).unwrap();
        assert!(p.moves_latest);
        assert!(p.step(StepKind::Preflight).unwrap().done.is_some());
        assert!(p.step(StepKind::PushTag).unwrap().done.is_some());
        assert!(p.step(StepKind::FindRun).unwrap().done.is_none());
        assert_eq!(p.packages[0].latest_before.as_deref(), Some("sha256:old"));
        assert_eq!(p.packages[0].tags, ["1.2.3", "sha-0123456", "latest"]);
    }

    #[test]
    fn refusals() {
        let mut w = world();
        w.dirty = vec![" M core/src/main.rs".into()];
        check(
            false,
            &w,
            "error (exit 2): the working tree has uncommitted changes ( M core/src/main.rs); commit or stash them (git stash -u) so the tag names exactly what was checked",
        );

        let mut w = world();
        w.branch = None;
        check(
            false,
            &w,
            "error (exit 2): HEAD is detached; check out the default branch first: git switch main",
        );

        let mut w = world();
        w.remote_tags.insert("v1.2.3".into(), OTHER.into());
        check(
            false,
            &w,
            "error (exit 1): tag v1.2.3 already exists (remote) at commit <OTHER>, not at HEAD <HEAD>; releases are immutable: choose a new version, or check out <OTHER> to resume that release",
        );

        let mut w = world();
        w.remote_default = Some(OTHER.into());
        check(
            false,
            &w,
            "error (exit 2): HEAD <HEAD> is not the remote default branch main (<OTHER>); run `git pull --ff-only origin main` or push your commits through review first",
        );

        let mut w = world();
        w.local_tags.insert("v1.2.3".into(), HEAD.into());
        check(
            true,
            &w,
            "error (exit 2): version 1.2.3 was already released as v1.2.3 (commit <HEAD>); to move `latest` to 1.2.3, run `cargo xtask promote 1.2.3`",
        );
    }
}
