//! Read-only facts about the checkout that image builds embed: HEAD, its commit time, and
//! whether the work tree is dirty. (Kept apart from `effects::git`, which owns writes such as
//! tags and pushes; it can absorb this file.)

use std::path::Path;

use anyhow::Context;

/// HEAD of a checkout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    /// The full 40-hex commit id.
    pub commit: String,
    /// The committer date in strict ISO 8601, used as the image's `created` so that the same
    /// commit always gives the same labels.
    pub time: String,
    /// Whether tracked files differ from HEAD.
    pub dirty: bool,
}

/// Reads HEAD of the repository at `root` with git plumbing.
pub fn head(root: &Path) -> anyhow::Result<Head> {
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
    Ok(Head {
        commit: commit.trim().to_string(),
        time: time.trim().to_string(),
        dirty: !status.trim().is_empty(),
    })
}
