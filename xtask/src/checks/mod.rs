//! The checks: one area module per part of the checklist (`settings`, `workflow`, ...), each
//! holding its ids' metadata beside the functions that judge them.
//!
//! `registry` is the id table (report order, retired ids), `outcome` the result types every
//! check reports through (`Outcome::pass`, `fail`, ...: id, status, message and evidence).
//! Both are re-exported here, so `crate::checks::CheckId` and `crate::checks::Outcome` are
//! the paths everyone uses.

use crate::workspace::Workspace;

pub mod build;
pub mod changes;
pub mod credentials;
pub mod delivery;
pub mod docs;
pub mod manual;
pub mod notes;
pub mod outcome;
pub mod packages;
pub mod refpattern;
pub mod registry;
pub mod settings;
pub mod verify;
pub mod workflow;

pub use outcome::{Evidence, Outcome, Report, Status};
pub use registry::{
    ALL, CheckId, DEEP_VERIFY, Kind, Meta, Phase, RETIRED, Section, Severity, help_base,
};

/// What a check may read. Checks never write; they report outcomes.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub ws: Workspace,
    /// The components in this release (resolved from `--components`).
    pub components: Vec<String>,
    /// `--only` prefixes; empty selects every check.
    pub only: Vec<String>,
    /// Skip everything that needs GitHub or a registry, saying so.
    pub offline: bool,
    /// The version about to be released, when known.
    pub release: Option<semver::Version>,
}

impl Ctx {
    /// Whether `--only` selects `id`.
    pub fn wants(&self, id: CheckId) -> bool {
        id.selected_by(&self.only)
    }

    /// Whether `--only` selects any of `ids`; an area with none selected does no work at all.
    pub(crate) fn wants_any(&self, ids: &[CheckId]) -> bool {
        ids.iter().any(|id| self.wants(*id))
    }
}
