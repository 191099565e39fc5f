//! The stand-in's state: repository settings, rulesets, packages, refs, releases, workflow
//! runs, tokens and rate-limit counters, with builders for a compliant world and mutators
//! that flip one setting each.
//!
//! Everything is plain data so a test can read or change any of it through
//! `StandIn::with_world`. The HTTP layer (`api.rs`) renders it as GitHub would.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::time::now_epoch;

/// A fake classic token with `repo` and `read:packages` held by a repository admin who is in
/// the release-operators team. Recognisable, so tests can grep output for leaks.
pub const ADMIN_TOKEN: &str = "ghp_STANDINadminTOKEN0000000000000000000001";
/// A classic token with `repo` and `read:packages` held by a user with only write access.
pub const NO_ADMIN_TOKEN: &str = "ghp_STANDINwriterTOKEN000000000000000000002";
/// A fine-grained token with Metadata, Contents and Actions read, but no Administration.
pub const FINE_GRAINED_TOKEN: &str = "github_pat_STANDINfineGRAINED000000000000003";
/// A classic admin token without `read:packages`.
pub const NO_PACKAGES_TOKEN: &str = "ghp_STANDINnoPACKAGES00000000000000000000004";

/// The caller's role on the repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    None,
    Read,
    Write,
    Maintain,
    Admin,
}

/// How a token is authorised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenKind {
    /// A classic PAT: scopes such as `repo`, `read:packages` (sent back in `X-OAuth-Scopes`).
    Classic { scopes: Vec<String> },
    /// A fine-grained PAT or App token: permissions such as `administration` → `read`.
    FineGrained {
        permissions: BTreeMap<String, String>,
    },
}

#[derive(Debug, Clone)]
pub struct TokenSeed {
    pub login: String,
    pub user_id: u64,
    pub kind: TokenKind,
    pub role: Role,
    /// Team slugs the user belongs to (for ruleset bypass).
    pub teams: Vec<String>,
    pub org_admin: bool,
    /// A GitHub Actions installation token (`GITHUB_TOKEN` inside a workflow run).
    pub installation: bool,
}

impl TokenSeed {
    pub fn classic(login: &str, user_id: u64, role: Role, scopes: &[&str]) -> TokenSeed {
        TokenSeed {
            login: login.into(),
            user_id,
            kind: TokenKind::Classic {
                scopes: scopes.iter().map(|s| s.to_string()).collect(),
            },
            role,
            teams: Vec::new(),
            org_admin: false,
            installation: false,
        }
    }
    pub(crate) fn fine_grained(
        login: &str,
        user_id: u64,
        role: Role,
        perms: &[(&str, &str)],
    ) -> TokenSeed {
        TokenSeed {
            login: login.into(),
            user_id,
            kind: TokenKind::FineGrained {
                permissions: perms
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            },
            role,
            teams: Vec::new(),
            org_admin: false,
            installation: false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BypassSeed {
    pub actor_id: Option<u64>,
    pub actor_type: String,
    pub bypass_mode: String,
}

#[derive(Debug, Clone)]
pub struct RulesetSeed {
    pub id: u64,
    pub name: String,
    /// `branch`, `tag` or `push`.
    pub target: String,
    /// `active`, `evaluate` or `disabled`.
    pub enforcement: String,
    pub include: Vec<String>,
    pub exclude: Vec<String>,
    /// `(type, parameters)`.
    pub rules: Vec<(String, Option<Value>)>,
    pub bypass: Vec<BypassSeed>,
    pub created_at: u64,
    /// `Repository`, or `Organization` for a ruleset the organisation defines (listed through
    /// the repository with `includes_parents`, its bypass list visible to org admins only).
    pub source_type: String,
}

/// The `selected` actions policy (`GET .../actions/permissions/selected-actions`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelectedActionsSeed {
    pub github_owned_allowed: bool,
    pub verified_allowed: bool,
    pub patterns_allowed: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct VersionSeed {
    pub id: u64,
    pub digest: String,
    pub tags: Vec<String>,
    pub created_at: u64,
}

#[derive(Debug, Clone)]
pub struct PackageSeed {
    pub id: u64,
    pub name: String,
    pub package_type: String,
    pub visibility: String,
    /// Linked to the world's repository.
    pub linked: bool,
    pub versions: Vec<VersionSeed>,
    pub created_at: u64,
}

#[derive(Debug, Clone)]
pub struct RefSeed {
    /// `commit` or `tag` (annotated).
    pub object_type: String,
    pub sha: String,
}

#[derive(Debug, Clone)]
pub struct TagObjectSeed {
    pub tag: String,
    pub message: String,
    pub commit: String,
}

#[derive(Debug, Clone)]
pub struct ReleaseSeed {
    pub id: u64,
    pub tag_name: String,
    pub target_commitish: String,
    pub name: Option<String>,
    pub body: Option<String>,
    pub draft: bool,
    pub prerelease: bool,
    pub created_at: u64,
    /// Who created it (a login).
    pub author: String,
}

#[derive(Debug, Clone)]
pub struct WorkflowSeed {
    pub id: u64,
    pub name: String,
    /// `.github/workflows/publish-images.yml`.
    pub path: String,
    /// Declared `workflow_dispatch` inputs; `None` when there is no such trigger.
    pub dispatch_inputs: Option<Vec<String>>,
    /// `on.push.tags` patterns (`v*`).
    pub push_tags: Vec<String>,
}

impl WorkflowSeed {
    pub fn file_name(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or(&self.path)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepSeed {
    pub name: String,
    pub status: String,
    pub conclusion: Option<String>,
    pub number: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobSeed {
    pub id: u64,
    pub name: String,
    pub status: String,
    pub conclusion: Option<String>,
    pub started_at: Option<u64>,
    pub completed_at: Option<u64>,
    pub steps: Vec<StepSeed>,
}

impl JobSeed {
    /// A job with numbered steps, all in the job's status.
    pub fn new(name: &str, status: &str, conclusion: Option<&str>, steps: &[&str]) -> JobSeed {
        JobSeed {
            id: 0,
            name: name.into(),
            status: status.into(),
            conclusion: conclusion.map(str::to_string),
            started_at: Some(now_epoch()),
            completed_at: (status == "completed").then(now_epoch),
            steps: steps
                .iter()
                .enumerate()
                .map(|(i, s)| StepSeed {
                    name: s.to_string(),
                    status: status.into(),
                    conclusion: conclusion.map(str::to_string),
                    number: i as u64 + 1,
                })
                .collect(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct RunSeed {
    pub id: u64,
    pub workflow_id: u64,
    pub event: String,
    pub head_branch: Option<String>,
    pub head_sha: String,
    pub run_number: u64,
    pub run_attempt: u64,
    pub status: String,
    pub conclusion: Option<String>,
    pub actor: String,
    pub display_title: String,
    pub created_at: u64,
    pub updated_at: u64,
    pub inputs: BTreeMap<String, String>,
    /// Hidden from the API until then (the delay GitHub takes to show a new run).
    pub visible_at: Instant,
    pub jobs: Vec<JobSeed>,
}

/// What creates a run.
#[derive(Debug, Clone)]
pub struct NewRun {
    /// Workflow id, file name or path.
    pub workflow: String,
    pub event: String,
    pub head_branch: Option<String>,
    pub head_sha: String,
    pub actor: String,
    pub inputs: BTreeMap<String, String>,
    /// Extra delay before the run is listed; `None` uses `World::run_delay`.
    pub delay: Option<Duration>,
}

/// Rate-limit state and switches.
#[derive(Debug, Clone)]
pub struct RateState {
    pub limit: u64,
    pub used: u64,
    pub reset: u64,
    /// While set, every counted request gets this status (403 or 429) with remaining 0,
    /// until `reset` passes.
    pub exhausted: Option<u16>,
    /// The next `n` requests get `(status, retry_after)`.
    pub secondary: Option<(u32, u16, u64)>,
}

impl Default for RateState {
    fn default() -> Self {
        RateState {
            limit: 5000,
            used: 0,
            reset: now_epoch() + 3600,
            exhausted: None,
            secondary: None,
        }
    }
}

/// The whole simulated GitHub: one repository, its organisation, tokens and counters.
#[derive(Debug, Clone)]
pub struct World {
    pub owner: String,
    pub repo: String,
    pub org: String,
    pub repo_id: u64,
    pub owner_type: String,
    pub private: bool,
    /// An Enterprise `internal` repository (reported as `private: true`, `visibility: internal`).
    pub internal: bool,
    pub default_branch: String,
    pub archived: bool,
    /// Private repository on GitHub Free: protection and rulesets answer 403 "Upgrade...".
    pub plan_limited: bool,
    /// Classic protection per branch (JSON as GitHub returns it).
    pub classic_protection: BTreeMap<String, Value>,
    pub rulesets: Vec<RulesetSeed>,
    /// Who sees `bypass_actors` (GitHub: write access to the ruleset, i.e. repository admin).
    pub bypass_visible_from: Role,
    pub actions_enabled: bool,
    pub allowed_actions: String,
    /// The policy read when `allowed_actions` is `selected`.
    pub selected_actions: SelectedActionsSeed,
    pub default_workflow_permissions: String,
    pub can_approve_pull_request_reviews: bool,
    pub packages: Vec<PackageSeed>,
    /// Full ref name (`refs/tags/v1.2.3`) → object.
    pub refs: BTreeMap<String, RefSeed>,
    /// Annotated tag objects by sha.
    pub tag_objects: HashMap<String, TagObjectSeed>,
    pub releases: Vec<ReleaseSeed>,
    pub workflows: Vec<WorkflowSeed>,
    pub runs: Vec<RunSeed>,
    /// Token value → who it is.
    pub tokens: HashMap<String, TokenSeed>,
    /// Team slug → id.
    pub teams: BTreeMap<String, u64>,
    /// User login → id.
    pub users: BTreeMap<String, u64>,
    pub rate: RateState,
    /// How long a new run stays invisible.
    pub run_delay: Duration,
    pub next_id: u64,
    /// Seconds GitHub's clock is ahead of this machine's (negative: behind). Run times, the
    /// `created` filter and the `Date` header all use GitHub's clock, so a test can stand for
    /// an operator whose clock is wrong.
    pub clock_offset: i64,
}

impl World {
    /// An empty public repository with a `main` branch and no settings.
    pub fn new(owner: &str, repo: &str, org: &str) -> World {
        let now = now_epoch();
        let mut refs = BTreeMap::new();
        refs.insert(
            "refs/heads/main".to_string(),
            RefSeed {
                object_type: "commit".into(),
                sha: fake_sha("main"),
            },
        );
        World {
            owner: owner.into(),
            repo: repo.into(),
            org: org.into(),
            repo_id: 424242,
            owner_type: if owner == org { "Organization" } else { "User" }.into(),
            private: false,
            internal: false,
            default_branch: "main".into(),
            archived: false,
            plan_limited: false,
            classic_protection: BTreeMap::new(),
            rulesets: Vec::new(),
            bypass_visible_from: Role::Admin,
            actions_enabled: true,
            allowed_actions: "all".into(),
            selected_actions: SelectedActionsSeed {
                github_owned_allowed: true,
                verified_allowed: false,
                patterns_allowed: Vec::new(),
            },
            default_workflow_permissions: "write".into(),
            can_approve_pull_request_reviews: true,
            packages: Vec::new(),
            refs,
            tag_objects: HashMap::new(),
            releases: Vec::new(),
            workflows: Vec::new(),
            runs: Vec::new(),
            tokens: HashMap::new(),
            teams: BTreeMap::new(),
            users: BTreeMap::new(),
            rate: RateState {
                reset: now + 3600,
                ..RateState::default()
            },
            run_delay: Duration::ZERO,
            next_id: 1000,
            clock_offset: 0,
        }
    }

    /// A world where every preflight settings check passes for `release.toml`'s defaults:
    /// private repository, default branch protected by a ruleset only (classic protection
    /// answers 404), a tag ruleset restricting creation of `v*` and `release-v*` with the
    /// release-operators team as the only bypass actor, Actions enabled, read-only default
    /// token that cannot approve pull requests, the six packages with the right visibility
    /// linked to the repository, the publish workflow, and the four test tokens.
    pub fn compliant(owner: &str, repo: &str, org: &str) -> World {
        let mut w = World::new(owner, repo, org);
        w.private = true;
        w.default_workflow_permissions = "read".into();
        w.can_approve_pull_request_reviews = false;
        w.teams.insert("release-operators".into(), 101);
        w.teams.insert("release-admins".into(), 102);
        w.users.insert("octo-admin".into(), 9001);
        w.users.insert("octo-writer".into(), 9002);
        let mut admin = TokenSeed::classic(
            "octo-admin",
            9001,
            Role::Admin,
            &["repo", "read:packages", "workflow"],
        );
        admin.teams = vec!["release-operators".into(), "release-admins".into()];
        w.tokens.insert(ADMIN_TOKEN.into(), admin);
        w.tokens.insert(
            NO_ADMIN_TOKEN.into(),
            TokenSeed::classic("octo-writer", 9002, Role::Write, &["repo", "read:packages"]),
        );
        w.tokens.insert(
            FINE_GRAINED_TOKEN.into(),
            TokenSeed::fine_grained(
                "octo-writer",
                9002,
                Role::Write,
                &[
                    ("metadata", "read"),
                    ("contents", "read"),
                    ("actions", "read"),
                ],
            ),
        );
        // The same user as ADMIN_TOKEN, so the same teams.
        let mut no_packages = TokenSeed::classic("octo-admin", 9001, Role::Admin, &["repo"]);
        no_packages.teams = vec!["release-operators".into(), "release-admins".into()];
        w.tokens.insert(NO_PACKAGES_TOKEN.into(), no_packages);
        let branch_rs = w.alloc_id();
        w.rulesets.push(RulesetSeed {
            id: branch_rs,
            name: "protect default branch".into(),
            target: "branch".into(),
            enforcement: "active".into(),
            include: vec!["~DEFAULT_BRANCH".into()],
            exclude: vec![],
            rules: vec![
                ("deletion".into(), None),
                ("non_fast_forward".into(), None),
                (
                    "pull_request".into(),
                    Some(json!({
                        "required_approving_review_count": 1,
                        "dismiss_stale_reviews_on_push": true,
                        "require_code_owner_review": false,
                        "require_last_push_approval": false,
                        "required_review_thread_resolution": false,
                    })),
                ),
            ],
            bypass: vec![],
            created_at: now_epoch(),
            source_type: "Repository".into(),
        });
        let tag_rs = w.alloc_id();
        w.rulesets.push(RulesetSeed {
            id: tag_rs,
            name: "release tags".into(),
            target: "tag".into(),
            enforcement: "active".into(),
            include: vec!["refs/tags/v*".into(), "refs/tags/release-v*".into()],
            exclude: vec![],
            rules: vec![
                ("creation".into(), None),
                ("update".into(), None),
                ("deletion".into(), None),
            ],
            bypass: vec![BypassSeed {
                actor_id: Some(101),
                actor_type: "Team".into(),
                bypass_mode: "always".into(),
            }],
            created_at: now_epoch(),
            source_type: "Repository".into(),
        });
        for (name, vis) in [
            ("aisopsflow-core", "public"),
            ("aisopsflow-runner", "public"),
            ("aisopsflow-console", "public"),
            ("aisopsflow-core-commercial", "private"),
            ("aisopsflow-runner-commercial", "private"),
            ("aisopsflow-console-commercial", "private"),
        ] {
            w.add_package(name, vis, true);
        }
        let wf = w.alloc_id();
        w.workflows.push(WorkflowSeed {
            id: wf,
            name: "Publish images".into(),
            path: ".github/workflows/publish-images.yml".into(),
            dispatch_inputs: Some(vec!["publish_latest".into()]),
            push_tags: vec!["v*".into(), "release-v*".into()],
        });
        w
    }

    /// GitHub's clock, in epoch seconds.
    pub fn now(&self) -> u64 {
        now_epoch().saturating_add_signed(self.clock_offset)
    }

    pub(crate) fn alloc_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    pub fn full_name(&self) -> String {
        format!("{}/{}", self.owner, self.repo)
    }

    /// Adds a container package with no versions; returns its id.
    pub fn add_package(&mut self, name: &str, visibility: &str, linked: bool) -> u64 {
        let id = self.alloc_id();
        self.packages.push(PackageSeed {
            id,
            name: name.into(),
            package_type: "container".into(),
            visibility: visibility.into(),
            linked,
            versions: Vec::new(),
            created_at: now_epoch(),
        });
        id
    }

    pub(crate) fn package_mut(&mut self, name: &str) -> Option<&mut PackageSeed> {
        self.packages.iter_mut().find(|p| p.name == name)
    }

    /// Records a pushed manifest as a package version; `tags` move here from any other
    /// version (a tag is on one version only). Creates the package (private, linked) if needed.
    pub fn push_version(&mut self, package: &str, digest: &str, tags: &[&str]) -> u64 {
        if self.package_mut(package).is_none() {
            self.add_package(package, "private", true);
        }
        let id = self.alloc_id();
        let p = self.package_mut(package).expect("just added");
        for v in &mut p.versions {
            v.tags.retain(|t| !tags.contains(&t.as_str()));
        }
        if let Some(v) = p.versions.iter_mut().find(|v| v.digest == digest) {
            for t in tags {
                if !v.tags.iter().any(|x| x == t) {
                    v.tags.push(t.to_string());
                }
            }
            return v.id;
        }
        p.versions.push(VersionSeed {
            id,
            digest: digest.into(),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            created_at: now_epoch(),
        });
        id
    }

    pub fn ruleset_mut(&mut self, target: &str) -> Option<&mut RulesetSeed> {
        self.rulesets.iter_mut().find(|r| r.target == target)
    }

    // --- One mutator per setting, so a test flips exactly one thing. ---

    pub fn make_public(&mut self) {
        self.private = false;
    }
    /// Removes branch protection: rulesets targeting branches and classic protection.
    pub fn unprotect_default_branch(&mut self) {
        self.rulesets.retain(|r| r.target != "branch");
        self.classic_protection.clear();
    }
    /// Replaces the branch ruleset with classic protection on the default branch.
    pub fn protect_default_branch_classic(&mut self) {
        self.rulesets.retain(|r| r.target != "branch");
        self.classic_protection.insert(
            self.default_branch.clone(),
            json!({
                "required_pull_request_reviews": {
                    "required_approving_review_count": 1,
                    "dismiss_stale_reviews": true,
                    "require_code_owner_reviews": false
                },
                "enforce_admins": {"enabled": true},
                "allow_force_pushes": {"enabled": false},
                "allow_deletions": {"enabled": false}
            }),
        );
    }
    /// Drops the `creation` rule from the tag ruleset.
    pub fn allow_tag_creation(&mut self) {
        if let Some(r) = self.ruleset_mut("tag") {
            r.rules.retain(|(t, _)| t != "creation");
        }
    }
    /// Adds a bypass actor to the tag ruleset.
    pub fn add_tag_bypass(&mut self, actor_type: &str, actor_id: Option<u64>) {
        if let Some(r) = self.ruleset_mut("tag") {
            r.bypass.push(BypassSeed {
                actor_id,
                actor_type: actor_type.into(),
                bypass_mode: "always".into(),
            });
        }
    }
    pub fn disable_actions(&mut self) {
        self.actions_enabled = false;
    }
    /// `allowed_actions`: `all`, `local_only` or `selected` (with `selected_actions`).
    pub fn set_allowed_actions(&mut self, policy: &str) {
        self.allowed_actions = policy.into();
    }
    /// Makes the repository an Enterprise `internal` one.
    pub fn make_internal(&mut self) {
        self.private = true;
        self.internal = true;
    }
    /// Turns the tag ruleset into one the organisation defines.
    pub fn make_tag_ruleset_organization(&mut self) {
        if let Some(r) = self.ruleset_mut("tag") {
            r.source_type = "Organization".into();
        }
    }
    pub fn set_default_workflow_permissions(&mut self, p: &str) {
        self.default_workflow_permissions = p.into();
    }
    pub fn set_can_approve_prs(&mut self, yes: bool) {
        self.can_approve_pull_request_reviews = yes;
    }
    pub fn set_package_visibility(&mut self, name: &str, visibility: &str) {
        if let Some(p) = self.package_mut(name) {
            p.visibility = visibility.into();
        }
    }
    pub fn unlink_package(&mut self, name: &str) {
        if let Some(p) = self.package_mut(name) {
            p.linked = false;
        }
    }

    /// Creates a lightweight tag ref.
    pub fn add_tag(&mut self, tag: &str, commit: &str) {
        self.refs.insert(
            format!("refs/tags/{tag}"),
            RefSeed {
                object_type: "commit".into(),
                sha: commit.into(),
            },
        );
    }
    /// Creates an annotated tag: the ref points at a tag object that peels to `commit`.
    pub fn add_annotated_tag(&mut self, tag: &str, tag_sha: &str, commit: &str, message: &str) {
        self.refs.insert(
            format!("refs/tags/{tag}"),
            RefSeed {
                object_type: "tag".into(),
                sha: tag_sha.into(),
            },
        );
        self.tag_objects.insert(
            tag_sha.into(),
            TagObjectSeed {
                tag: tag.into(),
                message: message.into(),
                commit: commit.into(),
            },
        );
    }

    /// The workflow named by id, file name or path.
    pub fn workflow(&self, key: &str) -> Option<&WorkflowSeed> {
        self.workflows
            .iter()
            .find(|w| w.id.to_string() == key || w.file_name() == key || w.path == key)
    }

    /// Inserts a run (invisible for `delay`); returns its id.
    pub(crate) fn insert_run(&mut self, new: NewRun) -> Option<u64> {
        let wf_id = self.workflow(&new.workflow)?.id;
        let id = self.alloc_id();
        let run_number = self.runs.iter().filter(|r| r.workflow_id == wf_id).count() as u64 + 1;
        let now = self.now();
        let delay = new.delay.unwrap_or(self.run_delay);
        self.runs.push(RunSeed {
            id,
            workflow_id: wf_id,
            display_title: new
                .head_branch
                .clone()
                .unwrap_or_else(|| new.head_sha.chars().take(7).collect()),
            event: new.event,
            head_branch: new.head_branch,
            head_sha: new.head_sha,
            run_number,
            run_attempt: 1,
            status: "queued".into(),
            conclusion: None,
            actor: new.actor,
            created_at: now,
            updated_at: now,
            inputs: new.inputs,
            visible_at: Instant::now() + delay,
            jobs: Vec::new(),
        });
        Some(id)
    }

    pub fn run_mut(&mut self, id: u64) -> Option<&mut RunSeed> {
        self.runs.iter_mut().find(|r| r.id == id)
    }

    /// The bypass decision for the caller on a ruleset.
    pub(crate) fn can_bypass(&self, token: Option<&TokenSeed>, rs: &RulesetSeed) -> bool {
        let Some(t) = token else { return false };
        rs.bypass.iter().any(|b| match b.actor_type.as_str() {
            "Team" => t
                .teams
                .iter()
                .any(|slug| self.teams.get(slug).copied() == b.actor_id),
            "User" => b.actor_id == Some(t.user_id),
            "OrganizationAdmin" => t.org_admin,
            "RepositoryRole" => match b.actor_id {
                Some(5) => t.role >= Role::Admin,
                Some(2) => t.role >= Role::Maintain,
                Some(4) => t.role >= Role::Write,
                _ => false,
            },
            _ => false,
        })
    }
}

/// A deterministic 40-hex sha for seeds.
pub fn fake_sha(seed: &str) -> String {
    use sha2::{Digest, Sha256};
    let h = Sha256::digest(seed.as_bytes());
    h.iter().take(20).map(|b| format!("{b:02x}")).collect()
}

/// A deterministic `sha256:<64 hex>` digest for seeds.
pub fn fake_digest(seed: &str) -> String {
    use sha2::{Digest, Sha256};
    let h = Sha256::digest(seed.as_bytes());
    format!(
        "sha256:{}",
        h.iter().map(|b| format!("{b:02x}")).collect::<String>()
    )
}
