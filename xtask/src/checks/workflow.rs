//! Offline checks of the publish workflow (`repository.publish_workflow` in release.toml).
//!
//! The file is parsed with yaml-rust2's event API into a small tree that remembers the line of
//! every node, so each finding points at `file:line`. The rules come from the checklist:
//! per-job permissions exactly `contents: read` + `packages: write`, top-level `permissions: {}`,
//! registry login only with GITHUB_TOKEN, release-tag and dispatch triggers that match the tag
//! policy, actions pinned by commit SHA, and no template injection into `run:` scripts.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use super::{CheckId, Ctx, Evidence, Outcome, Status, credentials};
use super::{Kind, Meta, Phase, Section, Severity};

pub(crate) const WORKFLOW_PRESENT: Meta = Meta {
    id: "workflow-present",
    section: Section::ActionsPermissions,
    phase: Phase::Preflight,
    kind: Kind::Automated,
    severity: Severity::Error,
    checklist: "Workflow-level requirements in publish-images.yml",
    summary: "The publish workflow exists and is valid YAML with jobs.",
    why: "Every other workflow check reads this file; a missing or malformed workflow publishes nothing.",
    fix: "Restore .github/workflows/publish-images.yml from main and fix the YAML error named in the evidence.",
};

pub(crate) const WORKFLOW_PERMISSIONS: Meta = Meta {
    id: "workflow-permissions",
    section: Section::ActionsPermissions,
    phase: Phase::Preflight,
    kind: Kind::Automated,
    severity: Severity::Error,
    checklist: "contents: read / packages: write",
    summary: "Every job's effective permissions are exactly contents: read and packages: write.",
    why: "Broader token permissions let a compromised step change code, releases or settings.",
    fix: "Give each job `permissions: {contents: read, packages: write}` and nothing else; no write-all or read-all.",
};

pub(crate) const WORKFLOW_TOP_LEVEL_PERMISSIONS: Meta = Meta {
    id: "workflow-top-level-permissions",
    section: Section::ActionsPermissions,
    phase: Phase::Preflight,
    kind: Kind::Automated,
    severity: Severity::Warning,
    checklist: "Do not grant broader permissions unless a release workflow actually needs them",
    summary: "The workflow's top-level permissions are empty (`permissions: {}`).",
    why: "zizmor and OpenSSF Scorecard penalise top-level write grants; jobs should opt in to what they need.",
    fix: "Set `permissions: {}` at the top of the workflow and grant per job.",
};

pub(crate) const WORKFLOW_TRIGGERS: Meta = Meta {
    id: "workflow-triggers",
    section: Section::ActionsPermissions,
    phase: Phase::Preflight,
    kind: Kind::Automated,
    severity: Severity::Error,
    checklist: "`latest` moved only for `release-v*` or an explicit manual dispatch with `publish_latest=true`",
    summary: "The workflow runs on pushes of tags v* and release-v*, and on workflow_dispatch with a boolean publish_latest defaulting to false.",
    why: "The tag policy depends on these triggers; a default of true would move `latest` by accident.",
    fix: "Use `on: {push: {tags: ['v*', 'release-v*']}, workflow_dispatch: {inputs: {publish_latest: {type: boolean, default: false}}}}`.",
};

pub(crate) const WORKFLOW_ACTIONS_PINNED: Meta = Meta {
    id: "workflow-actions-pinned",
    section: Section::ActionsPermissions,
    phase: Phase::Preflight,
    kind: Kind::Automated,
    severity: Severity::Error,
    checklist: "Do not grant broader permissions unless a release workflow actually needs them",
    summary: "Every `uses:` is pinned to a full 40-hex commit SHA.",
    why: "A moved tag on a third-party action runs new code with packages: write.",
    fix: "Replace `owner/action@v4` with `owner/action@<40-hex sha> # v4`.",
};

pub(crate) const WORKFLOW_NO_INJECTION: Meta = Meta {
    id: "workflow-no-injection",
    section: Section::ActionsPermissions,
    phase: Phase::Preflight,
    kind: Kind::Automated,
    severity: Severity::Error,
    checklist: "Do not grant broader permissions unless a release workflow actually needs them",
    summary: "No `${{ inputs.* }}` or `${{ github.event.* }}` expression is expanded inside a `run:` script.",
    why: "Expanded expressions are template injection: a crafted input runs shell commands with the job's token.",
    fix: "Pass the value through `env:` (e.g. `PUBLISH_LATEST: ${{ inputs.publish_latest }}`) and read \"$PUBLISH_LATEST\" in the script.",
};

pub(crate) const WORKFLOW_SINGLE_PUBLISHER: Meta = Meta {
    id: "workflow-single-publisher",
    section: Section::ActionsPermissions,
    phase: Phase::Preflight,
    kind: Kind::Automated,
    severity: Severity::Error,
    checklist: "Do not grant broader permissions unless a release workflow actually needs them",
    summary: "No workflow other than the publish workflow (and the reusable workflows it calls) pushes to a registry, moves a tag such as `latest`, or grants `packages: write`; every workflow under .github/workflows is read.",
    why: "Every other path to the registry bypasses the release gate, the tag policy and the checks on the publish workflow.",
    fix: "Remove the push (docker/podman/buildah push, buildx --push, skopeo copy, crane/oras push or tag, cargo xtask publish) and the `packages: write` grant from the named workflow; publish only through the publish workflow.",
};

pub(crate) const SECRETS_GITHUB_TOKEN: Meta = Meta {
    id: "secrets-github-token",
    section: Section::SecretsAndAuth,
    phase: Phase::Preflight,
    kind: Kind::Automated,
    severity: Severity::Error,
    checklist: "prefer `GITHUB_TOKEN` for package publish from GitHub Actions",
    summary: "The publish workflow logs in to the registry with GITHUB_TOKEN (secrets.GITHUB_TOKEN or github.token).",
    why: "GITHUB_TOKEN is short-lived and scoped to this repository and run.",
    fix: "Use `password: ${{ secrets.GITHUB_TOKEN }}` (or env GITHUB_TOKEN for `cargo xtask publish`).",
};

pub(crate) const SECRETS_NO_LONG_LIVED_PAT: Meta = Meta {
    id: "secrets-no-long-lived-pat",
    section: Section::SecretsAndAuth,
    phase: Phase::Preflight,
    kind: Kind::Automated,
    severity: Severity::Error,
    checklist: "do not use long-lived personal access tokens for routine image publish",
    summary: "The publish workflow references no secret other than GITHUB_TOKEN.",
    why: "A personal access token outlives the run and usually carries far more than packages: write.",
    fix: "Remove the secrets.<NAME> reference and rely on GITHUB_TOKEN with packages: write.",
};

/// Every id this area reports.
pub const IDS: &[CheckId] = &[
    CheckId::WorkflowPresent,
    CheckId::WorkflowPermissions,
    CheckId::WorkflowTopLevelPermissions,
    CheckId::WorkflowTriggers,
    CheckId::WorkflowActionsPinned,
    CheckId::WorkflowNoInjection,
    CheckId::SecretsGithubToken,
    CheckId::SecretsNoLongLivedPat,
];

/// Ids reported only when the whole repository is read (`check_repo`).
pub const REPO_IDS: &[CheckId] = &[CheckId::WorkflowSinglePublisher];

/// A YAML node with the (1-based) line where it starts.
#[derive(Debug, Clone)]
pub enum Node {
    Scalar {
        value: String,
        line: u32,
        block: bool,
    },
    Seq {
        items: Vec<Node>,
        line: u32,
    },
    Map {
        entries: Vec<(String, u32, Node)>,
        line: u32,
    },
}

impl Node {
    pub fn line(&self) -> u32 {
        match self {
            Node::Scalar { line, .. } | Node::Seq { line, .. } | Node::Map { line, .. } => *line,
        }
    }
    /// The value under `key` of a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entry(key).map(|(_, n)| n)
    }
    /// The key's line and value under `key` of a mapping.
    pub fn entry(&self, key: &str) -> Option<(u32, &Node)> {
        match self {
            Node::Map { entries, .. } => entries
                .iter()
                .find(|(k, _, _)| k == key)
                .map(|(_, l, n)| (*l, n)),
            _ => None,
        }
    }
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Node::Scalar { value, .. } => Some(value),
            _ => None,
        }
    }
    pub fn entries(&self) -> &[(String, u32, Node)] {
        match self {
            Node::Map { entries, .. } => entries,
            _ => &[],
        }
    }
    /// Visits every scalar with the key it sits under (if any).
    pub fn walk<'a>(&'a self, key: Option<&'a str>, f: &mut impl FnMut(Option<&'a str>, &'a Node)) {
        match self {
            Node::Scalar { .. } => f(key, self),
            Node::Seq { items, .. } => items.iter().for_each(|n| n.walk(key, f)),
            Node::Map { entries, .. } => {
                f(key, self);
                entries.iter().for_each(|(k, _, n)| n.walk(Some(k), f))
            }
        }
    }
}

enum Frame {
    Seq(Vec<Node>, u32),
    Map(Vec<(String, u32, Node)>, Option<(String, u32)>, u32),
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    docs: Vec<Node>,
}

impl Builder {
    fn add(&mut self, node: Node) {
        match self.stack.last_mut() {
            None => self.docs.push(node),
            Some(Frame::Seq(items, _)) => items.push(node),
            Some(Frame::Map(entries, pending, _)) => match pending.take() {
                None => {
                    let key = match &node {
                        Node::Scalar { value, .. } => value.clone(),
                        _ => "?".to_string(),
                    };
                    *pending = Some((key, node.line()));
                }
                Some((k, l)) => entries.push((k, l, node)),
            },
        }
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        let line = mark.line() as u32;
        match ev {
            Event::Scalar(value, style, _, _) => {
                let block = matches!(style, TScalarStyle::Literal | TScalarStyle::Folded);
                self.add(Node::Scalar { value, line, block })
            }
            Event::Alias(_) => self.add(Node::Scalar {
                value: String::new(),
                line,
                block: false,
            }),
            Event::SequenceStart(..) => self.stack.push(Frame::Seq(Vec::new(), line)),
            Event::MappingStart(..) => self.stack.push(Frame::Map(Vec::new(), None, line)),
            Event::SequenceEnd => {
                if let Some(Frame::Seq(items, l)) = self.stack.pop() {
                    self.add(Node::Seq { items, line: l })
                }
            }
            Event::MappingEnd => {
                if let Some(Frame::Map(entries, _, l)) = self.stack.pop() {
                    self.add(Node::Map { entries, line: l })
                }
            }
            _ => {}
        }
    }
}

/// Parses YAML into line-marked documents; the error names the line and column.
pub(crate) fn parse_yaml(text: &str) -> Result<Vec<Node>, (u32, String)> {
    let mut b = Builder::default();
    Parser::new_from_str(text)
        .load(&mut b, true)
        .map_err(|e| (e.marker().line() as u32, e.to_string()))?;
    Ok(b.docs)
}

/// The line of a match at byte `offset` inside a scalar that starts at `node_line`.
fn line_in_scalar(node: &Node, offset: usize) -> u32 {
    match node {
        Node::Scalar { value, line, block } => {
            let before = value[..offset.min(value.len())].matches('\n').count() as u32;
            // yaml-rust2 marks a block scalar (`|`, `>`) at its first content line, so the
            // offset is the same for block and flow scalars.
            let _ = block;
            line + before
        }
        other => other.line(),
    }
}

/// The `${{ ... }}` expressions in a string, with byte offsets.
pub(crate) fn expressions(s: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(start) = s[from..].find("${{") {
        let abs = from + start;
        let Some(end) = s[abs..].find("}}") else {
            break;
        };
        out.push((abs, s[abs + 3..abs + end].trim()));
        from = abs + end + 2;
    }
    out
}

/// The glob a tag rule like `v{semver}` allows, e.g. `v*`.
pub(crate) fn trigger_glob(rule: &str) -> String {
    rule.replace("{semver}", "*")
}

/// Runs the workflow checks selected by `--only`.
pub fn run(ctx: &Ctx) -> Vec<Outcome> {
    if !ctx.wants_any(IDS) && !ctx.wants_any(REPO_IDS) {
        return Vec::new();
    }
    let cfg = &ctx.ws.config;
    let rel = cfg.raw.repository.publish_workflow.clone();
    let mut out = check_repo(&ctx.ws.root, Path::new(&rel), &cfg.raw.tags);
    out.retain(|o| ctx.wants(o.id));
    out
}

/// Every workflow check after `workflow-present`, skipped because the workflow at `rel` could
/// not be read as one (`why`).
fn skip_rest(rel: &Path, why: &str) -> Vec<Outcome> {
    IDS[1..]
        .iter()
        .map(|id| {
            Outcome::skip(
                *id,
                format!("workflow not parseable ({why})"),
                format!("fix {} so that workflow-present passes", rel.display()),
            )
        })
        .collect()
}

/// Checks one workflow file. `rel` is the path reported in evidence. Public so the corpus
/// tests can run every fixture through the same code.
pub fn check_file(path: &Path, rel: &Path, tags: &crate::config::TagRules) -> Vec<Outcome> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            let mut out = vec![Outcome::fail(
                CheckId::WorkflowPresent,
                format!("cannot read the publish workflow: {e}"),
                vec![Evidence::file(rel, None)],
            )];
            out.extend(skip_rest(rel, "missing"));
            return out;
        }
    };
    check_text_in(&text, rel, tags, None)
}

/// Checks the publish workflow at `repo/rel`, following the local reusable workflows it calls.
fn check_path(repo: &Path, rel: &Path, tags: &crate::config::TagRules) -> Vec<Outcome> {
    match std::fs::read_to_string(repo.join(rel)) {
        Ok(text) => check_text_in(&text, rel, tags, Some(repo)),
        Err(_) => check_file(&repo.join(rel), rel, tags),
    }
}

/// Checks workflow text (the fuzz target's entry point; `check_file` reads the file first).
pub fn check_text(text: &str, rel: &Path, tags: &crate::config::TagRules) -> Vec<Outcome> {
    check_text_in(text, rel, tags, None)
}

/// [`check_text`]; with `repo`, the local reusable workflows the jobs call are read from it
/// and checked as part of the publish workflow.
fn check_text_in(
    text: &str,
    rel: &Path,
    tags: &crate::config::TagRules,
    repo: Option<&Path>,
) -> Vec<Outcome> {
    let text = text.to_string();
    let root = match parse_yaml(&text) {
        Ok(docs) if docs.len() == 1 => docs.into_iter().next().expect("one document"),
        Ok(docs) => {
            let mut out = vec![Outcome::fail(
                CheckId::WorkflowPresent,
                format!("expected one YAML document, found {}", docs.len()),
                vec![Evidence::file(rel, None)],
            )];
            out.extend(skip_rest(rel, "not one document"));
            return out;
        }
        Err((line, msg)) => {
            let mut out = vec![Outcome::fail(
                CheckId::WorkflowPresent,
                format!("the publish workflow is not valid YAML: {msg}"),
                vec![Evidence::file_excerpt(
                    rel,
                    Some(line),
                    excerpt(&text, line),
                )],
            )];
            out.extend(skip_rest(rel, &format!("YAML error at line {line}")));
            return out;
        }
    };
    let jobs = match root.get("jobs") {
        Some(j @ Node::Map { entries, .. }) if !entries.is_empty() => j,
        _ => {
            let mut out = vec![Outcome::fail(
                CheckId::WorkflowPresent,
                "the publish workflow has no jobs",
                vec![Evidence::file(rel, Some(root.line()))],
            )];
            out.extend(skip_rest(rel, "no jobs"));
            return out;
        }
    };
    let ev = |line: u32| Evidence::file_excerpt(rel, Some(line), excerpt(&text, line));
    let mut out = vec![Outcome::pass(
        CheckId::WorkflowPresent,
        format!(
            "the publish workflow parses and has {} job(s)",
            jobs.entries().len()
        ),
        vec![Evidence::file(rel, Some(jobs.line()))],
    )];
    out.extend(permissions(&root, jobs, &ev, None));
    out.push(top_level(&root, &ev, rel));
    out.push(triggers(&root, tags, &ev, rel));
    out.extend(pinned_and_injection(jobs, &ev));
    let wf = Workflow {
        rel: rel.to_path_buf(),
        text: text.clone(),
        root: root.clone(),
    };
    let mut r = Routes::default();
    routes(&wf, &BTreeSet::new(), true, &mut r);
    if let Some(repo) = repo {
        let mut seen = BTreeSet::new();
        follow_calls(repo, &wf, true, 1, &mut seen, &mut out, &mut r);
    }
    out.extend(secrets_outcomes(&r, rel, jobs.line()));
    settle(out)
}

fn excerpt(text: &str, line: u32) -> String {
    text.lines()
        .nth(line.saturating_sub(1) as usize)
        .unwrap_or_default()
        .trim()
        .chars()
        .take(160)
        .collect()
}

/// Problems with one effective permissions value.
fn permission_problems(perm: &Node) -> Vec<(u32, String)> {
    let mut p = Vec::new();
    match perm {
        Node::Scalar { value, line, .. } => p.push((
            *line,
            format!("`permissions: {value}` grants every scope; grant exactly contents: read and packages: write"),
        )),
        Node::Map { entries, line } => {
            let mut contents = false;
            let mut packages = false;
            for (k, l, v) in entries {
                let val = v.as_str().unwrap_or("?");
                match (k.as_str(), val) {
                    ("contents", "read") => contents = true,
                    ("packages", "write") => packages = true,
                    _ => p.push((*l, format!("`{k}: {val}` is not allowed"))),
                }
            }
            if !contents {
                p.push((*line, "missing `contents: read`".into()));
            }
            if !packages {
                p.push((*line, "missing `packages: write`".into()));
            }
        }
        Node::Seq { line, .. } => p.push((*line, "permissions must be a mapping".into())),
    }
    p
}

fn permissions(
    root: &Node,
    jobs: &Node,
    ev: &dyn Fn(u32) -> Evidence,
    inherited: Option<&Node>,
) -> Vec<Outcome> {
    let top = root.get("permissions").or(inherited);
    let mut out = Vec::new();
    let mut evidence = Vec::new();
    for (job, jline, body) in jobs.entries() {
        match body.get("permissions").or(top) {
            None => out.push(Outcome::fail(
                CheckId::WorkflowPermissions,
                format!("job `{job}` has no permissions block and inherits the repository default"),
                vec![ev(*jline)],
            )),
            Some(perm) => {
                let problems = permission_problems(perm);
                let origin = if body.get("permissions").is_some() {
                    "job"
                } else {
                    "top level"
                };
                if problems.is_empty() {
                    evidence.push(ev(perm.line()));
                } else {
                    out.push(Outcome::fail(
                        CheckId::WorkflowPermissions,
                        format!(
                            "job `{job}` (permissions from the {origin}): {}",
                            problems
                                .iter()
                                .map(|(_, m)| m.as_str())
                                .collect::<Vec<_>>()
                                .join("; ")
                        ),
                        problems.iter().map(|(l, _)| ev(*l)).collect(),
                    ));
                }
            }
        }
    }
    if out.is_empty() {
        out.push(Outcome::pass(
            CheckId::WorkflowPermissions,
            "every job's effective permissions are exactly contents: read, packages: write",
            evidence,
        ));
    }
    out
}

fn top_level(root: &Node, ev: &dyn Fn(u32) -> Evidence, rel: &Path) -> Outcome {
    // Report the key's line: a block mapping's own mark is its first entry.
    match root.entry("permissions") {
        Some((line, Node::Map { entries, .. })) if entries.is_empty() => Outcome::pass(
            CheckId::WorkflowTopLevelPermissions,
            "top-level permissions are empty",
            vec![ev(line)],
        ),
        Some((line, _)) => Outcome::warn(
            CheckId::WorkflowTopLevelPermissions,
            "top-level permissions grant scopes to every job; set `permissions: {}` and grant per job",
            vec![ev(line)],
        ),
        None => Outcome::warn(
            CheckId::WorkflowTopLevelPermissions,
            "no top-level permissions; set `permissions: {}` and grant per job",
            vec![Evidence::file(rel, Some(1))],
        ),
    }
}

/// A filter list as GitHub reads it: a sequence of strings, or one string.
fn string_list(node: Option<&Node>) -> Vec<String> {
    match node {
        Some(Node::Seq { items, .. }) => items
            .iter()
            .filter_map(|n| n.as_str().map(String::from))
            .collect(),
        Some(Node::Scalar { value, .. }) => vec![value.clone()],
        _ => Vec::new(),
    }
}

fn triggers(
    root: &Node,
    tags: &crate::config::TagRules,
    ev: &dyn Fn(u32) -> Evidence,
    rel: &Path,
) -> Outcome {
    let id = CheckId::WorkflowTriggers;
    // `on` may be read as the boolean `true` by YAML 1.1 readers; the event API keeps the text.
    let Some((on_line, on)) = root.entry("on").or_else(|| root.entry("true")) else {
        return Outcome::fail(
            id,
            "the workflow has no `on:` triggers",
            vec![Evidence::file(rel, Some(1))],
        );
    };
    let mut problems: Vec<(u32, String)> = Vec::new();
    let mut evidence = vec![ev(on_line)];
    let names: Vec<(String, u32)> = match on {
        Node::Scalar { value, line, .. } => vec![(value.clone(), *line)],
        Node::Seq { items, .. } => items
            .iter()
            .filter_map(|n| n.as_str().map(|s| (s.to_string(), n.line())))
            .collect(),
        Node::Map { entries, .. } => entries.iter().map(|(k, l, _)| (k.clone(), *l)).collect(),
    };
    for (name, line) in &names {
        if name != "push" && name != "workflow_dispatch" {
            problems.push((*line, format!("trigger `{name}` must not publish images; keep only push of release tags and workflow_dispatch")));
        }
    }
    // Push of release tags.
    let expected = [
        trigger_glob(&tags.release),
        trigger_glob(&tags.release_latest),
    ];
    let samples = [
        tags.release.replace("{semver}", "1.2.3"),
        tags.release_latest.replace("{semver}", "1.2.3"),
    ];
    match on.get("push") {
        Some(push) => {
            let globs = string_list(push.get("tags"));
            if let Some(t) = push.get("tags") {
                evidence.push(ev(t.line()));
            }
            let ignore = string_list(push.get("tags-ignore"));
            // `tags-ignore` alone runs for every tag it does not ignore (GitHub refuses a
            // workflow that has both; actionlint reports that).
            let only_ignore = push.get("tags").is_none() && push.get("tags-ignore").is_some();
            // GitHub's filter rule: the last matching pattern decides, `!` excludes.
            let list = if only_ignore { &ignore } else { &globs };
            match crate::glob::Filter::new(list) {
                Ok(filter) => {
                    for (want, sample) in expected.iter().zip(&samples) {
                        if filter.includes(sample) == only_ignore {
                            problems.push((
                                push.line(),
                                format!("push.tags does not include `{want}`"),
                            ));
                        }
                    }
                }
                Err(e) => problems.push((push.line(), format!("push.tags: {e}"))),
            }
            if let Some((l, _)) = push.entry("branches") {
                problems.push((
                    l,
                    "push.branches publishes from branch pushes; publish only from release tags"
                        .into(),
                ));
            }
        }
        None => {
            let line = names
                .iter()
                .find(|(n, _)| n == "push")
                .map_or(on_line, |(_, l)| *l);
            problems.push((
                line,
                format!(
                    "no push trigger for tags `{}` and `{}`",
                    expected[0], expected[1]
                ),
            ));
        }
    }
    // workflow_dispatch with a boolean input defaulting to false.
    let input = &tags.dispatch_input;
    match names.iter().find(|(n, _)| n == "workflow_dispatch") {
        None => problems.push((
            on_line,
            format!("no workflow_dispatch trigger with a boolean `{input}` input"),
        )),
        Some((_, dl)) => match on
            .get("workflow_dispatch")
            .and_then(|w| w.get("inputs"))
            .and_then(|i| i.entry(input))
        {
            None => problems.push((*dl, format!("workflow_dispatch has no `{input}` input"))),
            Some((il, spec)) => {
                evidence.push(ev(il));
                match spec.entry("type") {
                    Some((_, t)) if t.as_str() == Some("boolean") => {}
                    Some((l, t)) => problems.push((
                        l,
                        format!(
                            "`{input}` has type `{}`; it must be boolean",
                            t.as_str().unwrap_or("?")
                        ),
                    )),
                    None => problems.push((il, format!("`{input}` has no `type: boolean`"))),
                }
                match spec.entry("default") {
                    Some((_, d)) if d.as_str() == Some("false") => {}
                    Some((l, d)) => problems.push((l, format!("`{input}` defaults to `{}`; it must default to false so `latest` never moves by accident", d.as_str().unwrap_or("?")))),
                    None => problems.push((il, format!("`{input}` has no `default: false`"))),
                }
            }
        },
    }
    if problems.is_empty() {
        Outcome::pass(
            id,
            format!(
                "triggers: push of tags {} and {}, workflow_dispatch with boolean {input} defaulting to false",
                expected[0], expected[1]
            ),
            evidence,
        )
    } else {
        Outcome::fail(
            id,
            problems
                .iter()
                .map(|(_, m)| m.as_str())
                .collect::<Vec<_>>()
                .join("; "),
            problems.iter().map(|(l, _)| ev(*l)).collect(),
        )
    }
}

fn pinned_and_injection(jobs: &Node, ev: &dyn Fn(u32) -> Evidence) -> Vec<Outcome> {
    let mut unpinned = Vec::new();
    let mut pinned = Vec::new();
    let mut injections = Vec::new();
    for (_, _, job) in jobs.entries() {
        let mut uses: Vec<&Node> = job.get("uses").into_iter().collect();
        let steps: &[Node] = match job.get("steps") {
            Some(Node::Seq { items, .. }) => items,
            _ => &[],
        };
        uses.extend(steps.iter().filter_map(|s| s.get("uses")));
        for u in uses {
            let s = u.as_str().unwrap_or_default();
            let ok = if s.starts_with("./") {
                true
            } else if let Some(img) = s.strip_prefix("docker://") {
                img.split_once("@sha256:")
                    .is_some_and(|(_, d)| is_hex(d, 64))
            } else {
                s.rsplit_once('@').is_some_and(|(_, r)| is_hex(r, 40))
            };
            if ok {
                pinned.push(ev(u.line()));
            } else {
                unpinned.push((u.line(), s.to_string()));
            }
        }
        for step in steps {
            if let Some(run @ Node::Scalar { value, .. }) = step.get("run") {
                for (off, expr) in expressions(value) {
                    if expr.contains("inputs.") || expr.contains("github.event.") {
                        injections.push((line_in_scalar(run, off), expr.to_string()));
                    }
                }
            }
        }
    }
    let mut out = Vec::new();
    if unpinned.is_empty() {
        out.push(Outcome::pass(
            CheckId::WorkflowActionsPinned,
            format!(
                "{} `uses:` reference(s), all pinned by commit SHA or local",
                pinned.len()
            ),
            pinned,
        ));
    } else {
        for (l, s) in unpinned {
            out.push(Outcome::fail(
                CheckId::WorkflowActionsPinned,
                format!("`uses: {s}` is not pinned to a 40-hex commit SHA"),
                vec![ev(l)],
            ));
        }
    }
    if injections.is_empty() {
        out.push(Outcome::pass(
            CheckId::WorkflowNoInjection,
            "no inputs.* or github.event.* expression is expanded inside a run: script",
            vec![Evidence::note("every run: script checked")],
        ));
    } else {
        for (l, e) in injections {
            out.push(Outcome::fail(
                CheckId::WorkflowNoInjection,
                format!("`${{{{ {e} }}}}` is expanded inside a run: script; pass it through env: instead"),
                vec![ev(l)],
            ));
        }
    }
    out
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len
        && s.chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
}

/// What the credential and push routes of one or more workflow files gave.
#[derive(Default)]
pub(crate) struct Routes {
    /// `secrets-no-long-lived-pat` findings.
    pub pat: Vec<(Vec<Evidence>, String)>,
    /// `secrets-github-token` findings: a login or a pushing step with another credential.
    pub token_bad: Vec<(Vec<Evidence>, String)>,
    /// Logins and pushing steps that use GITHUB_TOKEN.
    pub token_good: Vec<Evidence>,
    /// Steps that push to a registry or move a tag.
    pub pushes: Vec<(Vec<Evidence>, String)>,
}

/// One workflow file as read.
pub(crate) struct Workflow {
    pub rel: PathBuf,
    pub text: String,
    pub root: Node,
}

impl Workflow {
    pub fn ev(&self, line: u32) -> Evidence {
        Evidence::file_excerpt(&self.rel, Some(line), excerpt(&self.text, line))
    }
}

fn steps_of(job: &Node) -> &[Node] {
    match job.get("steps") {
        Some(Node::Seq { items, .. }) => items,
        _ => &[],
    }
}

/// The called workflow's secret names that a caller job sets to GITHUB_TOKEN.
pub(crate) fn token_aliases(job: &Node) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    if let Some(Node::Map { entries, .. }) = job.get("secrets") {
        for (k, _, v) in entries {
            let exprs = expressions(v.as_str().unwrap_or_default());
            if exprs.len() == 1 && credentials::is_token_expr(exprs[0].1) {
                out.insert(k.clone());
            }
        }
    }
    out
}

/// Reads every credential and push route of `wf`. `publish` is true for the publish workflow
/// and the reusable workflows it calls: there, any secret other than GITHUB_TOKEN anywhere is
/// a finding; in other workflows only the routes to a login or a push are.
pub(crate) fn routes(wf: &Workflow, aliases: &BTreeSet<String>, publish: bool, r: &mut Routes) {
    use credentials::{Cred, SecretRef, Source};
    let root = &wf.root;
    let alias = |n: &str| {
        n.eq_ignore_ascii_case("GITHUB_TOKEN") || aliases.iter().any(|a| a.eq_ignore_ascii_case(n))
    };
    // Every reference to the secrets context, and every literal with a token's shape.
    root.walk(None, &mut |key, n| {
        let Node::Scalar { value, .. } = n else {
            return;
        };
        if credentials::looks_like_token(value) {
            let off = value
                .find(['g', 'd'])
                .unwrap_or_default();
            r.pat.push((
                vec![wf.ev(line_in_scalar(n, off))],
                "a hard-coded token is written into the workflow; remove it, revoke it, and publish with GITHUB_TOKEN".into(),
            ));
        }
        if !publish {
            return;
        }
        let mut exprs: Vec<(usize, &str)> = expressions(value);
        // `if:` conditions are expressions without `${{ }}`.
        if key == Some("if") && exprs.is_empty() {
            exprs.push((0, value.as_str()));
        }
        for (off, expr) in exprs {
            for s in credentials::secret_refs(expr) {
                let msg = match s {
                    SecretRef::Named(n) if alias(&n) => continue,
                    SecretRef::Named(n) => format!("the workflow uses `secrets.{n}`; publish with GITHUB_TOKEN instead of a long-lived token"),
                    SecretRef::Dynamic(e) => format!("`{e}` picks a secret at run time, so any secret can reach this step; name only secrets.GITHUB_TOKEN"),
                    SecretRef::Whole(e) => format!("`{e}` hands every secret of the repository to this step; pass only secrets.GITHUB_TOKEN"),
                };
                r.pat.push((vec![wf.ev(line_in_scalar(n, off))], msg));
            }
        }
    });
    let Some(jobs) = root.get("jobs") else {
        return;
    };
    let top_env = root.get("env");
    for (job_name, job_line, job) in jobs.entries() {
        // A called workflow that gets every secret.
        if let Some((l, s)) = job.entry("secrets")
            && s.as_str().is_some_and(|v| v.trim() == "inherit")
        {
            let uses = job.get("uses").and_then(Node::as_str).unwrap_or("?");
            r.pat.push((
                vec![wf.ev(l)],
                format!("job `{job_name}` passes `secrets: inherit` to `{uses}`, which hands it every repository and organisation secret; pass `secrets: {{ token: ${{{{ secrets.GITHUB_TOKEN }}}} }}` or nothing"),
            ));
        }
        let _ = job_line;
        let job_env = job.get("env");
        let mut logged_in = false;
        for step in steps_of(job) {
            let step_env = step.get("env");
            let scope = credentials::Scope {
                envs: [step_env, job_env, top_env],
                token_aliases: aliases,
            };
            let uses = step.get("uses").and_then(Node::as_str).unwrap_or_default();
            let with = step.get("with");
            let mut pushes = false;
            if !uses.is_empty() {
                if credentials::action_logs_in(uses) {
                    let mut creds = 0;
                    for (k, l, v) in with.map(Node::entries).unwrap_or_default() {
                        if !credentials::credential_key(k) {
                            continue;
                        }
                        creds += 1;
                        match credentials::classify_value(v.as_str().unwrap_or_default(), &scope, 0) {
                            Cred::GithubToken => {
                                logged_in = true;
                                r.token_good.push(wf.ev(*l));
                            }
                            c => r.token_bad.push((
                                vec![wf.ev(*l)],
                                format!("{} input `{k}` is {}, not GITHUB_TOKEN; log in with `{k}: ${{{{ secrets.GITHUB_TOKEN }}}}`", action_name(uses), c.describe()),
                            )),
                        }
                    }
                    if creds == 0 {
                        r.token_bad.push((
                            vec![wf.ev(step.line())],
                            format!("{} has no password input; log in with `password: ${{{{ secrets.GITHUB_TOKEN }}}}`", action_name(uses)),
                        ));
                    }
                }
                if credentials::action_pushes(uses, with) {
                    pushes = true;
                    r.pushes.push((
                        vec![wf.ev(step.get("uses").map_or(step.line(), Node::line))],
                        format!("`uses: {uses}` pushes to a registry"),
                    ));
                    for (k, l, v) in with.map(Node::entries).unwrap_or_default() {
                        if !credentials::credential_key(k) {
                            continue;
                        }
                        match credentials::classify_value(v.as_str().unwrap_or_default(), &scope, 0)
                        {
                            Cred::GithubToken => r.token_good.push(wf.ev(*l)),
                            c => r.token_bad.push((
                                vec![wf.ev(*l)],
                                format!(
                                    "input `{k}` of a pushing action is {}, not GITHUB_TOKEN",
                                    c.describe()
                                ),
                            )),
                        }
                    }
                }
            }
            let run_node = step.get("run");
            let script = run_node.and_then(Node::as_str).unwrap_or_default();
            let at = |i: usize| match run_node {
                Some(n @ Node::Scalar { value, .. }) => {
                    let off = value
                        .match_indices('\n')
                        .nth(i.wrapping_sub(1))
                        .map_or(0, |(o, _)| if i == 0 { 0 } else { o + 1 });
                    line_in_scalar(n, off)
                }
                _ => step.line(),
            };
            if !script.is_empty() {
                let assigned = credentials::script_assignments(script);
                for login in credentials::shell_logins(script) {
                    let login_line = at(login.line);
                    if login.sources.is_empty() {
                        r.token_bad.push((
                            vec![wf.ev(login_line)],
                            format!("`{} login` gets no credential this check can trace to GITHUB_TOKEN; pipe it in: `echo \"$REGISTRY_TOKEN\" | {} login ghcr.io -u \"$GITHUB_ACTOR\" --password-stdin` with env `REGISTRY_TOKEN: ${{{{ secrets.GITHUB_TOKEN }}}}`", login.tool, login.tool),
                        ));
                        continue;
                    }
                    let mut all_token = true;
                    for (sl, src) in &login.sources {
                        let mut ev = vec![wf.ev(login_line)];
                        if at(*sl) != login_line {
                            ev.push(wf.ev(at(*sl)));
                        }
                        let cred = match src {
                            Source::Expr(e) => credentials::classify_expr(e, &scope, 0),
                            Source::Literal => Cred::Literal,
                            Source::Opaque(d) => Cred::Unknown(d.clone()),
                            Source::Var(v) => {
                                if let Some(vals) = assigned.get(v) {
                                    let mut worst = Cred::GithubToken;
                                    for (al, val) in vals {
                                        ev.push(wf.ev(at(*al)));
                                        let c = credentials::classify_value(val, &scope, 0);
                                        let c = if c == Cred::Literal && val.contains('$') {
                                            Cred::Unknown(format!("${v}"))
                                        } else {
                                            c
                                        };
                                        if !c.is_token() {
                                            worst = c;
                                        }
                                    }
                                    worst
                                } else if let Some((el, val)) = scope.env(v, false) {
                                    ev.push(wf.ev(el));
                                    credentials::classify_value(
                                        val.as_str().unwrap_or_default(),
                                        &scope,
                                        0,
                                    )
                                } else {
                                    Cred::Unknown(format!(
                                        "${v}, which no env: of this step, job or workflow sets"
                                    ))
                                }
                            }
                        };
                        if !cred.is_token() {
                            all_token = false;
                            r.token_bad.push((
                                ev,
                                format!("`{} login` gets its credential from {}, not GITHUB_TOKEN; log in with secrets.GITHUB_TOKEN", login.tool, cred.describe()),
                            ));
                        }
                    }
                    if all_token {
                        logged_in = true;
                        r.token_good.push(wf.ev(login_line));
                    }
                }
                for p in credentials::shell_pushes(script) {
                    pushes = true;
                    r.pushes.push((
                        vec![wf.ev(at(p.line))],
                        format!("`{}` writes to a registry", p.what),
                    ));
                }
            }
            if pushes {
                // Every env value a pushing step sees, from the step, the job and the workflow.
                let mut token_env = false;
                for env in [step_env, job_env, top_env].into_iter().flatten() {
                    for (k, l, v) in env.entries() {
                        let value = v.as_str().unwrap_or_default();
                        match credentials::classify_value(value, &scope, 0) {
                            Cred::GithubToken => {
                                token_env = true;
                                r.token_good.push(wf.ev(*l));
                            }
                            c @ (Cred::Secret(_) | Cred::AnySecret(_)) => r.token_bad.push((
                                vec![wf.ev(*l)],
                                format!("env `{k}` hands {} to a step that pushes; use GITHUB_TOKEN", c.describe()),
                            )),
                            Cred::Literal if credentials::credential_key(k) || credentials::looks_like_token(value) => r.token_bad.push((
                                vec![wf.ev(*l)],
                                format!("env `{k}` is a hard-coded credential of a step that pushes; use GITHUB_TOKEN"),
                            )),
                            _ => {}
                        }
                    }
                }
                if publish
                    && script.contains("xtask publish")
                    && !token_env
                    && !logged_in
                    && !expressions(script)
                        .iter()
                        .any(|(_, e)| credentials::is_token_expr(e))
                {
                    r.token_bad.push((vec![wf.ev(step.line())], "this publish step gets no GITHUB_TOKEN (e.g. env `REGISTRY_TOKEN: ${{ secrets.GITHUB_TOKEN }}`) and no earlier login used it".to_string()));
                }
            }
        }
    }
}

fn action_name(uses: &str) -> &str {
    uses.split('@').next().unwrap_or(uses)
}

/// The `secrets-*` outcomes from the routes of the publish workflow (and what it calls).
fn secrets_outcomes(r: &Routes, rel: &Path, jobs_line: u32) -> Vec<Outcome> {
    let mut out = Vec::new();
    if r.pat.is_empty() {
        out.push(Outcome::pass(
            CheckId::SecretsNoLongLivedPat,
            "the workflow references no secret other than GITHUB_TOKEN",
            vec![Evidence::file(rel, None)],
        ));
    } else {
        for (ev, m) in &r.pat {
            out.push(Outcome::fail(
                CheckId::SecretsNoLongLivedPat,
                m.clone(),
                ev.clone(),
            ));
        }
    }
    if r.token_bad.is_empty() && !r.token_good.is_empty() {
        out.push(Outcome::pass(
            CheckId::SecretsGithubToken,
            "every registry login and pushing step uses GITHUB_TOKEN",
            r.token_good.clone(),
        ));
    } else if r.token_bad.is_empty() {
        out.push(Outcome::fail(
            CheckId::SecretsGithubToken,
            "no registry login found (a login action or command, or a `cargo xtask publish` step with GITHUB_TOKEN in env)",
            vec![Evidence::file(rel, Some(jobs_line))],
        ));
    } else {
        for (ev, m) in &r.token_bad {
            out.push(Outcome::fail(
                CheckId::SecretsGithubToken,
                m.clone(),
                ev.clone(),
            ));
        }
    }
    out
}

/// A local reusable workflow a job calls (`uses: ./.github/workflows/x.yml`).
fn local_call(job: &Node) -> Option<(&str, u32)> {
    let u = job.get("uses")?;
    let s = u.as_str()?;
    s.starts_with("./").then_some((s, u.line()))
}

/// Reads and parses a workflow file; `Err` is the reason it cannot be read.
fn load(repo: &Path, rel: &Path) -> Result<Workflow, String> {
    let text = std::fs::read_to_string(repo.join(rel)).map_err(|e| e.to_string())?;
    match parse_yaml(&text) {
        Ok(docs) if docs.len() == 1 => Ok(Workflow {
            rel: rel.to_path_buf(),
            root: docs.into_iter().next().expect("one document"),
            text,
        }),
        Ok(docs) => Err(format!("expected one YAML document, found {}", docs.len())),
        Err((line, msg)) => Err(format!("not valid YAML at line {line}: {msg}")),
    }
}

/// Follows the local reusable workflows `wf` calls (up to GitHub's nesting limit), checking
/// each with the calling job's permissions and the secrets it passes. Returns the files read.
fn follow_calls(
    repo: &Path,
    wf: &Workflow,
    publish: bool,
    depth: u8,
    seen: &mut BTreeSet<PathBuf>,
    out: &mut Vec<Outcome>,
    r: &mut Routes,
) {
    let Some(jobs) = wf.root.get("jobs") else {
        return;
    };
    for (job_name, _, job) in jobs.entries() {
        let Some((uses, line)) = local_call(job) else {
            continue;
        };
        let rel = PathBuf::from(uses.trim_start_matches("./"));
        if depth >= 10 {
            out.push(Outcome::fail(
                CheckId::WorkflowPresent,
                format!("job `{job_name}` nests reusable workflows deeper than GitHub allows (10 levels)"),
                vec![wf.ev(line)],
            ));
            continue;
        }
        let callee = match load(repo, &rel) {
            Ok(c) => c,
            Err(e) => {
                out.push(Outcome::fail(
                    CheckId::WorkflowPresent,
                    format!("job `{job_name}` calls `{uses}`, which cannot be read ({e}); the run would fail"),
                    vec![wf.ev(line)],
                ));
                continue;
            }
        };
        if !seen.insert(rel.clone()) {
            continue;
        }
        // The caller job's grant is what the called jobs get unless they narrow it.
        let caller_perm = job.get("permissions").or(wf.root.get("permissions"));
        let aliases = token_aliases(job);
        if let Some(cjobs) = callee.root.get("jobs") {
            let ev = |l: u32| callee.ev(l);
            if publish {
                out.extend(permissions(&callee.root, cjobs, &ev, caller_perm));
            }
            let pinned = pinned_and_injection(cjobs, &ev);
            out.extend(
                pinned
                    .into_iter()
                    .filter(|o| publish || o.status != Status::Pass),
            );
        }
        routes(&callee, &aliases, publish, r);
        follow_calls(repo, &callee, publish, depth + 1, seen, out, r);
    }
}

/// Keeps, for each id with a finding, only the findings: one file's pass must not sit next to
/// another file's failure of the same check.
fn settle(out: Vec<Outcome>) -> Vec<Outcome> {
    let failing: BTreeSet<CheckId> = out
        .iter()
        .filter(|o| o.status != Status::Pass)
        .map(|o| o.id)
        .collect();
    out.into_iter()
        .filter(|o| o.status != Status::Pass || !failing.contains(&o.id))
        .collect()
}

/// Whether a permissions value grants `packages: write` (or every scope).
fn grants_packages_write(perm: &Node) -> Option<u32> {
    match perm {
        Node::Scalar { value, line, .. } if value == "write-all" => Some(*line),
        Node::Map { entries, .. } => entries
            .iter()
            .find(|(k, _, v)| k == "packages" && v.as_str() == Some("write"))
            .map(|(_, l, _)| *l),
        _ => None,
    }
}

/// Every workflow in the repository's `.github/workflows` that is not the publish workflow
/// nor called by it: none may push to the registry, move a tag, or grant `packages: write`,
/// and its logins, remote reusable workflows and `secrets: inherit` are held to the same
/// rules.
fn other_workflows(repo: &Path, publish_rel: &Path, called: &BTreeSet<PathBuf>) -> Vec<Outcome> {
    let id = CheckId::WorkflowSinglePublisher;
    let dir = repo.join(".github/workflows");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "yml" || e == "yaml"))
        .filter_map(|p| p.strip_prefix(repo).ok().map(Path::to_path_buf))
        .filter(|p| p != publish_rel && !called.contains(p))
        .collect();
    files.sort();
    let mut out = Vec::new();
    let mut r = Routes::default();
    let mut read = Vec::new();
    for rel in &files {
        let wf = match load(repo, rel) {
            Ok(w) => w,
            Err(e) => {
                out.push(Outcome::warn(
                    id,
                    format!("{} cannot be read ({e}), so whether it pushes is unknown; GitHub would reject it too", rel.display()),
                    vec![Evidence::file(rel, None)],
                ));
                continue;
            }
        };
        read.push(Evidence::file(rel, None));
        let mut perms: Vec<&Node> = wf.root.get("permissions").into_iter().collect();
        if let Some(jobs) = wf.root.get("jobs") {
            perms.extend(
                jobs.entries()
                    .iter()
                    .filter_map(|(_, _, j)| j.get("permissions")),
            );
            // Remote reusable workflows and actions must be pinned here too.
            let ev = |l: u32| wf.ev(l);
            out.extend(
                pinned_and_injection(jobs, &ev)
                    .into_iter()
                    .filter(|o| o.id == CheckId::WorkflowActionsPinned && o.status != Status::Pass),
            );
        }
        for p in perms {
            if let Some(l) = grants_packages_write(p) {
                out.push(Outcome::fail(
                    id,
                    format!("{} grants `packages: write`; only the publish workflow ({}) may write packages", rel.display(), publish_rel.display()),
                    vec![wf.ev(l)],
                ));
            }
        }
        let before = r.pushes.len();
        routes(&wf, &BTreeSet::new(), false, &mut r);
        let mut seen = BTreeSet::new();
        let mut nested = Vec::new();
        follow_calls(repo, &wf, false, 1, &mut seen, &mut nested, &mut r);
        out.extend(nested);
        for (ev, what) in r.pushes.drain(before..) {
            out.push(Outcome::fail(
                id,
                format!(
                    "{what} in {}; only the publish workflow ({}) may push images or move `latest`",
                    rel.display(),
                    publish_rel.display()
                ),
                ev,
            ));
        }
    }
    for (ev, m) in r.pat {
        out.push(Outcome::fail(CheckId::SecretsNoLongLivedPat, m, ev));
    }
    for (ev, m) in r.token_bad {
        out.push(Outcome::fail(CheckId::SecretsGithubToken, m, ev));
    }
    if !out.iter().any(|o| o.id == id) {
        out.push(Outcome::pass(
            id,
            format!(
                "{} other workflow file(s) in .github/workflows read; none pushes to a registry, moves a tag or grants packages: write",
                files.len()
            ),
            if read.is_empty() {
                vec![Evidence::note("no other workflow files")]
            } else {
                read
            },
        ));
    }
    out
}

/// Every workflow check over a repository: the publish workflow `publish_rel`, the local
/// reusable workflows it calls (followed, with the caller's permissions and secrets), and
/// every other workflow under `.github/workflows`. Public so the corpus tests can run
/// fixture repositories through the same code.
pub fn check_repo(repo: &Path, publish_rel: &Path, tags: &crate::config::TagRules) -> Vec<Outcome> {
    let mut out = check_path(repo, publish_rel, tags);
    let mut called = BTreeSet::new();
    if let Ok(wf) = load(repo, publish_rel) {
        collect_called(repo, &wf, 0, &mut called);
    }
    out.extend(other_workflows(repo, publish_rel, &called));
    settle(out)
}

fn collect_called(repo: &Path, wf: &Workflow, depth: u8, called: &mut BTreeSet<PathBuf>) {
    let Some(jobs) = wf.root.get("jobs") else {
        return;
    };
    for (_, _, job) in jobs.entries() {
        if let Some((uses, _)) = local_call(job) {
            let rel = PathBuf::from(uses.trim_start_matches("./"));
            if depth < 10
                && called.insert(rel.clone())
                && let Ok(c) = load(repo, &rel)
            {
                collect_called(repo, &c, depth + 1, called);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_one_based_and_block_scalars_offset() {
        let text = "a: 1\nrun: |\n  echo one\n  echo ${{ inputs.x }}\n";
        let docs = parse_yaml(text).unwrap();
        let run = docs[0].get("run").unwrap();
        assert_eq!(docs[0].entry("a").unwrap().0, 1);
        let (off, _) = expressions(run.as_str().unwrap())[0];
        assert_eq!(line_in_scalar(run, off), 4);
    }

    fn trigger_verdict(on: &str) -> Outcome {
        let text = format!(
            "on:\n{on}  workflow_dispatch:\n    inputs:\n      publish_latest:\n        type: boolean\n        default: false\n"
        );
        let docs = parse_yaml(&text).unwrap();
        let rel = Path::new(".github/workflows/publish-images.yml");
        let ev = |line: u32| Evidence::file(rel, Some(line));
        triggers(&docs[0], &crate::config::TagRules::checklist(), &ev, rel)
    }

    #[test]
    fn tag_filters_are_read_as_github_reads_them() {
        use crate::checks::Status;
        let passes = |on: &str| {
            let o = trigger_verdict(on);
            assert_eq!(o.status, Status::Pass, "{on}: {o:?}");
        };
        let fails = |on: &str, why: &str| {
            let o = trigger_verdict(on);
            assert_eq!(o.status, Status::Fail, "{on}: {o:?}");
            assert!(o.message.contains(why), "{on}: {}", o.message);
        };
        passes("  push:\n    tags: ['v*', 'release-v*']\n");
        // `+` is "one or more of the preceding character" in GitHub's filter patterns; a shell
        // glob reads it literally and would call this workflow broken.
        passes("  push:\n    tags: ['v[0-9]+.[0-9]+.[0-9]+', 'release-v[0-9]+.[0-9]+.[0-9]+']\n");
        // A later `!` pattern excludes what an earlier one included: no run for release tags.
        fails(
            "  push:\n    tags: ['v*', 'release-v*', '!release-*']\n",
            "does not include `release-v*`",
        );
        // ...and a positive pattern after it takes them back.
        passes("  push:\n    tags: ['v*', '!v*', 'v[0-9]*', 'release-v*']\n");
        // `tags-ignore` alone runs for every tag it does not ignore.
        passes("  push:\n    tags-ignore: ['nightly-*']\n");
        fails(
            "  push:\n    tags-ignore: ['release-*']\n",
            "does not include `release-v*`",
        );
        // A pattern GitHub refuses is named, not treated as matching nothing.
        fails(
            "  push:\n    tags: ['v[]', 'release-v*']\n",
            "empty brackets",
        );
    }

    #[test]
    fn yaml_errors_carry_the_line() {
        let err = parse_yaml("a: [1, 2\nb: c\n  d: e\n").unwrap_err();
        assert!(err.0 >= 2, "{err:?}");
    }
}
