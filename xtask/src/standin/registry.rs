//! A GHCR-like registry on a loopback port: the CNCF distribution registry (`docker-registry`)
//! as a child process, behind a front of ours that answers like ghcr.io.
//!
//! The front is one axum server on 127.0.0.1:0 (the registry host clients see). It serves
//! `/token` (the Bearer realm, as `https://ghcr.io/token` is on ghcr.io's own host), forwards
//! `/v2/…` to the registry, and serves `/_ui/…`, which stands in for the package settings
//! pages of GitHub's web UI (there is no API for them). Its policy is ghcr.io's, as collected
//! in `ghcr-observed-behaviour.md` and documented in docs/registry-standin.md:
//!
//! - packages belong to the organisation; each has a visibility, an optional linked repository
//!   and an Actions access list (repository → role);
//! - credentials are a repository's `GITHUB_TOKEN`, an operator's classic PAT with
//!   `read:packages`/`write:packages`, a customer's read-only credential for one package, or
//!   none;
//! - `/token` answers `401 UNAUTHORIZED` to anonymous requests for a private package, `403
//!   DENIED` for a package that does not exist, `403 DENIED "denied"` for bad credentials, and
//!   a token for anonymous pulls of a public package;
//! - tokens are opaque (`base64("v1:<repo>:<ns>")`, no `expires_in`) and expire after a
//!   lifetime (60 s by default); the front swaps them for the ES256 JWT the registry checks;
//! - a push token is issued to any credential that may write somewhere, and the write itself
//!   is refused with `403 DENIED "permission_denied: write_package"` when the package does not
//!   grant the repository Actions access; a package first pushed by a workflow is created
//!   private, linked to that workflow's repository, with Write access for it;
//! - faults can be injected: 429 (with or without `Retry-After`) and 5xx, for the next N
//!   requests or for one request in N.
//!
//! Tests and `cargo xtask release --rehearse` use it. Everything lives in a temp dir that is
//! removed, and the registry is stopped with SIGTERM, when the harness is dropped.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use axum::extract::{RawQuery, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde::Serialize;
use sha2::Digest;

use crate::exit::{external, usage};
use crate::secrets::Secret;

/// Who a credential belongs to, as ghcr.io sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Principal {
    /// A workflow's `GITHUB_TOKEN` in `repository` (`owner/name`); `write` when the job has
    /// `permissions: packages: write`.
    ActionsToken { repository: String, write: bool },
    /// An operator's personal access token (classic) with `read:packages`, and
    /// `write:packages` when `write`. The operator is an org member who may read every
    /// package of the organisation and, with `write`, push to any and create new ones.
    Pat { write: bool },
    /// A customer's read-only credential for one package (`org/name`).
    Customer { package: String },
}

/// A role in a package's "Manage Actions access" list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Role {
    Read,
    Write,
    Admin,
}

/// A package's settings, as its settings page shows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Package {
    pub public: bool,
    /// The repository the package is linked to (`owner/name`).
    pub linked: Option<String>,
    /// Manage Actions access: repository (`owner/name`) → role.
    pub actions_access: BTreeMap<String, Role>,
}

/// What happened to a package, for mirrors such as the GitHub stand-in's Packages API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PackageEvent {
    /// The first manifest push created `name` (`org/package`).
    Created { name: String, package: Package },
    /// A manifest was pushed under `reference` (a tag or a digest).
    Pushed {
        name: String,
        digest: String,
        reference: String,
    },
    /// An admin changed the visibility (one way: to public).
    Visibility { name: String, public: bool },
}

/// A hook that sees every package event.
pub(crate) type PackageHook = Arc<dyn Fn(&PackageEvent) + Send + Sync>;

/// Injected failures: every matching request from now on is counted, and the `every`-th one
/// (1 = each) answers `status`, for at most `count` faults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Faults {
    pub status: u16,
    /// `Retry-After` on the fault (429 and 503), when set.
    pub retry_after: Option<String>,
    pub every: u32,
    pub count: u32,
    /// Only token requests and `GET`/`HEAD` (what a client may retry), not writes.
    pub reads_only: bool,
    /// Only requests whose `METHOD /path` contains this (`HEAD /v2/`, `GET /token`).
    pub matching: Option<String>,
}

impl Faults {
    /// The next `count` reads (token requests, GET, HEAD) answer `status`.
    pub fn next(count: u32, status: u16) -> Faults {
        Faults {
            status,
            retry_after: None,
            every: 1,
            count,
            reads_only: true,
            matching: None,
        }
    }

    /// One read in `every` answers `status`, indefinitely.
    pub fn one_in(every: u32, status: u16) -> Faults {
        Faults {
            status,
            retry_after: None,
            every: every.max(1),
            count: u32::MAX,
            reads_only: true,
            matching: None,
        }
    }

    pub fn retry_after(mut self, v: &str) -> Faults {
        self.retry_after = Some(v.to_string());
        self
    }

    /// Only requests whose `METHOD /path` contains `what`.
    pub fn matching(mut self, what: &str) -> Faults {
        self.matching = Some(what.to_string());
        self
    }
}

/// How to start the harness. `Default` gives a user `aisopsflow-ci`, a random password (an
/// operator PAT with write:packages), no public packages, and 60 s tokens.
#[derive(Debug, Clone)]
pub struct HarnessOptions {
    /// The user name the harness reports; any user name is accepted, like ghcr.io.
    pub user: String,
    /// The operator's PAT (`Principal::Pat { write: true }`); random when `None`.
    pub password: Option<Secret>,
    /// Further credentials and whom they belong to.
    pub credentials: Vec<(Secret, Principal)>,
    /// Packages (`org/name`) that are public. This decides the visibility of a package that
    /// tests seed directly or that a push creates, so legacy worlds can start "already
    /// flipped"; a rehearsal leaves it empty, so pushes create private packages as on ghcr.io.
    pub public: Vec<String>,
    /// Settings of packages, by `org/name` (applied when they exist or are created).
    pub packages: BTreeMap<String, Package>,
    /// The repository packages seeded without settings are linked to and grant Write.
    pub repository: String,
    /// How long a token lives.
    pub token_lifetime: Duration,
    /// The `service` of the Bearer challenge and the JWT `aud`.
    pub service: String,
    /// The `docker-registry` binary; found on `PATH` when `None`.
    pub binary: Option<PathBuf>,
    /// Run the registry as this image in a container instead (`registry:2`); when `None` and
    /// no binary is found, `AISOPSFLOW_REGISTRY_IMAGE` (see `container`).
    pub image: Option<String>,
}

impl Default for HarnessOptions {
    fn default() -> Self {
        HarnessOptions {
            user: "aisopsflow-ci".into(),
            password: None,
            credentials: Vec::new(),
            public: Vec::new(),
            packages: BTreeMap::new(),
            repository: "aisopsflow/aisopsflow-enterprise".into(),
            token_lifetime: Duration::from_secs(60),
            service: "aisopsflow-registry".into(),
            binary: None,
            image: None,
        }
    }
}

/// Token requests by kind, as the token service answered them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TokenCounts {
    pub total: u64,
    /// `authenticated`, `anonymous-granted`, `anonymous-denied` (401, private),
    /// `absent` (403, no such package), `access-denied` (403, not readable with this
    /// credential), `bad-credentials` (403), `fault`.
    pub by_kind: BTreeMap<String, u64>,
}

/// Registry requests read from the access log, by kind (`HEAD manifests`, `GET /v2/`, ...).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RequestCounts {
    pub total: u64,
    pub by_kind: BTreeMap<String, u64>,
}

impl RequestCounts {
    pub fn kind(&self, kind: &str) -> u64 {
        self.by_kind.get(kind).copied().unwrap_or(0)
    }
}

impl TokenCounts {
    pub fn kind(&self, kind: &str) -> u64 {
        self.by_kind.get(kind).copied().unwrap_or(0)
    }
}

/// An issued token: what it stands for and until when.
#[derive(Clone)]
struct Issued {
    jwt: String,
    expires: Instant,
    /// `None` for tokens the harness mints for seeding (no policy applies).
    principal: Option<Principal>,
}

struct TokenState {
    issuer: String,
    service: String,
    kid: String,
    /// The ES256 signing key (ring; the JWS signature is the fixed-width `r || s`).
    key: ring::signature::EcdsaKeyPair,
    /// The registry's own address, which only the front talks to.
    backend: Mutex<String>,
    /// The front's address (`127.0.0.1:PORT`), for challenges.
    front: String,
    storage: PathBuf,
    http: reqwest::Client,
    inner: Mutex<Mutable>,
}

struct Mutable {
    credentials: HashMap<String, Principal>,
    public: BTreeSet<String>,
    packages: BTreeMap<String, Package>,
    repository: String,
    lifetime: Duration,
    issued: HashMap<String, Issued>,
    issued_seq: u64,
    /// Legacy: the next `faults.0` token requests answer `faults.1`.
    token_faults: (u32, u16),
    faults: Option<(Faults, u64)>,
    counts: TokenCounts,
    front_counts: BTreeMap<String, u64>,
    hook: Option<PackageHook>,
}

/// A running registry and its front. Dropping it stops both and removes the temp dir.
pub struct RegistryHarness {
    /// `127.0.0.1:PORT` of the registry as clients see it (the front, plain http).
    pub host: String,
    /// The token endpoint (`http://127.0.0.1:PORT/token`), the challenge's realm.
    pub token_url: String,
    pub user: String,
    /// The operator's PAT.
    pub password: Secret,
    pub service: String,
    state: Arc<TokenState>,
    child: Option<Child>,
    /// The container the registry runs in, when it runs as an image (`container`).
    container: Option<String>,
    server: tokio::task::JoinHandle<()>,
    dir: tempfile::TempDir,
}

fn lock(state: &TokenState) -> std::sync::MutexGuard<'_, Mutable> {
    state.inner.lock().unwrap_or_else(|e| e.into_inner())
}

impl RegistryHarness {
    /// Starts the front and the registry. Fails with the install command when the
    /// `docker-registry` binary is missing, and with the registry's log when it does not start.
    /// Call it inside a tokio runtime: the front is a task on it.
    pub async fn start(opts: HarnessOptions) -> anyhow::Result<RegistryHarness> {
        let runtime = container::Runtime::choose(&opts)?;
        let dir = tempfile::Builder::new()
            .prefix("aisopsflow-registry.")
            .tempdir()
            .context("creating the registry harness temp dir")?;

        // The signing key and the certificate the registry trusts. The `kid` is the libtrust
        // fingerprint, the only `kid` form distribution 2.8 looks up.
        let kp = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
            .context("generating the token signing key")?;
        let cert = rcgen::CertificateParams::new(Vec::<String>::new())
            .context("preparing the token signing certificate")?
            .self_signed(&kp)
            .context("self-signing the token signing certificate")?;
        let cert_path = dir.path().join("signer.crt");
        std::fs::write(&cert_path, cert.pem()).context("writing signer.crt")?;
        let kid = libtrust_kid(&rcgen::PublicKeyData::subject_public_key_info(&kp));
        let key = ring::signature::EcdsaKeyPair::from_pkcs8(
            &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            &kp.serialize_der(),
            &ring::rand::SystemRandom::new(),
        )
        .map_err(|e| anyhow::anyhow!("loading the token signing key: {e}"))?;

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding the registry front to 127.0.0.1:0")?;
        let front = listener.local_addr()?.to_string();
        let token_url = format!("http://{front}/token");

        let password = opts.password.clone().unwrap_or_else(random_password);
        let mut credentials: HashMap<String, Principal> = opts
            .credentials
            .iter()
            .map(|(s, p)| (s.expose().to_string(), p.clone()))
            .collect();
        credentials.insert(
            password.expose().to_string(),
            Principal::Pat { write: true },
        );
        let state = Arc::new(TokenState {
            issuer: "aisopsflow-token-service".into(),
            service: opts.service.clone(),
            kid,
            key,
            backend: Mutex::new(String::new()),
            front: front.clone(),
            storage: dir.path().join("data/docker/registry/v2/repositories"),
            http: crate::effects::http::builder()
                .redirect(reqwest::redirect::Policy::none())
                .no_proxy()
                .build()
                .context("building the front's HTTP client")?,
            inner: Mutex::new(Mutable {
                credentials,
                public: opts.public.iter().cloned().collect(),
                packages: opts.packages.clone(),
                repository: opts.repository.clone(),
                lifetime: opts.token_lifetime,
                issued: HashMap::new(),
                issued_seq: 0,
                token_faults: (0, 0),
                faults: None,
                counts: TokenCounts::default(),
                front_counts: BTreeMap::new(),
                hook: None,
            }),
        });

        let app = axum::Router::new()
            .route("/token", axum::routing::get(token))
            .route("/_ui/{*rest}", axum::routing::post(ui))
            .fallback(forward)
            .with_state(state.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });

        // `http.host` makes the registry write the front's address into upload locations.
        let config = format!(
            "version: 0.1\nlog:\n  level: info\nstorage:\n  filesystem:\n    rootdirectory: {data}\n  delete:\n    enabled: true\nhttp:\n  addr: {addr}\n  host: http://{front}\nauth:\n  token:\n    realm: {token_url}\n    service: {service}\n    issuer: {issuer}\n    rootcertbundle: {cert}\n",
            data = dir.path().join("data").display(),
            service = state.service,
            issuer = state.issuer,
            cert = cert_path.display(),
            addr = runtime.listen_addr(),
        );
        let config_path = dir.path().join("config.yml");
        std::fs::write(&config_path, config).context("writing the registry config.yml")?;

        let access = std::fs::File::create(dir.path().join("access.log"))?;
        let log_path = dir.path().join("registry.log");
        let log = std::fs::File::create(&log_path)?;
        let binary = match &runtime {
            container::Runtime::Binary(b) => b.clone(),
            container::Runtime::Image(image) => {
                let (child, id, host) =
                    container::start(image, dir.path(), &config_path, access, log).await?;
                let mut harness = RegistryHarness {
                    host: front,
                    token_url,
                    user: opts.user,
                    password,
                    service: opts.service,
                    state,
                    child: Some(child),
                    container: Some(id),
                    server,
                    dir,
                };
                let backend = harness
                    .wait_listening(Duration::from_secs(30), Some(&host))
                    .await?;
                *harness
                    .state
                    .backend
                    .lock()
                    .unwrap_or_else(|e| e.into_inner()) = backend;
                return Ok(harness);
            }
        };
        // A clean environment: any inherited REGISTRY_* variable would override config.yml.
        let child = Command::new(&binary)
            .arg("serve")
            .arg(&config_path)
            .env_clear()
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::from(access))
            .stderr(Stdio::from(log))
            .spawn()
            .map_err(|e| {
                usage(format!(
                    "starting {} serve: {e}; install the registry with `apt-get install docker-registry`",
                    binary.display()
                ))
            })?;
        let mut harness = RegistryHarness {
            host: front,
            token_url,
            user: opts.user,
            password,
            service: opts.service,
            state,
            child: Some(child),
            container: None,
            server,
            dir,
        };
        let backend = harness
            .wait_listening(Duration::from_secs(10), None)
            .await?;
        *harness
            .state
            .backend
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = backend;
        Ok(harness)
    }

    /// Polls registry.log for `listening on 127.0.0.1:PORT`; in a container, for any
    /// `listening on`, and the address is the published port `mapped`.
    async fn wait_listening(
        &mut self,
        timeout: Duration,
        mapped: Option<&str>,
    ) -> anyhow::Result<String> {
        let log_path = self.dir.path().join("registry.log");
        let deadline = Instant::now() + timeout;
        loop {
            let log = std::fs::read_to_string(&log_path).unwrap_or_default();
            if let Some(addr) = log.lines().find_map(|l| {
                let rest = l.split("listening on ").nth(1)?;
                let addr: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == ':')
                    .collect();
                (addr.starts_with("127.0.0.1:") || mapped.is_some()).then_some(addr)
            }) {
                if let Some(host) = mapped {
                    return Ok(host.to_string());
                }
                return Ok(addr);
            }
            let exited = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            if let Some(status) = exited {
                return Err(external(format!(
                    "docker-registry exited ({status}) before listening; its log:\n{log}"
                )));
            }
            if Instant::now() > deadline {
                return Err(external(format!(
                    "docker-registry did not log `listening on` within {}s; its log:\n{log}",
                    timeout.as_secs()
                )));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The harness's temp dir (config.yml, signer.crt, access.log, registry.log, data/).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Test seeding, both ways: makes `repo` (`org/name`) anonymous-readable or not from the
    /// next token request on. ghcr.io itself only goes one way (`admin_make_public`).
    pub fn set_public(&self, repo: &str, public: bool) {
        let mut m = lock(&self.state);
        if public {
            m.public.insert(repo.to_string());
        } else {
            m.public.remove(repo);
        }
        if let Some(p) = m.packages.get_mut(repo) {
            p.public = public;
        }
    }

    /// What an org admin does on the package's settings page (Danger Zone → Change
    /// visibility → Public): one way, as on ghcr.io. The same as `POST /_ui/…/visibility`.
    pub fn admin_make_public(&self, repo: &str) -> anyhow::Result<()> {
        set_visibility(&self.state, repo, true).map_err(|(_, msg)| anyhow::anyhow!(msg))
    }

    /// Manage Actions access on the package's settings page: gives `repository` `role`
    /// (`None` removes it).
    pub fn set_actions_access(&self, repo: &str, repository: &str, role: Option<Role>) {
        let mut m = lock(&self.state);
        let exists = package_exists(&self.state.storage, repo);
        let p = match m.packages.get(repo).cloned() {
            Some(p) => p,
            None if exists => default_package(&m, repo),
            None => Package {
                public: m.public.contains(repo),
                linked: None,
                actions_access: BTreeMap::new(),
            },
        };
        let mut p = p;
        match role {
            Some(r) => p.actions_access.insert(repository.to_string(), r),
            None => p.actions_access.remove(repository),
        };
        m.packages.insert(repo.to_string(), p);
    }

    /// The settings of `repo` when it exists.
    pub fn package(&self, repo: &str) -> Option<Package> {
        let m = lock(&self.state);
        package_exists(&self.state.storage, repo).then(|| {
            m.packages
                .get(repo)
                .cloned()
                .unwrap_or_else(|| default_package(&m, repo))
        })
    }

    /// Tokens issued from now on live `d`.
    pub fn set_token_lifetime(&self, d: Duration) {
        lock(&self.state).lifetime = d;
    }

    /// Every token issued so far expires now (the next use answers 401).
    pub fn expire_tokens(&self) {
        let now = Instant::now();
        for t in lock(&self.state).issued.values_mut() {
            if t.principal.is_some() {
                t.expires = now;
            }
        }
    }

    /// Sees every package event (creation, pushes, visibility).
    pub fn on_package_event(&self, hook: PackageHook) {
        lock(&self.state).hook = Some(hook);
    }

    /// The next `n` token requests answer `status` (e.g. 503) instead of a token.
    pub fn fail_next_token_requests(&self, n: u32, status: u16) {
        lock(&self.state).token_faults = (n, status);
    }

    /// Injects faults into token requests and registry requests; `None` stops them.
    pub fn inject(&self, faults: Option<Faults>) {
        lock(&self.state).faults = faults.map(|f| (f, 0));
    }

    /// Token requests so far.
    pub fn token_counts(&self) -> TokenCounts {
        lock(&self.state).counts.clone()
    }

    /// What the front answered itself, by kind (`fault 429`, `expired-token`,
    /// `permission_denied`, `forwarded`, ...).
    pub fn front_counts(&self) -> BTreeMap<String, u64> {
        lock(&self.state).front_counts.clone()
    }

    /// Mints a token directly, for seeding and for clients that bring their own token. It is
    /// a harness token: no package policy applies to it, and it lives an hour.
    pub fn mint_token(&self, repo: &str, actions: &[&str]) -> anyhow::Result<Secret> {
        let access = vec![Access {
            typ: "repository".into(),
            name: repo.into(),
            actions: actions.iter().map(|a| a.to_string()).collect(),
        }];
        let jwt = mint(&self.state, &self.user, access, Duration::from_secs(3600))?;
        Ok(Secret::new(issue(
            &self.state,
            repo,
            jwt,
            None,
            Duration::from_secs(3600),
        )))
    }

    /// The current length of access.log, an offset for `access_log_lines_since`.
    pub fn access_log_offset(&self) -> u64 {
        std::fs::metadata(self.dir.path().join("access.log"))
            .map(|m| m.len())
            .unwrap_or(0)
    }

    /// Access-log lines written after `offset` (never truncate the log: the registry writes at
    /// its own offset). Waits briefly until the log stops growing, because the registry writes
    /// a line after it has answered.
    pub fn access_log_lines_since(&self, offset: u64) -> Vec<String> {
        let path = self.dir.path().join("access.log");
        let mut last = u64::MAX;
        for _ in 0..20 {
            let len = self.access_log_offset();
            if len == last {
                break;
            }
            last = len;
            std::thread::sleep(Duration::from_millis(25));
        }
        let mut text = String::new();
        if let Ok(mut f) = std::fs::File::open(&path)
            && f.seek(SeekFrom::Start(offset)).is_ok()
        {
            let _ = f.read_to_string(&mut text);
        }
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(str::to_string)
            .collect()
    }

    /// Registry requests after `offset`, by kind.
    pub fn requests_since(&self, offset: u64) -> RequestCounts {
        let mut counts = RequestCounts::default();
        for line in self.access_log_lines_since(offset) {
            let Some(kind) = request_kind(&line) else {
                continue;
            };
            counts.total += 1;
            *counts.by_kind.entry(kind).or_default() += 1;
        }
        counts
    }

    /// The registry's application log (auth failure reasons, panics).
    pub fn registry_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }
}

impl Drop for RegistryHarness {
    fn drop(&mut self) {
        self.server.abort();
        if let Some(id) = self.container.take() {
            container::remove(&id);
        }
        if let Some(mut child) = self.child.take() {
            // SIGTERM lets the registry close its files; SIGKILL only if it ignores it.
            crate::setup::signal(child.id(), crate::setup::SIGTERM);
            let deadline = Instant::now() + Duration::from_secs(3);
            loop {
                match child.try_wait() {
                    Ok(Some(_)) | Err(_) => break,
                    Ok(None) if Instant::now() > deadline => {
                        let _ = child.kill();
                        let _ = child.wait();
                        break;
                    }
                    Ok(None) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        }
    }
}

pub fn request_kind(line: &str) -> Option<String> {
    let req = line.split('"').nth(1)?;
    let mut parts = req.split_whitespace();
    let method = parts.next()?;
    let path = parts.next()?;
    let path = path.split('?').next().unwrap_or(path);
    let what = if path == "/v2/" || path == "/v2" {
        "/v2/"
    } else if path.contains("/manifests/") {
        "manifests"
    } else if path.contains("/blobs/uploads") {
        "blob uploads"
    } else if path.contains("/blobs/") {
        "blobs"
    } else if path.ends_with("/tags/list") {
        "tags/list"
    } else if path.starts_with("/v2/_catalog") {
        "catalog"
    } else {
        "other"
    };
    Some(format!("{method} {what}"))
}

#[derive(Debug, Clone, Serialize)]
struct Access {
    #[serde(rename = "type")]
    typ: String,
    name: String,
    actions: Vec<String>,
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    exp: u64,
    nbf: u64,
    iat: u64,
    jti: String,
    access: Vec<Access>,
}

fn mint(
    state: &TokenState,
    sub: &str,
    access: Vec<Access>,
    life: Duration,
) -> anyhow::Result<String> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let header = serde_json::json!({"typ": "JWT", "alg": "ES256", "kid": state.kid});
    // The JWT outlives the opaque token by the registry's leeway; the front enforces the
    // opaque token's lifetime, to the second.
    let claims = Claims {
        iss: &state.issuer,
        sub,
        aud: &state.service,
        exp: now + life.as_secs().max(1) + 120,
        nbf: now.saturating_sub(10),
        iat: now,
        jti: random_hex(12),
        access,
    };
    // A compact JWS (RFC 7515 §7.1): base64url(header) . base64url(claims) . base64url(sig).
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let signing_input = format!(
        "{}.{}",
        b64(&serde_json::to_vec(&header)?),
        b64(&serde_json::to_vec(&claims)?)
    );
    let sig = state
        .key
        .sign(&ring::rand::SystemRandom::new(), signing_input.as_bytes())
        .map_err(|e| anyhow::anyhow!("signing a registry token: {e}"))?;
    Ok(format!("{signing_input}.{}", b64(sig.as_ref())))
}

/// Records an issued token and returns its opaque form, `base64("v1:<repo>:<ns>")` as on
/// ghcr.io (with a sequence number, so two tokens in the same nanosecond differ).
fn issue(
    state: &TokenState,
    repo: &str,
    jwt: String,
    principal: Option<Principal>,
    life: Duration,
) -> String {
    let mut m = lock(state);
    m.issued_seq += 1;
    let ns = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let opaque = base64::engine::general_purpose::STANDARD
        .encode(format!("v1:{repo}:{ns}{:04}", m.issued_seq % 10_000));
    m.issued.insert(
        opaque.clone(),
        Issued {
            jwt,
            expires: Instant::now() + life,
            principal,
        },
    );
    opaque
}

fn count(state: &TokenState, kind: &str) {
    let mut m = lock(state);
    m.counts.total += 1;
    *m.counts.by_kind.entry(kind.to_string()).or_default() += 1;
}

fn count_front(state: &TokenState, kind: &str) {
    *lock(state)
        .front_counts
        .entry(kind.to_string())
        .or_default() += 1;
}

/// A registry error body in ghcr.io's shape (`code` and `message`, no `detail`).
fn json_error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = serde_json::json!({"errors": [{"code": code, "message": message}]});
    (status, axum::Json(body)).into_response()
}

const REQUESTED_ACCESS_DENIED: &str = "requested access to the resource is denied";

/// Whether `repo` exists in the registry's storage (a manifest was pushed to it).
fn package_exists(storage: &Path, repo: &str) -> bool {
    !repo.contains("..") && storage.join(repo).join("_manifests").is_dir()
}

/// Settings of a package that exists without recorded settings (seeded by a test): linked
/// to the world's repository, which has Write access; public when listed in `public`.
fn default_package(m: &Mutable, repo: &str) -> Package {
    Package {
        public: m.public.contains(repo),
        linked: Some(m.repository.clone()),
        actions_access: BTreeMap::from([(m.repository.clone(), Role::Write)]),
    }
}

/// Whether `principal` may read the existing package `p` (`repo`); `Err(message)` otherwise.
fn may_read(principal: &Principal, repo: &str, p: &Package) -> Result<(), &'static str> {
    if p.public {
        return Ok(());
    }
    match principal {
        Principal::Pat { .. } => Ok(()),
        Principal::ActionsToken { repository, .. } => {
            if p.actions_access.contains_key(repository) {
                Ok(())
            } else {
                Err("installation not allowed to Read organization package")
            }
        }
        Principal::Customer { package } if package == repo => Ok(()),
        Principal::Customer { .. } => Err(REQUESTED_ACCESS_DENIED),
    }
}

/// Whether `principal` may push to `repo` (`Some(p)` when it exists), as ghcr.io decides at
/// the write; `Err(message)` otherwise.
fn may_write(principal: &Principal, existing: Option<&Package>) -> Result<(), &'static str> {
    match (principal, existing) {
        (Principal::Pat { write: true }, _) => Ok(()),
        (Principal::Pat { write: false }, _) => Err("permission_denied: write_package"),
        (Principal::ActionsToken { write: false, .. }, None) => {
            Err("installation not allowed to Create organization package")
        }
        (Principal::ActionsToken { write: true, .. }, None) => Ok(()),
        (Principal::ActionsToken { repository, write }, Some(p)) => {
            if *write
                && p.actions_access
                    .get(repository)
                    .is_some_and(|r| *r >= Role::Write)
            {
                Ok(())
            } else {
                Err("permission_denied: write_package")
            }
        }
        (Principal::Customer { .. }, _) => Err("permission_denied: write_package"),
    }
}

/// A fault for this request, if one is due (`reads`: a token request, GET or HEAD).
fn due_fault(state: &TokenState, reads: bool, request: &str) -> Option<Faults> {
    let mut m = lock(state);
    let (f, seen) = m.faults.as_mut()?;
    if f.count == 0
        || (f.reads_only && !reads)
        || f.matching.as_deref().is_some_and(|w| !request.contains(w))
    {
        return None;
    }
    *seen += 1;
    if *seen % u64::from(f.every.max(1)) != 0 {
        return None;
    }
    f.count -= 1;
    Some(f.clone())
}

fn fault_response(f: &Faults, head: bool) -> Response {
    let status = StatusCode::from_u16(f.status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    let mut res = if status.as_u16() == 429 {
        // ghcr.io's body (falcosecurity/plugins#1069).
        json_error(
            status,
            "TOOMANYREQUESTS",
            "retry-after: 1.16676ms, allowed: 44000/minute",
        )
    } else {
        json_error(status, "UNAVAILABLE", "fault injected by the harness")
    };
    if head {
        *res.body_mut() = axum::body::Body::empty();
    }
    if let Some(ra) = &f.retry_after
        && let Ok(v) = HeaderValue::from_str(ra)
    {
        res.headers_mut().insert(header::RETRY_AFTER, v);
    }
    res
}

/// The principal of a Basic `Authorization` header: `Ok(None)` without one, `Err` for bad
/// credentials.
fn principal_of(state: &TokenState, headers: &HeaderMap) -> Result<Option<Principal>, ()> {
    let Some(auth) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return Ok(None);
    };
    let Some(b64) = auth
        .strip_prefix("Basic ")
        .or_else(|| auth.strip_prefix("basic "))
    else {
        return Err(());
    };
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .unwrap_or_default();
    let (name, pw) = decoded.split_once(':').unwrap_or(("", ""));
    // Like ghcr.io, the user name is not checked against the token; it must only exist.
    if name.is_empty() {
        return Err(());
    }
    lock(state).credentials.get(pw).cloned().map(Some).ok_or(())
}

/// `GET /token?service=..&scope=repository:NAME:ACTIONS[&scope=..]`: ghcr.io's policy (see the
/// module comment and docs/registry-standin.md).
async fn token(
    State(state): State<Arc<TokenState>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    {
        let mut m = lock(&state);
        if m.token_faults.0 > 0 {
            m.token_faults.0 -= 1;
            let status =
                StatusCode::from_u16(m.token_faults.1).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            drop(m);
            count(&state, "fault");
            return json_error(
                status,
                "UNAVAILABLE",
                "token service fault injected by the harness",
            );
        }
    }
    if let Some(f) = due_fault(&state, true, "GET /token") {
        count(&state, "fault");
        return fault_response(&f, false);
    }
    let principal = match principal_of(&state, &headers) {
        Ok(p) => p,
        Err(()) => {
            // ghcr.io: `denied: denied`, 403 (not the 401 the token spec asks for).
            count(&state, "bad-credentials");
            return json_error(StatusCode::FORBIDDEN, "DENIED", "denied");
        }
    };
    let mut scopes = Vec::new();
    for pair in query.as_deref().unwrap_or("").split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        if k == "scope" {
            let v = percent_decode(v);
            scopes.extend(v.split_whitespace().map(str::to_string));
        }
    }
    let mut access = Vec::new();
    let mut first_repo = String::new();
    for scope in scopes {
        let parts: Vec<&str> = scope.split(':').collect();
        if parts.len() < 3 || parts[0] != "repository" {
            continue;
        }
        let name = parts[1..parts.len() - 1].join(":");
        let wanted: Vec<String> = parts[parts.len() - 1]
            .split(',')
            .map(str::to_string)
            .collect();
        if first_repo.is_empty() {
            first_repo = name.clone();
        }
        let exists = package_exists(&state.storage, &name);
        let settings = {
            let m = lock(&state);
            exists.then(|| {
                m.packages
                    .get(&name)
                    .cloned()
                    .unwrap_or_else(|| default_package(&m, &name))
            })
        };
        let wants_push = wanted.iter().any(|a| a == "push");
        let granted: Vec<String> = match (&principal, &settings) {
            (None, Some(p)) if p.public && !wants_push => vec!["pull".into()],
            (None, Some(_)) => {
                count(&state, "anonymous-denied");
                return json_error(
                    StatusCode::UNAUTHORIZED,
                    "UNAUTHORIZED",
                    "authentication required",
                );
            }
            (None, None) => {
                count(&state, "absent");
                return json_error(StatusCode::FORBIDDEN, "DENIED", REQUESTED_ACCESS_DENIED);
            }
            (Some(who), Some(p)) => {
                if let Err(msg) = may_read(who, &name, p) {
                    count(&state, "access-denied");
                    return json_error(StatusCode::FORBIDDEN, "DENIED", msg);
                }
                // A push token is issued to whoever may write at all; the write itself is
                // where ghcr.io refuses (the front does).
                let can_push = matches!(
                    who,
                    Principal::Pat { write: true } | Principal::ActionsToken { write: true, .. }
                );
                wanted
                    .iter()
                    .filter(|a| *a == "pull" || (*a == "push" && can_push))
                    .cloned()
                    .collect()
            }
            (Some(who), None) => {
                // UNCONFIRMED for credentials on ghcr.io (probable): a pull-only token for a
                // package that does not exist is refused; a push token is issued to a
                // credential that may create packages, so the first push can create it.
                let can_create = may_write(who, None).is_ok();
                if !(wants_push && can_create) {
                    count(&state, "absent");
                    return json_error(StatusCode::FORBIDDEN, "DENIED", REQUESTED_ACCESS_DENIED);
                }
                wanted
                    .iter()
                    .filter(|a| *a == "pull" || *a == "push")
                    .cloned()
                    .collect()
            }
        };
        if !granted.is_empty() {
            access.push(Access {
                typ: "repository".into(),
                name,
                actions: granted,
            });
        }
    }
    let life = lock(&state).lifetime;
    let sub = match &principal {
        Some(Principal::ActionsToken { repository, .. }) => format!("actions:{repository}"),
        Some(Principal::Pat { .. }) => "operator".to_string(),
        Some(Principal::Customer { package }) => format!("customer:{package}"),
        None => String::new(),
    };
    let jwt = match mint(&state, &sub, access, life) {
        Ok(t) => t,
        Err(e) => {
            return json_error(StatusCode::INTERNAL_SERVER_ERROR, "UNKNOWN", &e.to_string());
        }
    };
    count(
        &state,
        if principal.is_some() {
            "authenticated"
        } else {
            "anonymous-granted"
        },
    );
    // ghcr.io's answer is only `{"token": …}`: opaque, no `expires_in`.
    let opaque = issue(&state, &first_repo, jwt, principal.clone(), life);
    (
        StatusCode::OK,
        axum::Json(serde_json::json!({"token": opaque})),
    )
        .into_response()
}

/// `org/name` of a `/v2/<name>/(manifests|blobs|tags)/…` path.
fn repo_of_path(path: &str) -> Option<String> {
    let rest = path.strip_prefix("/v2/")?;
    for marker in ["/manifests/", "/blobs/", "/tags/"] {
        if let Some(i) = rest.find(marker) {
            return Some(rest[..i].to_string());
        }
    }
    None
}

fn challenge(state: &TokenState, repo: Option<&str>) -> HeaderValue {
    let scope = repo
        .map(|r| format!(",scope=\"repository:{r}:pull\""))
        .unwrap_or_default();
    HeaderValue::from_str(&format!(
        "Bearer realm=\"http://{}/token\",service=\"{}\"{scope}",
        state.front, state.service
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("Bearer"))
}

const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Everything under `/v2/`: the policy at the write, token expiry, faults, then the registry.
async fn forward(State(state): State<Arc<TokenState>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let method = parts.method.clone();
    let path = parts.uri.path().to_string();
    let reads = method == Method::GET || method == Method::HEAD;
    let head = method == Method::HEAD;
    if let Some(f) = due_fault(&state, reads, &format!("{method} {path}")) {
        count_front(&state, &format!("fault {}", f.status));
        return fault_response(&f, head);
    }
    let repo = repo_of_path(&path);
    let mut headers = parts.headers.clone();
    // Swap the opaque token for the JWT the registry checks.
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(|t| t.trim().to_string());
    let mut principal = None;
    if let Some(t) = bearer {
        let issued = lock(&state).issued.get(&t).cloned();
        match issued {
            Some(i) if Instant::now() < i.expires => {
                if let Ok(v) = HeaderValue::from_str(&format!("Bearer {}", i.jwt)) {
                    headers.insert(header::AUTHORIZATION, v);
                }
                principal = i.principal;
            }
            _ => {
                count_front(&state, "expired-token");
                let mut res = json_error(
                    StatusCode::UNAUTHORIZED,
                    "UNAUTHORIZED",
                    "authentication required",
                );
                res.headers_mut()
                    .insert(header::WWW_AUTHENTICATE, challenge(&state, repo.as_deref()));
                if head {
                    *res.body_mut() = axum::body::Body::empty();
                }
                return res;
            }
        }
    }
    // ghcr.io issues the push token and refuses at the write.
    let writes = !reads;
    let mut creates: Option<(String, Principal)> = None;
    if let (true, Some(repo), Some(who)) = (writes, &repo, &principal) {
        let exists = package_exists(&state.storage, repo);
        let settings = {
            let m = lock(&state);
            exists.then(|| {
                m.packages
                    .get(repo)
                    .cloned()
                    .unwrap_or_else(|| default_package(&m, repo))
            })
        };
        if method == Method::DELETE {
            count_front(&state, "permission_denied");
            return json_error(
                StatusCode::FORBIDDEN,
                "DENIED",
                "permission_denied: delete_package (delete versions through the Packages API)",
            );
        }
        if let Err(msg) = may_write(who, settings.as_ref()) {
            count_front(&state, "permission_denied");
            return json_error(StatusCode::FORBIDDEN, "DENIED", msg);
        }
        if settings.is_none() && path.contains("/manifests/") && method == Method::PUT {
            creates = Some((repo.clone(), who.clone()));
        }
    }
    let backend = state
        .backend
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let url = format!(
        "http://{backend}{}",
        parts
            .uri
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/")
    );
    let Ok(m) = reqwest::Method::from_bytes(method.as_str().as_bytes()) else {
        return json_error(StatusCode::METHOD_NOT_ALLOWED, "UNSUPPORTED", "method");
    };
    let mut rb = state.http.request(m, &url);
    for (k, v) in headers.iter() {
        if k == header::HOST || HOP_BY_HOP.contains(&k.as_str()) {
            continue;
        }
        rb = rb.header(k.as_str(), v.as_bytes());
    }
    rb = rb.header("host", state.front.as_str());
    let body = reqwest::Body::wrap_stream(body.into_data_stream());
    let res = match rb.body(body).send().await {
        Ok(r) => r,
        Err(e) => {
            count_front(&state, "backend-error");
            return json_error(
                StatusCode::BAD_GATEWAY,
                "UNAVAILABLE",
                &format!("the registry behind the front failed: {e}"),
            );
        }
    };
    count_front(&state, "forwarded");
    let status = StatusCode::from_u16(res.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let mut out = HeaderMap::new();
    for (k, v) in res.headers() {
        if HOP_BY_HOP.contains(&k.as_str()) {
            continue;
        }
        if let (Ok(name), Ok(value)) = (
            header::HeaderName::from_bytes(k.as_str().as_bytes()),
            HeaderValue::from_bytes(v.as_bytes()),
        ) {
            out.append(name, value);
        }
    }
    // A manifest PUT that worked: the package exists now. Record what ghcr.io records and
    // tell the hook.
    if status.is_success()
        && method == Method::PUT
        && path.contains("/manifests/")
        && let Some(repo) = &repo
    {
        let reference = path.rsplit('/').next().unwrap_or("").to_string();
        let digest = out
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let (hook, created) = {
            let mut m = lock(&state);
            let created = match creates {
                Some((_, who)) if !m.packages.contains_key(repo) => {
                    let p = match &who {
                        // "The package inherits the visibility and permissions model of
                        // the repository where the workflow is run" (private here), and
                        // the repository gets access to it.
                        Principal::ActionsToken { repository, .. } => Package {
                            public: m.public.contains(repo),
                            linked: Some(repository.clone()),
                            actions_access: BTreeMap::from([(repository.clone(), Role::Write)]),
                        },
                        // Pushed by hand: private, linked to nothing, and no repository's
                        // workflow may write it until an admin grants access.
                        _ => Package {
                            public: m.public.contains(repo),
                            linked: None,
                            actions_access: BTreeMap::new(),
                        },
                    };
                    m.packages.insert(repo.clone(), p.clone());
                    Some(p)
                }
                _ => None,
            };
            (m.hook.clone(), created)
        };
        if let Some(hook) = hook {
            if let Some(p) = created {
                hook(&PackageEvent::Created {
                    name: repo.clone(),
                    package: p,
                });
            }
            hook(&PackageEvent::Pushed {
                name: repo.clone(),
                digest,
                reference,
            });
        }
    }
    let body = if head {
        axum::body::Body::empty()
    } else {
        axum::body::Body::from_stream(res.bytes_stream())
    };
    let mut response = (status, out, body).into_response();
    if head {
        // Keep the registry's Content-Length on HEAD (docker reads blob sizes from it).
        if let Some(len) = res_len(&response) {
            response.headers_mut().insert(header::CONTENT_LENGTH, len);
        }
    }
    response
}

fn res_len(res: &Response) -> Option<HeaderValue> {
    res.headers().get(header::CONTENT_LENGTH).cloned()
}

fn set_visibility(
    state: &TokenState,
    repo: &str,
    public: bool,
) -> Result<(), (StatusCode, String)> {
    if !package_exists(&state.storage, repo) {
        return Err((
            StatusCode::NOT_FOUND,
            format!("package {repo} does not exist"),
        ));
    }
    let hook = {
        let mut m = lock(state);
        let mut p = m
            .packages
            .get(repo)
            .cloned()
            .unwrap_or_else(|| default_package(&m, repo));
        if p.public && !public {
            return Err((
                StatusCode::UNPROCESSABLE_ENTITY,
                format!(
                    "{repo} is public: once you make your package public, you cannot make it private again"
                ),
            ));
        }
        p.public = public;
        m.packages.insert(repo.to_string(), p);
        if public {
            m.public.insert(repo.to_string());
        }
        m.hook.clone()
    };
    if let Some(hook) = hook {
        hook(&PackageEvent::Visibility {
            name: repo.to_string(),
            public,
        });
    }
    Ok(())
}

/// `POST /_ui/orgs/{org}/packages/container/{name}/visibility` with `{"visibility":"public"}`
/// and `POST /_ui/orgs/{org}/packages/container/{name}/actions-access` with
/// `{"repository":"owner/name","role":"write"}`: what an org admin clicks on the package's
/// settings page. Needs the operator's PAT (an org admin). No such API exists on GitHub; this
/// stands in for the web UI, and only the harness has it.
async fn ui(State(state): State<Arc<TokenState>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let headers = parts.headers.clone();
    match principal_of(&state, &headers) {
        Ok(Some(Principal::Pat { write: true })) => {}
        _ => {
            return json_error(
                StatusCode::FORBIDDEN,
                "DENIED",
                "only an org admin (the operator PAT) may change package settings",
            );
        }
    }
    let path = parts.uri.path().to_string();
    let Some(rest) = path.strip_prefix("/_ui/orgs/") else {
        return json_error(StatusCode::NOT_FOUND, "NOT_FOUND", "no such page");
    };
    let Some((org, rest)) = rest.split_once("/packages/container/") else {
        return json_error(StatusCode::NOT_FOUND, "NOT_FOUND", "no such page");
    };
    let (name, what) = match rest.rsplit_once('/') {
        Some((n, w)) => (percent_decode(n), w.to_string()),
        None => return json_error(StatusCode::NOT_FOUND, "NOT_FOUND", "no such page"),
    };
    let repo = format!("{org}/{name}");
    let bytes = axum::body::to_bytes(body, 1 << 16)
        .await
        .unwrap_or_default();
    let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    match what.as_str() {
        "visibility" => {
            let public = match v.get("visibility").and_then(|x| x.as_str()) {
                Some("public") => true,
                Some("private") => false,
                _ => {
                    return json_error(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "INVALID",
                        "visibility must be \"public\" or \"private\"",
                    );
                }
            };
            match set_visibility(&state, &repo, public) {
                Ok(()) => (
                    StatusCode::OK,
                    axum::Json(serde_json::json!({"package": repo, "visibility": if public {"public"} else {"private"}})),
                )
                    .into_response(),
                Err((status, msg)) => json_error(status, "DENIED", &msg),
            }
        }
        "actions-access" => {
            let (Some(r), role) = (
                v.get("repository").and_then(|x| x.as_str()),
                v.get("role").and_then(|x| x.as_str()),
            ) else {
                return json_error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "INVALID",
                    "repository is required",
                );
            };
            let role = match role {
                Some("read") => Some(Role::Read),
                Some("write") => Some(Role::Write),
                Some("admin") => Some(Role::Admin),
                Some("none") | None => None,
                Some(_) => {
                    return json_error(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "INVALID",
                        "role must be read, write, admin or none",
                    );
                }
            };
            if !package_exists(&state.storage, &repo) {
                return json_error(
                    StatusCode::NOT_FOUND,
                    "NOT_FOUND",
                    &format!("package {repo} does not exist"),
                );
            }
            let mut m = lock(&state);
            let mut p = m
                .packages
                .get(&repo)
                .cloned()
                .unwrap_or_else(|| default_package(&m, &repo));
            match role {
                Some(role) => p.actions_access.insert(r.to_string(), role),
                None => p.actions_access.remove(r),
            };
            m.packages.insert(repo.clone(), p);
            (
                StatusCode::OK,
                axum::Json(serde_json::json!({"package": repo})),
            )
                .into_response()
        }
        _ => json_error(StatusCode::NOT_FOUND, "NOT_FOUND", "no such page"),
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match u8::from_str_radix(
                    std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or(""),
                    16,
                ) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The libtrust key id: SHA-256 of the DER SubjectPublicKeyInfo, first 30 bytes, base32
/// (RFC 4648, no padding), in 12 groups of 4 joined by `:`.
pub(crate) fn libtrust_kid(spki_der: &[u8]) -> String {
    let h = sha2::Sha256::digest(spki_der);
    let s = base32(&h[..30]);
    s.as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(":")
}

fn base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::new();
    let mut buffer: u32 = 0;
    let mut bits = 0;
    for &b in bytes {
        buffer = (buffer << 8) | b as u32;
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((buffer >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}

fn random_hex(n: usize) -> String {
    // Good enough for a jti and a throwaway password: the std hasher is randomly keyed.
    use std::hash::{BuildHasher, Hasher};
    let mut out = String::new();
    while out.len() < n * 2 {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0),
        );
        out.push_str(&format!("{:016x}", h.finish()));
    }
    out.truncate(n * 2);
    out
}

fn random_password() -> Secret {
    Secret::new(format!("ghp_{}", random_hex(18)))
}

mod container;

fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base32_matches_rfc4648() {
        assert_eq!(base32(b"foobar"), "MZXW6YTBOI");
        assert_eq!(base32(b"f"), "MY");
    }

    #[test]
    fn kid_has_twelve_groups() {
        let kid = libtrust_kid(b"anything");
        assert_eq!(kid.split(':').count(), 12);
        assert!(kid.split(':').all(|g| g.len() == 4));
    }

    #[test]
    fn request_kinds() {
        let line = r#"127.0.0.1 - - [d] "HEAD /v2/org/x/manifests/1.0 HTTP/1.1" 200 527 "" "ua""#;
        assert_eq!(request_kind(line).as_deref(), Some("HEAD manifests"));
        let line = r#"127.0.0.1 - - [d] "GET /v2/ HTTP/1.1" 401 87 "" "ua""#;
        assert_eq!(request_kind(line).as_deref(), Some("GET /v2/"));
    }
}
