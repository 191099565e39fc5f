//! The `aisopsflow_core` library: what the core, runner and console binaries share.
//!
//! - [`build_info`]: version, commit and edition embedded at compile time, and the
//!   commercial-only license server default.
//! - [`http`]: a minimal HTTP/1.1 server and client on std networking.
//! - [`api`]: the JSON documents of core's runner API.
//! - [`service`]: the core service itself, startable on any listener.
//! - [`cli`]: flag parsing, environment defaults, `healthcheck` and signal handling.
//!
//! Everything here is std plus serde, because the binaries are statically linked into
//! FROM-scratch images and every dependency is one more thing to audit there.

pub mod api;
pub mod build_info;
pub mod cli;
pub mod http;
pub mod service;

pub use build_info::{BuildInfo, LICENSE_SERVER_DEFAULT, VersionDocument};
