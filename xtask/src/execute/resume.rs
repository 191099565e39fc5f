//! What a release knows about its own push: when it happened and by whose clock
//! (`PushClock`), and the resume record `<notes dir>/.<version>.state.json` written just
//! before the tag exists, so a rerun after the push knows what it can no longer observe.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Context;
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::effects::github::Github;
use crate::notes::{AttestationLine, CheckLine};
use crate::time::{now_epoch, rfc3339};

/// How far before the push a run's `created_at` may be and still be taken for the run of
/// this push, when the push time is GitHub's own (the `Date` of an answer just before the
/// push): GitHub's API front end and its Actions service keep GitHub's clocks, so this covers
/// only their disagreement and the `Date` header's one-second resolution. The operator's
/// clock plays no part, so no skew of it can break the search.
pub(crate) const GITHUB_CLOCK_TOLERANCE_SECS: u64 = 300;

/// The same, when the push time comes from a clock GitHub does not keep: the tag's own date
/// (the tagger's clock) or, if GitHub sent no `Date`, this machine's. Wide enough for any
/// plausibly wrong clock; the run is still matched by commit, event and tag name, so the
/// bound only keeps out runs of an earlier push of the same tag at the same commit.
pub(crate) const OTHER_CLOCK_TOLERANCE_SECS: u64 = 86_400;

/// Whose clock a push time was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClockSource {
    /// GitHub's `Date` header.
    Github,
    /// The tag's own date (its tagger's clock).
    TagDate,
    /// This machine's clock.
    Local,
}

fn local_clock() -> ClockSource {
    ClockSource::Local
}

/// When a push (or dispatch) happened, and by whose clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PushClock {
    pub at: u64,
    pub source: ClockSource,
}

impl PushClock {
    /// GitHub's clock now, from the `Date` of a fresh answer; this machine's clock only when
    /// GitHub sent no usable `Date`.
    pub async fn github(gh: &Github, owner: &str, repo: &str) -> anyhow::Result<PushClock> {
        Ok(match gh.server_time(owner, repo).await? {
            Some(at) => PushClock {
                at,
                source: ClockSource::Github,
            },
            None => PushClock {
                at: now_epoch(),
                source: ClockSource::Local,
            },
        })
    }

    pub(crate) fn tolerance(&self) -> u64 {
        match self.source {
            ClockSource::Github => GITHUB_CLOCK_TOLERANCE_SECS,
            ClockSource::TagDate | ClockSource::Local => OTHER_CLOCK_TOLERANCE_SECS,
        }
    }

    /// The earliest `created_at` accepted for the run.
    pub fn earliest(&self) -> u64 {
        self.at.saturating_sub(self.tolerance())
    }

    /// For the wait's first line: which clock, and the bound it gives.
    pub fn describe(&self) -> String {
        let whose = match self.source {
            ClockSource::Github => {
                "GitHub's clock (the Date header of its answer just before the push; this machine's clock is not used)"
            }
            ClockSource::TagDate => "the tag's own date (its tagger's clock)",
            ClockSource::Local => "this machine's clock (GitHub sent no Date header)",
        };
        format!(
            "runs created from {} on: the push at {} by {whose}, less {} s",
            rfc3339(self.earliest()),
            rfc3339(self.at),
            self.tolerance()
        )
    }
}

/// What a release records before pushing its tag, so that a rerun after the push knows what
/// it can no longer observe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResumeRecord {
    pub version: String,
    pub tag: String,
    pub commit: String,
    pub moves_latest: bool,
    pub components: Vec<String>,
    /// `latest` per package before the push (`None`: the package had no `latest`).
    pub latest_before: BTreeMap<String, Option<String>>,
    /// Epoch seconds just before the push: the publish run of this push starts after it.
    pub pushed_at: u64,
    /// Whose clock `pushed_at` is (records written before this field are this machine's).
    #[serde(default = "local_clock")]
    pub pushed_at_clock: ClockSource,
    /// The preflight gate's outcomes, for the notes.
    pub gate: Vec<CheckLine>,
    /// How and when the gate ran, and what was allowed (for the notes' "Gate" section).
    #[serde(default)]
    pub gate_notes: Vec<String>,
    pub attestations: Vec<AttestationLine>,
}

/// `<notes dir>/.<version>.state.json`.
pub(crate) fn state_path(config: &Config, version: &str) -> PathBuf {
    config.notes_dir().join(format!(".{version}.state.json"))
}

/// Reads a resume record; a missing or unreadable one is `None` (the rerun then falls back to
/// what it can observe).
pub(crate) fn read_state(config: &Config, version: &str) -> Option<ResumeRecord> {
    let text = std::fs::read_to_string(state_path(config, version)).ok()?;
    serde_json::from_str(&text).ok()
}

pub(super) fn write_state(config: &Config, record: &ResumeRecord) -> anyhow::Result<()> {
    let path = state_path(config, &record.version);
    let text = serde_json::to_string_pretty(record)? + "\n";
    crate::fsx::write_atomic(&path, text.as_bytes())
        .with_context(|| format!("writing the resume record {}", path.display()))
}
