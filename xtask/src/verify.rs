//! `cargo xtask verify`: post-release and customer-delivery checks.

use crate::exit::usage;
use crate::flags;
use crate::workspace::Global;

impl flags::Verify {
    pub async fn run(self, g: &Global) -> anyhow::Result<u8> {
        let _ws = g.workspace()?;
        Err(usage("verify is not implemented yet"))
    }
}
