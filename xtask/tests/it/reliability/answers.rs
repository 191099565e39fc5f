//! Malformed answers from GitHub and the registry.

use super::*;

/// One canned answer.
#[derive(Clone, Debug)]
pub struct Canned {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

impl Canned {
    pub fn new(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Canned {
        Canned {
            status,
            headers: vec![("content-type", content_type.to_string())],
            body: body.into(),
        }
    }
    pub fn header(mut self, k: &'static str, v: impl Into<String>) -> Canned {
        self.headers.push((k, v.into()));
        self
    }
}

/// What a canned server saw: method, path and query, and whether credentials came along.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub authorization: bool,
}

/// A tiny HTTP server on 127.0.0.1 answering every request with `answer(method, uri)`.
pub async fn canned_server(
    answer: impl Fn(&Method, &Uri) -> Canned + Send + Sync + 'static,
) -> (String, Arc<std::sync::Mutex<Vec<Seen>>>) {
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let answer = Arc::new(answer);
    let app = {
        let seen = seen.clone();
        axum::Router::new().fallback(move |method: Method, uri: Uri, headers: HeaderMap| {
            let (seen, answer) = (seen.clone(), answer.clone());
            async move {
                seen.lock().unwrap().push(Seen {
                    method: method.to_string(),
                    path: uri.to_string(),
                    authorization: headers.contains_key("authorization"),
                });
                let c = answer(&method, &uri);
                let mut h = HeaderMap::new();
                for (k, v) in &c.headers {
                    h.insert(*k, HeaderValue::from_str(v).unwrap());
                }
                let body = if method == Method::HEAD {
                    Vec::new()
                } else {
                    c.body
                };
                (StatusCode::from_u16(c.status).unwrap(), h, body)
            }
        })
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (addr, seen)
}

/// Runs the binary off the async runtime (the servers live on it).
pub async fn xtask_async(cwd: PathBuf, args: Vec<String>, env: Vec<(String, String)>) -> Run {
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        xtask(&cwd, &args, &env)
    })
    .await
    .unwrap()
}

pub(super) fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

pub(super) fn envs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(k, s)| (k.to_string(), s.to_string()))
        .collect()
}

pub(super) const REPO_JSON: &str = r#"{"id":1,"full_name":"aisopsflow/aisopsflow-enterprise","private":true,"default_branch":"main","owner":{"login":"aisopsflow","type":"Organization"}}"#;

/// GitHub answers that are not what the API promises: each ends in exit 3 naming the endpoint
/// and the fix, never a panic or a pass, and changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
pub(super) async fn malformed_github_answers_are_reported_not_trusted() {
    let repo = Repo::new();
    let cases: Vec<(&str, Canned, i32, Vec<&str>)> = vec![
        (
            "GitHub: truncated JSON",
            Canned::new(200, "application/json", &REPO_JSON[..40]),
            3,
            vec![
                "GET /repos/aisopsflow/aisopsflow-enterprise",
                "JSON we cannot read",
                "fix: check GITHUB_API_URL",
            ],
        ),
        (
            "GitHub: wrong types",
            Canned::new(
                200,
                "application/json",
                r#"{"id":"one","full_name":7,"private":"yes","default_branch":null,"owner":[]}"#,
            ),
            3,
            vec!["JSON we cannot read", "invalid type"],
        ),
        (
            "GitHub: HTML page with 200",
            Canned::new(
                200,
                "text/html",
                "<html><body>Sign in to your network</body></html>",
            ),
            3,
            vec!["JSON we cannot read", "fix: check GITHUB_API_URL"],
        ),
        (
            "GitHub: empty body with 200",
            Canned::new(200, "application/json", ""),
            3,
            vec!["JSON we cannot read"],
        ),
        (
            "GitHub: array instead of object",
            Canned::new(200, "application/json", "[]"),
            3,
            vec!["JSON we cannot read"],
        ),
        (
            "GitHub: HTML 502 from a proxy, every time",
            Canned::new(502, "text/html", "<html>Bad Gateway</html>"),
            3,
            vec![
                "502",
                "GitHub kept failing after 5 attempts",
                "fix: retry later",
            ],
        ),
        (
            "GitHub: 429 with an absurd Retry-After",
            Canned::new(429, "application/json", r#"{"message":"slow down"}"#)
                .header("retry-after", u64::MAX.to_string()),
            3,
            vec!["secondary rate limit", "fix: retry after"],
        ),
        (
            "GitHub: 403 with garbage rate-limit headers",
            Canned::new(403, "application/json", r#"{"message":"Forbidden"}"#)
                .header("x-ratelimit-remaining", "lots")
                .header("x-ratelimit-reset", "-1"),
            // Not a rate limit: a permission answer, so the check could not run (not ready).
            4,
            vec!["repo-private", "403 Forbidden", "not ready"],
        ),
    ];
    for (class, canned, code, needles) in cases {
        let c = canned.clone();
        let (addr, seen) = canned_server(move |_, _| c.clone()).await;
        let before = repo.snapshot();
        let run = xtask_async(
            repo.work(),
            strings(&["preflight", "--only", "repo-private"]),
            envs(&[
                ("GITHUB_API_URL", &format!("http://{addr}")),
                ("GITHUB_TOKEN", "ghp_notarealtoken0000"),
            ]),
        )
        .await;
        expect(class, &run, code, &needles);
        let seen = seen.lock().unwrap().clone();
        assert!(
            seen.iter().any(|r| r.method == "GET"
                && r.path
                    .starts_with("/repos/aisopsflow/aisopsflow-enterprise")
                && r.authorization),
            "[{class}] the server saw no authenticated request: {seen:?}"
        );
        assert_eq!(repo.snapshot(), before, "[{class}] changed the repository");
    }
}

/// A `Link: rel="next"` that points at another origin is not followed: the token would go
/// with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
pub(super) async fn github_pagination_never_sends_the_token_to_another_origin() {
    let (thief, stolen) = canned_server(|_, _| Canned::new(200, "application/json", "[]")).await;
    let next = format!("<http://{thief}/steal?page=2>; rel=\"next\"");
    let (addr, _) = canned_server(move |_, _| {
        Canned::new(200, "application/json", "[]").header("link", next.clone())
    })
    .await;
    let gh = xtask::effects::github::Github::new(
        format!("http://{addr}"),
        xtask::effects::github::API_2022,
        Some(xtask::secrets::Secret::new("ghp_notarealtoken0000")),
    )
    .unwrap();
    let err = gh.rulesets(OWNER, REPO).await.unwrap_err();
    let msg = format!("{err:#}");
    assert!(
        stolen.lock().unwrap().is_empty(),
        "followed a foreign Link: {msg}"
    );
    assert_eq!(xtask::exit::code_for(&err), xtask::exit::EXTERNAL, "{msg}");
    assert!(
        msg.contains("another origin") && msg.contains(&thief),
        "{msg}"
    );
}
