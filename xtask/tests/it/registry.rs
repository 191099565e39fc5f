//! The registry harness, the registry client and `cargo xtask verify`, against a real
//! distribution registry behind our GHCR-like token service.
//!
//! Images are seeded over the registry's own HTTP API with tokens the harness mints (small
//! FROM-scratch images: one layer with one file, a config with labels), and cross-checked with
//! skopeo. Needs `docker-registry` and `skopeo` (`apt-get install docker-registry skopeo`);
//! `AISOPSFLOW_SKIP_DOCKER=1` skips, loudly.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::git;
pub use crate::support::registry::*;
use xtask::effects::registry::{Credentials, RegistryClient};
use xtask::secrets::Secret;
use xtask::standin::registry::{HarnessOptions, RegistryHarness};

pub const ORG: &str = "aisopsflow";
pub const PUBLIC: [&str; 3] = ["aisopsflow-core", "aisopsflow-runner", "aisopsflow-console"];
pub const COMMERCIAL: [&str; 3] = [
    "aisopsflow-core-commercial",
    "aisopsflow-runner-commercial",
    "aisopsflow-console-commercial",
];

fn skip() -> bool {
    crate::support::skip_docker("a registry test", &["docker-registry", "skopeo"])
}

/// Starts a harness whose public repositories are the public packages.
pub async fn start() -> Option<RegistryHarness> {
    if skip() {
        return None;
    }
    let opts = HarnessOptions {
        public: PUBLIC.iter().map(|p| format!("{ORG}/{p}")).collect(),
        ..HarnessOptions::default()
    };
    Some(
        RegistryHarness::start(opts)
            .await
            .expect("starting the registry harness"),
    )
}

pub const VERSION: &str = "1.4.0";

/// A release of all six packages: `<ver>`, `sha-<7>` (same digest) and, when `latest`,
/// `latest` on the same digest. Returns package → digest.
pub async fn seed_release(
    h: &RegistryHarness,
    sha7: &str,
    latest: bool,
) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for pkg in PUBLIC.iter().chain(COMMERCIAL.iter()) {
        let repo = format!("{ORG}/{pkg}");
        let mut labels = BTreeMap::new();
        labels.insert(
            "org.opencontainers.image.version".to_string(),
            VERSION.to_string(),
        );
        labels.insert(
            "org.opencontainers.image.source".to_string(),
            "https://github.com/aisopsflow/aisopsflow-sdk".to_string(),
        );
        if pkg.ends_with("-commercial") {
            labels.insert(
                "io.aisopsflow.licensing".to_string(),
                "https://licensing.aisopsflow.io/v1".to_string(),
            );
        }
        let (_, digest) = push_image(h, &repo, VERSION, &format!("{pkg} {VERSION}"), &labels).await;
        retag(h, &repo, VERSION, &format!("sha-{sha7}")).await;
        if latest {
            retag(h, &repo, VERSION, "latest").await;
        }
        out.insert(pkg.to_string(), digest);
    }
    out
}

/// An earlier release (0.9.0) that holds `latest`. Returns package → digest.
pub async fn seed_previous_latest(h: &RegistryHarness) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for pkg in PUBLIC.iter().chain(COMMERCIAL.iter()) {
        let repo = format!("{ORG}/{pkg}");
        let (_, digest) =
            push_image(h, &repo, "0.9.0", &format!("{pkg} 0.9.0"), &BTreeMap::new()).await;
        retag(h, &repo, "0.9.0", "latest").await;
        out.insert(pkg.to_string(), digest);
    }
    out
}

pub fn harness_client(h: &RegistryHarness) -> RegistryClient {
    RegistryClient::new(
        &h.host,
        Credentials::Basic {
            user: "anyone".into(),
            password: h.password.clone(),
            source: "test".into(),
        },
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn harness_token_policy() {
    let Some(h) = start().await else { return };
    let token = |repo: &str, creds: Option<(&str, &str)>| {
        let mut req = client().get(format!(
            "{}?service={}&scope=repository:{repo}:pull",
            h.token_url, h.service
        ));
        if let Some((u, p)) = creds {
            req = req.basic_auth(u, Some(p));
        }
        req.send()
    };
    let private = format!("{ORG}/aisopsflow-core-commercial");
    let public = format!("{ORG}/aisopsflow-core");
    // Packages exist once a manifest is pushed (seeded with harness tokens).
    push_image(&h, &private, "0.1", "p", &BTreeMap::new()).await;
    push_image(&h, &public, "0.1", "p", &BTreeMap::new()).await;
    assert_eq!(
        token(&private, None).await.unwrap().status(),
        401,
        "anonymous on private"
    );
    // ghcr.io answers a package that does not exist with 403 DENIED, even anonymously.
    assert_eq!(
        token(&format!("{ORG}/unknown"), None)
            .await
            .unwrap()
            .status(),
        403,
        "anonymous on unknown"
    );
    assert_eq!(
        token(&public, None).await.unwrap().status(),
        200,
        "anonymous on public"
    );
    assert_eq!(
        token(&private, Some(("anyone", h.password.expose())))
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        token(&private, Some(("anyone", "wrong-password")))
            .await
            .unwrap()
            .status(),
        403,
        "bad credentials: 403 `denied: denied`, as on ghcr.io"
    );
    h.set_public(&private, true);
    assert_eq!(
        token(&private, None).await.unwrap().status(),
        200,
        "after set_public"
    );
    h.set_public(&private, false);
    h.fail_next_token_requests(1, 503);
    assert_eq!(
        token(&public, None).await.unwrap().status(),
        503,
        "fault hook"
    );
    assert_eq!(
        token(&public, None).await.unwrap().status(),
        200,
        "fault hook only once"
    );
    let c = h.token_counts();
    assert_eq!(c.kind("anonymous-denied"), 1);
    assert_eq!(c.kind("absent"), 1);
    assert_eq!(c.kind("anonymous-granted"), 3);
    assert_eq!(c.kind("authenticated"), 1);
    assert_eq!(c.kind("bad-credentials"), 1);
    assert_eq!(c.kind("fault"), 1);
    assert_eq!(c.total, 8);

    // The registry trusts our tokens: a push with a minted token, then a pull with skopeo
    // (which does its own token dance against the token service).
    let (_, digest) = push_image(&h, &public, "1.0", "hello", &BTreeMap::new()).await;
    assert_eq!(skopeo_digest(&h, &public, "1.0"), digest);
    let off = h.access_log_offset();
    let res = client()
        .get(format!("http://{}/v2/", h.host))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let challenge = res.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(challenge.contains(&h.token_url), "{challenge}");
    assert_eq!(h.requests_since(off).kind("GET /v2/"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn harness_reports_a_missing_binary() {
    let err = match RegistryHarness::start(HarnessOptions {
        binary: Some(PathBuf::from("/nonexistent/docker-registry")),
        ..HarnessOptions::default()
    })
    .await
    {
        Ok(_) => panic!("started a registry from a nonexistent binary"),
        Err(e) => format!("{e:#}"),
    };
    assert!(
        err.contains("/nonexistent/docker-registry")
            && err.contains("apt-get install docker-registry"),
        "{err}"
    );
}

/// `docker login` (what the rehearsal's publish step does) against the token service: any
/// user name with the right password, and a clear refusal for a wrong one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn harness_accepts_docker_login() {
    let Some(h) = start().await else { return };
    let cfg = tempfile::tempdir().unwrap();
    let login = |user: &str, password: &str| {
        use std::io::Write;
        let mut child = Command::new("docker")
            .args(["login", "-u", user, "--password-stdin", &h.host])
            .env("DOCKER_CONFIG", cfg.path())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("running `docker login`: install the docker CLI (`apt-get install docker.io`)");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(password.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    let ok = login("release-bot", h.password.expose());
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let bad = login("release-bot", "wrong-password");
    assert!(!bad.status.success());
    // ghcr.io: `Get "https://ghcr.io/v2/": denied: denied` (mcuadros/ofelia#202).
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("denied"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
    // The stored credentials work for our client (docker config `auths`).
    let text = std::fs::read_to_string(cfg.path().join("config.json")).unwrap();
    let creds =
        xtask::effects::registry::docker_config_credentials(&text, &h.host, "config.json").unwrap();
    assert!(matches!(creds, Credentials::Basic { .. }), "{creds:?}");
    let c = RegistryClient::new(&h.host, creds).unwrap();
    push_image(
        &h,
        &format!("{ORG}/aisopsflow-core-commercial"),
        "1.0.0",
        "x",
        &BTreeMap::new(),
    )
    .await;
    assert!(
        c.resolve(&format!("{ORG}/aisopsflow-core-commercial"), "1.0.0")
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_resolves_tags_with_one_token_per_repository_and_one_head_per_tag() {
    let Some(h) = start().await else { return };
    let digests = seed_release(&h, "abcdef0", true).await;
    let refs: Vec<(String, String)> = PUBLIC
        .iter()
        .chain(COMMERCIAL.iter())
        .flat_map(|p| {
            [VERSION, "sha-abcdef0", "latest"].map(|t| (format!("{ORG}/{p}"), t.to_string()))
        })
        .collect();
    let c = harness_client(&h);
    let tokens_before = h.token_counts().total;
    let off = h.access_log_offset();
    let resolved = c.resolve_all(&refs).await;
    let requests = h.requests_since(off);
    let tokens = h.token_counts().total - tokens_before;
    for ((repo, tag), r) in refs.iter().zip(&resolved) {
        let r = r
            .as_ref()
            .unwrap()
            .as_ref()
            .unwrap_or_else(|| panic!("{repo}:{tag} missing"));
        let pkg = repo.rsplit('/').next().unwrap();
        assert_eq!(r.digest, digests[pkg], "{repo}:{tag}");
        assert_eq!(r.media_type, xtask::effects::registry::OCI_MANIFEST);
    }
    // The goal: one token per repository and one HEAD per tag; plus the one ping per client
    // that tells us the realm.
    assert_eq!(tokens, 6, "token requests: {:?}", h.token_counts());
    assert_eq!(requests.kind("HEAD manifests"), 18, "{requests:?}");
    assert_eq!(requests.kind("GET /v2/"), 1, "{requests:?}");
    assert_eq!(requests.total, 19, "{requests:?}");
    // Cross-check with skopeo.
    for pkg in ["aisopsflow-core", "aisopsflow-runner-commercial"] {
        assert_eq!(
            skopeo_digest(&h, &format!("{ORG}/{pkg}"), VERSION),
            digests[pkg]
        );
    }
    // A missing tag is `None`, not an error; an unknown repository too.
    assert!(
        c.resolve(&format!("{ORG}/aisopsflow-core"), "9.9.9")
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        c.list_tags(&format!("{ORG}/aisopsflow-nothing"))
            .await
            .unwrap(),
        None
    );
    let tags = c
        .list_tags(&format!("{ORG}/aisopsflow-core"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        tags,
        vec![VERSION.to_string(), "latest".into(), "sha-abcdef0".into()]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_reads_indexes_attestations_and_anonymous_access() {
    let Some(h) = start().await else { return };
    let repo = format!("{ORG}/aisopsflow-core");
    let statement = r#"{"_type":"https://in-toto.io/Statement/v0.1","predicate":{"invocation":{"configSource":{"uri":"https://github.com/aisopsflow/aisopsflow-enterprise.git"}}}}"#;
    let index = push_index(&h, &repo, "2.0.0", "core 2", statement).await;
    let c = harness_client(&h);
    let r = c.resolve(&repo, "2.0.0").await.unwrap().unwrap();
    assert_eq!(r.digest, index);
    assert!(r.is_index());
    assert_eq!(r.entries.len(), 2);
    assert_eq!(r.entries[0].platform, "linux/amd64");
    assert_eq!(r.entries[1].platform, "unknown/unknown");
    assert_eq!(
        r.entries[1].attests.as_deref(),
        Some(r.entries[0].digest.as_str())
    );
    assert_eq!(
        skopeo_digest(&h, &repo, "2.0.0"),
        index,
        "skopeo agrees on the index digest"
    );
    let meta = c.image_metadata(&repo, &index).await.unwrap();
    assert!(
        meta.documents.iter().any(|(w, t)| w.starts_with("attestation layer") && t.contains("aisopsflow-enterprise")),
        "{:?}",
        meta.documents.iter().map(|d| &d.0).collect::<Vec<_>>()
    );

    // Anonymous probes: public allowed, commercial denied, and denied again once flipped back.
    let commercial = format!("{ORG}/aisopsflow-core-commercial");
    push_image(&h, &commercial, "2.0.0", "c 2", &BTreeMap::new()).await;
    let p = c.anonymous_pull_allowed(&repo, "2.0.0").await.unwrap();
    assert!(p.allowed, "{p:?}");
    let p = c
        .anonymous_pull_allowed(&commercial, "2.0.0")
        .await
        .unwrap();
    assert!(!p.allowed, "{p:?}");
    assert!(p.evidence.contains("401"), "{p:?}");
    h.set_public(&commercial, true);
    assert!(
        c.anonymous_pull_allowed(&commercial, "2.0.0")
            .await
            .unwrap()
            .allowed
    );

    // Anonymous client on a private repository: the real cause, with the fix.
    let anon = RegistryClient::new(&h.host, Credentials::Anonymous).unwrap();
    h.set_public(&commercial, false);
    let err = format!(
        "{:#}",
        anon.resolve(&commercial, "2.0.0").await.unwrap_err()
    );
    assert!(
        err.contains("anonymously was refused") && err.contains("GITHUB_TOKEN"),
        "{err}"
    );
    // Wrong password: named as such, not as a missing repository.
    let bad = RegistryClient::new(
        &h.host,
        Credentials::Basic {
            user: "x".into(),
            password: Secret::new("not-the-password"),
            source: "GITHUB_TOKEN".into(),
        },
    )
    .unwrap();
    let err = format!("{:#}", bad.resolve(&commercial, "2.0.0").await.unwrap_err());
    assert!(
        err.contains("refused the credentials from GITHUB_TOKEN") && err.contains("403"),
        "{err}"
    );
    // One failure of the token service is retried; a token service that keeps failing is an
    // external error (exit 3), never a denial.
    h.fail_next_token_requests(1, 503);
    assert!(
        c.anonymous_pull_allowed(&repo, "2.0.0")
            .await
            .unwrap()
            .allowed
    );
    h.fail_next_token_requests(100, 503);
    let c = harness_client(&h).with_backoff(
        std::time::Duration::from_millis(5),
        std::time::Duration::from_secs(5),
    );
    let err = c.anonymous_pull_allowed(&repo, "2.0.0").await.unwrap_err();
    assert_eq!(
        xtask::exit::code_for(&err),
        xtask::exit::EXTERNAL,
        "{err:#}"
    );
}

/// A tiny registry of our own that serves a manifest whose body does not hash to its
/// `Docker-Content-Digest`, with and without the header on HEAD.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_rejects_a_body_that_does_not_match_its_digest() {
    use axum::http::{HeaderMap, Method, StatusCode};
    let body = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"digest":"sha256:00","size":1,"mediaType":"x"},"layers":[]}"#.to_vec();
    let wrong = format!("sha256:{}", "ab".repeat(32));
    let app = {
        let wrong = wrong.clone();
        axum::Router::new()
            .route("/v2/", axum::routing::get(|| async { StatusCode::OK }))
            .fallback(move |method: Method, uri: axum::http::Uri| {
                let wrong = wrong.clone();
                let body = body.clone();
                async move {
                    let mut h = HeaderMap::new();
                    h.insert(
                        "content-type",
                        "application/vnd.oci.image.manifest.v1+json"
                            .parse()
                            .unwrap(),
                    );
                    // `nodigest` answers HEAD without the header, forcing the GET fallback.
                    if !(method == Method::HEAD && uri.path().contains("nodigest")) {
                        h.insert("docker-content-digest", wrong.parse().unwrap());
                    }
                    (
                        StatusCode::OK,
                        h,
                        if method == Method::HEAD {
                            Vec::new()
                        } else {
                            body
                        },
                    )
                }
            })
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let host = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let c = RegistryClient::new(&host, Credentials::Anonymous).unwrap();
    let err = format!("{:#}", c.resolve("org/nodigest", "1.0").await.unwrap_err());
    assert!(
        err.contains("the registry served a manifest whose body does not match its digest"),
        "{err}"
    );
    assert!(err.contains(&wrong), "{err}");
    // HEAD trusts the header (no body to hash); reading the manifest catches the lie.
    assert_eq!(
        c.resolve("org/x", "1.0").await.unwrap().unwrap().digest,
        wrong
    );
    let err = format!("{:#}", c.manifest("org/x", "1.0").await.unwrap_err());
    assert!(err.contains("does not match its digest"), "{err}");
    let err = format!("{:#}", c.image_metadata("org/x", &wrong).await.unwrap_err());
    assert!(err.contains("does not match its digest"), "{err}");
}

/// A release workspace for the binary: a git repo with release.toml, tag `v1.4.0` (or
/// `release-v1.4.0`) at HEAD, customer docs and release notes, and the registry seeded with
/// 0.9.0 (holding `latest`) and 1.4.0.
pub struct Fixture {
    pub h: RegistryHarness,
    /// A GitHub stand-in for the Packages API half of verify-visibility, seeded compliant
    /// and accepting the registry password as a token.
    pub gh: xtask::standin::github::StandInHandle,
    pub dir: tempfile::TempDir,
    pub sha7: String,
    pub previous: BTreeMap<String, String>,
    pub digests: BTreeMap<String, String>,
}

impl Fixture {
    pub async fn new(git_tag: &str) -> Option<Fixture> {
        let h = start().await?;
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::copy(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../release.toml"),
            root.join("release.toml"),
        )
        .unwrap();
        git(root, &["-c", "init.defaultBranch=main", "init", "-q"]);
        git(root, &["add", "release.toml"]);
        git(root, &["commit", "-qm", "release 1.4.0"]);
        git(root, &["tag", git_tag]);
        let sha7 = git(root, &["rev-parse", "--short=7", "HEAD"]);
        let previous = seed_previous_latest(&h).await;
        let digests = seed_release(&h, &sha7, git_tag.starts_with("release-")).await;
        let mut world = xtask::standin::github::World::compliant(ORG, "aisopsflow-enterprise", ORG);
        let admin = world.tokens[xtask::standin::github::ADMIN_TOKEN].clone();
        world.tokens.insert(h.password.expose().to_string(), admin);
        let gh = xtask::standin::github::start(world).await.unwrap();
        let fx = Fixture {
            h,
            gh,
            dir,
            sha7,
            previous,
            digests,
        };
        fx.write_docs();
        Some(fx)
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// Deployment manifests pinning the 1.4.0 digests (and one older reference, which verify
    /// must ignore), notes for 1.4.0 recording them, and notes for 0.9.0 recording `latest`.
    pub fn write_docs(&self) {
        self.write_docs_for(&self.digests);
    }

    pub fn write_docs_for(&self, digests: &BTreeMap<String, String>) {
        let root = self.root();
        let deploy = root.join("docs/customer/deploy");
        let notes = root.join("docs/releases");
        std::fs::create_dir_all(&deploy).unwrap();
        std::fs::create_dir_all(&notes).unwrap();
        let mut yaml = String::from("services:\n");
        let mut recorded = format!("# aisopsflow {VERSION}\n\nDigests:\n");
        for (pkg, d) in digests {
            yaml.push_str(&format!(
                "  {pkg}:\n    image: ghcr.io/{ORG}/{pkg}:{VERSION}@{d}\n"
            ));
            recorded.push_str(&format!("- {pkg}: {d}\n"));
        }
        yaml.push_str(&format!(
            "  legacy:\n    image: ghcr.io/{ORG}/aisopsflow-core:0.9.0@{}\n",
            self.previous["aisopsflow-core"]
        ));
        std::fs::write(deploy.join("compose.yaml"), yaml).unwrap();
        std::fs::write(notes.join(format!("{VERSION}.md")), recorded).unwrap();
        let mut prev = String::from("# aisopsflow 0.9.0\n\n");
        for (pkg, d) in &self.previous {
            prev.push_str(&format!("<!-- aisopsflow:latest-after {pkg} {d} -->\n"));
        }
        std::fs::write(notes.join("0.9.0.md"), prev).unwrap();
    }

    /// Runs `cargo xtask verify 1.4.0 --components console --format json ARGS` against the
    /// harness: (exit code, JSON, stderr).
    pub fn verify(&self, args: &[&str]) -> (i32, serde_json::Value, String) {
        self.verify_env(args, &[])
    }

    /// [`verify`](Fixture::verify), asserting its exit code and exactly which ids fail
    /// (showing the report and stderr otherwise); returns the report.
    #[track_caller]
    pub fn verify_expect(&self, args: &[&str], code: i32, failing: &[&str]) -> serde_json::Value {
        let (got, json, stderr) = self.verify(args);
        assert_eq!(
            (got, ids_with(&json, "fail")),
            (code, set(failing)),
            "{json:#}\n{stderr}"
        );
        json
    }

    pub fn verify_env(
        &self,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> (i32, serde_json::Value, String) {
        let docker_config = self.root().join(".no-docker-config");
        let run = crate::support::Xtask::new()
            .args([
                "verify",
                VERSION,
                "--components",
                "console",
                "--format",
                "json",
                "--repo",
            ])
            .arg(self.root())
            .args(args)
            .env("AISOPSFLOW_REGISTRY", &self.h.host)
            .env("GITHUB_TOKEN", self.h.password.expose())
            .env("GITHUB_API_URL", &self.gh.base_url)
            .env("DOCKER_CONFIG", docker_config)
            // The deep checks pull and run images on the engine the caller names.
            .pass("DOCKER_HOST")
            .envs(env.iter().copied())
            .run();
        let json = serde_json::from_str(&run.stdout).unwrap_or(serde_json::Value::Null);
        (run.code, json, run.stderr)
    }
}

/// The ids whose worst status is `status`.
pub fn ids_with(json: &serde_json::Value, status: &str) -> std::collections::BTreeSet<String> {
    json["checks"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|o| o["status"] == status)
                .map(|o| o["id"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}

pub fn evidence_of(json: &serde_json::Value, id: &str) -> String {
    json["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["id"] == id && o["status"] != "pass")
        .map(|o| o.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

fn set(ids: &[&str]) -> std::collections::BTreeSet<String> {
    ids.iter().map(|s| s.to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_passes_a_good_release_and_fails_exactly_the_broken_check() {
    let Some(fx) = Fixture::new(&format!("v{VERSION}")).await else {
        return;
    };
    let h = &fx.h;
    let core = format!("{ORG}/aisopsflow-core");

    // Acceptance: everything passes, exit 0.
    let (code, json, stderr) = fx.verify(&["--delivery"]);
    assert_eq!(code, 0, "{json:#}\n{stderr}");
    assert_eq!(ids_with(&json, "fail"), set(&[]), "{json:#}");
    assert_eq!(ids_with(&json, "warn"), set(&[]), "{json:#}");
    let passed = ids_with(&json, "pass");
    for id in [
        "verify-packages-exist",
        "verify-semver-tag",
        "verify-sha-tag",
        "verify-latest-policy",
        "verify-visibility",
        "verify-public-metadata-clean",
        "verify-manifest-digests-recorded",
        "delivery-digest-references",
        "delivery-no-enterprise-repo",
    ] {
        assert!(passed.contains(id), "{id} did not pass: {json:#}");
    }
    let n = |id: &str| {
        json["checks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|o| o["id"] == id)
            .count()
    };
    assert_eq!(n("verify-semver-tag"), 6);
    assert_eq!(n("verify-visibility"), 6);
    assert_eq!(n("verify-public-metadata-clean"), 3);
    assert_eq!(json["release"]["git_tag"], format!("v{VERSION}"));
    let refs = json["delivery"]["references"].as_array().unwrap();
    assert_eq!(refs.len(), 6);
    for r in refs {
        let pkg = r["package"].as_str().unwrap();
        assert_eq!(
            r["reference"],
            format!("{}/{ORG}/{pkg}:{VERSION}@{}", h.host, fx.digests[pkg])
        );
        assert_eq!(r["needs_credentials"], pkg.ends_with("-commercial"));
    }
    let text = json["delivery"]["text"].as_str().unwrap();
    assert!(
        text.contains("https://github.com/aisopsflow/aisopsflow-sdk")
            && text.contains("aisopsflow-catalog")
    );
    assert!(!text.contains("aisopsflow-enterprise"), "{text}");

    // The sha tag points at a different build.
    let (_, other) = push_image(
        h,
        &core,
        &format!("sha-{}", fx.sha7),
        "another build",
        &BTreeMap::new(),
    )
    .await;
    let json = fx.verify_expect(&[], 1, &["verify-sha-tag"]);
    assert!(evidence_of(&json, "verify-sha-tag").contains(&other));
    // The sha tag is deleted (DELETE by the digest only that tag points at).
    delete_manifest(h, &core, &other).await;
    let json = fx.verify_expect(&[], 1, &["verify-sha-tag"]);
    assert!(evidence_of(&json, "verify-sha-tag").contains("is missing"));
    retag(h, &core, VERSION, &format!("sha-{}", fx.sha7)).await;

    // `latest` moved by a v* release.
    retag(h, &core, VERSION, "latest").await;
    let json = fx.verify_expect(&[], 1, &["verify-latest-policy"]);
    let ev = evidence_of(&json, "verify-latest-policy");
    assert!(
        ev.contains("moved")
            && ev.contains(&fx.previous["aisopsflow-core"])
            && ev.contains("docs/releases/0.9.0.md"),
        "{ev}"
    );
    // ... which is what a release that should move it wants.
    let (code, json, _) = fx.verify(&["--expect-latest", "true"]);
    assert_eq!(
        ids_with(&json, "fail"),
        set(&["verify-latest-policy"]),
        "only core moved: {json:#}"
    );
    assert_eq!(code, 1);
    // --latest-before overrides the notes.
    let flag = format!("aisopsflow-core={}", fx.digests["aisopsflow-core"]);
    let others: Vec<String> = fx
        .previous
        .iter()
        .filter(|(p, _)| *p != "aisopsflow-core")
        .map(|(p, d)| format!("{p}={d}"))
        .collect();
    let flag = format!("{flag},{}", others.join(","));
    let (code, json, _) = fx.verify(&["--latest-before", &flag]);
    assert_eq!((code, ids_with(&json, "fail")), (0, set(&[])), "{json:#}");
    retag(h, &core, "0.9.0", "latest").await;
    // Without any record of "before", verify says plainly that it cannot tell.
    std::fs::remove_file(fx.root().join("docs/releases/0.9.0.md")).unwrap();
    let (code, json, _) = fx.verify(&[]);
    assert_eq!(
        (code, ids_with(&json, "warn")),
        (0, set(&["verify-latest-policy"])),
        "{json:#}"
    );
    fx.write_docs();

    // A commercial package became anonymous-readable.
    h.set_public(&format!("{ORG}/aisopsflow-runner-commercial"), true);
    let json = fx.verify_expect(&[], 1, &["verify-visibility"]);
    let ev = evidence_of(&json, "verify-visibility");
    assert!(
        ev.contains("aisopsflow-runner-commercial is commercial but anonymous pulls succeed"),
        "{ev}"
    );
    h.set_public(&format!("{ORG}/aisopsflow-runner-commercial"), false);

    // The Packages API says a commercial package is public (anonymous pulls still denied):
    // the API half of the same check fails, with the API field as evidence.
    fx.gh
        .with_world(|w| w.set_package_visibility("aisopsflow-core-commercial", "public"));
    let json = fx.verify_expect(&[], 1, &["verify-visibility"]);
    let ev = evidence_of(&json, "verify-visibility");
    assert!(
        ev.contains("packages/container/aisopsflow-core-commercial") && ev.contains("public"),
        "{ev}"
    );
    // With --offline the API is not asked (the stand-in sees no request) and the anonymous
    // pull alone decides, saying so.
    let asked_before = fx.gh.requests().len();
    let (code, json, _) = fx.verify(&["--offline"]);
    assert_eq!((code, ids_with(&json, "fail")), (0, set(&[])), "{json:#}");
    let vis: Vec<String> = json["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["id"] == "verify-visibility")
        .map(|o| o.to_string())
        .collect();
    assert!(
        !vis.is_empty() && vis.iter().all(|o| o.contains("--offline")),
        "{vis:#?}"
    );
    assert_eq!(
        fx.gh.requests().len(),
        asked_before,
        "--offline still called the GitHub API"
    );
    fx.gh
        .with_world(|w| w.set_package_visibility("aisopsflow-core-commercial", "private"));

    // A public image labelled with the enterprise repository (docs updated to its digest, so
    // only the metadata check can see the problem).
    let runner = format!("{ORG}/aisopsflow-runner");
    let mut labels = BTreeMap::new();
    labels.insert(
        "org.opencontainers.image.source".to_string(),
        "https://github.com/aisopsflow/aisopsflow-enterprise".to_string(),
    );
    let (_, leaky) = push_image(h, &runner, VERSION, "runner leaky", &labels).await;
    retag(h, &runner, VERSION, &format!("sha-{}", fx.sha7)).await;
    let mut leaky_digests = fx.digests.clone();
    leaky_digests.insert("aisopsflow-runner".into(), leaky.clone());
    let good_runner = fx.digests["aisopsflow-runner"].clone();
    fx.write_docs_for(&leaky_digests);
    let json = fx.verify_expect(&[], 1, &["verify-public-metadata-clean"]);
    let ev = evidence_of(&json, "verify-public-metadata-clean");
    assert!(
        ev.contains("github.com/aisopsflow/aisopsflow-enterprise") && ev.contains("config"),
        "{ev}"
    );
    retag(h, &runner, &good_runner, VERSION).await;
    retag(h, &runner, &good_runner, &format!("sha-{}", fx.sha7)).await;
    fx.write_docs();

    // A deployment manifest pins a digest other than the released one.
    let compose = fx.root().join("docs/customer/deploy/compose.yaml");
    let good = std::fs::read_to_string(&compose).unwrap();
    std::fs::write(
        &compose,
        good.replace(
            &fx.digests["aisopsflow-console"],
            &fx.previous["aisopsflow-console"],
        ),
    )
    .unwrap();
    let json = fx.verify_expect(&[], 1, &["verify-manifest-digests-recorded"]);
    assert!(evidence_of(&json, "verify-manifest-digests-recorded").contains("compose.yaml"));
    // The notes do not record a digest the manifests use.
    std::fs::write(&compose, &good).unwrap();
    let notes = fx.root().join(format!("docs/releases/{VERSION}.md"));
    let text = std::fs::read_to_string(&notes).unwrap();
    std::fs::write(
        &notes,
        text.replace(&fx.digests["aisopsflow-core"], "(to be filled in)"),
    )
    .unwrap();
    let json = fx.verify_expect(&[], 1, &["verify-manifest-digests-recorded"]);
    assert!(evidence_of(&json, "verify-manifest-digests-recorded").contains("do not record"));
    // Manifests still on the previous version: a warning listing the digests to use.
    std::fs::write(
        &compose,
        format!(
            "image: ghcr.io/{ORG}/aisopsflow-core:0.9.0@{}\n",
            fx.previous["aisopsflow-core"]
        ),
    )
    .unwrap();
    let (code, json, _) = fx.verify(&[]);
    assert_eq!(
        (code, ids_with(&json, "warn")),
        (0, set(&["verify-manifest-digests-recorded"])),
        "{json:#}"
    );
    let ev = json.to_string();
    assert!(
        ev.contains(&format!("manifests not yet updated to {VERSION}"))
            && ev.contains(&fx.digests["aisopsflow-core"])
    );
    fx.write_docs();

    // The delivery text names the enterprise repository (a case variant slips past the config
    // validation, not past the check on the produced text).
    let toml = fx.root().join("release.toml");
    let good_toml = std::fs::read_to_string(&toml).unwrap();
    std::fs::write(
        &toml,
        good_toml.replace(
            "https://github.com/aisopsflow/aisopsflow-sdk",
            "https://github.com/AisopsFlow/AisopsFlow-Enterprise/tree/main/sdk",
        ),
    )
    .unwrap();
    fx.verify_expect(&["--delivery"], 1, &["delivery-no-enterprise-repo"]);
    std::fs::write(&toml, good_toml).unwrap();

    // A package that was never published: it does not exist, so no reference can be made.
    let (_, json, _) = fx.verify_env(&["--delivery"], &[]);
    assert_eq!(ids_with(&json, "fail"), set(&[]));
    let cc = format!("{ORG}/aisopsflow-console-commercial");
    let tok = h.mint_token(&cc, &["pull", "delete"]).unwrap();
    for d in [
        &fx.digests["aisopsflow-console-commercial"],
        &fx.previous["aisopsflow-console-commercial"],
    ] {
        let res = xtask::effects::http::client()
            .delete(format!("http://{}/v2/{cc}/manifests/{d}", h.host))
            .bearer_auth(tok.expose())
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 202);
    }
    let (code, json, _) = fx.verify(&["--delivery"]);
    assert_eq!(code, 1);
    let failed = ids_with(&json, "fail");
    assert!(
        failed.contains("verify-semver-tag") && failed.contains("delivery-digest-references"),
        "{json:#}"
    );
    assert!(!failed.contains("verify-visibility"), "{json:#}");

    // Human output, and the registry unreachable: exit 3 with the setting to check.
    let (code, _, stderr) = fx.verify_env(&[], &[("AISOPSFLOW_REGISTRY", "127.0.0.1:1")]);
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.contains("AISOPSFLOW_REGISTRY"), "{stderr}");
    assert!(!stderr.contains(h.password.expose()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_release_v_requires_latest_and_never_published_package_fails_existence() {
    let Some(fx) = Fixture::new(&format!("release-v{VERSION}")).await else {
        return;
    };
    let json = fx.verify_expect(&[], 0, &[]);
    assert_eq!(json["release"]["moves_latest"], true);
    // No credentials at all: the commercial packages cannot be read; exit 2 with the fix.
    let (code, _, stderr) = fx.verify_env(&[], &[("GITHUB_TOKEN", "")]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("anonymously was refused") && stderr.contains("GITHUB_TOKEN"),
        "{stderr}"
    );
    // `latest` left behind on one package.
    retag(
        &fx.h,
        &format!("{ORG}/aisopsflow-console"),
        "0.9.0",
        "latest",
    )
    .await;
    let json = fx.verify_expect(&[], 1, &["verify-latest-policy"]);
    assert!(evidence_of(&json, "verify-latest-policy").contains("should point at this release"));
    // A component whose packages were never pushed does not exist.
    let toml = fx.root().join("release.toml");
    let text = std::fs::read_to_string(&toml).unwrap();
    std::fs::write(&toml, text.replace("[components.console]", "[components.docs]\ncrate = \"aisopsflow-docs\"\ndir = \"docs-c\"\nscope = \"when-in-scope\"\n\n[components.console]").replace("allowed = [", "exceptions = [{ name = \"aisopsflow-docs\", reason = \"test-only component for a missing package\" }, { name = \"aisopsflow-docs-commercial\", reason = \"test-only component for a missing package\" }]\nallowed = [")).unwrap();
    let (code, json, stderr) =
        fx.verify(&["--components", "docs", "--only", "verify-packages-exist"]);
    assert_eq!(code, 1, "{json:#}\n{stderr}");
    let ev = evidence_of(&json, "verify-packages-exist");
    // ghcr.io refuses the token for a package that does not exist: "not published".
    assert!(
        ev.contains("aisopsflow-docs is not published") && ev.contains("DENIED"),
        "{ev}"
    );
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

/// Benchmark (not a test of speed: it asserts only request counts). Resolves 6 packages × 3
/// tags with the registry client and with `skopeo inspect` one after another, and runs the
/// whole `cargo xtask verify`; prints request counts and median times for docs/benchmarks.md.
/// `cargo test -p xtask --test it -- --ignored bench_verify --nocapture`
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn bench_verify() {
    let Some(fx) = Fixture::new(&format!("v{VERSION}")).await else {
        return;
    };
    let h = &fx.h;
    let tags = [
        VERSION.to_string(),
        format!("sha-{}", fx.sha7),
        "latest".to_string(),
    ];
    let refs: Vec<(String, String)> = PUBLIC
        .iter()
        .chain(COMMERCIAL.iter())
        .flat_map(|p| tags.iter().map(move |t| (format!("{ORG}/{p}"), t.clone())))
        .collect();
    const RUNS: usize = 7;

    // The registry client, cold each run (a new client: ping, tokens, HEADs).
    let mut times = Vec::new();
    let mut last = (Default::default(), 0);
    for _ in 0..RUNS {
        let t0 = h.token_counts().total;
        let off = h.access_log_offset();
        let start = std::time::Instant::now();
        let c = harness_client(h);
        let res = c.resolve_all(&refs).await;
        times.push(start.elapsed().as_secs_f64() * 1000.0);
        assert!(res.iter().all(|r| matches!(r, Ok(Some(_)))));
        last = (h.requests_since(off), h.token_counts().total - t0);
    }
    let (client_req, client_tok) = last;
    assert_eq!(client_tok, 6);
    assert_eq!(client_req.kind("HEAD manifests"), 18);
    assert_eq!(client_req.total, 19);
    let client_ms = median(times);

    // skopeo inspect, the same 18 references one after another.
    let creds = format!("{}:{}", h.user, h.password.expose());
    let skopeo = |extra: &[&str]| {
        let mut times = Vec::new();
        let mut last = (Default::default(), 0);
        for _ in 0..3 {
            let t0 = h.token_counts().total;
            let off = h.access_log_offset();
            let start = std::time::Instant::now();
            for (repo, tag) in &refs {
                let out = Command::new("skopeo")
                    .args(["inspect", "--tls-verify=false", "--creds", &creds])
                    .args(extra)
                    .arg(format!("docker://{}/{repo}:{tag}", h.host))
                    .output()
                    .unwrap();
                assert!(out.status.success());
            }
            times.push(start.elapsed().as_secs_f64() * 1000.0);
            last = (h.requests_since(off), h.token_counts().total - t0);
        }
        (median(times), last)
    };
    let (skopeo_ms, (skopeo_req, skopeo_tok)) = skopeo(&[]);
    let (skopeo_nt_ms, (skopeo_nt_req, skopeo_nt_tok)) = skopeo(&["--no-tags"]);

    // The whole command: every verify-* check, as an operator runs it.
    let mut times = Vec::new();
    let mut last = (Default::default(), 0);
    for _ in 0..3 {
        let t0 = h.token_counts().total;
        let off = h.access_log_offset();
        let start = std::time::Instant::now();
        let (code, json, stderr) = fx.verify(&[]);
        times.push(start.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(code, 0, "{json:#}\n{stderr}");
        last = (h.requests_since(off), h.token_counts().total - t0);
    }
    let (verify_req, verify_tok): (xtask::standin::registry::RequestCounts, u64) = last;
    let verify_ms = median(times);

    println!(
        "\n| What (18 references: 6 packages × `{VERSION}`, `sha-<7>`, `latest`) | Registry requests | Token requests | Median wall time |"
    );
    println!("|---|---|---|---|");
    println!(
        "| `RegistryClient::resolve_all` (cold client) | {} ({:?}) | {client_tok} | {client_ms:.1} ms |",
        client_req.total, client_req.by_kind
    );
    println!(
        "| `skopeo inspect` ×18, sequential | {} ({:?}) | {skopeo_tok} | {skopeo_ms:.0} ms |",
        skopeo_req.total, skopeo_req.by_kind
    );
    println!(
        "| `skopeo inspect --no-tags` ×18, sequential | {} ({:?}) | {skopeo_nt_tok} | {skopeo_nt_ms:.0} ms |",
        skopeo_nt_req.total, skopeo_nt_req.by_kind
    );
    println!(
        "| `cargo xtask verify` (whole command, all verify-* checks) | {} ({:?}) | {verify_tok} ({:?}) | {verify_ms:.0} ms |",
        verify_req.total, verify_req.by_kind, verify_tok
    );
    println!(
        "\nratio skopeo/client: {:.1}x (--no-tags: {:.1}x)",
        skopeo_ms / client_ms,
        skopeo_nt_ms / client_ms
    );

    // The human report, for reading.
    let out = crate::support::Xtask::new()
        .args([
            "verify",
            VERSION,
            "--components",
            "console",
            "--delivery",
            "--repo",
        ])
        .arg(fx.root())
        .env("AISOPSFLOW_REGISTRY", &h.host)
        .env("GITHUB_TOKEN", h.password.expose())
        .env("DOCKER_CONFIG", fx.root().join(".none"))
        .output();
    println!("\n{}", String::from_utf8_lossy(&out.stdout));
}

/// A proxy in front of the harness registry that rewrites `Docker-Content-Digest` on manifest
/// GETs of one repository: the registry "serves a manifest whose body does not match its
/// digest". HEADs pass through untouched, so only the check that reads manifests can see it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_fails_metadata_check_when_a_manifest_body_does_not_match_its_digest() {
    use axum::http::{HeaderMap, HeaderValue, Method, Uri};
    let Some(fx) = Fixture::new(&format!("v{VERSION}")).await else {
        return;
    };
    let upstream = fx.h.host.clone();
    let wrong = format!("sha256:{}", "cd".repeat(32));
    let app = {
        let wrong = wrong.clone();
        axum::Router::new().fallback(
            move |method: Method, uri: Uri, headers: HeaderMap, body: axum::body::Bytes| {
                let (upstream, wrong) = (upstream.clone(), wrong.clone());
                async move {
                    let mut req = xtask::effects::http::client().request(
                        reqwest::Method::from_bytes(method.as_str().as_bytes()).unwrap(),
                        format!("http://{upstream}{uri}"),
                    );
                    for (k, v) in headers.iter() {
                        if k != "host" {
                            req = req.header(k.as_str(), v.as_bytes());
                        }
                    }
                    let res = req.body(body).send().await.unwrap();
                    let status = axum::http::StatusCode::from_u16(res.status().as_u16()).unwrap();
                    let mut out = HeaderMap::new();
                    for (k, v) in res.headers() {
                        out.insert(
                            axum::http::HeaderName::from_bytes(k.as_str().as_bytes()).unwrap(),
                            HeaderValue::from_bytes(v.as_bytes()).unwrap(),
                        );
                    }
                    if method == Method::GET
                        && uri
                            .path()
                            .starts_with(&format!("/v2/{ORG}/aisopsflow-runner/manifests/"))
                    {
                        out.insert("docker-content-digest", wrong.parse().unwrap());
                    }
                    (status, out, res.bytes().await.unwrap().to_vec())
                }
            },
        )
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let (code, json, stderr) = fx.verify_env(&[], &[("AISOPSFLOW_REGISTRY", &proxy)]);
    assert_eq!(
        (code, ids_with(&json, "fail")),
        (1, set(&["verify-public-metadata-clean"])),
        "{json:#}\n{stderr}"
    );
    let ev = evidence_of(&json, "verify-public-metadata-clean");
    assert!(
        ev.contains("does not match its digest")
            && ev.contains(&wrong)
            && ev.contains("aisopsflow-runner"),
        "{ev}"
    );
}
