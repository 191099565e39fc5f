//! Executing a release: observing the world, walking the plan's steps, waiting for the
//! publish run, verifying and writing the notes. `promote` (`promote.rs`) shares the run
//! search and the wait.
//!
//! `observe` reads everything planning needs through the adapters (git, the registry, the notes
//! directory) into a `plan::World`; `plan::plan` decides. `release` then walks the steps, and
//! each step first checks whether its work is already done, so a rerun after an interruption
//! (Ctrl-C, a lost connection, a timeout) continues where the last run stopped. What a rerun
//! cannot observe after the tag is pushed, namely what `latest` was before the publish run
//! moved it and when the tag was pushed, lives in a resume record,
//! `<notes dir>/.<version>.state.json`, written atomically before the push and removed once
//! the notes are written.
//!
//! Waiting polls the run and its jobs with conditional requests: the GitHub client sends the
//! ETag it has, an unchanged run answers 304, and a 304 does not count against the primary
//! rate limit. The interval starts at 2 s, grows to 10 s while nothing changes, drops back on
//! any change, and stretches further when the rate-limit headers say the budget is low.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use serde::{Deserialize, Serialize};

use crate::checks::manual::Attestations;
use crate::checks::{Ctx, Report};
use crate::config::Config;
use crate::effects::git;
use crate::effects::github::{
    Github, Job, RunFilter, WorkflowRun, now_epoch, parse_rfc3339, rfc3339,
};
use crate::effects::registry::{Credentials, RegistryClient};
use crate::exit::{Kind, kind_of, policy, usage};
use crate::flags::Format;
use crate::notes::{self, AttestationLine, CheckLine, NotesInput, PackageNotes};
use crate::plan::{self, Action, Plan, Request, World};
use crate::policy::{self as tags, TagKind};
use crate::report::{self, Gate};
use crate::workspace::Workspace;

/// How far before the push a run's `created_at` may be and still be taken for the run of
/// this push, when the push time is GitHub's own (the `Date` of an answer just before the
/// push): GitHub's API front end and its Actions service keep GitHub's clocks, so this covers
/// only their disagreement and the `Date` header's one-second resolution. The operator's
/// clock plays no part, so no skew of it can break the search.
pub const GITHUB_CLOCK_TOLERANCE_SECS: u64 = 300;

/// The same, when the push time comes from a clock GitHub does not keep: the tag's own date
/// (the tagger's clock) or, if GitHub sent no `Date`, this machine's. Wide enough for any
/// plausibly wrong clock; the run is still matched by commit, event and tag name, so the
/// bound only keeps out runs of an earlier push of the same tag at the same commit.
pub const OTHER_CLOCK_TOLERANCE_SECS: u64 = 86_400;

/// Whose clock a push time was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClockSource {
    /// GitHub's `Date` header.
    Github,
    /// The tag's own date (its tagger's clock).
    TagDate,
    /// This machine's clock.
    Local,
}

fn local_clock() -> ClockSource {
    ClockSource::Local
}

/// When a push (or dispatch) happened, and by whose clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PushClock {
    pub at: u64,
    pub source: ClockSource,
}

impl PushClock {
    /// GitHub's clock now, from the `Date` of a fresh answer; this machine's clock only when
    /// GitHub sent no usable `Date`.
    pub async fn github(gh: &Github, owner: &str, repo: &str) -> anyhow::Result<PushClock> {
        Ok(match gh.server_time(owner, repo).await? {
            Some(at) => PushClock {
                at,
                source: ClockSource::Github,
            },
            None => PushClock {
                at: now_epoch(),
                source: ClockSource::Local,
            },
        })
    }

    pub fn tolerance(&self) -> u64 {
        match self.source {
            ClockSource::Github => GITHUB_CLOCK_TOLERANCE_SECS,
            ClockSource::TagDate | ClockSource::Local => OTHER_CLOCK_TOLERANCE_SECS,
        }
    }

    /// The earliest `created_at` accepted for the run.
    pub fn earliest(&self) -> u64 {
        self.at.saturating_sub(self.tolerance())
    }

    /// For the wait's first line: which clock, and the bound it gives.
    pub fn describe(&self) -> String {
        let whose = match self.source {
            ClockSource::Github => {
                "GitHub's clock (the Date header of its answer just before the push; this machine's clock is not used)"
            }
            ClockSource::TagDate => "the tag's own date (its tagger's clock)",
            ClockSource::Local => "this machine's clock (GitHub sent no Date header)",
        };
        format!(
            "runs created from {} on: the push at {} by {whose}, less {} s",
            rfc3339(self.earliest()),
            rfc3339(self.at),
            self.tolerance()
        )
    }
}

/// How often to poll GitHub while waiting.
#[derive(Debug, Clone, Copy)]
pub struct Poll {
    /// The interval after a change (and at the start).
    pub initial: Duration,
    /// The longest interval while nothing changes.
    pub max: Duration,
}

impl Default for Poll {
    fn default() -> Self {
        Poll {
            initial: Duration::from_secs(2),
            max: Duration::from_secs(10),
        }
    }
}

/// Everything `release` needs besides the workspace.
#[derive(Debug, Clone)]
pub struct ReleaseOptions {
    pub request: Request,
    pub yes: bool,
    pub dry_run: bool,
    pub format: Format,
    /// The bound on finding and waiting for the publish run.
    pub timeout: Duration,
    pub attestations: Attestations,
    /// Gate check-id prefixes to skip (recorded as skipped in the notes).
    pub skip_checks: Vec<String>,
    pub poll: Poll,
    /// Who plays the org admin when the first release needs one (the rehearsal does); `None`
    /// in a real release, which then stops with the admin's instructions.
    pub admin: Option<Admin>,
}

/// The org admin's one-way visibility flip of a package (`org/name`), which has no API on
/// GitHub. Returns one line saying what was done.
#[derive(Clone)]
pub struct Admin(pub std::sync::Arc<AdminFlip>);

/// What [`Admin`] holds: given `org/name`, flips that package and says what it did.
pub type AdminFlip =
    dyn Fn(&str) -> futures_util::future::BoxFuture<'static, anyhow::Result<String>> + Send + Sync;

impl std::fmt::Debug for Admin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Admin(..)")
    }
}

/// What a release records before pushing its tag, so that a rerun after the push knows what
/// it can no longer observe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResumeRecord {
    pub version: String,
    pub tag: String,
    pub commit: String,
    pub moves_latest: bool,
    pub components: Vec<String>,
    /// `latest` per package before the push (`None`: the package had no `latest`).
    pub latest_before: BTreeMap<String, Option<String>>,
    /// Epoch seconds just before the push: the publish run of this push starts after it.
    pub pushed_at: u64,
    /// Whose clock `pushed_at` is (records written before this field are this machine's).
    #[serde(default = "local_clock")]
    pub pushed_at_clock: ClockSource,
    /// The preflight gate's outcomes, for the notes.
    pub gate: Vec<CheckLine>,
    /// How and when the gate ran, and what was allowed (for the notes' "Gate" section).
    #[serde(default)]
    pub gate_notes: Vec<String>,
    pub attestations: Vec<AttestationLine>,
}

/// `<notes dir>/.<version>.state.json`.
pub fn state_path(config: &Config, version: &str) -> PathBuf {
    config.notes_dir().join(format!(".{version}.state.json"))
}

/// Reads a resume record; a missing or unreadable one is `None` (the rerun then falls back to
/// what it can observe).
pub fn read_state(config: &Config, version: &str) -> Option<ResumeRecord> {
    let text = std::fs::read_to_string(state_path(config, version)).ok()?;
    serde_json::from_str(&text).ok()
}

fn write_state(config: &Config, record: &ResumeRecord) -> anyhow::Result<()> {
    let path = state_path(config, &record.version);
    let text = serde_json::to_string_pretty(record)? + "\n";
    crate::fsx::write_atomic(&path, text.as_bytes())
        .with_context(|| format!("writing the resume record {}", path.display()))
}

/// What `observe` saw, besides the planning `World`.
#[derive(Debug, Clone)]
pub struct Observation {
    pub world: World,
    pub resume: Option<ResumeRecord>,
    /// One line for people about where `latest` was read.
    pub latest_note: String,
}

/// A registry client for the configured host with discovered credentials; no credentials is a
/// usage error naming GITHUB_TOKEN (a release reads private packages).
pub fn registry_client(config: &Config) -> anyhow::Result<RegistryClient> {
    let host = config.registry_host();
    let creds = Credentials::discover(&host)?;
    if matches!(creds, Credentials::Anonymous) {
        return Err(usage(format!(
            "no registry credentials for {host}: set GITHUB_TOKEN (or GH_TOKEN) to a token with read:packages, or `docker login {host}`"
        )));
    }
    RegistryClient::new(&host, creds)
}

/// A GitHub client for the configured API; no token is a usage error naming GITHUB_TOKEN.
pub async fn github_client(config: &Config) -> anyhow::Result<Github> {
    let gh = Github::from_config(config).await?;
    if !gh.has_token() {
        return Err(usage(
            "no GitHub token: set GITHUB_TOKEN (or GH_TOKEN), or run `gh auth login`; the release needs Actions read and Contents write on the repository",
        ));
    }
    Ok(gh)
}

/// The digests `latest` has now for `packages`, read concurrently. An unreachable registry is
/// `Some(why)` in the second slot, not an error: planning decides (it refuses to tag while
/// `latest` is unknown, and a release already pushed or finished still plans).
pub async fn read_latest(
    config: &Config,
    registry: &RegistryClient,
    packages: &[String],
) -> anyhow::Result<(BTreeMap<String, Option<String>>, Option<String>)> {
    let refs: Vec<(String, String)> = packages
        .iter()
        .map(|p| {
            (
                format!("{}/{p}", config.org()),
                config.raw.tags.latest.clone(),
            )
        })
        .collect();
    let mut out = BTreeMap::new();
    for (p, r) in packages.iter().zip(registry.resolve_all(&refs).await) {
        match r {
            Ok(r) => {
                out.insert(p.clone(), r.map(|r| r.digest));
            }
            Err(e) if kind_of(&e) == Some(Kind::External) => {
                return Ok((BTreeMap::new(), Some(format!("{e:#}"))));
            }
            Err(e) => return Err(e.context(format!("reading {p}:latest"))),
        }
    }
    Ok((out, None))
}

fn notes_rel(config: &Config) -> String {
    config.raw.notes.dir.trim_end_matches('/').to_string()
}

/// `git status --porcelain` lines outside the notes directory (the release's own output).
fn dirty_outside_notes(config: &Config, lines: Vec<String>) -> Vec<String> {
    let prefix = format!("{}/", notes_rel(config));
    lines
        .into_iter()
        .filter(|l| {
            let path = l.get(3..).unwrap_or("");
            let path = path.trim_matches('"');
            // A rename shows `old -> new`; both sides must be inside the notes directory.
            !path
                .split(" -> ")
                .all(|p| p.trim_matches('"').starts_with(&prefix))
        })
        .collect()
}

/// A checkout without the configured remote is a configuration problem (exit 2), not an
/// unreachable system.
pub(crate) fn require_remote(root: &std::path::Path, remote: &str) -> anyhow::Result<()> {
    if git::is_repo(root)? && !git::has_remote(root, remote) {
        return Err(usage(format!(
            "this checkout has no remote `{remote}` (release.toml repository.remote); add it with `git remote add {remote} <url of the enterprise repository>`, or set repository.remote to the remote you use (`git remote -v` lists them)"
        )));
    }
    Ok(())
}

/// One line for people about where `latest` was read.
fn latest_note(
    config: &Config,
    registry: &RegistryClient,
    latest_now: &BTreeMap<String, Option<String>>,
    unreachable: Option<&str>,
) -> String {
    let rules = &config.raw.tags;
    match unreachable {
        None => {
            let with = latest_now.values().filter(|d| d.is_some()).count();
            format!(
                "`{}` read from {} ({}): {with} of {} packages have one",
                rules.latest,
                registry.host(),
                registry.credentials_source(),
                latest_now.len()
            )
        }
        Some(why) => format!(
            "could not read `{}` from {}: {why}; `latest now` below is unknown, not absent",
            rules.latest,
            registry.host()
        ),
    }
}

/// Reads the world through the adapters: git state and the remote's refs, `latest` now, the
/// notes and the resume record.
pub async fn observe(
    ws: &Workspace,
    req: &Request,
    registry: &RegistryClient,
) -> anyhow::Result<Observation> {
    let config = &ws.config;
    let root = &ws.root;
    let rules = &config.raw.tags;
    let remote = &config.raw.repository.remote;
    let branch_name = &config.raw.repository.default_branch;
    let kind = if req.latest {
        TagKind::ReleaseLatest
    } else {
        TagKind::Release
    };
    let tag = tags::git_tag(rules, &req.version, kind);
    let candidates = [
        tags::git_tag(rules, &req.version, TagKind::Release),
        tags::git_tag(rules, &req.version, TagKind::ReleaseLatest),
    ];

    require_remote(root, remote)?;
    let head = git::head(root).context("reading HEAD")?;
    let branch = git::branch(root)?;
    let dirty = dirty_outside_notes(config, git::status(root)?);
    let mut patterns = vec![format!("refs/heads/{branch_name}")];
    patterns.extend(candidates.iter().map(|t| format!("refs/tags/{t}")));
    let refs = git::ls_remote(root, remote, &patterns)
        .with_context(|| format!("reading the refs of `{remote}`"))?;
    let remote_default = refs.get(&format!("refs/heads/{branch_name}")).cloned();
    let mut remote_tags = BTreeMap::new();
    let mut local_tags = BTreeMap::new();
    for t in &candidates {
        if let Some(sha) = refs.get(&format!("refs/tags/{t}")) {
            remote_tags.insert(t.clone(), sha.clone());
        }
        if let Some(sha) = git::try_rev_parse(root, &format!("refs/tags/{t}"))? {
            local_tags.insert(t.clone(), sha);
        }
    }

    let components = config.scope(&req.components)?;
    let packages: Vec<String> = config
        .images_for(&components)
        .into_iter()
        .map(|i| i.package)
        .collect();
    let (latest_now, unreachable) = read_latest(config, registry, &packages).await?;
    let latest_note = latest_note(config, registry, &latest_now, unreachable.as_deref());

    let notes_path = notes::internal_path(config, &req.version.to_string());
    let notes_exist = std::fs::read_to_string(&notes_path)
        .map(|text| {
            let r = notes::parse_recorded(&text);
            r.tag.as_deref() == Some(tag.as_str()) && r.commit.as_deref() == Some(head.as_str())
        })
        .unwrap_or(false);
    let resume =
        read_state(config, &req.version.to_string()).filter(|r| r.tag == tag && r.commit == head);
    let recorded_latest_before = resume
        .as_ref()
        .map(|r| r.latest_before.clone())
        .unwrap_or_default();

    let tag_messages = tag_at_head(root, remote, &tag, &head, &remote_tags, &mut local_tags)?;

    let (published, latest_versions) = if unreachable.is_none() {
        read_published(config, registry, &tag, &head, &packages, &latest_now).await?
    } else {
        (BTreeMap::new(), BTreeMap::new())
    };

    Ok(Observation {
        world: World {
            head,
            branch,
            dirty,
            remote_default,
            local_tags,
            remote_tags,
            latest_now,
            latest_unknown: unreachable,
            notes_exist,
            recorded_latest_before,
            tag_messages,
            resume_record: resume.is_some(),
            published,
            latest_versions,
        },
        resume,
        latest_note,
    })
}

/// The message of this release's tag where it is at HEAD; a pushed tag absent here is
/// fetched first.
fn tag_at_head(
    root: &std::path::Path,
    remote: &str,
    tag: &str,
    head: &str,
    remote_tags: &BTreeMap<String, String>,
    local_tags: &mut BTreeMap<String, String>,
) -> anyhow::Result<BTreeMap<String, Option<String>>> {
    let mut tag_messages = BTreeMap::new();
    // The tag at HEAD, if any: planning judges whether it is this release's own. A pushed tag
    // absent here is fetched, so what is judged is what the publish run reads.
    let local_at_head = local_tags.get(tag).is_some_and(|c| c == head);
    if local_at_head || remote_tags.get(tag).is_some_and(|c| c == head) {
        if !local_at_head {
            git::fetch_tag(root, remote, tag)?;
            local_tags.insert(tag.to_string(), head.to_string());
        }
        tag_messages.insert(tag.to_string(), git::tag_message(root, tag)?);
    }
    Ok(tag_messages)
}

/// What the publish run will ask the registry, asked now: the version tags of this release
/// (one commit gives one image; a version is never published from two commits), and which
/// version `latest` holds (it never moves backwards).
async fn read_published(
    config: &Config,
    registry: &RegistryClient,
    tag: &str,
    head: &str,
    packages: &[String],
    latest_now: &BTreeMap<String, Option<String>>,
) -> anyhow::Result<(
    BTreeMap<String, plan::Published>,
    BTreeMap<String, Option<semver::Version>>,
)> {
    let rules = &config.raw.tags;
    let mut published = BTreeMap::new();
    let mut latest_versions = BTreeMap::new();
    let tag_plan = tags::plan_tags(
        rules,
        crate::policy::Event::Push,
        &format!("refs/tags/{tag}"),
        head,
        None,
    )?;
    for p in packages {
        let (state, latest_version) = published_state(
            config,
            registry,
            p,
            &tag_plan,
            latest_now.get(p).cloned().flatten(),
        )
        .await?;
        published.insert(p.clone(), state);
        if latest_now.get(p).is_some_and(|d| d.is_some()) {
            latest_versions.insert(p.clone(), latest_version);
        }
    }
    Ok((published, latest_versions))
}

/// What `package` holds under the release's version tags, and which version `latest` (at
/// `latest`) holds: from the image's version label, else from the version tags that share
/// its digest.
async fn published_state(
    config: &Config,
    registry: &RegistryClient,
    package: &str,
    tag_plan: &crate::policy::TagPlan,
    latest: Option<String>,
) -> anyhow::Result<(plan::Published, Option<semver::Version>)> {
    let repo = format!("{}/{package}", config.org());
    let refs: Vec<(String, String)> = tag_plan
        .version_tags
        .iter()
        .map(|t| (repo.clone(), t.clone()))
        .collect();
    let mut state = plan::Published::default();
    for (t, r) in tag_plan
        .version_tags
        .iter()
        .zip(registry.resolve_all(&refs).await)
    {
        let r = r.with_context(|| format!("reading {repo}:{t} before tagging"))?;
        state.tags.insert(t.clone(), r.map(|r| r.digest));
    }
    let present = state.tags.values().flatten().next().cloned();
    if present.is_none() && latest.is_none() {
        return Ok((state, None));
    }
    // Version tags and their digests, read once for both questions.
    let mut versions: Vec<(semver::Version, String)> = Vec::new();
    if let Some(list) = registry.list_tags(&repo).await? {
        let semver_tags: Vec<(semver::Version, String)> = list
            .iter()
            .filter_map(|t| semver::Version::parse(t).ok().map(|v| (v, t.clone())))
            .collect();
        let refs: Vec<(String, String)> = semver_tags
            .iter()
            .map(|(_, t)| (repo.clone(), t.clone()))
            .collect();
        for ((v, _), r) in semver_tags
            .into_iter()
            .zip(registry.resolve_all(&refs).await)
        {
            if let Some(r) = r? {
                versions.push((v, r.digest));
            }
        }
    }
    let version_of = async |digest: &str| -> Option<semver::Version> {
        let label = registry
            .image_metadata(&repo, digest)
            .await
            .ok()
            .and_then(|m| m.labels.get(crate::publish::VERSION_LABEL).cloned())
            .and_then(|v| semver::Version::parse(&v).ok());
        label.or_else(|| {
            versions
                .iter()
                .filter(|(_, d)| d == digest)
                .map(|(v, _)| v.clone())
                .max()
        })
    };
    if let Some(d) = &present {
        let this = semver::Version::parse(&tag_plan.version).ok();
        let sharing: Vec<&semver::Version> = versions
            .iter()
            .filter(|(_, x)| x == d)
            .map(|(v, _)| v)
            .collect();
        state.holds_version = if this.as_ref().is_some_and(|t| sharing.contains(&t)) {
            Some(tag_plan.version.clone())
        } else {
            version_of(d).await.map(|v| v.to_string())
        };
    }
    let latest_version = match &latest {
        Some(d) => version_of(d).await,
        None => None,
    };
    Ok((state, latest_version))
}

/// Prints a progress line (stderr, so stdout stays the plan and the result).
/// A status line on stderr (redacted); `--quiet` drops it.
pub(crate) fn say(msg: impl AsRef<str>) {
    if !crate::output::quiet() {
        crate::note!("{}", crate::secrets::redact_all(msg.as_ref()));
    }
}

/// Whether a confirmation prompt is reading the terminal. A blocked read cannot be cancelled,
/// and the runtime would wait for it on shutdown, so Ctrl-C at the prompt exits at once.
static PROMPTING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Handles Ctrl-C: says how to resume; exits at once when a prompt holds the terminal.
pub(crate) fn interrupted(resume: &str) -> u8 {
    // Printed even with --quiet: it says how to resume.
    crate::note!(
        "{}",
        crate::secrets::redact_all(&format!("interrupted: rerun `{resume}` to resume"))
    );
    if PROMPTING.load(std::sync::atomic::Ordering::SeqCst) {
        std::process::exit(130);
    }
    130
}

/// Asks on the terminal; no terminal is a usage error naming `--yes`.
pub(crate) async fn confirm(question: &str) -> anyhow::Result<bool> {
    if !std::io::stdin().is_terminal() {
        return Err(usage(
            "no terminal to ask for confirmation on; rerun with --yes to proceed without asking",
        ));
    }
    crate::note_part!("{question} [y/N] ");
    PROMPTING.store(true, std::sync::atomic::Ordering::SeqCst);
    let line = tokio::task::spawn_blocking(|| {
        let mut s = String::new();
        std::io::stdin().read_line(&mut s).map(|_| s)
    })
    .await;
    PROMPTING.store(false, std::sync::atomic::Ordering::SeqCst);
    let line = line
        .context("reading the answer")?
        .context("reading the answer")?;
    Ok(matches!(
        line.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}

/// `cargo xtask release`: Ctrl-C at any point exits 130 with the command that resumes.
///
/// With `--format json`, stdout carries exactly one document whatever happens: the plan, and
/// then what came of it (`outcome`: planned, released, not-released, interrupted or error,
/// with the error inside); progress and the human report go to stderr.
pub async fn release(ws: &Workspace, opts: &ReleaseOptions) -> anyhow::Result<u8> {
    let version = opts.request.version.to_string();
    let mut doc = serde_json::Map::new();
    let result = tokio::select! {
        r = release_steps(ws, opts, &mut doc) => r,
        _ = tokio::signal::ctrl_c() => Ok(interrupted(&format!(
            "cargo xtask release {version}{}",
            if opts.request.latest { " --latest" } else { "" }
        ))),
    };
    if opts.format != Format::Json {
        return result;
    }
    let (outcome, code) = match &result {
        Ok(_) if opts.dry_run => ("planned", crate::exit::OK),
        Ok(crate::exit::OK) => ("released", crate::exit::OK),
        Ok(130) => ("interrupted", 130),
        Ok(c) => ("not-released", *c),
        Err(e) => ("error", crate::exit::code_for(e)),
    };
    doc.insert("outcome".into(), serde_json::json!(outcome));
    doc.insert("exit_code".into(), serde_json::json!(code));
    if let Err(e) = &result {
        doc.insert(
            "error".into(),
            serde_json::json!({
                "kind": crate::exit::kind_name(e),
                "exit_code": code,
                "message": crate::secrets::redact_all(&format!("{e:#}")),
            }),
        );
    }
    crate::say!(
        "{}",
        crate::secrets::redact_all(&serde_json::to_string_pretty(&doc)?)
    );
    result.map_err(crate::exit::reported)
}

/// A line of the result for people: stdout, unless stdout carries the JSON document.
fn result_line(format: Format, line: impl AsRef<str>) {
    let line = crate::secrets::redact_all(line.as_ref());
    if format == Format::Json {
        crate::note!("{line}");
    } else {
        crate::say!("{line}");
    }
}

async fn release_steps(
    ws: &Workspace,
    opts: &ReleaseOptions,
    doc: &mut serde_json::Map<String, serde_json::Value>,
) -> anyhow::Result<u8> {
    let config = &ws.config;
    let req = &opts.request;
    // One release, promote or publish per checkout at a time; a dry run only reads.
    let _lock = if opts.dry_run {
        None
    } else {
        Some(crate::effects::git::lock_checkout(
            &ws.root,
            &crate::fsx::command_line(),
        )?)
    };
    let registry = registry_client(config)?;
    let obs = observe(ws, req, &registry).await?;
    let plan = plan::plan(config, req, &obs.world)?;
    print_plan(opts.format, &plan, &obs, doc)?;
    if opts.dry_run {
        return Ok(crate::exit::OK);
    }
    let mut run = Releasing::new(ws, opts, &plan, &obs, &registry);
    // Finished notes mark every step before them done: only the optional draft release
    // can remain (it is idempotent), so nothing needs confirming.
    let finished = plan.notes_written();
    if finished {
        // A resume record left beside finished notes is stale.
        let _ = std::fs::remove_file(state_path(config, &run.version));
    } else {
        if !opts.yes && !confirm(&format!("release {} as {}?", run.version, plan.tag)).await? {
            say("not confirmed; nothing was changed");
            return Ok(crate::exit::POLICY);
        }
        // GitHub is needed for the rest; no token stops the release before the gate runs.
        run.github().await?;
    }
    let walked = run.walk().await;
    doc.insert("executed".into(), serde_json::to_value(&run.executed)?);
    walked?;
    if finished {
        say(format!(
            "release {} is complete: {} records it",
            run.version,
            notes::internal_path(config, &run.version).display()
        ));
    } else {
        run.report_released(doc)?;
    }
    Ok(crate::exit::OK)
}

/// The plan, on stdout (or into the JSON document).
fn print_plan(
    format: Format,
    plan: &Plan,
    obs: &Observation,
    doc: &mut serde_json::Map<String, serde_json::Value>,
) -> anyhow::Result<()> {
    match format {
        Format::Json => {
            if let serde_json::Value::Object(o) = serde_json::to_value(plan)? {
                doc.extend(o);
            }
            doc.insert("latest_read".into(), serde_json::json!(obs.latest_note));
        }
        _ => {
            crate::say_part!("{}", crate::secrets::redact_all(&plan::render_human(plan)));
            crate::say!("{}", crate::secrets::redact_all(&obs.latest_note));
        }
    }
    Ok(())
}

/// A release while its plan's steps run: what each step hands to the next.
struct Releasing<'a> {
    ws: &'a Workspace,
    opts: &'a ReleaseOptions,
    plan: &'a Plan,
    obs: &'a Observation,
    registry: &'a RegistryClient,
    gh: Option<Github>,
    version: String,
    /// The command that resumes this release.
    rerun: String,
    gate_lines: Vec<CheckLine>,
    gate_notes: Vec<String>,
    attestations: Vec<AttestationLine>,
    /// Whether this run created the tag.
    created_here: bool,
    /// When the tag was pushed, once known.
    clock: Option<PushClock>,
    /// The bound on finding and waiting for the run, set when the search starts.
    deadline: Option<Instant>,
    run: Option<WorkflowRun>,
    verified: Option<crate::verify::Verified>,
    notes: Option<WrittenNotes>,
    /// The steps done by this run, in order (into the JSON document as `executed`).
    executed: Vec<plan::Step>,
}

/// The notes this run wrote.
struct WrittenNotes {
    input: NotesInput,
    internal: PathBuf,
    customer: PathBuf,
    record: PathBuf,
}

impl<'a> Releasing<'a> {
    fn new(
        ws: &'a Workspace,
        opts: &'a ReleaseOptions,
        plan: &'a Plan,
        obs: &'a Observation,
        registry: &'a RegistryClient,
    ) -> Self {
        let req = &opts.request;
        let version = req.version.to_string();
        let rerun = format!(
            "cargo xtask release {version}{}",
            if req.latest { " --latest" } else { "" }
        );
        let resume = obs.resume.as_ref();
        let mut attestations = resume.map(|r| r.attestations.clone()).unwrap_or_default();
        for a in &opts.attestations.entries {
            if !attestations.iter().any(|x| x.id == a.id.id()) {
                attestations.push(AttestationLine {
                    id: a.id.id().to_string(),
                    by: a.by.clone(),
                    note: a.note.clone().unwrap_or_default(),
                });
            }
        }
        Releasing {
            ws,
            opts,
            plan,
            obs,
            registry,
            gh: None,
            version,
            rerun,
            gate_lines: resume.map(|r| r.gate.clone()).unwrap_or_default(),
            gate_notes: resume.map(|r| r.gate_notes.clone()).unwrap_or_default(),
            attestations,
            created_here: false,
            clock: None,
            deadline: None,
            run: None,
            verified: None,
            notes: None,
            executed: Vec::new(),
        }
    }

    /// The one loop: every step still to do, in the plan's order, one function each.
    async fn walk(&mut self) -> anyhow::Result<()> {
        let plan = self.plan;
        for step in plan.todo() {
            match &step.action {
                Action::Preflight { after_push } => self.preflight(*after_push).await?,
                Action::CreateTag {
                    tag,
                    commit,
                    message,
                } => self.create_tag(tag, commit, message).await?,
                Action::PushTag {
                    remote,
                    tag,
                    commit,
                } => self.push_tag(remote, tag, commit).await?,
                Action::FindRun {
                    workflow,
                    tag,
                    commit,
                } => self.find_run(workflow, tag, commit).await?,
                Action::WaitRun => self.wait_run().await?,
                Action::Verify {
                    version,
                    components,
                    latest_before,
                    expect_latest,
                } => {
                    let input =
                        self.verify_input(version, components, latest_before, *expect_latest);
                    self.verify(input).await?
                }
                Action::WriteNotes {
                    customer,
                    record,
                    internal,
                } => self.write_notes(customer, record, internal).await?,
                Action::DraftRelease(draft) => self.draft_release(draft).await?,
            }
            self.executed.push(step.clone());
        }
        Ok(())
    }

    async fn github(&mut self) -> anyhow::Result<&Github> {
        if self.gh.is_none() {
            self.gh = Some(github_client(&self.ws.config).await?);
        }
        Ok(self.gh.as_ref().expect("just set"))
    }

    /// The resume record for a push at `clock`.
    fn record(&self, clock: &PushClock) -> ResumeRecord {
        let plan = self.plan;
        ResumeRecord {
            version: self.version.clone(),
            tag: plan.tag.clone(),
            commit: plan.commit.clone(),
            moves_latest: plan.moves_latest,
            components: plan.components.clone(),
            latest_before: plan
                .packages
                .iter()
                .map(|p| (p.package.clone(), p.latest_before.clone()))
                .collect(),
            pushed_at: clock.at,
            pushed_at_clock: clock.source,
            gate: self.gate_lines.clone(),
            gate_notes: self.gate_notes.clone(),
            attestations: self.attestations.clone(),
        }
    }

    /// GitHub's clock now (the run of a push made after it is created after it).
    async fn github_clock(&mut self) -> anyhow::Result<PushClock> {
        let (owner, name) = self.ws.config.repo_owner_name();
        let gh = self.github().await?;
        PushClock::github(gh, owner, name).await
    }

    /// 1. The preflight gate (every error-severity check must pass).
    async fn preflight(&mut self, after_push: bool) -> anyhow::Result<()> {
        let (plan, config) = (self.plan, &self.ws.config);
        say(if after_push {
            format!(
                "preflight gate: {} was pushed from elsewhere without a resume record here, so whether a gate ran before it is unknown; running it now",
                plan.tag
            )
        } else {
            "preflight gate: running every preflight check".to_string()
        });
        let report = run_gate(self.ws, plan, &self.opts.request, self.opts).await?;
        let gate = Gate {
            deny_warnings: false,
            require_attestations: true,
            require_complete: true,
            readiness: crate::report::Readiness::Plain,
        };
        if report::exit_code(&report, gate) != crate::exit::OK {
            crate::note_part!(
                "{}",
                crate::secrets::redact_all(&report::render(
                    &report,
                    Format::Human,
                    gate,
                    "release gate",
                    &crate::preflight::help_base(config),
                ))
            );
            let rerun = &self.rerun;
            return Err(policy(if after_push {
                format!(
                    "preflight gate failed for {}, which was pushed from elsewhere: no notes were written; fix the failing checks above and rerun `{rerun}`",
                    plan.tag
                )
            } else {
                format!(
                    "preflight gate failed: nothing was tagged; fix the failing checks above and rerun `{rerun}`"
                )
            }));
        }
        say(format!("preflight gate passed ({})", summary(&report)));
        self.gate_lines = check_lines(&report);
        self.gate_notes = vec![if after_push {
            format!(
                "The tag was pushed from elsewhere: whether a gate ran before the push is unknown. This gate ran after the push, at {}, by {}.",
                rfc3339(now_epoch()),
                operator()
            )
        } else {
            format!(
                "The gate ran before the tag was created, at {}, by {}.",
                rfc3339(now_epoch()),
                operator()
            )
        }];
        if self.opts.request.allow_downgrade && plan.moves_latest {
            self.gate_notes.push(format!(
                "`latest` was allowed to move to a lower version with --allow-downgrade, by {}.",
                operator()
            ));
        }
        Ok(())
    }

    /// 2. The resume record (before the tag exists, so a tag made here always has one),
    ///    then the annotated tag.
    async fn create_tag(&mut self, tag: &str, commit: &str, message: &str) -> anyhow::Result<()> {
        let clock = self.github_clock().await?;
        write_state(&self.ws.config, &self.record(&clock))?;
        git::create_annotated_tag(&self.ws.root, tag, commit, message)?;
        say(format!("created tag {tag} at {commit}"));
        self.created_here = true;
        Ok(())
    }

    /// 3. The push of exactly one tag, with the resume record written just before it.
    async fn push_tag(&mut self, remote: &str, tag: &str, commit: &str) -> anyhow::Result<()> {
        // GitHub's clock just before the push: the run of this push is created after it.
        let clock = self.github_clock().await?;
        let config = &self.ws.config;
        write_state(config, &self.record(&clock))?;
        push_exactly(
            &self.ws.root,
            remote,
            tag,
            commit,
            self.created_here,
            &self.rerun,
            &state_path(config, &self.version),
        )?;
        say(format!(
            "pushed tag {tag} to {remote}; it peels to {commit}"
        ));
        self.clock = Some(clock);
        Ok(())
    }

    /// When an earlier run (or someone elsewhere) pushed the tag: the push time from the
    /// resume record, else from the tag's own date.
    fn pushed_clock(&mut self) -> anyhow::Result<PushClock> {
        let (plan, config, root) = (self.plan, &self.ws.config, &self.ws.root);
        if git::try_rev_parse(root, &format!("refs/tags/{}", plan.tag))?.is_none() {
            // Pushed from another clone: verify and the notes read the local tag.
            git::fetch_tag(root, &config.raw.repository.remote, &plan.tag)?;
        }
        if let Some(r) = &self.obs.resume {
            return Ok(PushClock {
                at: r.pushed_at,
                source: r.pushed_at_clock,
            });
        }
        let at = git::tag_date(root, &plan.tag)?.unwrap_or(0);
        say(format!(
            "no resume record for {} (it was pushed from elsewhere): looking for runs created after the tag's date ({}); `latest` before is what the registry showed just now",
            plan.tag,
            rfc3339(at)
        ));
        let clock = PushClock {
            at,
            source: ClockSource::TagDate,
        };
        // Keep what the gate found: a rerun after an interruption must not lose it.
        write_state(config, &self.record(&clock))?;
        Ok(clock)
    }

    /// 4. The publish run for this push.
    async fn find_run(&mut self, workflow: &str, tag: &str, commit: &str) -> anyhow::Result<()> {
        let clock = match self.clock {
            Some(c) => c,
            None => self.pushed_clock()?,
        };
        self.clock = Some(clock);
        let config = &self.ws.config;
        let deadline = Instant::now() + self.opts.timeout;
        self.deadline = Some(deadline);
        let filter = push_run_filter(commit, &clock);
        say(format!(
            "waiting for the {workflow} run of push {tag} at {}: {}",
            &commit[..commit.len().min(12)],
            clock.describe()
        ));
        let (opts, rerun) = (self.opts, self.rerun.clone());
        let gh = self.github().await?;
        let query = RunQuery {
            repo: config.repo_owner_name(),
            workflow,
            filter,
            tag: Some(tag),
            earliest: clock.earliest(),
        };
        let run = find_run(gh, &query, deadline, opts.poll)
            .await
        .map_err(|e| match e {
            FindError::Timeout => policy(format!(
                "no publish run appeared for tag {tag} at commit {commit} within {} s (--timeout): Actions may be disabled or the workflow's triggers may not match the tag; check `cargo xtask preflight --only actions-enabled --only workflow-triggers`, then rerun `{rerun}` to keep waiting",
                opts.timeout.as_secs()
            )),
            FindError::Other(e) => e,
        })?;
        say(format!("found run {}: {}", run.id, run.html_url));
        self.run = Some(run);
        Ok(())
    }

    /// 5. The wait for the run to complete successfully.
    async fn wait_run(&mut self) -> anyhow::Result<()> {
        let found = self.run.clone().expect("find-run precedes wait-run");
        let deadline = self.deadline.expect("set by find-run");
        let (opts, rerun) = (self.opts, self.rerun.clone());
        let owner_name = self.ws.config.repo_owner_name();
        let gh = self.github().await?;
        let (run, jobs) = wait_run(gh, owner_name, found.id, deadline, opts.poll)
            .await
            .map_err(|e| match e {
                FindError::Timeout => policy(format!(
                    "timed out after {} s (--timeout) waiting for publish run {} ({}); rerun `{rerun}` to resume the wait, or raise --timeout",
                    opts.timeout.as_secs(),
                    found.id,
                    found.html_url
                )),
                FindError::Other(e) => e,
            })?;
        if !run.succeeded() {
            return Err(policy(format!(
                "{}; no notes were written; read the run log, fix the cause, re-run the workflow run on GitHub, then rerun `{rerun}` (it finds the newest run for the tag)",
                failure_message(&run, &jobs)
            )));
        }
        say(format!("run {} succeeded", run.id));
        self.run = Some(run);
        Ok(())
    }

    fn verify_input(
        &self,
        version: &str,
        components: &[String],
        latest_before: &str,
        expect_latest: bool,
    ) -> crate::verify::VerifyInput {
        crate::verify::VerifyInput {
            version: version.to_string(),
            components: components.to_vec(),
            only: Vec::new(),
            latest_before: Some(latest_before.to_string()),
            expect_latest: Some(expect_latest),
            delivery: false,
            offline: false,
            // What the registry's bytes are, too: every image runs and holds only its files.
            deep: true,
            skip: self.opts.skip_checks.clone(),
            recorded: None,
        }
    }

    /// 6. Verify against the registry, with the recorded `latest` before.
    async fn verify(&mut self, input: crate::verify::VerifyInput) -> anyhow::Result<()> {
        let mut verified = crate::verify::verify(self.ws, self.registry, &input).await?;
        // The first release: the public editions were created private (a package first
        // pushed by a workflow inherits the private repository's visibility), and only an
        // org admin can make them public, once, in the web UI.
        if verified.fails_only_for_visibility_flips() {
            self.first_release_flips(&verified).await?;
            verified = crate::verify::verify(self.ws, self.registry, &input).await?;
        }
        let config = &self.ws.config;
        if verified.failed() {
            crate::note_part!(
                "{}",
                crate::secrets::redact_all(&crate::verify::render(
                    &verified,
                    Format::Human,
                    &crate::preflight::help_base(config)
                ))
            );
            return Err(policy(format!(
                "verify failed after a successful publish run ({}); no notes were written; follow the failed checks' fixes above, then rerun `{}` to verify again and write the notes",
                self.run_url(),
                self.rerun
            )));
        }
        say(format!("verify passed ({})", summary(&verified.report)));
        self.verified = Some(verified);
        Ok(())
    }

    fn run_url(&self) -> String {
        self.run
            .as_ref()
            .map(|r| r.html_url.clone())
            .unwrap_or_default()
    }

    /// The org admin's one-way visibility flips of a first release: done by `--rehearse`'s
    /// admin, else the release stops with the admin's instructions.
    async fn first_release_flips(&self, verified: &crate::verify::Verified) -> anyhow::Result<()> {
        let config = &self.ws.config;
        for o in verified
            .report
            .outcomes
            .iter()
            .filter(|o| o.status == crate::checks::Status::Fail)
        {
            say(format!("verify: FAIL {}: {}", o.id.id(), o.message));
        }
        if let Some(admin) = &self.opts.admin {
            for p in &verified.visibility_flips {
                say((admin.0)(&format!("{}/{p}", config.org())).await?);
            }
            return Ok(());
        }
        let urls: Vec<String> = verified
            .visibility_flips
            .iter()
            .map(|p| {
                crate::effects::registry::package_settings_url(&format!("{}/{p}", config.org()))
            })
            .collect();
        crate::say_part!(
            "{}",
            crate::secrets::redact_all(&crate::verify::render(
                verified,
                Format::Human,
                &crate::preflight::help_base(config)
            ))
        );
        Err(policy(format!(
            "first release: the publish run ({}) created {} private, as ghcr.io does for packages a workflow of a private repository creates; no notes were written. An org admin must now make each public once (this cannot be undone): open {}, Danger Zone → Change visibility → Public. Then rerun `{}` to verify again and write the notes",
            self.run_url(),
            verified.visibility_flips.join(", "),
            urls.join(", "),
            self.rerun
        )))
    }

    /// The notes' and the record's package entries, from what verify saw.
    async fn package_entries(
        &self,
        verified: &crate::verify::Verified,
    ) -> anyhow::Result<(Vec<PackageNotes>, Vec<crate::record::Package>)> {
        let (rerun, version) = (&self.rerun, &self.version);
        let by_pkg: BTreeMap<&str, &crate::verify::PackageState> = verified
            .packages
            .iter()
            .map(|p| (p.image.package.as_str(), p))
            .collect();
        let mut packages = Vec::new();
        let mut record_packages = Vec::new();
        for p in &self.plan.packages {
            let state = by_pkg.get(p.package.as_str()).ok_or_else(|| {
                policy(format!(
                    "verify did not report {}; rerun `{rerun}`",
                    p.package
                ))
            })?;
            let digest = state
                .semver
                .as_ref()
                .map(|r| r.digest.clone())
                .ok_or_else(|| {
                    policy(format!(
                        "{}:{version} is missing from the registry; rerun `{rerun}`",
                        p.repository
                    ))
                })?;
            record_packages.push(
                crate::verify::from_record::record_package(
                    self.registry,
                    state,
                    p.tags.clone(),
                    p.latest_before.clone(),
                )
                .await?,
            );
            packages.push(PackageNotes {
                package: p.package.clone(),
                component: p.component.clone(),
                edition: p.edition.clone(),
                visibility: p.visibility,
                repository: p.repository.clone(),
                tags: p.tags.clone(),
                digest,
                latest_before: p.latest_before.clone(),
                latest_after: state.latest.as_ref().map(|r| r.digest.clone()),
            });
        }
        Ok((packages, record_packages))
    }

    /// What the notes say: the plan, the gate and what verify saw.
    async fn notes_input(
        &self,
        verified: &crate::verify::Verified,
    ) -> anyhow::Result<(
        NotesInput,
        Vec<crate::record::Package>,
        Vec<crate::record::Check>,
    )> {
        let (plan, config) = (self.plan, &self.ws.config);
        let verify_lines = check_lines(&verified.report);
        let mut record_checks = crate::record::checks("gate", &self.gate_lines);
        record_checks.extend(crate::record::checks("verify", &verify_lines));
        let mut checks = self.gate_lines.clone();
        checks.extend(verify_lines);
        let mut gate_notes = self.gate_notes.clone();
        if gate_notes.is_empty() {
            gate_notes.push(
                "No record of the gate's run was found (the resume record was missing when the notes were written): whether a gate ran before the push is unknown.".to_string(),
            );
        }
        let (packages, record_packages) = self.package_entries(verified).await?;
        let input = NotesInput {
            version: self.version.clone(),
            tag: plan.tag.clone(),
            commit: plan.commit.clone(),
            run_url: Some(self.run_url()),
            written_at: rfc3339(now_epoch()),
            moves_latest: plan.moves_latest,
            latest_reason: plan.latest_reason.clone(),
            packages,
            checks,
            gate: gate_notes,
            attestations: self.attestations.clone(),
            sdk_repository: config.raw.customer.sdk_repository.clone(),
            catalog_repository: config.raw.customer.catalog_repository.clone(),
        };
        Ok((input, record_packages, record_checks))
    }

    /// 7. The notes: the customer variant first, so the internal notes (the "done" marker)
    ///    never exist without it, and the release record before the internal notes.
    async fn write_notes(
        &mut self,
        customer: &Path,
        record: &Path,
        internal: &Path,
    ) -> anyhow::Result<()> {
        let verified = self.verified.take().expect("verify precedes the notes");
        let (input, record_packages, record_checks) = self.notes_input(&verified).await?;
        let release_record =
            self.release_record(&input, &verified, record_packages, record_checks)?;
        let write = |path: &Path, text: String| {
            crate::fsx::write_atomic(path, text.as_bytes()).with_context(|| {
                format!(
                    "writing {}; rerun `{}` to write the notes",
                    path.display(),
                    self.rerun
                )
            })
        };
        write(customer, notes::render_customer(&input))?;
        write(record, release_record.to_json())?;
        write(internal, notes::render_internal(&input))?;
        let _ = std::fs::remove_file(state_path(&self.ws.config, &self.version));
        self.notes = Some(WrittenNotes {
            input,
            customer: customer.to_path_buf(),
            record: record.to_path_buf(),
            internal: internal.to_path_buf(),
        });
        Ok(())
    }

    /// The release record (`docs/release-record.md`).
    fn release_record(
        &self,
        input: &NotesInput,
        verified: &crate::verify::Verified,
        packages: Vec<crate::record::Package>,
        checks: Vec<crate::record::Check>,
    ) -> anyhow::Result<crate::record::ReleaseRecord> {
        let (plan, config) = (self.plan, &self.ws.config);
        Ok(crate::record::ReleaseRecord {
            schema: crate::record::SCHEMA.into(),
            schema_version: crate::record::SCHEMA_VERSION,
            version: self.version.clone(),
            tag: plan.tag.clone(),
            commit: plan.commit.clone(),
            run_url: input.run_url.clone(),
            written_at: input.written_at.clone(),
            registry: config.registry_host(),
            org: config.org().to_string(),
            components: plan.components.clone(),
            moves_latest: plan.moves_latest,
            latest_reason: plan.latest_reason.clone(),
            latest_tag: config.raw.tags.latest.clone(),
            verify_skipped: verified
                .report
                .outcomes
                .iter()
                .filter(|o| {
                    crate::verify::DEEP.contains(&o.id) && o.status == crate::checks::Status::Skip
                })
                .map(|o| o.id.id().to_string())
                .collect(),
            packages,
            checks,
            attestations: input.attestations.clone(),
            release_toml: std::fs::read_to_string(&config.path).with_context(|| {
                format!("reading {} for the release record", config.path.display())
            })?,
        })
    }

    /// 8. Optionally, the GitHub release as a draft, with the customer notes as its body.
    async fn draft_release(&mut self, draft: &plan::Draft) -> anyhow::Result<()> {
        let config = &self.ws.config;
        let body = match &self.notes {
            Some(n) => notes::render_customer(&n.input),
            // Written by an earlier run.
            None => std::fs::read_to_string(notes::customer_path(config, &self.version))
                .unwrap_or_default(),
        };
        let gh = self.github().await?;
        draft_release(gh, config, draft, &body).await
    }

    /// The result: lines for people, and `released` in the JSON document.
    fn report_released(
        &self,
        doc: &mut serde_json::Map<String, serde_json::Value>,
    ) -> anyhow::Result<()> {
        let (plan, version, format) = (self.plan, &self.version, self.opts.format);
        let n = self.notes.as_ref().expect("the notes step ran");
        let run_url = self.run_url();
        result_line(
            format,
            format!("released {version} as {} ({run_url})", plan.tag),
        );
        for p in &n.input.packages {
            result_line(format, format!("  {}", p.reference(version)));
        }
        result_line(
            format,
            format!(
                "notes: {}, {} and the record {}; commit them through review",
                n.internal.display(),
                n.customer.display(),
                n.record.display()
            ),
        );
        doc.insert(
            "released".into(),
            serde_json::json!({
                "tag": plan.tag,
                "run_url": run_url,
                "references": n.input.packages.iter().map(|p| p.reference(version)).collect::<Vec<_>>(),
                "notes": [n.internal.display().to_string(), n.customer.display().to_string()],
                "record": n.record.display().to_string(),
            }),
        );
        Ok(())
    }
}

async fn draft_release(
    gh: &Github,
    config: &Config,
    draft: &plan::Draft,
    body: &str,
) -> anyhow::Result<()> {
    let (owner, name) = config.repo_owner_name();
    let new = crate::effects::github::NewRelease {
        tag_name: draft.tag.clone(),
        target_commitish: Some(draft.commit.clone()),
        name: Some(draft.name.clone()),
        body: Some(body.to_string()),
        draft: true,
        prerelease: draft.prerelease,
        make_latest: None,
    };
    match gh.create_release(owner, name, &new).await {
        Ok(r) => {
            say(format!(
                "created draft release {} ({})",
                r.tag_name, r.html_url
            ));
            Ok(())
        }
        Err(e) => match crate::effects::github::GithubError::find(&e) {
            Some(crate::effects::github::GithubError::Validation { codes, .. })
                if codes.iter().any(|c| c == "already_exists") =>
            {
                say(format!("the GitHub release {} already exists", draft.tag));
                Ok(())
            }
            _ => Err(e.context(format!("creating the draft release {}", draft.tag))),
        },
    }
}

/// Pushes exactly the release tag and confirms the remote's tag peels to the commit. A tag
/// of that name pushed by someone else meanwhile (the gate takes minutes) is named as such,
/// not as a credentials problem; the tag made here is then removed, so a rerun judges theirs.
fn push_exactly(
    root: &std::path::Path,
    remote: &str,
    tag: &str,
    commit: &str,
    created_here: bool,
    rerun: &str,
    state: &std::path::Path,
) -> anyhow::Result<()> {
    let refname = format!("refs/tags/{tag}");
    let theirs = |at: Option<&String>| -> anyhow::Error {
        // Their tag is not ours: neither our tag nor our record of it stays.
        if created_here {
            let _ = git::delete_local_tag(root, tag);
        }
        let _ = std::fs::remove_file(state);
        match at {
            Some(sha) if sha == commit => policy(format!(
                "someone else pushed tag {} to `{remote}` at this commit while the gate ran; nothing of ours was pushed; rerun `{rerun}` to follow that release (its gate's run is unknown, so the rerun runs the gate again and the notes say so)",
                tag
            )),
            Some(sha) => policy(format!(
                "someone else pushed tag {} to `{remote}` at commit {sha}, not {}, while the gate ran; nothing of ours was pushed; releases are immutable: choose a new version",
                tag, commit
            )),
            None => policy(format!(
                "the tag {} was not on `{remote}` after the push; inspect it with `git ls-remote {remote} {refname}` before rerunning",
                tag
            )),
        }
    };
    // Asked again just before the push: the gate may have run for minutes.
    let before = git::ls_remote(root, remote, std::slice::from_ref(&refname))?;
    if let Some(sha) = before.get(&refname) {
        return Err(theirs(Some(sha)));
    }
    if let Err(e) = git::push_tag(root, remote, tag) {
        let now = git::ls_remote(root, remote, std::slice::from_ref(&refname))?;
        return match now.get(&refname) {
            // Our push may have landed before the error (a lost connection): then it is ours.
            Some(sha) if sha == commit && remote_tag_is_ours(root, remote, tag)? => Ok(()),
            Some(sha) => Err(theirs(Some(sha))),
            None => Err(e),
        };
    }
    let refs = git::ls_remote(root, remote, std::slice::from_ref(&refname))?;
    match refs.get(&refname) {
        Some(sha) if sha == commit => Ok(()),
        other => Err(policy(format!(
            "after the push, {remote}'s tag {} peels to {}, not {}; inspect it with `git ls-remote {remote} {refname}` before rerunning",
            tag,
            other.map(String::as_str).unwrap_or("nothing"),
            commit,
        ))),
    }
}

/// Whether the remote's tag object is the one made here (same object id as the local tag).
fn remote_tag_is_ours(root: &std::path::Path, remote: &str, tag: &str) -> anyhow::Result<bool> {
    let refname = format!("refs/tags/{tag}");
    let local = git::local_ref_object(root, &refname)?;
    let theirs = git::remote_ref_object(root, remote, &refname)?;
    Ok(local.is_some() && theirs == local)
}

/// The preflight gate for this release. Checks skipped with `--skip-checks` are not run at
/// all (an area with no selected id does no work) and appear as skips that say so.
async fn run_gate(
    ws: &Workspace,
    plan: &Plan,
    req: &Request,
    opts: &ReleaseOptions,
) -> anyhow::Result<Report> {
    let skipped = |id: crate::checks::CheckId| {
        opts.skip_checks
            .iter()
            .find(|p| crate::preflight::skip_matches(p, id))
    };
    let who = operator();
    let run: Vec<crate::checks::CheckId> = crate::checks::ALL
        .iter()
        .copied()
        .filter(|id| crate::preflight::runs(*id) && skipped(*id).is_none())
        .collect();
    let ctx = Ctx {
        ws: ws.clone(),
        components: plan.components.clone(),
        // Every check unless something is skipped: then exactly the others, by full id.
        only: if opts.skip_checks.is_empty() {
            Vec::new()
        } else {
            run.iter().map(|id| id.id().to_string()).collect()
        },
        offline: false,
        release: Some(req.version.clone()),
    };
    let mut report = crate::preflight::gate(&ctx, &opts.attestations).await?;
    report.outcomes.retain(|o| skipped(o.id).is_none());
    for id in crate::checks::ALL.iter().copied() {
        if let Some(prefix) = skipped(id).filter(|_| crate::preflight::runs(id)) {
            report.push(crate::checks::Outcome::skip(
                id,
                format!("by {who} with --skip-checks {prefix}"),
                "release without --skip-checks, or run `cargo xtask preflight` for these checks",
            ));
        }
    }
    Ok(report)
}

pub use crate::checks::manual::operator;

fn check_lines(report: &Report) -> Vec<CheckLine> {
    report
        .outcomes
        .iter()
        .map(|o| CheckLine {
            id: o.id.id().to_string(),
            status: report::status_str(o.status).to_string(),
            message: o.message.clone(),
        })
        .collect()
}

fn summary(report: &Report) -> String {
    report::counts(report)
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(k, n)| format!("{n} {k}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Why a wait ended without its answer.
#[derive(Debug)]
pub enum FindError {
    /// The deadline passed.
    Timeout,
    Other(anyhow::Error),
}

impl From<anyhow::Error> for FindError {
    fn from(e: anyhow::Error) -> Self {
        FindError::Other(e)
    }
}

/// The interval to sleep next: back to `initial` after a change, else 1.5× up to `max`, and
/// never faster than the remaining rate-limit budget allows.
pub fn next_interval(gh: &Github, current: Duration, changed: bool, poll: Poll) -> Duration {
    interval_after(
        current,
        changed,
        poll,
        gh.stats().last_rate.as_ref(),
        now_epoch(),
    )
}

/// `next_interval` with the rate-limit headers and the clock passed in.
pub fn interval_after(
    current: Duration,
    changed: bool,
    poll: Poll,
    rate: Option<&crate::effects::github::RateLimit>,
    now: u64,
) -> Duration {
    let mut next = if changed {
        poll.initial
    } else {
        current.mul_f32(1.5).clamp(poll.initial, poll.max)
    };
    if let Some((Some(remaining), Some(reset))) = rate.map(|r| (r.remaining, r.reset)) {
        // Spread what is left of the window over the time until it resets, keeping the
        // budget from running dry while a long run is watched.
        if remaining < 100 {
            let left = reset.saturating_sub(now).max(1);
            next = next.max(Duration::from_secs(left / remaining.max(1)));
        }
    }
    next
}

async fn sleep_until_or_deadline(interval: Duration, deadline: Instant) -> bool {
    let now = Instant::now();
    if now >= deadline {
        return false;
    }
    tokio::time::sleep(interval.min(deadline - now)).await;
    true
}

/// The runs-list filter for the publish run of a tag push of `commit` (see `find_run`).
pub fn push_run_filter(commit: &str, clock: &PushClock) -> RunFilter {
    RunFilter {
        event: Some("push".into()),
        head_sha: Some(commit.to_string()),
        created: Some(format!(">={}", rfc3339(clock.earliest()))),
        per_page: Some(20),
        ..RunFilter::default()
    }
}

/// Which run to look for: the runs of `workflow` in `repo` matching `filter`, whose
/// `head_sha` is the filter's commit, whose `head_branch` (when set) is `tag`, created at or
/// after `earliest` (`PushClock::earliest`: the push time with its clock's tolerance).
#[derive(Debug, Clone)]
pub struct RunQuery<'a> {
    pub repo: (&'a str, &'a str),
    pub workflow: &'a str,
    pub filter: RunFilter,
    pub tag: Option<&'a str>,
    pub earliest: u64,
}

/// Polls until a run matches `query`, up to `deadline`. The newest such run wins; an earlier
/// run is never taken.
pub async fn find_run(
    gh: &Github,
    query: &RunQuery<'_>,
    deadline: Instant,
    poll: Poll,
) -> Result<WorkflowRun, FindError> {
    let RunQuery {
        repo: (owner, repo),
        workflow,
        ref filter,
        tag,
        earliest,
    } = *query;
    let mut interval = poll.initial;
    loop {
        let runs = gh
            .workflow_runs_first_page(owner, repo, workflow, filter)
            .await?;
        let best = runs
            .into_iter()
            .filter(|r| {
                filter.head_sha.as_deref().is_none_or(|s| r.head_sha == s)
                    && filter.event.as_deref().is_none_or(|e| r.event == e)
                    && match (tag, r.head_branch.as_deref()) {
                        (Some(t), Some(b)) => b == t || b == format!("refs/tags/{t}"),
                        _ => true,
                    }
                    && parse_rfc3339(&r.created_at).is_some_and(|c| c >= earliest)
            })
            .max_by_key(|r| (parse_rfc3339(&r.created_at).unwrap_or(0), r.id));
        if let Some(run) = best {
            return Ok(run);
        }
        interval = next_interval(gh, interval, false, poll);
        if !sleep_until_or_deadline(interval, deadline).await {
            return Err(FindError::Timeout);
        }
    }
}

/// Waits for run `id` to complete, showing its jobs and steps as they change (a spinner on a
/// terminal, one line per change otherwise). Both the run and its jobs are read with ETags,
/// so polls of an unchanged run cost no rate limit.
pub async fn wait_run(
    gh: &Github,
    (owner, repo): (&str, &str),
    id: u64,
    deadline: Instant,
    poll: Poll,
) -> Result<(WorkflowRun, Vec<Job>), FindError> {
    let mut view = LiveView::new(std::io::stderr().is_terminal() && !crate::output::quiet());
    let mut interval = poll.initial;
    loop {
        let run = gh.workflow_run(owner, repo, id).await?;
        let jobs = gh.run_jobs(owner, repo, id).await?;
        let changed = view.update(&run, &jobs);
        if run.is_completed() {
            view.finish();
            return Ok((run, jobs));
        }
        interval = next_interval(gh, interval, changed, poll);
        if !sleep_until_or_deadline(interval, deadline).await {
            view.finish();
            return Err(FindError::Timeout);
        }
    }
}

/// Names the failed job and step of a completed run, with its URL.
pub fn failure_message(run: &WorkflowRun, jobs: &[Job]) -> String {
    let bad = |c: Option<&str>| matches!(c, Some(c) if c != "success" && c != "skipped" && c != "neutral");
    let job = jobs.iter().find(|j| bad(j.conclusion.as_deref()));
    let step = job.and_then(|j| j.steps.iter().find(|s| bad(s.conclusion.as_deref())));
    format!(
        "publish run {} {} at job `{}`, step `{}`: {}",
        run.id,
        match run.conclusion.as_deref() {
            Some("cancelled") => "was cancelled".to_string(),
            Some("failure") | None => "failed".to_string(),
            Some(c) => format!("failed ({c})"),
        },
        job.map(|j| j.name.as_str()).unwrap_or("(none reported)"),
        step.map(|s| s.name.as_str()).unwrap_or("(none reported)"),
        run.html_url
    )
}

/// The live view of a run.
struct LiveView {
    bar: Option<indicatif::ProgressBar>,
    seen: BTreeMap<String, String>,
}

impl LiveView {
    fn new(terminal: bool) -> LiveView {
        let bar = terminal.then(|| {
            let b = indicatif::ProgressBar::new_spinner();
            b.enable_steady_tick(Duration::from_millis(120));
            b
        });
        LiveView {
            bar,
            seen: BTreeMap::new(),
        }
    }

    fn state(status: &str, conclusion: Option<&str>) -> String {
        match conclusion {
            Some(c) => format!("{status} ({c})"),
            None => status.to_string(),
        }
    }

    /// Records the new state; prints what changed. Returns whether anything did.
    fn update(&mut self, run: &WorkflowRun, jobs: &[Job]) -> bool {
        let mut items = vec![(
            format!("run {}", run.id),
            Self::state(
                run.status.as_deref().unwrap_or("unknown"),
                run.conclusion.as_deref(),
            ),
        )];
        for j in jobs {
            items.push((
                format!("job {}", j.name),
                Self::state(&j.status, j.conclusion.as_deref()),
            ));
            for s in &j.steps {
                items.push((
                    format!("job {} step {} {}", j.name, s.number, s.name),
                    Self::state(&s.status, s.conclusion.as_deref()),
                ));
            }
        }
        let mut changed = false;
        let mut current = None;
        for (k, v) in items {
            if v.starts_with("in_progress") {
                current = Some(format!("{k}: {v}"));
            }
            if self.seen.get(&k) != Some(&v) {
                changed = true;
                let line = format!("  {k}: {v}");
                match &self.bar {
                    Some(b) => b.println(line),
                    None => crate::note!("{line}"),
                }
                self.seen.insert(k, v);
            }
        }
        if let (Some(b), Some(c)) = (&self.bar, current) {
            b.set_message(c);
        }
        changed
    }

    fn finish(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .unwrap();
        Config::load(root).unwrap()
    }

    #[test]
    fn dirty_lines_in_the_notes_dir_are_ours() {
        let lines = vec![
            "?? docs/releases/.1.2.3.state.json".to_string(),
            " M docs/releases/1.2.2.md".to_string(),
            " M core/src/main.rs".to_string(),
            "R  docs/releases/a.md -> core/a.md".to_string(),
        ];
        assert_eq!(
            dirty_outside_notes(&config(), lines),
            vec![
                " M core/src/main.rs".to_string(),
                "R  docs/releases/a.md -> core/a.md".to_string()
            ]
        );
    }

    #[test]
    fn polls_back_off_while_unchanged_and_respect_the_budget() {
        let poll = Poll::default();
        let mut i = poll.initial;
        let mut seen = Vec::new();
        for _ in 0..6 {
            i = interval_after(i, false, poll, None, 0);
            seen.push(i.as_millis());
        }
        assert_eq!(seen, [3000, 4500, 6750, 10000, 10000, 10000]);
        assert_eq!(interval_after(i, true, poll, None, 0), poll.initial);
        let low = crate::effects::github::RateLimit {
            remaining: Some(10),
            reset: Some(1_000 + 600),
            ..Default::default()
        };
        assert_eq!(
            interval_after(poll.initial, true, poll, Some(&low), 1_000),
            Duration::from_secs(60),
            "10 requests left for 600 s: one a minute"
        );
        let plenty = crate::effects::github::RateLimit {
            remaining: Some(4_000),
            reset: Some(1_600),
            ..Default::default()
        };
        assert_eq!(
            interval_after(poll.initial, true, poll, Some(&plenty), 1_000),
            poll.initial
        );
    }

    #[test]
    fn failure_names_job_step_and_url() {
        let run: WorkflowRun = serde_json::from_value(serde_json::json!({
            "id": 7, "workflow_id": 1, "event": "push", "head_sha": "x",
            "status": "completed", "conclusion": "failure",
            "html_url": "https://github.com/o/r/actions/runs/7"
        }))
        .unwrap();
        let jobs: Vec<Job> = serde_json::from_value(serde_json::json!([{
            "id": 1, "run_id": 7, "name": "publish", "status": "completed", "conclusion": "failure",
            "steps": [
                {"name": "Set up job", "status": "completed", "conclusion": "success", "number": 1},
                {"name": "Publish images", "status": "completed", "conclusion": "failure", "number": 2},
                {"name": "Complete job", "status": "completed", "conclusion": "skipped", "number": 3}
            ]
        }]))
        .unwrap();
        assert_eq!(
            failure_message(&run, &jobs),
            "publish run 7 failed at job `publish`, step `Publish images`: https://github.com/o/r/actions/runs/7"
        );
    }
}
