//! The aisopsflow-enterprise release orchestrator, as a library so tests can drive it.
//!
//! `main` parses flags (`flags`) and calls one `run` per subcommand. Planning and checks only
//! read; every side effect on Docker, git, GitHub or a registry goes through `effects`. The
//! in-process stand-ins for GitHub and the registry live in `standin`, used by tests and by
//! `cargo xtask release --rehearse`, behind the default-on `rehearse` cargo feature (the
//! publish workflow builds without it). See ARCHITECTURE.md for the codemap.

pub mod checkdocs;
pub mod checks;
pub mod config;
pub mod effects;
pub mod execute;
pub mod exit;
pub mod flags;
pub(crate) mod fsx;
pub(crate) mod glob;
pub mod images;
pub mod notes;
pub mod output;
pub mod plan;
pub mod preflight;
pub(crate) mod promote;
pub mod publish;
pub mod record;
pub(crate) mod reference;
pub(crate) mod release;
pub(crate) mod report;
pub mod secrets;
pub mod setup;
#[cfg(feature = "rehearse")]
pub mod standin;
pub mod tags;
pub mod time;
pub mod verify;
pub mod workspace;

#[cfg(test)]
mod tidy;
