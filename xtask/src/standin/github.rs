//! An in-process stand-in for the GitHub REST API, on 127.0.0.1, faithful to section 15 of
//! `github-and-ghcr-api.md`: same paths, status codes and error bodies, Link pagination,
//! ETag/304 that does not count, rate-limit headers and switches, API-version handling,
//! tokens with scopes or fine-grained permissions, plan limits, rulesets, packages, refs,
//! releases and workflow runs.
//!
//! The state is a `World` (see `world.rs`) behind a mutex; `StandIn` is a cheap handle to it
//! with mutators, a request log and fault injection (status codes, delays, dropped
//! connections). Workflow runs are data: `create_run`, `set_run_status` and `set_jobs` drive
//! them, and a `RunHook` lets the release work attach real execution to dispatches and tag
//! pushes. `docs/github-standin.md` says what is modelled and what is not.

pub mod api;
pub mod fnmatch;
pub mod world;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::{Method, Response};
use sha2::{Digest, Sha256};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};

pub use api::Trigger;
use api::{Reply, Req, Routed};
pub use world::{
    ADMIN_TOKEN, BypassSeed, FINE_GRAINED_TOKEN, JobSeed, NO_ADMIN_TOKEN, NO_PACKAGES_TOKEN,
    NewRun, PackageSeed, Role, RulesetSeed, RunSeed, StepSeed, TokenKind, TokenSeed, WorkflowSeed,
    World, fake_digest, fake_sha,
};

use crate::effects::github::API_2022;
use crate::time::now_epoch;

/// One request as the stand-in saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedRequest {
    pub method: String,
    /// Path and query as sent.
    pub path: String,
    /// 0 when the connection was dropped without an answer.
    pub status: u16,
    /// Whether it counted against the primary rate limit (304s and `/rate_limit` do not).
    pub counted: bool,
    pub api_version: String,
    /// Whether an `Authorization` header was sent (never the value).
    pub authenticated: bool,
}

/// What a fault does to a matching request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultAction {
    /// Answer with this status and a GitHub-shaped error body.
    Status(u16),
    /// Wait before answering.
    Delay(Duration),
    /// Close the connection without answering.
    Drop,
}

#[derive(Debug, Clone)]
struct Fault {
    prefix: String,
    remaining: u32,
    action: FaultAction,
}

/// Called when a dispatch or a tag push triggers a workflow. It runs outside the world lock
/// and may call `create_run` (or anything else on `StandIn`); it must not block, so real work
/// belongs in a spawned task. Returning `None` lets the stand-in create a queued run itself.
pub trait RunHook: Send + Sync {
    fn on_trigger(&self, standin: &StandIn, trigger: &Trigger) -> Option<u64>;
}

impl<F> RunHook for F
where
    F: Fn(&StandIn, &Trigger) -> Option<u64> + Send + Sync,
{
    fn on_trigger(&self, standin: &StandIn, trigger: &Trigger) -> Option<u64> {
        self(standin, trigger)
    }
}

struct Inner {
    world: World,
    log: Vec<LoggedRequest>,
    faults: Vec<Fault>,
    base_url: String,
}

/// A handle to a running stand-in's state. Cloning is cheap.
#[derive(Clone)]
pub struct StandIn {
    inner: Arc<Mutex<Inner>>,
    hook: Arc<Mutex<Option<Arc<dyn RunHook>>>>,
}

impl std::fmt::Debug for StandIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StandIn")
            .field("base_url", &self.base_url())
            .finish()
    }
}

impl StandIn {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn base_url(&self) -> String {
        self.lock().base_url.clone()
    }

    /// Reads or changes the world. Do not call other `StandIn` methods inside `f`.
    pub fn with_world<R>(&self, f: impl FnOnce(&mut World) -> R) -> R {
        f(&mut self.lock().world)
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.lock().log.clone()
    }

    pub fn clear_log(&self) {
        self.lock().log.clear();
    }

    /// The next `count` requests whose path starts with `prefix` get `action`.
    pub fn inject(&self, prefix: &str, count: u32, action: FaultAction) {
        self.lock().faults.push(Fault {
            prefix: prefix.to_string(),
            remaining: count,
            action,
        });
    }

    /// Removes every pending fault.
    pub fn clear_faults(&self) {
        self.lock().faults.clear();
    }

    /// Exhausts the primary limit: requests get `status` (403 or 429) with remaining 0 until
    /// `reset_in` has passed.
    pub fn exhaust_primary(&self, status: u16, reset_in: Duration) {
        let mut g = self.lock();
        g.world.rate.exhausted = Some(status);
        g.world.rate.reset = now_epoch() + reset_in.as_secs();
    }

    /// The next `count` requests hit a secondary limit: `status` with `retry-after`.
    pub fn secondary_limit(&self, count: u32, status: u16, retry_after_secs: u64) {
        self.lock().world.rate.secondary = Some((count, status, retry_after_secs));
    }

    pub fn set_run_hook(&self, hook: Arc<dyn RunHook>) {
        *self.hook.lock().unwrap_or_else(|e| e.into_inner()) = Some(hook);
    }

    /// Creates a queued run; `None` if the workflow is unknown.
    pub fn create_run(&self, new: NewRun) -> Option<u64> {
        self.lock().world.insert_run(new)
    }

    /// Sets a run's status and conclusion (which changes its ETag).
    pub fn set_run_status(&self, run_id: u64, status: &str, conclusion: Option<&str>) -> bool {
        let mut g = self.lock();
        let now = g.world.now();
        match g.world.run_mut(run_id) {
            Some(r) => {
                r.status = status.to_string();
                r.conclusion = conclusion.map(str::to_string);
                r.updated_at = now;
                true
            }
            None => false,
        }
    }

    /// Replaces a run's jobs; jobs without an id get one.
    pub fn set_jobs(&self, run_id: u64, mut jobs: Vec<JobSeed>) -> bool {
        let mut g = self.lock();
        for j in &mut jobs {
            if j.id == 0 {
                j.id = g.world.alloc_id();
            }
        }
        let now = g.world.now();
        match g.world.run_mut(run_id) {
            Some(r) => {
                r.jobs = jobs;
                r.updated_at = now;
                true
            }
            None => false,
        }
    }

    /// A run as stored (visible or not).
    pub fn run(&self, run_id: u64) -> Option<RunSeed> {
        self.lock()
            .world
            .runs
            .iter()
            .find(|r| r.id == run_id)
            .cloned()
    }

    /// Simulates `git push origin <tag>`: creates the ref and triggers matching workflows.
    /// Returns the ids of the runs created.
    pub fn push_tag(&self, tag: &str, sha: &str, actor: &str) -> Vec<u64> {
        let triggers = {
            let mut g = self.lock();
            g.world.add_tag(tag, sha);
            api::push_triggers(&g.world, tag, sha, actor)
        };
        triggers.iter().filter_map(|t| self.fire(t)).collect()
    }

    /// Runs the hook for a trigger, or creates a queued run.
    fn fire(&self, t: &Trigger) -> Option<u64> {
        let hook = self.hook.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if let Some(h) = hook
            && let Some(id) = h.on_trigger(self, t)
        {
            return Some(id);
        }
        let new = match t {
            Trigger::Dispatch {
                workflow,
                git_ref,
                sha,
                inputs,
                actor,
            } => NewRun {
                workflow: workflow.clone(),
                event: "workflow_dispatch".into(),
                head_branch: Some(git_ref.clone()),
                head_sha: sha.clone(),
                actor: actor.clone(),
                inputs: inputs.clone(),
                delay: None,
            },
            Trigger::TagPush {
                workflow,
                tag,
                sha,
                actor,
            } => NewRun {
                workflow: workflow.clone(),
                event: "push".into(),
                head_branch: Some(tag.clone()),
                head_sha: sha.clone(),
                actor: actor.clone(),
                inputs: BTreeMap::new(),
                delay: None,
            },
        };
        self.create_run(new)
    }

    /// Takes one matching fault of the given kind.
    fn take_fault(&self, path: &str, want: fn(&FaultAction) -> bool) -> Option<FaultAction> {
        let mut g = self.lock();
        let f = g
            .faults
            .iter_mut()
            .find(|f| f.remaining > 0 && want(&f.action) && path.starts_with(&f.prefix))?;
        f.remaining -= 1;
        let a = f.action.clone();
        g.faults.retain(|f| f.remaining > 0);
        Some(a)
    }
}

/// A running stand-in. Dropping it stops the server.
pub struct StandInHandle {
    pub base_url: String,
    pub addr: SocketAddr,
    pub standin: StandIn,
    shutdown: Option<oneshot::Sender<()>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl std::ops::Deref for StandInHandle {
    type Target = StandIn;
    fn deref(&self) -> &StandIn {
        &self.standin
    }
}

impl Drop for StandInHandle {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// Starts a stand-in on 127.0.0.1 with an ephemeral port.
pub async fn start(world: World) -> anyhow::Result<StandInHandle> {
    let listener = TcpListener::bind("127.0.0.1:0").await.map_err(|e| {
        crate::exit::external(format!("binding the GitHub stand-in to 127.0.0.1: {e}"))
    })?;
    let addr = listener.local_addr()?;
    let base_url = format!("http://{addr}");
    let standin = StandIn {
        inner: Arc::new(Mutex::new(Inner {
            world,
            log: Vec::new(),
            faults: Vec::new(),
            base_url: base_url.clone(),
        })),
        hook: Arc::new(Mutex::new(None)),
    };
    // Connections are accepted here and screened for "drop" faults before axum sees them.
    // Every answer carries `connection: close`, so one connection is one request.
    let (tx, rx) = mpsc::channel::<(TcpStream, SocketAddr)>(64);
    let screen = standin.clone();
    let acceptor = tokio::spawn(async move {
        loop {
            let Ok((stream, peer)) = listener.accept().await else {
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            };
            let tx = tx.clone();
            let screen = screen.clone();
            tokio::spawn(async move {
                if let Some((method, path)) = peek_request_line(&stream).await {
                    let bare = path.split('?').next().unwrap_or("").to_string();
                    if screen
                        .take_fault(&bare, |a| matches!(a, FaultAction::Drop))
                        .is_some()
                    {
                        screen.lock().log.push(LoggedRequest {
                            method,
                            path,
                            status: 0,
                            counted: false,
                            api_version: String::new(),
                            authenticated: false,
                        });
                        drop(stream);
                        return;
                    }
                }
                let _ = tx.send((stream, peer)).await;
            });
        }
    });
    let app = axum::Router::new()
        .fallback(handle)
        .with_state(standin.clone());
    let (stx, srx) = oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        let _ = axum::serve(Screened { rx, addr }, app)
            .with_graceful_shutdown(async move {
                let _ = srx.await;
            })
            .await;
    });
    Ok(StandInHandle {
        base_url,
        addr,
        standin,
        shutdown: Some(stx),
        tasks: vec![acceptor, server],
    })
}

/// Reads the request line without consuming it.
async fn peek_request_line(stream: &TcpStream) -> Option<(String, String)> {
    let mut buf = vec![0u8; 2048];
    for _ in 0..200 {
        let n = stream.peek(&mut buf).await.ok()?;
        if n == 0 {
            return None;
        }
        if let Some(end) = buf[..n].windows(2).position(|w| w == b"\r\n") {
            let line = String::from_utf8_lossy(&buf[..end]).to_string();
            let mut it = line.split(' ');
            return Some((it.next()?.to_string(), it.next()?.to_string()));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    None
}

struct Screened {
    rx: mpsc::Receiver<(TcpStream, SocketAddr)>,
    addr: SocketAddr,
}

impl axum::serve::Listener for Screened {
    type Io = TcpStream;
    type Addr = SocketAddr;
    async fn accept(&mut self) -> (TcpStream, SocketAddr) {
        match self.rx.recv().await {
            Some(c) => c,
            // The acceptor is gone (shutdown); never yield another connection.
            None => std::future::pending().await,
        }
    }
    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        Ok(self.addr)
    }
}

fn token_of(headers: &axum::http::HeaderMap) -> Option<String> {
    let v = headers.get("authorization")?.to_str().ok()?.trim();
    let (scheme, rest) = v.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("token"))
        .then(|| rest.trim().to_string())
}

async fn handle(State(s): State<StandIn>, request: axum::extract::Request) -> Response<Body> {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20)
        .await
        .unwrap_or_default();
    let path = parts.uri.path().to_string();
    let raw_query = parts.uri.query().map(str::to_string);
    let query: Vec<(String, String)> = raw_query
        .as_deref()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let d = |s: &str| api::decode(&s.replace('+', " ")).unwrap_or_default();
            (d(k), d(v))
        })
        .collect();
    if let Some(FaultAction::Delay(d)) = s.take_fault(&path, |a| matches!(a, FaultAction::Delay(_)))
    {
        tokio::time::sleep(d).await;
    }
    let api_version = parts
        .headers
        .get("x-github-api-version")
        .and_then(|v| v.to_str().ok())
        .unwrap_or(API_2022)
        .to_string();
    let req = Req {
        method: parts.method.clone(),
        token: token_of(&parts.headers),
        path,
        raw_query,
        query,
        headers: parts.headers,
        body,
        api_version,
        base_url: s.base_url(),
    };
    // Everything that needs the world happens in one locked section, except running the
    // hook for a dispatch, which may call back into the stand-in.
    let (pending, triggers) = {
        let mut g = s.lock();
        match answer(&mut g, &req) {
            Answer::Done(resp, triggers) => (Ok(resp), triggers),
            Answer::Dispatch { trigger, details } => (Err((trigger, details)), Vec::new()),
        }
    };
    for t in &triggers {
        s.fire(t);
    }
    match pending {
        Ok(resp) => resp,
        Err((trigger, details)) => {
            let run_id = s.fire(&trigger);
            let mut g = s.lock();
            let reply = match (details, run_id) {
                (true, Some(id)) => {
                    let full = g.world.full_name();
                    Reply::ok(serde_json::json!({
                        "workflow_run_id": id,
                        "run_url": format!("{}/repos/{full}/actions/runs/{id}", req.base_url),
                        "html_url": format!("https://github.com/{full}/actions/runs/{id}"),
                    }))
                }
                _ => Reply::empty(204),
            };
            let tok = req
                .token
                .as_ref()
                .and_then(|t| g.world.tokens.get(t))
                .cloned();
            finish(
                &mut g,
                &req,
                reply,
                Some(api::Need::ActionsWrite),
                tok.as_ref(),
            )
        }
    }
}

enum Answer {
    Done(Response<Body>, Vec<Trigger>),
    Dispatch { trigger: Trigger, details: bool },
}

fn answer(g: &mut Inner, req: &Req) -> Answer {
    let done = |g: &mut Inner, reply: Reply, tok: Option<&TokenSeed>| {
        Answer::Done(finish(g, req, reply, None, tok), Vec::new())
    };
    // The reset of an exhausted window restores the limit.
    let now = now_epoch();
    if now >= g.world.rate.reset {
        g.world.rate.used = 0;
        g.world.rate.reset = now + 3600;
        g.world.rate.exhausted = None;
    }
    if let Some(FaultAction::Status(code)) = {
        let path = req.path.clone();
        let f = g.faults.iter_mut().find(|f| {
            f.remaining > 0
                && matches!(f.action, FaultAction::Status(_))
                && path.starts_with(&f.prefix)
        });
        f.map(|f| {
            f.remaining -= 1;
            f.action.clone()
        })
    } {
        g.faults.retain(|f| f.remaining > 0);
        let msg = match code {
            500 => "Server Error",
            502 => "Bad Gateway",
            503 => "Service Unavailable",
            504 => "Gateway Timeout",
            _ => "Injected fault",
        };
        return done(g, Reply::error(code, msg), None);
    }
    if !api::SUPPORTED_VERSIONS.contains(&req.api_version.as_str()) {
        let msg = format!(
            "Unsupported 'X-GitHub-Api-Version' header: {}. The supported versions are {}.",
            req.api_version,
            api::SUPPORTED_VERSIONS.join(", ")
        );
        return done(g, Reply::error(400, &msg), None);
    }
    if req
        .headers
        .get("user-agent")
        .and_then(|v| v.to_str().ok())
        .is_none_or(|v| v.trim().is_empty())
    {
        return done(
            g,
            Reply::error(
                403,
                "Request forbidden by administrative rules. Please make sure your request has a User-Agent header (https://docs.github.com/en/rest/overview/resources-in-the-rest-api#user-agent-required).",
            ),
            None,
        );
    }
    if req.path != "/rate_limit" {
        if let Some(status) = g.world.rate.exhausted {
            let r = Reply::error(
                status,
                "API rate limit exceeded for user ID 9001. If you reach out to GitHub Support for help, please include the request ID.",
            );
            return done(g, r, None);
        }
        if let Some((n, status, after)) = g.world.rate.secondary {
            g.world.rate.secondary = (n > 1).then_some((n - 1, status, after));
            let r = Reply::error(status, "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.")
                .header("retry-after", after.to_string());
            return done(g, r, None);
        }
    }
    let tok = match &req.token {
        None => None,
        Some(t) => match g.world.tokens.get(t) {
            Some(seed) => Some(seed.clone()),
            None => return done(g, Reply::error(401, "Bad credentials"), None),
        },
    };
    match api::route(&mut g.world, req, tok.as_ref()) {
        Routed::Reply(need, reply, triggers) => {
            Answer::Done(finish(g, req, reply, Some(need), tok.as_ref()), triggers)
        }
        Routed::Dispatch { trigger, details } => Answer::Dispatch { trigger, details },
    }
}

/// Adds the common headers, applies ETag/304, counts against the limit and logs.
fn finish(
    g: &mut Inner,
    req: &Req,
    reply: Reply,
    need: Option<api::Need>,
    tok: Option<&TokenSeed>,
) -> Response<Body> {
    let body = reply
        .body
        .as_ref()
        .map(|b| serde_json::to_vec(b).unwrap_or_default())
        .unwrap_or_default();
    let etag = (req.method == Method::GET && reply.status == 200).then(|| {
        let h = Sha256::digest(&body);
        format!(
            "\"{}\"",
            h.iter()
                .take(16)
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        )
    });
    let not_modified = match (
        &etag,
        req.headers
            .get("if-none-match")
            .and_then(|v| v.to_str().ok()),
    ) {
        (Some(e), Some(inm)) => inm
            .split(',')
            .any(|x| x.trim().trim_start_matches("W/") == e),
        _ => false,
    };
    let counted = !not_modified && req.path != "/rate_limit";
    let limited = reply.status == 403 || reply.status == 429;
    if counted && !(limited && g.world.rate.exhausted.is_some()) {
        g.world.rate.used += 1;
    }
    let remaining = if g.world.rate.exhausted.is_some() {
        0
    } else {
        g.world.rate.limit.saturating_sub(g.world.rate.used)
    };
    let status = if not_modified { 304 } else { reply.status };
    let mut b = Response::builder()
        .status(status)
        .header("connection", "close")
        .header("x-ratelimit-limit", g.world.rate.limit.to_string())
        .header("x-ratelimit-remaining", remaining.to_string())
        .header("x-ratelimit-used", g.world.rate.used.to_string())
        .header("x-ratelimit-reset", g.world.rate.reset.to_string())
        .header("x-ratelimit-resource", "core")
        // GitHub's clock (which `World::clock_offset` may set apart from this machine's).
        .header("date", http_date(g.world.now()))
        .header("x-github-api-version-selected", req.api_version.as_str())
        .header(
            "x-github-request-id",
            format!("STANDIN:{}", g.log.len() + 1),
        );
    if let Some(t) = tok
        && let TokenKind::Classic { scopes } = &t.kind
    {
        b = b.header("x-oauth-scopes", scopes.join(", "));
    }
    if let Some(n) = need {
        if n != api::Need::Public {
            b = b.header("x-accepted-oauth-scopes", n.scope());
        }
        if let Some(p) = n.permission()
            && !reply
                .headers
                .iter()
                .any(|(k, _)| k == "x-accepted-github-permissions")
        {
            b = b.header("x-accepted-github-permissions", p);
        }
    }
    for (k, v) in &reply.headers {
        b = b.header(k.as_str(), v.as_str());
    }
    if let Some(e) = &etag {
        b = b.header("etag", e.as_str());
    }
    g.log.push(LoggedRequest {
        method: req.method.to_string(),
        path: match &req.raw_query {
            Some(q) => format!("{}?{q}", req.path),
            None => req.path.clone(),
        },
        status,
        counted,
        api_version: req.api_version.clone(),
        authenticated: req.token.is_some(),
    });
    if not_modified || body.is_empty() {
        return b.body(Body::empty()).unwrap_or_default();
    }
    b.header("content-type", "application/json; charset=utf-8")
        .body(Body::from(body))
        .unwrap_or_default()
}

/// An IMF-fixdate (RFC 9110 section 5.6.7): `Tue, 01 Dec 2026 09:40:50 GMT`.
pub(crate) fn http_date(epoch: u64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    // rfc3339 gives `YYYY-MM-DDTHH:MM:SSZ`; the weekday counts from 1970-01-01 (a Thursday).
    let iso = crate::time::rfc3339(epoch);
    let (y, m, d, hms) = (&iso[0..4], &iso[5..7], &iso[8..10], &iso[11..19]);
    let month = MONTHS[m.parse::<usize>().unwrap_or(1) - 1];
    format!(
        "{}, {d} {month} {y} {hms} GMT",
        DAYS[((epoch / 86_400) % 7) as usize]
    )
}

/// The bridge to the run executor (`standin::runs`): runs it creates and plays show up in
/// the REST API like any other run. An unknown workflow file is registered on first use.
impl crate::standin::runs::RunSink for StandIn {
    fn create_run(&self, run: crate::standin::runs::NewRun) -> u64 {
        let file = run.workflow_file.clone();
        self.with_world(|w| {
            if w.workflow(&file).is_none() {
                let id = w.alloc_id();
                let path = if file.contains('/') {
                    file.clone()
                } else {
                    format!(".github/workflows/{file}")
                };
                w.workflows.push(WorkflowSeed {
                    id,
                    name: path.rsplit('/').next().unwrap_or(&path).to_string(),
                    path,
                    dispatch_inputs: Some(Vec::new()),
                    push_tags: Vec::new(),
                });
            }
        });
        StandIn::create_run(
            self,
            NewRun {
                workflow: file,
                event: run.event,
                head_branch: Some(run.head_branch),
                head_sha: run.head_sha,
                actor: "release-operator".into(),
                inputs: run.inputs,
                delay: None,
            },
        )
        .expect("the workflow was registered above")
    }

    fn set_run_status(&self, run_id: u64, status: &str, conclusion: Option<&str>) {
        StandIn::set_run_status(self, run_id, status, conclusion);
    }

    fn set_job(
        &self,
        run_id: u64,
        job_name: &str,
        status: &str,
        conclusion: Option<&str>,
        steps: Vec<crate::standin::runs::StepState>,
    ) {
        let existing = self.run(run_id).and_then(|r| {
            r.jobs
                .iter()
                .find(|j| j.name == job_name)
                .map(|j| (j.id, j.started_at))
        });
        let now = self.with_world(|w| w.now());
        let job = JobSeed {
            id: existing.map(|(id, _)| id).unwrap_or(0),
            name: job_name.to_string(),
            status: status.to_string(),
            conclusion: conclusion.map(str::to_string),
            started_at: existing.and_then(|(_, s)| s).or(Some(now)),
            completed_at: (status == "completed").then_some(now),
            steps: steps
                .into_iter()
                .map(|s| StepSeed {
                    name: s.name,
                    status: s.status,
                    conclusion: s.conclusion,
                    number: u64::from(s.number),
                })
                .collect(),
        };
        let mut jobs: Vec<JobSeed> = self
            .run(run_id)
            .map(|r| r.jobs.into_iter().filter(|j| j.name != job_name).collect())
            .unwrap_or_default();
        jobs.push(job);
        self.set_jobs(run_id, jobs);
    }
}
