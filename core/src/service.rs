//! The core service: its HTTP routes and the in-memory runner registry behind them.
//!
//! It lives in the library rather than in `main.rs` so that tests, and anything else that wants
//! a real core on a loopback port, can start one with [`spawn`] without building the binary.

use std::collections::BTreeMap;
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::api::{Registered, Registration, RunnerRecord};
use crate::build_info::VersionDocument;
use crate::http::{self, Request, Response, unix_now};

/// The component name of the core service.
pub const COMPONENT: &str = "aisopsflow-core";

/// The listen address used when neither `--listen` nor `AISOPSFLOW_LISTEN` says otherwise.
pub const DEFAULT_LISTEN: &str = "0.0.0.0:8080";

/// How many runners the registry holds. Registrations are unauthenticated, so without a bound a
/// loop of POSTs could exhaust core's memory.
pub const MAX_RUNNERS: usize = 10_000;

/// The longest runner name accepted, in characters.
pub const MAX_NAME_CHARS: usize = 128;

/// The runners core knows about. Everything is in memory: after a restart runners find out
/// through a 404 on their next heartbeat and register again.
#[derive(Debug, Default)]
pub struct Registry {
    inner: Mutex<RegistryInner>,
}

#[derive(Debug, Default)]
struct RegistryInner {
    last_id: u64,
    runners: BTreeMap<u64, RunnerRecord>,
}

/// Returned by [`Registry::register`] when [`MAX_RUNNERS`] are already registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegistryFull;

impl Registry {
    /// An empty registry.
    pub fn new() -> Registry {
        Registry::default()
    }

    fn lock(&self) -> MutexGuard<'_, RegistryInner> {
        // Every update is a single insert or field write, so a panic elsewhere cannot leave the
        // map half-changed; carrying on with a poisoned lock is safe and keeps the service up.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds a runner and returns its id. Ids start at 1 and are never reused within a process.
    pub fn register(&self, registration: Registration) -> Result<u64, RegistryFull> {
        let mut inner = self.lock();
        if inner.runners.len() >= MAX_RUNNERS {
            return Err(RegistryFull);
        }
        inner.last_id += 1;
        let id = inner.last_id;
        let now = unix_now();
        inner.runners.insert(
            id,
            RunnerRecord {
                id,
                name: registration.name,
                version: registration.version,
                registered_at: now,
                last_heartbeat: now,
            },
        );
        Ok(id)
    }

    /// Records a heartbeat; `false` means the id is unknown.
    pub fn heartbeat(&self, id: u64) -> bool {
        match self.lock().runners.get_mut(&id) {
            Some(runner) => {
                runner.last_heartbeat = unix_now();
                true
            }
            None => false,
        }
    }

    /// All runners, in registration order.
    pub fn list(&self) -> Vec<RunnerRecord> {
        self.lock().runners.values().cloned().collect()
    }
}

/// The core service: routes requests to the registry and the build info.
#[derive(Debug, Default)]
pub struct CoreService {
    registry: Registry,
}

impl CoreService {
    /// A service with an empty registry.
    pub fn new() -> CoreService {
        CoreService::default()
    }

    /// The runner registry, for embedding code that wants to inspect it directly.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Answers one request.
    pub fn handle(&self, request: &Request) -> Response {
        let method = request.method.as_str();
        match request.path() {
            "/healthz" => match method {
                "GET" => Response::text(200, "ok"),
                _ => Response::method_not_allowed("GET, HEAD"),
            },
            "/version" => match method {
                "GET" => Response::json(200, &VersionDocument::for_component(COMPONENT)),
                _ => Response::method_not_allowed("GET, HEAD"),
            },
            "/api/runners" => match method {
                "GET" => Response::json(200, &self.registry.list()),
                "POST" => self.register(request),
                _ => Response::method_not_allowed("GET, HEAD, POST"),
            },
            path => match heartbeat_id(path) {
                Some(id) => match method {
                    "POST" if self.registry.heartbeat(id) => Response::no_content(),
                    "POST" => Response::json_error(404, &format!("no runner with id {id}")),
                    _ => Response::method_not_allowed("POST"),
                },
                None => Response::not_found(),
            },
        }
    }

    fn register(&self, request: &Request) -> Response {
        let registration: Registration = match serde_json::from_slice(&request.body) {
            Ok(registration) => registration,
            Err(error) => {
                return Response::json_error(
                    400,
                    &format!("expected {{\"name\": string, \"version\": BuildInfo}}: {error}"),
                );
            }
        };
        if let Err(why) = check_name(&registration.name) {
            return Response::json_error(400, why);
        }
        match self.registry.register(registration) {
            Ok(id) => Response::json(201, &Registered { id })
                .with_header("Location", &format!("/api/runners/{id}")),
            Err(RegistryFull) => Response::json_error(503, "the runner registry is full"),
        }
    }
}

/// Names are shown on status pages and in logs, so they must be short and printable.
fn check_name(name: &str) -> Result<(), &'static str> {
    if name.trim().is_empty() {
        return Err("name must not be empty");
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err("name must be at most 128 characters");
    }
    if name.chars().any(char::is_control) {
        return Err("name must not contain control characters");
    }
    Ok(())
}

/// Extracts `{id}` from `/api/runners/{id}/heartbeat`. Only plain decimal ids match, so
/// `/api/runners/+1/heartbeat` is a 404 rather than an alias of runner 1.
fn heartbeat_id(path: &str) -> Option<u64> {
    let id = path
        .strip_prefix("/api/runners/")?
        .strip_suffix("/heartbeat")?;
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    id.parse().ok()
}

/// Serves the core service on `listener` forever.
pub fn serve(listener: TcpListener) {
    let service = CoreService::new();
    http::serve(listener, move |request| service.handle(request));
}

/// Starts the core service on `listener` in a background thread and returns its address.
pub fn spawn(listener: TcpListener) -> io::Result<SocketAddr> {
    let service = CoreService::new();
    http::spawn(listener, move |request| service.handle(request))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build_info::BuildInfo;

    fn request(method: &str, target: &str, body: &str) -> Request {
        Request {
            method: method.into(),
            target: target.into(),
            headers: Vec::new(),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn registers_heartbeats_and_lists() {
        let service = CoreService::new();
        let body = serde_json::to_string(&Registration {
            name: "r1".into(),
            version: BuildInfo::for_component("aisopsflow-runner"),
        })
        .unwrap();
        let response = service.handle(&request("POST", "/api/runners", &body));
        assert_eq!(
            response.status,
            201,
            "{}",
            String::from_utf8_lossy(&response.body)
        );
        let registered: Registered = serde_json::from_slice(&response.body).unwrap();
        assert_eq!(registered.id, 1);

        assert_eq!(
            service
                .handle(&request("POST", "/api/runners/1/heartbeat", ""))
                .status,
            204
        );
        assert_eq!(
            service
                .handle(&request("POST", "/api/runners/2/heartbeat", ""))
                .status,
            404
        );
        assert_eq!(
            service
                .handle(&request("GET", "/api/runners/1/heartbeat", ""))
                .status,
            405
        );

        let list = service.handle(&request("GET", "/api/runners", ""));
        let runners: Vec<RunnerRecord> = serde_json::from_slice(&list.body).unwrap();
        assert_eq!(runners.len(), 1);
        assert_eq!(runners[0].name, "r1");
        assert_eq!(runners[0].version.component, "aisopsflow-runner");
    }

    #[test]
    fn rejects_bad_registrations() {
        let service = CoreService::new();
        let version = serde_json::to_string(&BuildInfo::for_component("x")).unwrap();
        for body in [
            String::new(),
            "{}".into(),
            r#"{"name": "r"}"#.into(),
            format!(r#"{{"name": "", "version": {version}}}"#),
            format!(r#"{{"name": "a\nb", "version": {version}}}"#),
            format!(r#"{{"name": "{}", "version": {version}}}"#, "n".repeat(129)),
        ] {
            let response = service.handle(&request("POST", "/api/runners", &body));
            assert_eq!(response.status, 400, "{body}");
        }
        assert!(service.registry().list().is_empty());
    }

    #[test]
    fn heartbeat_paths_are_strict() {
        assert_eq!(heartbeat_id("/api/runners/42/heartbeat"), Some(42));
        for path in [
            "/api/runners//heartbeat",
            "/api/runners/+1/heartbeat",
            "/api/runners/1/heartbeat/",
            "/api/runners/99999999999999999999999/heartbeat",
        ] {
            assert_eq!(heartbeat_id(path), None, "{path}");
        }
    }
}
