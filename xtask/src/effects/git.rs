//! Read-only git queries through the `git` CLI (via xshell), for checks and planning.
//!
//! We shell out instead of linking libgit2 (git2) to save ~100 s of cold build, and because
//! the operator's git already knows their configuration. Nothing here writes to a repository;
//! writes (tags, pushes) belong to whoever owns them and go through their own functions.

use std::path::Path;

use anyhow::Context as _;
use xshell::{Shell, cmd};

use crate::exit::usage;

fn shell(root: &Path) -> anyhow::Result<Shell> {
    let sh = Shell::new().context("starting a shell for git")?;
    sh.change_dir(root);
    Ok(sh)
}

/// Whether `root` is inside a git work tree.
pub fn is_repo(root: &Path) -> bool {
    let Ok(sh) = shell(root) else { return false };
    cmd!(sh, "git rev-parse --is-inside-work-tree")
        .quiet()
        .ignore_stderr()
        .read()
        .is_ok_and(|s| s.trim() == "true")
}

/// The full 40-hex commit of `rev` (e.g. `HEAD`).
pub fn rev_parse(root: &Path, rev: &str) -> anyhow::Result<String> {
    let sh = shell(root)?;
    let spec = format!("{rev}^{{commit}}");
    let out = cmd!(sh, "git rev-parse --verify --quiet {spec}")
        .quiet()
        .ignore_stderr()
        .read()
        .map_err(|e| {
            usage(format!(
                "resolving `{rev}` in {}: {e}; run inside a git checkout with at least one commit",
                root.display()
            ))
        })?;
    Ok(out.trim().to_string())
}

/// HEAD's full commit.
pub fn head(root: &Path) -> anyhow::Result<String> {
    rev_parse(root, "HEAD")
}

/// Tags whose commits are ancestors of (or equal to) HEAD.
pub fn tags_merged_into_head(root: &Path) -> anyhow::Result<Vec<String>> {
    let sh = shell(root)?;
    let out = cmd!(sh, "git tag --merged HEAD")
        .quiet()
        .ignore_stderr()
        .read()
        .with_context(|| format!("listing tags merged into HEAD in {}", root.display()))?;
    Ok(out
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect())
}

/// Files changed between `from` and `to` (commits or tags), as paths relative to the root.
pub fn changed_files(root: &Path, from: &str, to: &str) -> anyhow::Result<Vec<String>> {
    let sh = shell(root)?;
    let range = format!("{from}..{to}");
    let out = cmd!(sh, "git diff --name-only --no-renames {range}")
        .quiet()
        .ignore_stderr()
        .read()
        .with_context(|| format!("diffing {range} in {}", root.display()))?;
    Ok(out
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect())
}

/// Files git tracks (for tidy checks); `None` when `root` is not a git work tree.
pub fn ls_files(root: &Path) -> Option<Vec<String>> {
    let sh = shell(root).ok()?;
    let out = cmd!(sh, "git ls-files -z")
        .quiet()
        .ignore_stderr()
        .read()
        .ok()?;
    Some(
        out.split('\0')
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect(),
    )
}
