//! `cargo xtask release` and `cargo xtask promote`.

use crate::exit::usage;
use crate::flags;
use crate::workspace::Global;

impl flags::Release {
    pub async fn run(self, g: &Global) -> anyhow::Result<u8> {
        let _ws = g.workspace()?;
        Err(usage("release is not implemented yet"))
    }
}

impl flags::Promote {
    pub async fn run(self, g: &Global) -> anyhow::Result<u8> {
        let _ws = g.workspace()?;
        Err(usage("promote is not implemented yet"))
    }
}
