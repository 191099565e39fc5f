//! Adapters: the only code that touches Docker, git, GitHub or a registry.
//!
//! Each adapter offers just the calls we make, so planning and checks can be tested against
//! the real local parts (the engine, a bare remote, the stand-ins) without knowing which.

pub mod docker;
pub mod git;
pub mod github;
pub mod http;
pub mod registry;
