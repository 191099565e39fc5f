//! `cargo xtask preflight`: runs the preflight checks and prints the report.
//!
//! Interim version from the images work: it runs the build area and prints a plain pass/fail
//! list until the report renderer and the other areas are wired in.

use crate::checks::{Ctx, Status};
use crate::exit::usage;
use crate::flags;
use crate::workspace::Global;

impl flags::Preflight {
    pub async fn run(self, g: &Global) -> anyhow::Result<u8> {
        let ws = g.workspace()?;
        let components = ws.config.scope(&self.scope.components)?;
        let release = match &self.release {
            Some(v) => Some(
                semver::Version::parse(v.trim_start_matches('v')).map_err(|e| {
                    usage(format!(
                        "--release {v}: {e}; pass a semantic version such as 1.2.3"
                    ))
                })?,
            ),
            None => None,
        };
        let ctx = Ctx {
            ws,
            components,
            only: self.checks.only.clone(),
            offline: self.checks.offline,
            release,
        };
        let outcomes = crate::checks::build::run(&ctx).await?;
        let mut failed = false;
        for o in &outcomes {
            let status = match o.status {
                Status::Pass => "pass",
                Status::Fail => "FAIL",
                Status::Warn => "warn",
                Status::Skip => "skip",
                Status::Manual => "manual",
            };
            failed |= o.status == Status::Fail;
            println!("{status:6} {:30} {}", o.id.id(), o.message);
            for e in &o.evidence {
                println!(
                    "         - {}",
                    serde_json::to_string(e).unwrap_or_default()
                );
            }
        }
        Ok(if failed {
            crate::exit::POLICY
        } else {
            crate::exit::OK
        })
    }
}
