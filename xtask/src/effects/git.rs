//! The git adapter, through the `git` CLI (via xshell): reads for checks and planning, and the
//! two writes a release makes (an annotated tag, and a push of exactly that tag).
//!
//! We shell out instead of linking libgit2 (git2) to save ~100 s of cold build, and because
//! the operator's git already knows their configuration: credentials, SSH and tag signing
//! work as they do on the command line.

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

/// The full commit of `rev`, or `None` when it does not resolve.
pub fn try_rev_parse(root: &Path, rev: &str) -> anyhow::Result<Option<String>> {
    let sh = shell(root)?;
    let spec = format!("{rev}^{{commit}}");
    let out = cmd!(sh, "git rev-parse --verify --quiet {spec}")
        .quiet()
        .ignore_stderr()
        .ignore_status()
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
    Ok((out.status.success() && text.len() == 40).then_some(text))
}

/// The current branch, or `None` when HEAD is detached.
pub fn branch(root: &Path) -> anyhow::Result<Option<String>> {
    let sh = shell(root)?;
    let out = cmd!(sh, "git symbolic-ref --quiet --short HEAD")
        .quiet()
        .ignore_stderr()
        .ignore_status()
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
    Ok((out.status.success() && !text.is_empty()).then_some(text))
}

/// `git status --porcelain` lines (untracked files included).
pub fn status(root: &Path) -> anyhow::Result<Vec<String>> {
    let sh = shell(root)?;
    let out = cmd!(sh, "git status --porcelain --untracked-files=all")
        .quiet()
        .read()
        .with_context(|| format!("reading git status in {}", root.display()))?;
    Ok(out
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(String::from)
        .collect())
}

/// Refs on `remote` matching `patterns`, with annotated tags peeled to their commits
/// (`git ls-remote` prints `<sha> refs/tags/x` and `<commit> refs/tags/x^{}`).
pub fn ls_remote(
    root: &Path,
    remote: &str,
    patterns: &[String],
) -> anyhow::Result<std::collections::BTreeMap<String, String>> {
    let sh = shell(root)?;
    // An exact pattern (`refs/tags/v1.2.3`) does not match the peeled line
    // (`refs/tags/v1.2.3^{}`), so ask for that line too.
    let patterns: Vec<String> = patterns
        .iter()
        .flat_map(|p| [p.clone(), format!("{p}^{{}}")])
        .collect();
    let out = cmd!(sh, "git ls-remote {remote} {patterns...}").quiet().read().map_err(|e| {
        crate::exit::external(format!(
            "listing refs of remote `{remote}` failed: {e}; check `git remote -v` and your credentials (git fetch {remote} should work)"
        ))
    })?;
    let mut refs = std::collections::BTreeMap::new();
    let mut peeled = std::collections::BTreeMap::new();
    for line in out.lines() {
        let Some((sha, name)) = line.split_once('\t') else {
            continue;
        };
        match name.strip_suffix("^{}") {
            Some(base) => {
                peeled.insert(base.to_string(), sha.to_string());
            }
            None => {
                refs.insert(name.to_string(), sha.to_string());
            }
        }
    }
    for (name, sha) in peeled {
        refs.insert(name, sha);
    }
    Ok(refs)
}

/// The message of an annotated tag, or `None` for a lightweight or missing tag.
pub fn tag_message(root: &Path, tag: &str) -> anyhow::Result<Option<String>> {
    let sh = shell(root)?;
    let refname = format!("refs/tags/{tag}");
    let out = cmd!(
        sh,
        "git for-each-ref --format=%(objecttype)%00%(contents) {refname}"
    )
    .quiet()
    .read()?;
    Ok(out
        .split_once('\0')
        .filter(|(ty, _)| *ty == "tag")
        .map(|(_, msg)| msg.to_string()))
}

/// Creates an annotated tag at `commit`. Signing follows the operator's `tag.gpgSign` setting.
pub fn create_annotated_tag(
    root: &Path,
    tag: &str,
    commit: &str,
    message: &str,
) -> anyhow::Result<()> {
    let sh = shell(root)?;
    cmd!(sh, "git tag --annotate --file=- {tag} {commit}")
        .stdin(message)
        .quiet()
        .run()
        .with_context(|| format!("creating tag {tag} at {commit}"))?;
    Ok(())
}

/// Pushes exactly one tag to `remote` (never `--tags`, which would push every local tag).
pub fn push_tag(root: &Path, remote: &str, tag: &str) -> anyhow::Result<()> {
    let sh = shell(root)?;
    let refspec = format!("refs/tags/{tag}:refs/tags/{tag}");
    cmd!(sh, "git push --quiet --no-verify {remote} {refspec}").quiet().run().map_err(|e| {
        crate::exit::external(format!(
            "pushing tag {tag} to `{remote}` failed: {e}; if the remote rejected it (a tag ruleset), ask a release operator; otherwise check your credentials and rerun"
        ))
    })?;
    Ok(())
}

/// Fetches exactly one tag from `remote` into the local repository (a resumed release whose
/// tag was pushed from another clone needs it locally for verify and the notes).
pub fn fetch_tag(root: &Path, remote: &str, tag: &str) -> anyhow::Result<()> {
    let sh = shell(root)?;
    let refspec = format!("refs/tags/{tag}:refs/tags/{tag}");
    cmd!(sh, "git fetch --quiet --no-tags {remote} {refspec}").quiet().run().map_err(|e| {
        crate::exit::external(format!(
            "fetching tag {tag} from `{remote}` failed: {e}; check `git remote -v` and your credentials (git fetch {remote} should work)"
        ))
    })?;
    Ok(())
}

/// The tagger date of an annotated tag, as epoch seconds; `None` for a lightweight or missing
/// tag. A resumed release uses it as the earliest time its publish run can have started.
pub fn tag_date(root: &Path, tag: &str) -> anyhow::Result<Option<u64>> {
    let sh = shell(root)?;
    let refname = format!("refs/tags/{tag}");
    let out = cmd!(
        sh,
        "git for-each-ref --format=%(objecttype)%00%(taggerdate:unix) {refname}"
    )
    .quiet()
    .read()?;
    Ok(out
        .trim()
        .split_once('\0')
        .filter(|(ty, _)| *ty == "tag")
        .and_then(|(_, d)| d.trim().parse::<u64>().ok()))
}

/// HEAD of a checkout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeadInfo {
    /// The full 40-hex commit id.
    pub commit: String,
    /// The committer date in strict ISO 8601, used as the image's `created` so that the same
    /// commit always gives the same labels.
    pub time: String,
    /// Whether tracked files differ from HEAD.
    pub dirty: bool,
}

/// HEAD, its commit time and whether tracked files differ: what image builds embed.
pub fn head_info(root: &Path) -> anyhow::Result<HeadInfo> {
    let sh = xshell::Shell::new().context("starting a shell for git")?;
    sh.change_dir(root);
    let commit = xshell::cmd!(sh, "git rev-parse HEAD")
        .quiet()
        .read()
        .with_context(|| {
            format!(
                "reading HEAD of {} (is it a git checkout with a commit? run `git log -1` there)",
                root.display()
            )
        })?;
    let time = xshell::cmd!(sh, "git show -s --format=%cI HEAD")
        .quiet()
        .read()
        .context("reading the commit time of HEAD")?;
    let status = xshell::cmd!(sh, "git status --porcelain --untracked-files=no")
        .quiet()
        .read()
        .context("reading git status")?;
    Ok(HeadInfo {
        commit: commit.trim().to_string(),
        time: time.trim().to_string(),
        dirty: !status.trim().is_empty(),
    })
}
