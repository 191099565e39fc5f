//! The JSON documents of core's runner API, shared so that the core service and the runner that
//! calls it cannot drift apart.

use serde::{Deserialize, Serialize};

use crate::build_info::BuildInfo;

/// The body of `POST /api/runners`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registration {
    /// A human-readable name, such as the runner's host name. Names need not be unique.
    pub name: String,
    /// The runner's own build info, so operators can spot runners on an old release.
    pub version: BuildInfo,
}

/// The body of a `201 Created` answer to `POST /api/runners`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registered {
    /// The id to send heartbeats for, at `/api/runners/{id}/heartbeat`.
    pub id: u64,
}

/// One element of the `GET /api/runners` list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunnerRecord {
    /// The id core assigned at registration.
    pub id: u64,
    /// The name the runner registered with.
    pub name: String,
    /// The build info the runner registered with.
    pub version: BuildInfo,
    /// When the runner registered, in Unix seconds.
    pub registered_at: u64,
    /// When core last heard from the runner (registration counts), in Unix seconds.
    pub last_heartbeat: u64,
}
