//! Online preflight checks of the repository, Actions and GHCR package settings, read through
//! the GitHub REST adapter (`effects::github`).
//!
//! Each check reports what the API said as evidence (endpoint, field, value). Answers that
//! are not about the setting itself are reported for what they are: a plan that lacks the
//! feature is a warning, a token that lacks a permission is a skip naming the permission,
//! and an unreachable or rate-limited API is an error (exit 3). Offline, or without a token,
//! every selected check is skipped with the reason and the fix.

use std::collections::BTreeSet;

use crate::checks::{CheckId, Ctx, Evidence, Outcome};
use crate::config::{Visibility, parse_actor};
use crate::effects::github::{Github, GithubError, Package, Ruleset};

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

const NO_TOKEN_FIX: &str = "run `gh auth login` or set GITHUB_TOKEN (a classic token with `repo` and `read:packages` from a repository admin)";

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
    ids.iter().map(|id| Outcome::skip(*id, why, fix)).collect()
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
            let mut o = Outcome::skip(
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
        GithubError::NotFound { .. } => Outcome::skip(
            id,
            format!(
                "{endpoint} answered 404: the resource is missing, or private and invisible to this token (GitHub answers 404 rather than 403 there)"
            ),
            "check repository.name and registry.org in release.toml, and use a classic token with `repo` and `read:packages` from a repository admin",
        ),
        GithubError::Unauthorized { .. } => Outcome::skip(
            id,
            format!("{endpoint} answered 401: the GitHub token was rejected"),
            NO_TOKEN_FIX,
        ),
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
        let ev = vec![
            Evidence::api(&repo_ep, "private", repo.private),
            Evidence::api(
                &repo_ep,
                "visibility",
                repo.visibility.as_deref().unwrap_or("(absent)"),
            ),
        ];
        out.push(
            if repo.private && repo.visibility.as_deref() != Some("public") {
                Outcome::pass(
                    CheckId::RepoPrivate,
                    format!("{} is private", repo.full_name),
                    ev,
                )
            } else {
                Outcome::fail(
                    CheckId::RepoPrivate,
                    format!("{} is not private", repo.full_name),
                    ev,
                )
            },
        );
    }
    if ctx.wants(CheckId::RepoDefaultBranchProtected) {
        out.push(default_branch_check(gh, owner, name, &repo.default_branch).await?);
    }
    if ctx.wants(CheckId::RepoTagCreationRestricted) {
        out.push(tag_ruleset_check(ctx, gh, owner, name).await?);
    }
    let perms_ep = format!("GET /repos/{owner}/{name}/actions/permissions");
    if ctx.wants(CheckId::ActionsEnabled) {
        let id = CheckId::ActionsEnabled;
        out.push(match gh.actions_permissions(owner, name).await {
            Ok(p) => {
                let mut ev = vec![Evidence::api(&perms_ep, "enabled", p.enabled)];
                if let Some(a) = &p.allowed_actions {
                    ev.push(Evidence::api(&perms_ep, "allowed_actions", a));
                }
                if p.enabled {
                    Outcome::pass(id, "GitHub Actions is enabled", ev)
                } else {
                    Outcome::fail(id, "GitHub Actions is disabled for the repository", ev)
                }
            }
            Err(e) => problem(id, e)?,
        });
    }
    if ctx.wants_any(&[
        CheckId::ActionsDefaultPermissionsRead,
        CheckId::ActionsCannotApprovePrs,
    ]) {
        let wf_ep = format!("GET /repos/{owner}/{name}/actions/permissions/workflow");
        match gh.workflow_permissions(owner, name).await {
            Ok(p) => {
                if ctx.wants(CheckId::ActionsDefaultPermissionsRead) {
                    let id = CheckId::ActionsDefaultPermissionsRead;
                    let ev = vec![Evidence::api(
                        &wf_ep,
                        "default_workflow_permissions",
                        &p.default_workflow_permissions,
                    )];
                    out.push(if p.default_workflow_permissions == "read" {
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
                    });
                }
                if ctx.wants(CheckId::ActionsCannotApprovePrs) {
                    let id = CheckId::ActionsCannotApprovePrs;
                    let ev = vec![Evidence::api(
                        &wf_ep,
                        "can_approve_pull_request_reviews",
                        p.can_approve_pull_request_reviews,
                    )];
                    out.push(if p.can_approve_pull_request_reviews {
                        Outcome::fail(
                            id,
                            "GitHub Actions may create and approve pull requests",
                            ev,
                        )
                    } else {
                        Outcome::pass(id, "GitHub Actions may not approve pull requests", ev)
                    });
                }
            }
            Err(e) => {
                for id in [
                    CheckId::ActionsDefaultPermissionsRead,
                    CheckId::ActionsCannotApprovePrs,
                ] {
                    if ctx.wants(id) {
                        out.push(problem(id, e_clone(&e))?);
                    }
                }
            }
        }
    }
    Ok(out)
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
    let id = CheckId::RepoDefaultBranchProtected;
    let prot_ep = format!("GET /repos/{owner}/{name}/branches/{branch}/protection");
    let rules_ep = format!("GET /repos/{owner}/{name}/rules/branches/{branch}");
    let classic = gh.branch_protection(owner, name, branch).await;
    let rules = gh.branch_rules(owner, name, branch).await;
    let mut ev = Vec::new();
    let mut classic_problem = None;
    match &classic {
        Ok(Some(_)) => {
            return Ok(Outcome::pass(
                id,
                format!("`{branch}` has classic branch protection"),
                vec![Evidence::api(&prot_ep, "status", 200)],
            ));
        }
        Ok(None) => ev.push(Evidence::api(&prot_ep, "message", "Branch not protected")),
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
                ev.insert(
                    0,
                    Evidence::api(&rules_ep, "[].type", protective.join(", ")),
                );
                return Ok(Outcome::pass(
                    id,
                    format!("`{branch}` is protected by an active branch ruleset"),
                    ev,
                ));
            }
            let all: Vec<&str> = rules.iter().map(|r| r.kind.as_str()).collect();
            ev.push(Evidence::api(
                &rules_ep,
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
struct Allowed {
    label: String,
    actor_type: String,
    actor_id: Option<u64>,
}

async fn resolve_operators(
    ctx: &Ctx,
    gh: &Github,
    owner: &str,
) -> anyhow::Result<(Vec<Allowed>, Vec<String>)> {
    let mut ok = Vec::new();
    let mut unresolved = Vec::new();
    for s in &ctx.ws.config.raw.repository.release_operators {
        let a = parse_actor(s).map_err(crate::exit::usage)?;
        let id = match (a.actor_type.as_str(), a.name.as_deref()) {
            ("OrganizationAdmin", _) | ("DeployKey", _) => None,
            ("Team", Some(slug)) => match gh.team_id(owner, slug).await {
                Ok(id) => Some(id),
                Err(e) if GithubError::find(&e).is_some() => {
                    unresolved.push(format!("{s} ({})", GithubError::find(&e).map(|g| g.to_string()).unwrap_or_default()));
                    continue;
                }
                Err(e) => return Err(e),
            },
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

async fn tag_ruleset_check(
    ctx: &Ctx,
    gh: &Github,
    owner: &str,
    name: &str,
) -> anyhow::Result<Outcome> {
    let mut o = tag_ruleset_inner(ctx, gh, owner, name).await?;
    // The list of rulesets is context; the matching ruleset's own fields should lead, since
    // reports show the first few pieces of evidence.
    let is_summary =
        |e: &Evidence| matches!(e, Evidence::Api { field, .. } if field.starts_with("[].name"));
    if o.evidence.len() > 1 && is_summary(&o.evidence[0]) {
        let summary = o.evidence.remove(0);
        o.evidence.push(summary);
    }
    Ok(o)
}

async fn tag_ruleset_inner(
    ctx: &Ctx,
    gh: &Github,
    owner: &str,
    name: &str,
) -> anyhow::Result<Outcome> {
    let id = CheckId::RepoTagCreationRestricted;
    let list_ep = format!("GET /repos/{owner}/{name}/rulesets");
    let summaries = match gh.rulesets(owner, name).await {
        Ok(s) => s,
        Err(e) => return problem(id, e),
    };
    let mut full: Vec<Ruleset> = Vec::new();
    for s in &summaries {
        if s.target.as_deref().is_some_and(|t| t != "tag") {
            continue;
        }
        match gh.ruleset(owner, name, s.id).await {
            Ok(r) => full.push(r),
            Err(e) => return problem(id, e),
        }
    }
    let branch = &ctx.ws.config.raw.repository.default_branch;
    let samples = sample_tags(ctx);
    let mut ev = vec![Evidence::api(
        &list_ep,
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
    // Every sample tag must be covered by an active tag ruleset with a creation rule.
    let covers = |r: &Ruleset, tag: &str| {
        let cond = r
            .conditions
            .as_ref()
            .and_then(|c| c.ref_name.clone())
            .unwrap_or_default();
        cond.include
            .iter()
            .any(|p| ruleset_pattern_matches(p, tag, branch))
            && !cond
                .exclude
                .iter()
                .any(|p| ruleset_pattern_matches(p, tag, branch))
    };
    let restricting: Vec<&Ruleset> = full
        .iter()
        .filter(|r| {
            r.target.as_deref() == Some("tag")
                && r.enforcement == "active"
                && r.rules.iter().any(|x| x.kind == "creation")
        })
        .collect();
    let uncovered: Vec<String> = samples
        .iter()
        .filter(|t| !restricting.iter().any(|r| covers(r, t)))
        .cloned()
        .collect();
    for r in &full {
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
    }
    if !uncovered.is_empty() {
        return Ok(Outcome::fail(
            id,
            format!(
                "no active tag ruleset with a `creation` rule covers {}",
                uncovered
                    .iter()
                    .map(|t| t.trim_start_matches("refs/tags/"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            ev,
        ));
    }
    // Bypass lists of the rulesets that cover release tags must name only release operators.
    let relevant: Vec<&Ruleset> = restricting
        .iter()
        .copied()
        .filter(|r| samples.iter().any(|t| covers(r, t)))
        .collect();
    let (allowed, unresolved) = resolve_operators(ctx, gh, owner).await?;
    let mut strays = Vec::new();
    let mut hidden = Vec::new();
    let mut empty = Vec::new();
    for r in &relevant {
        let ep = format!("GET /repos/{owner}/{name}/rulesets/{}", r.id);
        match &r.bypass_actors {
            None => {
                hidden.push(r.name.clone());
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
    }
    let allowed_labels: BTreeSet<&str> = allowed.iter().map(|a| a.label.as_str()).collect();
    if !strays.is_empty() {
        return Ok(Outcome::fail(
            id,
            format!(
                "the tag ruleset lets actors other than the release operators ({}) bypass tag creation: {}",
                allowed_labels.into_iter().collect::<Vec<_>>().join(", "),
                strays.join("; ")
            ),
            ev,
        ));
    }
    if !hidden.is_empty() {
        return Ok(Outcome::warn(
            id,
            format!(
                "tag creation is restricted, but the token cannot see who may bypass ruleset(s) {}: GitHub returns bypass_actors only to callers with write access to the ruleset; use a repository admin's token (classic `repo`, or fine-grained Administration: write)",
                hidden.join(", ")
            ),
            ev,
        ));
    }
    if !unresolved.is_empty() {
        return Ok(Outcome::warn(
            id,
            format!(
                "tag creation is restricted, but these release operators could not be resolved to ids, so the bypass list was not fully compared: {}; use a token that can read the organisation's teams (classic `read:org`)",
                unresolved.join(", ")
            ),
            ev,
        ));
    }
    if !empty.is_empty() {
        return Ok(Outcome::warn(
            id,
            format!(
                "tag ruleset(s) {} have no bypass actors: nobody, including the release operators, can create release tags",
                empty.join(", ")
            ),
            ev,
        ));
    }
    Ok(Outcome::pass(
        id,
        "release tags can only be created by the release operators (an active tag ruleset restricts creation)",
        ev,
    ))
}

async fn package_checks(ctx: &Ctx, gh: &Github) -> anyhow::Result<Vec<Outcome>> {
    let cfg = &ctx.ws.config;
    let org = cfg.org();
    let ep = format!("GET /orgs/{org}/packages?package_type=container");
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
    let find = |n: &str| packages.iter().find(|p| p.name == n);
    let images = cfg.all_images();
    let mut out = Vec::new();
    if ctx.wants(CheckId::PackagesRegistrySet) {
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
        out.push(if !strays.is_empty() {
            Outcome::fail(
                id,
                format!("stray package(s) outside the allowlist: {}", strays.join(", ")),
                ev,
            )
        } else if !missing.is_empty() {
            Outcome::warn(
                id,
                format!("no stray packages, but {} of the allowed packages do not exist yet (the first release creates them)", missing.len()),
                ev,
            )
        } else {
            Outcome::pass(id, "the organisation's packages are exactly the allowed ones", ev)
        });
    }
    for (id, vis) in [
        (CheckId::PackagesPublicVisibility, Visibility::Public),
        (CheckId::PackagesCommercialPrivate, Visibility::Private),
    ] {
        if !ctx.wants(id) {
            continue;
        }
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
        out.push(if !wrong.is_empty() {
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
        });
    }
    if ctx.wants(CheckId::PackagesLinkedRepository) {
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
        out.push(if !bad.is_empty() {
            Outcome::fail(id, format!("not linked to {want}: {}", bad.join(", ")), ev)
        } else if ev.is_empty() {
            Outcome::warn(
                id,
                "no package exists yet to check",
                vec![Evidence::api(&ep, "[].name", "(none of ours)")],
            )
        } else {
            Outcome::pass(id, format!("every package is linked to {want}"), ev)
        });
    }
    Ok(out)
}

/// Whether a ruleset `ref_name` pattern matches `full_ref`. Patterns are fnmatch-style with
/// `*` not crossing `/` and `**` crossing it; `~ALL` matches everything and
/// `~DEFAULT_BRANCH` matches `refs/heads/<default>`.
pub fn ruleset_pattern_matches(pattern: &str, full_ref: &str, default_branch: &str) -> bool {
    match pattern {
        "~ALL" => true,
        "~DEFAULT_BRANCH" => full_ref == format!("refs/heads/{default_branch}"),
        p => glob(p.as_bytes(), full_ref.as_bytes()),
    }
}

fn glob(p: &[u8], s: &[u8]) -> bool {
    match p.first() {
        None => s.is_empty(),
        Some(b'*') if p.get(1) == Some(&b'*') => (0..=s.len()).any(|i| glob(&p[2..], &s[i..])),
        Some(b'*') => (0..=s.len())
            .take_while(|&i| i == 0 || s[i - 1] != b'/')
            .any(|i| glob(&p[1..], &s[i..])),
        Some(b'?') => !s.is_empty() && s[0] != b'/' && glob(&p[1..], &s[1..]),
        Some(c) => s.first() == Some(c) && glob(&p[1..], &s[1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ruleset_patterns_follow_fnmatch_with_path_separators() {
        let m = |p: &str, r: &str| ruleset_pattern_matches(p, r, "main");
        assert!(m("refs/tags/v*", "refs/tags/v1.2.3"));
        assert!(m("refs/tags/v*", "refs/tags/v1.2.3-rc.1"));
        assert!(!m("refs/tags/v*", "refs/tags/release-v1.2.3"));
        assert!(m("refs/tags/release-v*", "refs/tags/release-v1.2.3"));
        assert!(!m("refs/heads/*", "refs/heads/a/b"));
        assert!(m("refs/heads/**", "refs/heads/a/b"));
        assert!(m("refs/tags/v?.*", "refs/tags/v1.2"));
        assert!(m("~ALL", "refs/tags/anything"));
        assert!(m("~DEFAULT_BRANCH", "refs/heads/main"));
        assert!(!m("~DEFAULT_BRANCH", "refs/heads/dev"));
    }
}
