//! Local stand-ins for the systems we cannot reach here: the GitHub REST API (with workflow
//! runs that execute `cargo xtask publish` for real) and a GHCR-like registry (the CNCF
//! distribution registry as a child process behind a token service of ours).
//!
//! They are product code, not test glue: `cargo xtask release --rehearse` runs a whole release
//! against them. Product code never knows it talks to a stand-in; base URLs and hosts are
//! configuration.

pub mod github;
pub mod registry;
pub mod rehearsal;
pub mod runs;
