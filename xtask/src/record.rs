//! The machine-readable release record, `docs/releases/<version>.json`, written by `release`
//! beside the notes, and `cargo xtask verify --from-notes FILE`, which re-proves a release
//! from that file alone (no workspace, no git tags, no resume state).
//!
//! The schema is documented in `docs/release-record.md`; `schema_version` changes only when a
//! reader of the previous version would misread the new one (adding fields does not change
//! it). The record carries the `release.toml` the release ran with, verbatim, so a re-proof
//! runs the same checks with the same tag rules, markers and package names on any machine.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::{Config, Visibility};
use crate::exit::usage;
use crate::notes::{AttestationLine, CheckLine};

/// The value of `schema`.
pub(crate) const SCHEMA: &str = "aisopsflow.release-record";
/// The version of the schema this build writes and reads.
pub const SCHEMA_VERSION: u32 = 1;

/// One platform image of a package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Platform {
    /// `os/arch[/variant]`.
    pub platform: String,
    pub digest: String,
    pub media_type: String,
}

/// One package of the release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Package {
    pub package: String,
    pub component: String,
    pub edition: String,
    #[serde(rename = "crate")]
    pub krate: String,
    pub visibility: Visibility,
    /// `host/org/package`.
    pub repository: String,
    /// Every tag this release pushed (`latest` included when it moved).
    pub tags: Vec<String>,
    /// The digest every version tag resolves to: the index of a multi-platform image, else
    /// the image manifest.
    pub digest: String,
    pub media_type: String,
    /// The index digest, when `digest` is an index.
    pub index_digest: Option<String>,
    /// The platform images (one for a single-manifest image: `digest` itself).
    pub platforms: Vec<Platform>,
    /// Attestation manifests in the index: `(digest, the image digest it describes)`.
    pub attestations: Vec<(String, String)>,
    pub latest_before: Option<String>,
    pub latest_after: Option<String>,
}

/// One check result: `phase` is `gate` (preflight before the tag) or `verify` (after the
/// publish run).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    pub phase: String,
    pub id: String,
    pub status: String,
    pub message: String,
}

/// The whole record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseRecord {
    pub schema: String,
    pub schema_version: u32,
    pub version: String,
    pub tag: String,
    pub commit: String,
    pub run_url: Option<String>,
    pub written_at: String,
    /// The registry host the images were verified at, and the organisation.
    pub registry: String,
    pub org: String,
    pub components: Vec<String>,
    pub moves_latest: bool,
    pub latest_reason: String,
    pub latest_tag: String,
    /// Deep checks (`verify-runs`, `verify-contents`) the release's verify skipped, by id.
    pub verify_skipped: Vec<String>,
    pub packages: Vec<Package>,
    pub checks: Vec<Check>,
    pub attestations: Vec<AttestationLine>,
    /// The release.toml the release ran with, verbatim.
    pub release_toml: String,
}

/// `docs/releases/<version>.json`.
pub fn path(config: &Config, version: &str) -> PathBuf {
    config.notes_dir().join(format!("{version}.json"))
}

/// Check lines tagged with their phase.
pub fn checks(phase: &str, lines: &[CheckLine]) -> Vec<Check> {
    lines
        .iter()
        .map(|c| Check {
            phase: phase.to_string(),
            id: c.id.clone(),
            status: c.status.clone(),
            message: c.message.clone(),
        })
        .collect()
}

impl ReleaseRecord {
    pub(crate) fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default() + "\n"
    }

    /// Reads and checks a record: the schema name and a version this build understands.
    pub fn read(file: &Path) -> anyhow::Result<ReleaseRecord> {
        let text = std::fs::read_to_string(file).map_err(|e| {
            usage(format!(
                "cannot read the release record {}: {e}; pass the docs/releases/VERSION.json that `cargo xtask release` wrote",
                file.display()
            ))
        })?;
        let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
            usage(format!(
                "{} is not JSON ({e}); pass the docs/releases/VERSION.json that `cargo xtask release` wrote (not the .md notes)",
                file.display()
            ))
        })?;
        let schema = v.get("schema").and_then(|s| s.as_str()).unwrap_or("");
        let version = v.get("schema_version").and_then(|s| s.as_u64());
        if schema != SCHEMA {
            return Err(usage(format!(
                "{} is not a release record (schema `{schema}`, expected `{SCHEMA}`)",
                file.display()
            )));
        }
        if version != Some(SCHEMA_VERSION as u64) {
            return Err(usage(format!(
                "{} has schema_version {}, this xtask reads {SCHEMA_VERSION}; use the xtask of a release that reads it (see docs/release-record.md)",
                file.display(),
                version
                    .map(|v| v.to_string())
                    .unwrap_or_else(|| "(none)".into())
            )));
        }
        serde_json::from_value(v).map_err(|e| {
            usage(format!(
                "{} does not follow release-record schema {SCHEMA_VERSION}: {e}",
                file.display()
            ))
        })
    }

    /// The check results of one phase, as `id → worst status`.
    pub fn verdicts(&self, phase: &str) -> BTreeMap<String, String> {
        worst(
            self.checks
                .iter()
                .filter(|c| c.phase == phase)
                .map(|c| (c.id.as_str(), c.status.as_str())),
        )
    }
}

/// `id → worst status` (fail > manual > warn > skip > pass).
pub fn worst<'a>(items: impl Iterator<Item = (&'a str, &'a str)>) -> BTreeMap<String, String> {
    let rank = |s: &str| match s {
        "fail" => 4,
        "manual" => 3,
        "warn" => 2,
        "skip" => 1,
        _ => 0,
    };
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    for (id, status) in items {
        let e = out
            .entry(id.to_string())
            .or_insert_with(|| status.to_string());
        if rank(status) > rank(e) {
            *e = status.to_string();
        }
    }
    out
}
