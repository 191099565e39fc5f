//! `verify-manifest-digests-recorded`, the reads: the deployment manifests
//! (`customer.manifests` globs) and this version's release notes. The judgement is
//! `checks::verify::manifest_digests`.

use crate::checks::Outcome;
use crate::checks::verify::{ManifestFacts, PackageState, manifest_digests};
use crate::workspace::Workspace;

pub use crate::checks::verify::{FoundRef, find_refs};

/// Reads the manifests and the notes, then judges.
pub fn outcomes(
    ws: &Workspace,
    version: &str,
    packages: &[PackageState],
) -> anyhow::Result<Vec<Outcome>> {
    let config = &ws.config;
    let files = crate::glob::workspace_files(&ws.root, &config.raw.customer.manifests)?
        .into_iter()
        .map(|rel| {
            let text = std::fs::read_to_string(ws.root.join(&rel)).unwrap_or_default();
            (rel, text)
        })
        .collect();
    let notes_path = config.notes_dir().join(format!("{version}.md"));
    let notes = std::fs::read_to_string(&notes_path).ok();
    let notes_path = notes_path
        .strip_prefix(&ws.root)
        .unwrap_or(&notes_path)
        .to_path_buf();
    let facts = ManifestFacts {
        files,
        notes_path,
        notes,
    };
    Ok(manifest_digests(config, version, packages, &facts))
}
