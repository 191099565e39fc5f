//! The registry adapter: digests, tags, image metadata and anonymous-pull probes against an
//! OCI registry with GHCR-style bearer-token auth (ghcr.io, or the local stand-in).
//!
//! Request pattern, and why it is not all oci-client: oci-client starts every token fetch with
//! a `GET /v2/` ping and keeps one stored credential per registry, so resolving 18 tags of six
//! repositories would cost six pings on top of the tokens and HEADs. We therefore do the token
//! dance ourselves with reqwest (the same hyper/rustls stack oci-client uses): one ping per
//! registry to learn the realm, one token per repository (cached; concurrent callers share the
//! request), then one `HEAD` per tag with the full Accept list. Doing the token request
//! ourselves also surfaces the token service's real answer, which oci-client swallows (a
//! wrong password and a private repository both become `Not authorized` there). The tokens are
//! handed to oci-client (through its token cache), which reads blobs and lists tags.
//!
//! Manifests are read with GET only when needed (an index, metadata, or a HEAD without
//! `Docker-Content-Digest`), and their body is checked against the digest header: a registry
//! that serves a body which does not hash to its digest is an error, never a silent pass.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use base64::Engine;
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::secrets::RegistryAuth;
use oci_client::token_cache::{RegistryToken, RegistryTokenType};
use oci_client::{Reference, RegistryOperation};
use serde::Serialize;
use sha2::Digest;
use tokio::sync::OnceCell;

use crate::exit::{external, usage};
use crate::secrets::Secret;

pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";

/// Every manifest type we handle. Without the index types a registry may answer with one
/// platform's manifest (a different digest) or 404.
pub const MANIFEST_ACCEPT: [&str; 4] = [OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST];

const TIMEOUT: Duration = Duration::from_secs(30);

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
    pub fn discover(host: &str) -> anyhow::Result<Credentials> {
        for var in crate::effects::github::TOKEN_VARS {
            if let Ok(token) = std::env::var(var) {
                if !token.trim().is_empty() {
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
        }
        Credentials::from_docker_config(host)
    }

    /// The docker config's credentials for `host` (`$DOCKER_CONFIG/config.json`, else
    /// `~/.docker/config.json`), else anonymous.
    pub fn from_docker_config(host: &str) -> anyhow::Result<Credentials> {
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

    fn auth(&self) -> RegistryAuth {
        match self {
            Credentials::Anonymous => RegistryAuth::Anonymous,
            Credentials::Basic { user, password, .. } => {
                RegistryAuth::Basic(user.clone(), password.expose().to_string())
            }
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
pub fn convert_to_hostname(key: &str) -> String {
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
            if host.matches(':').count() > 1 {
                if let Some((addr, port)) = host.rsplit_once(':') {
                    if !addr.is_empty()
                        && !port.is_empty()
                        && port.bytes().all(|b| b.is_ascii_digit())
                    {
                        return format!("[{addr}]:{port}");
                    }
                }
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
    pub fn is_attestation(&self) -> bool {
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

/// What an anonymous pull attempt showed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AnonymousProbe {
    pub repository: String,
    pub allowed: bool,
    /// The answers that prove it, e.g. `GET /token -> 401 UNAUTHORIZED`.
    pub evidence: String,
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

type TokenCell = Arc<OnceCell<Option<Secret>>>;

/// A client for one registry host.
pub struct RegistryClient {
    host: String,
    scheme: &'static str,
    creds: Credentials,
    http: reqwest::Client,
    oci: oci_client::Client,
    challenge: OnceCell<Option<Challenge>>,
    tokens: Mutex<HashMap<String, TokenCell>>,
    indexes: Mutex<HashMap<String, Arc<OnceCell<Vec<IndexEntry>>>>>,
}

/// Loopback hosts get plain http, everything else https.
pub fn is_loopback(host: &str) -> bool {
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

fn net_err(host: &str, what: &str, e: reqwest::Error) -> anyhow::Error {
    external(format!(
        "{what} at {host}: {e}; check that the registry is reachable (AISOPSFLOW_REGISTRY overrides the host from release.toml)"
    ))
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
        let oci = oci_client::Client::new(ClientConfig {
            protocol: if loopback {
                ClientProtocol::HttpsExcept(vec![host.to_string()])
            } else {
                ClientProtocol::Https
            },
            read_timeout: Some(TIMEOUT),
            connect_timeout: Some(Duration::from_secs(10)),
            ..Default::default()
        });
        Ok(RegistryClient {
            host: host.to_string(),
            scheme: if loopback { "http" } else { "https" },
            creds,
            http,
            oci,
            challenge: OnceCell::new(),
            tokens: Mutex::new(HashMap::new()),
            indexes: Mutex::new(HashMap::new()),
        })
    }

    /// A client for the configured registry with discovered credentials.
    pub fn for_host(host: &str) -> anyhow::Result<RegistryClient> {
        RegistryClient::new(host, Credentials::discover(host)?)
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn credentials_source(&self) -> String {
        self.creds.source()
    }

    fn url(&self, path: &str) -> String {
        format!("{}://{}{path}", self.scheme, self.host)
    }

    /// One `GET /v2/` per client: the realm and service of the Bearer challenge, or `None`
    /// when the registry needs no auth.
    async fn challenge(&self) -> anyhow::Result<Option<Challenge>> {
        self.challenge
            .get_or_try_init(|| async {
                let url = self.url("/v2/");
                let res = self
                    .http
                    .get(&url)
                    .send()
                    .await
                    .map_err(|e| net_err(&self.host, "GET /v2/", e))?;
                let Some(h) = res.headers().get(reqwest::header::WWW_AUTHENTICATE) else {
                    if res.status().is_success() {
                        return Ok(None);
                    }
                    return Err(external(format!(
                        "GET {url} answered {} without a WWW-Authenticate challenge; is {} an OCI registry?",
                        res.status(),
                        self.host
                    )));
                };
                let h = h.to_str().unwrap_or("").to_string();
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

    /// Requests a pull token for `repo`. `Ok(Err(answer))` when the token service refused.
    async fn request_token(
        &self,
        repo: &str,
        anonymous: bool,
    ) -> anyhow::Result<Result<Option<Secret>, String>> {
        self.request_token_for(repo, anonymous, "pull").await
    }

    /// Requests a token for `repo` with `actions` (`pull` or `pull,push`).
    async fn request_token_for(
        &self,
        repo: &str,
        anonymous: bool,
        actions: &str,
    ) -> anyhow::Result<Result<Option<Secret>, String>> {
        let Some(ch) = self.challenge().await? else {
            return Ok(Ok(None));
        };
        let mut req = self.http.get(&ch.realm);
        let scope = format!("repository:{repo}:{actions}");
        let mut query = vec![("scope", scope.as_str())];
        if let Some(s) = &ch.service {
            query.push(("service", s.as_str()));
        }
        req = req.query(&query);
        if let (false, Credentials::Basic { user, password, .. }) = (anonymous, &self.creds) {
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
            req = req.basic_auth(user, Some(password.expose()));
        }
        let res = req
            .send()
            .await
            .map_err(|e| net_err(&self.host, "requesting a registry token", e))?;
        let status = res.status();
        let body = res.text().await.unwrap_or_default();
        if status.is_success() {
            let v: serde_json::Value = serde_json::from_str(&body).map_err(|e| {
                external(format!(
                    "reading the token for {repo} from the token service {}: {e}; the answer is not JSON (a proxy or captive portal?): check that AISOPSFLOW_REGISTRY names the registry",
                    ch.realm
                ))
            })?;
            let token = v
                .get("token")
                .or_else(|| v.get("access_token"))
                .and_then(|t| t.as_str())
                .ok_or_else(|| {
                    external(format!(
                        "the token service {} answered without a token",
                        ch.realm
                    ))
                })?;
            return Ok(Ok(Some(Secret::new(token))));
        }
        if status.is_server_error() || status.as_u16() == 429 {
            return Err(external(format!(
                "the token service {} answered {status} for {repo}: {}; retry later",
                ch.realm,
                crate::secrets::redact_all(body.trim())
            )));
        }
        Ok(Err(format!(
            "GET /token (scope {scope}) -> {status} {}",
            body.trim()
        )))
    }

    /// The pull token for `repo` with our credentials, requested once per repository.
    async fn token(&self, repo: &str) -> anyhow::Result<Option<Secret>> {
        let cell = {
            let mut map = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
            map.entry(repo.to_string()).or_default().clone()
        };
        cell.get_or_try_init(|| async {
            match self.request_token(repo, false).await? {
                Ok(token) => {
                    if let Some(t) = &token {
                        // Hand the token to oci-client, so its blob and tag reads need no ping
                        // and no token request of their own.
                        let reference = Reference::with_tag(self.host.clone(), repo.to_string(), "latest".into());
                        self.oci
                            .store_auth_if_needed(&self.host, &self.creds.auth())
                            .await;
                        self.oci
                            .tokens
                            .insert(
                                &reference,
                                RegistryOperation::Pull,
                                RegistryTokenType::Bearer(RegistryToken::Token {
                                    token: t.expose().to_string(),
                                }),
                            )
                            .await;
                    }
                    Ok(token)
                }
                Err(answer) => Err(match &self.creds {
                    Credentials::Anonymous => usage(format!(
                        "pulling {}/{repo} anonymously was refused ({answer}); it is private or missing: set GITHUB_TOKEN to a token with read:packages, or `docker login {}`",
                        self.host, self.host
                    )),
                    Credentials::Basic { source, .. } => usage(format!(
                        "the registry refused the credentials from {source} for {}/{repo} ({answer}); use a token with read:packages (`gh auth refresh -s read:packages`) or `docker login {}`",
                        self.host, self.host
                    )),
                }),
            }
        })
        .await
        .cloned()
    }

    /// Sends `method` for `repo:reference`'s manifest with the full Accept list and the
    /// repository's pull token.
    async fn manifest_request(
        &self,
        method: reqwest::Method,
        repo: &str,
        reference: &str,
    ) -> anyhow::Result<reqwest::Response> {
        let token = self.token(repo).await?;
        let url = self.url(&format!("/v2/{repo}/manifests/{reference}"));
        let mut req = self
            .http
            .request(method.clone(), &url)
            .header(reqwest::header::ACCEPT, MANIFEST_ACCEPT.join(", "));
        if let Some(t) = &token {
            req = req.bearer_auth(t.expose());
        }
        req.send().await.map_err(|e| {
            net_err(
                &self.host,
                &format!("{method} manifest {repo}:{reference}"),
                e,
            )
        })
    }

    /// Resolves `repo:reference` to its digest with one HEAD. `None` when the tag (or the
    /// repository) does not exist. For an index, also reads its entries once per digest.
    pub async fn resolve(&self, repo: &str, reference: &str) -> anyhow::Result<Option<Resolved>> {
        let res = self
            .manifest_request(reqwest::Method::HEAD, repo, reference)
            .await?;
        let status = res.status();
        if status.as_u16() == 404 {
            return Ok(None);
        }
        check_status(status, &self.host, repo, reference, &self.creds)?;
        let header = |name: &str| {
            res.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(|s| s.split(';').next().unwrap_or(s).trim().to_string())
                .filter(|s| !s.is_empty())
        };
        let (digest, media_type) = match header("docker-content-digest") {
            Some(d) => (d, header("content-type").unwrap_or_default()),
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

    /// Resolves many `(repo, reference)` pairs concurrently, in order.
    pub async fn resolve_all(
        &self,
        refs: &[(String, String)],
    ) -> Vec<anyhow::Result<Option<Resolved>>> {
        futures_util::future::join_all(refs.iter().map(|(r, t)| self.resolve(r, t))).await
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
        let status = res.status();
        if status.as_u16() == 404 {
            return Err(crate::exit::policy(format!(
                "manifest {}/{repo}:{reference} not found",
                self.host
            )));
        }
        check_status(status, &self.host, repo, reference, &self.creds)?;
        let header_digest = res
            .headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let media_type = res
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.split(';').next().unwrap_or(s).trim().to_string())
            .unwrap_or_default();
        if !is_manifest_type(&media_type) {
            return Err(not_a_manifest(&self.host, repo, reference, &media_type));
        }
        let body = res.bytes().await.map_err(|e| {
            net_err(
                &self.host,
                &format!("reading manifest {repo}:{reference}"),
                e,
            )
        })?;
        let actual = sha256_digest(&body);
        if let Some(h) = &header_digest {
            if h.starts_with("sha256:") && *h != actual {
                return Err(crate::exit::policy(format!(
                    "the registry served a manifest whose body does not match its digest: {}/{repo}:{reference} has Docker-Content-Digest {h}, but its body hashes to {actual}; do not trust this registry's answer (check for a proxy or cache in between)",
                    self.host
                )));
            }
        }
        if reference.starts_with("sha256:") && reference != actual {
            return Err(crate::exit::policy(format!(
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
    pub async fn retag(&self, repo: &str, digest: &str, tag: &str) -> anyhow::Result<String> {
        let (body, got, media_type) = self.manifest(repo, digest).await?;
        if got != digest {
            return Err(crate::exit::policy(format!(
                "{}/{repo}@{digest} resolved to {got}; refusing to tag it",
                self.host
            )));
        }
        let token = match self.request_token_for(repo, false, "pull,push").await? {
            Ok(t) => t,
            Err(answer) => {
                return Err(usage(format!(
                    "the registry refused push access to {}/{repo} with the credentials from {} ({answer}); publish needs packages: write (GITHUB_TOKEN in the workflow) or `docker login {}`",
                    self.host,
                    self.creds.source(),
                    self.host
                )));
            }
        };
        let url = self.url(&format!("/v2/{repo}/manifests/{tag}"));
        let mut req = self
            .http
            .put(&url)
            .header(reqwest::header::CONTENT_TYPE, media_type)
            .body(body);
        if let Some(t) = &token {
            req = req.bearer_auth(t.expose());
        }
        let res = req
            .send()
            .await
            .map_err(|e| net_err(&self.host, &format!("PUT manifest {repo}:{tag}"), e))?;
        let status = res.status();
        if !status.is_success() {
            let text = res.text().await.unwrap_or_default();
            return Err(external(format!(
                "tagging {}/{repo}:{tag} answered {status}: {}; rerun the publish (it resumes)",
                self.host,
                crate::secrets::redact_all(text.trim())
            )));
        }
        let reported = res
            .headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            .unwrap_or(digest)
            .to_string();
        if reported != digest {
            return Err(crate::exit::policy(format!(
                "tagging {}/{repo}:{tag} produced {reported}, not {digest}",
                self.host
            )));
        }
        Ok(reported)
    }

    /// The user name and password this client sends, for handing to the Docker engine (which
    /// does its own token dance) when `verify-runs` pulls; `None` when anonymous.
    pub fn basic_credentials(&self) -> Option<(String, Secret)> {
        match &self.creds {
            Credentials::Anonymous => None,
            Credentials::Basic { user, password, .. } => Some((user.clone(), password.clone())),
        }
    }

    /// Opens a blob as a stream of chunks, without reading it whole (`verify-contents` reads
    /// layers through a tar reader this way). The caller hashes what it reads and compares it
    /// with `digest`: the stream itself checks nothing. A missing blob is a policy error (the
    /// manifest names a blob the registry does not hold).
    pub async fn blob_stream(
        &self,
        repo: &str,
        digest: &str,
    ) -> anyhow::Result<impl futures_util::Stream<Item = anyhow::Result<bytes::Bytes>> + use<>>
    {
        let token = self.token(repo).await?;
        let url = self.url(&format!("/v2/{repo}/blobs/{digest}"));
        let mut req = self.http.get(&url);
        if let Some(t) = &token {
            req = req.bearer_auth(t.expose());
        }
        // Layers can be large: no overall timeout (the client's 30 s would cut a slow but
        // healthy download); the caller bounds the wait for each chunk.
        let res = req
            .timeout(Duration::from_secs(24 * 3600))
            .send()
            .await
            .map_err(|e| net_err(&self.host, &format!("GET blob {repo}@{digest}"), e))?;
        let status = res.status();
        if status.as_u16() == 404 {
            return Err(crate::exit::policy(format!(
                "blob {}/{repo}@{digest} not found: a manifest names a blob the registry does not hold",
                self.host
            )));
        }
        check_status(status, &self.host, repo, digest, &self.creds)?;
        let host = self.host.clone();
        let what = format!("reading blob {repo}@{digest}");
        Ok(futures_util::StreamExt::map(res.bytes_stream(), move |r| {
            r.map_err(|e| net_err(&host, &what, e))
        }))
    }

    /// Reads a blob through oci-client (which checks it against its digest).
    pub async fn blob(&self, repo: &str, digest: &str) -> anyhow::Result<Vec<u8>> {
        self.token(repo).await?;
        let reference =
            Reference::with_digest(self.host.clone(), repo.to_string(), digest.to_string());
        let mut out = Vec::new();
        self.oci
            .pull_blob(&reference, digest, &mut out)
            .await
            .map_err(|e| external(format!("reading blob {}/{repo}@{digest}: {e}", self.host)))?;
        Ok(out)
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
                if let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) {
                    if let Some(labels) = v.pointer("/config/Labels").and_then(|l| l.as_object()) {
                        for (k, v) in labels {
                            meta.labels
                                .insert(k.clone(), v.as_str().unwrap_or_default().to_string());
                        }
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

    /// All tags of `repo`, following pages; `None` when the repository does not exist.
    pub async fn list_tags(&self, repo: &str) -> anyhow::Result<Option<Vec<String>>> {
        self.token(repo).await?;
        let reference = Reference::with_tag(self.host.clone(), repo.to_string(), "latest".into());
        let mut all = Vec::new();
        let mut last: Option<String> = None;
        const PAGE: usize = 1000;
        for _ in 0..100 {
            let page = match self
                .oci
                .list_tags(&reference, &self.creds.auth(), Some(PAGE), last.as_deref())
                .await
            {
                Ok(p) => p,
                Err(e) => {
                    let msg = e.to_string();
                    if msg.contains("NAME_UNKNOWN")
                        || msg.contains("name not known")
                        || msg.contains("404")
                    {
                        return Ok(None);
                    }
                    return Err(external(format!(
                        "listing tags of {}/{repo}: {msg}",
                        self.host
                    )));
                }
            };
            let n = page.tags.len();
            last = page.tags.last().cloned();
            all.extend(page.tags);
            if n < PAGE {
                break;
            }
        }
        all.sort();
        all.dedup();
        Ok(Some(all))
    }

    /// Whether an anonymous caller may pull `repo:reference`: a token request without
    /// credentials and, if that yields a token, a HEAD with it. Errors only when the registry
    /// cannot be reached or fails (5xx), never for a refusal.
    pub async fn anonymous_pull_allowed(
        &self,
        repo: &str,
        reference: &str,
    ) -> anyhow::Result<AnonymousProbe> {
        let token = match self.request_token(repo, true).await? {
            Ok(t) => t,
            Err(answer) => {
                return Ok(AnonymousProbe {
                    repository: repo.to_string(),
                    allowed: false,
                    evidence: answer,
                });
            }
        };
        let url = self.url(&format!("/v2/{repo}/manifests/{reference}"));
        let mut req = self
            .http
            .head(&url)
            .header(reqwest::header::ACCEPT, MANIFEST_ACCEPT.join(", "));
        if let Some(t) = &token {
            req = req.bearer_auth(t.expose());
        }
        let res = req
            .send()
            .await
            .map_err(|e| net_err(&self.host, &format!("HEAD {repo}:{reference}"), e))?;
        let status = res.status();
        if status.is_server_error() {
            return Err(external(format!(
                "HEAD {}/{repo}:{reference} answered {status}; retry later",
                self.host
            )));
        }
        let token_note = if token.is_some() {
            "GET /token -> 200 (anonymous token issued), "
        } else {
            ""
        };
        Ok(AnonymousProbe {
            repository: repo.to_string(),
            // A 404 with a token still means anonymous reads are allowed: only the tag is
            // missing, which the tag checks report.
            allowed: status.is_success() || status.as_u16() == 404,
            evidence: format!(
                "{token_note}anonymous HEAD /v2/{repo}/manifests/{reference} -> {status}"
            ),
        })
    }
}

fn check_status(
    status: reqwest::StatusCode,
    host: &str,
    repo: &str,
    reference: &str,
    creds: &Credentials,
) -> anyhow::Result<()> {
    if status.is_success() {
        return Ok(());
    }
    if status.as_u16() == 401 || status.as_u16() == 403 {
        return Err(usage(format!(
            "{host}/{repo}:{reference}: {status} with {}; use a token with read:packages (GITHUB_TOKEN) or `docker login {host}`",
            creds.source()
        )));
    }
    Err(external(format!(
        "{host}/{repo}:{reference}: the registry answered {status}; retry later"
    )))
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
pub fn parse_index(body: &[u8]) -> anyhow::Result<Vec<IndexEntry>> {
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
