//! The shape of every result: `Outcome` (id, status, message, evidence), built only through
//! its constructors (`pass`, `fail`, `warn`, `skip`, `not_run`, `manual`), and the `Report`
//! that collects them.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::CheckId;

/// The verdict of one check on one subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Fail,
    Warn,
    /// Deliberately not run, or not applicable (console not in scope, no `--release`).
    Skip,
    /// Should have run but could not: no permission, a rejected token, offline. Never a pass:
    /// it makes preflight's verdict "not ready" and refuses the release gate.
    #[serde(rename = "not-run")]
    NotRun,
    Manual,
}

/// What a result is based on. Every result carries at least one piece.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Evidence {
    /// A place in a file, relative to the workspace root.
    File {
        path: PathBuf,
        line: Option<u32>,
        excerpt: Option<String>,
    },
    /// A field of an API response.
    Api {
        endpoint: String,
        field: String,
        value: String,
    },
    /// An image and its digest.
    Digest { reference: String, digest: String },
    /// Anything else a person needs to judge the result (an engine message, a command).
    Note { text: String },
}

impl Evidence {
    pub fn file(path: impl AsRef<Path>, line: Option<u32>) -> Evidence {
        Evidence::File {
            path: path.as_ref().to_path_buf(),
            line,
            excerpt: None,
        }
    }
    pub(crate) fn file_excerpt(
        path: impl AsRef<Path>,
        line: Option<u32>,
        excerpt: impl Into<String>,
    ) -> Evidence {
        Evidence::File {
            path: path.as_ref().to_path_buf(),
            line,
            excerpt: Some(excerpt.into()),
        }
    }
    pub fn api(
        endpoint: impl Into<String>,
        field: impl Into<String>,
        value: impl ToString,
    ) -> Evidence {
        Evidence::Api {
            endpoint: endpoint.into(),
            field: field.into(),
            value: value.to_string(),
        }
    }
    pub fn digest(reference: impl Into<String>, digest: impl Into<String>) -> Evidence {
        Evidence::Digest {
            reference: reference.into(),
            digest: digest.into(),
        }
    }
    pub fn note(text: impl Into<String>) -> Evidence {
        Evidence::Note { text: text.into() }
    }
}

/// One result.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub id: CheckId,
    pub status: Status,
    pub message: String,
    pub evidence: Vec<Evidence>,
}

impl Outcome {
    fn new(
        id: CheckId,
        status: Status,
        message: impl Into<String>,
        evidence: Vec<Evidence>,
    ) -> Outcome {
        Outcome {
            id,
            status,
            message: message.into(),
            evidence,
        }
    }
    pub fn pass(id: CheckId, message: impl Into<String>, evidence: Vec<Evidence>) -> Outcome {
        Outcome::new(id, Status::Pass, message, evidence)
    }
    pub fn fail(id: CheckId, message: impl Into<String>, evidence: Vec<Evidence>) -> Outcome {
        Outcome::new(id, Status::Fail, message, evidence)
    }
    pub fn warn(id: CheckId, message: impl Into<String>, evidence: Vec<Evidence>) -> Outcome {
        Outcome::new(id, Status::Warn, message, evidence)
    }
    /// A skip always says why and how to enable the check.
    pub fn skip(
        id: CheckId,
        why: impl std::fmt::Display,
        enable: impl std::fmt::Display,
    ) -> Outcome {
        Outcome::new(
            id,
            Status::Skip,
            format!("skipped: {why}; to run it: {enable}"),
            vec![Evidence::note(format!("{why}"))],
        )
    }
    /// A check that should have run but could not (no permission, a rejected token, no
    /// network): says why and what to grant so it runs.
    pub fn not_run(
        id: CheckId,
        why: impl std::fmt::Display,
        grant: impl std::fmt::Display,
    ) -> Outcome {
        Outcome::new(
            id,
            Status::NotRun,
            format!("could not run: {why}; to run it: {grant}"),
            vec![Evidence::note(format!("{why}"))],
        )
    }
    /// A manual check awaiting (or holding) the operator's attestation.
    pub fn manual(id: CheckId, message: impl Into<String>, evidence: Vec<Evidence>) -> Outcome {
        Outcome::new(id, Status::Manual, message, evidence)
    }
}

/// Collects outcomes. The CLI prints them at the end; tests inspect them.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Report {
    pub outcomes: Vec<Outcome>,
}

impl Report {
    pub fn push(&mut self, outcome: Outcome) {
        self.outcomes.push(outcome);
    }
    pub fn extend(&mut self, outcomes: impl IntoIterator<Item = Outcome>) {
        self.outcomes.extend(outcomes);
    }
    /// Outcomes of one check.
    pub fn of(&self, id: CheckId) -> impl Iterator<Item = &Outcome> {
        self.outcomes.iter().filter(move |o| o.id == id)
    }
    /// The worst status reported for `id`, if any.
    pub fn status_of(&self, id: CheckId) -> Option<Status> {
        let rank = |s: Status| match s {
            Status::Fail => 5,
            Status::NotRun => 4,
            Status::Manual => 3,
            Status::Warn => 2,
            Status::Skip => 1,
            Status::Pass => 0,
        };
        self.of(id).map(|o| o.status).max_by_key(|s| rank(*s))
    }
}
