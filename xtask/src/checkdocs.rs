//! `cargo xtask docs-checks`: generates docs/checks.md from the check registry.

use crate::exit::usage;
use crate::flags;
use crate::workspace::Global;

impl flags::DocsChecks {
    pub fn run(self, g: &Global) -> anyhow::Result<u8> {
        let _root = g.root()?;
        Err(usage("docs-checks is not implemented yet"))
    }
}
