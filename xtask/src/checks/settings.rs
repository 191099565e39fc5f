//! Online preflight checks of the repository, Actions and GHCR package settings, read through
//! the GitHub REST adapter (`effects::github`).
//!
//! Each check reports what the API said as evidence (endpoint, field, value). Answers that
//! are not about the setting itself are reported for what they are: a plan that lacks the
//! feature is a warning, a token that lacks a permission (or is rejected) is `not-run` naming
//! the permission to grant, and an unreachable or rate-limited API is an error (exit 3).
//! Offline, or without a token, every selected check is `not-run` with the reason and the
//! fix: a check that could not run is never a pass (preflight says "not ready", the release
//! gate refuses).

use std::collections::BTreeSet;

use crate::checks::refpattern::{RefMatch, ruleset_ref_matches};
use crate::checks::{CheckId, Ctx, Evidence, Outcome};
use crate::checks::{Kind, Meta, Phase, Section, Severity};
use crate::config::{Visibility, parse_actor};
use crate::effects::github::{Github, GithubError, Package, Repo, Ruleset, SelectedActions};

/// The checks this area owns.
pub const IDS: [CheckId; 10] = [
    CheckId::RepoPrivate,
    CheckId::RepoDefaultBranchProtected,
    CheckId::RepoTagCreationRestricted,
    CheckId::ActionsEnabled,
    CheckId::ActionsDefaultPermissionsRead,
    CheckId::ActionsCannotApprovePrs,
    CheckId::PackagesRegistrySet,
    CheckId::PackagesPublicVisibility,
    CheckId::PackagesCommercialPrivate,
    CheckId::PackagesLinkedRepository,
];

const REPO_IDS: [CheckId; 6] = [
    CheckId::RepoPrivate,
    CheckId::RepoDefaultBranchProtected,
    CheckId::RepoTagCreationRestricted,
    CheckId::ActionsEnabled,
    CheckId::ActionsDefaultPermissionsRead,
    CheckId::ActionsCannotApprovePrs,
];

const PACKAGE_IDS: [CheckId; 4] = [
    CheckId::PackagesRegistrySet,
    CheckId::PackagesPublicVisibility,
    CheckId::PackagesCommercialPrivate,
    CheckId::PackagesLinkedRepository,
];

/// Rule types that protect a branch against unreviewed or destructive pushes.
const PROTECTIVE_RULES: [&str; 9] = [
    "pull_request",
    "non_fast_forward",
    "deletion",
    "update",
    "required_status_checks",
    "required_signatures",
    "required_linear_history",
    "merge_queue",
    "required_deployments",
];

const NO_TOKEN_FIX: &str = "run `gh auth login` or set GITHUB_TOKEN (a classic token with `repo`, `read:packages` and `read:org` from a repository admin who is a release operator)";

/// Runs the selected settings checks against the configured GitHub API.
pub async fn run(ctx: &Ctx) -> anyhow::Result<Vec<Outcome>> {
    let selected: Vec<CheckId> = IDS.iter().copied().filter(|id| ctx.wants(*id)).collect();
    if selected.is_empty() {
        return Ok(Vec::new());
    }
    if ctx.offline {
        return Ok(skip_all(
            &selected,
            "--offline: GitHub settings are not read",
            "run without --offline",
        ));
    }
    let gh = Github::from_config(&ctx.ws.config).await?;
    run_with(ctx, &gh).await
}

/// Runs the selected settings checks with a given client (tests pass one aimed at the
/// stand-in; `run` builds one from the configuration and the environment).
pub async fn run_with(ctx: &Ctx, gh: &Github) -> anyhow::Result<Vec<Outcome>> {
    let selected: Vec<CheckId> = IDS.iter().copied().filter(|id| ctx.wants(*id)).collect();
    if selected.is_empty() {
        return Ok(Vec::new());
    }
    if !gh.has_token() {
        return Ok(skip_all(&selected, "no GitHub token", NO_TOKEN_FIX));
    }
    let mut out = Vec::new();
    if ctx.wants_any(&REPO_IDS) {
        out.extend(repo_checks(ctx, gh).await?);
    }
    if ctx.wants_any(&PACKAGE_IDS) {
        out.extend(package_checks(ctx, gh).await?);
    }
    Ok(out)
}

fn skip_all(ids: &[CheckId], why: &str, fix: &str) -> Vec<Outcome> {
    ids.iter()
        .map(|id| Outcome::not_run(*id, why, fix))
        .collect()
}

/// Turns an answer GitHub gave (not an outage) into the outcome for `id`; outages and
/// anything unexpected stay errors.
fn problem(id: CheckId, err: anyhow::Error) -> anyhow::Result<Outcome> {
    let Some(ge) = GithubError::find(&err) else {
        return Err(err);
    };
    let endpoint = ge.endpoint().to_string();
    Ok(match ge {
        GithubError::PlanLimit { message, .. } => Outcome::warn(
            id,
            format!(
                "cannot be verified: the feature is unavailable on this repository's GitHub plan ({message}); upgrade the plan or make sure the setting is enforced another way"
            ),
            vec![Evidence::api(&endpoint, "message", message)],
        ),
        GithubError::Forbidden {
            message,
            accepted_permissions,
            ..
        } => {
            let need = ge
                .needed()
                .unwrap_or_else(|| "the permission GitHub requires for this endpoint".to_string());
            let mut o = Outcome::not_run(
                id,
                format!("the token cannot read {endpoint} (403 {message}): it lacks {need}"),
                format!("use a token with {need}"),
            );
            if let Some(p) = accepted_permissions {
                o.evidence
                    .push(Evidence::api(&endpoint, "X-Accepted-GitHub-Permissions", p));
            }
            o
        }
        GithubError::NotFound { .. } => Outcome::not_run(
            id,
            format!(
                "{endpoint} answered 404: the resource is missing, or private and invisible to this token (GitHub answers 404 rather than 403 there)"
            ),
            "check repository.name and registry.org in release.toml, and use a classic token with `repo` and `read:packages` from a repository admin",
        ),
        GithubError::Unauthorized { .. } => Outcome::not_run(
            id,
            format!("{endpoint} answered 401: the GitHub token was rejected"),
            NO_TOKEN_FIX,
        ),
        // An answer, not an outage: GitHub refused the request as made. The packages list
        // answers `400 Invalid argument.` to GitHub Actions installation tokens (observed in
        // cli/cli#9606 and actions/github-script#449; the description lists 400 only for
        // paging past 10,000 items).
        GithubError::Validation {
            status, message, ..
        } => {
            let packages = endpoint.contains("/packages");
            Outcome::skip(
                id,
                format!(
                    "{endpoint} answered {status} {message}{}",
                    if packages {
                        ": GitHub gives this answer to GitHub Actions tokens (GITHUB_TOKEN), which cannot list an organisation's packages"
                    } else {
                        ""
                    }
                ),
                if packages {
                    "run preflight with a classic token with `read:packages` (Packages do not support fine-grained or Actions tokens for this list)"
                } else {
                    NO_TOKEN_FIX
                },
            )
        }
        _ => return Err(err),
    })
}

async fn repo_checks(ctx: &Ctx, gh: &Github) -> anyhow::Result<Vec<Outcome>> {
    let cfg = &ctx.ws.config;
    let (owner, name) = cfg.repo_owner_name();
    let repo_ep = format!("GET /repos/{owner}/{name}");
    let mut out = Vec::new();
    let wanted: Vec<CheckId> = REPO_IDS
        .iter()
        .copied()
        .filter(|id| ctx.wants(*id))
        .collect();
    // Everything else depends on seeing the repository; if we cannot, say so once per check.
    let repo = match gh.repo(owner, name).await {
        Ok(r) => r,
        Err(e) => {
            for id in &wanted {
                out.push(problem(*id, e_clone(&e))?);
            }
            return Ok(out);
        }
    };
    if ctx.wants(CheckId::RepoPrivate) {
        out.push(repo_private(&repo_ep, &repo));
    }
    if ctx.wants(CheckId::RepoDefaultBranchProtected) {
        out.push(default_branch_check(gh, owner, name, &repo.default_branch).await?);
    }
    if ctx.wants(CheckId::RepoTagCreationRestricted) {
        out.push(tag_ruleset_check(ctx, gh, owner, name, &repo).await?);
    }
    if ctx.wants(CheckId::ActionsEnabled) {
        out.push(actions_enabled_check(ctx, gh, owner, name).await?);
    }
    let permission_checks: Vec<_> = WORKFLOW_PERMISSION_CHECKS
        .iter()
        .filter(|(id, _)| ctx.wants(*id))
        .collect();
    if !permission_checks.is_empty() {
        let wf_ep = format!("GET /repos/{owner}/{name}/actions/permissions/workflow");
        match gh.workflow_permissions(owner, name).await {
            Ok(p) => out.extend(permission_checks.iter().map(|(_, judge)| judge(&wf_ep, &p))),
            Err(e) => {
                for (id, _) in permission_checks {
                    out.push(problem(*id, e_clone(&e))?);
                }
            }
        }
    }
    Ok(out)
}

/// The checks judged on `GET .../actions/permissions/workflow`, read once for both.
type PermissionsJudge = fn(&str, &crate::effects::github::WorkflowPermissions) -> Outcome;
const WORKFLOW_PERMISSION_CHECKS: [(CheckId, PermissionsJudge); 2] = [
    (
        CheckId::ActionsDefaultPermissionsRead,
        default_permissions_read,
    ),
    (CheckId::ActionsCannotApprovePrs, cannot_approve_prs),
];

pub(crate) const REPO_PRIVATE: Meta = Meta {
    id: "repo-private",
    section: Section::RepositorySettings,
    phase: Phase::Preflight,
    kind: Kind::Automated,
    severity: Severity::Error,
    checklist: "repository visibility: private",
    summary: "The enterprise repository is private (an Enterprise `internal` repository is not).",
    why: "The enterprise source and its commercial defaults must never be readable by customers or the public.",
    fix: "Settings > General > Danger Zone > Change visibility > Private (or `gh repo edit OWNER/REPO --visibility private`).",
};

/// `repo-private`, judged on the repository's answer alone (`GET /repos/{owner}/{repo}`).
pub(crate) fn repo_private(repo_ep: &str, repo: &Repo) -> Outcome {
    let ev = vec![
        Evidence::api(repo_ep, "private", repo.private),
        Evidence::api(
            repo_ep,
            "visibility",
            repo.visibility.as_deref().unwrap_or("(absent)"),
        ),
    ];
    // `visibility` is "public, private, or internal" (`full-repository`); an Enterprise
    // `internal` repository reports `private: true` but is readable by every member of
    // the enterprise, and the checklist asks for private.
    let fix = format!(
        "change the visibility to private: Settings > General > Danger Zone > Change visibility, or `gh repo edit {} --visibility private`",
        repo.full_name
    );
    match repo.visibility.as_deref() {
        Some("private") if repo.private => Outcome::pass(
            CheckId::RepoPrivate,
            format!("{} is private", repo.full_name),
            ev,
        ),
        None if repo.private => Outcome::pass(
            CheckId::RepoPrivate,
            format!("{} is private (`visibility` not returned)", repo.full_name),
            ev,
        ),
        Some("internal") => Outcome::fail(
            CheckId::RepoPrivate,
            format!(
                "{} is internal (visible to every member of the enterprise), not private; {fix}",
                repo.full_name
            ),
            ev,
        ),
        Some(v) => Outcome::fail(
            CheckId::RepoPrivate,
            format!("{} is {v}, not private; {fix}", repo.full_name),
            ev,
        ),
        None => Outcome::fail(
            CheckId::RepoPrivate,
            format!("{} is not private; {fix}", repo.full_name),
            ev,
        ),
    }
}

pub(crate) const ACTIONS_DEFAULT_PERMISSIONS_READ: Meta = Meta {
    id: "actions-default-permissions-read",
    section: Section::ActionsPermissions,
    phase: Phase::Preflight,
    kind: Kind::Automated,
    severity: Severity::Error,
    checklist: "workflow permissions: Read repository contents",
    summary: "The repository's default GITHUB_TOKEN permission is read.",
    why: "Workflows that forget a permissions block must not get a write token by default.",
    fix: "Settings > Actions > General > Workflow permissions: Read repository contents and packages permissions.",
};

/// `actions-default-permissions-read`, judged on `GET .../actions/permissions/workflow`.
pub(crate) fn default_permissions_read(
    wf_ep: &str,
    p: &crate::effects::github::WorkflowPermissions,
) -> Outcome {
    let id = CheckId::ActionsDefaultPermissionsRead;
    let ev = vec![Evidence::api(
        wf_ep,
        "default_workflow_permissions",
        &p.default_workflow_permissions,
    )];
    if p.default_workflow_permissions == "read" {
        Outcome::pass(id, "the default GITHUB_TOKEN permission is read", ev)
    } else {
        Outcome::fail(
            id,
            format!(
                "the default GITHUB_TOKEN permission is `{}`, not `read`",
                p.default_workflow_permissions
            ),
            ev,
        )
    }
}

pub(crate) const ACTIONS_CANNOT_APPROVE_PRS: Meta = Meta {
    id: "actions-cannot-approve-prs",
    section: Section::ActionsPermissions,
    phase: Phase::Preflight,
    kind: Kind::Automated,
    severity: Severity::Error,
    checklist: "allow GitHub Actions to create and approve pull requests: off unless explicitly needed",
    summary: "GitHub Actions may not create or approve pull requests.",
    why: "A workflow that approves its own pull requests bypasses review of what ships.",
    fix: "Settings > Actions > General: untick Allow GitHub Actions to create and approve pull requests.",
};

/// `actions-cannot-approve-prs`, judged on the same answer.
pub(crate) fn cannot_approve_prs(
    wf_ep: &str,
    p: &crate::effects::github::WorkflowPermissions,
) -> Outcome {
    let id = CheckId::ActionsCannotApprovePrs;
    let ev = vec![Evidence::api(
        wf_ep,
        "can_approve_pull_request_reviews",
        p.can_approve_pull_request_reviews,
    )];
    if p.can_approve_pull_request_reviews {
        Outcome::fail(
            id,
            "GitHub Actions may create and approve pull requests",
            ev,
        )
    } else {
        Outcome::pass(id, "GitHub Actions may not approve pull requests", ev)
    }
}

pub(crate) const ACTIONS_ENABLED: Meta = Meta {
    id: "actions-enabled",
    section: Section::RepositorySettings,
    phase: Phase::Preflight,
    kind: Kind::Automated,
    severity: Severity::Error,
    checklist: "GitHub Actions enabled",
    summary: "GitHub Actions is enabled for the repository, and its allowed-actions policy lets every `uses:` of the publish workflow run.",
    why: "Images are published only by the publish workflow; with Actions off, or its actions not allowed, a release tag publishes nothing and the run fails after the tag is pushed.",
    fix: "Settings > Actions > General > Actions permissions: allow all actions, or allow the publish workflow's actions by pattern (`OWNER/REPO@*`) (or `gh api -X PUT repos/OWNER/REPO/actions/permissions -F enabled=true -f allowed_actions=all`).",
};

/// `actions-enabled`: Actions is on, and its policy (`allowed_actions`) lets every action the
/// publish workflow uses run. `all` allows everything; `local_only` ("Allow OWNER actions and
/// reusable workflows") only actions in the owner's repositories; `selected` also those the
/// selected-actions policy allows (GitHub-owned, Marketplace verified creators, patterns).
async fn actions_enabled_check(
    ctx: &Ctx,
    gh: &Github,
    owner: &str,
    name: &str,
) -> anyhow::Result<Outcome> {
    let id = CheckId::ActionsEnabled;
    let p = match gh.actions_permissions(owner, name).await {
        Ok(p) => p,
        Err(e) => return problem(id, e),
    };
    // The selected-actions policy is read only when it applies.
    let selected = if p.enabled && p.allowed_actions.as_deref() == Some("selected") {
        match gh.selected_actions(owner, name).await {
            Ok(sa) => Some(sa),
            Err(e) => return problem(id, e),
        }
    } else {
        None
    };
    let path = ctx.ws.config.workflow_path();
    let rel = path
        .strip_prefix(&ctx.ws.root)
        .unwrap_or(&path)
        .to_path_buf();
    Ok(actions_enabled(
        owner,
        name,
        &p,
        selected.as_ref(),
        &rel,
        workflow_uses(&path),
    ))
}

/// `actions-enabled`, judged on the answers (`actions/permissions`, and
/// `actions/permissions/selected-actions` when the policy is `selected`) and the `uses:` of the
/// publish workflow at `rel`.
pub(crate) fn actions_enabled(
    owner: &str,
    name: &str,
    p: &crate::effects::github::ActionsPermissions,
    selected: Option<&crate::effects::github::SelectedActions>,
    rel: &std::path::Path,
    uses: Result<Vec<(u32, String)>, String>,
) -> Outcome {
    let id = CheckId::ActionsEnabled;
    let ep = format!("GET /repos/{owner}/{name}/actions/permissions");
    let mut ev = vec![Evidence::api(&ep, "enabled", p.enabled)];
    if !p.enabled {
        return Outcome::fail(id, "GitHub Actions is disabled for the repository", ev);
    }
    let policy = p.allowed_actions.as_deref();
    ev.push(Evidence::api(
        &ep,
        "allowed_actions",
        policy.unwrap_or("(absent)"),
    ));
    let selected = match (policy, selected) {
        (Some("all"), _) => {
            return Outcome::pass(id, "GitHub Actions is enabled and allows all actions", ev);
        }
        (Some("local_only"), _) => None,
        (Some("selected"), Some(sa)) => {
            let sel_ep = format!("GET /repos/{owner}/{name}/actions/permissions/selected-actions");
            ev.push(Evidence::api(
                &sel_ep,
                "github_owned_allowed",
                sa.github_owned_allowed,
            ));
            ev.push(Evidence::api(
                &sel_ep,
                "verified_allowed",
                sa.verified_allowed,
            ));
            ev.push(Evidence::api(
                &sel_ep,
                "patterns_allowed",
                if sa.patterns_allowed.is_empty() {
                    "[]".to_string()
                } else {
                    sa.patterns_allowed.join(", ")
                },
            ));
            Some(sa)
        }
        (other, _) => {
            return Outcome::warn(
                id,
                format!(
                    "GitHub Actions is enabled, but `allowed_actions` is {}: which actions may run is unknown; check Settings > Actions > General",
                    other
                        .map(|o| format!("`{o}`"))
                        .unwrap_or_else(|| "not returned".into())
                ),
                ev,
            );
        }
    };
    let uses = match uses {
        Ok(u) => u,
        Err(why) => {
            return Outcome::fail(
                id,
                format!(
                    "`allowed_actions` restricts actions, and the publish workflow's actions cannot be read to compare: {why}"
                ),
                ev,
            );
        }
    };
    let mut blocked = Vec::new();
    for (line, u) in &uses {
        if let Err(why) = action_allowed(u, owner, selected) {
            blocked.push(format!("`{u}` ({why})"));
            ev.push(Evidence::file(rel, Some(*line)));
        }
    }
    let what = match &selected {
        None => format!("`allowed_actions: local_only` (only actions in {owner}'s repositories)"),
        Some(_) => "`allowed_actions: selected`".to_string(),
    };
    if blocked.is_empty() {
        return Outcome::pass(
            id,
            format!(
                "GitHub Actions is enabled, and {what} allows all {} action(s) the publish workflow uses",
                uses.len()
            ),
            ev,
        );
    }
    Outcome::fail(
        id,
        format!(
            "{what} does not allow what {} uses, so its run would not start after the tag push: {}; fix: allow them under Settings > Actions > General (add them to \"Allow or block specified actions\", e.g. `OWNER/REPO@*`), or set `allowed_actions` to all",
            rel.display(),
            blocked.join("; ")
        ),
        ev,
    )
}

/// Every `uses:` of the workflow's jobs and steps, with its line.
fn workflow_uses(path: &std::path::Path) -> Result<Vec<(u32, String)>, String> {
    use crate::checks::workflow::{Node, parse_yaml};
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let docs = parse_yaml(&text).map_err(|(l, m)| format!("{}:{l}: {m}", path.display()))?;
    let mut out = Vec::new();
    for doc in &docs {
        let Some(jobs) = doc.get("jobs") else {
            continue;
        };
        for (_, _, job) in jobs.entries() {
            let mut uses: Vec<&Node> = job.get("uses").into_iter().collect();
            if let Some(Node::Seq { items, .. }) = job.get("steps") {
                uses.extend(items.iter().filter_map(|s| s.get("uses")));
            }
            for u in uses {
                if let Some(s) = u.as_str() {
                    out.push((u.line(), s.trim().to_string()));
                }
            }
        }
    }
    Ok(out)
}

/// Whether the policy certainly allows `uses`; `Err` says why not (or why it is not certain).
/// `selected` is `None` for `local_only`.
fn action_allowed(
    uses: &str,
    owner: &str,
    selected: Option<&SelectedActions>,
) -> Result<(), String> {
    if uses.starts_with("./") {
        return Ok(()); // In this repository.
    }
    if uses.starts_with("docker://") {
        return Err("a container image, which the policy does not certainly allow; use an action in the organisation or allow all actions".into());
    }
    let action_owner = uses.split(['/', '@']).next().unwrap_or_default();
    if action_owner.eq_ignore_ascii_case(owner) {
        return Ok(()); // "Allow OWNER actions": the owner's own repositories.
    }
    let Some(sa) = selected else {
        return Err(format!("not in {owner}'s repositories"));
    };
    // "GitHub-owned actions ... includes the actions in the `actions` organization"; GitHub's
    // docs name the `actions` and `github` organisations.
    if sa.github_owned_allowed
        && (action_owner.eq_ignore_ascii_case("actions")
            || action_owner.eq_ignore_ascii_case("github"))
    {
        return Ok(());
    }
    if let Some(p) = sa
        .patterns_allowed
        .iter()
        .find(|p| allow_pattern_matches(p, uses))
    {
        let _ = p;
        return Ok(());
    }
    if sa.verified_allowed {
        // Marketplace verification is not visible through this API (or offline): only what
        // the policy makes certain counts as allowed.
        return Err(format!(
            "allowed only if {action_owner} is a GitHub Marketplace verified creator, which cannot be checked here; add `{}@*` to the allowed patterns to make it certain",
            uses.split('@').next().unwrap_or(uses)
        ));
    }
    Err("matched by no allowed pattern".into())
}

/// A `patterns_allowed` entry (`monalisa/octocat@*`, `monalisa/octocat@v2`, `monalisa/*`):
/// `*` matches any run of characters; owner and repository compare without case.
fn allow_pattern_matches(pattern: &str, uses: &str) -> bool {
    fn m(p: &[u8], s: &[u8]) -> bool {
        match p.first() {
            None => s.is_empty(),
            Some(b'*') => (0..=s.len()).any(|i| m(&p[1..], &s[i..])),
            Some(c) => s.first().is_some_and(|x| x.eq_ignore_ascii_case(c)) && m(&p[1..], &s[1..]),
        }
    }
    m(pattern.trim().as_bytes(), uses.as_bytes())
}

/// anyhow errors are not `Clone`; this keeps the typed GitHub error (and the message) so
/// one failed call can be reported under several checks.
fn e_clone(e: &anyhow::Error) -> anyhow::Error {
    let classified = e
        .chain()
        .find_map(|x| x.downcast_ref::<crate::exit::Classified>());
    match GithubError::find(e) {
        // An outage (5xx after retries, a rate limit) keeps its exit code and its fix.
        Some(ge) if classified.is_some_and(|c| c.kind == crate::exit::Kind::External) => {
            let c = classified.expect("checked");
            anyhow::Error::new(crate::exit::Classified {
                kind: c.kind,
                message: c.message.clone(),
            })
            .context(ge.clone())
        }
        Some(ge) => anyhow::Error::new(ge.clone()),
        None => match crate::exit::kind_of(e) {
            Some(crate::exit::Kind::External) => crate::exit::external(format!("{e:#}")),
            Some(crate::exit::Kind::Usage) => crate::exit::usage(format!("{e:#}")),
            _ => anyhow::anyhow!("{e:#}"),
        },
    }
}

async fn default_branch_check(
    gh: &Github,
    owner: &str,
    name: &str,
    branch: &str,
) -> anyhow::Result<Outcome> {
    let prot_ep = format!("GET /repos/{owner}/{name}/branches/{branch}/protection");
    let rules_ep = format!("GET /repos/{owner}/{name}/rules/branches/{branch}");
    let classic = gh.branch_protection(owner, name, branch).await;
    let rules = gh.branch_rules(owner, name, branch).await;
    branch_protected(branch, [&prot_ep, &rules_ep], classic, rules)
}

pub(crate) const REPO_DEFAULT_BRANCH_PROTECTED: Meta = Meta {
    id: "repo-default-branch-protected",
    section: Section::RepositorySettings,
    phase: Phase::Preflight,
    kind: Kind::Automated,
    severity: Severity::Error,
    checklist: "default branch protection enabled",
    summary: "The default branch is protected by classic branch protection or an active branch ruleset.",
    why: "Release tags are cut from the default branch; unreviewed pushes to it would ship unreviewed images.",
    fix: "Settings > Rules > Rulesets > New branch ruleset targeting ~DEFAULT_BRANCH (enforcement Active), or Settings > Branches > Add classic protection rule.",
};

/// `repo-default-branch-protected`, judged on the two answers: classic protection (`None`
/// for GitHub's 404 "Branch not protected") and the rules that apply to the branch.
pub(crate) fn branch_protected(
    branch: &str,
    [prot_ep, rules_ep]: [&str; 2],
    classic: anyhow::Result<Option<crate::effects::github::BranchProtection>>,
    rules: anyhow::Result<Vec<crate::effects::github::BranchRule>>,
) -> anyhow::Result<Outcome> {
    let id = CheckId::RepoDefaultBranchProtected;
    let mut ev = Vec::new();
    let mut classic_problem = None;
    match &classic {
        Ok(Some(_)) => {
            return Ok(Outcome::pass(
                id,
                format!("`{branch}` has classic branch protection"),
                vec![Evidence::api(prot_ep, "status", 200)],
            ));
        }
        Ok(None) => ev.push(Evidence::api(prot_ep, "message", "Branch not protected")),
        Err(e) => classic_problem = Some(e_clone(e)),
    }
    match rules {
        Ok(rules) => {
            let protective: Vec<String> = rules
                .iter()
                .filter(|r| PROTECTIVE_RULES.contains(&r.kind.as_str()))
                .map(|r| match r.ruleset_id {
                    Some(rs) => format!("{} (ruleset {rs})", r.kind),
                    None => r.kind.clone(),
                })
                .collect();
            if !protective.is_empty() {
                ev.insert(0, Evidence::api(rules_ep, "[].type", protective.join(", ")));
                return Ok(Outcome::pass(
                    id,
                    format!("`{branch}` is protected by an active branch ruleset"),
                    ev,
                ));
            }
            let all: Vec<&str> = rules.iter().map(|r| r.kind.as_str()).collect();
            ev.push(Evidence::api(
                rules_ep,
                "[].type",
                if all.is_empty() {
                    "(no rules)".to_string()
                } else {
                    all.join(", ")
                },
            ));
        }
        Err(e) => return problem(id, e),
    }
    if let Some(e) = classic_problem {
        // No ruleset protects the branch and classic protection could not be read.
        return problem(id, e);
    }
    Ok(Outcome::fail(
        id,
        format!(
            "`{branch}` has neither classic protection nor an active branch ruleset with a protective rule"
        ),
        ev,
    ))
}

/// Sample release tags for the tag patterns in release.toml, so coverage is tested on real
/// names (`v1.2.3`, `v1.2.3-rc.1`, `release-v1.2.3`).
fn sample_tags(ctx: &Ctx) -> Vec<String> {
    let t = &ctx.ws.config.raw.tags;
    let mut out = Vec::new();
    for pat in [&t.release, &t.release_latest] {
        for v in ["1.2.3", "1.2.3-rc.1"] {
            out.push(format!("refs/tags/{}", pat.replace("{semver}", v)));
        }
    }
    out
}

/// A release operator from release.toml, resolved to what a ruleset lists.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Allowed {
    label: String,
    actor_type: String,
    actor_id: Option<u64>,
}

async fn resolve_operators(
    ctx: &Ctx,
    gh: &Github,
    owner: &str,
    repo: &str,
) -> anyhow::Result<(Vec<Allowed>, Vec<String>)> {
    let mut ok = Vec::new();
    let mut unresolved = Vec::new();
    // Teams with access to the repository, read once: that list needs only `repo`, where the
    // organisation's team endpoint (the fallback) needs `read:org`.
    let mut repo_teams: Option<Vec<crate::effects::github::TeamSummary>> = None;
    for s in &ctx.ws.config.raw.repository.release_operators {
        let a = parse_actor(s).map_err(crate::exit::usage)?;
        let id = match (a.actor_type.as_str(), a.name.as_deref()) {
            ("OrganizationAdmin", _) | ("DeployKey", _) => None,
            ("Team", Some(slug)) => {
                if repo_teams.is_none() {
                    repo_teams = Some(match gh.repo_teams(owner, repo).await {
                        Ok(t) => t,
                        Err(e) if GithubError::find(&e).is_some() => Vec::new(),
                        Err(e) => return Err(e),
                    });
                }
                let listed = repo_teams
                    .as_ref()
                    .and_then(|ts| ts.iter().find(|t| t.slug.eq_ignore_ascii_case(slug)))
                    .map(|t| t.id);
                match listed {
                    Some(id) => Some(id),
                    // Not among the repository's teams: ask the organisation.
                    None => match gh.team_id(owner, slug).await {
                        Ok(id) => Some(id),
                        Err(e) if GithubError::find(&e).is_some() => {
                            unresolved.push(format!(
                                "{s} (not among the teams with access to the repository, and {})",
                                GithubError::find(&e).map(|g| g.to_string()).unwrap_or_default()
                            ));
                            continue;
                        }
                        Err(e) => return Err(e),
                    },
                }
            }
            ("User", Some(login)) => match gh.user_id(login).await {
                Ok(id) => Some(id),
                Err(e) if GithubError::find(&e).is_some() => {
                    unresolved.push(s.clone());
                    continue;
                }
                Err(e) => return Err(e),
            },
            ("RepositoryRole", Some(role)) => Some(match role {
                "maintain" => 2,
                "write" => 4,
                "admin" => 5,
                n => n.parse().map_err(|_| {
                    crate::exit::usage(format!(
                        "release.toml repository.release_operators: `{s}` names an unknown repository role; use maintain, write, admin or a numeric role id"
                    ))
                })?,
            }),
            ("Integration", Some(n)) => Some(n.parse().map_err(|_| {
                crate::exit::usage(format!(
                    "release.toml repository.release_operators: `{s}` needs a numeric app id"
                ))
            })?),
            _ => None,
        };
        ok.push(Allowed {
            label: s.clone(),
            actor_type: a.actor_type,
            actor_id: id,
        });
    }
    Ok((ok, unresolved))
}

/// `repo-tag-creation-restricted`: reads the rulesets list, then each tag ruleset's details
/// (the list leaves out conditions, rules and bypass actors), then, only when those cover
/// every release tag, the release operators' ids; then judges in [`tag_ruleset`].
async fn tag_ruleset_check(
    ctx: &Ctx,
    gh: &Github,
    owner: &str,
    name: &str,
    repo: &Repo,
) -> anyhow::Result<Outcome> {
    let id = CheckId::RepoTagCreationRestricted;
    let summaries = match gh.rulesets(owner, name).await {
        Ok(s) => s,
        Err(e) => return problem(id, e),
    };
    let mut rulesets: Vec<Ruleset> = Vec::new();
    for s in &summaries {
        if s.target.as_deref().is_some_and(|t| t != "tag") {
            continue;
        }
        match gh.ruleset(owner, name, s.id).await {
            Ok(r) => rulesets.push(r),
            Err(e) => return problem(id, e),
        }
    }
    let branch = &ctx.ws.config.raw.repository.default_branch;
    let samples = sample_tags(ctx);
    // The judgement stops at coverage when a release tag is uncovered; only past it are the
    // operators compared, so only then are they resolved (teams and users cost requests).
    let covered = uncovered(
        &restricting(&rulesets),
        &samples,
        branch,
        &mut BTreeSet::new(),
    )
    .is_empty();
    let operators = if covered {
        let (allowed, unresolved) = resolve_operators(ctx, gh, owner, name).await?;
        Operators {
            allowed,
            unresolved,
        }
    } else {
        Operators::default()
    };
    Ok(tag_ruleset(&TagRulesetFacts {
        owner,
        name,
        repo,
        rulesets,
        branch,
        samples,
        operators,
    }))
}

/// What `repo-tag-creation-restricted` judges, as the gather read it.
pub(crate) struct TagRulesetFacts<'a> {
    pub owner: &'a str,
    pub name: &'a str,
    /// `GET /repos/{owner}/{repo}`: its `permissions` are the caller's role.
    pub repo: &'a Repo,
    /// The details of the rulesets with target `tag` (or none), in the list's order.
    pub rulesets: Vec<Ruleset>,
    pub branch: &'a str,
    /// Full refs of sample release tags (`refs/tags/v1.2.3`, ...).
    pub samples: Vec<String>,
    /// The release operators as a ruleset lists them; empty when coverage already failed.
    pub operators: Operators,
}

/// `repository.release_operators`, resolved to actor ids, and those that could not be.
#[derive(Debug, Clone, Default)]
pub(crate) struct Operators {
    pub allowed: Vec<Allowed>,
    pub unresolved: Vec<String>,
}

/// The active tag rulesets with a `creation` rule.
fn restricting(rulesets: &[Ruleset]) -> Vec<&Ruleset> {
    rulesets
        .iter()
        .filter(|r| {
            r.target.as_deref() == Some("tag")
                && r.enforcement == "active"
                && r.rules.iter().any(|x| x.kind == "creation")
        })
        .collect()
}

/// The sample tags no restricting ruleset covers.
fn uncovered(
    restricting: &[&Ruleset],
    samples: &[String],
    branch: &str,
    unsure: &mut BTreeSet<String>,
) -> Vec<String> {
    samples
        .iter()
        .filter(|t| {
            !restricting
                .iter()
                .any(|r| ruleset_covers(r, t, branch, unsure))
        })
        .cloned()
        .collect()
}

/// Whether the ruleset's `ref_name` condition covers `tag`. An include pattern GitHub
/// documents as unsupported does not count as covering; an unsupported exclude pattern
/// counts as excluding (either way the stricter reading), and both are reported.
fn ruleset_covers(r: &Ruleset, tag: &str, branch: &str, unsure: &mut BTreeSet<String>) -> bool {
    let cond = r
        .conditions
        .as_ref()
        .and_then(|c| c.ref_name.clone())
        .unwrap_or_default();
    let mut included = false;
    for p in &cond.include {
        match ruleset_ref_matches(p, tag, branch) {
            RefMatch::Yes => included = true,
            RefMatch::No => {}
            RefMatch::Unsupported(why) => {
                unsure.insert(why);
            }
        }
    }
    if !included {
        return false;
    }
    for p in &cond.exclude {
        match ruleset_ref_matches(p, tag, branch) {
            RefMatch::Yes => return false,
            RefMatch::No => {}
            RefMatch::Unsupported(why) => {
                unsure.insert(why);
                return false;
            }
        }
    }
    true
}

fn actor_text(b: &crate::effects::github::BypassActor, allowed: &[Allowed]) -> String {
    allowed
        .iter()
        .find(|a| a.actor_type == b.actor_type && a.actor_id.is_some() && a.actor_id == b.actor_id)
        .map(|a| a.label.clone())
        .unwrap_or_else(|| {
            format!(
                "{}:{}",
                b.actor_type,
                b.actor_id
                    .map(|i| i.to_string())
                    .unwrap_or_else(|| "-".into())
            )
        })
}

/// Whether the caller can create a tag the ruleset covers: `current_user_can_bypass` when
/// GitHub returns it (`always` and `exempt` can; `pull_requests_only` and `never` cannot, as
/// a tag push is no pull request), else membership of a visible `RepositoryRole` actor.
fn caller_can_bypass(r: &Ruleset, repo: &Repo) -> Option<bool> {
    match r.current_user_can_bypass.as_deref() {
        Some("always") | Some("exempt") => return Some(true),
        Some(_) => return Some(false),
        None => {}
    }
    let perms = repo.permissions.as_ref()?;
    let list = r.bypass_actors.as_ref()?;
    let by_role = list.iter().any(|b| {
        b.actor_type == "RepositoryRole"
            && match b.actor_id {
                Some(5) => perms.admin,
                Some(2) => perms.maintain || perms.admin,
                Some(4) => perms.push,
                _ => false,
            }
    });
    // Without the field, other actor kinds (teams, users) cannot be proven from here.
    by_role.then_some(true)
}

pub(crate) const REPO_TAG_CREATION_RESTRICTED: Meta = Meta {
    id: "repo-tag-creation-restricted",
    section: Section::RepositorySettings,
    phase: Phase::Preflight,
    kind: Kind::Automated,
    severity: Severity::Error,
    checklist: "tag creation restricted to release operators",
    summary: "An active tag ruleset covering release tags (ref patterns read as GitHub's fnmatch) has a creation rule, only the release operators from release.toml may bypass it, and the operator running the check is one who can.",
    why: "Pushing a `v*` or `release-v*` tag publishes images (and may move `latest`); only release operators may do that.",
    fix: "Settings > Rules > Rulesets > New tag ruleset: include refs/tags/v* and refs/tags/release-v*, rules Restrict creations/updates/deletions, bypass list = repository.release_operators in release.toml; run preflight and release with a release operator's credentials.",
};

/// `repo-tag-creation-restricted`, judged on what the gather read: the tag rulesets' details
/// (`GET .../rulesets/{id}` of every ruleset the list shows with target `tag` or none), the
/// repository's answer (the caller's `permissions`), the release tags to cover, and the
/// release operators as ids. Coverage is judged first; bypass lists and the caller's own
/// bypass only for the rulesets that cover release tags.
pub(crate) fn tag_ruleset(f: &TagRulesetFacts) -> Outcome {
    let mut o = tag_ruleset_judgement(f);
    // The list of rulesets is context; the matching ruleset's own fields should lead, since
    // reports show the first few pieces of evidence.
    let is_summary =
        |e: &Evidence| matches!(e, Evidence::Api { field, .. } if field.starts_with("[].name"));
    if o.evidence.len() > 1 && is_summary(&o.evidence[0]) {
        let summary = o.evidence.remove(0);
        o.evidence.push(summary);
    }
    o
}

fn tag_ruleset_judgement(f: &TagRulesetFacts) -> Outcome {
    let id = CheckId::RepoTagCreationRestricted;
    let (full, branch, samples) = (&f.rulesets, f.branch, &f.samples);
    let mut ev = ruleset_evidence(f);
    let mut unsure = BTreeSet::new();
    let restricting = restricting(full);
    let uncovered = uncovered(&restricting, samples, branch, &mut unsure);
    for why in &unsure {
        ev.push(Evidence::note(why.clone()));
    }
    if !uncovered.is_empty() {
        return Outcome::fail(
            id,
            format!(
                "no active tag ruleset with a `creation` rule covers {}{}",
                uncovered
                    .iter()
                    .map(|t| t.trim_start_matches("refs/tags/"))
                    .collect::<Vec<_>>()
                    .join(", "),
                if unsure.is_empty() {
                    String::new()
                } else {
                    format!(
                        " ({}; rewrite the pattern with `*`, `**/`, `?` or a plain `[...]` set)",
                        unsure.iter().cloned().collect::<Vec<_>>().join("; ")
                    )
                }
            ),
            ev,
        );
    }
    // Bypass lists of the rulesets that cover release tags must name only release operators,
    // and the caller must be able to bypass each of them.
    let relevant: Vec<&Ruleset> = restricting
        .iter()
        .copied()
        .filter(|r| {
            samples
                .iter()
                .any(|t| ruleset_covers(r, t, branch, &mut BTreeSet::new()))
        })
        .collect();
    let review = review_bypass(f, &relevant, &mut ev);
    bypass_verdict(f, review, ev)
}

/// The rulesets list and each ruleset's patterns, rules and source, as evidence.
fn ruleset_evidence(f: &TagRulesetFacts) -> Vec<Evidence> {
    let (owner, name, full) = (f.owner, f.name, &f.rulesets);
    let mut ev = vec![Evidence::api(
        format!("GET /repos/{owner}/{name}/rulesets"),
        "[].name (target tag)",
        if full.is_empty() {
            "(none)".to_string()
        } else {
            full.iter()
                .map(|r| format!("{} [{}]", r.name, r.enforcement))
                .collect::<Vec<_>>()
                .join(", ")
        },
    )];
    for r in full {
        let ep = format!("GET /repos/{owner}/{name}/rulesets/{}", r.id);
        let cond = r
            .conditions
            .as_ref()
            .and_then(|c| c.ref_name.clone())
            .unwrap_or_default();
        ev.push(Evidence::api(
            &ep,
            "conditions.ref_name.include",
            cond.include.join(", "),
        ));
        ev.push(Evidence::api(
            &ep,
            "rules[].type",
            r.rules
                .iter()
                .map(|x| x.kind.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        ));
        if let Some(st) = &r.source_type {
            ev.push(Evidence::api(&ep, "source_type", st));
        }
    }
    ev
}

/// What the bypass lists of the rulesets covering release tags say.
#[derive(Default)]
struct BypassReview<'a> {
    /// Bypass actors that are not release operators (`type:id in ruleset`).
    strays: Vec<String>,
    /// Rulesets of this repository whose bypass list this token cannot see.
    hidden: Vec<String>,
    /// Rulesets of the organisation or enterprise whose bypass list this token cannot see.
    parent_hidden: Vec<&'a Ruleset>,
    /// Rulesets nobody may bypass.
    empty: Vec<String>,
    /// Rulesets these credentials cannot bypass.
    cannot: Vec<&'a Ruleset>,
    /// Rulesets for which GitHub did not say whether these credentials can bypass.
    unknown_self: Vec<String>,
}

/// Reads each relevant ruleset's bypass list against the release operators, and whether
/// these credentials can bypass it.
fn review_bypass<'a>(
    f: &TagRulesetFacts,
    relevant: &[&'a Ruleset],
    ev: &mut Vec<Evidence>,
) -> BypassReview<'a> {
    let (owner, name, repo) = (f.owner, f.name, f.repo);
    let allowed = &f.operators.allowed;
    let mut review = BypassReview::default();
    let BypassReview {
        strays,
        hidden,
        parent_hidden,
        empty,
        cannot,
        unknown_self,
    } = &mut review;
    for &r in relevant {
        let ep = format!("GET /repos/{owner}/{name}/rulesets/{}", r.id);
        let from_parent = r.source_type.as_deref().is_some_and(|t| t != "Repository");
        ev.push(Evidence::api(
            &ep,
            "current_user_can_bypass",
            r.current_user_can_bypass.as_deref().unwrap_or("(absent)"),
        ));
        match &r.bypass_actors {
            None => {
                if from_parent {
                    parent_hidden.push(r);
                } else {
                    hidden.push(r.name.clone());
                }
                ev.push(Evidence::api(
                    &ep,
                    "bypass_actors",
                    "(not returned to this token)",
                ));
            }
            Some(list) => {
                ev.push(Evidence::api(
                    &ep,
                    "bypass_actors",
                    if list.is_empty() {
                        "[]".to_string()
                    } else {
                        list.iter()
                            .map(|b| {
                                format!(
                                    "{}:{}",
                                    b.actor_type,
                                    b.actor_id
                                        .map(|i| i.to_string())
                                        .unwrap_or_else(|| "-".into())
                                )
                            })
                            .collect::<Vec<_>>()
                            .join(", ")
                    },
                ));
                if list.is_empty() {
                    empty.push(r.name.clone());
                }
                for b in list {
                    let ok = allowed.iter().any(|a| {
                        a.actor_type == b.actor_type
                            && (a.actor_id.is_none() || a.actor_id == b.actor_id)
                    });
                    if !ok {
                        strays.push(format!(
                            "{}:{} in `{}`",
                            b.actor_type,
                            b.actor_id
                                .map(|i| i.to_string())
                                .unwrap_or_else(|| "-".into()),
                            r.name
                        ));
                    }
                }
            }
        }
        match caller_can_bypass(r, repo) {
            Some(true) => {}
            Some(false) => cannot.push(r),
            None => unknown_self.push(r.name.clone()),
        }
    }
    review
}

/// Why these credentials cannot create release tags, and who can.
fn cannot_bypass(cannot: &[&Ruleset], allowed: &[Allowed], operators: &str) -> String {
    let who: Vec<String> = cannot
        .iter()
        .map(|r| match &r.bypass_actors {
            Some(l) if l.is_empty() => format!("`{}`: nobody", r.name),
            Some(l) => format!(
                "`{}`: {}",
                r.name,
                l.iter()
                    .map(|b| actor_text(b, allowed))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            None => format!(
                "`{}`: its bypass list, which this token cannot see (release.toml names {operators})",
                r.name
            ),
        })
        .collect();
    format!(
        "these credentials cannot create release tags (current_user_can_bypass: {}): the tag push would be refused after preflight passed; who can bypass {}; fix: run preflight and release as a release operator, or add this operator to the bypass list (the tag is pushed with git's credentials, which should belong to the same operator)",
        cannot
            .iter()
            .map(|r| format!(
                "{} on `{}`",
                r.current_user_can_bypass.as_deref().unwrap_or("never"),
                r.name
            ))
            .collect::<Vec<_>>()
            .join(", "),
        who.join("; ")
    )
}

/// A warning's wording, given the names it is about.
type Message = fn(&str) -> String;

/// The verdict on the bypass review: a stray bypass actor or credentials that cannot bypass
/// fail; a list this token cannot see, an unknown own bypass, unresolved operators or a list
/// nobody may bypass warn, in that order.
fn bypass_verdict(f: &TagRulesetFacts, review: BypassReview<'_>, mut ev: Vec<Evidence>) -> Outcome {
    let id = CheckId::RepoTagCreationRestricted;
    let (allowed, unresolved) = (&f.operators.allowed, &f.operators.unresolved);
    let BypassReview {
        strays,
        hidden,
        parent_hidden,
        empty,
        cannot,
        unknown_self,
    } = review;
    let allowed_labels: BTreeSet<&str> = allowed.iter().map(|a| a.label.as_str()).collect();
    let operators = allowed_labels
        .iter()
        .copied()
        .collect::<Vec<_>>()
        .join(", ");
    if !strays.is_empty() {
        return Outcome::fail(
            id,
            format!(
                "the tag ruleset lets actors other than the release operators ({operators}) bypass tag creation: {}",
                strays.join("; ")
            ),
            ev,
        );
    }
    if !cannot.is_empty() {
        return Outcome::fail(id, cannot_bypass(&cannot, allowed, &operators), ev);
    }
    let warnings: [(&[String], Message); 4] = [
        (&hidden, |n| {
            format!(
                "tag creation is restricted, but the token cannot see who may bypass ruleset(s) {n}: GitHub returns bypass_actors only to callers with write access to the ruleset; use a repository admin's token (classic `repo`, or fine-grained Administration: write)"
            )
        }),
        (&unknown_self, |n| {
            format!(
                "tag creation is restricted, but GitHub did not say whether these credentials may bypass ruleset(s) {n} (no current_user_can_bypass), so it is not proven that this operator can push a release tag"
            )
        }),
        (unresolved, |n| {
            format!(
                "tag creation is restricted, but these release operators could not be resolved to ids, so the bypass list was not fully compared: {n}; use a token that can read the organisation's teams (classic `read:org`)"
            )
        }),
        (&empty, |n| {
            format!(
                "tag ruleset(s) {n} have no bypass actors: nobody, including the release operators, can create release tags"
            )
        }),
    ];
    for (names, message) in warnings {
        if !names.is_empty() {
            return Outcome::warn(id, message(&names.join(", ")), ev);
        }
    }
    for r in &parent_hidden {
        ev.push(Evidence::note(format!(
            "`{}` is a ruleset of {} ({}): GitHub shows its bypass_actors only to those who can edit it there; this operator's own bypass is proven by current_user_can_bypass, and who else may bypass is the organisation owners' to attest",
            r.name,
            r.source.as_deref().unwrap_or("the organisation"),
            r.source_type.as_deref().unwrap_or("Organization")
        )));
    }
    Outcome::pass(
        id,
        "release tags can only be created by the release operators (an active tag ruleset restricts creation), and these credentials can create them",
        ev,
    )
}

async fn package_checks(ctx: &Ctx, gh: &Github) -> anyhow::Result<Vec<Outcome>> {
    let cfg = &ctx.ws.config;
    let org = cfg.org();
    let wanted: Vec<CheckId> = PACKAGE_IDS
        .iter()
        .copied()
        .filter(|id| ctx.wants(*id))
        .collect();
    let packages = match gh.org_packages(org, "container").await {
        Ok(p) => p,
        Err(e) => {
            return wanted.iter().map(|id| problem(*id, e_clone(&e))).collect();
        }
    };
    Ok(package_judgements(cfg, &packages, &|id| ctx.wants(id)))
}

/// The package checks, in report order: each id with its judgement of the organisation's
/// container packages as `GET /orgs/{org}/packages?package_type=container` lists them. The
/// list is read once for all of them; `--only` picks entries of this table.
type PackageJudge = fn(&crate::config::Config, &[Package]) -> Outcome;
const PACKAGE_CHECKS: [(CheckId, PackageJudge); 4] = [
    (CheckId::PackagesRegistrySet, registry_set),
    (CheckId::PackagesPublicVisibility, public_visibility),
    (CheckId::PackagesCommercialPrivate, commercial_private),
    (CheckId::PackagesLinkedRepository, linked_repository),
];

/// The package checks `wants` selects, judged on the package list.
pub(crate) fn package_judgements(
    cfg: &crate::config::Config,
    packages: &[Package],
    wants: &dyn Fn(CheckId) -> bool,
) -> Vec<Outcome> {
    PACKAGE_CHECKS
        .iter()
        .filter(|(id, _)| wants(*id))
        .map(|(_, judge)| judge(cfg, packages))
        .collect()
}

pub(crate) const PACKAGES_REGISTRY_SET: Meta = Meta {
    id: "packages-registry-set",
    section: Section::PackageSettings,
    phase: Phase::Preflight,
    kind: Kind::Automated,
    severity: Severity::Error,
    checklist: "Create and retain only these packages",
    summary: "The organisation's aisopsflow-* container packages are exactly the allowed six.",
    why: "A stray package may hold commercial or unreviewed images.",
    fix: "Delete the stray package (Package settings > Danger zone) or add it to release.toml with a reason.",
};

/// `packages-registry-set`: the organisation's packages with our prefixes are exactly the
/// allowed ones (and the excepted); missing ones are a warning until the first release.
fn registry_set(cfg: &crate::config::Config, packages: &[Package]) -> Outcome {
    let org = cfg.org();
    let ep = format!("GET /orgs/{org}/packages?package_type=container");
    let find = |n: &str| packages.iter().find(|p| p.name == n);
    let id = CheckId::PackagesRegistrySet;
    let mut expected: BTreeSet<String> = cfg.raw.packages.allowed.iter().cloned().collect();
    expected.extend(cfg.raw.packages.exceptions.iter().map(|x| x.name.clone()));
    let prefixes: BTreeSet<String> = cfg
        .raw
        .editions
        .values()
        .filter_map(|e| e.package.split("{component}").next().map(str::to_string))
        .filter(|p| !p.is_empty())
        .collect();
    let ours: Vec<&Package> = packages
        .iter()
        .filter(|p| prefixes.iter().any(|pre| p.name.starts_with(pre.as_str())))
        .collect();
    let strays: Vec<&str> = ours
        .iter()
        .map(|p| p.name.as_str())
        .filter(|n| !expected.contains(*n))
        .collect();
    let missing: Vec<&str> = expected
        .iter()
        .map(String::as_str)
        .filter(|n| find(n).is_none())
        .collect();
    let mut ev = vec![Evidence::api(
        &ep,
        "[].name",
        ours.iter()
            .map(|p| p.name.as_str())
            .collect::<Vec<_>>()
            .join(", "),
    )];
    if !missing.is_empty() {
        ev.push(Evidence::note(format!(
            "not yet published: {}",
            missing.join(", ")
        )));
    }
    if !strays.is_empty() {
        Outcome::fail(
            id,
            format!(
                "stray package(s) outside the allowlist: {}",
                strays.join(", ")
            ),
            ev,
        )
    } else if !missing.is_empty() {
        Outcome::warn(
            id,
            format!(
                "no stray packages, but {} of the allowed packages do not exist yet (the first release creates them)",
                missing.len()
            ),
            ev,
        )
    } else {
        Outcome::pass(
            id,
            "the organisation's packages are exactly the allowed ones",
            ev,
        )
    }
}

pub(crate) const PACKAGES_PUBLIC_VISIBILITY: Meta = Meta {
    id: "packages-public-visibility",
    section: Section::PackageSettings,
    phase: Phase::Preflight,
    kind: Kind::Automated,
    severity: Severity::Error,
    checklist: "Public package policy: visibility: public",
    summary: "The public edition's packages are public.",
    why: "Customers pull public images anonymously; a private public-edition package breaks their deployments.",
    fix: "Package settings > Danger zone > Change visibility > Public (only for the public edition).",
};

/// `packages-public-visibility`: every public-edition package that exists is public.
fn public_visibility(cfg: &crate::config::Config, packages: &[Package]) -> Outcome {
    package_visibility(
        cfg,
        packages,
        CheckId::PackagesPublicVisibility,
        Visibility::Public,
    )
}

pub(crate) const PACKAGES_COMMERCIAL_PRIVATE: Meta = Meta {
    id: "packages-commercial-private",
    section: Section::PackageSettings,
    phase: Phase::Preflight,
    kind: Kind::Automated,
    severity: Severity::Error,
    checklist: "Commercial package policy: visibility: private",
    summary: "The commercial edition's packages are private.",
    why: "Commercial images are licensed; a public package gives them away, and GHCR cannot make it private again.",
    fix: "Package settings > Danger zone > Change visibility > Private; if it was ever public, treat the images as leaked.",
};

/// `packages-commercial-private`: every commercial package that exists is private.
fn commercial_private(cfg: &crate::config::Config, packages: &[Package]) -> Outcome {
    package_visibility(
        cfg,
        packages,
        CheckId::PackagesCommercialPrivate,
        Visibility::Private,
    )
}

fn package_visibility(
    cfg: &crate::config::Config,
    packages: &[Package],
    id: CheckId,
    vis: Visibility,
) -> Outcome {
    let org = cfg.org();
    let find = |n: &str| packages.iter().find(|p| p.name == n);
    let images = cfg.all_images();
    let mut ev = Vec::new();
    let mut wrong = Vec::new();
    let mut missing = Vec::new();
    for img in images.iter().filter(|i| i.visibility == vis) {
        match find(&img.package) {
            Some(p) => {
                ev.push(Evidence::api(
                    format!("GET /orgs/{org}/packages/container/{}", img.package),
                    "visibility",
                    &p.visibility,
                ));
                if p.visibility != vis.to_string() {
                    wrong.push(format!("{} is {}", p.name, p.visibility));
                }
            }
            None => missing.push(img.package.clone()),
        }
    }
    if !missing.is_empty() {
        ev.push(Evidence::note(format!(
            "not yet published: {}",
            missing.join(", ")
        )));
    }
    if !wrong.is_empty() {
        Outcome::fail(
            id,
            format!(
                "packages with the wrong visibility (want {vis}): {}",
                wrong.join(", ")
            ),
            ev,
        )
    } else if !missing.is_empty() {
        Outcome::warn(
            id,
            format!(
                "existing packages are {vis}; {} not published yet",
                missing.join(", ")
            ),
            ev,
        )
    } else {
        Outcome::pass(id, format!("every {vis}-edition package is {vis}"), ev)
    }
}

pub(crate) const PACKAGES_LINKED_REPOSITORY: Meta = Meta {
    id: "packages-linked-repository",
    section: Section::PackageSettings,
    phase: Phase::Preflight,
    kind: Kind::Automated,
    severity: Severity::Error,
    checklist: "inheritance from repository permissions: enabled",
    summary: "Each package is linked to the enterprise repository.",
    why: "A linked package inherits the repository's access, so the publish workflow's GITHUB_TOKEN can write it.",
    fix: "Package settings > Connect repository, or publish with the org.opencontainers.image.source label of the repository.",
};

/// `packages-linked-repository`: every package that exists is linked to the enterprise
/// repository.
fn linked_repository(cfg: &crate::config::Config, packages: &[Package]) -> Outcome {
    let org = cfg.org();
    let ep = format!("GET /orgs/{org}/packages?package_type=container");
    let find = |n: &str| packages.iter().find(|p| p.name == n);
    let images = cfg.all_images();
    let id = CheckId::PackagesLinkedRepository;
    let want = &cfg.raw.repository.name;
    let mut ev = Vec::new();
    let mut bad = Vec::new();
    for img in &images {
        if let Some(p) = find(&img.package) {
            let linked = p.repository.as_ref().map(|r| r.full_name.clone());
            ev.push(Evidence::api(
                format!("GET /orgs/{org}/packages/container/{}", img.package),
                "repository.full_name",
                linked.as_deref().unwrap_or("(not linked)"),
            ));
            if !linked.is_some_and(|l| l.eq_ignore_ascii_case(want)) {
                bad.push(p.name.clone());
            }
        }
    }
    if !bad.is_empty() {
        Outcome::fail(id, format!("not linked to {want}: {}", bad.join(", ")), ev)
    } else if ev.is_empty() {
        Outcome::warn(
            id,
            "no package exists yet to check",
            vec![Evidence::api(&ep, "[].name", "(none of ours)")],
        )
    } else {
        Outcome::pass(id, format!("every package is linked to {want}"), ev)
    }
}

/// Whether a ruleset `ref_name` pattern matches `full_ref`, as GitHub evaluates it (see
/// `refpattern`); a pattern using a construct GitHub documents as unsupported does not match.
#[cfg(test)]
pub(crate) fn ruleset_pattern_matches(pattern: &str, full_ref: &str, default_branch: &str) -> bool {
    ruleset_ref_matches(pattern, full_ref, default_branch).is_yes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::Status;

    /// A `GET /repos/{owner}/{repo}` body as GitHub sends it (fields trimmed to what we read,
    /// plus noise we must ignore).
    fn repo_body(private: bool, visibility: Option<&str>) -> Repo {
        let mut v = serde_json::json!({
            "id": 1296269, "node_id": "MDEwOlJlcG9zaXRvcnkxMjk2MjY5",
            "full_name": "aisopsflow/aisopsflow-enterprise", "private": private,
            "default_branch": "main", "archived": false,
            "owner": {"login": "aisopsflow", "id": 1, "type": "Organization"},
            "html_url": "https://github.com/aisopsflow/aisopsflow-enterprise",
            "forks_count": 0
        });
        if let Some(vis) = visibility {
            v["visibility"] = vis.into();
        }
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn repo_private_is_judged_on_the_body_alone() {
        let ep = "GET /repos/aisopsflow/aisopsflow-enterprise";
        let judge = |private, vis| repo_private(ep, &repo_body(private, vis));
        assert_eq!(judge(true, Some("private")).status, Status::Pass);
        assert_eq!(judge(true, None).status, Status::Pass);
        // Enterprise `internal` says `private: true` but every enterprise member can read it.
        let internal = judge(true, Some("internal"));
        assert_eq!(internal.status, Status::Fail);
        assert!(
            internal.message.contains("internal"),
            "{}",
            internal.message
        );
        let public = judge(false, Some("public"));
        assert_eq!(public.status, Status::Fail);
        assert!(
            public
                .message
                .contains("gh repo edit aisopsflow/aisopsflow-enterprise --visibility private"),
            "{}",
            public.message
        );
        assert_eq!(judge(false, None).status, Status::Fail);
    }

    #[test]
    fn branch_protection_is_judged_on_the_answers_alone() {
        let eps = ["GET .../protection", "GET .../rules/branches/main"];
        let rules = |text: &str| -> anyhow::Result<Vec<crate::effects::github::BranchRule>> {
            Ok(serde_json::from_str(text).unwrap())
        };
        let classic: crate::effects::github::BranchProtection = serde_json::from_str(
            r#"{"url":"https://api.github.com/repos/o/r/branches/main/protection","enforce_admins":{"enabled":true}}"#,
        )
        .unwrap();
        let judged = |c, r| branch_protected("main", eps, Ok(c), r).unwrap();
        assert_eq!(judged(Some(classic), rules("[]")).status, Status::Pass);
        // A ruleset with a protective rule protects it; one that only constrains commit
        // messages (not in PROTECTIVE_RULES) does not.
        let by_ruleset = judged(
            None,
            rules(
                r#"[{"type":"pull_request","ruleset_source_type":"Repository","ruleset_source":"o/r","ruleset_id":42}]"#,
            ),
        );
        assert_eq!(by_ruleset.status, Status::Pass, "{}", by_ruleset.message);
        assert!(format!("{:?}", by_ruleset.evidence).contains("ruleset 42"));
        let weak = judged(
            None,
            rules(r#"[{"type":"commit_message_pattern","ruleset_id":7}]"#),
        );
        assert_eq!(weak.status, Status::Fail, "{}", weak.message);
        assert_eq!(judged(None, rules("[]")).status, Status::Fail);
    }

    /// The organisation's package list as GitHub answers it: one entry per name, with its
    /// visibility and linked repository.
    fn packages(list: &[(&str, &str, Option<&str>)]) -> Vec<Package> {
        list.iter()
            .enumerate()
            .map(|(i, (name, visibility, repo))| {
                let mut v = serde_json::json!({
                    "id": i + 1, "name": name, "package_type": "container",
                    "visibility": visibility,
                    "html_url": format!("https://github.com/orgs/aisopsflow/packages/container/package/{name}"),
                    "version_count": 3
                });
                if let Some(r) = repo {
                    v["repository"] = serde_json::json!({"id": 7, "full_name": r, "private": true});
                }
                serde_json::from_value(v).unwrap()
            })
            .collect()
    }

    #[test]
    fn package_checks_are_judged_on_the_package_list_alone() {
        let cfg = crate::config::for_tests();
        let repo = Some("aisopsflow/aisopsflow-enterprise");
        let all = |commercial_console: &str| {
            packages(&[
                ("aisopsflow-core", "public", repo),
                ("aisopsflow-runner", "public", repo),
                ("aisopsflow-console", "public", repo),
                ("aisopsflow-core-commercial", "private", repo),
                ("aisopsflow-runner-commercial", "private", repo),
                ("aisopsflow-console-commercial", commercial_console, repo),
            ])
        };
        let judge = |list: &[Package]| {
            package_judgements(&cfg, list, &|_| true)
                .into_iter()
                .map(|o| (o.id, o))
                .collect::<std::collections::BTreeMap<_, _>>()
        };
        let good = judge(&all("private"));
        for o in good.values() {
            assert_eq!(o.status, Status::Pass, "{:?}: {}", o.id, o.message);
        }
        // A commercial edition made public by mistake fails, naming it.
        let leaked = judge(&all("public"));
        let o = &leaked[&CheckId::PackagesCommercialPrivate];
        assert_eq!(o.status, Status::Fail);
        assert!(
            o.message
                .contains("aisopsflow-console-commercial is public"),
            "{}",
            o.message
        );
        assert_eq!(
            leaked[&CheckId::PackagesPublicVisibility].status,
            Status::Pass
        );
        // A stray package with our prefix fails the registry set; one not yet published warns.
        let mut stray = all("private");
        stray.extend(packages(&[("aisopsflow-core-debug", "private", repo)]));
        let o = &judge(&stray)[&CheckId::PackagesRegistrySet];
        assert_eq!(o.status, Status::Fail);
        assert!(o.message.contains("aisopsflow-core-debug"), "{}", o.message);
        let first = packages(&[("aisopsflow-core", "public", repo)]);
        let first = judge(&first);
        assert_eq!(first[&CheckId::PackagesRegistrySet].status, Status::Warn);
        assert_eq!(
            first[&CheckId::PackagesPublicVisibility].status,
            Status::Warn
        );
        // A package linked to another repository (or to none) fails the link check.
        let mut unlinked = all("private");
        unlinked[1].repository = None;
        let o = &judge(&unlinked)[&CheckId::PackagesLinkedRepository];
        assert_eq!(o.status, Status::Fail);
        assert!(o.message.contains("aisopsflow-runner"), "{}", o.message);
        // Only the checks asked for are judged.
        let only = package_judgements(&cfg, &all("private"), &|id| {
            id == CheckId::PackagesLinkedRepository
        });
        assert_eq!(only.len(), 1);
    }

    #[test]
    fn actions_enabled_is_judged_on_the_answers_and_the_workflow_uses() {
        let perms = |text: &str| -> crate::effects::github::ActionsPermissions {
            serde_json::from_str(text).unwrap()
        };
        let rel = std::path::Path::new(".github/workflows/publish-images.yml");
        let uses = || {
            Ok(vec![
                (
                    20,
                    "actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1".to_string(),
                ),
                (30, "aisopsflow/setup@v1".to_string()),
            ])
        };
        let judge = |p: &str, sel: Option<&SelectedActions>| {
            actions_enabled(
                "aisopsflow",
                "aisopsflow-enterprise",
                &perms(p),
                sel,
                rel,
                uses(),
            )
        };
        assert_eq!(judge(r#"{"enabled":false}"#, None).status, Status::Fail);
        assert_eq!(
            judge(r#"{"enabled":true,"allowed_actions":"all"}"#, None).status,
            Status::Pass
        );
        // local_only: actions/checkout is not the owner's, so the run would not start.
        let local = judge(r#"{"enabled":true,"allowed_actions":"local_only"}"#, None);
        assert_eq!(local.status, Status::Fail);
        assert!(
            local.message.contains("actions/checkout"),
            "{}",
            local.message
        );
        assert!(
            !local.message.contains("aisopsflow/setup"),
            "{}",
            local.message
        );
        // selected with GitHub-owned actions allowed: both are allowed.
        let sa: SelectedActions = serde_json::from_str(
            r#"{"github_owned_allowed":true,"verified_allowed":false,"patterns_allowed":[]}"#,
        )
        .unwrap();
        let selected = r#"{"enabled":true,"allowed_actions":"selected"}"#;
        assert_eq!(judge(selected, Some(&sa)).status, Status::Pass);
        // ...and without them, only a pattern would allow actions/checkout.
        let none: SelectedActions =
            serde_json::from_str(r#"{"patterns_allowed":["actions/checkout@*"]}"#).unwrap();
        assert_eq!(judge(selected, Some(&none)).status, Status::Pass);
        let nothing = SelectedActions::default();
        assert_eq!(judge(selected, Some(&nothing)).status, Status::Fail);
        // A policy GitHub did not return is a warning, never a pass.
        assert_eq!(judge(r#"{"enabled":true}"#, None).status, Status::Warn);
        // A workflow that cannot be read cannot be compared under a restricting policy.
        let unread = actions_enabled(
            "aisopsflow",
            "aisopsflow-enterprise",
            &perms(r#"{"enabled":true,"allowed_actions":"local_only"}"#),
            None,
            rel,
            Err("missing".into()),
        );
        assert_eq!(unread.status, Status::Fail);
    }

    #[test]
    fn workflow_permissions_are_judged_on_the_body_alone() {
        let ep = "GET /repos/aisopsflow/aisopsflow-enterprise/actions/permissions/workflow";
        let body = |text: &str| -> crate::effects::github::WorkflowPermissions {
            serde_json::from_str(text).unwrap()
        };
        let safe = body(
            r#"{"default_workflow_permissions":"read","can_approve_pull_request_reviews":false}"#,
        );
        let loose = body(
            r#"{"default_workflow_permissions":"write","can_approve_pull_request_reviews":true}"#,
        );
        assert_eq!(default_permissions_read(ep, &safe).status, Status::Pass);
        assert_eq!(cannot_approve_prs(ep, &safe).status, Status::Pass);
        let w = default_permissions_read(ep, &loose);
        assert_eq!(w.status, Status::Fail);
        assert!(w.message.contains("`write`"), "{}", w.message);
        assert_eq!(cannot_approve_prs(ep, &loose).status, Status::Fail);
        // The evidence names the endpoint and the field it read.
        let ev = format!("{:?}", cannot_approve_prs(ep, &loose).evidence);
        assert!(
            ev.contains("can_approve_pull_request_reviews") && ev.contains(ep),
            "{ev}"
        );
    }

    #[test]
    fn ruleset_patterns_follow_fnmatch_with_path_separators() {
        let m = |p: &str, r: &str| ruleset_pattern_matches(p, r, "main");
        assert!(m("refs/tags/v*", "refs/tags/v1.2.3"));
        assert!(m("refs/tags/v*", "refs/tags/v1.2.3-rc.1"));
        assert!(!m("refs/tags/v*", "refs/tags/release-v1.2.3"));
        assert!(m("refs/tags/release-v*", "refs/tags/release-v1.2.3"));
        assert!(!m("refs/heads/*", "refs/heads/a/b"));
        assert!(!m("refs/heads/**", "refs/heads/a/b"));
        assert!(m("refs/heads/**/*", "refs/heads/a/b"));
        assert!(m("refs/tags/v?.*", "refs/tags/v1.2"));
        assert!(m("~ALL", "refs/tags/anything"));
        assert!(m("~DEFAULT_BRANCH", "refs/heads/main"));
        assert!(!m("~DEFAULT_BRANCH", "refs/heads/dev"));
    }

    /// A `GET /repos/{owner}/{repo}/rulesets/{id}` body as GitHub documents it
    /// (`repository-ruleset`), with the fields a caller with write access sees.
    fn ruleset_body(
        id: u64,
        enforcement: &str,
        include: &[&str],
        exclude: &[&str],
        bypass: Option<serde_json::Value>,
        can_bypass: Option<&str>,
    ) -> Ruleset {
        let mut v = serde_json::json!({
            "id": id, "name": format!("release tags {id}"), "target": "tag",
            "source_type": "Repository", "source": "aisopsflow/aisopsflow-enterprise",
            "enforcement": enforcement,
            "node_id": "RRS_lACkVXNlcgQB", "created_at": "2026-11-02T10:00:00Z",
            "conditions": {"ref_name": {"include": include, "exclude": exclude}},
            "rules": [{"type": "creation"}, {"type": "update"}, {"type": "deletion"}],
            "_links": {"self": {"href": "https://api.github.com/repos/aisopsflow/aisopsflow-enterprise/rulesets/42"}}
        });
        if let Some(b) = bypass {
            v["bypass_actors"] = b;
        }
        if let Some(c) = can_bypass {
            v["current_user_can_bypass"] = c.into();
        }
        serde_json::from_value(v).unwrap()
    }

    /// The release operators `Team:release-operators` (team id 42) and `RepositoryRole:admin`.
    fn operators() -> Operators {
        Operators {
            allowed: vec![
                Allowed {
                    label: "Team:release-operators".into(),
                    actor_type: "Team".into(),
                    actor_id: Some(42),
                },
                Allowed {
                    label: "RepositoryRole:admin".into(),
                    actor_type: "RepositoryRole".into(),
                    actor_id: Some(5),
                },
            ],
            unresolved: Vec::new(),
        }
    }

    fn judge_tags(repo: &Repo, rulesets: Vec<Ruleset>, operators: Operators) -> Outcome {
        let samples = ["v", "release-v"]
            .iter()
            .flat_map(|p| ["1.2.3", "1.2.3-rc.1"].map(|v| format!("refs/tags/{p}{v}")))
            .collect();
        tag_ruleset(&TagRulesetFacts {
            owner: "aisopsflow",
            name: "aisopsflow-enterprise",
            repo,
            rulesets,
            branch: "main",
            samples,
            operators,
        })
    }

    #[test]
    fn tag_ruleset_is_judged_on_the_ruleset_bodies_alone() {
        const TAGS: [&str; 2] = ["refs/tags/v*", "refs/tags/release-v*"];
        let team = || {
            Some(
                serde_json::json!([{"actor_id": 42, "actor_type": "Team", "bypass_mode": "always"}]),
            )
        };
        let repo = repo_body(true, Some("private"));
        // Pass: active, covering both tag patterns, only the operators' team may bypass, and
        // GitHub says this caller may.
        let ok = judge_tags(
            &repo,
            vec![ruleset_body(
                7,
                "active",
                &TAGS,
                &[],
                team(),
                Some("always"),
            )],
            operators(),
        );
        assert_eq!(ok.status, Status::Pass, "{}", ok.message);
        // The ruleset's own fields lead; the list summary comes last.
        assert!(
            matches!(&ok.evidence[0], Evidence::Api { endpoint, field, value }
                if endpoint == "GET /repos/aisopsflow/aisopsflow-enterprise/rulesets/7"
                    && field == "conditions.ref_name.include"
                    && value == "refs/tags/v*, refs/tags/release-v*"),
            "{:?}",
            ok.evidence
        );
        assert!(
            matches!(ok.evidence.last(), Some(Evidence::Api { field, value, .. })
                if field == "[].name (target tag)" && value == "release tags 7 [active]"),
            "{:?}",
            ok.evidence
        );

        // No tag ruleset at all.
        let none = judge_tags(&repo, Vec::new(), Operators::default());
        assert_eq!(none.status, Status::Fail);
        assert!(
            none.message.contains(
                "no active tag ruleset with a `creation` rule covers v1.2.3, v1.2.3-rc.1, release-v1.2.3, release-v1.2.3-rc.1"
            ),
            "{}",
            none.message
        );
        assert!(
            matches!(&none.evidence[0], Evidence::Api { value, .. } if value == "(none)"),
            "{:?}",
            none.evidence
        );

        // Disabled, or only evaluated (a dry run that blocks nothing), restricts nothing.
        for enforcement in ["disabled", "evaluate"] {
            let o = judge_tags(
                &repo,
                vec![ruleset_body(
                    7,
                    enforcement,
                    &TAGS,
                    &[],
                    team(),
                    Some("always"),
                )],
                operators(),
            );
            assert_eq!(o.status, Status::Fail, "{enforcement}: {}", o.message);
            assert!(o.message.contains("covers v1.2.3"), "{}", o.message);
        }

        // A pattern that leaves release tags out: `v*` only, or prereleases excluded.
        let v_only = judge_tags(
            &repo,
            vec![ruleset_body(
                7,
                "active",
                &["refs/tags/v*"],
                &[],
                team(),
                Some("always"),
            )],
            operators(),
        );
        assert_eq!(v_only.status, Status::Fail);
        assert!(
            v_only
                .message
                .ends_with("covers release-v1.2.3, release-v1.2.3-rc.1"),
            "{}",
            v_only.message
        );
        let no_rc = judge_tags(
            &repo,
            vec![ruleset_body(
                7,
                "active",
                &TAGS,
                &["refs/tags/*-rc.*"],
                team(),
                Some("always"),
            )],
            operators(),
        );
        assert_eq!(no_rc.status, Status::Fail);
        assert!(
            no_rc
                .message
                .ends_with("covers v1.2.3-rc.1, release-v1.2.3-rc.1"),
            "{}",
            no_rc.message
        );
        // An include pattern GitHub documents as unsupported does not cover, and is named.
        let brace = judge_tags(
            &repo,
            vec![ruleset_body(
                7,
                "active",
                &["refs/tags/[^x]*"],
                &[],
                team(),
                Some("always"),
            )],
            operators(),
        );
        assert_eq!(brace.status, Status::Fail);
        assert!(
            brace.message.contains("complements a character set")
                && brace.message.contains("rewrite the pattern"),
            "{}",
            brace.message
        );

        // A bypass actor outside release_operators.
        let stray = judge_tags(
            &repo,
            vec![ruleset_body(
                7,
                "active",
                &TAGS,
                &[],
                Some(serde_json::json!([
                    {"actor_id": 42, "actor_type": "Team", "bypass_mode": "always"},
                    {"actor_id": 583231, "actor_type": "User", "bypass_mode": "always"}
                ])),
                Some("always"),
            )],
            operators(),
        );
        assert_eq!(stray.status, Status::Fail);
        assert!(
            stray.message.contains("other than the release operators")
                && stray.message.contains("User:583231 in `release tags 7`"),
            "{}",
            stray.message
        );

        // The operator running the check cannot bypass: the tag push would be refused.
        for mode in ["never", "pull_requests_only"] {
            let o = judge_tags(
                &repo,
                vec![ruleset_body(7, "active", &TAGS, &[], team(), Some(mode))],
                operators(),
            );
            assert_eq!(o.status, Status::Fail, "{mode}");
            assert!(
                o.message.contains(&format!(
                    "these credentials cannot create release tags (current_user_can_bypass: {mode} on `release tags 7`)"
                )) && o.message.contains("`release tags 7`: Team:release-operators"),
                "{}",
                o.message
            );
        }

        // Without current_user_can_bypass, the caller's role proves a RepositoryRole bypass,
        // and nothing else does.
        let admin_role = || {
            Some(
                serde_json::json!([{"actor_id": 5, "actor_type": "RepositoryRole", "bypass_mode": "always"}]),
            )
        };
        let mut admin: Repo = repo.clone();
        admin.permissions = Some(crate::effects::github::RepoPermissions {
            admin: true,
            maintain: true,
            push: true,
            pull: true,
        });
        let by_role = judge_tags(
            &admin,
            vec![ruleset_body(7, "active", &TAGS, &[], admin_role(), None)],
            operators(),
        );
        assert_eq!(by_role.status, Status::Pass, "{}", by_role.message);
        let mut writer = admin.clone();
        writer.permissions.as_mut().unwrap().admin = false;
        writer.permissions.as_mut().unwrap().maintain = false;
        let unproven = judge_tags(
            &writer,
            vec![ruleset_body(7, "active", &TAGS, &[], admin_role(), None)],
            operators(),
        );
        assert_eq!(unproven.status, Status::Warn);
        assert!(
            unproven.message.contains("did not say whether"),
            "{}",
            unproven.message
        );

        // Bypass list not returned to this token: restricted, but who may bypass is unknown.
        let hidden = judge_tags(
            &repo,
            vec![ruleset_body(7, "active", &TAGS, &[], None, Some("always"))],
            operators(),
        );
        assert_eq!(hidden.status, Status::Warn);
        assert!(
            hidden.message.contains("cannot see who may bypass"),
            "{}",
            hidden.message
        );
        // An operator that could not be resolved leaves the comparison incomplete.
        let mut partly = operators();
        partly.unresolved.push("User:gone".into());
        let o = judge_tags(
            &repo,
            vec![ruleset_body(
                7,
                "active",
                &TAGS,
                &[],
                team(),
                Some("always"),
            )],
            partly,
        );
        assert_eq!(o.status, Status::Warn);
        assert!(
            o.message
                .contains("the bypass list was not fully compared: User:gone"),
            "{}",
            o.message
        );
        // Nobody may bypass: restricted, but nobody can release.
        let o = judge_tags(
            &repo,
            vec![ruleset_body(
                7,
                "active",
                &TAGS,
                &[],
                Some(serde_json::json!([])),
                Some("never"),
            )],
            operators(),
        );
        assert_eq!(o.status, Status::Fail);
        assert!(
            o.message.contains("`release tags 7`: nobody"),
            "{}",
            o.message
        );
    }
}
