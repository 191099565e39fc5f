//! The stand-in's REST surface: routing, authorisation and JSON rendering of the `World`,
//! following section 15 of `github-and-ghcr-api.md`.
//!
//! Routing works on the raw (still percent-encoded) path, so `app%2Fworker` is one package
//! name while an unencoded `app/worker` falls through to 404, as on GitHub.

use std::collections::BTreeMap;

use axum::http::{HeaderMap, Method};
use bytes::Bytes;
use serde_json::{Value, json};

use super::fnmatch::{actions_filter_matches, ruleset_matches};
use super::world::{Role, RulesetSeed, RunSeed, TokenKind, TokenSeed, World};
use crate::effects::github::{API_2022, API_2026};
use crate::time::{parse_rfc3339, rfc3339};

pub(crate) const DOCS: &str = "https://docs.github.com/rest";
pub(crate) const SUPPORTED_VERSIONS: [&str; 2] = [API_2022, API_2026];

/// One parsed request.
pub struct Req {
    pub method: Method,
    /// Raw path, percent-encoded as sent.
    pub path: String,
    pub raw_query: Option<String>,
    pub query: Vec<(String, String)>,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub token: Option<String>,
    pub api_version: String,
    pub base_url: String,
}

impl Req {
    pub fn q(&self, k: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    }
}

/// A response before the common headers are added.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: Option<Value>,
    pub headers: Vec<(String, String)>,
}

impl Reply {
    pub fn ok(body: Value) -> Reply {
        Reply {
            status: 200,
            body: Some(body),
            headers: Vec::new(),
        }
    }
    pub fn status(status: u16, body: Value) -> Reply {
        Reply {
            status,
            body: Some(body),
            headers: Vec::new(),
        }
    }
    pub fn empty(status: u16) -> Reply {
        Reply {
            status,
            body: None,
            headers: Vec::new(),
        }
    }
    pub fn error(status: u16, message: &str) -> Reply {
        Reply::status(
            status,
            json!({"message": message, "documentation_url": DOCS, "status": status.to_string()}),
        )
    }
    pub(crate) fn not_found() -> Reply {
        Reply::error(404, "Not Found")
    }
    pub fn validation(message: &str, errors: Value) -> Reply {
        Reply::status(
            422,
            json!({"message": message, "documentation_url": DOCS, "status": "422", "errors": errors}),
        )
    }
    pub fn header(mut self, k: &str, v: impl Into<String>) -> Reply {
        self.headers.push((k.to_string(), v.into()));
        self
    }
}

/// What an endpoint needs from the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    Public,
    Metadata,
    Admin,
    ActionsRead,
    ActionsWrite,
    OrgRead,
    ContentsRead,
    ContentsWrite,
    Packages,
}

impl Need {
    pub fn permission(self) -> Option<&'static str> {
        Some(match self {
            Need::Metadata => "metadata=read",
            Need::Admin => "administration=read",
            Need::ActionsRead => "actions=read",
            Need::ActionsWrite => "actions=write",
            Need::ContentsRead => "contents=read",
            Need::ContentsWrite => "contents=write",
            Need::OrgRead => "members=read",
            Need::Public | Need::Packages => return None,
        })
    }
    pub fn scope(self) -> &'static str {
        match self {
            Need::Packages => "read:packages",
            Need::OrgRead => "read:org",
            Need::Public => "",
            _ => "repo",
        }
    }
}

/// A workflow trigger the server completes outside the world lock (hooks may create runs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    /// `POST .../dispatches`.
    Dispatch {
        workflow: String,
        git_ref: String,
        sha: String,
        inputs: BTreeMap<String, String>,
        actor: String,
    },
    /// A tag was created (by `POST git/refs`, `POST releases` or `StandIn::push_tag`).
    TagPush {
        workflow: String,
        tag: String,
        sha: String,
        actor: String,
    },
}

/// The result of routing.
pub enum Routed {
    Reply(Need, Reply, Vec<Trigger>),
    /// A dispatch that passed validation; the server runs the hook, then answers.
    Dispatch {
        trigger: Trigger,
        details: bool,
    },
}

fn reply(need: Need, r: Reply) -> Routed {
    Routed::Reply(need, r, Vec::new())
}

/// Checks the caller against `need`; `Err` is the answer GitHub would give.
pub(crate) fn authorize(w: &World, tok: Option<&TokenSeed>, need: Need) -> Result<(), Reply> {
    let forbidden = |msg: &str| {
        let mut r = Reply::error(403, msg);
        if let Some(p) = need.permission() {
            r = r.header("x-accepted-github-permissions", p);
        }
        r
    };
    match need {
        Need::Public => Ok(()),
        Need::Packages => match tok {
            None => Err(Reply::error(401, "Requires authentication")),
            Some(t) => match &t.kind {
                TokenKind::Classic { scopes } => {
                    if scopes.iter().any(|s| {
                        matches!(
                            s.as_str(),
                            "read:packages" | "write:packages" | "delete:packages"
                        )
                    }) {
                        Ok(())
                    } else {
                        Err(Reply::error(
                            403,
                            "You need at least read:packages scope to list packages.",
                        ))
                    }
                }
                TokenKind::FineGrained { .. } => Err(forbidden(
                    "Resource not accessible by personal access token (GitHub Packages supports only classic tokens)",
                )),
            },
        },
        _ => {
            let write = matches!(need, Need::ActionsWrite | Need::ContentsWrite);
            let Some(t) = tok else {
                if w.private {
                    return Err(Reply::not_found());
                }
                return if write || need == Need::Admin {
                    Err(Reply::error(401, "Requires authentication"))
                } else {
                    Ok(())
                };
            };
            let role = if !w.private && t.role == Role::None {
                Role::Read
            } else {
                t.role
            };
            match &t.kind {
                TokenKind::Classic { scopes } => {
                    if w.private && (role < Role::Read || !scopes.iter().any(|s| s == "repo")) {
                        return Err(Reply::not_found());
                    }
                }
                TokenKind::FineGrained { permissions } => {
                    if role < Role::Read && w.private {
                        return Err(Reply::not_found());
                    }
                    let (key, level) = need
                        .permission()
                        .and_then(|p| p.split_once('='))
                        .unwrap_or(("metadata", "read"));
                    let has = permissions.get(key).map(String::as_str);
                    let ok = key == "metadata"
                        || has == Some("write")
                        || (level == "read" && has == Some("read"));
                    if !ok {
                        return Err(forbidden(
                            "Resource not accessible by personal access token",
                        ));
                    }
                }
            }
            if need == Need::Admin && role < Role::Admin {
                return Err(forbidden("Must have admin rights to Repository."));
            }
            if write && role < Role::Write {
                return Err(forbidden(
                    "Resource not accessible by personal access token",
                ));
            }
            Ok(())
        }
    }
}

/// Splits `per_page`/`page`, returns the page of `items` and the `link` header.
pub(crate) fn paginate(req: &Req, items: Vec<Value>) -> (Vec<Value>, Option<String>, usize) {
    let per_page = req
        .q("per_page")
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|n| *n > 0)
        .unwrap_or(30)
        .min(100);
    let page = req
        .q("page")
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|n| *n > 0)
        .unwrap_or(1);
    let total = items.len();
    let last = total.div_ceil(per_page).max(1);
    let slice: Vec<Value> = items
        .into_iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .collect();
    if last <= 1 {
        return (slice, None, total);
    }
    let url_for = |p: usize| {
        let mut pairs: Vec<String> = req
            .query
            .iter()
            .filter(|(k, _)| k != "page" && k != "per_page")
            .map(|(k, v)| format!("{}={}", enc_q(k), enc_q(v)))
            .collect();
        pairs.push(format!("per_page={per_page}"));
        pairs.push(format!("page={p}"));
        format!("<{}{}?{}>", req.base_url, req.path, pairs.join("&"))
    };
    let mut links = Vec::new();
    if page > 1 {
        links.push(format!("{}; rel=\"prev\"", url_for(page - 1)));
    }
    if page < last {
        links.push(format!("{}; rel=\"next\"", url_for(page + 1)));
        links.push(format!("{}; rel=\"last\"", url_for(last)));
    }
    if page > 1 {
        links.push(format!("{}; rel=\"first\"", url_for(1)));
    }
    (slice, Some(links.join(", ")), total)
}

fn enc_q(s: &str) -> String {
    crate::effects::github::enc(s)
}

/// Percent-decodes a path segment; `None` if malformed.
pub fn decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn list_reply(req: &Req, items: Vec<Value>, wrap: Option<&str>) -> Reply {
    let (page, link, total) = paginate(req, items);
    let body = match wrap {
        Some(k) => json!({"total_count": total, k: page}),
        None => Value::Array(page),
    };
    let mut r = Reply::ok(body);
    if let Some(l) = link {
        r = r.header("link", l);
    }
    r
}

/// Routes a request. `tok` is the caller, already known to be a valid token or none.
pub fn route(w: &mut World, req: &Req, tok: Option<&TokenSeed>) -> Routed {
    let segs: Vec<&str> = req.path.trim_start_matches('/').split('/').collect();
    let m = &req.method;
    let get = *m == Method::GET;
    let post = *m == Method::POST;
    // A trailing slash is a 404 on GitHub.
    if req.path.len() > 1 && req.path.ends_with('/') {
        return reply(Need::Public, Reply::not_found());
    }
    match segs.as_slice() {
        ["rate_limit"] if get => reply(Need::Public, rate_limit_json(w, req)),
        ["orgs", org, "teams", slug] if get => {
            // Teams are organisation data: a classic token needs `read:org` (or more), a
            // fine-grained one Members: read. Without it GitHub hides the team (404).
            if !eq(org, &w.org) || tok.is_none_or(|t| t.role < Role::Read || !can_read_org(t)) {
                return reply(Need::OrgRead, Reply::not_found());
            }
            match w.teams.get(*slug) {
                Some(id) => reply(Need::OrgRead, Reply::ok(team_full_json(w, req, slug, *id))),
                None => reply(Need::OrgRead, Reply::not_found()),
            }
        }
        ["users", login] if get => match w.users.get(*login) {
            Some(id) => reply(
                Need::Public,
                Reply::ok(public_user_json(w, req, login, *id)),
            ),
            None => reply(Need::Public, Reply::not_found()),
        },
        ["orgs", org, "packages"] if get => {
            if !eq(org, &w.org) {
                return reply(Need::Packages, Reply::not_found());
            }
            if let Err(r) = authorize(w, tok, Need::Packages) {
                return reply(Need::Packages, r);
            }
            packages_list(w, req, tok)
        }
        ["orgs", org, "packages", ptype, name] if get => {
            with_package(w, req, tok, org, ptype, name, |w, req, p| {
                Reply::ok(package_json(w, req, p))
            })
        }
        ["orgs", org, "packages", ptype, name, "versions"] if get => {
            with_package(w, req, tok, org, ptype, name, |w, req, p| {
                let state = req.q("state").unwrap_or("active");
                if state == "deleted" {
                    return list_reply(req, Vec::new(), None);
                }
                let mut vs = p.versions.clone();
                vs.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
                let items = vs
                    .iter()
                    .map(|v| {
                        json!({
                            "id": v.id, "name": v.digest,
                            "url": format!("{}/orgs/{}/packages/container/{}/versions/{}", req.base_url, w.org, enc_q(&p.name), v.id),
                            "package_html_url": format!("https://github.com/orgs/{}/packages/container/package/{}", w.org, p.name),
                            "html_url": format!("https://github.com/orgs/{}/packages/container/{}/{}", w.org, p.name, v.id),
                            "created_at": rfc3339(v.created_at), "updated_at": rfc3339(v.created_at),
                            "metadata": {"package_type": "container", "container": {"tags": v.tags}}
                        })
                    })
                    .collect();
                list_reply(req, items, None)
            })
        }
        ["repos", owner, repo, rest @ ..] => {
            if !eq(owner, &w.owner) || !eq(repo, &w.repo) {
                return reply(Need::Metadata, Reply::not_found());
            }
            repo_route(w, req, tok, rest, get, post)
        }
        _ => reply(Need::Public, Reply::not_found()),
    }
}

fn can_read_org(t: &TokenSeed) -> bool {
    match &t.kind {
        TokenKind::Classic { scopes } => scopes
            .iter()
            .any(|s| matches!(s.as_str(), "read:org" | "write:org" | "admin:org")),
        TokenKind::FineGrained { permissions } => permissions.contains_key("members"),
    }
}

fn eq(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

fn with_package(
    w: &World,
    req: &Req,
    tok: Option<&TokenSeed>,
    org: &str,
    ptype: &str,
    name: &str,
    f: impl FnOnce(&World, &Req, &super::world::PackageSeed) -> Reply,
) -> Routed {
    if !eq(org, &w.org) {
        return reply(Need::Packages, Reply::error(404, "Package not found."));
    }
    if let Err(r) = authorize(w, tok, Need::Packages) {
        return reply(Need::Packages, r);
    }
    let Some(name) = decode(name) else {
        return reply(Need::Packages, Reply::error(404, "Package not found."));
    };
    let found = w
        .packages
        .iter()
        .find(|p| p.name == name && p.package_type == ptype && package_visible(p, tok));
    match found {
        Some(p) => reply(Need::Packages, f(w, req, p)),
        None => reply(Need::Packages, Reply::error(404, "Package not found.")),
    }
}

fn package_visible(p: &super::world::PackageSeed, tok: Option<&TokenSeed>) -> bool {
    p.visibility == "public" || tok.is_some_and(|t| t.role >= Role::Read)
}

fn packages_list(w: &World, req: &Req, tok: Option<&TokenSeed>) -> Routed {
    // Observed, not in the description (cli/cli#9606, actions/github-script#449): the list
    // answers 400 "Invalid argument." to a GitHub Actions installation token.
    if tok.is_some_and(|t| t.installation) {
        return reply(Need::Packages, Reply::error(400, "Invalid argument."));
    }
    let Some(ptype) = req.q("package_type") else {
        return reply(
            Need::Packages,
            Reply::validation(
                "Invalid request.\n\n\"package_type\" wasn't supplied.",
                json!([{"resource": "Package", "field": "package_type", "code": "missing_field"}]),
            ),
        );
    };
    let per_page: usize = req
        .q("per_page")
        .and_then(|v| v.parse().ok())
        .unwrap_or(30)
        .min(100);
    let page: usize = req.q("page").and_then(|v| v.parse().ok()).unwrap_or(1);
    if per_page * page > 10_000 {
        return reply(
            Need::Packages,
            Reply::error(
                400,
                "Pagination is limited to 10000 items: per_page * page must be at most 10000.",
            ),
        );
    }
    let vis = req.q("visibility");
    let mut ps: Vec<&super::world::PackageSeed> = w
        .packages
        .iter()
        .filter(|p| p.package_type == ptype && package_visible(p, tok))
        .filter(|p| vis.is_none_or(|v| v == p.visibility))
        .collect();
    ps.sort_by(|a, b| a.name.cmp(&b.name));
    let items = ps.iter().map(|p| package_json(w, req, p)).collect();
    reply(Need::Packages, list_reply(req, items, None))
}

fn package_json(w: &World, req: &Req, p: &super::world::PackageSeed) -> Value {
    let mut v = json!({
        "id": p.id, "name": p.name, "package_type": p.package_type,
        "owner": simple_user_json(req, &w.org, 1, "Organization"),
        "version_count": p.versions.len(), "visibility": p.visibility,
        "url": format!("{}/orgs/{}/packages/{}/{}", req.base_url, w.org, p.package_type, enc_q(&p.name)),
        "html_url": format!("https://github.com/orgs/{}/packages/{}/package/{}", w.org, p.package_type, p.name),
        "created_at": rfc3339(p.created_at), "updated_at": rfc3339(p.created_at),
    });
    if p.linked {
        v["repository"] = minimal_repo_json(w, req);
    }
    v
}

fn rate_limit_json(w: &World, req: &Req) -> Reply {
    let core = json!({"limit": w.rate.limit, "remaining": w.rate.limit.saturating_sub(w.rate.used), "reset": w.rate.reset, "used": w.rate.used, "resource": "core"});
    let mut body = json!({"resources": {"core": core}});
    if req.api_version == API_2022 {
        body["rate"] = core;
    }
    Reply::ok(body)
}

fn ruleset_source(w: &World, rs: &RulesetSeed) -> String {
    if rs.source_type == "Repository" {
        w.full_name()
    } else {
        w.org.clone()
    }
}

fn plan_gate(w: &World) -> Option<Reply> {
    (w.plan_limited && w.private).then(|| {
        Reply::error(
            403,
            "Upgrade to GitHub Pro or make this repository public to enable this feature.",
        )
    })
}

fn ruleset_applies(rs: &RulesetSeed, full_ref: &str, default_branch: &str) -> bool {
    rs.include
        .iter()
        .any(|p| ruleset_matches(p, full_ref, default_branch))
        && !rs
            .exclude
            .iter()
            .any(|p| ruleset_matches(p, full_ref, default_branch))
}

/// Whether creating `full_ref` is blocked for the caller by an active ruleset.
pub(crate) fn creation_blocked(w: &World, tok: Option<&TokenSeed>, full_ref: &str) -> bool {
    let target = if full_ref.starts_with("refs/tags/") {
        "tag"
    } else {
        "branch"
    };
    w.rulesets.iter().any(|rs| {
        rs.target == target
            && rs.enforcement == "active"
            && rs.rules.iter().any(|(t, _)| t == "creation")
            && ruleset_applies(rs, full_ref, &w.default_branch)
            && !w.can_bypass(tok, rs)
    })
}

fn rule_violation() -> Reply {
    Reply::validation(
        "Repository rule violations found\n\nCannot create ref due to creations being restricted.\n\n",
        json!([]),
    )
}

fn run_visible(r: &RunSeed) -> bool {
    std::time::Instant::now() >= r.visible_at
}

fn run_json(w: &World, req: &Req, r: &RunSeed) -> Value {
    let wf = w.workflows.iter().find(|x| x.id == r.workflow_id);
    let base = format!("{}/repos/{}", req.base_url, w.full_name());
    let run = format!("{base}/actions/runs/{}", r.id);
    let actor = simple_user_json(req, &r.actor, actor_id(w, &r.actor), "User");
    let created = rfc3339(r.created_at);
    let mut v = json!({
        "id": r.id, "name": wf.map(|x| x.name.clone()), "node_id": format!("WFR_{}", r.id),
        "check_suite_id": r.id + 1, "check_suite_node_id": format!("CS_{}", r.id + 1),
        "workflow_id": r.workflow_id,
        "path": wf.map(|x| format!("{}@{}", x.path, r.head_branch.clone().unwrap_or_default())).unwrap_or_default(),
        "event": r.event, "head_branch": r.head_branch, "head_sha": r.head_sha,
        "run_number": r.run_number, "run_attempt": r.run_attempt,
        "status": r.status, "conclusion": r.conclusion, "display_title": r.display_title,
        "url": run.clone(),
        "html_url": format!("https://github.com/{}/actions/runs/{}", w.full_name(), r.id),
        "jobs_url": format!("{run}/jobs"), "logs_url": format!("{run}/logs"),
        "check_suite_url": format!("{base}/check-suites/{}", r.id + 1),
        "artifacts_url": format!("{run}/artifacts"), "cancel_url": format!("{run}/cancel"),
        "rerun_url": format!("{run}/rerun"), "previous_attempt_url": Value::Null,
        "workflow_url": format!("{base}/actions/workflows/{}", r.workflow_id),
        "pull_requests": [], "referenced_workflows": [],
        "created_at": created, "updated_at": rfc3339(r.updated_at), "run_started_at": created,
    });
    let person = json!({"name": r.actor, "email": format!("{}@users.noreply.github.com", r.actor)});
    let more = [
        ("actor", actor.clone()),
        ("triggering_actor", actor),
        (
            "head_commit",
            json!({
                "id": r.head_sha, "tree_id": super::world::fake_sha(&format!("tree {}", r.head_sha)),
                "message": r.display_title, "timestamp": created,
                "author": person.clone(), "committer": person,
            }),
        ),
        ("repository", minimal_repo_json(w, req)),
        ("head_repository", minimal_repo_json(w, req)),
    ];
    for (k, x) in more {
        v[k] = x;
    }
    v
}

/// A user id for a login the world may not know (runs name their actor by login).
fn actor_id(w: &World, login: &str) -> u64 {
    w.users
        .get(login)
        .copied()
        .or_else(|| {
            w.tokens
                .values()
                .find(|t| t.login == login)
                .map(|t| t.user_id)
        })
        .unwrap_or(41_898_282)
}

fn created_matches(expr: &str, t: u64) -> bool {
    let e = expr.trim();
    if let Some((a, b)) = e.split_once("..") {
        let lo = if a == "*" { Some(0) } else { parse_rfc3339(a) };
        let hi = if b == "*" {
            Some(u64::MAX)
        } else {
            // A bare date as the upper bound includes that whole day.
            parse_rfc3339(b).map(|h| if b.contains('T') { h } else { h + 86_399 })
        };
        return matches!((lo, hi), (Some(l), Some(h)) if t >= l && t <= h);
    }
    for (op, f) in [
        (">=", (|t: u64, x: u64| t >= x) as fn(u64, u64) -> bool),
        ("<=", |t, x| t <= x),
        (">", |t, x| t > x),
        ("<", |t, x| t < x),
    ] {
        if let Some(rest) = e.strip_prefix(op) {
            return parse_rfc3339(rest).is_some_and(|x| f(t, x));
        }
    }
    // A bare date matches that day.
    parse_rfc3339(e).is_some_and(|x| {
        if e.contains('T') {
            t == x
        } else {
            t >= x && t < x + 86_400
        }
    })
}

const STATUSES: [&str; 6] = [
    "requested",
    "queued",
    "pending",
    "waiting",
    "in_progress",
    "completed",
];

fn resolve_ref(w: &World, r: &str) -> Option<(String, String)> {
    let candidates = if r.starts_with("refs/") {
        vec![r.to_string()]
    } else {
        vec![format!("refs/heads/{r}"), format!("refs/tags/{r}")]
    };
    for c in candidates {
        if let Some(seed) = w.refs.get(&c) {
            let sha = if seed.object_type == "tag" {
                w.tag_objects
                    .get(&seed.sha)
                    .map(|t| t.commit.clone())
                    .unwrap_or(seed.sha.clone())
            } else {
                seed.sha.clone()
            };
            let short = c
                .trim_start_matches("refs/heads/")
                .trim_start_matches("refs/tags/")
                .to_string();
            return Some((short, sha));
        }
    }
    None
}

fn ref_json(w: &World, req: &Req, name: &str, seed: &super::world::RefSeed) -> Value {
    let base = format!("{}/repos/{}", req.base_url, w.full_name());
    let kind = if seed.object_type == "tag" {
        "tags"
    } else {
        "commits"
    };
    json!({
        "ref": name, "node_id": format!("REF_{}", enc_q(name)),
        "url": format!("{base}/git/{name}"),
        "object": {"type": seed.object_type, "sha": seed.sha, "url": format!("{base}/git/{kind}/{}", seed.sha)}
    })
}

/// Workflows whose `on.push.tags` match `tag`.
pub(crate) fn push_triggers(w: &World, tag: &str, sha: &str, actor: &str) -> Vec<Trigger> {
    w.workflows
        .iter()
        .filter(|wf| wf.push_tags.iter().any(|p| actions_filter_matches(p, tag)))
        .map(|wf| Trigger::TagPush {
            workflow: wf.path.clone(),
            tag: tag.to_string(),
            sha: sha.to_string(),
            actor: actor.to_string(),
        })
        .collect()
}

fn body_json(req: &Req) -> Result<Value, Reply> {
    if req.body.is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_slice(&req.body).map_err(|_| Reply::error(400, "Problems parsing JSON"))
}

fn repo_route(
    w: &mut World,
    req: &Req,
    tok: Option<&TokenSeed>,
    rest: &[&str],
    get: bool,
    post: bool,
) -> Routed {
    let need_for = |rest: &[&str], post: bool| -> Need {
        match rest {
            [] => Need::Metadata,
            ["branches", _, "protection"] => Need::Admin,
            ["rules", ..] | ["rulesets", ..] => Need::Metadata,
            ["tags", "protection", ..] => Need::Admin,
            ["actions", "permissions", ..] => Need::Admin,
            ["actions", "workflows", _, "dispatches"] => Need::ActionsWrite,
            ["actions", ..] => Need::ActionsRead,
            _ if post => Need::ContentsWrite,
            _ => Need::ContentsRead,
        }
    };
    let need = need_for(rest, post);
    if let Err(r) = authorize(w, tok, need) {
        return reply(need, r);
    }
    let actor = tok
        .map(|t| t.login.clone())
        .unwrap_or_else(|| "anonymous".into());
    let r = match rest {
        [] if get => Reply::ok(full_repo_json(w, req, tok)),
        ["branches", b, "protection"] if get => {
            if let Some(p) = plan_gate(w) {
                p
            } else {
                let b = decode(b).unwrap_or_default();
                match w.classic_protection.get(&b) {
                    Some(p) => {
                        let mut p = p.clone();
                        let url = format!(
                            "{}/repos/{}/branches/{b}/protection",
                            req.base_url,
                            w.full_name()
                        );
                        // Sub-objects carry their own `url` (`protected-branch-*` schemas).
                        for (k, tail) in [
                            ("enforce_admins", "/enforce_admins"),
                            (
                                "required_pull_request_reviews",
                                "/required_pull_request_reviews",
                            ),
                            ("required_signatures", "/required_signatures"),
                            ("required_status_checks", "/required_status_checks"),
                        ] {
                            if let Some(o) = p.get_mut(k).and_then(Value::as_object_mut) {
                                o.entry("url").or_insert(json!(format!("{url}{tail}")));
                            }
                        }
                        p["url"] = json!(url);
                        Reply::ok(p)
                    }
                    None => Reply::error(404, "Branch not protected"),
                }
            }
        }
        ["rules", "branches", b] if get => {
            let b = decode(b).unwrap_or_default();
            let full = format!("refs/heads/{b}");
            let mut items = Vec::new();
            // On a plan without rulesets, no ruleset is enforced, so no rule applies.
            if plan_gate(w).is_none() {
                for rs in w.rulesets.iter().filter(|rs| {
                    rs.target == "branch"
                        && rs.enforcement == "active"
                        && ruleset_applies(rs, &full, &w.default_branch)
                }) {
                    for (t, p) in &rs.rules {
                        let mut v = json!({"type": t, "ruleset_source_type": rs.source_type, "ruleset_source": ruleset_source(w, rs), "ruleset_id": rs.id});
                        if let Some(p) = p {
                            v["parameters"] = p.clone();
                        }
                        items.push(v);
                    }
                }
            }
            list_reply(req, items, None)
        }
        ["rulesets"] if get => {
            if let Some(p) = plan_gate(w) {
                p
            } else {
                let targets: Option<Vec<&str>> = req
                    .q("targets")
                    .map(|t| t.split(',').map(str::trim).collect());
                // `includes_parents` defaults to true: organisation rulesets are listed too.
                let parents = req.q("includes_parents") != Some("false");
                let items = w
                    .rulesets
                    .iter()
                    .filter(|rs| targets.as_ref().is_none_or(|t| t.contains(&rs.target.as_str())))
                    .filter(|rs| parents || rs.source_type == "Repository")
                    .map(|rs| {
                        json!({
                            "id": rs.id, "name": rs.name, "target": rs.target, "source_type": rs.source_type,
                            "source": ruleset_source(w, rs), "enforcement": rs.enforcement, "node_id": format!("RRS_{}", rs.id),
                            "_links": {"self": {"href": format!("{}/repos/{}/rulesets/{}", req.base_url, w.full_name(), rs.id)}},
                            "created_at": rfc3339(rs.created_at), "updated_at": rfc3339(rs.created_at),
                        })
                    })
                    .collect();
                list_reply(req, items, None)
            }
        }
        ["rulesets", id] if get => {
            if let Some(p) = plan_gate(w) {
                p
            } else {
                match w.rulesets.iter().find(|rs| rs.id.to_string() == *id) {
                    None => Reply::not_found(),
                    Some(rs) => {
                        let mut v = json!({
                            "id": rs.id, "name": rs.name, "target": rs.target, "source_type": rs.source_type,
                            "source": ruleset_source(w, rs), "enforcement": rs.enforcement, "node_id": format!("RRS_{}", rs.id),
                            "conditions": {"ref_name": {"include": rs.include, "exclude": rs.exclude}},
                            "rules": rs.rules.iter().map(|(t, p)| match p {
                                Some(p) => json!({"type": t, "parameters": p}),
                                None => json!({"type": t}),
                            }).collect::<Vec<_>>(),
                            "created_at": rfc3339(rs.created_at), "updated_at": rfc3339(rs.created_at),
                        });
                        // "Write access to the ruleset": the repository's admins for its own
                        // rulesets, the organisation's admins for the organisation's.
                        let sees = if rs.source_type == "Repository" {
                            tok.is_some_and(|t| t.role >= w.bypass_visible_from)
                        } else {
                            tok.is_some_and(|t| t.org_admin)
                        };
                        if sees {
                            v["bypass_actors"] = rs
                                .bypass
                                .iter()
                                .map(|b| json!({"actor_id": b.actor_id, "actor_type": b.actor_type, "bypass_mode": b.bypass_mode}))
                                .collect();
                        }
                        if tok.is_some() {
                            v["current_user_can_bypass"] = json!(if w.can_bypass(tok, rs) {
                                "always"
                            } else {
                                "never"
                            });
                        }
                        Reply::ok(v)
                    }
                }
            }
        }
        ["teams"] if get => {
            // Teams with access to the repository (`repos/list-teams`); every seeded team has
            // write access here.
            let items = w
                .teams
                .iter()
                .map(|(slug, id)| team_json(w, req, slug, *id, Some("push")))
                .collect();
            list_reply(req, items, None)
        }
        // Tag protection was retired in favour of rulesets.
        ["tags", "protection", ..] => Reply::not_found(),
        ["actions", "permissions"] if get => {
            let mut v = json!({"enabled": w.actions_enabled, "sha_pinning_required": false});
            if w.actions_enabled {
                v["allowed_actions"] = json!(w.allowed_actions);
                if w.allowed_actions == "selected" {
                    v["selected_actions_url"] = json!(format!(
                        "{}/repositories/{}/actions/permissions/selected-actions",
                        req.base_url, w.repo_id
                    ));
                }
            }
            Reply::ok(v)
        }
        ["actions", "permissions", "selected-actions"] if get => {
            let p = &w.selected_actions;
            Reply::ok(json!({
                "github_owned_allowed": p.github_owned_allowed,
                "verified_allowed": p.verified_allowed,
                "patterns_allowed": p.patterns_allowed,
            }))
        }
        ["actions", "permissions", "workflow"] if get => Reply::ok(json!({
            "default_workflow_permissions": w.default_workflow_permissions,
            "can_approve_pull_request_reviews": w.can_approve_pull_request_reviews,
        })),
        ["actions", "workflows", wf, "runs"] if get => {
            let key = decode(wf).unwrap_or_default();
            let Some(wf) = w.workflow(&key).cloned() else {
                return reply(need, Reply::not_found());
            };
            let mut runs: Vec<&RunSeed> = w
                .runs
                .iter()
                .filter(|r| r.workflow_id == wf.id && run_visible(r))
                .filter(|r| req.q("event").is_none_or(|e| r.event == e))
                .filter(|r| {
                    req.q("branch")
                        .is_none_or(|b| r.head_branch.as_deref() == Some(b))
                })
                .filter(|r| req.q("head_sha").is_none_or(|s| r.head_sha == s))
                .filter(|r| req.q("actor").is_none_or(|a| r.actor == a))
                .filter(|r| {
                    req.q("status").is_none_or(|s| {
                        if STATUSES.contains(&s) {
                            r.status == s
                        } else {
                            r.conclusion.as_deref() == Some(s)
                        }
                    })
                })
                .filter(|r| {
                    req.q("created")
                        .is_none_or(|c| created_matches(c, r.created_at))
                })
                .collect();
            runs.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
            let items = runs.iter().map(|r| run_json(w, req, r)).collect();
            list_reply(req, items, Some("workflow_runs"))
        }
        ["actions", "runs", id] if get => match w
            .runs
            .iter()
            .find(|r| r.id.to_string() == *id && run_visible(r))
        {
            Some(r) => Reply::ok(run_json(w, req, r)),
            None => Reply::not_found(),
        },
        ["actions", "runs", id, "jobs"] if get => match w
            .runs
            .iter()
            .find(|r| r.id.to_string() == *id && run_visible(r))
        {
            None => Reply::not_found(),
            Some(r) => {
                let wf_name = w
                    .workflows
                    .iter()
                    .find(|x| x.id == r.workflow_id)
                    .map(|x| x.name.clone());
                let base = format!("{}/repos/{}", req.base_url, w.full_name());
                let items = r
                    .jobs
                    .iter()
                    .map(|j| {
                        // `started_at` is required and not nullable: a queued job reports
                        // its creation time.
                        let started = j.started_at.unwrap_or(r.created_at);
                        json!({
                            "id": j.id, "node_id": format!("CR_standin{}", j.id), "run_id": r.id,
                            "run_url": format!("{base}/actions/runs/{}", r.id),
                            "run_attempt": r.run_attempt, "name": j.name,
                            "workflow_name": wf_name, "head_branch": r.head_branch, "head_sha": r.head_sha,
                            "url": format!("{base}/actions/jobs/{}", j.id),
                            "html_url": format!("https://github.com/{}/actions/runs/{}/job/{}", w.full_name(), r.id, j.id),
                            "check_run_url": format!("{base}/check-runs/{}", j.id),
                            "status": j.status, "conclusion": j.conclusion,
                            "created_at": rfc3339(r.created_at),
                            "started_at": rfc3339(started), "completed_at": j.completed_at.map(rfc3339),
                            "labels": ["ubuntu-latest"], "runner_id": 1, "runner_name": "standin",
                            "runner_group_id": 1, "runner_group_name": "GitHub Actions",
                            "steps": j.steps.iter().map(|s| json!({"name": s.name, "status": s.status, "conclusion": s.conclusion, "number": s.number, "started_at": rfc3339(started), "completed_at": j.completed_at.map(rfc3339)})).collect::<Vec<_>>(),
                        })
                    })
                    .collect();
                list_reply(req, items, Some("jobs"))
            }
        },
        ["actions", "workflows", wf, "dispatches"] if post => {
            let key = decode(wf).unwrap_or_default();
            let Some(wf) = w.workflow(&key).cloned() else {
                return reply(need, Reply::not_found());
            };
            let body = match body_json(req) {
                Ok(b) => b,
                Err(r) => return reply(need, r),
            };
            let Some(git_ref) = body.get("ref").and_then(Value::as_str).map(str::to_string) else {
                return reply(
                    need,
                    Reply::validation(
                        "Invalid request.\n\n\"ref\" wasn't supplied.",
                        json!([{"resource": "Dispatch", "field": "ref", "code": "missing_field"}]),
                    ),
                );
            };
            let details = body.get("return_run_details").and_then(Value::as_bool);
            if details.is_some() && req.api_version == API_2026 {
                return reply(
                    need,
                    Reply::validation("\"return_run_details\" is not a permitted key.", json!([])),
                );
            }
            let Some(declared) = wf.dispatch_inputs.clone() else {
                return reply(
                    need,
                    Reply::validation(
                        "Workflow does not have 'workflow_dispatch' trigger",
                        json!([]),
                    ),
                );
            };
            let mut inputs = BTreeMap::new();
            let mut unexpected = Vec::new();
            if let Some(obj) = body.get("inputs").and_then(Value::as_object) {
                for (k, v) in obj {
                    if !declared.contains(k) {
                        unexpected.push(k.clone());
                    }
                    let s = match v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    inputs.insert(k.clone(), s);
                }
            }
            if !unexpected.is_empty() {
                return reply(
                    need,
                    Reply::validation(
                        &format!(
                            "Unexpected inputs provided: {}",
                            serde_json::to_string(&unexpected).unwrap_or_default()
                        ),
                        json!([]),
                    ),
                );
            }
            let Some((short, sha)) = resolve_ref(w, &git_ref) else {
                return reply(
                    need,
                    Reply::error(404, &format!("No ref found for: {git_ref}")),
                );
            };
            return Routed::Dispatch {
                trigger: Trigger::Dispatch {
                    workflow: wf.path.clone(),
                    git_ref: short,
                    sha,
                    inputs,
                    actor,
                },
                details: req.api_version == API_2026 || details == Some(true),
            };
        }
        ["releases"] if post => {
            let body = match body_json(req) {
                Ok(b) => b,
                Err(r) => return reply(need, r),
            };
            let Some(tag) = body
                .get("tag_name")
                .and_then(Value::as_str)
                .map(str::to_string)
            else {
                return reply(
                    need,
                    Reply::validation(
                        "Validation Failed",
                        json!([{"resource": "Release", "code": "missing_field", "field": "tag_name"}]),
                    ),
                );
            };
            if w.releases.iter().any(|r| r.tag_name == tag) {
                return reply(
                    need,
                    Reply::validation(
                        "Validation Failed",
                        json!([{"resource": "Release", "code": "already_exists", "field": "tag_name"}]),
                    ),
                );
            }
            let draft = body.get("draft").and_then(Value::as_bool).unwrap_or(false);
            let target = body
                .get("target_commitish")
                .and_then(Value::as_str)
                .unwrap_or(&w.default_branch)
                .to_string();
            let full = format!("refs/tags/{tag}");
            let mut triggers = Vec::new();
            if !w.refs.contains_key(&full) && !draft {
                if creation_blocked(w, tok, &full) {
                    return reply(need, rule_violation());
                }
                let sha = resolve_ref(w, &target)
                    .map(|(_, s)| s)
                    .unwrap_or_else(|| target.clone());
                w.add_tag(&tag, &sha);
                triggers = push_triggers(w, &tag, &sha, &actor);
            }
            let id = w.alloc_id();
            let rel = super::world::ReleaseSeed {
                id,
                tag_name: tag,
                target_commitish: target,
                name: body.get("name").and_then(Value::as_str).map(str::to_string),
                body: body.get("body").and_then(Value::as_str).map(str::to_string),
                draft,
                prerelease: body
                    .get("prerelease")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
                created_at: w.now(),
                author: actor.clone(),
            };
            let v = release_json(w, req, &rel);
            w.releases.push(rel);
            let loc = format!("{}/repos/{}/releases/{id}", req.base_url, w.full_name());
            return Routed::Reply(
                need,
                Reply::status(201, v).header("location", loc),
                triggers,
            );
        }
        ["releases", "tags", tag] if get => {
            let tag = decode(tag).unwrap_or_default();
            match w.releases.iter().find(|r| r.tag_name == tag && !r.draft) {
                Some(r) => Reply::ok(release_json(w, req, r)),
                None => Reply::not_found(),
            }
        }
        ["git", "ref", parts @ ..] if get && !parts.is_empty() => {
            let name = format!(
                "refs/{}",
                parts
                    .iter()
                    .map(|p| decode(p).unwrap_or_default())
                    .collect::<Vec<_>>()
                    .join("/")
            );
            match w.refs.get(&name) {
                Some(seed) => Reply::ok(ref_json(w, req, &name, seed)),
                None => Reply::not_found(),
            }
        }
        ["git", "matching-refs", parts @ ..] if get => {
            let prefix = format!(
                "refs/{}",
                parts
                    .iter()
                    .map(|p| decode(p).unwrap_or_default())
                    .collect::<Vec<_>>()
                    .join("/")
            );
            let items = w
                .refs
                .iter()
                .filter(|(n, _)| n.starts_with(&prefix))
                .map(|(n, s)| ref_json(w, req, n, s))
                .collect();
            list_reply(req, items, None)
        }
        ["git", "tags", sha] if get => match w.tag_objects.get(*sha) {
            Some(t) => Reply::ok(json!({
                "tag": t.tag, "sha": sha, "message": t.message, "node_id": format!("TAG_{sha}"),
                "url": format!("{}/repos/{}/git/tags/{sha}", req.base_url, w.full_name()),
                "tagger": {"name": "Standin", "email": "standin@example.invalid", "date": rfc3339(w.now())},
                "object": {"type": "commit", "sha": t.commit, "url": format!("{}/repos/{}/git/commits/{}", req.base_url, w.full_name(), t.commit)},
                "verification": {"verified": false, "reason": "unsigned", "payload": Value::Null, "signature": Value::Null, "verified_at": Value::Null}
            })),
            None => Reply::not_found(),
        },
        ["git", "refs"] if post => {
            let body = match body_json(req) {
                Ok(b) => b,
                Err(r) => return reply(need, r),
            };
            let name = body
                .get("ref")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let sha = body
                .get("sha")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            if !name.starts_with("refs/") || name.matches('/').count() < 2 {
                return reply(
                    need,
                    Reply::validation("Reference name is invalid", json!([])),
                );
            }
            if sha.len() != 40 || !sha.chars().all(|c| c.is_ascii_hexdigit()) {
                return reply(need, Reply::validation("Object does not exist", json!([])));
            }
            if w.refs.contains_key(&name) {
                return reply(
                    need,
                    Reply::validation("Reference already exists", json!([])),
                );
            }
            if creation_blocked(w, tok, &name) {
                return reply(need, rule_violation());
            }
            let seed = super::world::RefSeed {
                object_type: "commit".into(),
                sha: sha.clone(),
            };
            let v = ref_json(w, req, &name, &seed);
            w.refs.insert(name.clone(), seed);
            let triggers = match name.strip_prefix("refs/tags/") {
                Some(tag) => push_triggers(w, tag, &sha, &actor),
                None => Vec::new(),
            };
            return Routed::Reply(need, Reply::status(201, v), triggers);
        }
        _ => Reply::not_found(),
    };
    reply(need, r)
}

fn release_json(w: &World, req: &Req, r: &super::world::ReleaseSeed) -> Value {
    let api = format!("{}/repos/{}/releases/{}", req.base_url, w.full_name(), r.id);
    let tag = enc_q(&r.tag_name);
    json!({
        "id": r.id, "node_id": format!("RE_standin{}", r.id), "tag_name": r.tag_name,
        "target_commitish": r.target_commitish,
        "name": r.name, "body": r.body, "draft": r.draft, "prerelease": r.prerelease, "immutable": false,
        "created_at": rfc3339(r.created_at), "published_at": if r.draft { Value::Null } else { json!(rfc3339(r.created_at)) },
        "url": api.clone(), "assets_url": format!("{api}/assets"),
        "html_url": format!("https://github.com/{}/releases/tag/{}", w.full_name(), r.tag_name),
        "upload_url": format!("{}/repos/{}/releases/{}/assets{{?name,label}}", req.base_url, w.full_name(), r.id),
        "tarball_url": format!("{}/repos/{}/tarball/{tag}", req.base_url, w.full_name()),
        "zipball_url": format!("{}/repos/{}/zipball/{tag}", req.base_url, w.full_name()),
        "assets": [], "author": simple_user_json(req, &r.author, actor_id(w, &r.author), "User"),
    })
}

/// A `team` (as listed by `repos/list-teams`), with the description's required properties.
fn team_json(w: &World, req: &Req, slug: &str, id: u64, permission: Option<&str>) -> Value {
    let api = format!("{}/organizations/1/team/{id}", req.base_url);
    json!({
        "id": id, "node_id": format!("T_standin{id}"), "url": api,
        "members_url": format!("{api}/members{{/member}}"), "name": slug, "slug": slug,
        "description": format!("The {slug} team"), "privacy": "closed",
        "notification_setting": "notifications_enabled",
        "permission": permission.unwrap_or("pull"),
        "html_url": format!("https://github.com/orgs/{}/teams/{slug}", w.org),
        "repositories_url": format!("{api}/repos"), "parent": null, "type": "organization",
        "organization_id": 1,
    })
}

/// A `team-full` (`teams/get-by-name`).
fn team_full_json(w: &World, req: &Req, slug: &str, id: u64) -> Value {
    let mut v = team_json(w, req, slug, id, None);
    let t = rfc3339(w.now());
    let org = &w.org;
    let org_api = format!("{}/orgs/{org}", req.base_url);
    v["created_at"] = json!(t);
    v["updated_at"] = json!(t);
    v["members_count"] = json!(1);
    v["repos_count"] = json!(1);
    v["organization"] = json!({
        "login": org, "url": org_api, "id": 1, "node_id": "O_standin",
        "repos_url": format!("{org_api}/repos"), "events_url": format!("{org_api}/events"),
        "hooks_url": format!("{org_api}/hooks"), "issues_url": format!("{org_api}/issues"),
        "members_url": format!("{org_api}/members{{/member}}"),
        "public_members_url": format!("{org_api}/public_members{{/member}}"),
        "avatar_url": "https://avatars.githubusercontent.com/u/1?v=4",
        "description": null, "html_url": format!("https://github.com/{org}"),
        "has_organization_projects": false, "has_repository_projects": false,
        "public_repos": 0, "public_gists": 0, "followers": 0, "following": 0,
        "type": "Organization", "created_at": t, "updated_at": t, "archived_at": null,
    });
    v
}

// --- Bodies with the required properties of the description's schemas (D11 of the audit):
// values are plausible, built from the world, and what the client reads is unchanged. ---

/// A `simple-user` (also the `owner` of repositories and packages).
pub(crate) fn simple_user_json(req: &Req, login: &str, id: u64, kind: &str) -> Value {
    let api = format!(
        "{}/{}/{login}",
        req.base_url,
        if kind == "Organization" {
            "orgs"
        } else {
            "users"
        }
    );
    let users = format!("{}/users/{login}", req.base_url);
    json!({
        "login": login, "id": id, "node_id": format!("U_standin{id}"),
        "avatar_url": format!("https://avatars.githubusercontent.com/u/{id}?v=4"),
        "gravatar_id": "", "url": api, "html_url": format!("https://github.com/{login}"),
        "followers_url": format!("{users}/followers"),
        "following_url": format!("{users}/following{{/other_user}}"),
        "gists_url": format!("{users}/gists{{/gist_id}}"),
        "starred_url": format!("{users}/starred{{/owner}}{{/repo}}"),
        "subscriptions_url": format!("{users}/subscriptions"),
        "organizations_url": format!("{users}/orgs"), "repos_url": format!("{users}/repos"),
        "events_url": format!("{users}/events{{/privacy}}"),
        "received_events_url": format!("{users}/received_events"),
        "type": kind, "site_admin": false, "user_view_type": "public",
    })
}

/// A `public-user` (`users/get-by-username` for someone else).
fn public_user_json(w: &World, req: &Req, login: &str, id: u64) -> Value {
    let mut v = simple_user_json(req, login, id, "User");
    let t = rfc3339(w.now());
    for (k, x) in [
        ("name", json!(login)),
        ("company", Value::Null),
        ("blog", json!("")),
        ("location", Value::Null),
        ("email", Value::Null),
        ("hireable", Value::Null),
        ("bio", Value::Null),
        ("public_repos", json!(0)),
        ("public_gists", json!(0)),
        ("followers", json!(0)),
        ("following", json!(0)),
        ("created_at", json!(t)),
        ("updated_at", json!(t)),
    ] {
        v[k] = x;
    }
    v
}

fn owner_json(w: &World, req: &Req) -> Value {
    simple_user_json(req, &w.owner, 1, &w.owner_type)
}

/// A `minimal-repository` (runs, packages).
fn minimal_repo_json(w: &World, req: &Req) -> Value {
    let full = w.full_name();
    let api = format!("{}/repos/{full}", req.base_url);
    let mut v = json!({
        "id": w.repo_id, "node_id": "R_standin", "name": w.repo, "full_name": full,
        "owner": owner_json(w, req), "private": w.private,
        "html_url": format!("https://github.com/{full}"), "description": Value::Null,
        "fork": false, "url": api,
    });
    for (k, tail) in [
        ("archive_url", "/{archive_format}{/ref}"),
        ("assignees_url", "/assignees{/user}"),
        ("blobs_url", "/git/blobs{/sha}"),
        ("branches_url", "/branches{/branch}"),
        ("collaborators_url", "/collaborators{/collaborator}"),
        ("comments_url", "/comments{/number}"),
        ("commits_url", "/commits{/sha}"),
        ("compare_url", "/compare/{base}...{head}"),
        ("contents_url", "/contents/{+path}"),
        ("contributors_url", "/contributors"),
        ("deployments_url", "/deployments"),
        ("downloads_url", "/downloads"),
        ("events_url", "/events"),
        ("forks_url", "/forks"),
        ("git_commits_url", "/git/commits{/sha}"),
        ("git_refs_url", "/git/refs{/sha}"),
        ("git_tags_url", "/git/tags{/sha}"),
        ("hooks_url", "/hooks"),
        ("issue_comment_url", "/issues/comments{/number}"),
        ("issue_events_url", "/issues/events{/number}"),
        ("issues_url", "/issues{/number}"),
        ("keys_url", "/keys{/key_id}"),
        ("labels_url", "/labels{/name}"),
        ("languages_url", "/languages"),
        ("merges_url", "/merges"),
        ("milestones_url", "/milestones{/number}"),
        (
            "notifications_url",
            "/notifications{?since,all,participating}",
        ),
        ("pulls_url", "/pulls{/number}"),
        ("releases_url", "/releases{/id}"),
        ("stargazers_url", "/stargazers"),
        ("statuses_url", "/statuses/{sha}"),
        ("subscribers_url", "/subscribers"),
        ("subscription_url", "/subscription"),
        ("tags_url", "/tags"),
        ("teams_url", "/teams"),
        ("trees_url", "/git/trees{/sha}"),
    ] {
        v[k] = json!(format!("{api}{tail}"));
    }
    v
}

/// A `full-repository` (`repos/get`).
fn full_repo_json(w: &World, req: &Req, tok: Option<&TokenSeed>) -> Value {
    let mut v = minimal_repo_json(w, req);
    let full = w.full_name();
    let t = rfc3339(w.now());
    for (k, x) in [
        ("clone_url", json!(format!("https://github.com/{full}.git"))),
        ("git_url", json!(format!("git://github.com/{full}.git"))),
        ("ssh_url", json!(format!("git@github.com:{full}.git"))),
        ("svn_url", json!(format!("https://github.com/{full}"))),
        ("mirror_url", Value::Null),
        ("homepage", Value::Null),
        ("language", json!("Rust")),
        ("default_branch", json!(w.default_branch)),
        ("forks", json!(0)),
        ("forks_count", json!(0)),
        ("stargazers_count", json!(0)),
        ("watchers", json!(0)),
        ("watchers_count", json!(0)),
        ("open_issues", json!(0)),
        ("open_issues_count", json!(0)),
        ("network_count", json!(0)),
        ("subscribers_count", json!(1)),
        ("size", json!(1024)),
        ("has_issues", json!(true)),
        ("has_projects", json!(false)),
        ("has_wiki", json!(false)),
        ("has_pages", json!(false)),
        ("has_discussions", json!(false)),
        ("archived", json!(w.archived)),
        ("disabled", json!(false)),
        ("license", Value::Null),
        ("pushed_at", json!(t)),
        ("created_at", json!(t)),
        ("updated_at", json!(t)),
        (
            "visibility",
            json!(if w.internal {
                "internal"
            } else if w.private {
                "private"
            } else {
                "public"
            }),
        ),
    ] {
        v[k] = x;
    }
    if req.api_version == API_2022 {
        v["has_downloads"] = json!(true);
    }
    if let Some(t) = tok {
        let r = if !w.private && t.role == Role::None {
            Role::Read
        } else {
            t.role
        };
        v["permissions"] = json!({
            "admin": r >= Role::Admin, "maintain": r >= Role::Maintain, "push": r >= Role::Write,
            "triage": r >= Role::Write, "pull": r >= Role::Read
        });
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_filter_syntax() {
        let t = parse_rfc3339("2024-05-01T12:00:00Z").unwrap();
        assert!(created_matches(">=2024-05-01T10:00:00Z", t));
        assert!(!created_matches(">2024-05-01T12:00:00Z", t));
        assert!(created_matches("2024-05-01..2024-05-01", t));
        assert!(created_matches("2024-05-01", t));
        assert!(!created_matches("<2024-05-01", t));
    }

    #[test]
    fn decode_segments() {
        assert_eq!(decode("app%2Fworker").as_deref(), Some("app/worker"));
        assert_eq!(decode("%zz"), None);
    }
}
