//! `cargo xtask promote`: moves `latest` to an existing release through the publish
//! workflow's manual dispatch (`publish_latest=true`), then proves that `latest` is the
//! release's digest and that no other tag moved.
//!
//! As for `release`, the work is data: `observe` reads the remote's release tag and every
//! tag of every package, `plan` (pure) turns that into a [`PromotePlan`] of [`PromoteStep`]s,
//! `--dry-run` prints it, and the real run walks exactly those steps, one function each.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::effects::git;
use crate::effects::github::{Github, RunFilter, WorkflowRun};
use crate::effects::registry::RegistryClient;
use crate::execute::{
    FindError, Poll, PushClock, RunQuery, confirm, failure_message, find_run, github_client,
    interrupted, operator, registry_client, require_remote, say, wait_run,
};
use crate::exit::{policy, usage};
use crate::tags;
use crate::time::rfc3339;
use crate::workspace::Workspace;

/// What `promote` needs besides the workspace.
#[derive(Debug, Clone)]
pub(crate) struct PromoteOptions {
    pub version: semver::Version,
    pub components: Vec<String>,
    pub yes: bool,
    /// Print the plan and stop.
    pub dry_run: bool,
    pub timeout: Duration,
    pub poll: Poll,
    /// Move `latest` even when it holds a newer version.
    pub allow_downgrade: bool,
}

/// Every tag of every package: `(package, tag) -> digest`.
pub type Tags = BTreeMap<(String, String), String>;

/// What planning a promote reads. Plain data.
#[derive(Debug, Clone)]
pub(crate) struct PromoteWorld {
    /// The release tag on the remote and the commit it peels to.
    pub tag: String,
    pub commit: String,
    /// The packages in scope.
    pub packages: Vec<String>,
    /// Every tag of every package, before anything moves.
    pub before: Tags,
}

/// One step of a promote, with its data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "kebab-case")]
pub(crate) enum PromoteStep {
    /// Dispatch `workflow` on `git_ref` with `input=true`.
    Dispatch {
        workflow: String,
        git_ref: String,
        input: String,
    },
    /// Wait for the dispatched run to complete successfully.
    WaitRun { workflow: String },
    /// Verify `tag` of `package` moved from `from` to `to`, the release's digest.
    CheckLatest {
        package: String,
        tag: String,
        from: Option<String>,
        to: String,
    },
    /// Verify the other `tags` tags of every package kept their digests, and none appeared.
    CheckUnchanged { tags: usize },
}

impl PromoteStep {
    /// One line for people.
    pub fn describe(&self, config: &Config) -> String {
        match self {
            PromoteStep::Dispatch {
                workflow,
                git_ref,
                input,
            } => format!("dispatch {workflow} on {git_ref} with {input}=true"),
            PromoteStep::WaitRun { workflow } => {
                format!("wait for the {workflow} run to complete successfully")
            }
            PromoteStep::CheckLatest {
                package,
                tag,
                from,
                to,
            } => format!(
                "verify {}:{tag} moved from {} to {to}",
                config.image_repository(package),
                from.as_deref().unwrap_or("none")
            ),
            PromoteStep::CheckUnchanged { tags } => {
                format!("verify the other {tags} tags kept their digests and none appeared")
            }
        }
    }
}

/// The promote plan: what moves, and the steps (empty: `latest` is already there).
#[derive(Debug, Clone)]
pub(crate) struct PromotePlan {
    pub version: String,
    pub tag: String,
    pub commit: String,
    pub latest: String,
    /// The release's digest per package.
    pub release_digest: BTreeMap<String, String>,
    /// Lines said before the plan (a downgrade allowed, and by whom).
    pub notes: Vec<String>,
    pub steps: Vec<PromoteStep>,
}

/// Plans a promote. Pure. Refuses a release missing from the registry and a `latest` that
/// would move backwards (unless `--allow-downgrade`).
pub fn plan(
    config: &Config,
    opts: &PromoteOptions,
    world: &PromoteWorld,
    who: &str,
) -> anyhow::Result<PromotePlan> {
    let version = opts.version.to_string();
    let latest = config.raw.tags.latest.clone();
    let before = &world.before;
    let mut release_digest = BTreeMap::new();
    for p in &world.packages {
        let d = before.get(&(p.clone(), version.clone())).ok_or_else(|| {
            policy(format!(
                "{}:{version} does not exist, so there is nothing to promote; finish the release first (`cargo xtask release {version}` resumes it)",
                config.image_repository(p)
            ))
        })?;
        release_digest.insert(p.clone(), d.clone());
    }
    let notes = check_no_downgrade(config, opts, world, &release_digest, who)?;
    let mut steps = Vec::new();
    let nothing_to_do = world
        .packages
        .iter()
        .all(|p| before.get(&(p.clone(), latest.clone())) == Some(&release_digest[p]));
    if !nothing_to_do {
        let workflow = config.workflow_file_name().to_string();
        steps.push(PromoteStep::Dispatch {
            workflow: workflow.clone(),
            git_ref: world.tag.clone(),
            input: config.raw.tags.dispatch_input.clone(),
        });
        steps.push(PromoteStep::WaitRun { workflow });
        for p in &world.packages {
            steps.push(PromoteStep::CheckLatest {
                package: p.clone(),
                tag: latest.clone(),
                from: before.get(&(p.clone(), latest.clone())).cloned(),
                to: release_digest[p].clone(),
            });
        }
        let moving = before
            .keys()
            .filter(|(p, t)| *t == latest && world.packages.contains(p))
            .count();
        steps.push(PromoteStep::CheckUnchanged {
            tags: before.len() - moving,
        });
    }
    Ok(PromotePlan {
        version,
        tag: world.tag.clone(),
        commit: world.commit.clone(),
        latest,
        release_digest,
        notes,
        steps,
    })
}

/// `latest` never moves backwards: which version does it hold now? Returns the lines that
/// say a downgrade was allowed.
fn check_no_downgrade(
    config: &Config,
    opts: &PromoteOptions,
    world: &PromoteWorld,
    release_digest: &BTreeMap<String, String>,
    who: &str,
) -> anyhow::Result<Vec<String>> {
    let latest = &config.raw.tags.latest;
    let version = opts.version.to_string();
    let mut notes = Vec::new();
    for p in &world.packages {
        let Some(now) = world.before.get(&(p.clone(), latest.clone())) else {
            continue;
        };
        let held = world
            .before
            .iter()
            .filter(|((q, t), d)| q == p && *d == now && t != latest)
            .filter_map(|((_, t), _)| semver::Version::parse(t).ok())
            .max();
        match held {
            Some(h) if h > opts.version && !opts.allow_downgrade => {
                return Err(usage(format!(
                    "{}:{latest} holds {h}, which is newer than {version}: promoting would move `{latest}` backwards; pass --allow-downgrade if that is really intended",
                    config.image_repository(p)
                )));
            }
            None if !opts.allow_downgrade && *now != release_digest[p] => {
                return Err(usage(format!(
                    "{}:{latest} ({now}) names no version tag, so promoting {version} could move it backwards; inspect it, then pass --allow-downgrade to move it anyway",
                    config.image_repository(p)
                )));
            }
            Some(h) if h > opts.version => notes.push(format!(
                "  {}: `{latest}` moves backwards from {h} to {version}: allowed with --allow-downgrade by {who}",
                config.image_repository(p),
            )),
            _ => {}
        }
    }
    Ok(notes)
}

/// The plan for people.
pub fn render(config: &Config, plan: &PromotePlan) -> String {
    use std::fmt::Write as _;
    let latest = &plan.latest;
    let mut s = String::new();
    for n in &plan.notes {
        let _ = writeln!(s, "{n}");
    }
    let _ = writeln!(
        s,
        "promote {} ({} at {}): move `{latest}` to this release",
        plan.version, plan.tag, plan.commit
    );
    for step in &plan.steps {
        if let PromoteStep::CheckLatest {
            package, from, to, ..
        } = step
        {
            let _ = writeln!(
                s,
                "  {}: {latest} {} -> {to}",
                config.image_repository(package),
                from.as_deref().unwrap_or("none")
            );
        }
    }
    if plan.steps.is_empty() {
        let _ = writeln!(
            s,
            "`{latest}` already points at {} for every package; nothing to do",
            plan.version
        );
        return s;
    }
    let _ = writeln!(s, "Steps:");
    for (i, step) in plan.steps.iter().enumerate() {
        let _ = writeln!(s, "  {}. {}", i + 1, step.describe(config));
    }
    s
}

/// Every tag of every package: `(package, tag) -> digest`. Packages that do not exist are
/// absent.
pub(crate) async fn snapshot_tags(
    config: &Config,
    registry: &RegistryClient,
) -> anyhow::Result<Tags> {
    let mut refs = Vec::new();
    for img in config.all_images() {
        let repo = format!("{}/{}", config.org(), img.package);
        if let Some(list) = registry
            .list_tags(&repo)
            .await
            .with_context(|| format!("listing the tags of {repo}"))?
        {
            for t in list {
                refs.push((img.package.clone(), repo.clone(), t));
            }
        }
    }
    let pairs: Vec<(String, String)> = refs
        .iter()
        .map(|(_, r, t)| (r.clone(), t.clone()))
        .collect();
    let mut out = BTreeMap::new();
    for ((pkg, _, tag), res) in refs.into_iter().zip(registry.resolve_all(&pairs).await) {
        if let Some(r) = res.with_context(|| format!("resolving {pkg}:{tag}"))? {
            out.insert((pkg, tag), r.digest);
        }
    }
    Ok(out)
}

/// Reads the release tag on the remote and then, through the returned client, every tag of
/// every package.
pub async fn observe(
    ws: &Workspace,
    opts: &PromoteOptions,
) -> anyhow::Result<(PromoteWorld, RegistryClient)> {
    let config = &ws.config;
    let rules = &config.raw.tags;
    let version = opts.version.to_string();
    let remote = &config.raw.repository.remote;
    let candidates = tags::release_tags(rules, &opts.version);
    let patterns: Vec<String> = candidates
        .iter()
        .map(|t| format!("refs/tags/{t}"))
        .collect();
    require_remote(&ws.root, remote)?;
    let refs = git::ls_remote(&ws.root, remote, &patterns)
        .with_context(|| format!("reading the release tags of `{remote}`"))?;
    let Some((tag, commit)) = candidates.iter().find_map(|t| {
        refs.get(&format!("refs/tags/{t}"))
            .map(|c| (t.clone(), c.clone()))
    }) else {
        return Err(usage(format!(
            "neither {} nor {} exists on `{remote}`: promote moves `latest` to an existing release; release it first with `cargo xtask release {version}`",
            candidates[1], candidates[0]
        )));
    };
    let components = config.scope(&opts.components)?;
    let packages = config
        .images_for(&components)
        .into_iter()
        .map(|i| i.package)
        .collect();
    let registry = registry_client(config)?;
    // Every tag of every package first: afterwards nothing but `latest` may differ.
    let before = snapshot_tags(config, &registry).await?;
    let world = PromoteWorld {
        tag,
        commit,
        packages,
        before,
    };
    Ok((world, registry))
}

/// `cargo xtask promote`: Ctrl-C exits 130; rerunning is safe (a promoted release is detected).
pub async fn promote(ws: &Workspace, opts: &PromoteOptions) -> anyhow::Result<u8> {
    let version = opts.version.to_string();
    tokio::select! {
        r = promote_steps(ws, opts) => r,
        // A promoted release is detected and left alone, so rerunning is safe.
        _ = tokio::signal::ctrl_c() => Ok(interrupted(&format!("cargo xtask promote {version}"))),
    }
}

async fn promote_steps(ws: &Workspace, opts: &PromoteOptions) -> anyhow::Result<u8> {
    // One release, promote or publish per checkout at a time; a dry run only reads.
    let _lock = crate::effects::git::lock_unless_dry_run(&ws.root, opts.dry_run)?;
    let config = &ws.config;
    let (world, registry) = observe(ws, opts).await?;
    let plan = plan(config, opts, &world, &operator())?;
    crate::say_part!("{}", crate::secrets::redact_all(&render(config, &plan)));
    if opts.dry_run || plan.steps.is_empty() {
        return Ok(crate::exit::OK);
    }
    if !opts.yes
        && !confirm(&format!(
            "dispatch the publish workflow on {} with {}=true?",
            plan.tag, config.raw.tags.dispatch_input
        ))
        .await?
    {
        say("not confirmed; nothing was changed");
        return Ok(crate::exit::POLICY);
    }
    let mut run = Promoting {
        ws,
        opts,
        plan: &plan,
        world: &world,
        registry: &registry,
        gh: github_client(config).await?,
        deadline: Instant::now(),
        run_id: None,
        run: None,
        after: None,
    };
    for step in &plan.steps {
        run.run_step(step).await?;
        crate::say!("done: {}", step.describe(config));
    }
    let promoted = run.run.as_ref().expect("the wait ran");
    crate::say!(
        "promoted {}: `{}` now points at it for {} packages, and the other {} tags kept their digests ({})",
        plan.version,
        plan.latest,
        world.packages.len(),
        world.before.len()
            - world
                .before
                .keys()
                .filter(|(p, t)| *t == plan.latest && world.packages.contains(p))
                .count(),
        promoted.html_url
    );
    Ok(crate::exit::OK)
}

/// A promote while its steps run.
struct Promoting<'a> {
    ws: &'a Workspace,
    opts: &'a PromoteOptions,
    plan: &'a PromotePlan,
    world: &'a PromoteWorld,
    registry: &'a RegistryClient,
    gh: Github,
    deadline: Instant,
    run_id: Option<u64>,
    run: Option<WorkflowRun>,
    /// Every tag after the run, read once for the checks.
    after: Option<Tags>,
}

impl Promoting<'_> {
    async fn run_step(&mut self, step: &PromoteStep) -> anyhow::Result<()> {
        match step {
            PromoteStep::Dispatch {
                workflow,
                git_ref,
                input,
            } => self.dispatch(workflow, git_ref, input).await,
            PromoteStep::WaitRun { .. } => self.wait().await,
            PromoteStep::CheckLatest {
                package, tag, to, ..
            } => self.check_latest(package, tag, to).await,
            PromoteStep::CheckUnchanged { .. } => self.check_unchanged().await,
        }
    }

    /// Dispatches the workflow and finds its run (GitHub names it, or the runs list does).
    async fn dispatch(&mut self, workflow: &str, git_ref: &str, input: &str) -> anyhow::Result<()> {
        let (owner, name) = self.ws.config.repo_owner_name();
        let (version, timeout) = (&self.plan.version, self.opts.timeout);
        let mut inputs = serde_json::Map::new();
        inputs.insert(input.to_string(), serde_json::Value::String("true".into()));
        // GitHub's clock just before the dispatch, as for a push.
        let dispatched_at = PushClock::github(&self.gh, owner, name).await?;
        self.deadline = Instant::now() + timeout;
        let dispatched = self
            .gh
            .dispatch(owner, name, workflow, git_ref, &inputs, true)
            .await
            .with_context(|| format!("dispatching {workflow} on {git_ref}"))?;
        let run_id = match dispatched {
            Some(d) => d.workflow_run_id,
            None => {
                let filter = RunFilter {
                    event: Some("workflow_dispatch".into()),
                    head_sha: Some(self.plan.commit.clone()),
                    created: Some(format!(">={}", rfc3339(dispatched_at.earliest()))),
                    per_page: Some(20),
                    ..RunFilter::default()
                };
                say(format!(
                    "waiting for the run of the dispatch of {workflow} on {git_ref}: {}",
                    dispatched_at.describe()
                ));
                let query = RunQuery {
                    repo: (owner, name),
                    workflow,
                    filter,
                    tag: None,
                    earliest: dispatched_at.earliest(),
                };
                find_run(&self.gh, &query, self.deadline, self.opts.poll)
                    .await
                    .map_err(|e| match e {
                        FindError::Timeout => policy(format!(
                            "no run appeared for the dispatch of {workflow} on {git_ref} within {} s (--timeout); check `actions-enabled` and that the workflow has a workflow_dispatch trigger, then rerun `cargo xtask promote {version}`",
                            timeout.as_secs()
                        )),
                        FindError::Other(e) => e,
                    })?
                    .id
            }
        };
        say(format!("dispatched {workflow} on {git_ref}: run {run_id}"));
        self.run_id = Some(run_id);
        Ok(())
    }

    async fn wait(&mut self) -> anyhow::Result<()> {
        let run_id = self.run_id.expect("the dispatch precedes the wait");
        let (owner_name, version) = (self.ws.config.repo_owner_name(), &self.plan.version);
        let timeout = self.opts.timeout;
        let (run, jobs) = wait_run(&self.gh, owner_name, run_id, self.deadline, self.opts.poll)
            .await
            .map_err(|e| match e {
                FindError::Timeout => policy(format!(
                    "timed out after {} s (--timeout) waiting for run {run_id}; raise --timeout, and rerun `cargo xtask promote {version}` once the run finished (a promoted release is detected)",
                    timeout.as_secs()
                )),
                FindError::Other(e) => e,
            })?;
        if !run.succeeded() {
            return Err(policy(format!(
                "{}; `{}` was not verified as moved; fix the cause and rerun `cargo xtask promote {version}`",
                failure_message(&run, &jobs),
                self.plan.latest
            )));
        }
        self.run = Some(run);
        Ok(())
    }

    async fn after(&mut self) -> anyhow::Result<&Tags> {
        if self.after.is_none() {
            self.after = Some(snapshot_tags(&self.ws.config, self.registry).await?);
        }
        Ok(self.after.as_ref().expect("just read"))
    }

    /// A failed check: the problems, then the error naming the run.
    fn fail(&self, problems: &[String]) -> anyhow::Error {
        for line in problems {
            crate::say!("  FAIL {line}");
        }
        let run = self.run.as_ref().expect("the wait ran");
        policy(format!(
            "promote {}: run {} succeeded, but the registry is not as planned ({} problem(s) above); inspect the run {} and the packages",
            self.plan.version,
            run.id,
            problems.len(),
            run.html_url
        ))
    }

    /// Everything not as planned in the registry after the run.
    async fn problems(&mut self) -> anyhow::Result<Vec<String>> {
        let after = self.after().await?.clone();
        Ok(unexpected_moves(
            &self.ws.config,
            self.world,
            self.plan,
            &after,
        ))
    }

    /// `tag` of `package` is `to` now; otherwise every problem is named.
    async fn check_latest(&mut self, package: &str, tag: &str, to: &str) -> anyhow::Result<()> {
        let key = (package.to_string(), tag.to_string());
        if self.after().await?.get(&key).map(String::as_str) == Some(to) {
            return Ok(());
        }
        let problems = self.problems().await?;
        Err(self.fail(&problems))
    }

    /// No other tag moved and none appeared.
    async fn check_unchanged(&mut self) -> anyhow::Result<()> {
        let problems = self.problems().await?;
        if problems.is_empty() {
            Ok(())
        } else {
            Err(self.fail(&problems))
        }
    }
}

/// Everything not as planned, comparing every tag before the run (`world.before`) with every
/// tag after it: `latest` of each package in scope not at the release's digest, then any
/// other tag that moved or went away, then any tag that appeared. Empty: only `latest` moved,
/// and exactly as planned.
pub(crate) fn unexpected_moves(
    config: &Config,
    world: &PromoteWorld,
    plan: &PromotePlan,
    after: &Tags,
) -> Vec<String> {
    let latest = &plan.latest;
    let mut problems = Vec::new();
    for p in &world.packages {
        let now = after.get(&(p.clone(), latest.clone()));
        if now != Some(&plan.release_digest[p]) {
            problems.push(format!(
                "{}:{latest} is {}, not {}'s {}",
                config.image_repository(p),
                now.map(String::as_str).unwrap_or("absent"),
                plan.version,
                plan.release_digest[p]
            ));
        }
    }
    for ((p, t), d) in &world.before {
        if t == latest && world.packages.contains(p) {
            continue;
        }
        match after.get(&(p.clone(), t.clone())) {
            Some(a) if a == d => {}
            a => problems.push(format!(
                "{}:{t} moved: it was {d}, it is {}",
                config.image_repository(p),
                a.map(String::as_str).unwrap_or("absent")
            )),
        }
    }
    for (p, t) in after.keys() {
        let expected = world.before.contains_key(&(p.clone(), t.clone()))
            || (t == latest && world.packages.contains(p));
        if !expected {
            problems.push(format!("{}:{t} appeared", config.image_repository(p)));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        crate::config::for_tests()
    }

    fn opts(version: &str, allow_downgrade: bool) -> PromoteOptions {
        PromoteOptions {
            version: semver::Version::parse(version).unwrap(),
            components: Vec::new(),
            yes: true,
            dry_run: true,
            timeout: Duration::from_secs(1),
            poll: Poll::default(),
            allow_downgrade,
        }
    }

    /// `a` holds 1.0.0 (`latest` there) and 1.1.0.
    fn world() -> PromoteWorld {
        let t = |p: &str, tag: &str, d: &str| ((p.to_string(), tag.to_string()), d.to_string());
        PromoteWorld {
            tag: "v1.1.0".into(),
            commit: "c".repeat(40),
            packages: vec!["a".into()],
            before: BTreeMap::from([
                t("a", "1.0.0", "sha256:old"),
                t("a", "latest", "sha256:old"),
                t("a", "1.1.0", "sha256:new"),
                t("b", "latest", "sha256:other"),
            ]),
        }
    }

    #[test]
    fn the_plan_dispatches_waits_and_checks_latest_then_the_rest() {
        let config = config();
        let p = plan(&config, &opts("1.1.0", false), &world(), "alice").unwrap();
        assert_eq!(
            p.steps,
            [
                PromoteStep::Dispatch {
                    workflow: config.workflow_file_name().to_string(),
                    git_ref: "v1.1.0".into(),
                    input: config.raw.tags.dispatch_input.clone(),
                },
                PromoteStep::WaitRun {
                    workflow: config.workflow_file_name().to_string()
                },
                PromoteStep::CheckLatest {
                    package: "a".into(),
                    tag: "latest".into(),
                    from: Some("sha256:old".into()),
                    to: "sha256:new".into(),
                },
                // Every tag but `a:latest` must keep its digest.
                PromoteStep::CheckUnchanged { tags: 3 },
            ]
        );
        // Already there: nothing to do.
        let mut w = world();
        w.before
            .insert(("a".into(), "latest".into()), "sha256:new".into());
        assert!(
            plan(&config, &opts("1.1.0", false), &w, "alice")
                .unwrap()
                .steps
                .is_empty()
        );
    }

    /// After the run, only `a:latest` may have moved, and only to the release's digest.
    #[test]
    fn only_latest_may_move_and_only_to_the_release() {
        let config = config();
        let w = world();
        let p = plan(&config, &opts("1.1.0", false), &w, "alice").unwrap();
        let moved = |changes: &[((&str, &str), Option<&str>)]| {
            let mut after = w.before.clone();
            for ((pkg, tag), d) in changes {
                let key = (pkg.to_string(), tag.to_string());
                match d {
                    Some(d) => after.insert(key, d.to_string()),
                    None => after.remove(&key),
                };
            }
            unexpected_moves(&config, &w, &p, &after)
                .join("\n")
                .replace("ghcr.io/aisopsflow/", "")
        };
        // As planned.
        assert_eq!(moved(&[(("a", "latest"), Some("sha256:new"))]), "");
        // The run did nothing.
        assert_eq!(moved(&[]), "a:latest is sha256:old, not 1.1.0's sha256:new");
        // `latest` moved somewhere else.
        assert_eq!(
            moved(&[(("a", "latest"), Some("sha256:evil"))]),
            "a:latest is sha256:evil, not 1.1.0's sha256:new"
        );
        // Another package's `latest` moved, a version tag went away, a tag appeared.
        assert_eq!(
            moved(&[
                (("a", "latest"), Some("sha256:new")),
                (("b", "latest"), Some("sha256:new")),
                (("a", "1.0.0"), None),
                (("a", "1.1.1"), Some("sha256:new")),
            ]),
            "a:1.0.0 moved: it was sha256:old, it is absent\nb:latest moved: it was sha256:other, it is sha256:new\na:1.1.1 appeared"
        );
    }

    #[test]
    fn the_plan_refuses_a_missing_release_and_a_move_backwards() {
        let config = config();
        let err = plan(&config, &opts("1.2.0", false), &world(), "alice").unwrap_err();
        assert!(format!("{err}").contains(":1.2.0 does not exist"), "{err}");
        // `latest` at 1.1.0; promoting 1.0.0 moves it backwards.
        let mut w = world();
        w.before
            .insert(("a".into(), "latest".into()), "sha256:new".into());
        let err = plan(&config, &opts("1.0.0", false), &w, "alice").unwrap_err();
        assert!(
            format!("{err}").contains("holds 1.1.0, which is newer than 1.0.0"),
            "{err}"
        );
        let p = plan(&config, &opts("1.0.0", true), &w, "alice").unwrap();
        assert_eq!(
            p.notes,
            [format!(
                "  {}: `latest` moves backwards from 1.1.0 to 1.0.0: allowed with --allow-downgrade by alice",
                config.image_repository("a")
            )]
        );
        assert!(!p.steps.is_empty());
    }
}
