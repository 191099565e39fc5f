//! A fault-injecting proxy in front of the real registry.

use super::*;

/// What the proxy does to a matching request.
#[derive(Clone, Debug)]
pub enum Action {
    /// Answer this instead of asking upstream.
    Answer(Canned),
    /// Answer this body with upstream's status and headers, digest header recomputed.
    Body(&'static str, Vec<u8>),
    /// Forward, then flip a byte of the body and keep upstream's digest header.
    CorruptBody,
    /// Forward, then send half the body and reset the connection.
    ResetMidBody,
    /// Wait, then forward.
    Delay(Duration),
    /// Never answer (until the test ends): a hung registry, for Ctrl-C.
    Hold,
}

#[derive(Clone, Debug)]
pub struct Rule {
    pub method: Option<&'static str>,
    pub path_contains: String,
    /// Matching requests let through before the rule fires.
    pub skip: u32,
    /// Requests the rule fires for.
    pub count: u32,
    pub action: Action,
}

impl Rule {
    pub fn new(method: Option<&'static str>, path: &str, action: Action) -> Rule {
        Rule {
            method,
            path_contains: path.to_string(),
            skip: 0,
            count: 1,
            action,
        }
    }
    pub fn skip(mut self, n: u32) -> Rule {
        self.skip = n;
        self
    }
    pub fn times(mut self, n: u32) -> Rule {
        self.count = n;
        self
    }
}

/// An HTTP proxy on 127.0.0.1 in front of a registry. It rewrites the Bearer challenge so
/// token requests come through it too, which lets rules fault the token service.
pub struct FaultProxy {
    pub addr: String,
    pub rules: Arc<std::sync::Mutex<Vec<Rule>>>,
    /// Requests that fired a rule: (rule path, method, path).
    pub fired: Arc<std::sync::Mutex<Vec<String>>>,
    /// Requests currently held by `Action::Hold`.
    pub held: Arc<AtomicUsize>,
    /// Requests seen in total.
    pub seen: Arc<AtomicU32>,
}

impl FaultProxy {
    pub async fn start(upstream: &str, token_url: &str) -> FaultProxy {
        let rules: Arc<std::sync::Mutex<Vec<Rule>>> = Arc::default();
        let fired: Arc<std::sync::Mutex<Vec<String>>> = Arc::default();
        let held = Arc::new(AtomicUsize::new(0));
        let seen = Arc::new(AtomicU32::new(0));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let app = {
            let (rules, fired, held, seen) =
                (rules.clone(), fired.clone(), held.clone(), seen.clone());
            let upstream = upstream.to_string();
            let token_url = token_url.to_string();
            let me = addr.clone();
            axum::Router::new().fallback(
                move |method: Method, uri: Uri, headers: HeaderMap, body: axum::body::Bytes| {
                    let (rules, fired, held, seen) =
                        (rules.clone(), fired.clone(), held.clone(), seen.clone());
                    let (upstream, token_url, me) =
                        (upstream.clone(), token_url.clone(), me.clone());
                    async move {
                        seen.fetch_add(1, Ordering::SeqCst);
                        let path = uri.to_string();
                        let action = {
                            let mut rules = rules.lock().unwrap();
                            let mut hit = None;
                            for r in rules.iter_mut() {
                                let matches = match r.path_contains.strip_prefix('=') {
                                    Some(exact) => path == exact,
                                    None => path.contains(&r.path_contains),
                                };
                                if r.count == 0
                                    || !matches
                                    || r.method.is_some_and(|m| m != method.as_str())
                                {
                                    continue;
                                }
                                if r.skip > 0 {
                                    r.skip -= 1;
                                    continue;
                                }
                                r.count -= 1;
                                hit = Some(r.action.clone());
                                fired.lock().unwrap().push(format!("{method} {path}"));
                                break;
                            }
                            hit
                        };
                        if let Some(Action::Answer(c)) = &action {
                            return canned_response(&method, c.clone());
                        }
                        if let Some(Action::Hold) = &action {
                            held.fetch_add(1, Ordering::SeqCst);
                            tokio::time::sleep(Duration::from_secs(600)).await;
                        }
                        if let Some(Action::Delay(d)) = &action {
                            tokio::time::sleep(*d).await;
                        }
                        // Token requests go to the real token service, everything else upstream.
                        let url = if uri.path() == "/token" {
                            format!("{token_url}?{}", uri.query().unwrap_or(""))
                        } else {
                            format!("http://{upstream}{path}")
                        };
                        let mut req = xtask::effects::http::client().request(
                            reqwest::Method::from_bytes(method.as_str().as_bytes()).unwrap(),
                            url,
                        );
                        for (k, v) in headers.iter() {
                            if k != "host" {
                                req = req.header(k.as_str(), v.as_bytes());
                            }
                        }
                        let res = match req.body(body).send().await {
                            Ok(r) => r,
                            Err(_) => {
                                return canned_response(
                                    &method,
                                    Canned::new(502, "text/plain", "upstream down"),
                                );
                            }
                        };
                        let status = StatusCode::from_u16(res.status().as_u16()).unwrap();
                        let mut out = HeaderMap::new();
                        for (k, v) in res.headers() {
                            let name =
                                axum::http::HeaderName::from_bytes(k.as_str().as_bytes()).unwrap();
                            let mut v = HeaderValue::from_bytes(v.as_bytes()).unwrap();
                            if k == "www-authenticate" {
                                let s = v
                                    .to_str()
                                    .unwrap()
                                    .replace(&token_url, &format!("http://{me}/token"));
                                v = HeaderValue::from_str(&s).unwrap();
                            }
                            out.insert(name, v);
                        }
                        let mut bytes = res.bytes().await.unwrap_or_default().to_vec();
                        match action {
                            Some(Action::CorruptBody) if !bytes.is_empty() => {
                                let i = bytes.len() / 2;
                                bytes[i] ^= 0x20;
                            }
                            Some(Action::Body(ct, b)) => {
                                out.insert("content-type", HeaderValue::from_static(ct));
                                out.insert(
                                    "docker-content-digest",
                                    HeaderValue::from_str(
                                        &xtask::effects::registry::sha256_digest(&b),
                                    )
                                    .unwrap(),
                                );
                                out.remove("content-length");
                                bytes = b;
                            }
                            Some(Action::ResetMidBody) => {
                                let half = bytes[..bytes.len() / 2].to_vec();
                                let stream = futures_util::stream::iter(vec![
                                    Ok::<_, std::io::Error>(axum::body::Bytes::from(half)),
                                    Err(std::io::Error::new(
                                        std::io::ErrorKind::ConnectionReset,
                                        "fault: reset",
                                    )),
                                ]);
                                return (status, out, axum::body::Body::from_stream(stream))
                                    .into_response_parts();
                            }
                            _ => {}
                        }
                        if method == Method::HEAD {
                            bytes.clear();
                        }
                        (status, out, axum::body::Body::from(bytes)).into_response_parts()
                    }
                },
            )
        };
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FaultProxy {
            addr,
            rules,
            fired,
            held,
            seen,
        }
    }

    pub fn add(&self, rule: Rule) {
        self.rules.lock().unwrap().push(rule);
    }

    pub fn clear(&self) {
        self.rules.lock().unwrap().clear();
        self.fired.lock().unwrap().clear();
    }

    pub fn fired(&self) -> Vec<String> {
        self.fired.lock().unwrap().clone()
    }
}

pub(super) trait IntoParts {
    fn into_response_parts(self) -> axum::response::Response;
}

impl IntoParts for (StatusCode, HeaderMap, axum::body::Body) {
    fn into_response_parts(self) -> axum::response::Response {
        use axum::response::IntoResponse;
        self.into_response()
    }
}

pub(super) fn canned_response(method: &Method, c: Canned) -> axum::response::Response {
    let mut h = HeaderMap::new();
    for (k, v) in &c.headers {
        h.insert(*k, HeaderValue::from_str(v).unwrap());
    }
    let body = if method == Method::HEAD {
        Vec::new()
    } else {
        c.body
    };
    (
        StatusCode::from_u16(c.status).unwrap(),
        h,
        axum::body::Body::from(body),
    )
        .into_response_parts()
}

/// The digests `latest` and the release's tags have in the harness, read around the proxy.
pub(super) async fn registry_state(fx: &crate::registry::Fixture) -> BTreeMap<String, String> {
    let c = crate::registry::harness_client(&fx.h);
    let mut out = BTreeMap::new();
    for pkg in crate::registry::PUBLIC
        .iter()
        .chain(crate::registry::COMMERCIAL.iter())
    {
        let repo = format!("{}/{pkg}", crate::registry::ORG);
        for tag in ["latest", crate::registry::VERSION] {
            let d = c.resolve(&repo, tag).await.unwrap().map(|r| r.digest);
            out.insert(format!("{repo}:{tag}"), d.unwrap_or_default());
        }
    }
    out
}

/// Runs `verify` through the proxy: (exit code, stdout JSON or null, stderr).
pub(super) async fn verify_via(fx: &crate::registry::Fixture, proxy: &FaultProxy) -> Run {
    let root = fx.root().to_path_buf();
    let (addr, pw) = (proxy.addr.clone(), fx.h.password.expose().to_string());
    let api = fx.gh.base_url.clone();
    tokio::task::spawn_blocking(move || {
        let repo_arg = root.to_str().unwrap().to_string();
        let out = xtask_cmd(
            &root,
            &[
                "verify",
                crate::registry::VERSION,
                "--components",
                "console",
                "--format",
                "json",
                "--repo",
                &repo_arg,
            ],
            &[
                ("AISOPSFLOW_REGISTRY", addr.as_str()),
                ("GITHUB_TOKEN", pw.as_str()),
                ("GITHUB_API_URL", api.as_str()),
            ],
        )
        .output()
        .unwrap();
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).to_string(),
        }
    })
    .await
    .unwrap()
}

pub(super) const HTML: &str =
    "<!doctype html><html><body>Please sign in to the network</body></html>";

/// Registry answers that are not what the distribution spec promises, and faults in the
/// middle of `verify`: each ends in the documented exit code with the problem named, changes
/// nothing (no file, no tag moved in the registry), and the rerun without the fault passes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
pub(super) async fn registry_faults_and_malformed_answers_then_the_rerun_passes() {
    let Some(fx) = crate::registry::Fixture::new(&format!("v{}", crate::registry::VERSION)).await
    else {
        return;
    };
    let proxy = FaultProxy::start(&fx.h.host, &fx.h.token_url).await;
    // The baseline: through the proxy, with no fault, verify passes.
    let base = verify_via(&fx, &proxy).await;
    expect(
        "baseline through the proxy",
        &base,
        0,
        &["verify-semver-tag"],
    );
    assert!(
        proxy.seen.load(Ordering::SeqCst) > 0,
        "verify bypassed the proxy"
    );
    let files_before = {
        let mut m = BTreeMap::new();
        walk(fx.root(), fx.root(), &mut m);
        m
    };
    let state_before = registry_state(&fx).await;
    let manifest = "/manifests/";
    let cases: Vec<(&str, Vec<Rule>, i32, Vec<&str>)> = vec![
        // One 503, 429 or reset is retried (with backoff, honouring Retry-After): verify
        // passes. Faults that persist past the retries end in exit 3.
        (
            "registry: one 503 in the middle of verify (retried)",
            vec![
                Rule::new(
                    Some("HEAD"),
                    manifest,
                    Action::Answer(Canned::new(503, "text/plain", "busy")),
                )
                .skip(7),
            ],
            0,
            vec!["verify-semver-tag"],
        ),
        (
            "registry: 503 in the middle of verify, persisting",
            vec![
                Rule::new(
                    Some("HEAD"),
                    manifest,
                    Action::Answer(Canned::new(503, "text/plain", "busy")),
                )
                .skip(7)
                .times(1000),
            ],
            3,
            vec!["503", "after 6 attempts", "retry later"],
        ),
        (
            "registry: 502 on every manifest read",
            vec![
                Rule::new(
                    Some("HEAD"),
                    manifest,
                    Action::Answer(Canned::new(502, "text/html", HTML)),
                )
                .times(1000),
            ],
            3,
            vec!["502", "retry later"],
        ),
        (
            "registry: one 429 with Retry-After on a manifest (retried)",
            vec![
                Rule::new(
                    Some("HEAD"),
                    manifest,
                    Action::Answer(
                        Canned::new(429, "application/json", "{}").header("retry-after", "1"),
                    ),
                )
                .skip(3),
            ],
            0,
            vec!["verify-semver-tag"],
        ),
        (
            "registry: 429 on every manifest, persisting",
            vec![
                Rule::new(
                    Some("HEAD"),
                    manifest,
                    Action::Answer(Canned::new(429, "application/json", "{}")),
                )
                .times(1000),
            ],
            3,
            vec!["429", "retry later"],
        ),
        (
            "registry: one connection reset mid-body (retried)",
            vec![Rule::new(Some("GET"), manifest, Action::ResetMidBody)],
            0,
            vec!["verify-semver-tag"],
        ),
        (
            "registry: connection reset mid-body, persisting",
            vec![Rule::new(Some("GET"), manifest, Action::ResetMidBody).times(1000)],
            3,
            vec!["check that the registry is reachable"],
        ),
        (
            "registry: manifest body does not match its digest",
            vec![Rule::new(Some("GET"), manifest, Action::CorruptBody).times(100)],
            1,
            vec!["does not match its digest", "verify-public-metadata-clean"],
        ),
        (
            "registry: HTML instead of a manifest",
            vec![
                Rule::new(
                    Some("HEAD"),
                    "aisopsflow-core/manifests/",
                    Action::Answer(Canned::new(200, "text/html", HTML)),
                ),
                Rule::new(
                    Some("GET"),
                    "aisopsflow-core/manifests/",
                    Action::Answer(Canned::new(200, "text/html", HTML)),
                )
                .times(100),
            ],
            3,
            vec!["text/html", "not a manifest"],
        ),
        (
            "registry: 401 without a challenge",
            vec![Rule::new(
                Some("GET"),
                "=/v2/",
                Action::Answer(Canned::new(401, "text/plain", "no")),
            )],
            3,
            vec!["without a WWW-Authenticate challenge", "OCI registry"],
        ),
        (
            "registry: challenge without a realm",
            vec![Rule::new(
                Some("GET"),
                "=/v2/",
                Action::Answer(
                    Canned::new(401, "text/plain", "no")
                        .header("www-authenticate", "Bearer service=\"x\""),
                ),
            )],
            3,
            vec!["names no realm"],
        ),
        (
            "token service: truncated JSON",
            vec![
                Rule::new(
                    None,
                    "/token",
                    Action::Body("application/json", br#"{"token":"eyJhbGciOi"#.to_vec()),
                )
                .times(100),
            ],
            3,
            vec!["reading the token", "token service"],
        ),
        (
            "token service: HTML with 200",
            vec![
                Rule::new(
                    None,
                    "/token",
                    Action::Body("text/html", HTML.as_bytes().to_vec()),
                )
                .times(100),
            ],
            3,
            vec!["reading the token", "token service"],
        ),
        (
            "token service: JSON without a token",
            vec![
                Rule::new(
                    None,
                    "/token",
                    Action::Body("application/json", br#"{"expires_in":300}"#.to_vec()),
                )
                .times(100),
            ],
            3,
            vec!["answered without a token"],
        ),
        (
            "token service: one 503 (retried)",
            vec![Rule::new(
                None,
                "/token",
                Action::Answer(Canned::new(503, "text/plain", "down")),
            )],
            0,
            vec!["verify-semver-tag"],
        ),
        (
            "token service: 503, persisting",
            vec![
                Rule::new(
                    None,
                    "/token",
                    Action::Answer(Canned::new(503, "text/plain", "down")),
                )
                .times(1000),
            ],
            3,
            vec!["503", "retry later"],
        ),
        (
            "token service: 429, persisting",
            vec![
                Rule::new(
                    None,
                    "/token",
                    Action::Answer(Canned::new(429, "text/plain", "slow down")),
                )
                .times(1000),
            ],
            3,
            vec!["429", "retry later"],
        ),
        (
            "token service: wrong password",
            vec![
                Rule::new(
                    None,
                    "/token",
                    Action::Answer(Canned::new(
                        401,
                        "application/json",
                        r#"{"errors":[{"code":"UNAUTHORIZED"}]}"#,
                    )),
                )
                .times(100),
            ],
            2,
            vec!["refused the credentials from GITHUB_TOKEN", "read:packages"],
        ),
        (
            "registry: 403 on a manifest",
            vec![Rule::new(
                Some("HEAD"),
                manifest,
                Action::Answer(Canned::new(403, "application/json", "{}")),
            )],
            2,
            vec!["403", "use a token with read:packages"],
        ),
        (
            "registry: slow answers",
            vec![Rule::new(None, "/v2/", Action::Delay(Duration::from_millis(1500))).times(4)],
            0,
            vec!["verify-semver-tag"],
        ),
    ];
    for (class, rules, code, needles) in cases {
        proxy.clear();
        for r in rules {
            proxy.add(r);
        }
        let run = verify_via(&fx, &proxy).await;
        expect(class, &run, code, &needles);
        assert!(!proxy.fired().is_empty(), "[{class}] the fault never fired");
        let mut files = BTreeMap::new();
        walk(fx.root(), fx.root(), &mut files);
        assert_eq!(
            files, files_before,
            "[{class}] verify wrote or changed a file"
        );
        assert_eq!(
            registry_state(&fx).await,
            state_before,
            "[{class}] a tag moved"
        );
        // The rerun without the fault completes.
        proxy.clear();
        let rerun = verify_via(&fx, &proxy).await;
        expect(
            &format!("{class} (rerun)"),
            &rerun,
            0,
            &["verify-semver-tag"],
        );
    }

    // No token at all: the private (commercial) packages refuse an anonymous pull, and the
    // message names the variable to set.
    let root = fx.root().to_str().unwrap().to_string();
    let run = xtask_async(
        fx.root().to_path_buf(),
        strings(&[
            "verify",
            crate::registry::VERSION,
            "--components",
            "console",
            "--repo",
            &root,
        ]),
        envs(&[
            ("AISOPSFLOW_REGISTRY", &fx.h.host),
            ("GITHUB_API_URL", &fx.gh.base_url),
        ]),
    )
    .await;
    expect(
        "registry: no token",
        &run,
        2,
        &[
            "anonymously was refused",
            "set GITHUB_TOKEN to a token with read:packages",
        ],
    );
}
