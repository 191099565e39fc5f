//! Docker image build and smoke checks (placeholder until its owner lands).
//!
//! The owner replaces this file entirely; preflight calls `run(&ctx).await?` with exactly this
//! signature. Until then every selected id reports a skip that says why.

use super::{CheckId, Ctx, Outcome};

pub const IDS: &[CheckId] = &[
    CheckId::BuildCore,
    CheckId::BuildRunner,
    CheckId::BuildConsole,
    CheckId::BuildSmoke,
    CheckId::BuildPublicMetadataClean,
];

pub async fn run(ctx: &Ctx) -> anyhow::Result<Vec<Outcome>> {
    if !ctx.wants_any(IDS) {
        return Ok(vec![]);
    }
    Ok(IDS
        .iter()
        .filter(|id| ctx.wants(**id))
        .map(|id| {
            Outcome::skip(
                *id,
                "the image build checks are not in this build",
                "build a version of xtask that includes checks::build",
            )
        })
        .collect())
}
