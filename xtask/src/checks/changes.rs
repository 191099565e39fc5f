//! `changes-match-release`: the images whose inputs changed since the previous release are
//! exactly the components in this release.
//!
//! An image's inputs are its component directory (Dockerfile and build context), the
//! directories of the workspace crates its crate depends on (transitively, from
//! `cargo metadata`), and workspace-wide files (Cargo.lock, Cargo.toml, release.toml,
//! rust-toolchain.toml). They are diffed between the previous release tag that is an ancestor
//! of HEAD and HEAD.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::{CheckId, Ctx, Evidence, Outcome};
use super::{Kind, Meta, Phase, Section, Severity};
use crate::effects::git;
use crate::tags;

/// Files every image depends on.
pub(crate) const WORKSPACE_INPUTS: &[&str] = &[
    "Cargo.lock",
    "Cargo.toml",
    "release.toml",
    "rust-toolchain.toml",
    "rust-toolchain",
];

/// Workspace-member crate name -> (its directory relative to root, its workspace path deps).
pub(crate) fn workspace_crates(
    root: &Path,
) -> anyhow::Result<BTreeMap<String, (String, Vec<String>)>> {
    let sh = xshell::Shell::new()?;
    sh.change_dir(root);
    let out = xshell::cmd!(sh, "cargo metadata --format-version 1 --no-deps --offline")
        .quiet()
        .ignore_stderr()
        .read()?;
    let v: serde_json::Value = serde_json::from_str(&out)?;
    let mut crates = BTreeMap::new();
    for p in v["packages"].as_array().into_iter().flatten() {
        let name = p["name"].as_str().unwrap_or_default().to_string();
        let manifest = Path::new(p["manifest_path"].as_str().unwrap_or_default());
        let dir = manifest
            .parent()
            .and_then(|d| {
                d.strip_prefix(root)
                    .ok()
                    .or_else(|| d.strip_prefix(root.canonicalize().ok()?).ok())
            })
            .map(|d| d.to_string_lossy().to_string())
            .unwrap_or_default();
        let deps = p["dependencies"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|d| d["path"].is_string())
            .filter_map(|d| d["name"].as_str().map(String::from))
            .collect();
        crates.insert(name, (dir, deps));
    }
    Ok(crates)
}

/// The directories (relative) of `krate` and every workspace crate it depends on.
pub(crate) fn closure_dirs(
    crates: &BTreeMap<String, (String, Vec<String>)>,
    krate: &str,
) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut dirs = BTreeSet::new();
    let mut todo = vec![krate.to_string()];
    while let Some(c) = todo.pop() {
        if !seen.insert(c.clone()) {
            continue;
        }
        if let Some((dir, deps)) = crates.get(&c) {
            if !dir.is_empty() {
                dirs.insert(dir.clone());
            }
            todo.extend(deps.iter().cloned());
        }
    }
    dirs
}

/// The latest release tag (highest version) merged into HEAD, other than `exclude`.
pub(crate) fn previous_release_tag(ctx: &Ctx) -> anyhow::Result<Option<(String, semver::Version)>> {
    let rules = &ctx.ws.config.raw.tags;
    let mut best: Option<(String, semver::Version)> = None;
    for tag in git::tags_merged_into_head(&ctx.ws.root)? {
        let Ok((_, v)) = tags::parse_git_tag(rules, &tag) else {
            continue;
        };
        if ctx.release.as_ref() == Some(&v) {
            continue;
        }
        if best.as_ref().is_none_or(|(_, b)| v > *b) {
            best = Some((tag, v));
        }
    }
    Ok(best)
}

/// What the remote's release tags say about this clone's.
enum RemoteTags {
    /// Release tags the remote has and this clone lacks (or has at another commit).
    Missing(Vec<String>),
    /// Every release tag is here; the note says what was compared.
    AllHere(String),
}

/// Compares the remote's release tags with the local ones (read-only: `git ls-remote`).
/// Offline, or without a configured remote, the local tags are all there is.
fn remote_tags_missing(ctx: &Ctx) -> anyhow::Result<RemoteTags> {
    let root = &ctx.ws.root;
    let remote = &ctx.ws.config.raw.repository.remote;
    if ctx.offline {
        return Ok(RemoteTags::AllHere(format!(
            "offline: the release tags of `{remote}` were not compared with this clone's"
        )));
    }
    if git::remote_url(root, remote)?.is_none() {
        return Ok(RemoteTags::AllHere(format!(
            "no `{remote}` remote is configured: the local tags are all there are"
        )));
    }
    let refs = git::ls_remote(root, remote, &["refs/tags/*".to_string()])?;
    let rules = &ctx.ws.config.raw.tags;
    let mut missing = Vec::new();
    let mut compared = 0;
    for (name, commit) in &refs {
        let Some(tag) = name.strip_prefix("refs/tags/") else {
            continue;
        };
        let Ok((_, v)) = tags::parse_git_tag(rules, tag) else {
            continue;
        };
        // The release being made may already be on the remote (a resumed release).
        if ctx.release.as_ref() == Some(&v) {
            continue;
        }
        compared += 1;
        if git::try_rev_parse(root, &format!("refs/tags/{tag}"))?.as_deref() != Some(commit) {
            missing.push(tag.to_string());
        }
    }
    Ok(if missing.is_empty() {
        RemoteTags::AllHere(format!(
            "all {compared} release tag(s) of `{remote}` are in this clone"
        ))
    } else {
        RemoteTags::Missing(missing)
    })
}

pub(crate) const CHANGES_MATCH_RELEASE: Meta = Meta {
    id: "changes-match-release",
    section: Section::OperatorPreflight,
    phase: Phase::Preflight,
    kind: Kind::Automated,
    severity: Severity::Error,
    checklist: "image changes match the intended component release",
    summary: "Images whose inputs changed since the previous release are exactly the components in this release.",
    why: "Shipping a changed image outside the release, or releasing an unchanged one, means notes and reality disagree.",
    fix: "Add the component to --components, or revert the change to the files named in the evidence.",
};

pub fn run(ctx: &Ctx) -> Vec<Outcome> {
    let id = CheckId::ChangesMatchRelease;
    if !ctx.wants(id) {
        return Vec::new();
    }
    let root = &ctx.ws.root;
    let repo = match git::is_repo(root) {
        Ok(r) => r,
        Err(e) => {
            return vec![Outcome::fail(
                id,
                format!("{e:#}"),
                vec![Evidence::note("git refused to read the repository")],
            )];
        }
    };
    if !repo {
        return vec![Outcome::not_run(
            id,
            format!("{} is not a git work tree", root.display()),
            "run in a git checkout of the repository",
        )];
    }
    // A shallow clone has neither the earlier release tags nor the history to diff against.
    match git::is_shallow(root) {
        Ok(true) => {
            return vec![Outcome::fail(
                id,
                "this clone is shallow, so earlier release tags and the history since them are missing and every image would look new; run `git fetch --tags --unshallow` (in CI: actions/checkout with `fetch-depth: 0`)",
                vec![Evidence::note(
                    "git rev-parse --is-shallow-repository: true",
                )],
            )];
        }
        Ok(false) => {}
        Err(e) => {
            return vec![Outcome::fail(
                id,
                format!("{e:#}"),
                vec![Evidence::note("git refused to read the repository")],
            )];
        }
    }
    // A clone without tags (`--no-tags`, or an old clone) sees no earlier release: compare
    // with the remote's release tags before believing "first release".
    let remote_note = match remote_tags_missing(ctx) {
        Ok(RemoteTags::Missing(missing)) => {
            let remote = &ctx.ws.config.raw.repository.remote;
            return vec![Outcome::fail(
                id,
                format!(
                    "{} release tag(s) of `{remote}` are not in this clone ({}), so the previous release is unknown; run `git fetch --tags {remote}`",
                    missing.len(),
                    missing
                        .iter()
                        .take(5)
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                missing
                    .iter()
                    .take(20)
                    .map(|t| {
                        Evidence::note(format!("{remote} has refs/tags/{t}; this clone does not"))
                    })
                    .collect(),
            )];
        }
        Ok(RemoteTags::AllHere(note)) => note,
        Err(e) => {
            let local_tags = git::tags(root).unwrap_or_default();
            let rules = &ctx.ws.config.raw.tags;
            if !local_tags
                .iter()
                .any(|t| tags::parse_git_tag(rules, t).is_ok())
            {
                return vec![Outcome::skip(
                    id,
                    format!(
                        "this clone has no release tag and the remote cannot be read ({e:#}), so a first release cannot be told from a clone without tags"
                    ),
                    "run `git fetch --tags` where the remote is reachable, then rerun",
                )];
            }
            format!("the remote's tags were not compared ({e:#})")
        }
    };
    let prev = match previous_release_tag(ctx) {
        Ok(p) => p,
        Err(e) => {
            return vec![Outcome::not_run(
                id,
                format!("cannot list tags: {e:#}"),
                "run in a git checkout with its tags (`git fetch --tags`)",
            )];
        }
    };
    let Some((tag, _)) = prev else {
        return vec![Outcome::pass(
            id,
            "first release: no earlier release tag is an ancestor of HEAD, so every image in scope is new",
            vec![
                Evidence::note(
                    "no release tag is merged into HEAD (git for-each-ref --merged HEAD refs/tags/)",
                ),
                Evidence::note(remote_note),
            ],
        )];
    };
    let changed = match git::changed_files(root, &tag, "HEAD") {
        Ok(c) => c,
        Err(e) => {
            return vec![Outcome::not_run(
                id,
                format!("cannot diff {tag}..HEAD: {e:#}"),
                "fetch the full history (`git fetch --unshallow --tags`)",
            )];
        }
    };
    let crates = workspace_crates(root).ok();
    let cfg = &ctx.ws.config;
    let mut out = Vec::new();
    for (name, comp) in &cfg.raw.components {
        let mut dirs = crates
            .as_ref()
            .map(|c| closure_dirs(c, &comp.krate))
            .unwrap_or_default();
        dirs.insert(comp.dir.clone());
        let hits: Vec<&String> = changed
            .iter()
            .filter(|f| {
                WORKSPACE_INPUTS.contains(&f.as_str())
                    || dirs.iter().any(|d| f.starts_with(&format!("{d}/")))
            })
            .collect();
        let in_release = ctx.components.contains(name);
        let ev: Vec<Evidence> = hits
            .iter()
            .take(20)
            .map(|f| Evidence::file(f.as_str(), None))
            .collect();
        let inputs = format!(
            "inputs: {}/ + {}",
            dirs.iter().cloned().collect::<Vec<_>>().join("/, "),
            WORKSPACE_INPUTS.join(", ")
        );
        match (hits.is_empty(), in_release) {
            (false, true) => out.push(Outcome::pass(id, format!("{name}: {} input file(s) changed since {tag}, and it is in the release", hits.len()), ev)),
            (true, false) => out.push(Outcome::pass(id, format!("{name}: unchanged since {tag}, and not in the release"), vec![Evidence::note(inputs)])),
            (false, false) => out.push(Outcome::fail(
                id,
                format!("{name}: {} input file(s) changed since {tag}, but {name} is not in the release; add it with --components or revert the change", hits.len()),
                ev,
            )),
            (true, true) => out.push(Outcome::warn(
                id,
                format!("{name}: in the release but none of its inputs changed since {tag}"),
                vec![Evidence::note(inputs)],
            )),
        }
    }
    if crates.is_none() {
        // Say so on every result: the crate closure is unknown, so inputs are narrower.
        for o in &mut out {
            o.evidence.push(Evidence::note(
                "`cargo metadata --no-deps` failed: inputs are the component directories and workspace files only",
            ));
        }
    }
    out
}
