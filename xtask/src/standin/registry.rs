//! A GHCR-like registry on a loopback port: the CNCF distribution registry (`docker-registry`)
//! as a child process, behind a token service of ours that follows ghcr.io's policy.
//!
//! The token service runs in-process (axum on 127.0.0.1:0) and mints ES256 JWTs whose `kid` is
//! the libtrust fingerprint of a self-signed certificate that the registry trusts through
//! `rootcertbundle`. Its policy is ghcr.io's: valid Basic credentials (any user name, the right
//! password, as with a GitHub token) get every action asked for; anonymous callers get `pull`
//! on repositories marked public and a 401 from `/token` for anything else.
//!
//! Tests and `cargo xtask release --rehearse` use it: they can flip a repository public at
//! runtime, count token requests by kind and registry requests from the access log, and make
//! the token service fail on purpose. Everything lives in a temp dir that is removed, and the
//! registry is stopped with SIGTERM, when the harness is dropped.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde::Serialize;
use sha2::Digest;

use crate::exit::{external, usage};
use crate::secrets::Secret;

/// How to start the harness. `Default` gives a user `aisopsflow-ci`, a random password and no
/// public repositories.
#[derive(Debug, Clone)]
pub struct HarnessOptions {
    /// The user name the harness reports; any user name is accepted, like ghcr.io.
    pub user: String,
    /// The password (a GitHub token, for ghcr.io); random when `None`.
    pub password: Option<Secret>,
    /// Repositories (`org/name`) anonymous callers may pull.
    pub public: Vec<String>,
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
            public: Vec::new(),
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
    /// `authenticated`, `anonymous-granted`, `anonymous-denied`, `bad-credentials`, `fault`.
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

struct TokenState {
    issuer: String,
    service: String,
    password: Secret,
    kid: String,
    /// The ES256 signing key (ring; the JWS signature is the fixed-width `r || s`).
    key: ring::signature::EcdsaKeyPair,
    inner: Mutex<Mutable>,
}

#[derive(Default)]
struct Mutable {
    public: BTreeSet<String>,
    /// The next `faults.0` token requests answer `faults.1`.
    faults: (u32, u16),
    counts: TokenCounts,
}

/// A running registry and token service. Dropping it stops both and removes the temp dir.
pub struct RegistryHarness {
    /// `127.0.0.1:PORT` of the registry (plain http).
    pub host: String,
    /// The token endpoint (`http://127.0.0.1:PORT/token`), the challenge's realm.
    pub token_url: String,
    pub user: String,
    pub password: Secret,
    pub service: String,
    state: Arc<TokenState>,
    child: Option<Child>,
    /// The container the registry runs in, when it runs as an image (`container`).
    container: Option<String>,
    server: tokio::task::JoinHandle<()>,
    dir: tempfile::TempDir,
}

/// The name the brief uses for the running harness.
pub type Harness = RegistryHarness;

impl RegistryHarness {
    /// Starts the token service and the registry. Fails with the install command when the
    /// `docker-registry` binary is missing, and with the registry's log when it does not start.
    /// Call it inside a tokio runtime: the token service is a task on it.
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

        let password = opts.password.clone().unwrap_or_else(random_password);
        let state = Arc::new(TokenState {
            issuer: "aisopsflow-token-service".into(),
            service: opts.service.clone(),
            password: password.clone(),
            kid,
            key,
            inner: Mutex::new(Mutable {
                public: opts.public.iter().cloned().collect(),
                ..Mutable::default()
            }),
        });

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding the token service to 127.0.0.1:0")?;
        let token_addr = listener.local_addr()?;
        let app = axum::Router::new()
            .route("/token", axum::routing::get(token))
            .with_state(state.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        let token_url = format!("http://{token_addr}/token");

        let config = format!(
            "version: 0.1\nlog:\n  level: info\nstorage:\n  filesystem:\n    rootdirectory: {data}\n  delete:\n    enabled: true\nhttp:\n  addr: {addr}\nauth:\n  token:\n    realm: {token_url}\n    service: {service}\n    issuer: {issuer}\n    rootcertbundle: {cert}\n",
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
                    host: String::new(),
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
                harness
                    .wait_listening(Duration::from_secs(30), Some(&host))
                    .await?;
                harness.host = host;
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
            host: String::new(),
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
        harness.host = harness
            .wait_listening(Duration::from_secs(10), None)
            .await?;
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

    /// Makes `repo` (`org/name`) anonymous-readable or not, from the next token request on.
    pub fn set_public(&self, repo: &str, public: bool) {
        let mut m = self.state.inner.lock().unwrap_or_else(|e| e.into_inner());
        if public {
            m.public.insert(repo.to_string());
        } else {
            m.public.remove(repo);
        }
    }

    /// The next `n` token requests answer `status` (e.g. 503) instead of a token.
    pub fn fail_next_token_requests(&self, n: u32, status: u16) {
        let mut m = self.state.inner.lock().unwrap_or_else(|e| e.into_inner());
        m.faults = (n, status);
    }

    /// Token requests so far.
    pub fn token_counts(&self) -> TokenCounts {
        self.state
            .inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .counts
            .clone()
    }

    /// Mints a token directly, for seeding and for clients that bring their own token.
    pub fn mint_token(&self, repo: &str, actions: &[&str]) -> anyhow::Result<Secret> {
        let access = vec![Access {
            typ: "repository".into(),
            name: repo.into(),
            actions: actions.iter().map(|a| a.to_string()).collect(),
        }];
        Ok(Secret::new(mint(&self.state, &self.user, access)?))
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
        if let Ok(mut f) = std::fs::File::open(&path) {
            if f.seek(SeekFrom::Start(offset)).is_ok() {
                let _ = f.read_to_string(&mut text);
            }
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

/// `"HEAD /v2/org/x/manifests/1.0 HTTP/1.1" 200` → `HEAD manifests`.
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

fn mint(state: &TokenState, sub: &str, access: Vec<Access>) -> anyhow::Result<String> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let header = serde_json::json!({"typ": "JWT", "alg": "ES256", "kid": state.kid});
    let claims = Claims {
        iss: &state.issuer,
        sub,
        aud: &state.service,
        exp: now + 300,
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

fn json_error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = serde_json::json!({"errors": [{"code": code, "message": message}]});
    (
        status,
        [(header::WWW_AUTHENTICATE, "Basic realm=\"token\"")],
        axum::Json(body),
    )
        .into_response()
}

/// `GET /token?service=..&scope=repository:NAME:ACTIONS[&scope=..]`, as in section 4 of the
/// registry reference.
async fn token(
    State(state): State<Arc<TokenState>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let count = |kind: &str| {
        let mut m = state.inner.lock().unwrap_or_else(|e| e.into_inner());
        m.counts.total += 1;
        *m.counts.by_kind.entry(kind.to_string()).or_default() += 1;
    };
    {
        let mut m = state.inner.lock().unwrap_or_else(|e| e.into_inner());
        if m.faults.0 > 0 {
            m.faults.0 -= 1;
            let status =
                StatusCode::from_u16(m.faults.1).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            drop(m);
            count("fault");
            return json_error(
                status,
                "UNAVAILABLE",
                "token service fault injected by the harness",
            );
        }
    }
    let mut user = None;
    if let Some(auth) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        if let Some(b64) = auth
            .strip_prefix("Basic ")
            .or_else(|| auth.strip_prefix("basic "))
        {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .unwrap_or_default();
            let (name, pw) = decoded.split_once(':').unwrap_or(("", ""));
            // Like ghcr.io, the user name is not checked against the token; it must only exist.
            if name.is_empty() || pw != state.password.expose() {
                count("bad-credentials");
                return json_error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", "bad credentials");
            }
            user = Some(name.to_string());
        }
    }
    let mut scopes = Vec::new();
    for pair in query.as_deref().unwrap_or("").split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        if k == "scope" {
            let v = percent_decode(v);
            scopes.extend(v.split_whitespace().map(str::to_string));
        }
    }
    let public = state
        .inner
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .public
        .clone();
    let mut access = Vec::new();
    let mut denied = false;
    for scope in scopes {
        let parts: Vec<&str> = scope.split(':').collect();
        if parts.len() < 3 {
            continue;
        }
        let typ = parts[0];
        let name = parts[1..parts.len() - 1].join(":");
        let wanted: Vec<String> = parts[parts.len() - 1]
            .split(',')
            .map(str::to_string)
            .collect();
        let granted: Vec<String> = if user.is_some() {
            wanted.clone()
        } else if typ == "repository" && public.contains(&name) {
            wanted.iter().filter(|a| *a == "pull").cloned().collect()
        } else {
            Vec::new()
        };
        denied |= granted.len() < wanted.len();
        if !granted.is_empty() {
            access.push(Access {
                typ: typ.to_string(),
                name,
                actions: granted,
            });
        }
    }
    if user.is_none() && denied {
        // ghcr.io answers an anonymous token request for a private or unknown package with 401.
        count("anonymous-denied");
        return json_error(
            StatusCode::UNAUTHORIZED,
            "UNAUTHORIZED",
            "authentication required",
        );
    }
    let jwt = match mint(&state, user.as_deref().unwrap_or(""), access) {
        Ok(t) => t,
        Err(e) => {
            return json_error(StatusCode::INTERNAL_SERVER_ERROR, "UNKNOWN", &e.to_string());
        }
    };
    count(if user.is_some() {
        "authenticated"
    } else {
        "anonymous-granted"
    });
    let body = serde_json::json!({
        "token": jwt, "access_token": jwt, "expires_in": 300,
        "issued_at": "1970-01-01T00:00:00Z",
    });
    (StatusCode::OK, axum::Json(body)).into_response()
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
pub fn libtrust_kid(spki_der: &[u8]) -> String {
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
