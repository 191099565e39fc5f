//! `cargo xtask publish`: build, tag and push the images for a ref.

use crate::exit::usage;
use crate::flags;
use crate::workspace::Global;

impl flags::Publish {
    pub async fn run(self, g: &Global) -> anyhow::Result<u8> {
        let _ws = g.workspace()?;
        Err(usage("publish is not implemented yet"))
    }
}
