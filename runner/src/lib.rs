//! The runner's logic: register with core, then keep the registration alive with heartbeats.
//!
//! It is a library so that tests can point it at an in-process core; `main.rs` only parses the
//! command line. All traffic goes through the core library's HTTP client, whose URL handling
//! resolves Docker service names like `core`.

use std::fmt;
use std::thread;
use std::time::Duration;

use aisopsflow_core::BuildInfo;
use aisopsflow_core::api::{Registered, Registration};
use aisopsflow_core::cli::env_non_empty;
use aisopsflow_core::http::{Client, ClientError, ClientResponse};

/// The component name of the runner.
pub const COMPONENT: &str = "aisopsflow-runner";

/// The heartbeat interval when `--interval` is not given.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);

/// Registration attempts before giving up. A few attempts ride out core starting a moment after
/// the runner (as happens with `docker compose up`) without hiding a real outage for long.
pub const REGISTER_ATTEMPTS: u32 = 5;

/// The pause after the first failed registration attempt; it doubles after each further failure,
/// so all attempts together take about three seconds.
pub const FIRST_BACKOFF: Duration = Duration::from_millis(200);

/// Overrides the runner name; otherwise the host name is used.
pub const NAME_ENV: &str = "AISOPSFLOW_RUNNER_NAME";

/// What the runner does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Core's base URL, without a trailing slash, such as `http://core:8080`.
    pub core_url: String,
    /// The name to register with.
    pub name: String,
    /// The time between heartbeats.
    pub interval: Duration,
    /// Register, send one heartbeat and return, instead of running forever.
    pub once: bool,
}

/// Why talking to core failed. Every message names core's URL, because "connection refused"
/// alone does not tell an operator which setting to fix.
#[derive(Debug)]
pub enum RunnerError {
    /// Core could not be reached at all.
    Unreachable { url: String, error: ClientError },
    /// Core answered, but not with what the API promises.
    Rejected {
        url: String,
        status: u16,
        body: String,
    },
}

impl RunnerError {
    /// Whether trying again might help: network trouble and server-side errors might go away, a
    /// 4xx answer to the same request will not.
    pub fn is_transient(&self) -> bool {
        match self {
            RunnerError::Unreachable { .. } => true,
            RunnerError::Rejected { status, .. } => *status >= 500,
        }
    }
}

impl fmt::Display for RunnerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunnerError::Unreachable { url, error } => {
                write!(f, "cannot reach core at {url}: {error}")
            }
            RunnerError::Rejected { url, status, body } => {
                write!(f, "core at {url} answered {status}: {}", body.trim())
            }
        }
    }
}

impl std::error::Error for RunnerError {}

/// The result of one heartbeat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Heartbeat {
    /// Core recorded it.
    Accepted,
    /// Core does not know the id, typically because it restarted; the runner must register again.
    UnknownRunner,
}

/// The runner name when `--name` is not given: `AISOPSFLOW_RUNNER_NAME`, else the host name
/// (which Docker sets to the container id), else the component name.
pub fn default_name() -> String {
    env_non_empty(NAME_ENV)
        .or_else(|| env_non_empty("HOSTNAME"))
        .or_else(|| {
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .ok()
                .map(|name| name.trim().to_owned())
                .filter(|name| !name.is_empty())
        })
        .unwrap_or_else(|| COMPONENT.to_owned())
}

/// Registers once and returns the id core assigned.
pub fn register(client: &Client, core_url: &str, name: &str) -> Result<u64, RunnerError> {
    let registration = Registration {
        name: name.to_owned(),
        version: BuildInfo::for_component(COMPONENT),
    };
    let body = serde_json::to_string(&registration).expect("registration is always encodable");
    let response = client
        .post_json(&format!("{core_url}/api/runners"), &body)
        .map_err(|error| RunnerError::Unreachable {
            url: core_url.to_owned(),
            error,
        })?;
    if response.status != 201 {
        return Err(rejected(core_url, &response));
    }
    let registered: Registered =
        serde_json::from_slice(&response.body).map_err(|_| rejected(core_url, &response))?;
    Ok(registered.id)
}

/// Registers, retrying transient failures [`REGISTER_ATTEMPTS`] times with a doubling backoff.
pub fn register_with_retry(
    client: &Client,
    core_url: &str,
    name: &str,
) -> Result<u64, RunnerError> {
    let mut backoff = FIRST_BACKOFF;
    let mut attempt = 1;
    loop {
        match register(client, core_url, name) {
            Ok(id) => return Ok(id),
            Err(error) if error.is_transient() && attempt < REGISTER_ATTEMPTS => {
                eprintln!(
                    "registration attempt {attempt}/{REGISTER_ATTEMPTS} failed: {error}; \
                     retrying in {backoff:?}"
                );
                thread::sleep(backoff);
                backoff *= 2;
                attempt += 1;
            }
            Err(error) => return Err(error),
        }
    }
}

/// Sends one heartbeat for runner `id`.
pub fn heartbeat(client: &Client, core_url: &str, id: u64) -> Result<Heartbeat, RunnerError> {
    let response = client
        .post_json(&format!("{core_url}/api/runners/{id}/heartbeat"), "{}")
        .map_err(|error| RunnerError::Unreachable {
            url: core_url.to_owned(),
            error,
        })?;
    match response.status {
        204 | 200 => Ok(Heartbeat::Accepted),
        404 => Ok(Heartbeat::UnknownRunner),
        _ => Err(rejected(core_url, &response)),
    }
}

fn rejected(core_url: &str, response: &ClientResponse) -> RunnerError {
    RunnerError::Rejected {
        url: core_url.to_owned(),
        status: response.status,
        body: response.text(),
    }
}

/// Runs the runner. With `once`, it registers, sends one heartbeat and returns the id; otherwise
/// it only returns if the first registration fails, and keeps heartbeating forever.
pub fn run(config: &Config) -> Result<u64, RunnerError> {
    let client = Client::default();
    let mut id = register_with_retry(&client, &config.core_url, &config.name)?;

    if config.once {
        return match heartbeat(&client, &config.core_url, id)? {
            Heartbeat::Accepted => Ok(id),
            Heartbeat::UnknownRunner => Err(RunnerError::Rejected {
                url: config.core_url.clone(),
                status: 404,
                body: format!("core forgot runner {id} right after registering it"),
            }),
        };
    }

    eprintln!("registered as runner {id} with core at {}", config.core_url);
    loop {
        thread::sleep(config.interval);
        // Once registered, the runner never exits on its own: core outages are logged and the
        // next heartbeat tries again, so a core restart needs no runner restart.
        match heartbeat(&client, &config.core_url, id) {
            Ok(Heartbeat::Accepted) => {}
            Ok(Heartbeat::UnknownRunner) => {
                eprintln!("core no longer knows runner {id}; registering again");
                match register_with_retry(&client, &config.core_url, &config.name) {
                    Ok(new_id) => {
                        id = new_id;
                        eprintln!("registered as runner {id} with core at {}", config.core_url);
                    }
                    Err(error) => eprintln!("error: {error}"),
                }
            }
            Err(error) => eprintln!("heartbeat failed: {error}"),
        }
    }
}
