//! `cargo xtask preflight`: runs the preflight checks and prints the report.

use crate::exit::usage;
use crate::flags;
use crate::workspace::Global;

impl flags::Preflight {
    pub async fn run(self, g: &Global) -> anyhow::Result<u8> {
        let _ws = g.workspace()?;
        Err(usage("preflight is not implemented yet"))
    }
}
