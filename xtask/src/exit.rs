//! Exit codes and the error kinds that choose them.
//!
//! The documented codes are: 0 all required checks pass, 1 a policy check failed (or the
//! release failed), 2 usage or configuration error, 3 an external system (Docker, a registry,
//! GitHub) is unreachable, 4 incomplete: nothing failed, but checks that gate the release
//! could not run or attestations are missing (preflight's "not ready"). Errors stay `anyhow::Error`; a marker type somewhere in the chain
//! picks the code, so callers add `context` freely without losing the classification.

use std::fmt;

pub const OK: u8 = 0;
pub const POLICY: u8 = 1;
pub const USAGE: u8 = 2;
pub const EXTERNAL: u8 = 3;
/// Preflight is not ready: nothing failed, but a gating check could not run or an
/// attestation is missing. Reported, never raised as an error.
pub(crate) const INCOMPLETE: u8 = 4;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The operator asked for something impossible or the configuration is wrong.
    Usage,
    /// Docker, a registry or GitHub could not be reached.
    External,
    /// A policy or release step failed.
    Policy,
}

impl Kind {
    pub fn code(self) -> u8 {
        match self {
            Kind::Usage => USAGE,
            Kind::External => EXTERNAL,
            Kind::Policy => POLICY,
        }
    }
}

/// An error with a kind. Its message is the whole message; it is never empty.
#[derive(Debug)]
pub(crate) struct Classified {
    pub kind: Kind,
    pub message: String,
}

impl fmt::Display for Classified {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Classified {}

/// A usage or configuration error (exit 2).
pub fn usage(message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Classified {
        kind: Kind::Usage,
        message: message.into(),
    })
}

/// An external system is unreachable (exit 3).
pub fn external(message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Classified {
        kind: Kind::External,
        message: message.into(),
    })
}

/// A policy or release failure (exit 1).
pub fn policy(message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Classified {
        kind: Kind::Policy,
        message: message.into(),
    })
}

/// The exit code for an error: the first classified error in its chain, else 1.
pub fn code_for(err: &anyhow::Error) -> u8 {
    err.chain()
        .find_map(|e| e.downcast_ref::<Classified>().map(|c| c.kind.code()))
        .unwrap_or(POLICY)
}

/// The kind of an error, if classified.
pub(crate) fn kind_of(err: &anyhow::Error) -> Option<Kind> {
    err.chain()
        .find_map(|e| e.downcast_ref::<Classified>().map(|c| c.kind))
}

/// An error whose one stdout document (`--format json`) the command already printed; `main`
/// then prints only the human line on stderr.
#[derive(Debug)]
pub(crate) struct Reported;

impl fmt::Display for Reported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(reported on stdout)")
    }
}

impl std::error::Error for Reported {}

/// Marks `err` as already reported on stdout.
pub fn reported(err: anyhow::Error) -> anyhow::Error {
    // The marker sits at the root so `code_for` still finds the classification above it.
    let kind = kind_of(&err).unwrap_or(Kind::Policy);
    anyhow::Error::new(Classified {
        kind,
        message: format!("{err:#}"),
    })
    .context(Reported)
}

/// Whether `err` was already reported on stdout.
pub fn is_reported(err: &anyhow::Error) -> bool {
    // anyhow downcasts an error to the type of a context it carries.
    err.downcast_ref::<Reported>().is_some()
}

/// The kind's name in a JSON or SARIF error document.
pub fn kind_name(err: &anyhow::Error) -> &'static str {
    match kind_of(err) {
        Some(Kind::Usage) => "usage",
        Some(Kind::External) => "external",
        Some(Kind::Policy) | None => "policy",
    }
}

/// The one JSON document a `--format json` run prints when it ends with an error.
pub fn json_error(command: &str, message: &str, code: u8, kind: &str) -> serde_json::Value {
    serde_json::json!({
        "schema_version": 1,
        "tool": "cargo xtask",
        "command": command,
        "summary": { "verdict": "error", "exit_code": code },
        "error": { "kind": kind, "exit_code": code, "message": message },
    })
}

/// The one SARIF document a `--format sarif` run prints when it ends with an error: a run
/// with no results whose invocation failed, with the message as a notification.
pub fn sarif_error(message: &str, code: u8) -> serde_json::Value {
    serde_json::json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "cargo-xtask",
                "version": env!("CARGO_PKG_VERSION"),
                "semanticVersion": env!("CARGO_PKG_VERSION"),
            } },
            "invocations": [{
                "executionSuccessful": false,
                "exitCode": code,
                "toolExecutionNotifications": [{
                    "level": "error",
                    "message": { "text": message },
                }],
            }],
            "results": [],
        }],
    })
}
