//! The registry adapter: digests, tags, blobs, image metadata and anonymous-pull probes against
//! an OCI registry with GHCR-style bearer-token auth (ghcr.io, or the local stand-in).
//!
//! Request pattern: one `GET /v2/` per client to learn the realm, one token per repository
//! (cached; concurrent callers share the request), then one `HEAD` per tag with the full
//! Accept list. Everything goes through one reqwest client (one connection pool). Doing the
//! token dance ourselves surfaces the token service's real answer, which is how ghcr.io tells
//! "does not exist" (`403 DENIED`) from "private" (`401 UNAUTHORIZED`).
//!
//! What ghcr.io does that this client is built for (docs/registry-standin.md has the sources):
//! - Idempotent requests (the ping, token requests, HEAD, GET, and the manifest PUT of a
//!   retag, which is idempotent by HTTP semantics) are retried on 408, 429, 5xx, resets and
//!   timeouts, with bounded exponential backoff and jitter, honouring `Retry-After`. All the
//!   retries of one client (one command) share one waiting budget; `-v` prints each retry.
//! - Tokens are opaque and come without `expires_in`, so a token is assumed to live 60 s (the
//!   token spec's default) and is requested again after that; a 401 on a cached token
//!   refreshes it once.
//! - A token request for a package that does not exist is refused with `403 DENIED
//!   "requested access to the resource is denied"`: that reads as "absent", not as a refusal.
//! - `permission_denied: write_package` and "installation not allowed to … organization
//!   package" mean the package does not grant the workflow's repository access: the message
//!   names the fix (the package's settings → Manage Actions access).
//!
//! Manifests are read with GET only when needed (an index, metadata, or a HEAD without
//! `Docker-Content-Digest`), and their body is checked against the digest header: a registry
//! that serves a body which does not hash to its digest is an error, never a silent pass.
//! Blobs are checked against their digest too.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use base64::Engine;
use serde::Serialize;
use sha2::Digest;
use tokio::sync::OnceCell;

use crate::exit::{external, policy, usage};
use crate::secrets::Secret;

pub(crate) const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub(crate) const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub(crate) const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";

/// Every manifest type we handle. Without the index types a registry may answer with one
/// platform's manifest (a different digest) or 404.
pub const MANIFEST_ACCEPT: [&str; 4] = [OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST];

/// One request's timeout (connect, send, read the whole answer).
const TIMEOUT: Duration = Duration::from_secs(30);

/// How long a token without `expires_in` is assumed to live (the token spec's default; ghcr.io
/// sends no `expires_in`).
pub(crate) const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(60);

/// References resolved at once by `resolve_all`.
const CONCURRENCY: usize = 16;

static VERBOSE: AtomicBool = AtomicBool::new(false);

/// `-v`: print each retry and token refresh on stderr.
pub fn set_verbose(on: bool) {
    VERBOSE.store(on, Ordering::Relaxed);
}

fn verbose() -> bool {
    VERBOSE.load(Ordering::Relaxed)
}

/// Registry credentials and where they came from (for messages; never the value).
#[derive(Clone, Debug)]
pub enum Credentials {
    Anonymous,
    Basic {
        user: String,
        password: Secret,
        source: String,
    },
}

impl Credentials {
    /// Finds credentials for `host`, which must be the configured registry (`[registry] host`
    /// in release.toml, or AISOPSFLOW_REGISTRY): `GH_TOKEN`, then `GITHUB_TOKEN` (gh's order;
    /// the password, with user `GITHUB_ACTOR` or any non-empty name, which ghcr.io does not
    /// check), else the docker config for `host` ([`docker_config_credentials`]), else
    /// anonymous. The client then sends them only to that host and its token service there.
    pub(crate) fn discover(host: &str) -> anyhow::Result<Credentials> {
        for var in crate::effects::github::TOKEN_VARS {
            if let Ok(token) = std::env::var(var)
                && !token.trim().is_empty()
            {
                let user = std::env::var("GITHUB_ACTOR")
                    .ok()
                    .filter(|s| !s.is_empty())
                    .unwrap_or_else(|| "x-access-token".into());
                return Ok(Credentials::Basic {
                    user,
                    password: Secret::new(token.trim()),
                    source: var.to_string(),
                });
            }
        }
        Credentials::from_docker_config(host)
    }

    /// The docker config's credentials for `host` (`$DOCKER_CONFIG/config.json`, else
    /// `~/.docker/config.json`), else anonymous.
    pub(crate) fn from_docker_config(host: &str) -> anyhow::Result<Credentials> {
        let dir = std::env::var_os("DOCKER_CONFIG")
            .map(std::path::PathBuf::from)
            .or_else(|| {
                std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".docker"))
            });
        if let Some(dir) = dir {
            let path = dir.join("config.json");
            if let Ok(text) = std::fs::read_to_string(&path) {
                return docker_config_credentials(&text, host, &path.display().to_string());
            }
        }
        Ok(Credentials::Anonymous)
    }

    pub fn source(&self) -> String {
        match self {
            Credentials::Anonymous => "no credentials".into(),
            Credentials::Basic { source, .. } => source.clone(),
        }
    }
}

/// Reads one host's credentials from a docker `config.json`, in the docker CLI's order
/// (docker/cli `cli/config/configfile/file.go` `GetCredentialsStore` and
/// `getConfiguredCredentialStore`, `cli/config/credentials/{native,file}_store.go`):
/// 1. `credHelpers[host]` (the key exactly as given), through `docker-credential-<helper>`;
/// 2. else `credsStore`, through its helper. "Credentials not found" there is anonymous: the
///    native store never falls back to `auths` for the secret (only for the e-mail);
/// 3. else `auths`: the key `host` exactly, else a key whose hostname (`ConvertToHostname`:
///    scheme and path stripped) is `host`; `auth` (base64 `user:password`) wins over
///    `username`/`password`.
///
/// docker.io and index.docker.io are keyed as `https://index.docker.io/v1/` (`getAuthConfigKey`).
pub fn docker_config_credentials(
    text: &str,
    host: &str,
    path: &str,
) -> anyhow::Result<Credentials> {
    docker_config_credentials_with(text, host, path, credential_helper)
}

/// [`docker_config_credentials`] with `helper(name, server)` standing for running
/// `docker-credential-<name> get` (tests pass their own).
pub fn docker_config_credentials_with(
    text: &str,
    host: &str,
    path: &str,
    helper: impl Fn(&str, &str) -> anyhow::Result<Credentials>,
) -> anyhow::Result<Credentials> {
    let json: serde_json::Value = serde_json::from_str(text).with_context(|| {
        format!("reading docker config {path}; fix its JSON or unset DOCKER_CONFIG")
    })?;
    let key = match host {
        "docker.io" | "index.docker.io" => "https://index.docker.io/v1/",
        other => other,
    };
    let configured_helper = json
        .get("credHelpers")
        .and_then(|h| h.get(key))
        .and_then(|v| v.as_str())
        .filter(|h| !h.is_empty())
        .or_else(|| {
            json.get("credsStore")
                .and_then(|s| s.as_str())
                .filter(|s| !s.is_empty())
        });
    if let Some(name) = configured_helper {
        return helper(name, key);
    }
    let Some(auths) = json.get("auths").and_then(|a| a.as_object()) else {
        return Ok(Credentials::Anonymous);
    };
    let entry = auths.get(key).or_else(|| {
        auths
            .iter()
            .find(|(k, _)| convert_to_hostname(k) == key)
            .map(|(_, v)| v)
    });
    let Some(entry) = entry else {
        return Ok(Credentials::Anonymous);
    };
    let source = format!("{path} auths");
    if let Some(auth) = entry
        .get("auth")
        .and_then(|a| a.as_str())
        .filter(|a| !a.is_empty())
    {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(auth.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|d| {
                d.split_once(':')
                    .filter(|(u, _)| !u.is_empty())
                    .map(|(u, p)| (u.to_string(), p.to_string()))
            })
            .ok_or_else(|| usage(format!("{path}: auths.{host}.auth is not base64 user:password; run `docker login {host}` again")))?;
        return Ok(Credentials::Basic {
            user: decoded.0,
            password: Secret::new(decoded.1),
            source,
        });
    }
    if let (Some(user), Some(pw)) = (
        entry.get("username").and_then(|v| v.as_str()),
        entry.get("password").and_then(|v| v.as_str()),
    ) {
        return Ok(Credentials::Basic {
            user: user.to_string(),
            password: Secret::new(pw),
            source,
        });
    }
    Ok(Credentials::Anonymous)
}

/// docker/cli `credentials.ConvertToHostname` (cli/config/credentials/file_store.go): the
/// hostname and port of a legacy `auths` key. `https://ghcr.io/v2/` -> `ghcr.io`,
/// `https://::1:6555/v2/` -> `[::1]:6555`, `127.0.0.1:5000` -> `127.0.0.1:5000`.
pub(crate) fn convert_to_hostname(key: &str) -> String {
    if let Some((_, rest)) = key.split_once("://") {
        let host = rest.split('/').next().unwrap_or("");
        // url.Parse's Hostname() drops any userinfo.
        let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
        if !host.is_empty() {
            if let Some(inner) = host.strip_prefix('[') {
                // `[::1]` alone is the hostname `::1`; with a port it stays bracketed.
                return match inner.split_once(']') {
                    Some((addr, "")) => addr.to_string(),
                    _ => host.to_string(),
                };
            }
            // hostFromURLFallback: an unbracketed IPv6 literal with a port.
            if host.matches(':').count() > 1
                && let Some((addr, port)) = host.rsplit_once(':')
                && !addr.is_empty()
                && !port.is_empty()
                && port.bytes().all(|b| b.is_ascii_digit())
            {
                return format!("[{addr}]:{port}");
            }
            return host.to_string();
        }
    }
    key.split('/').next().unwrap_or(key).to_string()
}

/// `docker-credential-<helper> get` with the host on stdin. "credentials not found" is not an
/// error: the registry is then used anonymously.
fn credential_helper(helper: &str, host: &str) -> anyhow::Result<Credentials> {
    use std::io::Write;
    let program = format!("docker-credential-{helper}");
    let mut child = std::process::Command::new(&program)
        .arg("get")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| {
            usage(format!(
                "running {program} (the docker credential helper named in the docker config): {e}; install it or remove it from config.json"
            ))
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(host.as_bytes());
    }
    let out = child
        .wait_with_output()
        .with_context(|| format!("running {program} get"))?;
    if !out.status.success() {
        let msg = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        if msg.to_lowercase().contains("credentials not found") {
            return Ok(Credentials::Anonymous);
        }
        return Err(usage(format!(
            "{program} get {host} failed: {}; run `docker login {host}`",
            msg.trim()
        )));
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .with_context(|| format!("reading the answer of {program} get"))?;
    let user = v.get("Username").and_then(|u| u.as_str()).unwrap_or("");
    let secret = v.get("Secret").and_then(|u| u.as_str()).unwrap_or("");
    if secret.is_empty() {
        return Ok(Credentials::Anonymous);
    }
    if user == "<token>" {
        // docker/cli native_store.go: user `<token>` marks an identity (OAuth refresh) token,
        // which is exchanged at the token service, never sent as a password.
        return Err(usage(format!(
            "{program} holds an identity token for {host}, which xtask cannot use as a password; fix: `docker login {host}` with a personal access token (read:packages), or set GH_TOKEN"
        )));
    }
    Ok(Credentials::Basic {
        user: if user.is_empty() {
            "x-access-token".into()
        } else {
            user.into()
        },
        password: Secret::new(secret),
        source: format!("docker credential helper {helper}"),
    })
}

/// One manifest inside an index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IndexEntry {
    pub digest: String,
    pub media_type: String,
    /// `os/arch[/variant]`; `unknown/unknown` for attestations.
    pub platform: String,
    /// For an attestation manifest, the digest of the image it describes.
    pub attests: Option<String>,
}

impl IndexEntry {
    pub(crate) fn is_attestation(&self) -> bool {
        self.attests.is_some()
    }
}

/// A tag (or digest) resolved to its top-level digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Resolved {
    pub repository: String,
    pub reference: String,
    /// The digest of the top-level manifest: the index for multi-platform images.
    pub digest: String,
    pub media_type: String,
    /// The index's entries (per-platform images and attestations); empty for a single image.
    pub entries: Vec<IndexEntry>,
}

impl Resolved {
    pub fn is_index(&self) -> bool {
        is_index_type(&self.media_type)
    }
}

/// What an anonymous pull attempt showed. A verdict (`allowed` true or false) comes only from
/// an `UNAUTHORIZED` or `DENIED` answer (denied) or a 2xx manifest answer (allowed); rate
/// limits, 5xx and timeouts are errors (exit 3), never a verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AnonymousProbe {
    pub repository: String,
    pub allowed: bool,
    /// The answers that prove it, e.g. `GET /token -> 401 UNAUTHORIZED`.
    pub evidence: String,
    /// The refusal was `403 DENIED` (ghcr.io's answer for a package that does not exist, and
    /// for one the caller may not see), not `401 UNAUTHORIZED` (an existing private package).
    pub denied_not_unauthorized: bool,
    /// An anonymous token was issued but the tag answered 404: no verdict about pulls (the
    /// tag checks report the missing tag).
    pub tag_missing: bool,
}

/// Config, labels and annotations of an image (and of its index and attestations), as texts
/// to scan: `(where, text)`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ImageMetadata {
    pub documents: Vec<(String, String)>,
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone)]
struct Challenge {
    realm: String,
    service: Option<String>,
}

/// A token as cached: when it was issued and how long it is assumed to live.
#[derive(Clone)]
struct Cached {
    token: Option<Secret>,
    at: Instant,
    life: Duration,
}

type TokenSlot = Arc<tokio::sync::Mutex<Option<Cached>>>;

/// Whether the registry lets us read a repository.
#[derive(Clone)]
enum Pull {
    Granted(Option<Secret>),
    /// The token service says the package does not exist (`403 DENIED`); `absence` keeps
    /// the answer.
    Absent,
}

/// What a refusal from the token service or the registry means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// `403 DENIED "requested access to the resource is denied"`: ghcr.io's answer for a
    /// package that does not exist (and for one the caller may not know about).
    Absent,
    /// `permission_denied: …` or `installation not allowed to … organization package`: the
    /// package does not grant the workflow's repository access (Manage Actions access).
    ActionsAccess,
    /// `429`/`TOOMANYREQUESTS`: a rate limit, never a verdict.
    RateLimited,
    /// Any other 401/403: the credentials are wrong or lack a scope.
    Credentials,
    /// Anything else.
    Other,
}

/// The `(code, message)` pairs of a registry error body (`{"errors":[{"code":…,"message":…}]}`).
pub(crate) fn error_codes(body: &[u8]) -> Vec<(String, String)> {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) else {
        return Vec::new();
    };
    v.get("errors")
        .and_then(|e| e.as_array())
        .map(|errs| {
            errs.iter()
                .map(|e| {
                    let s = |k: &str| e.get(k).and_then(|v| v.as_str()).unwrap_or("").to_string();
                    (s("code"), s("message"))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Reads a refusal the way ghcr.io means it (docs/registry-standin.md, "Answers").
pub(crate) fn classify_refusal(status: u16, body: &[u8]) -> Refusal {
    let codes = error_codes(body);
    let text = String::from_utf8_lossy(body).to_lowercase();
    if status == 429 || codes.iter().any(|(c, _)| c == "TOOMANYREQUESTS") {
        return Refusal::RateLimited;
    }
    if text.contains("permission_denied")
        || (text.contains("installation not allowed") && text.contains("organization package"))
        || text.contains("not allowed to write organization package")
        || text.contains("not allowed to create organization package")
        || text.contains("not allowed to read organization package")
    {
        return Refusal::ActionsAccess;
    }
    if status == 403
        && codes.iter().any(|(c, m)| {
            c == "DENIED" && m.to_lowercase() == "requested access to the resource is denied"
        })
    {
        return Refusal::Absent;
    }
    if status == 401 || status == 403 {
        return Refusal::Credentials;
    }
    Refusal::Other
}

/// The settings page of a package, where "Manage Actions access" and "Change visibility" are.
pub(crate) fn package_settings_url(org_repo: &str) -> String {
    let (org, package) = org_repo.split_once('/').unwrap_or(("ORG", org_repo));
    format!(
        "https://github.com/orgs/{org}/packages/container/{}/settings",
        package.replace('/', "%2F")
    )
}

/// What to do when a package does not grant the publishing repository access.
pub(crate) fn actions_access_fix(org_repo: &str, repository: Option<&str>) -> String {
    let who = repository
        .map(|r| r.rsplit('/').next().unwrap_or(r).to_string())
        .unwrap_or_else(|| "the repository whose workflow publishes".to_string());
    format!(
        "the package does not grant {who}'s workflows access: open {} (the package's settings), under \"Manage Actions access\" add the repository {who} with the Write role, then rerun the publish (it resumes)",
        package_settings_url(org_repo)
    )
}

/// The client's retry policy. One per client, so the retries of one command share one budget
/// of waiting (`AISOPSFLOW_REGISTRY_RETRY_BUDGET_SECS`, default 120 s); the first wait is
/// `AISOPSFLOW_REGISTRY_BACKOFF_MS` (default 500 ms), doubling up to 10 s, at most 5 retries per
/// request, each wait jittered to between half and all of it. `Retry-After` replaces the
/// computed wait (up to 60 s).
#[derive(Debug)]
struct Retry {
    max_retries: u32,
    base: Duration,
    cap: Duration,
    budget: Duration,
    waited: Mutex<Duration>,
}

impl Retry {
    fn from_env() -> Retry {
        let num = |k: &str, d: u64| {
            std::env::var(k)
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok())
                .unwrap_or(d)
        };
        Retry {
            max_retries: 5,
            base: Duration::from_millis(num("AISOPSFLOW_REGISTRY_BACKOFF_MS", 500)),
            cap: Duration::from_secs(10),
            budget: Duration::from_secs(num("AISOPSFLOW_REGISTRY_RETRY_BUDGET_SECS", 120)),
            waited: Mutex::new(Duration::ZERO),
        }
    }

    /// The wait before retry `n` (1-based), or `None` when the budget cannot cover it.
    fn wait(&self, n: u32, retry_after: Option<Duration>) -> Option<Duration> {
        let d = match retry_after {
            Some(d) => d.clamp(Duration::from_millis(20), Duration::from_secs(60)),
            None => jitter(
                self.base
                    .saturating_mul(1u32 << (n.saturating_sub(1)).min(16))
                    .min(self.cap),
            ),
        };
        let mut waited = self.waited.lock().unwrap_or_else(|e| e.into_inner());
        if *waited + d > self.budget {
            return None;
        }
        *waited += d;
        Some(d)
    }
}

/// Between half and all of `d`.
fn jitter(d: Duration) -> Duration {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    let frac = (h.finish() % 1000) as f64 / 1000.0;
    d.mul_f64(0.5 + 0.5 * frac)
}

/// `Retry-After`: delay-seconds (also with a fraction) or an IMF-fixdate.
pub(crate) fn parse_retry_after(v: &str) -> Option<Duration> {
    let v = v.trim();
    if let Ok(s) = v.parse::<f64>() {
        return (s.is_finite() && s >= 0.0).then(|| Duration::from_secs_f64(s.min(3600.0)));
    }
    // `Sun, 06 Nov 1994 08:49:37 GMT`
    let parts: Vec<&str> = v.split_whitespace().collect();
    if parts.len() != 6 || parts[5] != "GMT" {
        return None;
    }
    let day: i64 = parts[1].parse().ok()?;
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]
    .iter()
    .position(|m| *m == parts[2])? as i64
        + 1;
    let year: i64 = parts[3].parse().ok()?;
    let hms: Vec<i64> = parts[4]
        .split(':')
        .map(|x| x.parse().ok())
        .collect::<Option<_>>()?;
    if hms.len() != 3 {
        return None;
    }
    // Days from the civil date (Howard Hinnant's algorithm).
    let (y, m) = if month <= 2 {
        (year - 1, month + 9)
    } else {
        (year, month - 3)
    };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146097 + doe - 719468;
    let at = days * 86400 + hms[0] * 3600 + hms[1] * 60 + hms[2];
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_secs() as i64;
    Some(Duration::from_secs((at - now).max(0) as u64))
}

fn retryable_status(status: u16) -> bool {
    matches!(status, 408 | 429 | 499 | 500 | 502 | 503 | 504 | 522)
}

/// Resets, timeouts, incomplete answers: worth another try. A refused connection or an
/// unknown host is not (nothing listens there; the host is probably wrong).
fn retryable_error(e: &reqwest::Error) -> bool {
    if e.is_timeout() {
        return true;
    }
    if e.is_connect() {
        return false;
    }
    e.is_request() || e.is_body() || e.is_decode()
}

/// An answer read whole.
struct Answer {
    status: reqwest::StatusCode,
    headers: reqwest::header::HeaderMap,
    body: bytes::Bytes,
    /// How many times the request was sent.
    attempts: u32,
}

impl Answer {
    fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.split(';').next().unwrap_or(s).trim().to_string())
            .filter(|s| !s.is_empty())
    }

    /// ` (after N attempts)` when it was retried.
    fn after(&self) -> String {
        if self.attempts > 1 {
            format!(" (after {} attempts)", self.attempts)
        } else {
            String::new()
        }
    }

    fn text(&self) -> String {
        crate::secrets::redact_all(String::from_utf8_lossy(&self.body).trim())
    }
}

/// A client for one registry host.
pub struct RegistryClient {
    host: String,
    scheme: &'static str,
    creds: Credentials,
    http: reqwest::Client,
    retry: Retry,
    challenge: OnceCell<Option<Challenge>>,
    tokens: Mutex<HashMap<String, TokenSlot>>,
    indexes: Mutex<HashMap<String, Arc<OnceCell<Vec<IndexEntry>>>>>,
    /// Why a repository reads as absent (the token service's answer), for evidence.
    absent: Mutex<HashMap<String, String>>,
    /// The repository whose workflow publishes (`owner/name`), named in access advice.
    actions_repository: Option<String>,
}

/// Loopback hosts get plain http, everything else https.
pub(crate) fn is_loopback(host: &str) -> bool {
    let h = host.rsplit_once(':').map(|(h, _)| h).unwrap_or(host);
    h.starts_with("127.") || h == "localhost" || h == "[::1]"
}

/// Whether a `Content-Type` can be a manifest: the OCI and Docker types, or none or plain
/// JSON (older registries). An HTML page (a login page, a captive portal) is not.
fn is_manifest_type(mt: &str) -> bool {
    mt.is_empty()
        || mt == "application/json"
        || mt.starts_with("application/vnd.oci.")
        || mt.starts_with("application/vnd.docker.")
}

fn not_a_manifest(host: &str, repo: &str, reference: &str, media_type: &str) -> anyhow::Error {
    external(format!(
        "{host}/{repo}:{reference} answered `{media_type}`, not a manifest; check that AISOPSFLOW_REGISTRY (or registry.host) names an OCI registry and that no proxy or captive portal answers for it"
    ))
}

fn is_index_type(mt: &str) -> bool {
    mt == OCI_INDEX || mt == DOCKER_LIST
}

pub fn sha256_digest(body: &[u8]) -> String {
    let h = sha2::Sha256::digest(body);
    let mut s = String::from("sha256:");
    for b in h {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// Whether two URLs name the same host (the port may differ: the local token service listens
/// beside the registry on loopback).
fn same_hostname(a: &str, b: &str) -> bool {
    match (reqwest::Url::parse(a), reqwest::Url::parse(b)) {
        (Ok(a), Ok(b)) => a
            .host_str()
            .zip(b.host_str())
            .is_some_and(|(a, b)| a.eq_ignore_ascii_case(b)),
        _ => false,
    }
}

fn net_err(host: &str, what: &str, e: reqwest::Error, attempts: u32) -> anyhow::Error {
    let after = if attempts > 1 {
        format!(" (after {attempts} attempts)")
    } else {
        String::new()
    };
    external(format!(
        "{what} at {host}: {e}{after}; check that the registry is reachable (AISOPSFLOW_REGISTRY overrides the host from release.toml)"
    ))
}

fn with_bearer(req: reqwest::RequestBuilder, token: &Option<Secret>) -> reqwest::RequestBuilder {
    match token {
        Some(t) => req.bearer_auth(t.expose()),
        None => req,
    }
}

impl RegistryClient {
    pub fn new(host: &str, creds: Credentials) -> anyhow::Result<RegistryClient> {
        let loopback = is_loopback(host);
        let http = crate::effects::http::builder()
            .timeout(TIMEOUT)
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("aisopsflow-xtask/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("building the registry HTTP client")?;
        Ok(RegistryClient {
            host: host.to_string(),
            scheme: if loopback { "http" } else { "https" },
            creds,
            http,
            retry: Retry::from_env(),
            challenge: OnceCell::new(),
            tokens: Mutex::new(HashMap::new()),
            indexes: Mutex::new(HashMap::new()),
            absent: Mutex::new(HashMap::new()),
            actions_repository: None,
        })
    }

    /// A client for the configured registry with discovered credentials.
    pub(crate) fn for_host(host: &str) -> anyhow::Result<RegistryClient> {
        RegistryClient::new(host, Credentials::discover(host)?)
    }

    /// Names `repository` (`owner/name`, the one whose workflow publishes) in the advice for
    /// Actions-access refusals.
    pub fn with_actions_repository(mut self, repository: &str) -> RegistryClient {
        self.actions_repository = Some(repository.to_string());
        self
    }

    /// Sets the first backoff wait and the command's retry budget (tests use short ones;
    /// commands read `AISOPSFLOW_REGISTRY_BACKOFF_MS` and `AISOPSFLOW_REGISTRY_RETRY_BUDGET_SECS`).
    pub fn with_backoff(mut self, base: Duration, budget: Duration) -> RegistryClient {
        self.retry.base = base;
        self.retry.budget = budget;
        self
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    pub(crate) fn credentials_source(&self) -> String {
        self.creds.source()
    }

    fn url(&self, path: &str) -> String {
        format!("{}://{}{path}", self.scheme, self.host)
    }

    /// Why `repo` read as absent, when it did: the token service's answer.
    pub fn absence(&self, repo: &str) -> Option<String> {
        self.absent
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(repo)
            .cloned()
    }

    /// Sends an idempotent request, retrying 408/429/5xx, resets and timeouts with backoff
    /// (honouring `Retry-After`) within the client's budget, and reads the whole answer. The
    /// last answer is returned even when it is still a failure; the caller classifies it.
    async fn send(
        &self,
        what: &str,
        build: impl Fn() -> reqwest::RequestBuilder,
    ) -> anyhow::Result<Answer> {
        let mut attempts = 0;
        loop {
            attempts += 1;
            let sent = match build().send().await {
                Ok(res) => {
                    let status = res.status();
                    let headers = res.headers().clone();
                    res.bytes().await.map(|body| Answer {
                        status,
                        headers,
                        body,
                        attempts,
                    })
                }
                Err(e) => Err(e),
            };
            let retry = match &sent {
                Ok(a) if retryable_status(a.status.as_u16()) => {
                    let ra = a
                        .headers
                        .get(reqwest::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .map(|s| s.to_string());
                    let parsed = ra.as_deref().and_then(parse_retry_after);
                    let mut reason = format!("answered {}", a.status);
                    if let Some(ra) = &ra {
                        reason.push_str(&format!(" (Retry-After: {ra})"));
                    }
                    Some((reason, parsed))
                }
                Ok(_) => None,
                Err(e) if retryable_error(e) => Some((format!("failed: {e}"), None)),
                Err(_) => None,
            };
            let Some((reason, retry_after)) = retry else {
                return sent.map_err(|e| net_err(&self.host, what, e, attempts));
            };
            let wait = if attempts > self.retry.max_retries {
                None
            } else {
                self.retry.wait(attempts, retry_after)
            };
            let Some(wait) = wait else {
                if verbose() {
                    crate::note!(
                        "registry: {what} {reason}; giving up after {attempts} attempts ({})",
                        if attempts > self.retry.max_retries {
                            "retries exhausted"
                        } else {
                            "the command's retry budget is spent"
                        }
                    );
                }
                return sent.map_err(|e| net_err(&self.host, what, e, attempts));
            };
            if verbose() {
                crate::note!(
                    "registry: {what} {reason}; retry {attempts}/{} in {} ms",
                    self.retry.max_retries,
                    wait.as_millis()
                );
            }
            tokio::time::sleep(wait).await;
        }
    }

    /// One `GET /v2/` per client: the realm and service of the Bearer challenge, or `None`
    /// when the registry needs no auth.
    async fn challenge(&self) -> anyhow::Result<Option<Challenge>> {
        self.challenge
            .get_or_try_init(|| async {
                let url = self.url("/v2/");
                let res = self.send("GET /v2/", || self.http.get(&url)).await?;
                let Some(h) = res.header("www-authenticate") else {
                    if res.status.is_success() {
                        return Ok(None);
                    }
                    return Err(external(format!(
                        "GET {url} answered {}{} without a WWW-Authenticate challenge; is {} an OCI registry?",
                        res.status,
                        res.after(),
                        self.host
                    )));
                };
                // `header` cut at the first `;`; the challenge has none, but take it whole.
                let h = res
                    .headers
                    .get(reqwest::header::WWW_AUTHENTICATE)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or(&h)
                    .to_string();
                let params = parse_challenge(&h);
                let realm = params.get("realm").cloned().ok_or_else(|| {
                    external(format!("GET {url}: challenge `{h}` names no realm"))
                })?;
                Ok(Some(Challenge {
                    realm,
                    service: params.get("service").cloned(),
                }))
            })
            .await
            .cloned()
    }

    /// Requests a token for `repo` with `actions` (`pull` or `pull,push`), retrying rate
    /// limits and 5xx. `Ok(Ok((token, lifetime)))` when granted, `Ok(Err((status, body)))`
    /// when the token service refused.
    async fn request_token_for(
        &self,
        repo: &str,
        anonymous: bool,
        actions: &str,
    ) -> anyhow::Result<Result<(Option<Secret>, Duration), (u16, String)>> {
        let Some(ch) = self.challenge().await? else {
            return Ok(Ok((None, Duration::MAX)));
        };
        let scope = format!("repository:{repo}:{actions}");
        let mut url = format!(
            "{}{}scope={}",
            ch.realm,
            if ch.realm.contains('?') { '&' } else { '?' },
            query_encode(&scope)
        );
        if let Some(s) = &ch.service {
            url.push_str(&format!("&service={}", query_encode(s)));
        }
        if let (false, Credentials::Basic { .. }) = (anonymous, &self.creds) {
            // Credentials go to the registry's own host only: a challenge naming a token
            // service elsewhere would otherwise collect the GitHub token (ghcr.io's realm is
            // https://ghcr.io/token). Stricter than docker, which follows any realm.
            if !same_hostname(&ch.realm, &self.url("/")) {
                return Err(usage(format!(
                    "the registry {} names its token service at {}, another host; refusing to send the credentials from {} there; fix: check AISOPSFLOW_REGISTRY and `[registry] host` in release.toml name the registry itself",
                    self.host,
                    ch.realm,
                    self.creds.source()
                )));
            }
        }
        let res = self
            .send(&format!("GET /token (scope {scope})"), || {
                let req = self.http.get(&url);
                match (anonymous, &self.creds) {
                    (false, Credentials::Basic { user, password, .. }) => {
                        req.basic_auth(user, Some(password.expose()))
                    }
                    _ => req,
                }
            })
            .await
            .map_err(|e| e.context("requesting a registry token"))?;
        let status = res.status;
        if status.is_success() {
            let v: serde_json::Value = serde_json::from_slice(&res.body).map_err(|e| {
                external(format!(
                    "reading the token for {repo} from the token service {}: {e}; the answer is not JSON (a proxy or captive portal?): check that AISOPSFLOW_REGISTRY names the registry",
                    ch.realm
                ))
            })?;
            let token = v
                .get("token")
                .or_else(|| v.get("access_token"))
                .and_then(|t| t.as_str())
                .filter(|t| !t.is_empty())
                .ok_or_else(|| {
                    external(format!(
                        "the token service {} answered without a token",
                        ch.realm
                    ))
                })?;
            let life = v
                .get("expires_in")
                .and_then(|e| e.as_u64())
                .map(Duration::from_secs)
                .unwrap_or(DEFAULT_TOKEN_LIFETIME);
            return Ok(Ok((Some(Secret::new(token)), life)));
        }
        if status.is_server_error() || retryable_status(status.as_u16()) {
            return Err(external(format!(
                "the token service {} answered {status}{} for {repo}: {}; retry later",
                ch.realm,
                res.after(),
                res.text()
            )));
        }
        Ok(Err((status.as_u16(), res.text())))
    }

    /// The pull token for `repo` with our credentials: requested once per repository and
    /// again when it is older than its lifetime. A `DENIED` for a package that does not exist
    /// is `Pull::Absent` and is never cached (a publish creates the package).
    async fn pull(&self, repo: &str) -> anyhow::Result<Pull> {
        let slot = {
            let mut map = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
            map.entry(repo.to_string()).or_default().clone()
        };
        let mut cached = slot.lock().await;
        if let Some(c) = cached.as_ref() {
            // A little margin, so a token is not used in its last seconds.
            let margin = (c.life / 10).min(Duration::from_secs(5));
            if c.at.elapsed() + margin < c.life {
                return Ok(Pull::Granted(c.token.clone()));
            }
            if verbose() {
                crate::note!(
                    "registry: the token for {repo} is {} s old (lifetime {} s): requesting a new one",
                    c.at.elapsed().as_secs(),
                    c.life.as_secs()
                );
            }
        }
        let at = Instant::now();
        match self.request_token_for(repo, false, "pull").await? {
            Ok((token, life)) => {
                *cached = Some(Cached {
                    token: token.clone(),
                    at,
                    life,
                });
                Ok(Pull::Granted(token))
            }
            Err((status, body)) => {
                let answer =
                    format!("GET /token (scope repository:{repo}:pull) -> {status} {body}");
                match classify_refusal(status, body.as_bytes()) {
                    Refusal::Absent => {
                        self.absent
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .insert(repo.to_string(), answer.clone());
                        Ok(Pull::Absent)
                    }
                    Refusal::ActionsAccess => Err(policy(format!(
                        "the registry refused read access to {}/{repo} with the credentials from {} ({answer}); {}",
                        self.host,
                        self.creds.source(),
                        actions_access_fix(repo, self.actions_repository.as_deref())
                    ))),
                    _ => Err(match &self.creds {
                        Credentials::Anonymous => usage(format!(
                            "pulling {}/{repo} anonymously was refused ({answer}); it is private: set GITHUB_TOKEN to a token with read:packages, or `docker login {}`",
                            self.host, self.host
                        )),
                        Credentials::Basic { source, .. } => usage(format!(
                            "the registry refused the credentials from {source} for {}/{repo} ({answer}); use a token with read:packages (`gh auth refresh -s read:packages`) or `docker login {}`",
                            self.host, self.host
                        )),
                    }),
                }
            }
        }
    }

    /// Forgets `repo`'s token if it is still `used` (another caller may have refreshed it).
    async fn forget_token(&self, repo: &str, used: &Option<Secret>) {
        let slot = {
            let map = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
            map.get(repo).cloned()
        };
        if let Some(slot) = slot {
            let mut cached = slot.lock().await;
            if cached.as_ref().is_some_and(|c| c.token == *used) {
                *cached = None;
            }
        }
    }

    /// Sends an idempotent read of `path` in `repo` with the pull token; a 401 on a cached
    /// token refreshes it once. `None` when the repository reads as absent.
    async fn read(
        &self,
        what: &str,
        repo: &str,
        build: impl Fn(&Option<Secret>) -> reqwest::RequestBuilder,
    ) -> anyhow::Result<Option<Answer>> {
        let Pull::Granted(token) = self.pull(repo).await? else {
            return Ok(None);
        };
        let res = self.send(what, || build(&token)).await?;
        if res.status.as_u16() != 401 || token.is_none() {
            return Ok(Some(res));
        }
        // The token expired early or was revoked: one new token, one more try.
        if verbose() {
            crate::note!("registry: {what} answered 401 with a cached token: requesting a new one");
        }
        self.forget_token(repo, &token).await;
        let Pull::Granted(token) = self.pull(repo).await? else {
            return Ok(None);
        };
        Ok(Some(self.send(what, || build(&token)).await?))
    }

    /// Sends `method` for `repo:reference`'s manifest with the full Accept list and the
    /// repository's pull token. `None` when the repository reads as absent.
    async fn manifest_request(
        &self,
        method: reqwest::Method,
        repo: &str,
        reference: &str,
    ) -> anyhow::Result<Option<Answer>> {
        let url = self.url(&format!("/v2/{repo}/manifests/{reference}"));
        self.read(
            &format!("{method} /v2/{repo}/manifests/{reference}"),
            repo,
            |token| {
                with_bearer(
                    self.http
                        .request(method.clone(), &url)
                        .header(reqwest::header::ACCEPT, MANIFEST_ACCEPT.join(", ")),
                    token,
                )
            },
        )
        .await
    }

    fn check(&self, res: &Answer, repo: &str, reference: &str) -> anyhow::Result<()> {
        check_status(res, &self.host, repo, reference, &self.creds, || {
            actions_access_fix(repo, self.actions_repository.as_deref())
        })
    }

    /// Resolves `repo:reference` to its digest with one HEAD. `None` when the tag (or the
    /// repository) does not exist. For an index, also reads its entries once per digest.
    pub async fn resolve(&self, repo: &str, reference: &str) -> anyhow::Result<Option<Resolved>> {
        let Some(res) = self
            .manifest_request(reqwest::Method::HEAD, repo, reference)
            .await?
        else {
            return Ok(None);
        };
        if res.status.as_u16() == 404 {
            return Ok(None);
        }
        self.check(&res, repo, reference)?;
        let (digest, media_type) = match res.header("docker-content-digest") {
            Some(d) => (d, res.header("content-type").unwrap_or_default()),
            None => {
                // No digest header: read the body and hash it (what the spec tells clients of
                // older registries to do).
                let (_, digest, mt) = self.manifest(repo, reference).await?;
                (digest, mt)
            }
        };
        if !is_manifest_type(&media_type) {
            return Err(not_a_manifest(&self.host, repo, reference, &media_type));
        }
        let entries = if is_index_type(&media_type) {
            self.index_entries(repo, &digest).await?
        } else {
            Vec::new()
        };
        Ok(Some(Resolved {
            repository: repo.to_string(),
            reference: reference.to_string(),
            digest,
            media_type,
            entries,
        }))
    }

    /// Resolves many `(repo, reference)` pairs concurrently (at most 16 in flight, one
    /// connection pool, one token per repository), in order.
    pub async fn resolve_all(
        &self,
        refs: &[(String, String)],
    ) -> Vec<anyhow::Result<Option<Resolved>>> {
        use futures_util::StreamExt;
        futures_util::stream::iter(refs.iter().map(|(r, t)| self.resolve(r, t)))
            .buffered(CONCURRENCY)
            .collect()
            .await
    }

    async fn index_entries(&self, repo: &str, digest: &str) -> anyhow::Result<Vec<IndexEntry>> {
        let cell = {
            let mut map = self.indexes.lock().unwrap_or_else(|e| e.into_inner());
            map.entry(format!("{repo}@{digest}")).or_default().clone()
        };
        cell.get_or_try_init(|| async {
            let (body, _, _) = self.manifest(repo, digest).await?;
            parse_index(&body).with_context(|| format!("reading the index {repo}@{digest}"))
        })
        .await
        .cloned()
    }

    /// GETs a manifest: `(body, digest, media type)`. The body must hash to the
    /// `Docker-Content-Digest` header and, when `reference` is a digest, to that digest.
    pub async fn manifest(
        &self,
        repo: &str,
        reference: &str,
    ) -> anyhow::Result<(bytes::Bytes, String, String)> {
        let res = self
            .manifest_request(reqwest::Method::GET, repo, reference)
            .await?;
        let Some(res) = res.filter(|r| r.status.as_u16() != 404) else {
            return Err(policy(format!(
                "manifest {}/{repo}:{reference} not found",
                self.host
            )));
        };
        self.check(&res, repo, reference)?;
        let header_digest = res.header("docker-content-digest");
        let media_type = res.header("content-type").unwrap_or_default();
        if !is_manifest_type(&media_type) {
            return Err(not_a_manifest(&self.host, repo, reference, &media_type));
        }
        let body = res.body;
        let actual = sha256_digest(&body);
        if let Some(h) = &header_digest
            && h.starts_with("sha256:")
            && *h != actual
        {
            return Err(policy(format!(
                "the registry served a manifest whose body does not match its digest: {}/{repo}:{reference} has Docker-Content-Digest {h}, but its body hashes to {actual}; do not trust this registry's answer (check for a proxy or cache in between)",
                self.host
            )));
        }
        if reference.starts_with("sha256:") && reference != actual {
            return Err(policy(format!(
                "the registry served a manifest whose body does not match its digest: asked for {}/{repo}@{reference}, got a body that hashes to {actual}",
                self.host
            )));
        }
        let media_type = if media_type.is_empty() || media_type == "application/json" {
            serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| {
                    v.get("mediaType")
                        .and_then(|m| m.as_str())
                        .map(str::to_string)
                })
                .unwrap_or(media_type)
        } else {
            media_type
        };
        Ok((body, header_digest.unwrap_or(actual), media_type))
    }

    /// Points `tag` at the manifest `digest` already in `repo` (GET by digest, PUT under the
    /// tag, the same bytes and media type), so no image is rebuilt or re-uploaded and the tag
    /// gets exactly that digest. Needs push access. Returns the digest the registry reports.
    /// The PUT is retried like a read: putting the same bytes under the same tag twice is
    /// the same as once.
    /// A fresh `pull,push` token for `repo`; a refusal is an error naming the fix.
    async fn push_token(&self, repo: &str) -> anyhow::Result<Option<Secret>> {
        match self.request_token_for(repo, false, "pull,push").await? {
            Ok((t, _)) => Ok(t),
            Err((status, body)) => {
                let answer =
                    format!("GET /token (scope repository:{repo}:pull,push) -> {status} {body}");
                Err(
                    if classify_refusal(status, body.as_bytes()) == Refusal::ActionsAccess {
                        policy(format!(
                            "the registry refused push access to {}/{repo} ({answer}); {}",
                            self.host,
                            actions_access_fix(repo, self.actions_repository.as_deref())
                        ))
                    } else {
                        usage(format!(
                            "the registry refused push access to {}/{repo} with the credentials from {} ({answer}); publish needs packages: write (GITHUB_TOKEN in the workflow) or `docker login {}`",
                            self.host,
                            self.creds.source(),
                            self.host
                        ))
                    },
                )
            }
        }
    }

    /// Proves that these credentials may write `repo` before anything is built or pushed.
    /// ghcr.io issues a `pull,push` token to any workflow and refuses only at the write
    /// (`permission_denied: write_package` when the package does not grant the workflow's
    /// repository Write in "Manage Actions access"), so the proof is a write that tags
    /// nothing: `POST /v2/REPO/blobs/uploads/` opens an upload session (202), which is left
    /// unfinished (registries purge abandoned sessions; it holds no data and no tag). For a
    /// package that does not exist yet this is where ghcr.io says whether the workflow may
    /// create it.
    pub(crate) async fn check_push(&self, repo: &str) -> anyhow::Result<()> {
        let url = self.url(&format!("/v2/{repo}/blobs/uploads/"));
        let what = format!("POST /v2/{repo}/blobs/uploads/");
        let mut answer = None;
        for round in 0..2 {
            let token = self.push_token(repo).await?;
            let res = self
                .send(&what, || with_bearer(self.http.post(&url), &token))
                .await?;
            // A push token that expired between the token request and the POST: once more.
            if res.status.as_u16() == 401 && token.is_some() && round == 0 {
                continue;
            }
            answer = Some(res);
            break;
        }
        let res = answer.expect("the loop sets an answer or returns");
        let status = res.status;
        if status.is_success() {
            // The session stays open and unused. Cancelling it (DELETE on its Location) needs
            // the `delete` action, which a push token lacks (distribution's
            // `appendAccessRecords`), so it is left for the registry to purge (distribution:
            // `uploadpurging`, after a week by default).
            return Ok(());
        }
        let text = res.text();
        Err(match classify_refusal(status.as_u16(), &res.body) {
            Refusal::ActionsAccess => policy(format!(
                "the registry refuses writes to {}/{repo} ({what} -> {status} {text}); nothing was pushed: {}",
                self.host,
                actions_access_fix(repo, self.actions_repository.as_deref())
            )),
            Refusal::Credentials | Refusal::Absent => usage(format!(
                "the registry refuses writes to {}/{repo} ({what} -> {status} {text}); nothing was pushed: the credentials from {} need packages: write (GITHUB_TOKEN in the workflow) and access to the package",
                self.host,
                self.creds.source()
            )),
            _ => external(format!(
                "{what} at {} answered {status}{}: {text}; nothing was pushed; rerun the publish",
                self.host,
                res.after()
            )),
        })
    }

    pub async fn retag(&self, repo: &str, digest: &str, tag: &str) -> anyhow::Result<String> {
        let (body, got, media_type) = self.manifest(repo, digest).await?;
        if got != digest {
            return Err(policy(format!(
                "{}/{repo}@{digest} resolved to {got}; refusing to tag it",
                self.host
            )));
        }
        let url = self.url(&format!("/v2/{repo}/manifests/{tag}"));
        let what = format!("PUT /v2/{repo}/manifests/{tag}");
        let mut res = None;
        for round in 0..2 {
            let token = self.push_token(repo).await?;
            let answer = self
                .send(&what, || {
                    with_bearer(
                        self.http
                            .put(&url)
                            .header(reqwest::header::CONTENT_TYPE, media_type.clone())
                            .body(body.clone()),
                        &token,
                    )
                })
                .await?;
            // A push token that expired between the token request and the PUT: once more.
            if answer.status.as_u16() == 401 && token.is_some() && round == 0 {
                if verbose() {
                    crate::note!("registry: {what} answered 401: requesting a new push token");
                }
                continue;
            }
            res = Some(answer);
            break;
        }
        let res = res.expect("the loop sets an answer or returns");
        let status = res.status;
        if !status.is_success() {
            let text = res.text();
            return Err(match classify_refusal(status.as_u16(), &res.body) {
                Refusal::ActionsAccess => policy(format!(
                    "tagging {}/{repo}:{tag} was refused: {status} {text}; {}",
                    self.host,
                    actions_access_fix(repo, self.actions_repository.as_deref())
                )),
                Refusal::Credentials | Refusal::Absent => usage(format!(
                    "tagging {}/{repo}:{tag} was refused: {status} {text}; the credentials from {} need packages: write (GITHUB_TOKEN in the workflow) and access to the package",
                    self.host,
                    self.creds.source()
                )),
                _ => external(format!(
                    "tagging {}/{repo}:{tag} answered {status}{}: {text}; rerun the publish (it resumes)",
                    self.host,
                    res.after()
                )),
            });
        }
        let reported = res
            .header("docker-content-digest")
            .unwrap_or_else(|| digest.to_string());
        if reported != digest {
            return Err(policy(format!(
                "tagging {}/{repo}:{tag} produced {reported}, not {digest}",
                self.host
            )));
        }
        Ok(reported)
    }

    /// The user name and password this client sends, for handing to the Docker engine (which
    /// does its own token dance) when `verify-runs` pulls; `None` when anonymous.
    pub(crate) fn basic_credentials(&self) -> Option<(String, Secret)> {
        match &self.creds {
            Credentials::Anonymous => None,
            Credentials::Basic { user, password, .. } => Some((user.clone(), password.clone())),
        }
    }

    /// Opens a blob as a stream of chunks, without reading it whole (`verify-contents` reads
    /// layers through a tar reader this way). The caller hashes what it reads and compares it
    /// with `digest`: the stream itself checks nothing. A missing blob is a policy error (the
    /// manifest names a blob the registry does not hold). Opening it is retried like any
    /// read (429, 5xx, resets before the answer), and a 401 on a cached token refreshes it
    /// once; the stream itself is not retried.
    pub(crate) async fn blob_stream(
        &self,
        repo: &str,
        digest: &str,
    ) -> anyhow::Result<impl futures_util::Stream<Item = anyhow::Result<bytes::Bytes>> + use<>>
    {
        let url = self.url(&format!("/v2/{repo}/blobs/{digest}"));
        let what = format!("GET /v2/{repo}/blobs/{digest}");
        let missing = || {
            policy(format!(
                "blob {}/{repo}@{digest} not found: a manifest names a blob the registry does not hold",
                self.host
            ))
        };
        let mut refreshed = false;
        let mut attempts = 0;
        let res = loop {
            let Pull::Granted(token) = self.pull(repo).await? else {
                return Err(missing());
            };
            attempts += 1;
            // Layers can be large: no overall timeout (the client's 30 s would cut a slow but
            // healthy download); the caller bounds the wait for each chunk.
            let sent = with_bearer(self.http.get(&url), &token)
                .timeout(Duration::from_secs(24 * 3600))
                .send()
                .await;
            enum Next {
                Refresh,
                Retry(Option<Duration>),
                Done,
            }
            let next = match &sent {
                Ok(r) if r.status().as_u16() == 401 && token.is_some() && !refreshed => {
                    Next::Refresh
                }
                Ok(r) if retryable_status(r.status().as_u16()) => Next::Retry(
                    r.headers()
                        .get(reqwest::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(parse_retry_after),
                ),
                Ok(_) => Next::Done,
                Err(e) if retryable_error(e) => Next::Retry(None),
                Err(_) => Next::Done,
            };
            let retry_after = match next {
                Next::Refresh => {
                    refreshed = true;
                    self.forget_token(repo, &token).await;
                    continue;
                }
                Next::Done => break sent.map_err(|e| net_err(&self.host, &what, e, attempts))?,
                Next::Retry(ra) => ra,
            };
            let wait = (attempts <= self.retry.max_retries)
                .then(|| self.retry.wait(attempts, retry_after))
                .flatten();
            let Some(wait) = wait else {
                break sent.map_err(|e| net_err(&self.host, &what, e, attempts))?;
            };
            if verbose() {
                crate::note!(
                    "registry: {what} failed; retry {attempts}/{} in {} ms",
                    self.retry.max_retries,
                    wait.as_millis()
                );
            }
            tokio::time::sleep(wait).await;
        };
        let status = res.status();
        if status.as_u16() == 404 {
            return Err(missing());
        }
        if !status.is_success() {
            let headers = res.headers().clone();
            let body = res.bytes().await.unwrap_or_default();
            let answer = Answer {
                status,
                headers,
                body,
                attempts,
            };
            self.check(&answer, repo, digest)?;
            return Err(external(format!("{what} answered {status}; retry later")));
        }
        let host = self.host.clone();
        let reading = format!("reading blob {repo}@{digest}");
        Ok(futures_util::StreamExt::map(res.bytes_stream(), move |r| {
            r.map_err(|e| net_err(&host, &reading, e, 1))
        }))
    }

    /// Reads a blob (following redirects to storage, which do not get our token) and checks
    /// it against its digest.
    pub async fn blob(&self, repo: &str, digest: &str) -> anyhow::Result<Vec<u8>> {
        let url = self.url(&format!("/v2/{repo}/blobs/{digest}"));
        let res = self
            .read(&format!("GET /v2/{repo}/blobs/{digest}"), repo, |token| {
                with_bearer(self.http.get(&url), token)
            })
            .await?;
        let Some(res) = res.filter(|r| r.status.as_u16() != 404) else {
            return Err(policy(format!(
                "blob {}/{repo}@{digest} not found",
                self.host
            )));
        };
        self.check(&res, repo, digest)?;
        let actual = sha256_digest(&res.body);
        if digest.starts_with("sha256:") && actual != digest {
            return Err(policy(format!(
                "the registry served a blob whose body does not match its digest: asked for {}/{repo}@{digest}, got a body that hashes to {actual}",
                self.host
            )));
        }
        Ok(res.body.to_vec())
    }

    /// Everything a public image shows about itself: the index (if any), each manifest, each
    /// config, and the layers of attestation manifests (in-toto statements, small JSON).
    pub async fn image_metadata(&self, repo: &str, digest: &str) -> anyhow::Result<ImageMetadata> {
        let mut meta = ImageMetadata::default();
        let (body, _, media_type) = self.manifest(repo, digest).await?;
        let mut images: Vec<(String, bool)> = Vec::new();
        if is_index_type(&media_type) {
            meta.documents.push((
                format!("index {digest}"),
                String::from_utf8_lossy(&body).into_owned(),
            ));
            for e in parse_index(&body)? {
                images.push((e.digest.clone(), e.is_attestation()));
            }
        } else {
            images.push((digest.to_string(), false));
        }
        for (d, attestation) in images {
            let body = if d == digest {
                body.clone()
            } else {
                self.manifest(repo, &d).await?.0
            };
            let what = if attestation {
                "attestation manifest"
            } else {
                "manifest"
            };
            meta.documents.push((
                format!("{what} {d}"),
                String::from_utf8_lossy(&body).into_owned(),
            ));
            let m: serde_json::Value = serde_json::from_slice(&body)
                .with_context(|| format!("parsing manifest {repo}@{d}"))?;
            if let Some(cfg) = m.pointer("/config/digest").and_then(|v| v.as_str()) {
                let blob = self.blob(repo, cfg).await?;
                let text = String::from_utf8_lossy(&blob).into_owned();
                if let Ok(v) = serde_json::from_str::<serde_json::Value>(&text)
                    && let Some(labels) = v.pointer("/config/Labels").and_then(|l| l.as_object())
                {
                    for (k, v) in labels {
                        meta.labels
                            .insert(k.clone(), v.as_str().unwrap_or_default().to_string());
                    }
                }
                meta.documents.push((format!("config {cfg} of {d}"), text));
            }
            if attestation {
                for layer in m
                    .get("layers")
                    .and_then(|l| l.as_array())
                    .cloned()
                    .unwrap_or_default()
                {
                    let (Some(ld), size) = (
                        layer.get("digest").and_then(|v| v.as_str()),
                        layer.get("size").and_then(|v| v.as_u64()).unwrap_or(0),
                    ) else {
                        continue;
                    };
                    // Attestation layers are small JSON; skip anything that is not.
                    if size > 4 << 20 {
                        continue;
                    }
                    let blob = self.blob(repo, ld).await?;
                    meta.documents.push((
                        format!("attestation layer {ld} of {d}"),
                        String::from_utf8_lossy(&blob).into_owned(),
                    ));
                }
            }
        }
        Ok(meta)
    }

    /// All tags of `repo`, following `Link: <…>; rel="next"` (or `last=` when a full page
    /// comes without one); `None` when the repository does not exist.
    pub async fn list_tags(&self, repo: &str) -> anyhow::Result<Option<Vec<String>>> {
        const PAGE: usize = 1000;
        let mut all = Vec::new();
        let mut next = Some(format!("/v2/{repo}/tags/list?n={PAGE}"));
        let mut pages = 0;
        while let Some(path) = next.take() {
            pages += 1;
            if pages > 100 {
                break;
            }
            let url = self.url(&path);
            let Some(res) = self
                .read(&format!("GET /v2/{repo}/tags/list"), repo, |token| {
                    with_bearer(self.http.get(&url), token)
                })
                .await?
            else {
                return Ok(None);
            };
            if res.status.as_u16() == 404 {
                return Ok(None);
            }
            self.check(&res, repo, "tags/list")?;
            let v: serde_json::Value = serde_json::from_slice(&res.body).map_err(|e| {
                external(format!(
                    "listing tags of {}/{repo}: the answer is not JSON ({e})",
                    self.host
                ))
            })?;
            let tags: Vec<String> = v
                .get("tags")
                .and_then(|t| t.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|t| t.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            let n = tags.len();
            let last = tags.last().cloned();
            all.extend(tags);
            next = res
                .headers
                .get_all(reqwest::header::LINK)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .find_map(next_link);
            if next.is_none() && n >= PAGE {
                next = last.map(|l| format!("/v2/{repo}/tags/list?n={PAGE}&last={l}"));
            }
        }
        all.sort();
        all.dedup();
        Ok(Some(all))
    }

    /// Whether an anonymous caller may pull `repo:reference`: a token request without
    /// credentials and, if that yields a token, a HEAD with it. Denied only on `401
    /// UNAUTHORIZED` or `403 DENIED`; allowed only on a 2xx manifest answer. Anything else
    /// (a rate limit after the retries, 5xx, a timeout, an unexpected status) is an error,
    /// never a verdict.
    pub async fn anonymous_pull_allowed(
        &self,
        repo: &str,
        reference: &str,
    ) -> anyhow::Result<AnonymousProbe> {
        let no_verdict = |what: String| {
            external(format!(
                "cannot tell whether anonymous pulls of {}/{repo} are allowed: {what}; this is no verdict on visibility, so rerun verify later",
                self.host
            ))
        };
        let token = match self.request_token_for(repo, true, "pull").await {
            Ok(Ok((t, _))) => t,
            Ok(Err((status, body))) => {
                let answer =
                    format!("GET /token (scope repository:{repo}:pull) -> {status} {body}");
                let codes = error_codes(body.as_bytes());
                let code_is = |want: &str| codes.is_empty() || codes.iter().any(|(c, _)| c == want);
                return match (status, classify_refusal(status, body.as_bytes())) {
                    (_, Refusal::RateLimited) => Err(no_verdict(answer)),
                    (401, _) if code_is("UNAUTHORIZED") => Ok(AnonymousProbe {
                        repository: repo.to_string(),
                        allowed: false,
                        evidence: answer,
                        denied_not_unauthorized: false,
                        tag_missing: false,
                    }),
                    (403, _) if code_is("DENIED") => Ok(AnonymousProbe {
                        repository: repo.to_string(),
                        allowed: false,
                        evidence: answer,
                        denied_not_unauthorized: true,
                        tag_missing: false,
                    }),
                    _ => Err(no_verdict(answer)),
                };
            }
            Err(e) if crate::exit::kind_of(&e) == Some(crate::exit::Kind::External) => {
                return Err(no_verdict(format!("{e:#}")));
            }
            Err(e) => return Err(e),
        };
        let url = self.url(&format!("/v2/{repo}/manifests/{reference}"));
        let res = self
            .send(
                &format!("anonymous HEAD /v2/{repo}/manifests/{reference}"),
                || {
                    with_bearer(
                        self.http
                            .head(&url)
                            .header(reqwest::header::ACCEPT, MANIFEST_ACCEPT.join(", ")),
                        &token,
                    )
                },
            )
            .await
            .map_err(|e| no_verdict(format!("{e:#}")))?;
        let status = res.status;
        let token_note = if token.is_some() {
            "GET /token -> 200 (anonymous token issued), "
        } else {
            ""
        };
        let evidence =
            format!("{token_note}anonymous HEAD /v2/{repo}/manifests/{reference} -> {status}");
        match status.as_u16() {
            200..=299 => Ok(AnonymousProbe {
                repository: repo.to_string(),
                allowed: true,
                evidence,
                denied_not_unauthorized: false,
                tag_missing: false,
            }),
            401 | 403 => Ok(AnonymousProbe {
                repository: repo.to_string(),
                allowed: false,
                evidence,
                denied_not_unauthorized: status.as_u16() == 403,
                tag_missing: false,
            }),
            // A token was issued to an anonymous caller, but the tag is missing: no proof
            // either way; the tag checks report the missing tag.
            404 if token.is_some() => Ok(AnonymousProbe {
                repository: repo.to_string(),
                allowed: false,
                evidence,
                denied_not_unauthorized: false,
                tag_missing: true,
            }),
            _ => Err(no_verdict(format!("{evidence}{}", res.after()))),
        }
    }
}

/// Percent-encodes a query value (everything but RFC 3986 unreserved characters).
fn query_encode(v: &str) -> String {
    let mut out = String::new();
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The target of a `Link: <…>; rel="next"` header value.
fn next_link(v: &str) -> Option<String> {
    v.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        params
            .split(';')
            .any(|p| {
                let p = p.trim().replace(' ', "");
                p == "rel=\"next\"" || p == "rel=next"
            })
            .then(|| {
                target
                    .trim()
                    .trim_start_matches('<')
                    .trim_end_matches('>')
                    .to_string()
            })
            .map(|t| match t.find("/v2/") {
                // Absolute links are followed on our host only: the path is what counts.
                Some(i) => t[i..].to_string(),
                None => t,
            })
    })
}

fn check_status(
    res: &Answer,
    host: &str,
    repo: &str,
    reference: &str,
    creds: &Credentials,
    actions_fix: impl Fn() -> String,
) -> anyhow::Result<()> {
    let status = res.status;
    if status.is_success() {
        return Ok(());
    }
    match classify_refusal(status.as_u16(), &res.body) {
        Refusal::ActionsAccess => Err(policy(format!(
            "{host}/{repo}:{reference}: {status} {}; {}",
            res.text(),
            actions_fix()
        ))),
        Refusal::Credentials | Refusal::Absent => Err(usage(format!(
            "{host}/{repo}:{reference}: {status} with {}; use a token with read:packages (GITHUB_TOKEN) or `docker login {host}`",
            creds.source()
        ))),
        _ => Err(external(format!(
            "{host}/{repo}:{reference}: the registry answered {status}{}; retry later",
            res.after()
        ))),
    }
}

/// `Bearer realm="…",service="…",scope="…"` → its parameters.
pub fn parse_challenge(h: &str) -> BTreeMap<String, String> {
    let rest = h.trim();
    let rest = rest
        .strip_prefix("Bearer ")
        .or_else(|| rest.strip_prefix("bearer "))
        .unwrap_or(rest);
    let mut out = BTreeMap::new();
    let mut chars = rest.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
        if key.is_empty() {
            break;
        }
        let value: String = if chars.peek() == Some(&'"') {
            chars.next();
            chars.by_ref().take_while(|c| *c != '"').collect()
        } else {
            chars.by_ref().take_while(|c| *c != ',').collect()
        };
        out.insert(key.trim().to_lowercase(), value);
    }
    out
}

/// The entries of an OCI index or Docker manifest list, attestations recognised by
/// `vnd.docker.reference.type: attestation-manifest`.
pub(crate) fn parse_index(body: &[u8]) -> anyhow::Result<Vec<IndexEntry>> {
    let v: serde_json::Value = serde_json::from_slice(body).context("parsing an index")?;
    let mut out = Vec::new();
    for m in v
        .get("manifests")
        .and_then(|m| m.as_array())
        .cloned()
        .unwrap_or_default()
    {
        let s = |p: &str| {
            m.pointer(p)
                .and_then(|v| v.as_str())
                .unwrap_or("")
                .to_string()
        };
        let mut platform = format!("{}/{}", s("/platform/os"), s("/platform/architecture"));
        if !s("/platform/variant").is_empty() {
            platform.push('/');
            platform.push_str(&s("/platform/variant"));
        }
        let attests = (m
            .pointer("/annotations/vnd.docker.reference.type")
            .and_then(|v| v.as_str())
            == Some("attestation-manifest"))
        .then(|| s("/annotations/vnd.docker.reference.digest"));
        out.push(IndexEntry {
            digest: s("/digest"),
            media_type: s("/mediaType"),
            platform,
            attests,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenge_parsing() {
        let p = parse_challenge(
            r#"Bearer realm="http://127.0.0.1:1/token",service="svc",scope="repository:a/b:pull""#,
        );
        assert_eq!(p["realm"], "http://127.0.0.1:1/token");
        assert_eq!(p["service"], "svc");
        assert_eq!(p["scope"], "repository:a/b:pull");
    }

    #[test]
    fn docker_config_auths() {
        let auth = base64::engine::general_purpose::STANDARD.encode("alice:s3cretpw");
        let text = format!(r#"{{"auths":{{"https://ghcr.io":{{"auth":"{auth}"}}}}}}"#);
        match docker_config_credentials(&text, "ghcr.io", "config.json").unwrap() {
            Credentials::Basic { user, password, .. } => {
                assert_eq!(user, "alice");
                assert_eq!(password.expose(), "s3cretpw");
            }
            other => panic!("expected basic, got {other:?}"),
        }
        assert!(matches!(
            docker_config_credentials(&text, "127.0.0.1:5000", "config.json").unwrap(),
            Credentials::Anonymous
        ));
    }

    #[test]
    fn index_with_attestation() {
        let body = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[
          {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:aa","size":1,"platform":{"os":"linux","architecture":"arm64","variant":"v8"}},
          {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:bb","size":1,"platform":{"os":"unknown","architecture":"unknown"},
           "annotations":{"vnd.docker.reference.type":"attestation-manifest","vnd.docker.reference.digest":"sha256:aa"}}]}"#;
        let e = parse_index(body).unwrap();
        assert_eq!(e[0].platform, "linux/arm64/v8");
        assert!(!e[0].is_attestation());
        assert_eq!(e[1].platform, "unknown/unknown");
        assert_eq!(e[1].attests.as_deref(), Some("sha256:aa"));
    }

    #[test]
    fn refusals_read_as_ghcr_means_them() {
        let missing = br#"{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]}"#;
        assert_eq!(classify_refusal(403, missing), Refusal::Absent);
        // Bad credentials on ghcr.io: `denied: denied`.
        let bad = br#"{"errors":[{"code":"DENIED","message":"denied"}]}"#;
        assert_eq!(classify_refusal(403, bad), Refusal::Credentials);
        let private =
            br#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#;
        assert_eq!(classify_refusal(401, private), Refusal::Credentials);
        let write =
            br#"{"errors":[{"code":"DENIED","message":"permission_denied: write_package"}]}"#;
        assert_eq!(classify_refusal(403, write), Refusal::ActionsAccess);
        let install = br#"{"errors":[{"code":"DENIED","message":"installation not allowed to Write organization package"}]}"#;
        assert_eq!(classify_refusal(403, install), Refusal::ActionsAccess);
        let limit = br#"{"errors":[{"code":"TOOMANYREQUESTS","message":"retry-after: 1.16676ms, allowed: 44000/minute"}]}"#;
        assert_eq!(classify_refusal(429, limit), Refusal::RateLimited);
        assert_eq!(classify_refusal(403, limit), Refusal::RateLimited);
        assert_eq!(classify_refusal(429, b""), Refusal::RateLimited);
        assert_eq!(classify_refusal(400, b"{}"), Refusal::Other);
    }

    #[test]
    fn retry_after_forms() {
        assert_eq!(parse_retry_after("2"), Some(Duration::from_secs(2)));
        assert_eq!(parse_retry_after("0.5"), Some(Duration::from_millis(500)));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(Duration::ZERO)
        );
        assert!(
            parse_retry_after("Fri, 01 Jan 2100 00:00:00 GMT").unwrap() > Duration::from_secs(3600)
        );
        assert_eq!(parse_retry_after("soon"), None);
        assert_eq!(parse_retry_after("-1"), None);
    }

    #[test]
    fn backoff_is_bounded_and_shares_one_budget() {
        let r = Retry {
            max_retries: 5,
            base: Duration::from_millis(100),
            cap: Duration::from_millis(400),
            budget: Duration::from_millis(1000),
            waited: Mutex::new(Duration::ZERO),
        };
        let w1 = r.wait(1, None).unwrap();
        assert!(
            w1 >= Duration::from_millis(50) && w1 <= Duration::from_millis(100),
            "{w1:?}"
        );
        let w5 = r.wait(5, None).unwrap();
        assert!(w5 <= Duration::from_millis(400), "capped: {w5:?}");
        assert_eq!(
            r.wait(2, Some(Duration::from_millis(300))),
            Some(Duration::from_millis(300))
        );
        // The budget is spent: no more waiting, whatever the server asks.
        assert_eq!(r.wait(3, Some(Duration::from_millis(900))), None);
    }

    #[test]
    fn link_headers() {
        assert_eq!(
            next_link(r#"</v2/org/x/tags/list?last=b&n=2>; rel="next""#).as_deref(),
            Some("/v2/org/x/tags/list?last=b&n=2")
        );
        assert_eq!(
            next_link(r#"<https://ghcr.io/v2/org/x/tags/list?last=b&n=2>; rel="next""#).as_deref(),
            Some("/v2/org/x/tags/list?last=b&n=2")
        );
        assert_eq!(next_link(r#"</v2/x>; rel="prev""#), None);
    }

    #[test]
    fn advice_names_manage_actions_access() {
        let fix = actions_access_fix(
            "aisopsflow/aisopsflow-core",
            Some("aisopsflow/aisopsflow-enterprise"),
        );
        assert!(
            fix.contains("Manage Actions access")
                && fix.contains("aisopsflow-enterprise with the Write role"),
            "{fix}"
        );
        assert!(
            fix.contains(
                "https://github.com/orgs/aisopsflow/packages/container/aisopsflow-core/settings"
            ),
            "{fix}"
        );
    }

    #[test]
    fn loopback() {
        assert!(is_loopback("127.0.0.1:5000"));
        assert!(is_loopback("localhost:5000"));
        assert!(!is_loopback("ghcr.io"));
    }

    /// docker/cli cli/config/credentials/file_store_test.go `TestConvertToHostname`, the whole
    /// table (including the cases its FIXMEs question: we match what docker does today).
    #[test]
    fn convert_to_hostname_matches_docker_cli() {
        let table = [
            ("127.0.0.1", "127.0.0.1"),
            ("::1", "::1"),
            ("[::1]", "[::1]"),
            ("example.com", "example.com"),
            ("http://example.com", "example.com"),
            ("https://example.com", "example.com"),
            ("https://example.com/", "example.com"),
            ("https://example.com/v2/", "example.com"),
            ("unix:///var/run/docker.sock", "unix:"),
            ("ftp://example.com", "example.com"),
            ("127.0.0.1:6556", "127.0.0.1:6556"),
            ("::1:6556", "::1:6556"),
            ("[::1]:6556", "[::1]:6556"),
            ("example.com:6555", "example.com:6555"),
            ("https://127.0.0.1:6555/v2/", "127.0.0.1:6555"),
            ("https://::1:6555/v2/", "[::1]:6555"),
            ("https://[::1]:6555/v2/", "[::1]:6555"),
            ("http://example.com:6555", "example.com:6555"),
            ("https://example.com:6555", "example.com:6555"),
            ("https://example.com:6555/v2/", "example.com:6555"),
        ];
        for (input, want) in table {
            assert_eq!(convert_to_hostname(input), want, "{input}");
        }
    }
}
