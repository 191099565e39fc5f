//! Exit codes and the error kinds that choose them.
//!
//! The documented codes are: 0 all required checks pass, 1 a policy check failed (or the
//! release failed), 2 usage or configuration error, 3 an external system (Docker, a registry,
//! GitHub) is unreachable. Errors stay `anyhow::Error`; a marker type somewhere in the chain
//! picks the code, so callers add `context` freely without losing the classification.

use std::fmt;

pub const OK: u8 = 0;
pub const POLICY: u8 = 1;
pub const USAGE: u8 = 2;
pub const EXTERNAL: u8 = 3;

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
pub struct Classified {
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
pub fn kind_of(err: &anyhow::Error) -> Option<Kind> {
    err.chain()
        .find_map(|e| e.downcast_ref::<Classified>().map(|c| c.kind))
}
