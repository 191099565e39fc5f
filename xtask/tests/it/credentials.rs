//! Credentials only where they belong: registry credentials (a GitHub token or the docker
//! config's) reach the registry and its token service on the registry's own host, never a
//! token service or redirect target elsewhere; the GitHub token reaches the API origin only;
//! the docker config is read in the docker CLI's order; GH_TOKEN wins over GITHUB_TOKEN.
//!
//! "Another host" is a second loopback listener reached as `localhost` while the registry is
//! `127.0.0.1`: a different host to every URL check, on this machine.

use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use xtask::effects::github::Github;
use xtask::effects::registry::{Credentials, RegistryClient, docker_config_credentials_with};
use xtask::secrets::Secret;

/// One request a listener saw: method, path and query, and its Authorization header.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    uri: String,
    authorization: Option<String>,
}

type Log = Arc<Mutex<Vec<Seen>>>;

/// Serves `answer` on a fresh loopback port, logging every request; returns the port.
async fn listen<F>(answer: F) -> (u16, Log)
where
    F: Fn(&Method, &Uri) -> Response + Clone + Send + Sync + 'static,
{
    let log: Log = Arc::default();
    let app = {
        let log = log.clone();
        axum::Router::new().fallback(move |method: Method, uri: Uri, headers: HeaderMap| {
            let log = log.clone();
            let answer = answer.clone();
            async move {
                log.lock().unwrap().push(Seen {
                    method: method.to_string(),
                    uri: uri.to_string(),
                    authorization: headers
                        .get("authorization")
                        .map(|v| v.to_str().unwrap_or("").to_string()),
                });
                answer(&method, &uri)
            }
        })
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (port, log)
}

fn basic(password: &str) -> Credentials {
    Credentials::Basic {
        user: "release-bot".into(),
        password: Secret::new(password),
        source: "GITHUB_TOKEN".into(),
    }
}

fn challenge(realm: &str) -> Response {
    let mut h = HeaderMap::new();
    h.insert(
        "www-authenticate",
        format!(r#"Bearer realm="{realm}",service="registry""#)
            .parse()
            .unwrap(),
    );
    (StatusCode::UNAUTHORIZED, h).into_response()
}

fn redirect(to: String) -> Response {
    let mut h = HeaderMap::new();
    h.insert("location", to.parse().unwrap());
    (StatusCode::TEMPORARY_REDIRECT, h).into_response()
}

const MANIFEST: &str = r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"digest":"sha256:00","size":1,"mediaType":"x"},"layers":[]}"#;

fn manifest_answer(method: &Method) -> Response {
    use sha2::Digest;
    let digest = format!("sha256:{:x}", sha2::Sha256::digest(MANIFEST.as_bytes()));
    let mut h = HeaderMap::new();
    h.insert(
        "content-type",
        "application/vnd.oci.image.manifest.v1+json"
            .parse()
            .unwrap(),
    );
    h.insert("docker-content-digest", digest.parse().unwrap());
    let body = if method == Method::HEAD { "" } else { MANIFEST };
    (StatusCode::OK, h, body).into_response()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_service_on_another_host_never_sees_the_credentials() {
    let (elsewhere, elsewhere_log) =
        listen(|_, _| (StatusCode::OK, r#"{"token":"granted-elsewhere"}"#).into_response()).await;
    let realm = format!("http://localhost:{elsewhere}/token");
    let (port, _) = listen(move |_, uri| {
        if uri.path() == "/v2/" {
            challenge(&realm)
        } else {
            StatusCode::NOT_FOUND.into_response()
        }
    })
    .await;
    let host = format!("127.0.0.1:{port}");

    let secret = "ghp_must_not_travel";
    let client = RegistryClient::new(&host, basic(secret)).unwrap();
    let err = format!(
        "{:#}",
        client.resolve("org/app", "1.0.0").await.unwrap_err()
    );
    assert!(
        err.contains("another host") && err.contains(&format!("localhost:{elsewhere}")),
        "{err}"
    );
    assert!(!err.contains(secret), "{err}");
    assert!(
        elsewhere_log.lock().unwrap().is_empty(),
        "the other host was asked: {:?}",
        elsewhere_log.lock().unwrap()
    );

    // The same registry read anonymously does reach that token service: the listener is
    // reachable as `localhost`, so the empty log above is the refusal, not a dead port.
    let anon = RegistryClient::new(&host, Credentials::Anonymous).unwrap();
    let _ = anon.resolve("org/app", "1.0.0").await;
    let seen = elsewhere_log.lock().unwrap().clone();
    assert!(
        !seen.is_empty(),
        "the anonymous token request never arrived"
    );
    assert!(seen.iter().all(|s| s.authorization.is_none()), "{seen:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_to_another_host_carries_no_credentials() {
    // The registry answers its token and manifest requests with a redirect to another host,
    // which grants a token and serves the manifest: that host must see no Authorization.
    let (elsewhere, elsewhere_log) = listen(|method, uri| {
        if uri.path() == "/token" {
            (StatusCode::OK, r#"{"token":"from-elsewhere"}"#).into_response()
        } else {
            manifest_answer(method)
        }
    })
    .await;
    let (port, registry_log) = listen(move |_, uri| match uri.path() {
        "/v2/" => challenge(&format!(
            "http://127.0.0.1:{}/token",
            REGISTRY_PORT.get().unwrap()
        )),
        _ => redirect(format!(
            "http://localhost:{elsewhere}{}",
            uri.path_and_query().map_or("", |p| p.as_str())
        )),
    })
    .await;
    REGISTRY_PORT.set(port).unwrap();
    let host = format!("127.0.0.1:{port}");
    let secret = "ghp_stays_home";
    let client = RegistryClient::new(&host, basic(secret)).unwrap();
    let resolved = client.resolve("org/app", "1.0.0").await.unwrap().unwrap();
    assert!(resolved.digest.starts_with("sha256:"), "{resolved:?}");

    let at_registry = registry_log.lock().unwrap().clone();
    let token_request = at_registry
        .iter()
        .find(|s| s.uri.starts_with("/token"))
        .expect("the token request went to the registry's own host first");
    assert!(
        token_request
            .authorization
            .as_deref()
            .is_some_and(|a| a.starts_with("Basic ")),
        "{at_registry:?}"
    );
    let seen = elsewhere_log.lock().unwrap().clone();
    assert!(
        seen.iter().any(|s| s.uri.starts_with("/token")) && seen.iter().any(|s| s.method == "HEAD"),
        "the redirects were followed: {seen:?}"
    );
    assert!(
        seen.iter().all(|s| s.authorization.is_none()),
        "credentials followed a redirect to another host: {seen:?}"
    );
}

/// The registry's own port, for its challenge (set once the listener is bound).
static REGISTRY_PORT: std::sync::OnceLock<u16> = std::sync::OnceLock::new();

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_github_token_reaches_the_api_origin_only() {
    let (elsewhere, elsewhere_log) =
        listen(|_, _| (StatusCode::NOT_FOUND, r#"{"message":"Not Found"}"#).into_response()).await;
    let (port, api_log) = listen(move |_, uri| {
        redirect(format!(
            "http://localhost:{elsewhere}{}",
            uri.path_and_query().map_or("", |p| p.as_str())
        ))
    })
    .await;
    let gh = Github::new(
        format!("http://127.0.0.1:{port}"),
        "2022-11-28",
        Some(Secret::new("ghp_api_only")),
    )
    .unwrap();
    let _ = gh.repo("aisopsflow", "aisopsflow-enterprise").await;
    let at_api = api_log.lock().unwrap().clone();
    assert!(
        at_api
            .iter()
            .all(|s| s.authorization.as_deref() == Some("Bearer ghp_api_only")),
        "{at_api:?}"
    );
    let seen = elsewhere_log.lock().unwrap().clone();
    assert!(!seen.is_empty(), "the redirect was followed");
    assert!(
        seen.iter().all(|s| s.authorization.is_none()),
        "the GitHub token followed a redirect to another host: {seen:?}"
    );
}

/// A helper stand-in that says which helper was asked for which server.
fn helper_says(name: &str, server: &str) -> anyhow::Result<Credentials> {
    Ok(Credentials::Basic {
        user: format!("{name}-user"),
        password: Secret::new(format!("{name}-secret")),
        source: format!("helper {name} for {server}"),
    })
}

fn source_of(config: &str, host: &str) -> String {
    docker_config_credentials_with(config, host, "config.json", helper_says)
        .unwrap()
        .source()
}

#[test]
fn docker_config_is_read_in_the_docker_cli_order() {
    use base64::Engine;
    let auth = base64::engine::general_purpose::STANDARD.encode("alice:from-auths");
    // docker/cli GetCredentialsStore: credHelpers[host], else credsStore, else the file's auths.
    let all = format!(
        r#"{{"auths":{{"ghcr.io":{{"auth":"{auth}"}}}},"credsStore":"desktop","credHelpers":{{"ghcr.io":"gcr"}}}}"#
    );
    assert_eq!(source_of(&all, "ghcr.io"), "helper gcr for ghcr.io");
    // A helper for another host does not apply; the store does, even with an auths entry.
    let store = format!(
        r#"{{"auths":{{"ghcr.io":{{"auth":"{auth}"}}}},"credsStore":"desktop","credHelpers":{{"quay.io":"gcr"}}}}"#
    );
    assert_eq!(source_of(&store, "ghcr.io"), "helper desktop for ghcr.io");
    // An empty credsStore is no store.
    let auths =
        format!(r#"{{"auths":{{"https://ghcr.io/v2/":{{"auth":"{auth}"}}}},"credsStore":""}}"#);
    match docker_config_credentials_with(&auths, "ghcr.io", "config.json", helper_says).unwrap() {
        Credentials::Basic { user, password, .. } => {
            assert_eq!((user.as_str(), password.expose()), ("alice", "from-auths"));
        }
        other => panic!("{other:?}"),
    }
    // The key exactly, before a legacy key that converts to the same host.
    let exact = base64::engine::general_purpose::STANDARD.encode("bob:exact");
    let both = format!(
        r#"{{"auths":{{"https://ghcr.io":{{"auth":"{auth}"}},"ghcr.io":{{"auth":"{exact}"}}}}}}"#
    );
    match docker_config_credentials_with(&both, "ghcr.io", "config.json", helper_says).unwrap() {
        Credentials::Basic { user, .. } => assert_eq!(user, "bob"),
        other => panic!("{other:?}"),
    }
    // Another host's entry is not ours; a port is part of the host.
    assert!(matches!(
        docker_config_credentials_with(&auths, "ghcr.io:5000", "config.json", helper_says).unwrap(),
        Credentials::Anonymous
    ));
    // Docker Hub is keyed by its legacy index URL, for helpers too.
    let hub = r#"{"credHelpers":{"https://index.docker.io/v1/":"hub"}}"#;
    assert_eq!(
        source_of(hub, "docker.io"),
        "helper hub for https://index.docker.io/v1/"
    );
}

#[test]
fn gh_token_wins_over_github_token() {
    // gh's order (`gh help environment`). Checked through the binary, whose environment is
    // its own: `-v` names the source before any request (the registry is a dead port).
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap();
    let run = |vars: &[(&str, &str)]| {
        let out = crate::support::Xtask::new()
            .args(["-v", "verify", "1.0.0", "--offline", "--repo"])
            .arg(root)
            .env("AISOPSFLOW_REGISTRY", "127.0.0.1:1")
            .env("GITHUB_API_URL", "http://127.0.0.1:1")
            .env("DOCKER_CONFIG", "/nonexistent")
            .envs(vars.iter().copied())
            .output();
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let both = run(&[("GH_TOKEN", "from-gh"), ("GITHUB_TOKEN", "from-actions")]);
    assert!(both.contains("credentials from GH_TOKEN"), "{both}");
    let one = run(&[("GITHUB_TOKEN", "from-actions")]);
    assert!(one.contains("credentials from GITHUB_TOKEN"), "{one}");
    assert!(
        !both.contains("from-gh") && !one.contains("from-actions"),
        "{both}{one}"
    );
}
