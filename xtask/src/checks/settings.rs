//! GitHub repository, Actions and package settings checks (placeholder until its owner lands).
//!
//! The owner replaces this file entirely; preflight calls `run(&ctx).await?` with exactly this
//! signature. Until then every selected id reports a skip that says why.

use super::{CheckId, Ctx, Outcome};

pub const IDS: &[CheckId] = &[
    CheckId::RepoPrivate,
    CheckId::RepoDefaultBranchProtected,
    CheckId::RepoTagCreationRestricted,
    CheckId::ActionsEnabled,
    CheckId::ActionsDefaultPermissionsRead,
    CheckId::ActionsCannotApprovePrs,
    CheckId::PackagesPublicVisibility,
    CheckId::PackagesCommercialPrivate,
    CheckId::PackagesLinkedRepository,
];

pub async fn run(ctx: &Ctx) -> anyhow::Result<Vec<Outcome>> {
    if !ctx.wants_any(IDS) {
        return Ok(vec![]);
    }
    let (why, how) = if ctx.offline {
        (
            "--offline",
            "run without --offline and with a GitHub token (`gh auth login` or GITHUB_TOKEN)",
        )
    } else {
        (
            "the GitHub settings checks are not in this build",
            "build a version of xtask that includes checks::settings",
        )
    };
    Ok(IDS
        .iter()
        .filter(|id| ctx.wants(**id))
        .map(|id| Outcome::skip(*id, why, how))
        .collect())
}
