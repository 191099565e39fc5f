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
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode, Url};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::exit;
use crate::secrets::Secret;
use crate::time::{now_epoch, parse_http_date, rfc3339};

/// The User-Agent we send; GitHub rejects requests without one.
pub(crate) const USER_AGENT: &str = concat!("aisopsflow-xtask/", env!("CARGO_PKG_VERSION"));

/// The API version with the old dispatch behaviour (204 unless `return_run_details`).
pub const API_2022: &str = "2022-11-28";
/// The API version whose dispatch always answers 200 with the run id.
pub const API_2026: &str = "2026-03-10";

/// Largest page GitHub serves; fewer pages means fewer requests against the limit.
const PER_PAGE: u32 = 100;
/// A bound on pages followed, so a server that always sends `rel="next"` cannot loop us.
const MAX_PAGES: usize = 100;

mod endpoints;
mod error;
mod record;
mod types;

pub use error::*;
use record::RECORD_ALL;
pub use record::*;
pub use types::*;
use types::{IdOnly, RunList};

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
pub(crate) enum TokenSource {
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
pub(crate) const TOKEN_VARS: [&str; 2] = ["GH_TOKEN", "GITHUB_TOKEN"];

/// Finds a token: `GH_TOKEN`, then `GITHUB_TOKEN`, then `gh auth token` when gh is installed.
pub(crate) async fn discover_token() -> Option<(Secret, TokenSource)> {
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
    pub(crate) async fn from_config(config: &Config) -> anyhow::Result<Github> {
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
    pub(crate) fn has_token(&self) -> bool {
        self.token.is_some()
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
    /// One attempt's request: GitHub's media type and API version, the token (to the
    /// configured API origin only, whatever URL an answer named), and the ETag held for a GET.
    fn request(
        &self,
        method: &Method,
        url: &Url,
        key: &str,
        body: Option<&serde_json::Value>,
    ) -> anyhow::Result<reqwest::RequestBuilder> {
        let mut req = self
            .http
            .request(method.clone(), url.clone())
            .timeout(self.retry.timeout)
            .header("accept", "application/vnd.github+json")
            .header("x-github-api-version", self.api_version.as_str());
        if let Some(token) = self
            .token
            .as_ref()
            .filter(|_| same_origin(url.as_str(), &self.base))
        {
            let mut v = HeaderValue::from_str(&format!("Bearer {}", token.expose())).map_err(|_| {
                exit::usage(
                    "the GitHub token contains characters that cannot be sent in a header; fix: set GITHUB_TOKEN to the token alone",
                )
            })?;
            v.set_sensitive(true);
            req = req.header("authorization", v);
        }
        if *method == Method::GET
            && let Some(c) = self.lock().cache.get(key)
        {
            req = req.header("if-none-match", c.etag.as_str());
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        Ok(req)
    }

    /// Counts an answer, keeps its rate-limit headers and `Date` (and returns them), and
    /// records it when asked.
    fn note_answer(
        &self,
        method: &Method,
        url: &Url,
        status: StatusCode,
        headers: &HeaderMap,
        bytes: &Bytes,
    ) -> (Option<RateLimit>, Option<u64>) {
        let rate = RateLimit::from_headers(headers);
        let date = header(headers, "date").and_then(|d| parse_http_date(&d));
        if let Some(r) = &self.recorder {
            let rel = url
                .as_str()
                .strip_prefix(self.base.as_str())
                .unwrap_or(url.path());
            r.record(method, rel, status.as_u16(), headers, bytes);
        }
        let mut st = self.lock();
        st.stats.sent += 1;
        if rate.is_some() {
            st.stats.last_rate = rate.clone();
        }
        if date.is_some() {
            st.stats.last_date = date;
        }
        (rate, date)
    }

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
            let req = self.request(&method, &url, &key, body)?;
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
            let (rate, date) = self.note_answer(&method, &url, status, &headers, &bytes);
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
            if let Some(limit) =
                rate_limited(status, rate.as_ref(), retry_after, &msg, attempt, now)
            {
                if !last && limit.wait <= self.retry.max_wait {
                    self.lock().stats.retries += 1;
                    tokio::time::sleep(limit.wait).await;
                    continue;
                }
                let ge = GithubError::RateLimited {
                    endpoint: endpoint.clone(),
                    secondary: limit.secondary,
                    reset: limit.reset,
                };
                // The classified root carries the fix, the context the details.
                let when = limit
                    .reset
                    .map(rfc3339)
                    .unwrap_or_else(|| "a few minutes".to_string());
                return Err(exit::external(format!(
                    "fix: retry after {when}, or use a token with a higher limit"
                ))
                .context(ge));
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
pub(crate) fn enc(s: &str) -> String {
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

/// A rate limit, read from a 403 or 429: how long to wait before trying again, whether it
/// is a secondary limit, and when it resets (epoch seconds).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Limited {
    wait: Duration,
    secondary: bool,
    reset: Option<u64>,
}

/// Whether an answer is a rate limit, as GitHub documents them: a primary limit is a 403 or
/// 429 with `x-ratelimit-remaining: 0` and no `Retry-After` (wait for the reset, never less);
/// a secondary one has `Retry-After`, or is a 429, or says "secondary rate limit" (wait for
/// `Retry-After`, else the reset when the budget is spent, else a minute doubling per
/// attempt). Any other 403 is not a rate limit.
fn rate_limited(
    status: StatusCode,
    rate: Option<&RateLimit>,
    retry_after: Option<u64>,
    msg: &str,
    attempt: u32,
    now: u64,
) -> Option<Limited> {
    if status != StatusCode::FORBIDDEN && status != StatusCode::TOO_MANY_REQUESTS {
        return None;
    }
    let remaining = rate.and_then(|r| r.remaining);
    let reset = rate.and_then(|r| r.reset);
    let primary = remaining == Some(0) && retry_after.is_none();
    let secondary = !primary
        && (retry_after.is_some()
            || status == StatusCode::TOO_MANY_REQUESTS
            || msg.to_ascii_lowercase().contains("secondary rate limit"));
    if !primary && !secondary {
        return None;
    }
    let until_reset = || reset.map(|r| r.saturating_sub(now) + 1).unwrap_or(60);
    let wait = if primary {
        until_reset()
    } else if let Some(s) = retry_after {
        s
    } else if remaining == Some(0) {
        until_reset()
    } else {
        60u64.saturating_mul(1 << (attempt.max(1) - 1).min(4))
    };
    Some(Limited {
        wait: Duration::from_secs(wait),
        secondary,
        reset: if primary || retry_after.is_none() {
            reset
        } else {
            // A hostile or broken `Retry-After` (u64::MAX) must not overflow.
            Some(now.saturating_add(retry_after.unwrap_or(0)))
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// GitHub's documented rate-limit answers, read without HTTP.
    #[test]
    fn rate_limits_as_github_documents_them() {
        let rate = |remaining: u64, reset: u64| RateLimit {
            limit: Some(5000),
            remaining: Some(remaining),
            used: None,
            reset: Some(reset),
            resource: Some("core".into()),
        };
        let now = 1_000;
        let f = StatusCode::FORBIDDEN;
        let secs = |l: Option<Limited>| l.map(|l| (l.wait.as_secs(), l.secondary, l.reset));
        // Primary: remaining 0, no Retry-After: wait until the reset, never less.
        assert_eq!(
            secs(rate_limited(
                f,
                Some(&rate(0, 1_100)),
                None,
                "API rate limit exceeded",
                1,
                now
            )),
            Some((101, false, Some(1_100)))
        );
        // Secondary with Retry-After: wait that long; the reset is now + Retry-After.
        assert_eq!(
            secs(rate_limited(
                f,
                Some(&rate(10, 1_100)),
                Some(30),
                "",
                1,
                now
            )),
            Some((30, true, Some(1_030)))
        );
        // Secondary by message or by 429 without Retry-After: a minute, doubling per attempt.
        let msg = "You have exceeded a secondary rate limit";
        assert_eq!(
            secs(rate_limited(f, Some(&rate(10, 1_100)), None, msg, 3, now)),
            Some((240, true, Some(1_100)))
        );
        assert_eq!(
            secs(rate_limited(
                StatusCode::TOO_MANY_REQUESTS,
                None,
                None,
                "",
                9,
                now
            )),
            Some((960, true, None))
        );
        // A hostile Retry-After does not overflow.
        assert_eq!(
            secs(rate_limited(f, None, Some(u64::MAX), "", 1, now)),
            Some((u64::MAX, true, Some(u64::MAX)))
        );
        // A 403 that is a permission answer, and any other status, is not a rate limit.
        assert_eq!(
            rate_limited(
                f,
                Some(&rate(10, 1_100)),
                None,
                "Resource not accessible",
                1,
                now
            ),
            None
        );
        assert_eq!(
            rate_limited(
                StatusCode::NOT_FOUND,
                Some(&rate(0, 1_100)),
                None,
                "",
                1,
                now
            ),
            None
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
    fn encoding() {
        assert_eq!(enc("app/worker"), "app%2Fworker");
        assert_eq!(enc_ref("refs/tags/v1.2.3"), "tags/v1.2.3");
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
