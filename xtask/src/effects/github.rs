//! The GitHub REST adapter: a small typed client over reqwest, with ETags, pagination,
//! rate-limit aware retries and errors that name the missing permission.
//!
//! Only the endpoints the tool calls are here (section numbers refer to
//! `github-and-ghcr-api.md`). The base URL comes from configuration (`GITHUB_API_URL`
//! overrides it), so tests and rehearsals point the same code at the in-process stand-in.
//! The token lives in a `Secret`; it is sent in one header and never formatted.
//!
//! Errors come in two families. A system that cannot be reached (connection refused,
//! timeouts, 5xx after retries, exhausted rate limit) is classified `exit::external`. An
//! answer GitHub did give (401/403/404/422) is a typed `GithubError` inside the anyhow chain,
//! so checks can branch on it with `err.downcast_ref::<GithubError>()`.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode, Url};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::exit;
use crate::secrets::Secret;

/// The User-Agent we send; GitHub rejects requests without one.
pub const USER_AGENT: &str = concat!("aisopsflow-xtask/", env!("CARGO_PKG_VERSION"));

/// The API version with the old dispatch behaviour (204 unless `return_run_details`).
pub const API_2022: &str = "2022-11-28";
/// The API version whose dispatch always answers 200 with the run id.
pub const API_2026: &str = "2026-03-10";

/// Largest page GitHub serves; fewer pages means fewer requests against the limit.
const PER_PAGE: u32 = 100;
/// A bound on pages followed, so a server that always sends `rel="next"` cannot loop us.
const MAX_PAGES: usize = 100;

/// An answer GitHub gave that we cannot use. Each variant's message names the endpoint, what
/// GitHub said, and the fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GithubError {
    /// 404: missing, or private and invisible to this token.
    NotFound { endpoint: String, message: String },
    /// 401: no valid credentials.
    Unauthorized { endpoint: String, message: String },
    /// 403 for a permission or scope the token lacks.
    Forbidden {
        endpoint: String,
        message: String,
        /// `X-Accepted-GitHub-Permissions`, e.g. `administration=read`.
        accepted_permissions: Option<String>,
        /// `X-Accepted-OAuth-Scopes`, e.g. `repo`.
        accepted_scopes: Option<String>,
        /// `X-OAuth-Scopes`: what a classic token has.
        token_scopes: Option<String>,
    },
    /// 403 because the feature needs a paid plan (private repository on GitHub Free).
    PlanLimit { endpoint: String, message: String },
    /// Primary limit exhausted (until `reset`, epoch seconds) or a secondary limit that did
    /// not clear within the retry budget.
    RateLimited {
        endpoint: String,
        secondary: bool,
        reset: Option<u64>,
    },
    /// 422 (or 409/400) with GitHub's explanation.
    Validation {
        endpoint: String,
        status: u16,
        message: String,
        /// `errors[].code` values, e.g. `already_exists`.
        codes: Vec<String>,
    },
    /// Any other status.
    Status {
        endpoint: String,
        status: u16,
        message: String,
    },
}

impl GithubError {
    pub fn endpoint(&self) -> &str {
        match self {
            GithubError::NotFound { endpoint, .. }
            | GithubError::Unauthorized { endpoint, .. }
            | GithubError::Forbidden { endpoint, .. }
            | GithubError::PlanLimit { endpoint, .. }
            | GithubError::RateLimited { endpoint, .. }
            | GithubError::Validation { endpoint, .. }
            | GithubError::Status { endpoint, .. } => endpoint,
        }
    }

    /// The permission or scope needed, as a phrase, when GitHub said which.
    pub fn needed(&self) -> Option<String> {
        match self {
            GithubError::Forbidden {
                accepted_permissions,
                accepted_scopes,
                ..
            } => needed_phrase(accepted_permissions.as_deref(), accepted_scopes.as_deref()),
            _ => None,
        }
    }

    /// Finds a `GithubError` anywhere in an anyhow chain.
    pub fn find(err: &anyhow::Error) -> Option<&GithubError> {
        // `downcast_ref` sees through `context` layers (where the client puts it); the chain
        // walk finds one wrapped as a source.
        err.downcast_ref::<GithubError>()
            .or_else(|| err.chain().find_map(|e| e.downcast_ref::<GithubError>()))
    }
}

fn needed_phrase(perms: Option<&str>, scopes: Option<&str>) -> Option<String> {
    let mut parts = Vec::new();
    if let Some(p) = perms.filter(|p| !p.trim().is_empty()) {
        parts.push(format!(
            "fine-grained permission {}",
            p.split(';').map(str::trim).collect::<Vec<_>>().join(" or ")
        ));
    }
    if let Some(s) = scopes.filter(|s| !s.trim().is_empty()) {
        parts.push(format!("classic token scope `{}`", s.trim()));
    }
    (!parts.is_empty()).then(|| parts.join(", or "))
}

impl fmt::Display for GithubError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GithubError::NotFound { endpoint, message } => write!(
                f,
                "{endpoint}: 404 {message}: GitHub answers 404 both for missing resources and for private ones the token cannot see; fix: check the name, and that the token can read the repository (classic scope `repo`, or a fine-grained token with access to it)"
            ),
            GithubError::Unauthorized { endpoint, message } => write!(
                f,
                "{endpoint}: 401 {message}: the GitHub token was rejected"
            ),
            GithubError::Forbidden {
                endpoint,
                message,
                token_scopes,
                ..
            } => {
                write!(f, "{endpoint}: 403 {message}")?;
                if let Some(need) = self.needed() {
                    write!(f, ": the token lacks {need}")?;
                }
                if let Some(has) = token_scopes {
                    write!(
                        f,
                        " (the token has scopes: {})",
                        if has.is_empty() { "none" } else { has }
                    )?;
                }
                write!(
                    f,
                    "; fix: use a token with that permission (admin settings need a repository admin's classic token with `repo`, or Administration: read)"
                )
            }
            GithubError::PlanLimit { endpoint, message } => write!(
                f,
                "{endpoint}: 403 {message}: this feature is unavailable on the repository's GitHub plan; fix: upgrade the plan (GitHub Team or Pro), or attest the setting manually"
            ),
            GithubError::RateLimited {
                endpoint,
                secondary,
                reset,
            } => {
                let which = if *secondary { "secondary" } else { "primary" };
                write!(f, "{endpoint}: GitHub {which} rate limit exceeded")?;
                if let Some(reset) = reset {
                    write!(f, " until {} (epoch {reset})", rfc3339(*reset))?;
                }
                Ok(())
            }
            GithubError::Validation {
                endpoint,
                status,
                message,
                codes,
            } => {
                write!(f, "{endpoint}: {status} {message}")?;
                if !codes.is_empty() {
                    write!(f, " ({})", codes.join(", "))?;
                }
                Ok(())
            }
            GithubError::Status {
                endpoint,
                status,
                message,
            } => write!(f, "{endpoint}: {status} {message}"),
        }
    }
}

impl std::error::Error for GithubError {}

/// The rate-limit headers of the last response.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RateLimit {
    pub limit: Option<u64>,
    pub remaining: Option<u64>,
    pub used: Option<u64>,
    pub reset: Option<u64>,
    pub resource: Option<String>,
}

impl RateLimit {
    fn from_headers(h: &HeaderMap) -> Option<RateLimit> {
        let num = |k: &str| header(h, k).and_then(|v| v.trim().parse::<u64>().ok());
        let rl = RateLimit {
            limit: num("x-ratelimit-limit"),
            remaining: num("x-ratelimit-remaining"),
            used: num("x-ratelimit-used"),
            reset: num("x-ratelimit-reset"),
            resource: header(h, "x-ratelimit-resource"),
        };
        (rl != RateLimit::default()).then_some(rl)
    }
}

/// Counters for reports and benchmarks.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    /// HTTP requests that got an answer (including retries and 304s).
    pub sent: u64,
    /// Answers that were 304 Not Modified (served from the ETag cache).
    pub not_modified: u64,
    /// Attempts repeated after a 5xx, a dropped connection or a rate limit.
    pub retries: u64,
    /// The rate-limit headers of the last answer.
    pub last_rate: Option<RateLimit>,
    /// GitHub's clock at the last answer (its `Date` header), epoch seconds.
    pub last_date: Option<u64>,
}

impl Stats {
    /// Requests that counted against the primary rate limit: 304s do not.
    pub fn counted(&self) -> u64 {
        self.sent - self.not_modified
    }
}

/// How hard to retry.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts per call, including the first.
    pub max_attempts: u32,
    /// First backoff after a 5xx or connection error; doubles each attempt.
    pub base_delay: Duration,
    /// The longest single wait we accept (a `Retry-After` or rate-limit reset further away
    /// than this fails with a message naming when to retry).
    pub max_wait: Duration,
    /// Per-request timeout.
    pub timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(500),
            max_wait: Duration::from_secs(120),
            timeout: Duration::from_secs(30),
        }
    }
}

struct Cached {
    etag: String,
    body: Bytes,
    link: Option<String>,
}

#[derive(Default)]
struct State {
    cache: HashMap<String, Cached>,
    stats: Stats,
}

/// Where the token came from, for messages (never the value).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenSource {
    Env(&'static str),
    GhCli,
    Explicit,
}

impl fmt::Display for TokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenSource::Env(name) => write!(f, "${name}"),
            TokenSource::GhCli => f.write_str("`gh auth token`"),
            TokenSource::Explicit => f.write_str("the caller"),
        }
    }
}

/// The environment variables that hold a GitHub token, in gh's order: `GH_TOKEN` wins over
/// `GITHUB_TOKEN` (`gh help environment`: "GH_TOKEN, GITHUB_TOKEN (in order of precedence)").
pub const TOKEN_VARS: [&str; 2] = ["GH_TOKEN", "GITHUB_TOKEN"];

/// Finds a token: `GH_TOKEN`, then `GITHUB_TOKEN`, then `gh auth token` when gh is installed.
pub async fn discover_token() -> Option<(Secret, TokenSource)> {
    for name in TOKEN_VARS {
        if let Ok(v) = std::env::var(name) {
            let v = v.trim().to_string();
            if !v.is_empty() {
                return Some((Secret::new(v), TokenSource::Env(name)));
            }
        }
    }
    let mut cmd = tokio::process::Command::new("gh");
    cmd.args(["auth", "token"])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true);
    // gh answers from its config file; a hung keyring must not hang preflight.
    let out = tokio::time::timeout(Duration::from_secs(10), cmd.output())
        .await
        .ok()?
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let v = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (!v.is_empty()).then(|| (Secret::new(v), TokenSource::GhCli))
}

/// Where every client records what GitHub answers, when `--record-github DIR` is given.
static RECORD_ALL: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();

/// Makes every client created from now on record GitHub's answers into `dir` (see
/// `Recorder`). Set once, by `cargo xtask preflight --record-github DIR`.
pub fn record_all_to(dir: &std::path::Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| {
        exit::usage(format!(
            "--record-github {}: cannot create the directory: {e}",
            dir.display()
        ))
    })?;
    let _ = RECORD_ALL.set(dir.to_path_buf());
    Ok(())
}

/// Saves each answer (status, a few headers, the body) as one JSON file, redacted: no request
/// headers at all (so no `Authorization`), only an allowlist of response headers, every
/// registered secret and anything shaped like a GitHub token replaced, and values under keys
/// that name secrets (`temp_clone_token`, `token`, `password`, ...) blanked. The files are
/// what a real run saw, for replay against the stand-in's tests.
#[derive(Debug)]
pub struct Recorder {
    dir: std::path::PathBuf,
    seq: std::sync::atomic::AtomicU64,
}

/// Response headers worth keeping: none of them carries a credential.
const RECORDED_HEADERS: [&str; 15] = [
    "content-type",
    "date",
    "etag",
    "link",
    "location",
    "retry-after",
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-used",
    "x-ratelimit-reset",
    "x-ratelimit-resource",
    "x-github-api-version-selected",
    "x-oauth-scopes",
    "x-accepted-oauth-scopes",
    "x-accepted-github-permissions",
];

impl Recorder {
    pub fn new(dir: impl Into<std::path::PathBuf>) -> anyhow::Result<Recorder> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir)
            .map_err(|e| exit::usage(format!("cannot create {}: {e}", dir.display())))?;
        // Continue numbering after what is there, so two clients never overwrite each other.
        let start = std::fs::read_dir(&dir)
            .map(|d| d.count() as u64)
            .unwrap_or(0);
        Ok(Recorder {
            dir,
            seq: std::sync::atomic::AtomicU64::new(start),
        })
    }

    fn record(&self, method: &Method, path: &str, status: u16, headers: &HeaderMap, body: &[u8]) {
        let n = self.seq.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
        let mut h = serde_json::Map::new();
        for k in RECORDED_HEADERS {
            if let Some(v) = header(headers, k) {
                h.insert(k.to_string(), serde_json::Value::String(redact_text(&v)));
            }
        }
        let body = if body.is_empty() {
            serde_json::Value::Null
        } else {
            match serde_json::from_slice::<serde_json::Value>(body) {
                Ok(v) => redact_value(v),
                Err(_) => serde_json::Value::String(redact_text(&String::from_utf8_lossy(body))),
            }
        };
        let doc = serde_json::json!({
            "method": method.as_str(),
            "path": redact_text(path),
            "status": status,
            "headers": h,
            "body": body,
        });
        let slug: String = path
            .split('?')
            .next()
            .unwrap_or("")
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .take(80)
            .collect();
        let file = self.dir.join(format!("{n:04}-{method}{slug}.json"));
        let text = serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n";
        // Recording must never break the run it records.
        let _ = crate::fsx::write_atomic(&file, text.as_bytes());
    }
}

/// Keys whose values are credentials wherever they appear.
fn secret_key(k: &str) -> bool {
    let k = k.to_ascii_lowercase();
    k.contains("token") || k.contains("secret") || k.contains("password") || k == "key"
}

fn redact_value(v: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match v {
        Value::String(s) => Value::String(redact_text(&s)),
        Value::Array(a) => Value::Array(a.into_iter().map(redact_value).collect()),
        Value::Object(o) => Value::Object(
            o.into_iter()
                .map(|(k, v)| {
                    let v = if secret_key(&k) && (v.is_string() || v.is_number()) {
                        Value::String("[REDACTED]".into())
                    } else {
                        redact_value(v)
                    };
                    (k, v)
                })
                .collect(),
        ),
        other => other,
    }
}

/// Registered secrets, and anything shaped like a GitHub token (`ghp_`, `gho_`, `ghu_`,
/// `ghs_`, `ghr_`, `github_pat_` prefixes), become `[REDACTED]`.
pub fn redact_text(s: &str) -> String {
    let s = crate::secrets::redact_all(s);
    let mut out = String::with_capacity(s.len());
    let mut rest = s.as_str();
    'outer: while !rest.is_empty() {
        for prefix in ["github_pat_", "ghp_", "gho_", "ghu_", "ghs_", "ghr_"] {
            if rest.starts_with(prefix) {
                let at_word_start = out
                    .chars()
                    .last()
                    .is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '_'));
                let tail = rest[prefix.len()..]
                    .bytes()
                    .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
                    .count();
                if at_word_start && tail >= 8 {
                    out.push_str("[REDACTED]");
                    rest = &rest[prefix.len() + tail..];
                    continue 'outer;
                }
            }
        }
        let c = rest.chars().next().expect("not empty");
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// The GitHub REST client.
pub struct Github {
    http: reqwest::Client,
    base: String,
    api_version: String,
    token: Option<Secret>,
    token_source: Option<TokenSource>,
    retry: RetryPolicy,
    state: Mutex<State>,
    recorder: Option<std::sync::Arc<Recorder>>,
}

impl fmt::Debug for Github {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Github")
            .field("base", &self.base)
            .field("api_version", &self.api_version)
            .field("token", &self.token)
            .field("token_source", &self.token_source)
            .finish_non_exhaustive()
    }
}

/// One answer, after retries and the cache.
struct Answer {
    body: Bytes,
    link: Option<String>,
    status: StatusCode,
    /// GitHub's clock: the answer's `Date` header, in epoch seconds.
    date: Option<u64>,
}

impl Github {
    /// A client for `base` (no trailing slash) sending `api_version`, with an optional token.
    pub fn new(
        base: impl Into<String>,
        api_version: impl Into<String>,
        token: Option<Secret>,
    ) -> anyhow::Result<Github> {
        let retry = RetryPolicy::default();
        let http = crate::effects::http::builder()
            .user_agent(USER_AGENT)
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| exit::external(format!("creating the GitHub HTTP client: {e}")))?;
        let token_source = token.as_ref().map(|_| TokenSource::Explicit);
        Ok(Github {
            http,
            base: base.into().trim_end_matches('/').to_string(),
            api_version: api_version.into(),
            token,
            token_source,
            retry,
            state: Mutex::new(State::default()),
            recorder: match RECORD_ALL.get() {
                Some(dir) => Some(std::sync::Arc::new(Recorder::new(dir.clone())?)),
                None => None,
            },
        })
    }

    /// Records every answer this client gets into `dir` (see `Recorder`).
    pub fn with_recorder(mut self, dir: impl Into<std::path::PathBuf>) -> anyhow::Result<Github> {
        self.recorder = Some(std::sync::Arc::new(Recorder::new(dir)?));
        Ok(self)
    }

    /// The client for the configured API (honouring `GITHUB_API_URL`), with a discovered token.
    pub async fn from_config(config: &Config) -> anyhow::Result<Github> {
        let found = discover_token().await;
        let mut gh = Github::new(
            config.github_api(),
            config.raw.api.github_api_version.clone(),
            found.as_ref().map(|(s, _)| s.clone()),
        )?;
        gh.token_source = found.map(|(_, src)| src);
        Ok(gh)
    }

    pub fn with_retry(mut self, retry: RetryPolicy) -> Github {
        self.retry = retry;
        self
    }

    /// The same client speaking another API version (e.g. `API_2026` for dispatch).
    pub fn with_api_version(mut self, version: impl Into<String>) -> Github {
        self.api_version = version.into();
        self
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }
    pub fn api_version(&self) -> &str {
        &self.api_version
    }
    pub fn has_token(&self) -> bool {
        self.token.is_some()
    }
    pub fn token_source(&self) -> Option<TokenSource> {
        self.token_source
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> Stats {
        self.lock().stats.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn url(&self, path_or_url: &str) -> anyhow::Result<Url> {
        let s = if path_or_url.starts_with("http://") || path_or_url.starts_with("https://") {
            path_or_url.to_string()
        } else {
            format!("{}{}", self.base, path_or_url)
        };
        Url::parse(&s).map_err(|e| {
            exit::usage(format!(
                "`{s}` is not a valid GitHub API URL: {e}; fix api.github in release.toml or GITHUB_API_URL"
            ))
        })
    }

    /// The endpoint as people read it: the method and the path relative to the base.
    fn endpoint(&self, method: &Method, url: &Url) -> String {
        let full = url.as_str();
        let rel = full.strip_prefix(self.base.as_str()).unwrap_or(full);
        format!("{method} {rel}")
    }

    /// Sends one request with retries; GETs go through the ETag cache.
    async fn call(
        &self,
        method: Method,
        path_or_url: &str,
        body: Option<&serde_json::Value>,
    ) -> anyhow::Result<Answer> {
        let url = self.url(path_or_url)?;
        let endpoint = self.endpoint(&method, &url);
        let key = url.as_str().to_string();
        let is_get = method == Method::GET;
        // A POST that reached GitHub may have taken effect (a dispatch, a tag), so it is
        // repeated only when it surely did not: the connection was never made, or a rate
        // limit refused it. Callers make their steps idempotent for the rest.
        let idempotent = is_get || method == Method::HEAD;
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            let last = attempt >= self.retry.max_attempts.max(1);
            let mut req = self
                .http
                .request(method.clone(), url.clone())
                .timeout(self.retry.timeout)
                .header("accept", "application/vnd.github+json")
                .header("x-github-api-version", self.api_version.as_str());
            // The token goes to the configured API origin only, whatever URL an answer named.
            if let Some(token) = self
                .token
                .as_ref()
                .filter(|_| same_origin(url.as_str(), &self.base))
            {
                let mut v = HeaderValue::from_str(&format!("Bearer {}", token.expose()))
                    .map_err(|_| {
                        exit::usage(
                            "the GitHub token contains characters that cannot be sent in a header; fix: set GITHUB_TOKEN to the token alone",
                        )
                    })?;
                v.set_sensitive(true);
                req = req.header("authorization", v);
            }
            if is_get && let Some(c) = self.lock().cache.get(&key) {
                req = req.header("if-none-match", c.etag.as_str());
            }
            if let Some(b) = body {
                req = req.json(b);
            }
            let resp = match req.send().await {
                Ok(r) => r,
                Err(e) => {
                    if !last && (idempotent || e.is_connect()) {
                        self.backoff(attempt, None).await;
                        continue;
                    }
                    return Err(unreachable_error(&endpoint, &self.base, &e, attempt));
                }
            };
            let status = resp.status();
            let headers = resp.headers().clone();
            let rate = RateLimit::from_headers(&headers);
            let date = header(&headers, "date").and_then(|d| parse_http_date(&d));
            let bytes = match resp.bytes().await {
                Ok(b) => b,
                Err(e) => {
                    if !last && idempotent {
                        self.backoff(attempt, None).await;
                        continue;
                    }
                    return Err(unreachable_error(&endpoint, &self.base, &e, attempt));
                }
            };
            if let Some(r) = &self.recorder {
                let rel = url
                    .as_str()
                    .strip_prefix(self.base.as_str())
                    .unwrap_or(url.path());
                r.record(&method, rel, status.as_u16(), &headers, &bytes);
            }
            {
                let mut st = self.lock();
                st.stats.sent += 1;
                if rate.is_some() {
                    st.stats.last_rate = rate.clone();
                }
                if date.is_some() {
                    st.stats.last_date = date;
                }
            }
            if status == StatusCode::NOT_MODIFIED {
                let mut st = self.lock();
                st.stats.not_modified += 1;
                if let Some(c) = st.cache.get(&key) {
                    return Ok(Answer {
                        body: c.body.clone(),
                        link: c.link.clone(),
                        status: StatusCode::OK,
                        date,
                    });
                }
                // A 304 we did not ask for: drop to a plain request next time.
                drop(st);
                if !last {
                    continue;
                }
                return Err(exit::external(format!(
                    "{endpoint}: 304 Not Modified without a cached copy"
                )));
            }
            if status.is_success() {
                let link = header(&headers, "link");
                if is_get && let Some(etag) = header(&headers, "etag") {
                    self.lock().cache.insert(
                        key.clone(),
                        Cached {
                            etag,
                            body: bytes.clone(),
                            link: link.clone(),
                        },
                    );
                }
                return Ok(Answer {
                    body: bytes,
                    link,
                    status,
                    date,
                });
            }
            let now = now_epoch();
            let retry_after =
                header(&headers, "retry-after").and_then(|v| v.trim().parse::<u64>().ok());
            let msg = error_message(&bytes);
            if status == StatusCode::FORBIDDEN || status == StatusCode::TOO_MANY_REQUESTS {
                let remaining = rate.as_ref().and_then(|r| r.remaining);
                let reset = rate.as_ref().and_then(|r| r.reset);
                let primary = remaining == Some(0) && retry_after.is_none();
                let secondary = !primary
                    && (retry_after.is_some()
                        || status == StatusCode::TOO_MANY_REQUESTS
                        || msg.to_ascii_lowercase().contains("secondary rate limit"));
                if primary || secondary {
                    let wait = if primary {
                        // Primary exhaustion: never before the reset.
                        reset.map(|r| r.saturating_sub(now) + 1).unwrap_or(60)
                    } else if let Some(s) = retry_after {
                        s
                    } else if remaining == Some(0) {
                        reset.map(|r| r.saturating_sub(now) + 1).unwrap_or(60)
                    } else {
                        60u64.saturating_mul(1 << (attempt - 1).min(4))
                    };
                    let wait = Duration::from_secs(wait);
                    if !last && wait <= self.retry.max_wait {
                        self.lock().stats.retries += 1;
                        tokio::time::sleep(wait).await;
                        continue;
                    }
                    let ge = GithubError::RateLimited {
                        endpoint: endpoint.clone(),
                        secondary,
                        reset: if primary || retry_after.is_none() {
                            reset
                        } else {
                            // A hostile or broken `Retry-After` (u64::MAX) must not overflow.
                            Some(now.saturating_add(retry_after.unwrap_or(0)))
                        },
                    };
                    // The classified root carries the fix, the context the details.
                    let when = match &ge {
                        GithubError::RateLimited { reset: Some(r), .. } => rfc3339(*r),
                        _ => "a few minutes".to_string(),
                    };
                    return Err(exit::external(format!(
                        "fix: retry after {when}, or use a token with a higher limit"
                    ))
                    .context(ge));
                }
            }
            if status.is_server_error() {
                if !last && idempotent {
                    self.backoff(attempt, retry_after).await;
                    continue;
                }
                let ge = GithubError::Status {
                    endpoint: endpoint.clone(),
                    status: status.as_u16(),
                    message: msg,
                };
                return Err(exit::external(format!(
                    "GitHub kept failing after {attempt} attempts; fix: retry later (https://www.githubstatus.com)"
                ))
                .context(ge));
            }
            return Err(classify(&endpoint, status, &headers, &bytes, msg));
        }
    }

    async fn backoff(&self, attempt: u32, retry_after: Option<u64>) {
        self.lock().stats.retries += 1;
        let exp = self
            .retry
            .base_delay
            .saturating_mul(1 << (attempt - 1).min(6));
        let wait = match retry_after {
            Some(s) => Duration::from_secs(s).min(self.retry.max_wait),
            None => exp.min(self.retry.max_wait),
        };
        tokio::time::sleep(wait).await;
    }

    async fn get_json<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        let a = self.call(Method::GET, path, None).await?;
        decode(&a.body, path)
    }

    /// Follows `Link: rel="next"` from `path`, collecting items. `key` names the array in a
    /// wrapped list (`workflow_runs`, `jobs`); `None` for a bare array.
    async fn get_paged<T: DeserializeOwned>(
        &self,
        path: &str,
        key: Option<&str>,
    ) -> anyhow::Result<Vec<T>> {
        self.get_paged_with(path, key, true).await
    }

    /// `get_paged`, adding `per_page` only when the operation declares it (`add_per_page`).
    async fn get_paged_with<T: DeserializeOwned>(
        &self,
        path: &str,
        key: Option<&str>,
        add_per_page: bool,
    ) -> anyhow::Result<Vec<T>> {
        let mut url = self.url(path)?;
        if add_per_page && !url.query_pairs().any(|(k, _)| k == "per_page") {
            url.query_pairs_mut()
                .append_pair("per_page", &PER_PAGE.to_string());
        }
        let mut next = Some(url.to_string());
        let mut out = Vec::new();
        let mut pages = 0;
        while let Some(u) = next.take() {
            pages += 1;
            if pages > MAX_PAGES {
                return Err(exit::external(format!(
                    "GET {path}: more than {MAX_PAGES} pages; narrow the query"
                )));
            }
            // A `Link` to another origin would carry the token there; GitHub never sends one.
            if pages > 1 && !same_origin(&u, &self.base) {
                return Err(exit::external(format!(
                    "GET {path}: the answer's Link header points at another origin ({u}); refusing to send the token there; fix: check GITHUB_API_URL points at a GitHub REST API"
                )));
            }
            let a = self.call(Method::GET, &u, None).await?;
            let items: Vec<T> = match key {
                None => decode(&a.body, path)?,
                Some(k) => {
                    let mut v: serde_json::Value = decode(&a.body, path)?;
                    let arr = v.get_mut(k).map(serde_json::Value::take).ok_or_else(|| {
                        exit::external(format!("GET {path}: the answer has no `{k}` list"))
                    })?;
                    serde_json::from_value(arr).map_err(|e| {
                        exit::external(format!("GET {path}: unexpected `{k}` items: {e}"))
                    })?
                }
            };
            out.extend(items);
            next = a.link.as_deref().and_then(link_next);
        }
        Ok(out)
    }

    async fn send_json<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: &serde_json::Value,
    ) -> anyhow::Result<(StatusCode, Option<T>)> {
        let a = self.call(method, path, Some(body)).await?;
        if a.body.is_empty() {
            return Ok((a.status, None));
        }
        Ok((a.status, Some(decode(&a.body, path)?)))
    }

    fn repo_path(owner: &str, repo: &str) -> String {
        format!("/repos/{}/{}", enc(owner), enc(repo))
    }

    /// GitHub's clock now: the `Date` header of a fresh answer about the repository (a 304
    /// carries one too, and costs nothing against the limit). `None` when the answer has no
    /// usable `Date` (a proxy may strip it).
    pub async fn server_time(&self, owner: &str, repo: &str) -> anyhow::Result<Option<u64>> {
        Ok(self
            .call(Method::GET, &Self::repo_path(owner, repo), None)
            .await?
            .date)
    }

    // --- 2. repository ---

    pub async fn repo(&self, owner: &str, repo: &str) -> anyhow::Result<Repo> {
        self.get_json(&Self::repo_path(owner, repo)).await
    }

    // --- 3. branch protection and branch rules ---

    /// Classic protection; `Ok(None)` for 404 "Branch not protected".
    pub async fn branch_protection(
        &self,
        owner: &str,
        repo: &str,
        branch: &str,
    ) -> anyhow::Result<Option<BranchProtection>> {
        let path = format!(
            "{}/branches/{}/protection",
            Self::repo_path(owner, repo),
            enc(branch)
        );
        match self.get_json(&path).await {
            Ok(p) => Ok(Some(p)),
            Err(e) => match GithubError::find(&e) {
                Some(GithubError::NotFound { message, .. })
                    if message.eq_ignore_ascii_case("Branch not protected") =>
                {
                    Ok(None)
                }
                _ => Err(e),
            },
        }
    }

    /// Active ruleset rules applying to a branch (3b).
    pub async fn branch_rules(
        &self,
        owner: &str,
        repo: &str,
        branch: &str,
    ) -> anyhow::Result<Vec<BranchRule>> {
        let path = format!(
            "{}/rules/branches/{}",
            Self::repo_path(owner, repo),
            enc(branch)
        );
        self.get_paged(&path, None).await
    }

    // --- 4. rulesets ---

    pub async fn rulesets(&self, owner: &str, repo: &str) -> anyhow::Result<Vec<RulesetSummary>> {
        let path = format!(
            "{}/rulesets?includes_parents=true",
            Self::repo_path(owner, repo)
        );
        self.get_paged(&path, None).await
    }

    pub async fn ruleset(&self, owner: &str, repo: &str, id: u64) -> anyhow::Result<Ruleset> {
        self.get_json(&format!("{}/rulesets/{id}", Self::repo_path(owner, repo)))
            .await
    }

    /// A team's numeric id (ruleset bypass actors name teams by id).
    pub async fn team_id(&self, org: &str, slug: &str) -> anyhow::Result<u64> {
        let t: IdOnly = self
            .get_json(&format!("/orgs/{}/teams/{}", enc(org), enc(slug)))
            .await?;
        Ok(t.id)
    }

    /// Teams with access to the repository (needs only `repo`, where the organisation's team
    /// endpoint needs `read:org`).
    pub async fn repo_teams(&self, owner: &str, repo: &str) -> anyhow::Result<Vec<TeamSummary>> {
        self.get_paged(&format!("{}/teams", Self::repo_path(owner, repo)), None)
            .await
    }

    /// A user's numeric id.
    pub async fn user_id(&self, login: &str) -> anyhow::Result<u64> {
        let u: IdOnly = self.get_json(&format!("/users/{}", enc(login))).await?;
        Ok(u.id)
    }

    // --- 5, 6. actions permissions ---

    pub async fn actions_permissions(
        &self,
        owner: &str,
        repo: &str,
    ) -> anyhow::Result<ActionsPermissions> {
        self.get_json(&format!(
            "{}/actions/permissions",
            Self::repo_path(owner, repo)
        ))
        .await
    }

    /// The `selected` actions policy (when `allowed_actions` is `selected`).
    pub async fn selected_actions(
        &self,
        owner: &str,
        repo: &str,
    ) -> anyhow::Result<SelectedActions> {
        self.get_json(&format!(
            "{}/actions/permissions/selected-actions",
            Self::repo_path(owner, repo)
        ))
        .await
    }

    pub async fn workflow_permissions(
        &self,
        owner: &str,
        repo: &str,
    ) -> anyhow::Result<WorkflowPermissions> {
        self.get_json(&format!(
            "{}/actions/permissions/workflow",
            Self::repo_path(owner, repo)
        ))
        .await
    }

    // --- 7. workflow runs ---

    /// Runs of a workflow (id or file name), newest first, all pages.
    pub async fn workflow_runs(
        &self,
        owner: &str,
        repo: &str,
        workflow: &str,
        filter: &RunFilter,
    ) -> anyhow::Result<Vec<WorkflowRun>> {
        let path = format!(
            "{}/actions/workflows/{}/runs{}",
            Self::repo_path(owner, repo),
            enc(workflow),
            filter.query()
        );
        self.get_paged(&path, Some("workflow_runs")).await
    }

    /// One page of runs only (what a poll loop wants: the newest few, cheaply via ETag).
    pub async fn workflow_runs_first_page(
        &self,
        owner: &str,
        repo: &str,
        workflow: &str,
        filter: &RunFilter,
    ) -> anyhow::Result<Vec<WorkflowRun>> {
        let path = format!(
            "{}/actions/workflows/{}/runs{}",
            Self::repo_path(owner, repo),
            enc(workflow),
            filter.query()
        );
        let list: RunList = self.get_json(&path).await?;
        Ok(list.workflow_runs)
    }

    pub async fn workflow_run(
        &self,
        owner: &str,
        repo: &str,
        id: u64,
    ) -> anyhow::Result<WorkflowRun> {
        self.get_json(&format!(
            "{}/actions/runs/{id}",
            Self::repo_path(owner, repo)
        ))
        .await
    }

    pub async fn run_jobs(&self, owner: &str, repo: &str, id: u64) -> anyhow::Result<Vec<Job>> {
        self.get_paged(
            &format!("{}/actions/runs/{id}/jobs", Self::repo_path(owner, repo)),
            Some("jobs"),
        )
        .await
    }

    // --- 8. dispatch ---

    /// Dispatches a workflow. Under `API_2026` (or with `return_run_details` under
    /// `API_2022`) the answer names the run; otherwise it is `None` and the caller finds the
    /// run through the runs list.
    pub async fn dispatch(
        &self,
        owner: &str,
        repo: &str,
        workflow: &str,
        git_ref: &str,
        inputs: &serde_json::Map<String, serde_json::Value>,
        return_run_details: bool,
    ) -> anyhow::Result<Option<DispatchedRun>> {
        let path = format!(
            "{}/actions/workflows/{}/dispatches",
            Self::repo_path(owner, repo),
            enc(workflow)
        );
        let mut body = serde_json::json!({"ref": git_ref, "inputs": inputs});
        // The field was removed in 2026-03-10 (always 200 there); older servers reject it.
        if return_run_details && self.api_version == API_2022 {
            body["return_run_details"] = serde_json::Value::Bool(true);
        }
        let (_, run) = self.send_json(Method::POST, &path, &body).await?;
        Ok(run)
    }

    // --- 9. packages ---

    /// The organisation's packages of a type (`container`), all pages.
    pub async fn org_packages(
        &self,
        org: &str,
        package_type: &str,
    ) -> anyhow::Result<Vec<Package>> {
        self.get_paged(
            &format!(
                "/orgs/{}/packages?package_type={}",
                enc(org),
                enc(package_type)
            ),
            None,
        )
        .await
    }

    /// One package; `name` is percent-encoded here (`app/worker` → `app%2Fworker`).
    pub async fn org_package(
        &self,
        org: &str,
        package_type: &str,
        name: &str,
    ) -> anyhow::Result<Package> {
        self.get_json(&format!(
            "/orgs/{}/packages/{}/{}",
            enc(org),
            enc(package_type),
            enc(name)
        ))
        .await
    }

    pub async fn org_package_versions(
        &self,
        org: &str,
        package_type: &str,
        name: &str,
    ) -> anyhow::Result<Vec<PackageVersion>> {
        self.get_paged(
            &format!(
                "/orgs/{}/packages/{}/{}/versions",
                enc(org),
                enc(package_type),
                enc(name)
            ),
            None,
        )
        .await
    }

    // --- 10. releases ---

    pub async fn create_release(
        &self,
        owner: &str,
        repo: &str,
        new: &NewRelease,
    ) -> anyhow::Result<Release> {
        let body = serde_json::to_value(new)?;
        let (_, rel) = self
            .send_json(
                Method::POST,
                &format!("{}/releases", Self::repo_path(owner, repo)),
                &body,
            )
            .await?;
        rel.ok_or_else(|| exit::external("POST releases: empty answer"))
    }

    /// The published release for a tag; `Ok(None)` when there is none (drafts are invisible).
    pub async fn release_by_tag(
        &self,
        owner: &str,
        repo: &str,
        tag: &str,
    ) -> anyhow::Result<Option<Release>> {
        let path = format!(
            "{}/releases/tags/{}",
            Self::repo_path(owner, repo),
            enc(tag)
        );
        not_found_is_none(self.get_json(&path).await)
    }

    // --- 11. git refs ---

    /// An exact ref such as `tags/v1.2.3`; `Ok(None)` if missing.
    pub async fn git_ref(
        &self,
        owner: &str,
        repo: &str,
        r: &str,
    ) -> anyhow::Result<Option<GitRef>> {
        let path = format!("{}/git/ref/{}", Self::repo_path(owner, repo), enc_ref(r));
        not_found_is_none(self.get_json(&path).await)
    }

    /// Refs starting with `prefix` (e.g. `tags/v1.2`); filter for exact matches yourself.
    pub async fn matching_refs(
        &self,
        owner: &str,
        repo: &str,
        prefix: &str,
    ) -> anyhow::Result<Vec<GitRef>> {
        let path = format!(
            "{}/git/matching-refs/{}",
            Self::repo_path(owner, repo),
            enc_ref(prefix)
        );
        // The operation declares no query parameters (no `per_page`); it still sends `Link`.
        self.get_paged_with(&path, None, false).await
    }

    /// An annotated tag object, to peel it to its commit.
    pub async fn tag_object(
        &self,
        owner: &str,
        repo: &str,
        sha: &str,
    ) -> anyhow::Result<TagObject> {
        self.get_json(&format!(
            "{}/git/tags/{}",
            Self::repo_path(owner, repo),
            enc(sha)
        ))
        .await
    }

    /// Creates `refs/tags/...` pointing at `sha`.
    pub async fn create_ref(
        &self,
        owner: &str,
        repo: &str,
        full_ref: &str,
        sha: &str,
    ) -> anyhow::Result<GitRef> {
        let body = serde_json::json!({"ref": full_ref, "sha": sha});
        let (_, r) = self
            .send_json(
                Method::POST,
                &format!("{}/git/refs", Self::repo_path(owner, repo)),
                &body,
            )
            .await?;
        r.ok_or_else(|| exit::external("POST git/refs: empty answer"))
    }
}

fn not_found_is_none<T>(r: anyhow::Result<T>) -> anyhow::Result<Option<T>> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if matches!(GithubError::find(&e), Some(GithubError::NotFound { .. })) => Ok(None),
        Err(e) => Err(e),
    }
}

fn unreachable_error(
    endpoint: &str,
    base: &str,
    e: &reqwest::Error,
    attempts: u32,
) -> anyhow::Error {
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "connection failed"
    };
    // reqwest's message may carry the URL but never headers, so the token cannot leak here.
    exit::external(format!(
        "{endpoint}: GitHub API at {base} {what} after {attempts} attempts: {e}; fix: check the network, or GITHUB_API_URL / api.github in release.toml"
    ))
}

fn classify(
    endpoint: &str,
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    msg: String,
) -> anyhow::Error {
    let endpoint = endpoint.to_string();
    let ge = match status.as_u16() {
        401 => {
            let ge = GithubError::Unauthorized {
                endpoint,
                message: msg,
            };
            return exit::usage("fix: run `gh auth login` or set GITHUB_TOKEN to a valid token")
                .context(ge);
        }
        403 if msg.contains("Upgrade to GitHub Pro") || msg.contains("to enable this feature") => {
            GithubError::PlanLimit {
                endpoint,
                message: msg,
            }
        }
        403 => GithubError::Forbidden {
            endpoint,
            message: msg,
            accepted_permissions: header(headers, "x-accepted-github-permissions"),
            accepted_scopes: header(headers, "x-accepted-oauth-scopes"),
            token_scopes: header(headers, "x-oauth-scopes"),
        },
        404 => GithubError::NotFound {
            endpoint,
            message: msg,
        },
        400 | 409 | 410 | 422 => {
            let codes = serde_json::from_slice::<serde_json::Value>(body)
                .ok()
                .and_then(|v| v.get("errors").and_then(|e| e.as_array()).cloned())
                .unwrap_or_default()
                .iter()
                .filter_map(|e| e.get("code").and_then(|c| c.as_str()).map(str::to_string))
                .collect();
            GithubError::Validation {
                endpoint,
                status: status.as_u16(),
                message: msg,
                codes,
            }
        }
        s => GithubError::Status {
            endpoint,
            status: s,
            message: msg,
        },
    };
    anyhow::Error::new(ge)
}

fn error_message(body: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            v.get("message")
                .and_then(|m| m.as_str())
                .map(str::to_string)
        })
        .unwrap_or_else(|| {
            let s = String::from_utf8_lossy(body);
            let s = s.trim();
            if s.is_empty() {
                "(no message)".to_string()
            } else {
                s.chars().take(200).collect()
            }
        })
}

fn decode<T: DeserializeOwned>(body: &[u8], path: &str) -> anyhow::Result<T> {
    serde_json::from_slice(body).map_err(|e| {
        exit::external(format!(
            "GET {path}: GitHub answered JSON we cannot read: {e}; fix: check GITHUB_API_URL points at a GitHub REST API"
        ))
    })
}

fn header(h: &HeaderMap, k: &str) -> Option<String> {
    h.get(k).and_then(|v| v.to_str().ok()).map(str::to_string)
}

/// Whether two URLs share scheme, host and port.
fn same_origin(a: &str, b: &str) -> bool {
    match (Url::parse(a), Url::parse(b)) {
        (Ok(a), Ok(b)) => a.origin() == b.origin(),
        _ => false,
    }
}

/// The `rel="next"` URL of an RFC 5988 `Link` header.
pub fn link_next(link: &str) -> Option<String> {
    let mut rest = link;
    while let Some(start) = rest.find('<') {
        let end = rest[start..].find('>')? + start;
        let url = &rest[start + 1..end];
        let after = &rest[end + 1..];
        let params_end = after.find('<').unwrap_or(after.len());
        let params = &after[..params_end];
        if params.split(';').any(|p| {
            matches!(
                p.trim().trim_end_matches(',').trim(),
                "rel=\"next\"" | "rel=next"
            )
        }) {
            return Some(url.to_string());
        }
        rest = &after[params_end..];
    }
    None
}

/// Percent-encodes a path segment (everything but RFC 3986 unreserved characters).
pub fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A git ref path keeps its documented literal slashes (`tags/v1.2.3`); each part is encoded.
fn enc_ref(r: &str) -> String {
    r.trim_start_matches("refs/")
        .split('/')
        .map(enc)
        .collect::<Vec<_>>()
        .join("/")
}

pub fn now_epoch() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Epoch seconds as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn rfc3339(epoch: u64) -> String {
    let days = (epoch / 86_400) as i64;
    let secs = epoch % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        (secs / 60) % 60,
        secs % 60
    )
}

/// Parses an HTTP date in the IMF-fixdate form servers must send (RFC 9110 section 5.6.7),
/// `Sun, 06 Nov 1994 08:49:37 GMT`, to epoch seconds.
pub fn parse_http_date(s: &str) -> Option<u64> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let rest = s.trim().split_once(", ")?.1;
    let mut it = rest.split(' ');
    let day: u32 = it.next()?.parse().ok()?;
    let m = it.next()?;
    let mon = MONTHS.iter().position(|x| *x == m)? + 1;
    let year: u32 = it.next()?.parse().ok()?;
    let time = it.next()?;
    if it.next()? != "GMT" || it.next().is_some() || time.len() != 8 {
        return None;
    }
    parse_rfc3339(&format!("{year:04}-{mon:02}-{day:02}T{time}Z"))
}

/// Parses `YYYY-MM-DD` or `YYYY-MM-DDTHH:MM:SSZ` to epoch seconds.
pub fn parse_rfc3339(s: &str) -> Option<u64> {
    let s = s.trim();
    let (date, time) = match s.split_once('T') {
        Some((d, t)) => (d, Some(t.trim_end_matches('Z'))),
        None => (s, None),
    };
    let mut it = date.split('-');
    let y: i64 = it.next()?.parse().ok()?;
    let m: u32 = it.next()?.parse().ok()?;
    let d: u32 = it.next()?.parse().ok()?;
    // Bounded fields: a hostile date (`08:-0102601111…`, year 10^17) must not overflow.
    if it.next().is_some()
        || !(1..=12).contains(&m)
        || !(1..=31).contains(&d)
        || !(0..=9999).contains(&y)
    {
        return None;
    }
    let mut secs = days_from_civil(y, m, d) * 86_400;
    if let Some(t) = time {
        let mut it = t.split(':');
        let h: i64 = it.next()?.parse().ok()?;
        let mi: i64 = it.next()?.parse().ok()?;
        let se: i64 = it.next().unwrap_or("0").split('.').next()?.parse().ok()?;
        if !(0..=23).contains(&h) || !(0..=59).contains(&mi) || !(0..=60).contains(&se) {
            return None;
        }
        secs += h * 3600 + mi * 60 + se;
    }
    u64::try_from(secs).ok()
}

// Howard Hinnant's civil-date algorithms.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

// --- Response types: only the fields we read. ---

#[derive(Debug, Clone, Deserialize)]
struct IdOnly {
    id: u64,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct Owner {
    pub login: String,
    #[serde(rename = "type", default)]
    pub kind: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct RepoPermissions {
    pub admin: bool,
    #[serde(default)]
    pub maintain: bool,
    pub push: bool,
    pub pull: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct Repo {
    pub id: u64,
    pub full_name: String,
    pub private: bool,
    #[serde(default)]
    pub visibility: Option<String>,
    pub default_branch: String,
    #[serde(default)]
    pub archived: bool,
    pub owner: Owner,
    #[serde(default)]
    pub permissions: Option<RepoPermissions>,
    #[serde(default)]
    pub html_url: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct Enabled {
    pub enabled: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct BranchProtection {
    #[serde(default)]
    pub required_pull_request_reviews: Option<serde_json::Value>,
    #[serde(default)]
    pub required_status_checks: Option<serde_json::Value>,
    #[serde(default)]
    pub enforce_admins: Option<Enabled>,
    /// `{enabled}` with nothing required (`branch-protection`): `{}` is valid.
    #[serde(default)]
    pub allow_force_pushes: Option<MaybeEnabled>,
    #[serde(default)]
    pub allow_deletions: Option<MaybeEnabled>,
}

/// An `{enabled: boolean}` object whose `enabled` the description does not require.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
pub struct MaybeEnabled {
    #[serde(default)]
    pub enabled: Option<bool>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct BranchRule {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub parameters: Option<serde_json::Value>,
    #[serde(default)]
    pub ruleset_source_type: Option<String>,
    #[serde(default)]
    pub ruleset_source: Option<String>,
    #[serde(default)]
    pub ruleset_id: Option<u64>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct RulesetSummary {
    pub id: u64,
    pub name: String,
    #[serde(default)]
    pub target: Option<String>,
    #[serde(default)]
    pub source_type: Option<String>,
    #[serde(default)]
    pub source: Option<String>,
    pub enforcement: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct BypassActor {
    #[serde(default)]
    pub actor_id: Option<u64>,
    pub actor_type: String,
    #[serde(default)]
    pub bypass_mode: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
pub struct RefNameCondition {
    #[serde(default)]
    pub include: Vec<String>,
    #[serde(default)]
    pub exclude: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
pub struct Conditions {
    #[serde(default)]
    pub ref_name: Option<RefNameCondition>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct Rule {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct Ruleset {
    pub id: u64,
    pub name: String,
    #[serde(default)]
    pub target: Option<String>,
    #[serde(default)]
    pub source_type: Option<String>,
    #[serde(default)]
    pub source: Option<String>,
    pub enforcement: String,
    /// `None` means "not visible to this token", not "nobody".
    #[serde(default)]
    pub bypass_actors: Option<Vec<BypassActor>>,
    #[serde(default)]
    pub current_user_can_bypass: Option<String>,
    #[serde(default)]
    pub conditions: Option<Conditions>,
    #[serde(default)]
    pub rules: Vec<Rule>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct ActionsPermissions {
    pub enabled: bool,
    #[serde(default)]
    pub allowed_actions: Option<String>,
    #[serde(default)]
    pub selected_actions_url: Option<String>,
    #[serde(default)]
    pub sha_pinning_required: Option<bool>,
}

/// The `selected` policy (`selected-actions`): nothing in it is required.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
pub struct SelectedActions {
    #[serde(default)]
    pub github_owned_allowed: bool,
    #[serde(default)]
    pub verified_allowed: bool,
    #[serde(default)]
    pub patterns_allowed: Vec<String>,
}

/// A team as `repos/list-teams` lists it: only what a ruleset bypass actor needs.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct TeamSummary {
    pub id: u64,
    pub slug: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct WorkflowPermissions {
    pub default_workflow_permissions: String,
    pub can_approve_pull_request_reviews: bool,
}

/// Filters of the workflow-runs list (7a).
#[derive(Debug, Clone, Default)]
pub struct RunFilter {
    pub event: Option<String>,
    pub branch: Option<String>,
    pub head_sha: Option<String>,
    pub status: Option<String>,
    /// Search syntax: `>=2024-05-01T10:00:00Z` or `A..B`.
    pub created: Option<String>,
    pub actor: Option<String>,
    pub per_page: Option<u32>,
}

impl RunFilter {
    fn query(&self) -> String {
        let mut url = Url::parse("http://x/").expect("static url");
        {
            let mut q = url.query_pairs_mut();
            for (k, v) in [
                ("event", &self.event),
                ("branch", &self.branch),
                ("head_sha", &self.head_sha),
                ("status", &self.status),
                ("created", &self.created),
                ("actor", &self.actor),
            ] {
                if let Some(v) = v {
                    q.append_pair(k, v);
                }
            }
            if let Some(n) = self.per_page {
                q.append_pair("per_page", &n.to_string());
            }
        }
        match url.query() {
            Some(q) if !q.is_empty() => format!("?{q}"),
            _ => String::new(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
struct RunList {
    #[allow(dead_code)]
    total_count: u64,
    workflow_runs: Vec<WorkflowRun>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct WorkflowRun {
    pub id: u64,
    #[serde(default)]
    pub name: Option<String>,
    pub workflow_id: u64,
    #[serde(default)]
    pub path: Option<String>,
    pub event: String,
    #[serde(default)]
    pub head_branch: Option<String>,
    pub head_sha: String,
    #[serde(default)]
    pub run_number: u64,
    #[serde(default)]
    pub run_attempt: Option<u64>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub conclusion: Option<String>,
    #[serde(default)]
    pub html_url: String,
    #[serde(default)]
    pub created_at: String,
    #[serde(default)]
    pub updated_at: String,
    #[serde(default)]
    pub display_title: Option<String>,
}

impl WorkflowRun {
    pub fn is_completed(&self) -> bool {
        self.status.as_deref() == Some("completed")
    }
    pub fn succeeded(&self) -> bool {
        self.is_completed() && self.conclusion.as_deref() == Some("success")
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct Step {
    pub name: String,
    pub status: String,
    #[serde(default)]
    pub conclusion: Option<String>,
    pub number: u64,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct Job {
    pub id: u64,
    pub run_id: u64,
    pub name: String,
    pub status: String,
    #[serde(default)]
    pub conclusion: Option<String>,
    #[serde(default)]
    pub started_at: Option<String>,
    #[serde(default)]
    pub completed_at: Option<String>,
    #[serde(default)]
    pub html_url: Option<String>,
    #[serde(default)]
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct DispatchedRun {
    pub workflow_run_id: u64,
    pub run_url: String,
    pub html_url: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct MiniRepo {
    pub id: u64,
    pub full_name: String,
    #[serde(default)]
    pub private: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct Package {
    pub id: u64,
    pub name: String,
    pub package_type: String,
    pub visibility: String,
    #[serde(default)]
    pub html_url: String,
    #[serde(default)]
    pub version_count: u64,
    #[serde(default)]
    pub owner: Option<Owner>,
    #[serde(default)]
    pub repository: Option<MiniRepo>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
pub struct ContainerMetadata {
    #[serde(default)]
    pub tags: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
pub struct VersionMetadata {
    #[serde(default)]
    pub package_type: String,
    #[serde(default)]
    pub container: Option<ContainerMetadata>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct PackageVersion {
    pub id: u64,
    /// For containers: the manifest digest `sha256:...`.
    pub name: String,
    #[serde(default)]
    pub created_at: String,
    #[serde(default)]
    pub updated_at: String,
    #[serde(default)]
    pub metadata: Option<VersionMetadata>,
}

impl PackageVersion {
    pub fn tags(&self) -> &[String] {
        self.metadata
            .as_ref()
            .and_then(|m| m.container.as_ref())
            .map(|c| c.tags.as_slice())
            .unwrap_or(&[])
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct NewRelease {
    pub tag_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_commitish: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    pub draft: bool,
    pub prerelease: bool,
    /// `"true"`, `"false"` or `"legacy"` (a string, per the API).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub make_latest: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct Release {
    pub id: u64,
    pub tag_name: String,
    #[serde(default)]
    pub target_commitish: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub draft: bool,
    #[serde(default)]
    pub prerelease: bool,
    #[serde(default)]
    pub immutable: Option<bool>,
    #[serde(default)]
    pub html_url: String,
    #[serde(default)]
    pub published_at: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct GitObject {
    #[serde(rename = "type")]
    pub kind: String,
    pub sha: String,
    #[serde(default)]
    pub url: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct GitRef {
    #[serde(rename = "ref")]
    pub full_ref: String,
    #[serde(default)]
    pub url: String,
    pub object: GitObject,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct TagObject {
    pub tag: String,
    pub sha: String,
    #[serde(default)]
    pub message: String,
    pub object: GitObject,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Inputs the `link_header` fuzz target found (overflow panics in debug builds).
    #[test]
    fn hostile_dates_are_refused_not_overflowed() {
        for bad in [
            "2026-11-28T08:-0102601111111111111",
            "99999999999999999-01-01",
            "2026-11-28T99999999999999999:00:00Z",
            "2026-11-28T24:00:00Z",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
        assert_eq!(
            parse_rfc3339("2026-11-28T23:59:60Z").map(|t| t % 60),
            Some(0)
        );
    }

    #[test]
    fn link_next_finds_next_among_others() {
        let l = r#"<https://api.github.com/x?page=1&per_page=2>; rel="prev", <https://api.github.com/x?page=3&per_page=2>; rel="next", <https://api.github.com/x?page=9&per_page=2>; rel="last""#;
        assert_eq!(
            link_next(l).as_deref(),
            Some("https://api.github.com/x?page=3&per_page=2")
        );
        assert_eq!(link_next(r#"<https://a/x?page=1>; rel="prev""#), None);
    }

    #[test]
    fn encoding_and_dates() {
        assert_eq!(enc("app/worker"), "app%2Fworker");
        assert_eq!(enc_ref("refs/tags/v1.2.3"), "tags/v1.2.3");
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        let t = parse_rfc3339("2026-11-28T07:25:51Z").unwrap();
        assert_eq!(rfc3339(t), "2026-11-28T07:25:51Z");
        assert_eq!(parse_rfc3339("2024-02-29"), Some(1_709_164_800));
    }

    #[test]
    fn forbidden_names_the_permission() {
        let e = GithubError::Forbidden {
            endpoint: "GET /repos/a/b/actions/permissions".into(),
            message: "Resource not accessible by personal access token".into(),
            accepted_permissions: Some("administration=read".into()),
            accepted_scopes: Some("repo".into()),
            token_scopes: Some("read:packages".into()),
        };
        let s = e.to_string();
        assert!(
            s.contains("administration=read") && s.contains("`repo`"),
            "{s}"
        );
    }
}
